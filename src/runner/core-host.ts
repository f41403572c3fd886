import * as core from '@actions/core';
import type { PhaseLog } from '../logging/phase-log.js';
import { execProcess } from '../process/exec.js';
import type { ActionHost } from './host.js';

export const coreLog: PhaseLog = {
  info: (m) => core.info(m),
  warning: (m) => core.warning(m),
  debug: (m) => core.debug(m),
  group: (name, fn) => core.group(name, fn),
};

/** The ActionHost backed by the GitHub Actions runtime. */
export function coreHost(): ActionHost {
  return {
    readInput: (name) => core.getInput(name),
    setOutput: (name, value) => core.setOutput(name, value),
    setSecret: (value) => core.setSecret(value),
    saveState: (name, value) => core.saveState(name, value),
    appendSummary: async (markdown) => {
      if (!process.env.GITHUB_STEP_SUMMARY) return;
      await core.summary.addRaw(markdown, true).write();
    },
    log: coreLog,
    exec: execProcess,
    env: process.env,
    now: () => new Date(),
  };
}

/** Fails the step with the error's message only: users see what to fix, the stack goes to debug. */
export function failStep(error: unknown): void {
  if (error instanceof Error) {
    if (error.stack) core.debug(error.stack);
    core.setFailed(error.message);
  } else {
    core.setFailed(String(error));
  }
}
