/**
 * The grype CLI for scanning an SBOM: argv and environment builders, all pure.
 *
 * `grype sbom:<file> -o json=<file> -o sarif=<file>` writes both reports from one scan (grype's
 * `--output` is repeatable, each `<format>=<file>`). The database is prepared beforehand by
 * `grype-db.ts`; scans never update it (`GRYPE_DB_AUTO_UPDATE=false`) and refuse a database older
 * than the allowed age (`GRYPE_DB_VALIDATE_AGE`, `GRYPE_DB_MAX_ALLOWED_BUILT_AGE`).
 */

export interface GrypeScanRequest {
  sbomFile: string;
  jsonFile: string;
  sarifFile: string;
  /** An explicit config file, so no `.grype.yaml` (ignore rules, only-fixed…) of the workspace is read. */
  configFile?: string;
}

export function grypeScanArgs(req: GrypeScanRequest): string[] {
  return [
    `sbom:${req.sbomFile}`,
    '-o',
    `json=${req.jsonFile}`,
    '-o',
    `sarif=${req.sarifFile}`,
    ...(req.configFile ? ['--config', req.configFile] : []),
  ];
}

/**
 * The config both scanners run with: nothing but what Edgeship sets, so a `.grype.yaml` or `.syft.yaml`
 * in the repository (ignore rules, only-fixed, excluded paths) cannot quietly weaken the gate.
 */
export const SCANNER_CONFIG = 'check-for-app-update: false\n';

/** Environment variables of the job that configure the scanners, which the gate does not let through. */
export const SCANNER_ENV_PREFIXES = ['SYFT_', 'GRYPE_'] as const;

export interface GrypeEnvironmentOptions {
  /** GRYPE_DB_CACHE_DIR: the directory holding `<schema>/vulnerability.db` (the one that is cached). */
  dbCacheDir: string;
  /** Maximum age of the database build, in hours. */
  maxDbAgeHours: number;
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
  };
}
