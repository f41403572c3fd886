// The first line is written before anything else is loaded (it is exactly what core.info would
// write), so the step's log shows life at once; the action itself is loaded right after.
process.stdout.write('Edgeship: multi-arch edge release\n');
const [{ coreHost, failStep }, { runAction }] = await Promise.all([
  import('./runner/core-host.js'),
  import('./action/run.js'),
]);
await runAction(coreHost()).catch(failStep);
