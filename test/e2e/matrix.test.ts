import { createHash } from 'node:crypto';
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildRecordName } from '../../src/records/build-record.js';
import { runBundled } from './harness/action-runner.js';
import type { ActionRun } from './harness/action-runner.js';
import { publishBaseImage } from './harness/base-images.js';
import { makeDebianBusyboxWorkspace } from './harness/debian-busybox.js';
import { ensureBinfmt, ensureHostTools } from './harness/host-tools.js';
import { verifyBundleIndependently } from './harness/independent-verify.js';
import { startOidcTokenEndpoint } from './harness/oidc-issuer.js';
import { realScannerTools, startRealScanners } from './harness/real-scanners.js';
import type { RealScanners } from './harness/real-scanners.js';
import { basicAuth, httpsGet, startRegistry } from './harness/registry.js';
import type { TestRegistry } from './harness/registry.js';
import { GITHUB_ACTIONS_ISSUER, startSigstoreStack } from './harness/sigstore-stack.js';
import type { SigstoreStack } from './harness/sigstore-stack.js';
import { buildahEnvironment, listTagsRaw, makeSampleWorkspace, skopeo } from './harness/workspace.js';

const WORKFLOW_REF = 'acme/edge-agent/.github/workflows/release.yml@refs/tags/v2.0.0';
const IDENTITY = `https://github.com/${WORKFLOW_REF}`;
const EPOCH = '1700000000';
const SLSA = 'https://slsa.dev/provenance/v1';
const SIGSTORE_BUNDLE = 'application/vnd.dev.sigstore.bundle.v0.3+json';

const scannerTools = await realScannerTools('matrix e2e');

interface Index {
  manifests: Array<{ digest: string; platform: Record<string, string> }>;
  annotations: Record<string, string>;
}

/**
 * Matrix mode for real: two `mode: build` jobs (amd64, arm64) as separate processes with separate
 * buildah stores and runner temp dirs, each scanned by the REAL Syft and Grype (harness/real-scanners.ts),
 * handing their records over through a directory, then a `mode: publish` job. The result is compared with a
 * `mode: all` release of the same commit, and its SLSA provenance read back from the registry. The sample's
 * busybox is Debian's package (clean); the failing build job builds the bare busybox binary (Critical).
 * The refusal cases start from copies of the matrix run's records, so they build nothing again.
 */
describe.skipIf('reason' in scannerTools)('matrix: mode build per platform, then mode publish', () => {
  let reg: TestRegistry;
  let scanners: RealScanners;
  let bareWorkspace: string;
  let pristineRecords: string;
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
    dir = workspace,
  ) => {
    const store = await buildahEnvironment();
    stores.push(store);
    return runBundled('main', {
      workspace: dir,
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
        ...scanners.inputs,
      },
      env: {
        ...store.env,
        ...scanners.env,
        ...oidc.env,
        GITHUB_REF: 'refs/tags/v2.0.0',
        GITHUB_WORKFLOW_REF: WORKFLOW_REF,
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
    scanners = await startRealScanners(scannerTools);
    reg = await startRegistry();
    stack = await startSigstoreStack();
    oidc = await startOidcTokenEndpoint(() => stack.oidcToken(IDENTITY));
    base = await publishBaseImage(reg);
    workspace = await makeDebianBusyboxWorkspace();
    bareWorkspace = await makeSampleWorkspace();
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
    pristineRecords = path.join(scratch, 'pristine-records');
    await cp(records, pristineRecords, { recursive: true });
  });

  afterAll(async () => {
    await reg?.stop();
    await stack?.stop();
    await oidc?.stop();
    await scanners?.stop();
    for (const dir of [workspace, bareWorkspace, scratch, ...stores.map((s) => s.dir)])
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

  /** The in-toto statements of the Sigstore bundles referring to a digest, each verified with @sigstore/verify. */
  const verifiedStatements = async (repo: string, digest: string) => {
    const ca = await readFile(reg.caFile, 'utf8');
    const get = async (urlPath: string, accept: string) => {
      const response = await httpsGet(`https://${reg.host}/v2/${repo}${urlPath}`, {
        ca,
        headers: { authorization: basicAuth(reg.username, reg.password), accept },
        timeoutMs: 15_000,
      });
      expect(response.status, urlPath).toBe(200);
      return JSON.parse(response.body) as {
        manifests?: Array<{ digest: string; artifactType?: string }>;
        layers?: Array<{ digest: string }>;
        subject?: { digest: string };
      };
    };
    const manifestTypes =
      'application/vnd.oci.image.index.v1+json, application/vnd.oci.image.manifest.v1+json';
    const referrers = await get(`/manifests/sha256-${digest.slice(7)}`, manifestTypes);
    const statements = [];
    for (const entry of (referrers.manifests ?? []).filter((m) => m.artifactType === SIGSTORE_BUNDLE)) {
      const referrer = await get(`/manifests/${entry.digest}`, manifestTypes);
      expect(referrer.subject?.digest).toBe(digest);
      const bundle = await get(`/blobs/${referrer.layers![0]!.digest}`, '*/*');
      const { statement } = verifyBundleIndependently(bundle, stack.trustedRoot, {
        identity: IDENTITY,
        issuer: GITHUB_ACTIONS_ISSUER,
      });
      statements.push(
        statement as typeof statement & { predicate: { buildDefinition: { externalParameters: any } } }, // eslint-disable-line @typescript-eslint/no-explicit-any
      );
    }
    return statements;
  };

  it('each platform image and the index carry a signed SLSA v1 provenance with their own digest as subject', async () => {
    const digests = JSON.parse(publish.outputs.digests!) as Array<{ platform: string; digest: string }>;
    for (const { platform, digest } of digests) {
      const provenance = (await verifiedStatements('acme/matrix', digest)).filter(
        (s) => s.predicateType === SLSA,
      );
      expect(provenance, platform).toHaveLength(1);
      expect(provenance[0]!.subject).toEqual([
        { name: `${reg.host}/acme/matrix`, digest: { sha256: digest.slice(7) } },
      ]);
      // Made by that platform's own build job: it names that one platform only.
      expect(provenance[0]!.predicate.buildDefinition.externalParameters.build.platforms).toEqual([platform]);
    }
    const index = (await verifiedStatements('acme/matrix', publish.outputs.digest!)).filter(
      (s) => s.predicateType === SLSA,
    );
    expect(index).toHaveLength(1);
    expect(index[0]!.subject.map((s) => `sha256:${s.digest.sha256}`)).toEqual([publish.outputs.digest]);
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
    // Outside a workflow (no GITHUB_WORKFLOW_REF) the signer of the existing release is not known: refused.
    const again = await run('acme/matrix', 'publish', 'linux/amd64,linux/arm64', records, {
      GITHUB_RUN_ATTEMPT: '4',
      GITHUB_WORKFLOW_REF: '',
    });
    expect(again.exitCode).not.toBe(0);
    expect(again.errors.join('\n')).toMatch(/2\.0\.0 already exists and points at .*overwrite: true/s);
    // In the workflow, the release tag holds this commit's release signed by this workflow: that release is
    // adopted, and the other image is not published under the release tag either.
    const adopted = await run('acme/matrix', 'publish', 'linux/amd64,linux/arm64', records, {
      GITHUB_RUN_ATTEMPT: '5',
    });
    expect(adopted.errors, adopted.stdout.slice(-3000)).toEqual([]);
    expect(adopted.stdout).toContain(
      `is this commit's signed release ${publish.outputs.digest}: adopting it`,
    );
    expect(adopted.outputs.digest).toBe(publish.outputs.digest);
    const [otherArm] = JSON.parse(other.outputs.digests!) as Array<{ digest: string }>;
    const released = await index('acme/matrix', publish.outputs.digest!);
    expect(released.manifests.map((m) => m.digest)).not.toContain(otherArm!.digest);
  });

  /** A copy of the matrix run's records (both platforms, gate passed) to change for one refusal case. */
  const recordsCopy = async (name: string) => {
    const dir = path.join(scratch, name);
    await cp(pristineRecords, dir, { recursive: true });
    return dir;
  };
  const releaseTags = async () =>
    (await listTagsRaw(reg, 'acme/matrix')).filter((t) => !t.startsWith('sha256-')).sort();
  const recordFile = (records: string, slug: string) =>
    path.join(records, buildRecordName(`${reg.host}/acme/matrix`, slug), 'build-record.json');

  it('a tampered record (digest not in the registry) is refused', async () => {
    const records = await recordsCopy('tampered');
    const tagsBefore = await releaseTags();
    const file = recordFile(records, 'linux-arm64');
    const record = JSON.parse(readFileSync(file, 'utf8')) as { digest: string };
    record.digest = `sha256:${'0'.repeat(64)}`;
    writeFileSync(file, JSON.stringify(record));
    const p = await run('acme/matrix', 'publish', 'linux/amd64,linux/arm64', records, {
      GITHUB_RUN_ATTEMPT: '5',
    });
    expect(p.exitCode).not.toBe(0);
    expect(p.errors.join('\n')).toMatch(
      /the record for linux\/arm64 names .*sha256:0{64}, which the registry does not have/,
    );
    expect(await releaseTags()).toEqual(tagsBefore);
  });

  it('a gate failure in one build job (the real Critical of a bare busybox) stops the publish: no tag moves', async () => {
    const records = await recordsCopy('gate-fail');
    const tagsBefore = await releaseTags();
    const bad = await run(
      'acme/matrix',
      'build',
      'linux/arm64',
      records,
      { GITHUB_RUN_ATTEMPT: '6' },
      bareWorkspace,
    );
    expect(bad.exitCode).not.toBe(0);
    expect(bad.outputs.gate).toBe('fail');
    expect(bad.errors.join('\n')).toContain('CVE-2022-48174');
    const p = await run('acme/matrix', 'publish', 'linux/amd64,linux/arm64', records, {
      GITHUB_RUN_ATTEMPT: '6',
    });
    expect(p.exitCode).not.toBe(0);
    expect(p.errors.join('\n')).toMatch(/the build job for linux\/arm64 failed its gate/);
    expect(await releaseTags()).toEqual(tagsBefore);
  });

  it('a missing platform record stops the publish', async () => {
    const records = await recordsCopy('missing');
    await rm(path.dirname(recordFile(records, 'linux-arm64')), { recursive: true });
    const p = await run('acme/matrix', 'publish', 'linux/amd64,linux/arm64', records, {
      GITHUB_RUN_ATTEMPT: '7',
    });
    expect(p.exitCode).not.toBe(0);
    expect(p.errors.join('\n')).toMatch(/no build record for linux\/arm64/);
  });
});
