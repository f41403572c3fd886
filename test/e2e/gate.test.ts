import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runBundled } from './harness/action-runner.js';
import { publishBaseImage } from './harness/base-images.js';
import { ensureBinfmt, ensureHostTools } from './harness/host-tools.js';
import { startRegistry } from './harness/registry.js';
import type { TestRegistry } from './harness/registry.js';
import { FIXTURES, SCANNERS_FROM_PATH, scannerDoubleEnv } from './harness/scanner-doubles.js';
import { buildahEnvironment, listTagsRaw, makeSampleWorkspace } from './harness/workspace.js';

/**
 * The gate end to end: real registry, real buildah builds, real image configs and sizes; syft and
 * grype are TEST DOUBLES that hand back real outputs of the real tools from ../shared/fixtures.
 * Every blocked release must leave no tag in the registry and still write its SBOMs and reports.
 */
describe('supply-chain gate (real registry and builds, scanner doubles)', () => {
  let reg: TestRegistry;
  let base: string;
  let workspace: string;
  let storage: { env: Record<string, string>; dir: string };
  let scratch: string;
  let counter = 0;

  beforeAll(async () => {
    await ensureHostTools();
    await ensureBinfmt();
    reg = await startRegistry();
    base = await publishBaseImage(reg);
    workspace = await makeSampleWorkspace();
    storage = await buildahEnvironment();
    scratch = await mkdtemp(path.join(os.tmpdir(), 'edgeship-gate-'));
  });

  afterAll(async () => {
    await reg?.stop();
    for (const dir of [workspace, storage?.dir, scratch])
      if (dir) await rm(dir, { recursive: true, force: true });
  });

  /** One release into its own repository, so "no tag" is checked per scenario. */
  async function release(options: {
    reports: Record<string, string>;
    inputs?: Record<string, string>;
    extraEnv?: Record<string, string>;
    dbBuilt?: string;
  }) {
    counter += 1;
    const repo = `acme/gate-${counter}`;
    const reportsDir = path.join(scratch, `reports-${counter}`);
    const run = await runBundled('main', {
      workspace,
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
        ...SCANNERS_FROM_PATH,
        ...options.inputs,
      },
      env: {
        ...storage.env,
        ...scannerDoubleEnv({
          reports: options.reports,
          ...(options.dbBuilt ? { dbBuilt: options.dbBuilt } : {}),
          extra: options.extraEnv ?? {},
        }),
      },
    });
    return { run, repo, reportsDir, tags: await listTagsRaw(reg, repo) };
  }

  const both = (report: string) => ({ linux_amd64: report, linux_arm64: report });
  const day = (offset: number) => new Date(Date.now() + offset * 86_400_000).toISOString().slice(0, 10);

  it('passes a clean release and writes SBOMs, reports and categorised SARIF', async () => {
    const { run, reportsDir, tags } = await release({ reports: both(FIXTURES.reportClean) });
    expect(run.errors, run.stdout.slice(-3000)).toEqual([]);
    expect(run.outputs.gate).toBe('pass');
    expect(JSON.parse(run.outputs.vulnerabilities!)).toEqual({
      'linux/amd64': { critical: 0, high: 0, medium: 0, low: 0, negligible: 0, unknown: 0 },
      'linux/arm64': { critical: 0, high: 0, medium: 0, low: 0, negligible: 0, unknown: 0 },
    });
    const sboms = JSON.parse(run.outputs['sbom-files']!) as string[];
    expect(sboms.map((f) => path.basename(f))).toEqual([
      'sbom-linux-amd64.spdx.json',
      'sbom-linux-arm64.spdx.json',
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
    expect(run.summary).toMatch(/\| linux\/arm64 \| 0 \| 0 \| 0 \| 0 \| 0 \| 0 \| 88 \|/);
    expect(run.stdout).toContain('::group::SBOM and scan linux/arm64');
    expect(tags).toEqual([]);
  });

  it('blocks a release with Critical findings on arm64, names them, and writes no tag', async () => {
    const { run, reportsDir, tags } = await release({
      reports: { linux_amd64: FIXTURES.reportClean, linux_arm64: FIXTURES.reportCriticals },
    });
    expect(run.exitCode).not.toBe(0);
    expect(run.outputs.gate).toBe('fail');
    const error = run.errors.join('\n');
    expect(error).toMatch(/The supply-chain gate failed, so no tag was written/);
    expect(error).toMatch(/linux\/arm64: FAIL/);
    for (const id of ['CVE-2024-5535', 'CVE-2025-4517', 'CVE-2025-6965', 'CVE-2025-7458'])
      expect(error).toContain(id);
    expect(error).not.toMatch(/\n\s+at /);
    expect(JSON.parse(run.outputs.vulnerabilities!)['linux/arm64'].critical).toBeGreaterThanOrEqual(4);
    expect(run.summary).toContain('#### Blocking findings');
    expect(existsSync(path.join(reportsDir, 'sbom-linux-arm64.spdx.json'))).toBe(true);
    expect(existsSync(path.join(reportsDir, 'grype-linux-arm64.json'))).toBe(true);
    expect(tags).toEqual([]);
  });

  it('blocks a release whose only waiver has expired, and says so', async () => {
    const policy = path.join(scratch, 'expired.yml');
    await writeFile(
      policy,
      [
        'apiVersion: edgeship/v1',
        'kind: Policy',
        'waivers:',
        '  - id: CVE-2021-33574',
        '    package: libc6',
        '    reason: not reachable from the agent',
        `    expires: ${day(-2)}`,
      ].join('\n'),
    );
    const { run, tags } = await release({ reports: both(FIXTURES.reportOneCritical), inputs: { policy } });
    expect(run.exitCode).not.toBe(0);
    const error = run.errors.join('\n');
    expect(error).toContain('CVE-2021-33574');
    expect(error).toMatch(/expired/);
    expect(run.summary).toMatch(/\| expired \| CVE-2021-33574 \|/);
    expect(tags).toEqual([]);
  });

  it('the same waiver, still valid, lets the release pass and is reported as applied', async () => {
    const policy = path.join(scratch, 'valid.yml');
    await writeFile(
      policy,
      [
        'apiVersion: edgeship/v1',
        'kind: Policy',
        'waivers:',
        '  - id: CVE-2021-33574',
        '    package: libc6',
        '    reason: not reachable from the agent',
        `    expires: ${day(30)}`,
        '  - id: CVE-1999-0001',
        '    reason: obsolete',
        `    expires: ${day(30)}`,
      ].join('\n'),
    );
    const { run } = await release({ reports: both(FIXTURES.reportOneCritical), inputs: { policy } });
    expect(run.errors, run.stdout.slice(-3000)).toEqual([]);
    expect(run.outputs.gate).toBe('pass');
    expect(run.summary).toMatch(/\| applied \| CVE-2021-33574 \| libc6 \| linux\/arm64 \|/);
    expect(run.summary).toMatch(/\| unused \| CVE-1999-0001 \|/);
  });

  it('blocks an image over the size budget, with both sizes in the message', async () => {
    const { run, tags } = await release({
      reports: both(FIXTURES.reportClean),
      inputs: { 'max-image-size': '500kB' },
    });
    expect(run.exitCode).not.toBe(0);
    expect(run.outputs.gate).toBe('fail');
    const error = run.errors.join('\n');
    expect(error).toMatch(/image-size/);
    expect(error).toMatch(/500(\.0)? ?kB/);
    expect(tags).toEqual([]);
  });

  it('fails closed when grype crashes', async () => {
    const { run, tags } = await release({
      reports: both(FIXTURES.reportClean),
      extraEnv: { DOUBLE_GRYPE_FAIL: '1' },
    });
    expect(run.exitCode).not.toBe(0);
    expect(run.errors.join('\n')).toMatch(/fails closed.*Grype could not scan the SBOM/s);
    expect(run.outputs.gate).toBeUndefined();
    expect(tags).toEqual([]);
  });

  it('fails closed on a report with stderr mixed into the JSON', async () => {
    const polluted = path.join(
      path.dirname(FIXTURES.reportClean),
      'EDGE_stderr-polluted_directory_grype-0.104.1.json',
    );
    const { run } = await release({ reports: both(polluted) });
    expect(run.exitCode).not.toBe(0);
    expect(run.errors.join('\n')).toMatch(/fails closed/);
    expect(run.errors.join('\n')).toMatch(/grype-linux-(amd|arm)64\.json/);
  });

  it('fails closed on a stale vulnerability database', async () => {
    const { run } = await release({
      reports: both(FIXTURES.reportClean),
      dbBuilt: `${day(-10)}T00:00:00Z`,
      inputs: { platforms: 'linux/amd64' },
    });
    expect(run.exitCode).not.toBe(0);
    expect(run.errors.join('\n')).toMatch(/older than max-db-age 5d/);
  });
});
