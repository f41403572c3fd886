import os from 'node:os';
import path from 'node:path';
import type { PhaseLog } from '../logging/phase-log.js';
import type { Exec } from '../process/exec.js';
import { ensureGrypeDb } from './grype-db.js';
import type { GrypeDbDeps } from './grype-db.js';
import { installTool } from '../tools/install.js';
import type { InstallDeps } from '../tools/install.js';

/** The scanners a scan runs with. */
export interface ScannerPaths {
  syft: string;
  grype: string;
  /** Environment grype runs with (DB cache dir, age validation, no update check). */
  grypeEnv: Record<string, string>;
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

/** Installs (verified) syft and grype and makes sure grype has a fresh vulnerability database. */
export async function setUpScanners(gate: ScannerChoice, deps: ScannerSetupDeps): Promise<ScannerSetup> {
  return deps.log.group('Install scanners', async () => {
    const request = { platform: process.platform, arch: process.arch };
    const syftTool = await installTool(
      { tool: 'syft', version: gate.syftVersion, ...request },
      deps.installDeps,
    );
    const grypeTool = await installTool(
      { tool: 'grype', version: gate.grypeVersion, ...request },
      deps.installDeps,
    );
    for (const t of [syftTool, grypeTool]) {
      deps.log.info(
        `${path.basename(t.path)} ${t.version} (${t.source}${t.pinned ? ', sha256 pinned in source' : ''}) at ${t.path}`,
      );
    }
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
      syft: syftTool.path,
      grype: grypeTool.path,
      grypeEnv: db.env,
      versions: {
        syft: syftTool.version,
        grype: grypeTool.version,
        grypeDbBuilt: db.status.built.toISOString(),
      },
    };
  });
}
