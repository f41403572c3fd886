/**
 * A release read back from the registry (src/lifecycle/read-release.ts) and promoted (src/publish/promote.ts), in
 * process: the fake registry, a local Sigstore (Fulcio, Rekor, TSA from @sigstore/mock), a release candidate
 * published with publishRelease, then promoted by digest to a stable version. Counts what promotion asks the
 * registry for: no layer blob is ever read.
 */
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';

import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';

import {
  carriedSignatures,
  prefetchCarried,
  PROMOTION_DEFERS,
} from '../../../src/lifecycle/carried-signatures.js';
import { ReleaseReadError, writeSbomFiles } from '../../../src/lifecycle/read-release.js';
import { openRelease, readRelease, verifyOpenedRelease } from '../../../src/lifecycle/release-reader.js';
import { readOnce } from '../../../src/registry/read-once.js';
import { loadPolicy } from '../../../src/policy/index.js';
import { planPromotion, publishPromotion } from '../../../src/publish/promote.js';
import { expectedSignerFor, signerConfig } from '../../../src/publish/publish-deps.js';
import { publishRelease, type PublishDeps } from '../../../src/publish/release.js';
import { releaseMetadata } from '../../../src/release/metadata.js';
import { AttachedVerificationError } from '../../../src/sign/bundle-referrers.js';
import {
  COSIGN_SIGN_PREDICATE_TYPE,
  COSIGN_VULN_PREDICATE_TYPE,
  DEPLOYMENT_PREDICATE_TYPE,
} from '../../../src/sign/predicates.js';
import { trustMaterialFromJSON, type ExpectedSigner } from '../../../src/sign/verify.js';
import { startOidcTokenEndpoint } from '../../e2e/harness/oidc-issuer.js';
import {
  GITHUB_ACTIONS_ISSUER,
  startSigstoreStack,
  type SigstoreStack,
} from '../../e2e/harness/sigstore-stack.js';
import { FakeRegistry } from '../registry/fake-registry.js';
import {
  auth,
  clientFor,
  IDENTITY,
  memoryLog,
  passingGate,
  platformImages,
  PLATFORMS,
  pushImage,
  releaseTags,
  REPO_PATH,
  REVISION,
  settingsFor,
  spdxSbom,
} from '../publish/harness.js';

const cleanups: Array<() => Promise<void>> = [];
const releaseOf = (tag: string) =>
  releaseMetadata({
    ref: `refs/tags/${tag}`,
    sha: REVISION,
    repository: 'acme/edge-agent',
    serverUrl: 'https://github.com',
    now: new Date('2026-01-02T03:04:05Z'),
  });

describe('read a release back and promote it', () => {
  let stack: SigstoreStack;
  let oidc: Awaited<ReturnType<typeof startOidcTokenEndpoint>>;
  let scratch: string;
  let trustedRootFile: string;

  beforeAll(async () => {
    stack = await startSigstoreStack();
    oidc = await startOidcTokenEndpoint(() => stack.oidcToken(IDENTITY));
    scratch = await mkdtemp(path.join(os.tmpdir(), 'edgeship-promote-'));
    trustedRootFile = path.join(scratch, 'trusted_root.json');
    await writeFile(trustedRootFile, JSON.stringify(stack.trustedRoot));
  });
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });
  afterAll(async () => {
    await oidc?.stop();
    await stack?.stop();
    if (scratch) await rm(scratch, { recursive: true, force: true });
  });

  const expected: ExpectedSigner = { kind: 'certificate', identity: IDENTITY, issuer: GITHUB_ACTIONS_ISSUER };

  /** A registry holding v1.2.3-rc.1 (staging), published with `signing`. */
  async function world(signing: 'keyless' | 'off' = 'keyless') {
    const registry = await new FakeRegistry({ auth: auth.basic }).start();
    cleanups.push(() => registry.stop());
    const client = clientFor(registry);
    cleanups.push(() => client.close());
    const digests = [];
    for (const platform of PLATFORMS) digests.push(await pushImage(client, platform));
    const images = await platformImages(client, digests);
    const workspace = await mkdtemp(path.join(scratch, 'ws-'));
    const settingsWith = (reportsDir: string) =>
      settingsFor({
        workspace,
        registryHost: registry.host,
        reportsDir,
        fulcioURL: stack.fulcioURL,
        rekorURL: stack.rekorURL,
        tsaURL: stack.tsaURL,
        trustedRootFile,
        githubToken: 'unused',
        inputs: { signing, 'release-assets': 'off', 'certificate-identity': IDENTITY },
      });
    const deps = (settings: Awaited<ReturnType<typeof settingsWith>>): PublishDeps => {
      const signer = signerConfig(settings, oidc.env);
      return {
        registry: client,
        log: memoryLog(),
        ...(signer
          ? {
              signer,
              expectedSigner: expectedSignerFor(settings, signer),
              trustMaterial: async () => trustMaterialFromJSON(stack.trustedRoot),
            }
          : {}),
        readText: (file) => readFile(file, 'utf8'),
        writeText: (file, text) => writeFile(file, text),
        now: () => new Date(),
      };
    };
    const rcDir = path.join(workspace, 'rc');
    const settings = await settingsWith(rcDir);
    const policy = loadPolicy(settings.policy);
    const gate = await passingGate(images, policy, rcDir);
    const git = {
      ref: 'refs/tags/v1.2.3-rc.1',
      revision: REVISION,
      workflowRun: 'https://github.com/a/b/actions/runs/1',
    };
    const rc = await publishRelease(
      { settings, policy, release: releaseOf('v1.2.3-rc.1'), images, gate, git, reportsDir: rcDir },
      deps(settings),
    );
    return { registry, client, images, rc, workspace, settingsWith, deps };
  }

  const trust = () => ({ material: trustMaterialFromJSON(stack.trustedRoot), expected });
  const repository = { path: REPO_PATH, name: `registry/${REPO_PATH}` };

  it('reads the rc back by tag: index, verified signatures, its signed manifest and SBOM attestations', async () => {
    const w = await world();
    const mark = w.registry.requests.length;
    const read = await readRelease(w.client, repository, '1.2.3-rc.1', trust(), memoryLog());
    // Each digest's referrers are listed once for the whole read (its fallback index read once), and the signed
    // manifest is taken from its bundle's statement: its YAML file is not fetched (only asked for, by a HEAD).
    const fallbackReads = w.registry.requests
      .slice(mark)
      .filter((r) => r.method === 'GET' && /\/manifests\/sha256-[a-f0-9]{64}$/.test(r.url))
      .map((r) => r.url);
    expect(fallbackReads.length).toBe(1 + w.images.length);
    expect(new Set(fallbackReads).size).toBe(fallbackReads.length);
    const yamlReads = w.registry.requests
      .slice(mark)
      .filter((r) => r.method === 'GET' && r.url.endsWith(`/blobs/${read.manifest.file.digest}`));
    expect(yamlReads).toEqual([]);
    // A manifest whose file is gone from the registry is refused, not taken from its statement alone.
    const key = `${REPO_PATH}@${read.manifest.file.digest}`;
    const kept = w.registry.blobs.get(key)!;
    w.registry.blobs.delete(key);
    await expect(readRelease(w.client, repository, '1.2.3-rc.1', trust(), memoryLog())).rejects.toThrow(
      /the manifest file sha256:[a-f0-9]{64} is not in/,
    );
    w.registry.blobs.set(key, kept);
    expect(read.release.index.digest).toBe(w.rc.indexDigest);
    expect(read.manifest.manifest.release).toMatchObject({ version: '1.2.3-rc.1', channel: 'staging' });
    expect(read.images.map((i) => i.digest)).toEqual(w.images.map((i) => i.digest));
    expect(read.sboms.map((s) => [s.platform, s.format])).toEqual([
      ['linux/amd64', 'spdx-json'],
      ['linux/arm64', 'spdx-json'],
    ]);
    const files = await writeSbomFiles(read.sboms, w.workspace, (f, t) => writeFile(f, t));
    expect(JSON.parse(await readFile(files[0]!.file, 'utf8'))).toEqual(JSON.parse(spdxSbom(w.images[0]!)));
    // By digest too.
    const byDigest = await readRelease(w.client, repository, w.rc.indexDigest, trust(), memoryLog());
    expect(byDigest.manifest.artifact).toBe(read.manifest.artifact);
  });

  it('reads for a promotion with the bundles it only carries left for later; the carry-over verifies them', async () => {
    const w = await world();
    const read = await readRelease(
      w.client,
      repository,
      '1.2.3-rc.1',
      trust(),
      memoryLog(),
      PROMOTION_DEFERS,
    );
    // Each platform's vulnerability attestation waits; its signature and SBOM were verified at once.
    expect([...read.deferred.keys()].sort()).toEqual(w.images.map((i) => i.digest).sort());
    for (const [digest, referrers] of read.deferred) {
      const listed = read.manifest.manifest.signatures.bundles.filter(
        (b) => b.subject === digest && referrers.has(b.referrer),
      );
      expect(listed.map((b) => b.predicateType)).toEqual([COSIGN_VULN_PREDICATE_TYPE]);
      const now = read.verified.platforms.get(digest)!.verified;
      expect(now.some((v) => referrers.has(v.referrer))).toBe(false);
      expect(now.map((v) => v.predicateType).sort()).toEqual(
        [COSIGN_SIGN_PREDICATE_TYPE, 'https://spdx.dev/Document'].sort(),
      );
    }
    // The carry-over lists what a read that verifies everything at once lists.
    const named = { ...repository, name: `${w.registry.host}/${REPO_PATH}` };
    const all = await readRelease(w.client, repository, '1.2.3-rc.1', trust(), memoryLog());
    expect(all.deferred.size).toBe(0);
    const key = (b: { subject: string; predicateType: string; referrer: string }) =>
      `${b.subject} ${b.predicateType} ${b.referrer}`;
    const carried = await carriedSignatures(w.client, named, read, trust());
    const carriedAll = await carriedSignatures(w.client, named, all, trust());
    expect(carried.bundles.map(key).sort()).toEqual(carriedAll.bundles.map(key).sort());
    expect(carried.bundles.filter((b) => b.predicateType === COSIGN_VULN_PREDICATE_TYPE)).toHaveLength(2);
    // A deferred bundle that no longer verifies (its blob altered in the registry) refuses the promotion there.
    const [digest, referrers] = [...read.deferred][0]!;
    const referrer = [...referrers][0]!;
    const layer = (
      JSON.parse(w.registry.manifests.get(`${REPO_PATH}@${referrer}`)!.body.toString('utf8')) as {
        layers: Array<{ digest: string }>;
      }
    ).layers[0]!;
    const blob = w.registry.blobs.get(`${REPO_PATH}@${layer.digest}`)!;
    w.registry.blobs.set(
      `${REPO_PATH}@${layer.digest}`,
      Buffer.from(blob.toString('utf8').replace('"', ' "')),
    );
    await expect(carriedSignatures(w.client, named, read, trust())).rejects.toThrow(
      new RegExp(`attached to .*${digest}.*${referrer}`),
    );
  });

  it('refuses a release signed by another identity, an unsigned one, and a missing tag', async () => {
    const w = await world();
    const foreign = {
      ...trust(),
      expected: {
        ...expected,
        identity: 'https://github.com/evil/fork/.github/workflows/x.yml@refs/tags/v1',
      },
    };
    await expect(readRelease(w.client, repository, '1.2.3-rc.1', foreign, memoryLog())).rejects.toThrow(
      AttachedVerificationError,
    );
    await expect(readRelease(w.client, repository, 'nope', trust(), memoryLog())).rejects.toThrow(
      ReleaseReadError,
    );
    const unsigned = await world('off');
    await expect(
      readRelease(unsigned.client, repository, '1.2.3-rc.1', trust(), memoryLog()),
    ).rejects.toThrow(/no Sigstore bundle attached to .* is signed by/);
  });

  it('promotes the rc to 1.2.3: the same index gets the production tags and a manifest naming its origin, no layer read', async () => {
    const w = await world();
    w.registry.requests.splice(0);
    const read = await readRelease(w.client, repository, '1.2.3-rc.1', trust(), memoryLog());
    const named = { ...repository, name: `${w.registry.host}/${REPO_PATH}` };
    // As runCarryOverStage does: through the view the release was read through.
    const carried = await carriedSignatures(read.reads, named, read, trust());
    const source = { ...read, carried: () => Promise.resolve(carried) };
    const dir = path.join(w.workspace, 'promote');
    const settings = await w.settingsWith(dir);
    const policy = loadPolicy(settings.policy);
    const gate = await passingGate(source.images, policy, dir);
    const release = releaseOf('v1.2.3');
    const git = {
      ref: 'refs/tags/v1.2.3',
      revision: REVISION,
      workflowRun: 'https://github.com/a/b/actions/runs/2',
    };
    const planned = () =>
      planPromotion(
        w.client,
        { settings, release, images: source.images, indexDigest: w.rc.indexDigest },
        memoryLog(),
      );
    const result = await publishPromotion(
      { settings, policy, release, images: source.images, gate, git, reportsDir: dir, source, planned },
      w.deps(settings),
    );
    expect(result.indexDigest).toBe(w.rc.indexDigest);
    // The tags its new signatures went into (the fallback index and `.att` tag of each digest) were read once with
    // the source: the writers start from that read. The only other read of each is the read-back of what was written.
    const gets = w.registry.requests.filter((r) => r.method === 'GET').map((r) => r.url);
    for (const digest of [w.rc.indexDigest, ...source.images.map((i) => i.digest)])
      for (const tag of [`sha256-${digest.slice(7)}`, `sha256-${digest.slice(7)}.att`])
        expect(
          gets.filter((url) => url === `/v2/${REPO_PATH}/manifests/${tag}`),
          tag,
        ).toHaveLength(2);
    // Only what is new is signed: each platform's rescan and the index's new deployment manifest (the signatures
    // and SBOM attestations of the rc stay as they are); the release itself signed everything.
    const signedBy = (signatures: typeof result.signatures) =>
      [...new Set(signatures.map((s) => `${s.platform} ${s.predicateType}`))].sort();
    expect(signedBy(result.signatures)).toEqual([
      `index ${DEPLOYMENT_PREDICATE_TYPE}`,
      `linux/amd64 ${COSIGN_VULN_PREDICATE_TYPE}`,
      `linux/arm64 ${COSIGN_VULN_PREDICATE_TYPE}`,
    ]);
    expect(signedBy(w.rc.signatures)).toContain(`index ${COSIGN_SIGN_PREDICATE_TYPE}`);
    // The new manifest still lists every signature and attestation of the rc (both formats), beside the new ones;
    // the SBOM entries point at the rc's SBOM attestations.
    const listed = result.manifest.signatures;
    for (const s of w.rc.signatures) {
      if (s.format === 'bundle')
        expect(listed.bundles, `${s.platform} ${s.predicateType}`).toContainEqual({
          subject: s.subject,
          predicateType: s.predicateType,
          referrer: s.referrer,
        });
      else
        expect(listed.classic, `${s.platform} ${s.predicateType}`).toContainEqual({
          subject: s.subject,
          predicateType: s.predicateType,
          tag: s.tag,
        });
    }
    expect(listed.bundles).toContainEqual({
      subject: w.rc.indexDigest,
      predicateType: DEPLOYMENT_PREDICATE_TYPE,
      referrer: expect.any(String) as string,
    });
    expect(listed.bundles.filter((b) => b.predicateType === DEPLOYMENT_PREDICATE_TYPE)).toHaveLength(1);
    for (const p of result.manifest.platforms) {
      const sbom = w.rc.signatures.find(
        (s) => s.format === 'bundle' && s.subject === p.digest && s.predicateType.includes('spdx'),
      );
      expect(p.sbom.attestation?.referrer, p.platform).toBe(
        sbom && 'referrer' in sbom ? sbom.referrer : 'none',
      );
    }
    const tags = Object.fromEntries(releaseTags(w.registry));
    for (const tag of ['1.2.3', '1.2', '1', 'latest', 'production', '1.2.3-rc.1', 'staging'])
      expect(tags[tag], tag).toBe(w.rc.indexDigest);
    expect(result.manifest.promotedFrom).toMatchObject({
      version: '1.2.3-rc.1',
      channel: 'staging',
      index: w.rc.indexDigest,
      manifest: { file: 'edgeship-deployment-1.2.3-rc.1.yaml', artifact: source.manifest.artifact },
    });
    expect(result.manifest.release).toMatchObject({ version: '1.2.3', channel: 'production' });
    // The promoted release now reads back as 1.2.3 (its newest signed manifest), same index.
    const again = await readRelease(w.client, repository, 'production', trust(), memoryLog());
    expect(again.manifest.manifest.release.version).toBe('1.2.3');
    // Registry traffic by kind: manifests, bundles and configs, never a layer blob.
    const layers = new Set(w.images.flatMap((i) => i.layers.map((l) => l.digest)));
    const blobGets = w.registry.requests.filter(
      (r) => r.method === 'GET' && r.url.includes('/blobs/sha256:'),
    );
    expect(blobGets.length).toBeGreaterThan(0);
    expect(
      blobGets.filter((r) => layers.has(r.url.replace(/^.*\/blobs\//, '').replace(/\?.*$/, ''))),
    ).toEqual([]);
  });

  it('a carry-over that fails after the gate refuses the promotion before it signs or writes anything', async () => {
    const w = await world();
    const read = await readRelease(w.client, repository, '1.2.3-rc.1', trust(), memoryLog());
    const tagsBefore = Object.fromEntries(releaseTags(w.registry));
    const logged = stack.requests().rekor;
    w.registry.requests.splice(0);
    let awaited = false;
    const source = {
      ...read,
      carried: () => {
        awaited = true;
        return Promise.reject(new Error('the classic signature sha256-abc.sig does not verify'));
      },
    };
    const dir = path.join(w.workspace, 'promote-refused');
    const settings = await w.settingsWith(dir);
    const policy = loadPolicy(settings.policy);
    const gate = await passingGate(source.images, policy, dir);
    const git = {
      ref: 'refs/tags/v1.2.3',
      revision: REVISION,
      workflowRun: 'https://github.com/a/b/actions/runs/3',
    };
    await expect(
      publishPromotion(
        {
          settings,
          policy,
          release: releaseOf('v1.2.3'),
          images: source.images,
          gate,
          git,
          reportsDir: dir,
          source,
          planned: () =>
            planPromotion(
              w.client,
              {
                settings,
                release: releaseOf('v1.2.3'),
                images: source.images,
                indexDigest: w.rc.indexDigest,
              },
              memoryLog(),
            ),
        },
        w.deps(settings),
      ),
    ).rejects.toThrow(/does not verify/);
    expect(awaited).toBe(true);
    expect(Object.fromEntries(releaseTags(w.registry))).toEqual(tagsBefore);
    // Nothing logged in Rekor, nothing written to the registry (only the plan and the baseline were read).
    expect(stack.requests().rekor).toBe(logged);
    expect(w.registry.requests.filter((r) => r.method !== 'GET' && r.method !== 'HEAD')).toEqual([]);
    const manifests = await readdir(dir).catch(() => [] as string[]);
    expect(manifests.filter((f) => f.startsWith('edgeship-deployment-'))).toEqual([]);
  });

  it('a rescan attestation that cannot be stored fails the promotion before its manifest is written or a tag moves', async () => {
    const w = await world();
    const read = await readRelease(w.client, repository, '1.2.3-rc.1', trust(), memoryLog());
    const named = { ...repository, name: `${w.registry.host}/${REPO_PATH}` };
    const carried = await carriedSignatures(w.client, named, read, trust());
    const source = { ...read, carried: () => Promise.resolve(carried) };
    const tagsBefore = Object.fromEntries(releaseTags(w.registry));
    const indexReferrers = () =>
      w.registry.manifests.get(`${REPO_PATH}@sha256-${w.rc.indexDigest.slice(7)}`)?.body.toString('utf8');
    const referrersBefore = indexReferrers();
    const manifestsAboutIndex = () =>
      [...w.registry.manifests.entries()]
        .filter(
          ([, m]) => m.body.toString('utf8').includes(`"subject":{`) && m.body.includes(w.rc.indexDigest),
        )
        .map(([key]) => key)
        .sort();
    const aboutIndexBefore = manifestsAboutIndex();
    // The registry refuses the `.att` tag of one platform: the rescan's storing fails while the manifest is signed.
    const platform = source.images[0]!.digest;
    w.registry.failNext(
      1,
      (r) => r.method === 'PUT' && r.url.endsWith(`/manifests/sha256-${platform.slice(7)}.att`),
      (res) => {
        res.writeHead(403, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ errors: [{ code: 'DENIED', message: 'no .att tags here' }] }));
      },
    );
    const dir = path.join(w.workspace, 'promote-unstored');
    const settings = await w.settingsWith(dir);
    const policy = loadPolicy(settings.policy);
    const gate = await passingGate(source.images, policy, dir);
    const release = releaseOf('v1.2.3');
    w.registry.requests.splice(0);
    await expect(
      publishPromotion(
        {
          settings,
          policy,
          release,
          images: source.images,
          gate,
          git: {
            ref: 'refs/tags/v1.2.3',
            revision: REVISION,
            workflowRun: 'https://github.com/a/b/actions/runs/4',
          },
          reportsDir: dir,
          source,
          planned: () =>
            planPromotion(
              w.client,
              { settings, release, images: source.images, indexDigest: w.rc.indexDigest },
              memoryLog(),
            ),
        },
        w.deps(settings),
      ),
    ).rejects.toThrow(/no \.att tags here|DENIED|403/);
    // No tag moved, and nothing names the index anew: no referrer (no deployment manifest of 1.2.3, signed or
    // not), no `.att` layer. Only blobs went up for it while the rescan was being stored.
    expect(Object.fromEntries(releaseTags(w.registry))).toEqual(tagsBefore);
    expect(indexReferrers()).toBe(referrersBefore);
    const index = `/manifests/sha256-${w.rc.indexDigest.slice(7)}`;
    expect(w.registry.requests.filter((r) => r.method === 'PUT' && r.url.includes(index))).toEqual([]);
    expect(manifestsAboutIndex()).toEqual(aboutIndexBefore);
  });

  it('reads every bundle and what a promotion carries over ahead, each once: the verifications then read nothing', async () => {
    const w = await world();
    const named = { ...repository, name: `${w.registry.host}/${REPO_PATH}` };
    w.registry.requests.splice(0);
    const opened = await openRelease(w.client, repository, '1.2.3-rc.1', trust(), memoryLog());
    await opened.readAhead;
    await prefetchCarried(opened.reads, REPO_PATH, opened);
    const ahead = w.registry.requests.map((r) => `${r.method} ${r.url}`);
    // The classic tags of every digest, the `.sig` layers, and every referrer of every digest with its bundle.
    const digests = [w.rc.indexDigest, ...opened.release.platforms.map((p) => p.digest)];
    for (const digest of digests) {
      for (const kind of ['sig', 'att'] as const)
        expect(ahead).toContain(`GET /v2/${REPO_PATH}/manifests/sha256-${digest.slice(7)}.${kind}`);
    }
    expect(ahead.filter((r) => r.startsWith('GET') && r.includes('/blobs/')).length).toBeGreaterThan(
      digests.length * 3,
    );
    // Nothing fetched twice.
    const gets = ahead.filter((r) => r.startsWith('GET'));
    expect(new Set(gets).size).toBe(gets.length);
    w.registry.requests.splice(0);
    // Everything it verifies was read: each verification still lets other I/O in first (a turn of the event loop),
    // so what waits on it (a scan's process) is not held back until they all end.
    const order: string[] = [];
    setImmediate(() => order.push('other I/O'));
    const read = await verifyOpenedRelease(
      w.client,
      repository,
      opened,
      trust(),
      memoryLog(),
      PROMOTION_DEFERS,
    );
    order.push('verified');
    expect(order).toEqual(['other I/O', 'verified']);
    const carried = await carriedSignatures(read.reads, named, read, trust());
    // Nothing read again: only a HEAD of each `.att` layer a verified bundle vouches for (it must still be there).
    const after = w.registry.requests.map((r) => `${r.method} ${r.url}`);
    expect(after.filter((r) => !r.startsWith(`HEAD /v2/${REPO_PATH}/blobs/`))).toEqual([]);
    expect(after.length).toBeGreaterThanOrEqual(opened.release.platforms.length);
    // The same verdict as a carry-over that makes its own reads.
    expect(carried).toEqual(await carriedSignatures(w.client, named, read, trust()));
    expect(carried.classic.length).toBeGreaterThanOrEqual(digests.length);
  });

  it('reads once through readOnce, and asks again after a failed read', async () => {
    const w = await world();
    const reads = readOnce(w.client);
    w.registry.requests.splice(0);
    const tag = `/v2/${REPO_PATH}/manifests/1.2.3-rc.1`;
    const [a, b] = await Promise.all([
      reads.getManifest(REPO_PATH, '1.2.3-rc.1'),
      reads.getManifest(REPO_PATH, '1.2.3-rc.1'),
    ]);
    expect(a).toBe(b);
    expect(w.registry.requests.filter((r) => r.url === tag)).toHaveLength(1);
    w.registry.failNext(
      1,
      (r) => r.url.endsWith('/manifests/1.2.3'),
      (res) => {
        res.writeHead(403, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ errors: [{ code: 'DENIED', message: 'not now' }] }));
      },
    );
    await expect(reads.getManifest(REPO_PATH, '1.2.3')).rejects.toThrow();
    await expect(reads.getManifest(REPO_PATH, '1.2.3')).rejects.toThrow(/not found|unknown|404/i);
    expect(w.registry.requests.filter((r) => r.url.endsWith('/manifests/1.2.3'))).toHaveLength(2);
  });
});
