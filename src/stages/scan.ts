import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { PlatformImage } from '../image/pushed-image.js';
import type { PhaseLog } from '../logging/phase-log.js';
import type { ActionHost } from '../runner/host.js';
import { rescanSboms, type SbomToScan } from '../scan/rescan.js';
import { scanPlatforms } from '../scan/scan-platforms.js';
import type { ScanDeps, ScanResult } from '../scan/scan-platforms.js';
import { setUpGrype, setUpScanners } from '../scan/scanners.js';
import type { GrypeDbCache, GrypeSetup, ScannerVersions } from '../scan/scanners.js';
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
  const scanners = await scannersFor(host, settings, tempDir, sources);
  const reportsDir = reportsDirFor(settings, tempDir);
  const scans = await scanPlatforms(
    { settings, images, reportsDir, scanners },
    { exec: host.exec, log: host.log, ...scanFiles },
  );
  return { scans, reportsDir, tools: scanners.versions };
}

/**
 * Re-scans SBOMs taken from a release's signed attestations with today's Grype database (no Syft, no image pull),
 * with the Grype that runGrypeSetup made ready; like runScanStage, it only finds.
 */
export async function runRescanStage(
  host: ActionHost,
  /** `reportsDir`: where the reports go when not the run's (one folder per release a rescan reads). */
  input: {
    settings: Settings;
    sboms: readonly SbomToScan[];
    tempDir: string;
    grype: GrypeSetup;
    reportsDir?: string;
  },
  /** Where the scans log: a buffered log when they run beside other work. */
  log: PhaseLog = host.log,
): Promise<ScanResult> {
  const { settings, sboms, tempDir, grype } = input;
  const reportsDir = input.reportsDir ?? reportsDirFor(settings, tempDir);
  const scans = await rescanSboms(
    { settings, sboms, reportsDir, scanners: grype },
    { exec: host.exec, log, ...scanFiles },
  );
  return { scans, reportsDir };
}

/**
 * Grype and a fresh database for re-scans of attested SBOMs: no Syft. Logs to `log` (a buffered one when it runs
 * beside other work) without a group of its own; `sources` defaults to the runner's tool cache and Actions cache.
 */
export async function runGrypeSetup(
  host: ActionHost,
  input: { settings: Settings; tempDir: string },
  log: PhaseLog = host.log,
  sources?: ScannerSources,
): Promise<GrypeSetup> {
  return setUpGrype(input.settings.gate, {
    exec: host.exec,
    log,
    ...(sources ?? (await runnerScannerSources(host, input.tempDir, log))),
    dbCacheDir: path.join(input.tempDir, 'edgeship-grype-db'),
    now: host.now,
  });
}

/** Where SBOMs, reports and SARIF go: `reports-dir`, else a folder of the run's temp dir. */
export function reportsDirFor(settings: Settings, tempDir: string): string {
  return settings.gate.reportsDir ?? path.join(tempDir, 'edgeship-reports');
}

const scanFiles: Omit<ScanDeps, 'exec' | 'log'> = {
  readText: (f) => readFile(f, 'utf8'),
  readBinary: (f) => readFile(f),
  writeText: (f, text) => writeFile(f, text),
  makeDir: async (d) => void (await mkdir(d, { recursive: true })),
};

/** Syft and Grype installed, Grype's database fresh. */
async function scannersFor(host: ActionHost, settings: Settings, tempDir: string, sources?: ScannerSources) {
  return setUpScanners(settings.gate, {
    exec: host.exec,
    log: host.log,
    ...(sources ?? (await runnerScannerSources(host, tempDir))),
    dbCacheDir: path.join(tempDir, 'edgeship-grype-db'),
    now: host.now,
  });
}

/** The runner's tool cache (@actions/tool-cache) and, when the runner offers it, the Actions cache. */
async function runnerScannerSources(
  host: ActionHost,
  tempDir: string,
  log: PhaseLog = host.log,
): Promise<ScannerSources> {
  // @actions/tool-cache needs RUNNER_TOOL_CACHE, which every runner sets; give runs elsewhere one too.
  process.env.RUNNER_TOOL_CACHE ??= path.join(tempDir, 'edgeship-tool-cache');
  const cache = await actionsCache(host.env);
  return { installDeps: toolCacheInstallDeps(log), ...(cache ? { cache } : {}) };
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
