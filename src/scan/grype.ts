/**
 * The grype CLI for scanning an SBOM: argv and environment builders (pure) and `runGrype`.
 *
 * `grype sbom:<file> -o json=<file> -o sarif=<file>` writes both reports from one scan (grype's
 * `--output` is repeatable, each `<format>=<file>`). The database is prepared beforehand by
 * `grype-db.ts`; scans never update it (`GRYPE_DB_AUTO_UPDATE=false`) and refuse a database older
 * than the allowed age (`GRYPE_DB_VALIDATE_AGE`, `GRYPE_DB_MAX_ALLOWED_BUILT_AGE`).
 */
import type { Exec } from '../process/exec.js';
import { describeFailure } from '../process/exec.js';
import { ScanError, scannerExecOptions } from './scanner-run.js';
import type { ScannerRun } from './scanner-run.js';

export interface GrypeScanRequest {
  sbomFile: string;
  jsonFile: string;
  sarifFile: string;
  /** An explicit config file, so no `.grype.yaml` (ignore rules, only-fixed…) of the workspace is read. */
  configFile?: string;
  /** OpenVEX documents Grype applies (`--vex`, once per file). */
  vexFiles?: readonly string[];
}

export function grypeScanArgs(req: GrypeScanRequest): string[] {
  return [
    `sbom:${req.sbomFile}`,
    '-o',
    `json=${req.jsonFile}`,
    '-o',
    `sarif=${req.sarifFile}`,
    ...(req.configFile ? ['--config', req.configFile] : []),
    ...(req.vexFiles ?? []).flatMap((file) => ['--vex', file]),
  ];
}

export interface GrypeEnvironmentOptions {
  /** GRYPE_DB_CACHE_DIR: the directory holding `<schema>/vulnerability.db` (the one that is cached). */
  dbCacheDir: string;
  /** Maximum age of the database build, in hours. */
  maxDbAgeHours: number;
  /** GRYPE_DB_UPDATE_URL: a mirror of the database listing (the `grype-db-url` input). */
  updateUrl?: string;
}

export function grypeEnvironment(options: GrypeEnvironmentOptions): Record<string, string> {
  if (!Number.isFinite(options.maxDbAgeHours) || options.maxDbAgeHours <= 0) {
    throw new Error(`grype needs a positive maximum database age in hours, got ${options.maxDbAgeHours}`);
  }
  return {
    GRYPE_CHECK_FOR_APP_UPDATE: 'false',
    GRYPE_DB_AUTO_UPDATE: 'false',
    GRYPE_DB_CACHE_DIR: options.dbCacheDir,
    GRYPE_DB_VALIDATE_AGE: 'true',
    GRYPE_DB_MAX_ALLOWED_BUILT_AGE: `${options.maxDbAgeHours}h`, // a Go duration; "1.5h" is valid
    ...(options.updateUrl ? { GRYPE_DB_UPDATE_URL: options.updateUrl } : {}),
  };
}

export interface GrypeRun extends GrypeScanRequest, ScannerRun {
  /** The grype executable. */
  grype: string;
  /** From `ensureGrypeDb`: the database to use, never updated during a scan. */
  env: Record<string, string>;
}

/** Scans an SBOM, writing the JSON and SARIF reports; throws ScanError when grype fails. */
export async function runGrype(exec: Exec, run: GrypeRun): Promise<void> {
  const args = grypeScanArgs(run);
  run.log.info(`grype ${args.join(' ')}`);
  const result = await exec(run.grype, args, scannerExecOptions(run.env, run));
  if (result.exitCode !== 0 || result.failure) {
    throw new ScanError(
      `Grype could not scan the SBOM (${describeFailure('grype', result, 5)}). Re-run; if it persists, pin grype-version.`,
    );
  }
}
