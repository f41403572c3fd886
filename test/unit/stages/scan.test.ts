import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SCANNER_CONFIG } from '../../../src/scan/scanner-run.js';
import { runGrypeSetup, runRescanStage, runScanStage } from '../../../src/stages/scan.js';
import { writeFileSync } from 'node:fs';
import { platformImage } from '../helpers/images.js';
import { fakeExec, groupsOf, linesOfGroup, memoryHost } from '../helpers/memory-host.js';
import type { MemoryHost } from '../helpers/memory-host.js';
import { scannerDoubles } from '../helpers/scanner-doubles.js';
import type { ScannerDoubleOptions } from '../helpers/scanner-doubles.js';
import { scannersOnPath, settingsFrom } from '../helpers/settings.js';

const NOW = new Date('2026-01-02T03:04:05Z');
const PLATFORMS = ['linux/amd64', 'linux/arm64'];

let tempDir: string;
beforeEach(() => {
  tempDir = mkdtempSync(path.join(os.tmpdir(), 'edgeship-scan-stage-'));
});
afterEach(() => rmSync(tempDir, { recursive: true, force: true }));

function scanStage(options: { inputs?: Record<string, string>; scanners?: ScannerDoubleOptions } = {}) {
  const host = memoryHost({
    exec: fakeExec(scannerDoubles({ now: NOW, ...options.scanners })),
    now: () => NOW,
  });
  const settings = settingsFrom({
    image: 'registry.example/acme/agent',
    platforms: PLATFORMS.join(','),
    'registry-username': 'bot',
    'registry-password': 's3cret-password',
    'syft-version': 'path',
    'grype-version': 'path',
    'scan-concurrency': '1',
    ...options.inputs,
  });
  const images = settings.platforms.map((p) =>
    platformImage(`${p.os}/${p.architecture}${p.variant ? `/${p.variant}` : ''}`),
  );
  const run = () =>
    runScanStage(host, { settings, images, tempDir }, { installDeps: scannersOnPath(host.log) });
  return { host, settings, images, run };
}

const callsOf = (host: MemoryHost, tool: string, sub: string) =>
  host.exec.calls.filter((c) => path.basename(c.file) === tool && c.args[0]!.startsWith(sub));

describe('scan stage', () => {
  it('installs the scanners, then SBOMs and scans every platform in its own log group', async () => {
    const { host, images, run } = scanStage({
      inputs: { 'sbom-formats': 'spdx-json,cyclonedx-json' },
      scanners: {
        packages: { 'linux/amd64': 4, 'linux/arm64': 7 },
        matches: { 'linux/arm64': [{ id: 'CVE-2026-0001', severity: 'High', fixedIn: '3.0.2' }] },
      },
    });
    const result = await run();

    expect(groupsOf(host.log)).toEqual([
      'Install scanners',
      'SBOM and scan linux/amd64',
      'SBOM and scan linux/arm64',
    ]);
    expect(linesOfGroup(host.log, 'Install scanners')).toEqual(
      expect.arrayContaining([
        'syft path (path) at /opt/scanners/syft',
        'grype path (path) at /opt/scanners/grype',
        `grype database: schema v6.0.2, built ${NOW.toISOString()} (0 hours old)`,
      ]),
    );
    const reportsDir = path.join(tempDir, 'edgeship-reports');
    expect(result.reportsDir).toBe(reportsDir);
    expect(result.tools).toEqual({ syft: 'path', grype: 'path', grypeDbBuilt: NOW.toISOString() });
    expect(
      result.scans.map((s) => [s.platform, s.digest, s.packages, s.report.matches.map((m) => m.id)]),
    ).toEqual([
      ['linux/amd64', images[0]!.digest, 4, []],
      ['linux/arm64', images[1]!.digest, 7, ['CVE-2026-0001']],
    ]);
    const arm64 = result.scans[1]!;
    expect(arm64.sbomFiles).toEqual([
      { format: 'spdx-json', file: path.join(reportsDir, 'sbom-linux-arm64.spdx.json') },
      { format: 'cyclonedx-json', file: path.join(reportsDir, 'sbom-linux-arm64.cdx.json') },
    ]);
    expect(arm64.reportFile).toBe(path.join(reportsDir, 'grype-linux-arm64.json'));
    const sarif = JSON.parse(readFileSync(arm64.sarifFile, 'utf8')) as {
      runs: Array<Record<string, unknown>>;
    };
    expect(sarif.runs[0]!.automationDetails).toEqual({ id: 'edgeship/linux-arm64/' });
    expect(linesOfGroup(host.log, 'SBOM and scan linux/arm64')).toEqual(
      expect.arrayContaining([
        'SBOM sbom-linux-arm64.spdx.json: 7 package(s)',
        '1 match(es) in grype-linux-arm64.json',
      ]),
    );
    // It finds, it does not judge: no outputs, no summary.
    expect(host.outputs).toEqual({});
    expect(host.summary).toEqual([]);
  });

  it('runs the scanners isolated: own config, no SYFT_/GRYPE_ variables of the job, credentials only in the environment', async () => {
    const { host, run } = scanStage();
    await run();
    const reportsDir = path.join(tempDir, 'edgeship-reports');
    const config = path.join(reportsDir, 'edgeship-scanner-config.yaml');
    expect(readFileSync(config, 'utf8')).toBe(SCANNER_CONFIG);
    const [syft] = callsOf(host, 'syft', 'scan');
    expect(syft!.args).toEqual([
      'scan',
      `registry:registry.example/acme/agent@${platformImage('linux/amd64').digest}`,
      '--platform',
      'linux/amd64',
      '-o',
      `spdx-json=${path.join(reportsDir, 'sbom-linux-amd64.spdx.json')}`,
      '--config',
      config,
    ]);
    expect(syft!.args.join(' ')).not.toContain('s3cret-password');
    expect(syft!.options).toMatchObject({
      cwd: reportsDir,
      dropInherited: ['SYFT_', 'GRYPE_'],
      timeoutMs: 15 * 60_000,
      env: { SYFT_REGISTRY_AUTH_USERNAME: 'bot', SYFT_REGISTRY_AUTH_PASSWORD: 's3cret-password' },
    });
    const [grype] = callsOf(host, 'grype', 'sbom:');
    expect(grype!.args).toEqual([
      `sbom:${path.join(reportsDir, 'sbom-linux-amd64.spdx.json')}`,
      '-o',
      `json=${path.join(reportsDir, 'grype-linux-amd64.json')}`,
      '-o',
      `sarif=${path.join(reportsDir, 'grype-linux-amd64.sarif')}`,
      '--config',
      config,
    ]);
    expect(grype!.options).toMatchObject({
      cwd: reportsDir,
      dropInherited: ['SYFT_', 'GRYPE_'],
      env: { GRYPE_DB_AUTO_UPDATE: 'false', GRYPE_DB_CACHE_DIR: path.join(tempDir, 'edgeship-grype-db') },
    });
  });

  it('scans at most scan-concurrency platforms at once', async () => {
    let running = 0;
    let peak = 0;
    const { host, run } = scanStage({
      inputs: { platforms: 'linux/amd64,linux/arm64,linux/arm/v7', 'scan-concurrency': '2' },
      scanners: {
        during: async (tool) => {
          if (tool !== 'syft') return;
          running += 1;
          peak = Math.max(peak, running);
          await new Promise((r) => setTimeout(r, 20));
          running -= 1;
        },
      },
    });
    const result = await run();
    expect(peak).toBe(2);
    expect(result.scans.map((s) => s.platform)).toEqual(['linux/amd64', 'linux/arm64', 'linux/arm/v7']);
    expect(
      groupsOf(host.log)
        .filter((g) => g.startsWith('SBOM and scan'))
        .sort(),
    ).toEqual(['SBOM and scan linux/amd64', 'SBOM and scan linux/arm/v7', 'SBOM and scan linux/arm64']);
  });

  it('hands an empty SBOM to the gate instead of judging it', async () => {
    const { run } = scanStage({ scanners: { packages: { 'linux/arm64': 0 } } });
    const result = await run();
    expect(result.scans.map((s) => s.packages)).toEqual([3, 0]);
  });

  it('fails closed when a scanner fails, naming the platform, after every platform ran', async () => {
    const { host, run } = scanStage({ scanners: { failGrype: ['linux/arm64'] } });
    await expect(run()).rejects.toThrow(
      'The gate fails closed: 1 of 2 platform scan(s) did not complete, so nothing is published.\n' +
        'linux/arm64: Grype could not scan the SBOM (grype exited with code 1:\n' +
        '[0000] ERROR failed to load vulnerability db (fake grype)). Re-run; if it persists, pin grype-version.',
    );
    expect(groupsOf(host.log)).toEqual([
      'Install scanners',
      'SBOM and scan linux/amd64',
      'SBOM and scan linux/arm64',
    ]);
    expect(callsOf(host, 'grype', 'sbom:')).toHaveLength(2);
  });

  it('fails closed when syft fails or writes no SBOM', async () => {
    const failed = scanStage({ scanners: { failSyft: ['linux/amd64'], syftWritesNothing: ['linux/arm64'] } });
    const error = await failed.run().then(
      () => undefined,
      (e: Error) => e.message,
    );
    expect(error).toMatch(/^The gate fails closed: 2 of 2 platform scan\(s\) did not complete/);
    expect(error).toContain('linux/amd64: Syft could not make the SBOM (syft exited with code 1:');
    expect(error).toContain(
      `linux/arm64: Syft wrote no SBOM at ${path.join(tempDir, 'edgeship-reports', 'sbom-linux-arm64.spdx.json')}; the gate fails closed.`,
    );
    expect(callsOf(failed.host, 'grype', 'sbom:')).toEqual([]);
  });

  it('refuses a stale vulnerability database before scanning anything', async () => {
    const { host, run } = scanStage({
      scanners: { dbBuilt: new Date(NOW.getTime() - 10 * 24 * 3_600_000) },
    });
    await expect(run()).rejects.toThrow(
      /older than max-db-age 5d \(120 hours\); refusing to scan with stale data/,
    );
    expect(callsOf(host, 'syft', 'scan')).toEqual([]);
    expect(groupsOf(host.log)).toEqual(['Install scanners']);
  });

  it('writes to reports-dir when it is set', async () => {
    const reportsDir = path.join(tempDir, 'my-reports');
    const { run } = scanStage({ inputs: { 'reports-dir': reportsDir } });
    const result = await run();
    expect(result.reportsDir).toBe(reportsDir);
    expect(readFileSync(path.join(reportsDir, 'sbom-linux-amd64.spdx.json'), 'utf8')).toContain('SPDX-2.3');
  });
});

describe('re-scan stage (SBOMs from attestations)', () => {
  it('installs Grype alone (no Syft) with a fresh database, then scans each SBOM with it', async () => {
    const { host, settings } = scanStage({ scanners: { packages: { 'linux/amd64': 2, 'linux/arm64': 2 } } });
    const asked: string[] = [];
    const installDeps = scannersOnPath(host.log);
    const which = installDeps.which;
    installDeps.which = async (name) => (asked.push(name), which(name));
    const grype = await runGrypeSetup(host, { settings, tempDir }, host.log, { installDeps });
    expect(asked).toEqual(['grype']);
    expect(grype).toMatchObject({
      grype: '/opt/scanners/grype',
      versions: { grype: 'path', grypeDbBuilt: NOW.toISOString() },
    });
    expect(grype).not.toHaveProperty('syft');

    const sboms = PLATFORMS.map((platform) => {
      const file = path.join(tempDir, `sbom-${platform.replace('/', '-')}.spdx.json`);
      writeFileSync(
        file,
        JSON.stringify({ spdxVersion: 'SPDX-2.3', packages: [{ name: 'a' }, { name: 'b' }] }),
      );
      return { platform, digest: `sha256:${'1'.repeat(64)}`, format: 'spdx-json' as const, file };
    });
    const result = await runRescanStage(host, { settings, sboms, tempDir, grype });
    expect(result.scans.map((s) => s.platform)).toEqual(PLATFORMS);
    expect(callsOf(host, 'syft', '')).toEqual([]);
    expect(callsOf(host, 'grype', 'sbom:').map((c) => c.args[0])).toEqual(sboms.map((s) => `sbom:${s.file}`));
  });

  it('starts Grype on a re-scanned SBOM before reading it (it wrote it); one that is gone still fails closed', async () => {
    const { host, settings } = scanStage({ scanners: { packages: { 'linux/amd64': 2, 'linux/arm64': 2 } } });
    const grype = await runGrypeSetup(host, { settings, tempDir }, host.log, {
      installDeps: scannersOnPath(host.log),
    });
    const sboms = PLATFORMS.map((platform) => ({
      platform,
      digest: `sha256:${'2'.repeat(64)}`,
      format: 'spdx-json' as const,
      file: path.join(tempDir, 'gone', `sbom-${platform.replace('/', '-')}.spdx.json`),
    }));
    await expect(runRescanStage(host, { settings, sboms, tempDir, grype })).rejects.toThrow(
      /2 of 2 platform scan\(s\) did not complete[\s\S]*linux\/amd64: The SBOM taken from its signed attestation is gone at .*gone.sbom-linux-amd64/,
    );
    // Grype ran on each (the SBOM is read while it scans), unlike a first scan, which reads Syft's SBOM first.
    expect(callsOf(host, 'grype', 'sbom:').map((c) => c.args[0])).toEqual(sboms.map((s) => `sbom:${s.file}`));
  });
});
