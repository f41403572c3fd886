import { rmSync } from 'node:fs';
import * as core from '@actions/core';
import { CLEANUP_STATE_KEY } from './runner/cleanup-state.js';
import { coreLog } from './runner/core-host.js';
import { runPost } from './stages/clean-up.js';
import { execProcess } from './process/exec.js';

runPost(core.getState(CLEANUP_STATE_KEY), {
  exec: execProcess,
  log: coreLog,
  removePath: (p) => rmSync(p, { recursive: true, force: true }),
}).catch((error: unknown) => {
  // Cleanup never fails the job; it only reports.
  core.warning(error instanceof Error ? error.message : String(error));
});
