/**
 * SBOM and scan every pushed platform: per platform syft → read the SBOM → grype → read the report →
 * categorise the SARIF. It does not judge what it found; the gate does (`src/policy/decide.ts`).
 */
import path from 'node:path';
import { platformSlug, parsePlatform } from '../image/platform.js';
import type { PlatformImage } from '../image/pushed-image.js';
import { BufferedLog } from '../logging/buffered-log.js';
import type { PhaseLog } from '../logging/phase-log.js';
import type { Exec } from '../process/exec.js';
import { mapSettledBounded } from '../process/concurrency.js';
import { runGrype } from './grype.js';
import { parseGrypeReport } from './grype-report.js';
import type { GrypeReport } from './grype-report.js';
import { categorizeSarif, sarifCategory } from './sarif.js';
import { countSbomPackages } from './sbom.js';
import { SCANNER_CONFIG, ScanError } from './scanner-run.js';
import type { GrypePaths, ScannerPaths } from './scanners.js';
import { runSyft, sbomFileName } from './syft.js';
import type { SbomFormat, SyftRegistryAccess } from './syft.js';

/** One platform's scan: the files written and what they say. */
export interface PlatformScan {
  platform: string;
  digest: string;
  sbomFiles: Array<{ format: SbomFormat; file: string }>;
  packages: number;
  reportFile: string;
  sarifFile: string;
  report: GrypeReport;
}

/** Every platform's scan and the directory holding their files. */
export interface ScanResult {
  scans: PlatformScan[];
  reportsDir: string;
}

export interface ScanDeps {
  exec: Exec;
  log: PhaseLog;
  readText: (file: string) => Promise<string>;
  readBinary: (file: string) => Promise<Buffer>;
  writeText: (file: string, text: string) => Promise<void>;
  makeDir: (dir: string) => Promise<void>;
}

/** What a scan reads of the action's settings (Settings has it all). */
export interface ScanSettings {
  /** The repository the images were pushed to, e.g. `ghcr.io/acme/agent`. */
  imageName: string;
  image: { registry: string };
  /** Registry host the credentials are for. */
  registry: string;
  registryUsername?: string;
  registryPassword?: string;
  registryCaFile?: string;
  insecureRegistries: readonly string[];
  gate: { sbomFormats: readonly SbomFormat[]; scanConcurrency: number; scanTimeoutMs: number };
  /** The `vex` input's OpenVEX files, given to Grype. */
  vexFiles?: readonly string[];
}

export interface ScanRequest {
  settings: ScanSettings;
  images: readonly PlatformImage[];
  reportsDir: string;
  scanners: ScannerPaths;
}

/**
 * SBOM and scan every platform concurrently (bounded by `scan-concurrency`), each logged as one group.
 * Any scanner failure, timeout or unreadable output throws: the gate never passes on missing data.
 */
export async function scanPlatforms(req: ScanRequest, deps: ScanDeps): Promise<PlatformScan[]> {
  const { settings, images } = req;
  await deps.makeDir(req.reportsDir);
  const settled = await mapSettledBounded(images, settings.gate.scanConcurrency, async (image) => {
    const log = new BufferedLog();
    try {
      return await scanPlatform(image, req, { ...deps, log });
    } finally {
      await log.replay(deps.log, `SBOM and scan ${image.platform}`);
    }
  });
  const failures = settled.flatMap((r, i) =>
    r.status === 'rejected' ? [`${images[i]!.platform}: ${message(r.reason)}`] : [],
  );
  if (failures.length) throw new ScanError(incompleteScans(failures, images.length));
  return settled.map((r) => (r as PromiseFulfilledResult<PlatformScan>).value);
}

async function scanPlatform(image: PlatformImage, req: ScanRequest, deps: ScanDeps): Promise<PlatformScan> {
  const { settings, reportsDir, scanners } = req;
  const files = scanFiles(reportsDir, image.platform, settings.gate.sbomFormats);
  const run = { timeoutMs: settings.gate.scanTimeoutMs, cwd: reportsDir, log: deps.log };
  await deps.writeText(files.config, SCANNER_CONFIG);
  await runSyft(deps.exec, {
    ...run,
    syft: scanners.syft,
    image: settings.imageName,
    digest: image.digest,
    platform: image.platform,
    outputs: files.sboms,
    configFile: files.config,
    access: syftAccess(settings),
  });
  return scanSbom({ platform: image.platform, digest: image.digest }, files, req, deps);
}

/**
 * Scans an SBOM already written (by Syft, or taken from a signed attestation) with Grype: the first of
 * `files.sboms` is counted and scanned, the JSON report read and the SARIF categorised.
 */
export async function scanSbom(
  image: { platform: string; digest: string },
  files: ScanFiles,
  req: Pick<ScanRequest, 'settings' | 'reportsDir'> & { scanners: GrypePaths },
  deps: ScanDeps,
  /**
   * Where the SBOM came from. `attestation`: a re-scan wrote it from a signed attestation, so it is known to be
   * there: Grype starts at once and it is counted meanwhile. `syft` (default): it is read before Grype runs.
   */
  options: { sbomFrom?: 'syft' | 'attestation' } = {},
): Promise<PlatformScan> {
  const run = { timeoutMs: req.settings.gate.scanTimeoutMs, cwd: req.reportsDir, log: deps.log };
  const sbom = files.sboms[0]!;
  const fromAttestation = options.sbomFrom === 'attestation';
  const missing = fromAttestation
    ? 'The SBOM taken from its signed attestation is gone'
    : 'Syft wrote no SBOM';
  const counted = readOrExplain(deps, sbom.file, missing).then((text) =>
    countSbomPackages(text, sbom.format),
  );
  counted.catch(() => undefined); // raised below, Grype ended
  if (!fromAttestation) await counted; // Syft's SBOM must be there before Grype runs
  const scanning = runGrype(deps.exec, {
    ...run,
    grype: req.scanners.grype,
    env: req.scanners.grypeEnv,
    sbomFile: sbom.file,
    jsonFile: files.report,
    sarifFile: files.sarif,
    configFile: files.config,
    ...(req.settings.vexFiles?.length ? { vexFiles: req.settings.vexFiles } : {}),
  });
  scanning.catch(() => undefined); // raised below, once the SBOM is counted
  const packages = await counted.catch(async (error: unknown) => {
    await scanning.catch(() => undefined);
    throw error;
  });
  deps.log.info(`SBOM ${path.basename(sbom.file)}: ${packages} package(s)`);
  await scanning;
  const report = parseGrypeReport(
    await deps.readBinary(files.report).catch(() => Buffer.alloc(0)),
    files.report,
  );
  const sarif = await readOrExplain(deps, files.sarif, 'Grype wrote no SARIF report');
  await deps.writeText(files.sarif, categorizeSarif(sarif, sarifCategory(files.slug)));
  deps.log.info(`${report.matches.length} match(es) in ${path.basename(files.report)}`);
  return {
    platform: image.platform,
    digest: image.digest,
    sbomFiles: files.sboms,
    packages,
    reportFile: files.report,
    sarifFile: files.sarif,
    report,
  };
}

/** The gate's message for scans that gave it nothing to judge: one `<platform>: <why>` line each. */
export function incompleteScans(failures: readonly string[], platforms: number): string {
  return (
    `The gate fails closed: ${failures.length} of ${platforms} platform scan(s) did not complete, so nothing is published.\n` +
    failures.join('\n')
  );
}

/** Where one platform's scan files go. */
export interface ScanFiles {
  slug: string;
  config: string;
  sboms: Array<{ format: SbomFormat; file: string }>;
  report: string;
  sarif: string;
}

/** Where one platform's files go: `sbom-linux-arm64.spdx.json`, `grype-linux-arm64.json`, `.sarif`. */
export function scanFiles(reportsDir: string, platform: string, formats: readonly SbomFormat[]): ScanFiles {
  const slug = platformSlug(parsePlatform(platform));
  return {
    slug,
    config: path.join(reportsDir, 'edgeship-scanner-config.yaml'),
    sboms: formats.map((format) => ({ format, file: path.join(reportsDir, sbomFileName(slug, format)) })),
    report: path.join(reportsDir, `grype-${slug}.json`),
    sarif: path.join(reportsDir, `grype-${slug}.sarif`),
  };
}

/** How syft reaches the registry: the action's credentials, CA and plain-HTTP setting. */
function syftAccess(settings: ScanSettings): SyftRegistryAccess {
  return {
    registry: settings.registry,
    ...(settings.registryUsername ? { username: settings.registryUsername } : {}),
    ...(settings.registryPassword ? { password: settings.registryPassword } : {}),
    ...(settings.registryCaFile ? { caFile: settings.registryCaFile } : {}),
    insecureHttp: settings.insecureRegistries.includes(settings.image.registry),
  };
}

async function readOrExplain(deps: ScanDeps, file: string, what: string): Promise<string> {
  try {
    return await deps.readText(file);
  } catch {
    throw new ScanError(`${what} at ${file}; the gate fails closed.`);
  }
}

function message(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
