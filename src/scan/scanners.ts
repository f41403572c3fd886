import os from 'node:os';
import path from 'node:path';
import type { PhaseLog } from '../logging/phase-log.js';
import type { Exec } from '../process/exec.js';
import { ensureGrypeDb } from './grype-db.js';
import type { GrypeDbDeps } from './grype-db.js';
import { installTool } from '../tools/install.js';
import type { InstallDeps } from '../tools/install.js';

/** Grype and the environment it runs with: all a re-scan of an existing SBOM needs. */
export interface GrypePaths {
  grype: string;
  /** Environment grype runs with (DB cache dir, age validation, no update check). */
  grypeEnv: Record<string, string>;
}

/** The scanners a scan runs with. */
export interface ScannerPaths extends GrypePaths {
  syft: string;
}

/** Scanner versions a scan ran with (recorded in build records). */
export interface ScannerVersions {
  syft: string;
  grype: string;
  grypeDbBuilt: string;
}

/** @actions/cache's restore and save, for the grype database. */
export type GrypeDbCache = Pick<GrypeDbDeps, 'restoreCache' | 'saveCache'>;

/** The scanner versions asked for (`default`, `path` or a version) and the `max-db-age` input. */
export interface ScannerChoice {
  syftVersion: string;
  grypeVersion: string;
  maxDbAge: string;
  /** The `grype-db-url` input (a mirror of grype's database listing). */
  grypeDbUrl?: string;
}

export interface ScannerSetupDeps {
  exec: Exec;
  log: PhaseLog;
  installDeps: InstallDeps;
  /** @actions/cache, or undefined where the cache service is not available (outside GitHub). */
  cache?: GrypeDbCache;
  dbCacheDir: string;
  now: () => Date;
}

export interface ScannerSetup extends ScannerPaths {
  versions: ScannerVersions;
}

/** Grype with a fresh database, for re-scans of SBOMs that already exist (no Syft). */
export interface GrypeSetup extends GrypePaths {
  versions: Omit<ScannerVersions, 'syft'>;
}

/** Installs (verified) syft and grype and makes sure grype has a fresh vulnerability database. */
export async function setUpScanners(gate: ScannerChoice, deps: ScannerSetupDeps): Promise<ScannerSetup> {
  return deps.log.group('Install scanners', async () => {
    const syft = await installScanner('syft', gate.syftVersion, deps);
    const grype = await setUpGrype(gate, deps);
    return { ...grype, syft: syft.path, versions: { syft: syft.version, ...grype.versions } };
  });
}

/**
 * Installs (verified) grype and makes sure it has a fresh vulnerability database: all a re-scan of an SBOM taken
 * from an attestation needs. Logs to `deps.log` without a group of its own (the caller names it).
 */
export async function setUpGrype(gate: ScannerChoice, deps: ScannerSetupDeps): Promise<GrypeSetup> {
  const grypeTool = await installScanner('grype', gate.grypeVersion, deps);
  const cache = deps.cache ?? {
    restoreCache: async () => undefined,
    saveCache: async () => {
      deps.log.info('The Actions cache is not available here; the grype database is not saved');
      return -1;
    },
  };
  const db = await ensureGrypeDb({
    exec: deps.exec,
    grype: grypeTool.path,
    dbCacheDir: deps.dbCacheDir,
    maxDbAge: gate.maxDbAge,
    ...(gate.grypeDbUrl ? { updateUrl: gate.grypeDbUrl } : {}),
    platform: os.platform(),
    arch: os.arch(),
    schema: '6',
    now: deps.now,
    ...cache,
    log: deps.log,
  });
  return {
    grype: grypeTool.path,
    grypeEnv: db.env,
    versions: { grype: grypeTool.version, grypeDbBuilt: db.status.built.toISOString() },
  };
}

async function installScanner(
  tool: 'syft' | 'grype',
  version: string,
  deps: ScannerSetupDeps,
): Promise<{ path: string; version: string }> {
  const installed = await installTool(
    { tool, version, platform: process.platform, arch: process.arch },
    deps.installDeps,
  );
  deps.log.info(
    `${path.basename(installed.path)} ${installed.version} (${installed.source}${installed.pinned ? ', sha256 pinned in source' : ''}) at ${installed.path}`,
  );
  return installed;
}
