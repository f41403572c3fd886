import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { PlatformImage } from '../image/pushed-image.js';
import type { ActionHost } from '../runner/host.js';
import { scanPlatforms } from '../scan/scan-platforms.js';
import type { ScanDeps, ScanResult } from '../scan/scan-platforms.js';
import { setUpScanners } from '../scan/scanners.js';
import type { GrypeDbCache, ScannerSetup, ScannerVersions } from '../scan/scanners.js';
import type { Settings } from '../settings/inputs.js';
import type { InstallDeps } from '../tools/install.js';
import { toolCacheInstallDeps } from '../tools/runtime-deps.js';

export interface ScanStageResult extends ScanResult {
  tools: ScannerVersions;
}

/** Where the scanners come from and where grype's database is cached. */
export interface ScannerSources {
  installDeps: InstallDeps;
  /** Undefined where the Actions cache service is not available (outside GitHub). */
  cache?: GrypeDbCache;
}

/**
 * Installs the scanners, then SBOMs and scans every platform (one log group each). It only finds; the
 * gate stage decides. `sources` defaults to the runner's tool cache and Actions cache.
 */
export async function runScanStage(
  host: ActionHost,
  input: { settings: Settings; images: readonly PlatformImage[]; tempDir: string },
  sources?: ScannerSources,
): Promise<ScanStageResult> {
  const { settings, images, tempDir } = input;
  const scanners = await setUpRunScanners(host, settings, tempDir, sources);
  const reportsDir = settings.gate.reportsDir ?? path.join(tempDir, 'edgeship-reports');
  const scans = await scanPlatforms(
    { settings, images, reportsDir, scanners },
    { exec: host.exec, log: host.log, ...scanFileDeps },
  );
  return { scans, reportsDir, tools: scanners.versions };
}

/** Installs the scanners of the run (also for rescans of SBOMs that already exist). */
export async function setUpRunScanners(
  host: ActionHost,
  settings: Settings,
  tempDir: string,
  sources?: ScannerSources,
): Promise<ScannerSetup> {
  return setUpScanners(settings.gate, {
    exec: host.exec,
    log: host.log,
    ...(sources ?? (await runnerScannerSources(host, tempDir))),
    dbCacheDir: path.join(tempDir, 'edgeship-grype-db'),
    now: host.now,
  });
}

/** The files a scan reads and writes, on the runner's file system. */
export const scanFileDeps: Omit<ScanDeps, 'exec' | 'log'> = {
  readText: (f) => readFile(f, 'utf8'),
  readBinary: (f) => readFile(f),
  writeText: (f, text) => writeFile(f, text),
  makeDir: async (d) => void (await mkdir(d, { recursive: true })),
};

/** The runner's tool cache (@actions/tool-cache) and, when the runner offers it, the Actions cache. */
async function runnerScannerSources(host: ActionHost, tempDir: string): Promise<ScannerSources> {
  // @actions/tool-cache needs RUNNER_TOOL_CACHE, which every runner sets; give runs elsewhere one too.
  process.env.RUNNER_TOOL_CACHE ??= path.join(tempDir, 'edgeship-tool-cache');
  const cache = await actionsCache(host.env);
  return { installDeps: toolCacheInstallDeps(host.log), ...(cache ? { cache } : {}) };
}

/** @actions/cache when the runner offers the cache service; loaded only then (it is large). */
async function actionsCache(env: Record<string, string | undefined>): Promise<GrypeDbCache | undefined> {
  if (!env.ACTIONS_RUNTIME_TOKEN) return undefined;
  const cache = await import('@actions/cache');
  if (!cache.isFeatureAvailable()) return undefined;
  return {
    restoreCache: (paths, key, restoreKeys) => cache.restoreCache(paths, key, restoreKeys),
    saveCache: (paths, key) => cache.saveCache(paths, key),
  };
}
