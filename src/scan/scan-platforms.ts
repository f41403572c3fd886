import path from 'node:path';
import { platformSlug, parsePlatform } from '../image/platform.js';
import type { PlatformImage } from '../image/pushed-image.js';
import { BufferedLog } from '../logging/buffered-log.js';
import type { PhaseLog } from '../logging/phase-log.js';
import { evaluateGate } from '../policy/index.js';
import type { GateVerdict, Policy } from '../policy/index.js';
import type { Exec } from '../process/exec.js';
import { describeFailure } from '../process/exec.js';
import { mapSettledBounded } from '../process/concurrency.js';
import { grypeScanArgs, SCANNER_CONFIG, SCANNER_ENV_PREFIXES } from './grype.js';
import { parseGrypeReport } from './grype-report.js';
import type { GrypeReport, Severity } from './grype-report.js';
import { categorizeSarif, sarifCategory } from './sarif.js';
import { countSbomPackages } from './sbom.js';
import { sbomFileName, syftEnvironment, syftScanArgs } from './syft.js';
import type { SbomFormat } from './syft.js';
import type { GateSettings, Settings } from '../settings/inputs.js';

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

export interface GateResult {
  verdict: GateVerdict;
  scans: PlatformScan[];
  reportsDir: string;
}

export interface ScannerPaths {
  syft: string;
  grype: string;
  /** Environment grype runs with (DB cache dir, age validation, no update check). */
  grypeEnv: Record<string, string>;
}

export interface GateDeps {
  exec: Exec;
  log: PhaseLog;
  readText: (file: string) => Promise<string>;
  readBinary: (file: string) => Promise<Buffer>;
  writeText: (file: string, text: string) => Promise<void>;
  makeDir: (dir: string) => Promise<void>;
  now: () => Date;
}

/** Why the gate could not even evaluate: it fails closed and says which platform and what to do. */
export class GateError extends Error {
  override name = 'GateError';
}

export function zeroCounts(): Record<Severity, number> {
  return { Critical: 0, High: 0, Medium: 0, Low: 0, Negligible: 0, Unknown: 0 };
}

/**
 * SBOM and scan every platform concurrently (bounded), each logged as one group, then evaluate the
 * policy over all of them. Any scanner failure, timeout or unreadable output fails the gate: it never
 * passes on missing data.
 */
export async function runGate(
  req: {
    settings: Settings;
    policy: Policy;
    images: readonly PlatformImage[];
    reportsDir: string;
    scanners: ScannerPaths;
  },
  deps: GateDeps,
): Promise<GateResult> {
  const { settings, images, reportsDir, scanners } = req;
  await deps.makeDir(reportsDir);
  const settled = await mapSettledBounded(images, settings.gate.scanConcurrency, async (image) => {
    const log = new BufferedLog();
    try {
      return await scanPlatform(image, settings, settings.gate, reportsDir, scanners, { ...deps, log });
    } finally {
      await log.replay(deps.log, `SBOM and scan ${image.platform}`);
    }
  });
  const failures = settled.flatMap((r, i) =>
    r.status === 'rejected' ? [`${images[i]!.platform}: ${message(r.reason)}`] : [],
  );
  if (failures.length) {
    throw new GateError(
      `The gate fails closed: ${failures.length} of ${images.length} platform scan(s) did not complete, so nothing is published.\n` +
        failures.join('\n'),
    );
  }
  const scans = settled.map((r) => (r as PromiseFulfilledResult<PlatformScan>).value);
  const verdict = evaluateScans(req.policy, scans, images, deps.now());
  return { verdict, scans, reportsDir };
}

/** The policy's verdict over scanned platforms, with each image's size, user and HEALTHCHECK. */
export function evaluateScans(
  policy: Policy,
  scans: readonly PlatformScan[],
  images: readonly PlatformImage[],
  now: Date,
): GateVerdict {
  return evaluateGate(
    policy,
    scans.map((scan) => {
      const image = images.find((i) => i.platform === scan.platform);
      if (!image) throw new GateError(`no image for the scan of ${scan.platform}`);
      return {
        platform: scan.platform,
        report: scan.report,
        image: { size: image.size, user: image.config.user, healthcheck: image.config.healthcheck },
      };
    }),
    now,
  );
}

async function scanPlatform(
  image: PlatformImage,
  settings: Settings,
  gate: GateSettings,
  reportsDir: string,
  scanners: ScannerPaths,
  deps: GateDeps,
): Promise<PlatformScan> {
  const slug = platformSlug(parsePlatform(image.platform));
  const sbomFiles = gate.sbomFormats.map((format) => ({
    format,
    file: path.join(reportsDir, sbomFileName(slug, format)),
  }));
  const configFile = path.join(reportsDir, 'edgeship-scanner-config.yaml');
  await deps.writeText(configFile, SCANNER_CONFIG);
  const syftArgs = syftScanArgs({
    configFile,
    image: settings.imageName,
    digest: image.digest,
    platform: image.platform,
    outputs: sbomFiles,
  });
  deps.log.info(`syft ${syftArgs.join(' ')}`);
  const syft = await deps.exec(scanners.syft, syftArgs, {
    env: syftEnvironment({
      registry: settings.registry,
      ...(settings.registryUsername ? { username: settings.registryUsername } : {}),
      ...(settings.registryPassword ? { password: settings.registryPassword } : {}),
      ...(settings.registryCaFile ? { caFile: settings.registryCaFile } : {}),
      insecureHttp: settings.insecureRegistries.includes(settings.image.registry),
    }),
    timeoutMs: gate.scanTimeoutMs,
    cwd: reportsDir,
    dropInherited: SCANNER_ENV_PREFIXES,
    onLine: (line) => deps.log.info(line),
  });
  if (syft.exitCode !== 0 || syft.failure) {
    throw new GateError(
      `Syft could not make the SBOM (${describeFailure('syft', syft, 5)}). Re-run; if it persists, pin syft-version.`,
    );
  }
  const primary = sbomFiles[0]!;
  const packages = countSbomPackages(
    await readOrExplain(deps, primary.file, 'Syft wrote no SBOM'),
    primary.format,
  );
  deps.log.info(`SBOM ${path.basename(primary.file)}: ${packages} package(s)`);
  if (packages === 0 && image.layers.some((l) => l.size > 0) && !gate.allowEmptySbom) {
    throw new GateError(
      `Syft found no packages in ${image.platform} (${image.size} bytes of layers). An empty SBOM cannot be scanned, so the gate fails closed. ` +
        'If the image really holds nothing Syft can identify (e.g. one static binary FROM scratch), set allow-empty-sbom: true.',
    );
  }

  const reportFile = path.join(reportsDir, `grype-${slug}.json`);
  const sarifFile = path.join(reportsDir, `grype-${slug}.sarif`);
  const grypeArgs = grypeScanArgs({ sbomFile: primary.file, jsonFile: reportFile, sarifFile, configFile });
  deps.log.info(`grype ${grypeArgs.join(' ')}`);
  const grype = await deps.exec(scanners.grype, grypeArgs, {
    env: scanners.grypeEnv,
    timeoutMs: gate.scanTimeoutMs,
    cwd: reportsDir,
    dropInherited: SCANNER_ENV_PREFIXES,
    onLine: (line) => deps.log.info(line),
  });
  if (grype.exitCode !== 0 || grype.failure) {
    throw new GateError(
      `Grype could not scan the SBOM (${describeFailure('grype', grype, 5)}). Re-run; if it persists, pin grype-version.`,
    );
  }
  const report = parseGrypeReport(await deps.readBinary(reportFile).catch(() => Buffer.alloc(0)), reportFile);
  const sarif = await readOrExplain(deps, sarifFile, 'Grype wrote no SARIF report');
  await deps.writeText(sarifFile, categorizeSarif(sarif, sarifCategory(slug)));
  deps.log.info(`${report.matches.length} match(es) in ${path.basename(reportFile)}`);
  return {
    platform: image.platform,
    digest: image.digest,
    sbomFiles,
    packages,
    reportFile,
    sarifFile,
    report,
  };
}

async function readOrExplain(deps: GateDeps, file: string, what: string): Promise<string> {
  try {
    return await deps.readText(file);
  } catch {
    throw new GateError(`${what} at ${file}; the gate fails closed.`);
  }
}

/** Counts per platform and severity (before waivers), for the `vulnerabilities` output. */
export function vulnerabilityCounts(verdict: GateVerdict): Record<string, Record<string, number>> {
  return Object.fromEntries(
    verdict.platforms.map((p) => [
      p.platform,
      Object.fromEntries(Object.entries(p.counts).map(([k, v]) => [k.toLowerCase(), v])),
    ]),
  );
}

function message(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
