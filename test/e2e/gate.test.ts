import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runBundled } from './harness/action-runner.js';
import { publishBaseImage } from './harness/base-images.js';
import { makeDebianBusyboxWorkspace } from './harness/debian-busybox.js';
import { ensureBinfmt, ensureHostTools } from './harness/host-tools.js';
import { realScannerTools, startRealScanners } from './harness/real-scanners.js';
import type { RealScanners } from './harness/real-scanners.js';
import { startRegistry } from './harness/registry.js';
import type { TestRegistry } from './harness/registry.js';
import { FIXTURES, SCANNERS_FROM_PATH, scannerDoubleEnv } from './harness/scanner-doubles.js';
import { buildahEnvironment, listTagsRaw, makeSampleWorkspace } from './harness/workspace.js';

const scannerTools = await realScannerTools('gate e2e');

/** What the real database says of the bare busybox 1.35.0 binary (test/fixtures/grype-db). */
const CRITICAL = 'CVE-2022-48174';
const HIGH = 'CVE-2022-28391';

/**
 * The gate end to end: real registry, real buildah builds, real image configs and sizes, and the REAL Syft and
 * Grype (harness/real-scanners.ts) against the loopback database of real busybox advisories. The plain sample
 * (bare busybox binary) carries one Critical and one High; the Debian-packaged sample scans clean. Waivers,
 * `fail-on` and the database age are exercised on those real findings. Only two cases use the scanner DOUBLES
 * (harness/scanner-doubles.ts), for what the real Grype cannot be made to do here: crash, and write a report
 * with stderr mixed into the JSON. Every blocked release must leave no tag and still write its SBOMs and reports.
 */
describe.skipIf('reason' in scannerTools)('supply-chain gate (real registry, builds, Syft and Grype)', () => {
  let reg: TestRegistry;
  let scanners: RealScanners;
  let base: string;
  let bareWorkspace: string;
  let debianWorkspace: string;
  let storage: { env: Record<string, string>; dir: string };
  let scratch: string;
  let counter = 0;

  beforeAll(async () => {
    await ensureHostTools();
    await ensureBinfmt();
    scanners = await startRealScanners(scannerTools);
    reg = await startRegistry();
    base = await publishBaseImage(reg);
    bareWorkspace = await makeSampleWorkspace();
    debianWorkspace = await makeDebianBusyboxWorkspace();
    storage = await buildahEnvironment();
    scratch = await mkdtemp(path.join(os.tmpdir(), 'edgeship-gate-'));
  });

  afterAll(async () => {
    await reg?.stop();
    await scanners?.stop();
    for (const dir of [bareWorkspace, debianWorkspace, storage?.dir, scratch])
      if (dir) await rm(dir, { recursive: true, force: true });
  });

  /**
   * One release into its own repository, so "no tag" is checked per scenario: with the real scanners, or with
   * the scanner doubles when `doubles` says which report each platform's double hands back.
   */
  async function release(options: {
    workspace: 'bare' | 'debian';
    inputs?: Record<string, string>;
    doubles?: { reports: Record<string, string>; extra?: Record<string, string> };
  }) {
    counter += 1;
    const repo = `acme/gate-${counter}`;
    const reportsDir = path.join(scratch, `reports-${counter}`);
    const run = await runBundled('main', {
      workspace: options.workspace === 'bare' ? bareWorkspace : debianWorkspace,
      inputs: {
        image: `${reg.host}/${repo}`,
        builder: 'buildah',
        mode: 'build',
        'records-dir': path.join(os.tmpdir(), `edgeship-records-${process.pid}`),
        'build-args': `BASE=${base}`,
        'registry-username': reg.username,
        'registry-password': reg.password,
        'registry-ca-file': reg.caFile,
        'reports-dir': reportsDir,
        ...(options.doubles ? SCANNERS_FROM_PATH : scanners.inputs),
        ...options.inputs,
      },
      env: {
        ...storage.env,
        ...(options.doubles
          ? scannerDoubleEnv({ reports: options.doubles.reports, extra: options.doubles.extra ?? {} })
          : scanners.env),
      },
    });
    return { run, repo, reportsDir, tags: await listTagsRaw(reg, repo) };
  }

  const day = (offset: number) => new Date(Date.now() + offset * 86_400_000).toISOString().slice(0, 10);
  const readJson = async <T>(file: string) => JSON.parse(await readFile(file, 'utf8')) as T;
  const waiverPolicy = async (name: string, expires: string, extra: string[] = []) => {
    const file = path.join(scratch, name);
    await writeFile(
      file,
      [
        'apiVersion: edgeship/v1',
        'kind: Policy',
        'waivers:',
        `  - id: ${CRITICAL}`,
        '    package: busybox',
        '    reason: the agent never runs busybox wget',
        `    expires: ${expires}`,
        ...extra,
      ].join('\n'),
    );
    return file;
  };

  it('passes a clean release and writes SBOMs, reports and categorised SARIF', async () => {
    const { run, reportsDir, tags } = await release({
      workspace: 'debian',
      inputs: { 'sbom-formats': 'spdx-json,syft-json' },
    });
    expect(run.errors, run.stdout.slice(-3000)).toEqual([]);
    expect(run.outputs.gate).toBe('pass');
    expect(JSON.parse(run.outputs.vulnerabilities!)).toEqual({
      'linux/amd64': { critical: 0, high: 0, medium: 0, low: 0, negligible: 0, unknown: 0 },
      'linux/arm64': { critical: 0, high: 0, medium: 0, low: 0, negligible: 0, unknown: 0 },
    });
    const sboms = JSON.parse(run.outputs['sbom-files']!) as string[];
    expect(sboms.map((f) => path.basename(f))).toEqual([
      'sbom-linux-amd64.spdx.json',
      'sbom-linux-amd64.syft.json',
      'sbom-linux-arm64.spdx.json',
      'sbom-linux-arm64.syft.json',
    ]);
    const sarif = JSON.parse(run.outputs['sarif-files']!) as string[];
    const categories = sarif.map(
      (f) =>
        (JSON.parse(readFileSync(f, 'utf8')) as { runs: Array<{ automationDetails: { id: string } }> })
          .runs[0]!.automationDetails.id,
    );
    expect(categories).toEqual(['edgeship/linux-amd64/', 'edgeship/linux-arm64/']);
    expect(existsSync(path.join(reportsDir, 'grype-linux-arm64.json'))).toBe(true);
    expect(run.summary).toContain('### Supply-chain gate: ✅ pass');
    // The package count in the summary is what Syft found (its own format, counted independently).
    const { artifacts } = await readJson<{ artifacts: Array<{ name: string; type: string }> }>(
      path.join(reportsDir, 'sbom-linux-arm64.syft.json'),
    );
    expect(artifacts).toContainEqual(expect.objectContaining({ name: 'busybox-static', type: 'deb' }));
    expect(run.summary).toContain(`| linux/arm64 | 0 | 0 | 0 | 0 | 0 | 0 | ${artifacts.length} |`);
    expect(run.stdout).toContain('::group::SBOM and scan linux/arm64');
    expect(tags).toEqual([]);
  });

  it('blocks a release with Critical findings, names them, says its expired waiver did not apply, and writes no tag', async () => {
    const policy = await waiverPolicy('expired.yml', day(-2));
    const { run, reportsDir, tags } = await release({ workspace: 'bare', inputs: { policy } });
    expect(run.exitCode).not.toBe(0);
    expect(run.outputs.gate).toBe('fail');
    const error = run.errors.join('\n');
    expect(error).toMatch(/The supply-chain gate failed, so no tag was written/);
    for (const platform of ['linux/amd64', 'linux/arm64']) expect(error).toContain(`${platform}: FAIL`);
    for (const id of [CRITICAL, HIGH]) expect(error).toContain(id);
    expect(error).toMatch(/expired/);
    expect(error).not.toMatch(/\n\s+at /);
    const counts = JSON.parse(run.outputs.vulnerabilities!) as Record<string, { critical: number }>;
    for (const platform of ['linux/amd64', 'linux/arm64'])
      expect(counts[platform]!.critical).toBeGreaterThan(0);
    expect(run.summary).toContain('#### Blocking findings');
    expect(run.summary).toMatch(new RegExp(`\\| expired \\| ${CRITICAL} \\|`));
    // The findings named are the ones the real Grype wrote to the platform's report.
    const report = await readJson<{ matches: Array<{ vulnerability: { id: string; severity: string } }> }>(
      path.join(reportsDir, 'grype-linux-arm64.json'),
    );
    expect(report.matches.map((m) => m.vulnerability.id)).toEqual(expect.arrayContaining([CRITICAL, HIGH]));
    expect(existsSync(path.join(reportsDir, 'sbom-linux-arm64.spdx.json'))).toBe(true);
    expect(tags).toEqual([]);
  });

  it('the same waiver, still valid, with fail-on critical (the High stays below it), lets the release pass', async () => {
    const policy = await waiverPolicy('valid.yml', day(30), [
      '  - id: CVE-1999-0001',
      '    reason: obsolete',
      `    expires: ${day(30)}`,
    ]);
    const { run } = await release({
      workspace: 'bare',
      inputs: { policy, 'fail-on': 'critical', platforms: 'linux/arm64' },
    });
    expect(run.errors, run.stdout.slice(-3000)).toEqual([]);
    expect(run.outputs.gate).toBe('pass');
    // Counted before waivers: the real findings are still reported.
    expect(JSON.parse(run.outputs.vulnerabilities!)['linux/arm64']).toMatchObject({ critical: 1, high: 1 });
    expect(run.summary).toMatch(new RegExp(`\\| applied \\| ${CRITICAL} \\| busybox \\| linux/arm64 \\|`));
    expect(run.summary).toMatch(/\| unused \| CVE-1999-0001 \|/);
  });

  it('blocks an image over the size budget, with both sizes in the message', async () => {
    const { run, tags } = await release({
      workspace: 'debian',
      inputs: { 'max-image-size': '500kB', platforms: 'linux/amd64' },
    });
    expect(run.exitCode).not.toBe(0);
    expect(run.outputs.gate).toBe('fail');
    const error = run.errors.join('\n');
    expect(error).toMatch(/image-size/);
    expect(error).toMatch(/500(\.0)? ?kB/);
    expect(tags).toEqual([]);
  });

  it('fails closed when grype crashes (scanner DOUBLES: the real Grype cannot be made to crash here)', async () => {
    const { run, tags } = await release({
      workspace: 'debian',
      inputs: { platforms: 'linux/amd64' },
      doubles: { reports: { linux_amd64: FIXTURES.reportClean }, extra: { DOUBLE_GRYPE_FAIL: '1' } },
    });
    expect(run.exitCode).not.toBe(0);
    expect(run.errors.join('\n')).toMatch(/fails closed.*Grype could not scan the SBOM/s);
    expect(run.outputs.gate).toBeUndefined();
    expect(tags).toEqual([]);
  });

  it('fails closed on a report with stderr mixed into the JSON (scanner DOUBLES: a polluted report)', async () => {
    const polluted = path.join(
      path.dirname(FIXTURES.reportClean),
      'EDGE_stderr-polluted_directory_grype-0.104.1.json',
    );
    const { run } = await release({
      workspace: 'debian',
      inputs: { platforms: 'linux/amd64' },
      doubles: { reports: { linux_amd64: polluted } },
    });
    expect(run.exitCode).not.toBe(0);
    expect(run.errors.join('\n')).toMatch(/fails closed/);
    expect(run.errors.join('\n')).toMatch(/grype-linux-amd64\.json/);
  });

  it('fails closed when the real database is older than max-db-age', async () => {
    const { run, tags } = await release({
      workspace: 'debian',
      inputs: { 'max-db-age': '0.01h', platforms: 'linux/amd64' },
    });
    expect(run.exitCode).not.toBe(0);
    expect(run.errors.join('\n')).toMatch(/built .* older than max-db-age 0\.01h/);
    expect(run.outputs.gate).toBeUndefined();
    expect(tags).toEqual([]);
  });
});
