import { createHash } from 'node:crypto';
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildRecordName } from '../../src/records/build-record.js';
import { runBundled } from './harness/action-runner.js';
import type { ActionRun } from './harness/action-runner.js';
import { publishBaseImage } from './harness/base-images.js';
import { ensureBinfmt, ensureHostTools } from './harness/host-tools.js';
import { startOidcTokenEndpoint } from './harness/oidc-issuer.js';
import { startRegistry } from './harness/registry.js';
import type { TestRegistry } from './harness/registry.js';
import { FIXTURES, SCANNERS_FROM_PATH, scannerDoubleEnv } from './harness/scanner-doubles.js';
import { startSigstoreStack } from './harness/sigstore-stack.js';
import type { SigstoreStack } from './harness/sigstore-stack.js';
import { buildahEnvironment, listTagsRaw, makeSampleWorkspace, skopeo } from './harness/workspace.js';

const IDENTITY = 'https://github.com/acme/edge-agent/.github/workflows/release.yml@refs/tags/v2.0.0';
const EPOCH = '1700000000';

interface Index {
  manifests: Array<{ digest: string; platform: Record<string, string> }>;
  annotations: Record<string, string>;
}

/**
 * Matrix mode for real: two `mode: build` jobs (amd64, arm64) as separate processes with separate
 * buildah stores and runner temp dirs, handing their records over through a directory, then a
 * `mode: publish` job. The result is compared with a `mode: all` release of the same commit.
 */
describe('matrix: mode build per platform, then mode publish', () => {
  let reg: TestRegistry;
  let stack: SigstoreStack;
  let oidc: Awaited<ReturnType<typeof startOidcTokenEndpoint>>;
  let base: string;
  let workspace: string;
  let scratch: string;
  let trustedRootFile: string;
  let all: ActionRun;
  let builds: ActionRun[];
  let publish: ActionRun;
  const stores: Array<{ env: Record<string, string>; dir: string }> = [];

  const run = async (
    repo: string,
    mode: string,
    platforms: string,
    recordsDir: string,
    extraEnv: Record<string, string> = {},
  ) => {
    const store = await buildahEnvironment();
    stores.push(store);
    return runBundled('main', {
      workspace,
      inputs: {
        mode,
        image: `${reg.host}/${repo}`,
        platforms,
        builder: 'buildah',
        'build-args': `BASE=${base}`,
        'registry-username': reg.username,
        'registry-password': reg.password,
        'registry-ca-file': reg.caFile,
        'records-dir': recordsDir,
        'fulcio-url': stack.fulcioURL,
        'rekor-url': stack.rekorURL,
        'tsa-url': stack.tsaURL,
        'trusted-root': trustedRootFile,
        'release-assets': 'off',
        ...SCANNERS_FROM_PATH,
      },
      env: {
        ...store.env,
        ...scannerDoubleEnv({
          reports: { linux_amd64: FIXTURES.reportClean, linux_arm64: FIXTURES.reportClean },
        }),
        ...oidc.env,
        GITHUB_REF: 'refs/tags/v2.0.0',
        SOURCE_DATE_EPOCH: EPOCH,
        ...extraEnv,
      },
    });
  };
  const index = async (repo: string, digest: string) =>
    JSON.parse(await skopeo(reg, ['inspect', '--raw', `docker://${reg.host}/${repo}@${digest}`])) as Index;
  const layers = async (repo: string, digest: string) =>
    (
      JSON.parse(await skopeo(reg, ['inspect', '--raw', `docker://${reg.host}/${repo}@${digest}`])) as {
        layers: Array<{ digest: string }>;
      }
    ).layers.map((l) => l.digest);

  beforeAll(async () => {
    await ensureHostTools();
    await ensureBinfmt();
    reg = await startRegistry();
    stack = await startSigstoreStack();
    oidc = await startOidcTokenEndpoint(() => stack.oidcToken(IDENTITY));
    base = await publishBaseImage(reg);
    workspace = await makeSampleWorkspace();
    scratch = await mkdtemp(path.join(os.tmpdir(), 'edgeship-matrix-'));
    trustedRootFile = path.join(scratch, 'trusted_root.json');
    await writeFile(trustedRootFile, JSON.stringify(stack.trustedRoot));
    all = await run('acme/all', 'all', 'linux/amd64,linux/arm64', path.join(scratch, 'unused'));
    const records = path.join(scratch, 'records');
    builds = [
      await run('acme/matrix', 'build', 'linux/amd64', records),
      await run('acme/matrix', 'build', 'linux/arm64', records),
    ];
    publish = await run('acme/matrix', 'publish', 'linux/amd64,linux/arm64', records);
  });

  afterAll(async () => {
    await reg?.stop();
    await stack?.stop();
    await oidc?.stop();
    for (const dir of [workspace, scratch, ...stores.map((s) => s.dir)])
      if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('each build job pushes its platform by digest, gates it and leaves a record, without tagging', async () => {
    for (const b of builds) expect(b.errors, b.stdout.slice(-3000)).toEqual([]);
    expect(readdirSync(path.join(scratch, 'records')).sort()).toEqual([
      buildRecordName(`${reg.host}/acme/matrix`, 'linux-amd64'),
      buildRecordName(`${reg.host}/acme/matrix`, 'linux-arm64'),
    ]);
    expect(builds.map((b) => b.outputs.gate)).toEqual(['pass', 'pass']);
  });

  it('the publish job tags the release and ends with the same index as mode: all', async () => {
    expect(all.errors, all.stdout.slice(-3000)).toEqual([]);
    expect(publish.errors, publish.stdout.slice(-3000)).toEqual([]);
    const a = await index('acme/all', all.outputs.digest!);
    const m = await index('acme/matrix', publish.outputs.digest!);
    expect(m.manifests.map((x) => x.platform)).toEqual(a.manifests.map((x) => x.platform));
    // SOURCE_DATE_EPOCH makes the annotations (created included) identical.
    expect(m.annotations).toEqual(a.annotations);
    expect(m.annotations['org.opencontainers.image.created']).toBe(
      new Date(Number(EPOCH) * 1000).toISOString(),
    );
    // Two builds of one commit (same SOURCE_DATE_EPOCH) give the same images, layer for layer and digest for
    // digest: buildah's build-container identity is cleared from the config.
    for (let i = 0; i < a.manifests.length; i++) {
      expect(await layers('acme/matrix', m.manifests[i]!.digest)).toEqual(
        await layers('acme/all', a.manifests[i]!.digest),
      );
    }
    expect(m.manifests.map((x) => x.digest)).toEqual(a.manifests.map((x) => x.digest));
    expect(publish.outputs.digest).toBe(all.outputs.digest);
    const tags = (await listTagsRaw(reg, 'acme/matrix')).filter((t) => !t.startsWith('sha256-')).sort();
    expect(tags).toEqual((await listTagsRaw(reg, 'acme/all')).filter((t) => !t.startsWith('sha256-')).sort());
    expect(tags).toEqual(['2', '2.0', '2.0.0', 'latest', 'production']);
    const digests = JSON.parse(publish.outputs.digests!) as Array<{ digest: string }>;
    expect(m.manifests.map((x) => x.digest)).toEqual(digests.map((d) => d.digest));
    expect(
      `sha256:${createHash('sha256')
        .update(await skopeo(reg, ['inspect', '--raw', `docker://${reg.host}/acme/matrix:2.0.0`]))
        .digest('hex')}`,
    ).toBe(publish.outputs.digest);
  });

  it('re-running the publish job is idempotent: same index, same tags', async () => {
    const records = path.join(scratch, 'records');
    const again = await run('acme/matrix', 'publish', 'linux/amd64,linux/arm64', records, {
      GITHUB_RUN_ATTEMPT: '2',
    });
    expect(again.errors, again.stdout.slice(-3000)).toEqual([]);
    expect(again.outputs.digest).toBe(publish.outputs.digest);
    expect((await listTagsRaw(reg, 'acme/matrix')).filter((t) => !t.startsWith('sha256-')).sort()).toEqual([
      '2',
      '2.0',
      '2.0.0',
      'latest',
      'production',
    ]);
  });

  it('a re-run build job replaces its record; a different image is never silently published under the release tag', async () => {
    const records = path.join(scratch, 'records');
    // The same commit rebuilt gives the same image: the publish job ends with the same release.
    const rebuilt = await run('acme/matrix', 'build', 'linux/arm64', records, { GITHUB_RUN_ATTEMPT: '3' });
    expect(rebuilt.errors).toEqual([]);
    expect(JSON.parse(rebuilt.outputs.digests!)).toEqual(JSON.parse(builds[1]!.outputs.digests!));
    const same = await run('acme/matrix', 'publish', 'linux/amd64,linux/arm64', records, {
      GITHUB_RUN_ATTEMPT: '3',
    });
    expect(same.errors, same.stdout.slice(-3000)).toEqual([]);
    expect(same.outputs.digest).toBe(publish.outputs.digest);
    // Another image (other timestamps) under the same version: the protected release tag is not moved.
    const other = await run('acme/matrix', 'build', 'linux/arm64', records, {
      GITHUB_RUN_ATTEMPT: '4',
      SOURCE_DATE_EPOCH: String(Number(EPOCH) + 1),
    });
    expect(other.errors).toEqual([]);
    const again = await run('acme/matrix', 'publish', 'linux/amd64,linux/arm64', records, {
      GITHUB_RUN_ATTEMPT: '4',
    });
    expect(again.exitCode).not.toBe(0);
    expect(again.errors.join('\n')).toMatch(/2\.0\.0 already exists and points at .*overwrite: true/s);
  });

  it('a tampered record (digest not in the registry) is refused', async () => {
    const records = path.join(scratch, 'tampered');
    const b1 = await run('acme/tampered', 'build', 'linux/amd64', records);
    const b2 = await run('acme/tampered', 'build', 'linux/arm64', records);
    expect([b1.exitCode, b2.exitCode]).toEqual([0, 0]);
    const dir = readdirSync(records).find((n) => n.endsWith('linux-arm64'))!;
    const file = path.join(records, dir, 'build-record.json');
    const record = JSON.parse(readFileSync(file, 'utf8')) as { digest: string };
    record.digest = `sha256:${'0'.repeat(64)}`;
    writeFileSync(file, JSON.stringify(record));
    const p = await run('acme/tampered', 'publish', 'linux/amd64,linux/arm64', records);
    expect(p.exitCode).not.toBe(0);
    expect(p.errors.join('\n')).toMatch(
      /the record for linux\/arm64 names .*sha256:0{64}, which the registry does not have/,
    );
    expect((await listTagsRaw(reg, 'acme/tampered')).filter((t) => !t.startsWith('sha256-'))).toEqual([]);
  });

  it('a gate failure in one build job stops the publish: no tag', async () => {
    const records = path.join(scratch, 'gate-fail');
    const ok = await run('acme/gatefail', 'build', 'linux/amd64', records);
    const bad = await run('acme/gatefail', 'build', 'linux/arm64', records, {
      DOUBLE_GRYPE_REPORT_linux_arm64: FIXTURES.reportCriticals,
    });
    expect(ok.exitCode).toBe(0);
    expect(bad.exitCode).not.toBe(0);
    expect(bad.outputs.gate).toBe('fail');
    const p = await run('acme/gatefail', 'publish', 'linux/amd64,linux/arm64', records);
    expect(p.exitCode).not.toBe(0);
    expect(p.errors.join('\n')).toMatch(/the build job for linux\/arm64 failed its gate/);
    expect((await listTagsRaw(reg, 'acme/gatefail')).filter((t) => !t.startsWith('sha256-'))).toEqual([]);
  });

  it('a missing platform record stops the publish', async () => {
    const records = path.join(scratch, 'missing');
    await run('acme/missing', 'build', 'linux/amd64', records);
    const p = await run('acme/missing', 'publish', 'linux/amd64,linux/arm64', records);
    expect(p.exitCode).not.toBe(0);
    expect(p.errors.join('\n')).toMatch(/no build record for linux\/arm64/);
  });
});
