import { mkdir, mkdtemp, readFile, rm, symlink } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runBundled } from './harness/action-runner.js';
import { actionsCacheEnv, startActionsCache } from './harness/actions-cache.js';
import { publishBaseImage } from './harness/base-images.js';
import { makeDebianBusyboxWorkspace } from './harness/debian-busybox.js';
import { goToolsOrReason } from './harness/go-tools.js';
import { maxDbAgeAccepting, startGrypeDbServer } from './harness/grype-db-server.js';
import type { GrypeDbServer } from './harness/grype-db-server.js';
import { ensureBinfmt, ensureHostTools } from './harness/host-tools.js';
import { startRegistry } from './harness/registry.js';
import type { TestRegistry } from './harness/registry.js';
import { buildahEnvironment, listTagsRaw, makeSampleWorkspace } from './harness/workspace.js';

/**
 * The REAL Syft and Grype, at the versions pinned in src/tools/pinned.ts, built from their Go modules
 * (test/e2e/harness/go-tools.ts), given to the action as tools on PATH. Syft reads every pushed platform image
 * from the test registry (htpasswd auth, TLS with the registry's CA, as Edgeship passes them); Grype downloads
 * the database of real busybox advisories (test/fixtures/grype-db) from a loopback listing server through the
 * `grype-db-url` input and scans each SBOM. Nothing here is a double.
 */
const tools = await goToolsOrReason(['syft', 'grype']);
if ('reason' in tools) console.log(`scanners e2e skipped: real Syft/Grype unavailable (${tools.reason})`);

describe.skipIf('reason' in tools)('real Syft and Grype (pinned versions, built from their modules)', () => {
  let reg: TestRegistry;
  let base: string;
  let db: GrypeDbServer;
  let bareWorkspace: string;
  let dpkgWorkspace: string;
  let storage: { env: Record<string, string>; dir: string };
  let scratch: string;
  let bin: string;
  let counter = 0;

  beforeAll(async () => {
    if ('reason' in tools) return;
    await ensureHostTools();
    await ensureBinfmt();
    scratch = await mkdtemp(path.join(os.tmpdir(), 'edgeship-scanners-'));
    bin = path.join(scratch, 'bin');
    await mkdir(bin);
    for (const [name, file] of Object.entries(tools.paths)) await symlink(file, path.join(bin, name));
    reg = await startRegistry();
    base = await publishBaseImage(reg);
    db = await startGrypeDbServer();
    bareWorkspace = await makeSampleWorkspace();
    dpkgWorkspace = await makeDebianBusyboxWorkspace();
    storage = await buildahEnvironment();
  });

  afterAll(async () => {
    await reg?.stop();
    await db?.stop();
    for (const dir of [bareWorkspace, dpkgWorkspace, storage?.dir, scratch])
      if (dir) await rm(dir, { recursive: true, force: true });
  });

  async function release(
    workspace: string,
    inputs: Record<string, string>,
    env: Record<string, string> = {},
  ) {
    counter += 1;
    const repo = `acme/scan-${counter}`;
    const reportsDir = path.join(scratch, `reports-${counter}`);
    const started = Date.now();
    const run = await runBundled('main', {
      workspace,
      inputs: {
        image: `${reg.host}/${repo}`,
        builder: 'buildah',
        mode: 'build',
        'records-dir': path.join(scratch, 'records'),
        'build-args': `BASE=${base}`,
        'registry-username': reg.username,
        'registry-password': reg.password,
        'registry-ca-file': reg.caFile,
        'reports-dir': reportsDir,
        'syft-version': 'path',
        'grype-version': 'path',
        'grype-db-url': db.url,
        'sbom-formats': 'spdx-json,syft-json',
        ...inputs,
      },
      env: { ...storage.env, PATH: `${bin}:${process.env.PATH}`, ...env },
    });
    console.log(`scanners e2e: release ${repo} took ${((Date.now() - started) / 1000).toFixed(1)} s`);
    return { run, repo, reportsDir, tags: await listTagsRaw(reg, repo) };
  }

  const readJson = async (file: string) =>
    JSON.parse(await readFile(file, 'utf8')) as Record<string, unknown>;
  type Artifact = { name: string; version: string; type: string };
  const artifacts = async (reportsDir: string, slug: string) =>
    (await readJson(path.join(reportsDir, `sbom-${slug}.syft.json`))).artifacts as Artifact[];

  it('blocks a release whose images carry the busybox binary NVD rates Critical, and writes no tag', async () => {
    const { run, reportsDir, tags } = await release(bareWorkspace, {
      'max-db-age': maxDbAgeAccepting(db.built),
    });
    expect(run.exitCode, run.stdout.slice(-3000)).not.toBe(0);
    expect(run.outputs.gate).toBe('fail');
    const error = run.errors.join('\n');
    expect(error).toMatch(/The supply-chain gate failed, so no tag was written/);
    for (const platform of ['linux/amd64', 'linux/arm64']) expect(error).toContain(`${platform}: FAIL`);
    expect(error).toContain('CVE-2022-48174');
    const counts = JSON.parse(run.outputs.vulnerabilities!) as Record<string, Record<string, number>>;
    expect(counts['linux/amd64']).toMatchObject({ critical: 1, high: 1 });
    expect(counts['linux/arm64']).toMatchObject({ critical: 1, high: 1 });
    for (const slug of ['linux-amd64', 'linux-arm64']) {
      // Syft's binary cataloger found busybox in the image it read from the registry by digest.
      expect(await artifacts(reportsDir, slug)).toContainEqual(
        expect.objectContaining({ name: 'busybox', version: '1.35.0', type: 'binary' }),
      );
      const report = await readJson(path.join(reportsDir, `grype-${slug}.json`));
      const matches = report.matches as Array<{ vulnerability: { id: string; severity: string } }>;
      expect(matches.map((m) => `${m.vulnerability.id} ${m.vulnerability.severity}`).sort()).toEqual([
        'CVE-2022-28391 High',
        'CVE-2022-48174 Critical',
      ]);
      expect((report.descriptor as { version: string }).version).toBe('0.119.0');
    }
    // The real database download: Grype fetched the listing and the archive it names from the loopback server.
    expect(db.requests).toContain('GET /v6/latest.json');
    expect(db.requests).toContain(`GET /v6/${db.listing.path}`);
    expect(run.stdout).toContain('Downloading the grype database (none restored)');
    expect(run.stdout).toContain(`grype database: schema v6.1.9, built ${db.built.toISOString()}`);
    expect(tags).toEqual([]);
  });

  it('passes a release whose busybox belongs to Debian’s fixed busybox-static package', async () => {
    const { run, reportsDir, tags } = await release(dpkgWorkspace, {
      'max-db-age': maxDbAgeAccepting(db.built),
    });
    expect(run.errors, run.stdout.slice(-3000)).toEqual([]);
    expect(run.outputs.gate).toBe('pass');
    expect(JSON.parse(run.outputs.vulnerabilities!)).toEqual({
      'linux/amd64': { critical: 0, high: 0, medium: 0, low: 0, negligible: 0, unknown: 0 },
      'linux/arm64': { critical: 0, high: 0, medium: 0, low: 0, negligible: 0, unknown: 0 },
    });
    for (const slug of ['linux-amd64', 'linux-arm64']) {
      const found = await artifacts(reportsDir, slug);
      expect(found).toContainEqual(expect.objectContaining({ name: 'busybox-static', type: 'deb' }));
      expect(found.filter((a) => a.type === 'binary')).toEqual([]);
    }
    expect(run.summary).toContain('### Supply-chain gate: ✅ pass');
    expect(tags).toEqual([]);
  });

  it('keeps the database in the Actions cache under a key per day: the next run restores it and downloads nothing', async () => {
    const cache = await startActionsCache();
    try {
      const inputs = { 'max-db-age': maxDbAgeAccepting(db.built), platforms: 'linux/amd64' };
      const key = `edgeship-grype-db-${os.platform()}-${os.arch()}-v6-${new Date().toISOString().slice(0, 10)}`;
      // Two jobs on fresh runners: the same RUNNER_TEMP path (as on GitHub), emptied in between.
      const runnerTemp = path.join(scratch, 'runner-temp');
      const env = { ...actionsCacheEnv(cache), RUNNER_TEMP: runnerTemp };
      const first = await release(dpkgWorkspace, inputs, env);
      expect(first.run.errors, first.run.stdout.slice(-3000)).toEqual([]);
      expect(first.run.stdout).toContain(`No cached grype database for edgeship-grype-db-`);
      expect(first.run.stdout).toContain(`under cache key ${key}`);
      expect(cache.savedKeys()).toEqual([key]);
      const downloads = db.requests.length;
      await rm(runnerTemp, { recursive: true, force: true });
      const second = await release(dpkgWorkspace, inputs, env);
      expect(second.run.errors, second.run.stdout.slice(-3000)).toEqual([]);
      expect(second.run.stdout).toContain(`Restored the grype database from cache key ${key}`);
      expect(second.run.stdout).toContain("The grype database restored from today's cache");
      expect(second.run.outputs.gate).toBe('pass');
      expect(db.requests.length).toBe(downloads); // the database server was not asked again
      expect(cache.savedKeys()).toEqual([key]);
    } finally {
      await cache.stop();
    }
  });

  it('fails closed when the database is older than max-db-age', async () => {
    const { run, tags } = await release(bareWorkspace, { 'max-db-age': '0.01h', platforms: 'linux/amd64' });
    expect(run.exitCode).not.toBe(0);
    expect(run.errors.join('\n')).toMatch(
      /The grype vulnerability database was built .* older than max-db-age 0\.01h .*refusing to scan with stale data/,
    );
    expect(run.outputs.gate).toBeUndefined();
    expect(tags).toEqual([]);
  });
});
