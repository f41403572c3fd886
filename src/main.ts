import * as core from '@actions/core';

// The first line comes before the rest of the action is loaded, so the log shows life at once.
core.info('Edgeship: multi-arch edge release');
const [{ coreHost, failStep }, { runAction }] = await Promise.all([
  import('./action/core-host.js'),
  import('./action/run.js'),
]);
await runAction(coreHost()).catch(failStep);
