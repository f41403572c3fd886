/**
 * What every syft and grype run shares: a config of Edgeship's own and none of the job's SYFT_/GRYPE_
 * variables (so nothing in the repository or the workflow can quietly weaken the gate), a timeout, the
 * reports directory as working directory, output streamed to the log, and ScanError when a run fails.
 */
import type { PhaseLog } from '../logging/phase-log.js';
import type { ExecOptions } from '../process/exec.js';

/**
 * The config both scanners run with: nothing but what Edgeship sets, so a `.grype.yaml` or `.syft.yaml`
 * in the repository (ignore rules, only-fixed, excluded paths) cannot quietly weaken the gate.
 */
export const SCANNER_CONFIG = 'check-for-app-update: false\n';

/** Environment variables of the job that configure the scanners, which the gate does not let through. */
export const SCANNER_ENV_PREFIXES = ['SYFT_', 'GRYPE_'] as const;

/** A scan that did not complete: the gate fails closed and the message says what to do. */
export class ScanError extends Error {
  override name = 'ScanError';
}

/** How a scanner runs for one platform. */
export interface ScannerRun {
  timeoutMs: number;
  /** Working directory: the reports directory. */
  cwd: string;
  log: Pick<PhaseLog, 'info'>;
}

export function scannerExecOptions(env: Record<string, string>, run: ScannerRun): ExecOptions {
  return {
    env,
    timeoutMs: run.timeoutMs,
    cwd: run.cwd,
    dropInherited: SCANNER_ENV_PREFIXES,
    onLine: (line) => run.log.info(line),
  };
}
