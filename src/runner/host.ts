import type { PhaseLog } from '../logging/phase-log.js';
import type { Exec } from '../process/exec.js';

/** Reads one input by its action.yml name; returns '' when unset. */
export type InputReader = (name: string) => string;

/**
 * The runner-facing surface of the action: inputs, outputs, state, the job summary, logging, processes,
 * the environment and the clock. Backed by @actions/core in `core-host.ts`; tests use an in-memory one.
 */
export interface ActionHost {
  readInput: InputReader;
  setOutput(name: string, value: string): void;
  setSecret(value: string): void;
  saveState(name: string, value: string): void;
  appendSummary(markdown: string): Promise<void>;
  log: PhaseLog;
  exec: Exec;
  env: Record<string, string | undefined>;
  now: () => Date;
}
