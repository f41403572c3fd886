/**
 * Failure injection for the publish phase: the registry (5xx, 429 with Retry-After, connection resets,
 * 401, token expiry), Sigstore (Fulcio, Rekor, TSA, the OIDC token), the GitHub Releases API, signature
 * verification and the refusals (tag conflict, downgrade, ungated platform).
 *
 * Every case asserts the END STATE by reading the fake registry's tag table directly: either a complete
 * publish (every release tag, 1.2.3 1.2 1 latest production, on the index digest) or no release tag at all
 * (`sha256-<hex>` referrers fallback tags may exist: they only list signatures of untagged digests).
 * Retried cases count the requests the services received.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';

import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';

import { expectedSignerFor, signerConfig } from '../../../src/publish/publish-deps.js';
import type { PlatformImage } from '../../../src/image/pushed-image.js';
import type { GateResult } from '../../../src/policy/decide.js';
import { githubAttestationStore } from '../../../src/github/attestations.js';
import { githubReleaseStage } from '../../../src/github/release-assets.js';
import {
  provenanceRun,
  slsaProvenance,
  SLSA_PROVENANCE_V1_PREDICATE_TYPE,
  type PlatformProvenance,
} from '../../../src/provenance/slsa.js';
import { SPDX_PREDICATE_TYPE } from '../../../src/sign/predicates.js';
import { loadPolicy, type Policy } from '../../../src/policy/index.js';
import type { BuiltIndex } from '../../../src/image/image-index.js';
import { buildImageIndex } from '../../../src/image/image-index.js';
import { publishRelease, type PublishResult } from '../../../src/publish/release.js';
import type { RegistryClient } from '../../../src/registry/client.js';
import { EMPTY_JSON_DIGEST } from '../../../src/registry/referrer-manifest.js';
import { DEPLOYMENT_MANIFEST_ARTIFACT_TYPE } from '../../../src/deployment/manifest.js';
import { releaseMetadata, type ReleaseMetadata } from '../../../src/release/metadata.js';
import type { Settings } from '../../../src/settings/inputs.js';
import { trustMaterialFromJSON } from '../../../src/sign/verify.js';
import {
  startGitHubApiStandIn,
  type GitHubApiStandIn,
  type StartGitHubApiStandInOptions,
} from '../../e2e/harness/github-api.js';
import { startOidcTokenEndpoint } from '../../e2e/harness/oidc-issuer.js';
import { startSigstoreStack, type SigstoreStack } from '../../e2e/harness/sigstore-stack.js';
import { FakeRegistry, type FakeAuth, type RecordedRequest } from '../registry/fake-registry.js';
import {
  allowTagDeletion,
  auth,
  clientFor,
  EXPECTED_TAGS,
  expectedIndex,
  fallbackTags,
  faults,
  FaultProxy,
  IDENTITY,
  injectRegistry,
  memoryLog,
  PASSWORD,
  passingGate,
  platformImages,
  PLATFORMS,
  pushImage,
  releaseFor,
  releaseTags,
  REPO_PATH,
  requests,
  RELEASE_GIT_TAG,
  RELEASE_REF,
  REVISION,
  settingsFor,
} from './harness.js';

/** One test's world: a fresh registry with the two images, a fresh GitHub stand-in, a passing gate. */
interface World {
  registry: FakeRegistry;
  client: RegistryClient;
  /** Every backoff the registry client asked for (the sleep is a no-op). */
  sleeps: number[];
  github: GitHubApiStandIn;
  images: PlatformImage[];
  release: ReleaseMetadata;
  policy: Policy;
  settings: Settings;
  gate: GateResult;
  index: BuiltIndex;
  workspace: string;
  reportsDir: string;
}

interface Outcome {
  result?: PublishResult;
  error?: Error;
  log: string[];
}

interface WorldOptions {
  auth?: FakeAuth;
  github?: StartGitHubApiStandInOptions;
  inputs?: Record<string, string>;
}

interface PublishOptions {
  /** The runner environment the OIDC token provider reads; default: the loopback OIDC endpoint's. */
  env?: Record<string, string | undefined>;
  gate?: GateResult;
  /** Default: the world's release. */
  release?: ReleaseMetadata;
  /** The commit this run builds; default REVISION. */
  revision?: string;
  /** `github-attestations` (the stand-in's attestations API); default off. */
  githubAttestations?: 'auto' | 'required';
  /** SLSA provenance of the platform images, as the build would hand it over. */
  provenance?: PlatformProvenance[];
}

const cleanups: Array<() => Promise<void>> = [];

describe('publishRelease under injected failures: complete or no tag', () => {
  let stack: SigstoreStack;
  let oidc: Awaited<ReturnType<typeof startOidcTokenEndpoint>>;
  let fulcio: FaultProxy;
  let rekor: FaultProxy;
  let tsa: FaultProxy;
  let scratch: string;
  let trustedRootFile: string;

  beforeAll(async () => {
    stack = await startSigstoreStack();
    oidc = await startOidcTokenEndpoint(() => stack.oidcToken(IDENTITY));
    fulcio = await FaultProxy.start(stack.fulcioURL);
    rekor = await FaultProxy.start(stack.rekorURL);
    tsa = await FaultProxy.start(stack.tsaURL);
    scratch = await mkdtemp(path.join(os.tmpdir(), 'edgeship-publish-failures-'));
    trustedRootFile = path.join(scratch, 'trusted_root.json');
    await writeFile(trustedRootFile, JSON.stringify(stack.trustedRoot));
  });

  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
    for (const proxy of [fulcio, rekor, tsa]) proxy.reset();
  });

  afterAll(async () => {
    await Promise.all([fulcio?.stop(), rekor?.stop(), tsa?.stop()]);
    await oidc?.stop();
    await stack?.stop();
    if (scratch) await rm(scratch, { recursive: true, force: true });
  });

  async function world(options: WorldOptions = {}): Promise<World> {
    const registry = await new FakeRegistry({ auth: options.auth ?? auth.basic }).start();
    cleanups.push(() => registry.stop());
    const github = await startGitHubApiStandIn({ repository: 'acme/edge-agent', ...options.github });
    cleanups.push(() => github.stop());
    const setup = clientFor(registry);
    const digests = [];
    for (const platform of PLATFORMS) digests.push(await pushImage(setup, platform));
    const images = await platformImages(setup, digests);
    await setup.close();
    const workspace = await mkdtemp(path.join(scratch, 'ws-'));
    const reportsDir = path.join(workspace, 'reports');
    const settings = await settingsFor({
      workspace,
      registryHost: registry.host,
      reportsDir,
      fulcioURL: fulcio.url,
      rekorURL: rekor.url,
      tsaURL: tsa.url,
      trustedRootFile,
      githubToken: github.token,
      ...(options.inputs ? { inputs: options.inputs } : {}),
    });
    const policy = loadPolicy(settings.policy);
    const gate = await passingGate(images, policy, reportsDir);
    expect(gate.verdict.pass).toBe(true);
    const release = releaseFor();
    expect([...release.tags, 'production'].sort()).toEqual([...EXPECTED_TAGS].sort());
    const sleeps: number[] = [];
    const client = clientFor(registry, sleeps);
    cleanups.push(() => client.close());
    // Only what the publish phase sends is looked at.
    registry.requests.splice(0);
    return {
      registry,
      client,
      sleeps,
      github,
      images,
      release,
      policy,
      settings,
      gate,
      index: expectedIndex(images, release),
      workspace,
      reportsDir,
    };
  }

  async function publish(w: World, options: PublishOptions = {}): Promise<Outcome> {
    const log = memoryLog();
    const signer = signerConfig(w.settings, options.env ?? oidc.env);
    const github = w.github;
    try {
      const result = await publishRelease(
        {
          settings: w.settings,
          policy: w.policy,
          release: options.release ?? w.release,
          images: w.images,
          gate: options.gate ?? w.gate,
          git: {
            ref: RELEASE_REF,
            revision: options.revision ?? REVISION,
            workflowRun: 'https://github.com/acme/edge-agent/actions/runs/4242',
          },
          reportsDir: w.reportsDir,
          ...(options.provenance ? { provenance: options.provenance } : {}),
        },
        {
          registry: w.client,
          log,
          ...(options.githubAttestations
            ? {
                githubAttestations: {
                  mode: options.githubAttestations,
                  store: githubAttestationStore(
                    {
                      apiUrl: github.apiUrl,
                      token: github.token,
                      repository: github.repository,
                      fetchImpl: fetch,
                    },
                    (m) => log.warning(m),
                  ),
                },
              }
            : {}),
          ...(signer
            ? {
                signer,
                expectedSigner: expectedSignerFor(w.settings, signer),
                trustMaterial: async () => trustMaterialFromJSON(stack.trustedRoot),
                workflowIdentity: {
                  identity: IDENTITY,
                  issuer: 'https://token.actions.githubusercontent.com',
                },
              }
            : {}),
          releaseAssets: githubReleaseStage(
            {
              apiUrl: github.apiUrl,
              token: github.token,
              repository: github.repository,
              fetchImpl: fetch,
              sleep: async () => undefined,
            },
            RELEASE_GIT_TAG,
            { readFile: (file) => readFile(file), log },
            { prerelease: false },
          ),
          readText: (file) => readFile(file, 'utf8'),
          writeText: (file, text) => writeFile(file, text),
          now: () => new Date(),
        },
      );
      return { result, log: log.lines };
    } catch (error) {
      return { error: error as Error, log: log.lines };
    }
  }

  // ---------------------------------------------------------------------------------------------------
  // End-state assertions (the fake registry's tag table, read directly)

  const hexOf = (digest: string) => digest.slice('sha256:'.length);

  /** Complete: every release tag points at the index over both platform images, signatures attached. */
  function expectEveryReleaseTagOnTheIndex(w: World, outcome: Outcome): void {
    expect(outcome.error?.message).toBeUndefined();
    expect(Object.fromEntries(releaseTags(w.registry))).toEqual(
      Object.fromEntries(EXPECTED_TAGS.map((tag) => [tag, w.index.digest])),
    );
    const stored = w.registry.manifests.get(`${REPO_PATH}@${w.index.digest}`);
    const manifests = (JSON.parse(stored!.body.toString('utf8')) as { manifests: Array<{ digest: string }> })
      .manifests;
    expect(manifests.map((m) => m.digest)).toEqual(w.images.map((i) => i.digest));
    // The referrers fallback index of the index and of each platform image lists its bundles.
    expect(fallbackTags(w.registry).sort()).toEqual(
      [w.index.digest, ...w.images.map((i) => i.digest)].map((d) => `sha256-${hexOf(d)}`).sort(),
    );
    expect(outcome.result?.indexDigest).toBe(w.index.digest);
    expect([...(outcome.result?.tags ?? [])].sort()).toEqual([...EXPECTED_TAGS].sort());
  }

  /**
   * No release tag: the tag table, apart from `sha256-<hex>` referrers fallback tags (which may exist),
   * is what it was before the publish, and nothing in it points at the new index.
   */
  function expectNoReleaseTagButFallbackTagsMayExist(
    w: World,
    outcome: Outcome,
    before: Map<string, string> = new Map(),
  ): void {
    expect(outcome.result).toBeUndefined();
    expect(outcome.error).toBeInstanceOf(Error);
    expect(Object.fromEntries(releaseTags(w.registry))).toEqual(Object.fromEntries(before));
    expect([...releaseTags(w.registry).values()]).not.toContain(w.index.digest);
  }

  /** The message says what failed in words: no stack lines, no secret. */
  function expectClearError(outcome: Outcome, w: World, ...patterns: RegExp[]): Error {
    const error = outcome.error;
    expect(error).toBeInstanceOf(Error);
    const message = error!.message;
    for (const pattern of patterns) expect(message).toMatch(pattern);
    expect(message).not.toMatch(/^\s*at\s+\S+.*:\d+:\d+\)?$/m);
    expect(message).not.toContain(PASSWORD);
    expect(message).not.toContain(w.github.token);
    expect(message).not.toMatch(/eyJ[\w-]+\.eyJ/);
    return error!;
  }

  const count = (w: World, match: (r: RecordedRequest) => boolean) =>
    w.registry.requests.filter(match).length;
  const signaturesOf = (outcome: Outcome) => outcome.result?.signatures.length ?? 0;
  /**
   * signature-format both (the default): each statement is signed once and stored in both formats; the
   * classic image signatures (simple signing payloads) are signed on their own.
   */
  const certificatesOf = (outcome: Outcome) =>
    (outcome.result?.signatures ?? []).filter(
      (s) => s.format === 'bundle' || s.predicateType === 'https://sigstore.dev/cosign/sign/v1',
    ).length;

  /** Writes an older release (an index with version `version`) under `tags`. */
  function seedRelease(w: World, version: string, tags: readonly string[]): BuiltIndex {
    const old = buildImageIndex(w.images, {
      ...w.release.annotations,
      'org.opencontainers.image.version': version,
    });
    for (const tag of tags) w.registry.addManifest(REPO_PATH, tag, old.body, old.mediaType);
    w.registry.addManifest(REPO_PATH, undefined, old.body, old.mediaType);
    return old;
  }

  // ---------------------------------------------------------------------------------------------------
  // Control

  it('control: no failure → complete publish, signatures verified, release assets uploaded', async () => {
    const w = await world();
    const outcome = await publish(w);
    expectEveryReleaseTagOnTheIndex(w, outcome);
    // index: sign + deployment manifest; per platform: sign + SBOM + vulnerability attestation.
    expect(signaturesOf(outcome)).toBe(2 * (2 + 3 * PLATFORMS.length));
    // Every keyless signature of the run (both formats) is made with one ephemeral key and one certificate.
    expect(certificatesOf(outcome)).toBe(2 + 3 * PLATFORMS.length + 1 + PLATFORMS.length);
    expect(fulcio.count()).toBe(1);
    expect(w.sleeps).toEqual([]);
    const release = w.github.releases().find((r) => r.tag_name === RELEASE_GIT_TAG);
    expect(release?.assets.map((a) => a.name)).toContain('edgeship-deployment-1.2.3.yaml');
  });

  // ---------------------------------------------------------------------------------------------------
  // Provenance and GitHub artifact attestations

  const provenanceOf = (w: World): PlatformProvenance[] => {
    const run = provenanceRun({
      GITHUB_WORKFLOW_REF: 'acme/edge-agent/.github/workflows/release.yml@refs/tags/v1.2.3',
      GITHUB_REPOSITORY: 'acme/edge-agent',
      GITHUB_REF: RELEASE_REF,
      GITHUB_SHA: REVISION,
      GITHUB_RUN_ID: '4242',
    })!;
    const build = {
      platforms: [...PLATFORMS],
      file: 'Dockerfile',
      context: '.',
      buildArgs: [],
      builder: 'buildah',
    };
    const at = new Date('2026-01-02T03:04:05Z');
    return w.images.map((i) => ({
      platform: i.platform,
      digest: i.digest,
      predicate: slsaProvenance({ run, build, dependencies: [], startedOn: at, finishedOn: at }),
    }));
  };

  it('provenance + github-attestations auto → complete; one attestations call per provenance and SBOM bundle, each naming its subject', async () => {
    const w = await world();
    const outcome = await publish(w, { githubAttestations: 'auto', provenance: provenanceOf(w) });
    expectEveryReleaseTagOnTheIndex(w, outcome);
    // signature-format both (the default): once as a bundle referrer, once in the classic .att tag.
    const provenance = outcome.result!.signatures.filter(
      (s) => s.predicateType === SLSA_PROVENANCE_V1_PREDICATE_TYPE && s.format === 'bundle',
    );
    expect(
      outcome.result!.signatures.filter(
        (s) => s.predicateType === SLSA_PROVENANCE_V1_PREDICATE_TYPE && s.format === 'classic',
      ),
    ).toHaveLength(provenance.length);
    expect(provenance.map((s) => s.subject).sort()).toEqual(
      [w.index.digest, ...w.images.map((i) => i.digest)].sort(),
    );
    const stored = w.github.attestations();
    const calls = w.github
      .requests()
      .filter((r) => r.method === 'POST' && r.path === '/repos/acme/edge-agent/attestations');
    expect(calls).toHaveLength(stored.length);
    const seen = stored.map(({ bundle }) => {
      const b = bundle as { mediaType: string; dsseEnvelope: { payload: string } };
      expect(b.mediaType).toBe('application/vnd.dev.sigstore.bundle.v0.3+json');
      const statement = JSON.parse(Buffer.from(b.dsseEnvelope.payload, 'base64').toString('utf8')) as {
        subject: Array<{ digest: { sha256: string } }>;
        predicateType: string;
      };
      expect(statement.subject).toHaveLength(1);
      return `${statement.predicateType} sha256:${statement.subject[0]!.digest.sha256}`;
    });
    expect(seen.sort()).toEqual(
      [
        `${SLSA_PROVENANCE_V1_PREDICATE_TYPE} ${w.index.digest}`,
        ...w.images.flatMap((i) => [
          `${SLSA_PROVENANCE_V1_PREDICATE_TYPE} ${i.digest}`,
          `${SPDX_PREDICATE_TYPE} ${i.digest}`,
        ]),
      ].sort(),
    );
  });

  it('GitHub attestations 403 (no attestations: write), auto → complete, the warning names the permission', async () => {
    const failures = [{ method: 'POST', pathPattern: /\/attestations$/, status: 403, times: Infinity }];
    const w = await world({ github: { failures } });
    const outcome = await publish(w, { githubAttestations: 'auto', provenance: provenanceOf(w) });
    expectEveryReleaseTagOnTheIndex(w, outcome);
    expect(outcome.log.join('\n')).toMatch(/HTTP 403.*attestations: write.*release is complete/s);
    expect(w.github.attestations()).toEqual([]);
  });

  it('GitHub attestations 403, required → no release tag, no release, names `attestations: write`', async () => {
    const failures = [{ method: 'POST', pathPattern: /\/attestations$/, status: 403, times: Infinity }];
    const w = await world({ github: { failures } });
    const outcome = await publish(w, { githubAttestations: 'required', provenance: provenanceOf(w) });
    expectNoReleaseTagButFallbackTagsMayExist(w, outcome);
    expectClearError(outcome, w, /HTTP 403/, /attestations: write/, /github-attestations is required/);
    expect(w.github.releases().find((r) => r.tag_name === RELEASE_GIT_TAG)).toBeUndefined();
  });

  // ---------------------------------------------------------------------------------------------------
  // Registry: 5xx, 429, connection resets

  it('registry 503 once on the index PUT → retried → complete', async () => {
    const w = await world();
    const injected = injectRegistry(w.registry, requests.manifestPut(w.index.digest), faults.status(503), {
      times: 1,
    });
    const outcome = await publish(w);
    expectEveryReleaseTagOnTheIndex(w, outcome);
    expect(injected.hits).toBe(1);
    expect(count(w, requests.manifestPut(w.index.digest))).toBe(2);
  });

  it('registry 503 forever on the index PUT → gives up after the retry budget → no release tag (no fallback tag either)', async () => {
    const w = await world();
    const injected = injectRegistry(w.registry, requests.manifestPut(w.index.digest), faults.status(503));
    const outcome = await publish(w);
    expectNoReleaseTagButFallbackTagsMayExist(w, outcome);
    expectClearError(
      outcome,
      w,
      /put manifest .*acme\/edge-agent@sha256:[a-f0-9]{64} failed: HTTP 503/,
      /gave up after \d+ attempts over 60 s/,
    );
    // Issue 11: retried for the 60 s budget of the operation (not 4 attempts).
    expect(injected.hits).toBeGreaterThan(10);
    expect(fallbackTags(w.registry)).toEqual([]);
    expect(fulcio.count()).toBe(0);
  });

  it('registry 429 with Retry-After on a blob upload → waits as asked, retried → complete', async () => {
    const w = await world();
    const injected = injectRegistry(
      w.registry,
      requests.blobPut,
      faults.status(429, { 'retry-after': '7' }),
      {
        times: 1,
      },
    );
    const outcome = await publish(w);
    expectEveryReleaseTagOnTheIndex(w, outcome);
    expect(injected.hits).toBe(1);
    expect(w.sleeps).toContain(7000);
    const first = w.registry.requests.find(requests.blobPut)!;
    expect(count(w, (r) => r.method === 'PUT' && r.url === first.url)).toBe(2);
  });

  it('registry connection reset on a bundle blob PUT → retried → complete', async () => {
    const w = await world();
    const injected = injectRegistry(w.registry, requests.bundleBlobPut(EMPTY_JSON_DIGEST), faults.reset, {
      times: 1,
    });
    const outcome = await publish(w);
    expectEveryReleaseTagOnTheIndex(w, outcome);
    expect(injected.hits).toBe(1);
    const first = w.registry.requests.find(requests.bundleBlobPut(EMPTY_JSON_DIGEST))!;
    // Issue 11: a lost blob PUT is looked up, then sent again in a new upload session (not the same URL).
    const digest = new URL(first.url, 'http://registry').searchParams.get('digest')!;
    expect(count(w, requests.blobPutOf(digest))).toBe(2);
    expect(count(w, (r) => r.method === 'PUT' && r.url === first.url)).toBe(1);
  });

  it('registry connection reset forever on the referrer manifest PUT → no release tag', async () => {
    const w = await world();
    const injected = injectRegistry(w.registry, requests.referrerPut, faults.reset);
    const outcome = await publish(w);
    expectNoReleaseTagButFallbackTagsMayExist(w, outcome);
    expectClearError(
      outcome,
      w,
      /put manifest .*acme\/edge-agent@sha256:[a-f0-9]{64} failed: PUT http:\/\/127\.0\.0\.1:\d+\/v2\//,
      /UND_ERR_SOCKET|ECONNRESET|other side closed|socket hang up/,
      /gave up after \d+ attempts over 60 s/,
    );
    // Issue 11: retried for the 60 s budget of the operation (not 4 attempts).
    expect(injected.hits).toBeGreaterThan(10);
  });

  it('registry 500 twice on the fallback-tag PUT → retried → complete', async () => {
    const w = await world();
    const injected = injectRegistry(w.registry, requests.fallbackPut, faults.status(500), { times: 2 });
    const outcome = await publish(w);
    expectEveryReleaseTagOnTheIndex(w, outcome);
    expect(injected.hits).toBe(2);
    const first = w.registry.requests.find(requests.fallbackPut)!;
    expect(count(w, (r) => r.method === 'PUT' && r.url === first.url)).toBeGreaterThanOrEqual(3);
  });

  it('registry 502 forever on the fallback-tag GET (read-modify-write) → no release tag', async () => {
    const w = await world();
    const injected = injectRegistry(w.registry, requests.fallbackGet, faults.status(502));
    const outcome = await publish(w);
    expectNoReleaseTagButFallbackTagsMayExist(w, outcome);
    expectClearError(outcome, w, /get manifest .*acme\/edge-agent:sha256-[a-f0-9]{64} failed: HTTP 502/);
    // Issue 11: retried for the 60 s budget of the operation (not 4 attempts).
    expect(injected.hits).toBeGreaterThan(10);
  });

  it('registry 500 once on every tag PUT → each retried → complete', async () => {
    const w = await world();
    for (const tag of EXPECTED_TAGS) {
      injectRegistry(w.registry, requests.manifestPut(tag), faults.status(500), { times: 1 });
    }
    const outcome = await publish(w);
    expectEveryReleaseTagOnTheIndex(w, outcome);
    for (const tag of EXPECTED_TAGS) expect(count(w, requests.manifestPut(tag))).toBe(2);
  });

  it('registry 500 forever on the first tag PUT → no release tag, read back: "No tag points at this release"', async () => {
    const w = await world();
    const injected = injectRegistry(w.registry, requests.releaseTagPut, faults.status(500));
    const outcome = await publish(w);
    expectNoReleaseTagButFallbackTagsMayExist(w, outcome);
    expectClearError(
      outcome,
      w,
      /writing the tags failed: .*HTTP 500/,
      /release tag 1\.2\.3: unchanged, absent \(not written\)/,
      /No tag points at this release's index\. Re-run the job\./,
    );
    // Issue 11: retried for the 60 s budget of the operation (not 4 attempts).
    expect(injected.hits).toBeGreaterThan(10);
    // Only the first tag was tried (moving tags first: 1.2), as often as its budget allowed.
    expect(w.registry.requests.filter(requests.releaseTagPut).map((r) => r.url)).toEqual(
      Array(injected.hits).fill(`/v2/${REPO_PATH}/manifests/1.2`),
    );
    // The assets went to a draft release, which is deleted again: no release announces untagged images.
    expect(w.github.releases()).toEqual([]);
  });

  it('a complete publish leaves the GitHub release published (not a draft) with its assets', async () => {
    const w = await world();
    const outcome = await publish(w);
    expect(outcome.error).toBeUndefined();
    const releases = w.github.releases();
    expect(releases).toHaveLength(1);
    expect(releases[0]).toMatchObject({ tag_name: 'v1.2.3', draft: false });
    expect(releases[0]!.assets.map((a) => a.name)).toContain('edgeship-deployment-1.2.3.yaml');
  });

  // Offline bundles (issue 12): part of the publish, before any tag.
  it('offline-bundles: both → full bundles listed in the manifest, uploaded with the installer; complete', async () => {
    const w = await world({ inputs: { 'offline-bundles': 'both', 'offline-bundle-max-size': '1MiB' } });
    const outcome = await publish(w);
    expectEveryReleaseTagOnTheIndex(w, outcome);
    const bundles = outcome.result!.offlineBundles!;
    expect(bundles.map((b) => `${b.platform} ${b.kind} ${b.file}`)).toEqual([
      'linux/amd64 full edgeship-1.2.3-linux-amd64.oci.tar.zst',
      'linux/arm64 full edgeship-1.2.3-linux-arm64.oci.tar.zst',
    ]);
    expect(outcome.result!.manifest.platforms.map((p) => p.bundles?.map((b) => b.file))).toEqual(
      bundles.map((b) => [b.file]),
    );
    const assets = w.github.releases()[0]!.assets.map((a) => a.name);
    expect(assets).toEqual(expect.arrayContaining([...bundles.map((b) => b.file), 'edgeship-install.sh']));
  });

  it('offline-bundles: a layer read failing forever → no release tag', async () => {
    const w = await world({ inputs: { 'offline-bundles': 'full' } });
    const layer = w.images[0]!.layers[0]!.digest;
    injectRegistry(
      w.registry,
      (r) => r.method === 'GET' && r.url.includes(`/blobs/${layer}`),
      faults.status(500),
    );
    const outcome = await publish(w);
    expectNoReleaseTagButFallbackTagsMayExist(w, outcome);
    expectClearError(outcome, w, new RegExp(layer.slice(7, 19)));
  });

  it('registry 500 forever on the 3rd tag PUT, previous release present → rolled back: old tags unchanged, no tag of this release', async () => {
    const w = await world();
    const old = seedRelease(w, '1.2.2', ['1.2.2', '1.2', '1', 'latest', 'production']);
    const before = releaseTags(w.registry);
    injectRegistry(w.registry, requests.manifestPut('latest'), faults.status(500));
    const outcome = await publish(w);
    expectNoReleaseTagButFallbackTagsMayExist(w, outcome, before);
    expectClearError(
      outcome,
      w,
      /writing the tags failed: .*:latest failed: HTTP 500/,
      /release tag 1\.2\.3: unchanged, absent \(not written\)\n {2}1\.2: restored to sha256:[a-f0-9]{64}\n {2}1: restored to sha256:[a-f0-9]{64}\n {2}latest: unchanged, points at sha256:[a-f0-9]{64}/,
    );
    expect(releaseTags(w.registry).get('1.2')).toBe(old.digest);
  });

  // A first release whose 3rd tag write fails for good: the tags it created (1.2, 1) are deleted again
  // (this registry honours tag DELETE, as OCI distribution 1.1 allows).
  it('registry 500 forever on the 3rd tag PUT of a first release → the new tags are deleted again: no tag', async () => {
    const w = await world();
    allowTagDeletion(w.registry);
    injectRegistry(w.registry, requests.manifestPut('latest'), faults.status(500));
    const outcome = await publish(w);
    expectClearError(outcome, w, /writing the tags failed: .*:latest failed: HTTP 500/);
    // All or none: with the error, none.
    expectNoReleaseTagButFallbackTagsMayExist(w, outcome);
  });

  it('registry 500 forever on the tag read-back HEADs → the run fails but every tag is written (complete)', async () => {
    const w = await world();
    let tagged = false;
    w.registry.interceptors.push((r) => {
      if (requests.manifestPut('1.2.3')(r)) tagged = true;
      return false;
    });
    injectRegistry(w.registry, (r) => tagged && requests.releaseTagHead(r), faults.status(500));
    const outcome = await publish(w);
    expectClearError(outcome, w, /head manifest .*acme\/edge-agent:1\.2 failed: HTTP 500/);
    expect(outcome.result).toBeUndefined();
    // The end state is still all-or-none: all.
    expect(Object.fromEntries(releaseTags(w.registry))).toEqual(
      Object.fromEntries(EXPECTED_TAGS.map((tag) => [tag, w.index.digest])),
    );
  });

  // ---------------------------------------------------------------------------------------------------
  // Reconciling a failed tagging: decided from the tags read back, never assumed

  /** The registry stores the tag write, then resets the connection before replying (once). */
  function storeThenReset(w: World, tag: string): void {
    let done = false;
    w.registry.interceptors.push((r, _res, req) => {
      if (done || !requests.manifestPut(tag)(r)) return false;
      done = true;
      w.registry.addManifest(REPO_PATH, tag, r.body, String(r.headers['content-type']));
      req.socket.destroy();
      return true;
    });
  }

  /** The report's lines, tag → what it says (`release tag ` dropped). */
  function reportLines(error: Error): Map<string, string> {
    const lines = error.message.split('\n').filter((l) => l.startsWith('  '));
    return new Map(
      lines.map((l) => {
        const [, tag = '', state = ''] = /^ {2}(?:release tag )?([^:]+): (.*)$/.exec(l) ?? [];
        return [tag, state];
      }),
    );
  }

  it('release tag PUT stored but its reply reset, then 503s → every tag read back on the index → complete', async () => {
    const w = await world();
    storeThenReset(w, '1.2.3');
    const injected = injectRegistry(w.registry, requests.manifestPut('1.2.3'), faults.status(503));
    const outcome = await publish(w);
    expectEveryReleaseTagOnTheIndex(w, outcome);
    expect(injected.hits).toBeGreaterThan(0);
    expect(outcome.log.join('\n')).toMatch(/a registry reply was lost .*each on sha256:[a-f0-9]{64}/);
    expect(w.github.releases()[0]).toMatchObject({ tag_name: RELEASE_GIT_TAG, draft: false });
  });

  it('registry 503 on the read-back HEADs after all five tags were written → read back again → complete', async () => {
    const w = await world();
    let tagged = false;
    w.registry.interceptors.push((r) => {
      if (requests.manifestPut('1.2.3')(r)) tagged = true;
      return false;
    });
    const injected = injectRegistry(
      w.registry,
      (r) => tagged && requests.releaseTagHead(r),
      faults.status(503),
      {
        times: 4,
      },
    );
    const outcome = await publish(w);
    expectEveryReleaseTagOnTheIndex(w, outcome);
    expect(injected.hits).toBe(4);
    expect(w.github.releases()[0]).toMatchObject({ tag_name: RELEASE_GIT_TAG, draft: false });
  });

  it('reset after 1.2 was stored, the release tag write fails, latest cannot be put back → the report is what the registry holds', async () => {
    const w = await world();
    const old = seedRelease(w, '1.2.2', ['1.2.2', '1.2', '1', 'latest', 'production']);
    storeThenReset(w, '1.2');
    injectRegistry(w.registry, requests.manifestPut('1.2.3'), faults.status(500));
    injectRegistry(w.registry, requests.manifestPut('latest'), faults.status(500), { skip: 1 });
    const outcome = await publish(w);
    const error = expectClearError(outcome, w, /writing the tags failed: .*:1\.2\.3 failed: HTTP 500/);
    expect(outcome.result).toBeUndefined();
    // The release tag's state comes first.
    expect(error.message).toMatch(/registry:\n {2}release tag 1\.2\.3: unchanged, absent \(not written\)\n/);
    const lines = reportLines(error);
    expect(Object.fromEntries(lines)).toEqual({
      '1.2.3': 'unchanged, absent (not written)',
      '1.2': `restored to ${old.digest}`,
      '1': `restored to ${old.digest}`,
      latest: expect.stringMatching(
        new RegExp(`^could not be restored \\(.*HTTP 500.*\\); points at the new index ${w.index.digest}$`),
      ) as unknown,
      production: `restored to ${old.digest}`,
    });
    // Every line matches the registry's own tag table.
    expect(Object.fromEntries(releaseTags(w.registry))).toEqual({
      '1.2.2': old.digest,
      '1.2': old.digest,
      '1': old.digest,
      latest: w.index.digest,
      production: old.digest,
    });
    expect(error.message).toMatch(
      new RegExp(`Re-run the job, or in the registry point latest back at ${old.digest}`),
    );
    expect(w.github.releases()).toEqual([]);
  });

  it('a registry that refuses tag DELETE (distribution 2.8: 400) → the message names the new tags left and where they point', async () => {
    const w = await world();
    injectRegistry(w.registry, requests.manifestPut('latest'), faults.status(500));
    const outcome = await publish(w);
    // 1.2 is written alone first; 1, latest and production at once after it, so 1 and production are left too.
    const error = expectClearError(
      outcome,
      w,
      /writing the tags failed: .*:latest failed: HTTP 500/,
      /Re-run the job, or in the registry delete tag 1\.2, delete tag 1, delete tag production \(this release is not published\)\./,
    );
    const lines = reportLines(error);
    expect(lines.get('1.2.3')).toBe('unchanged, absent (not written)');
    for (const tag of ['1.2', '1', 'production']) {
      expect(lines.get(tag)).toMatch(
        new RegExp(`^could not be restored \\(.*HTTP 400.*\\); points at the new index ${w.index.digest}$`),
      );
    }
    expect(lines.get('latest')).toBe('unchanged, absent (not written)');
    expect(Object.fromEntries(releaseTags(w.registry))).toEqual({
      '1.2': w.index.digest,
      '1': w.index.digest,
      production: w.index.digest,
    });
    expect(w.github.releases()).toEqual([]);
  });

  it('release tag stored (reply reset), production unreadable at first → what could be is restored, 1.2.3 stays: reported first, draft kept; the re-run adopts it', async () => {
    const w = await world();
    const old = seedRelease(w, '1.2.2', ['1.2.2', '1.2', '1', 'latest', 'production']);
    storeThenReset(w, '1.2.3');
    injectRegistry(w.registry, requests.manifestPut('1.2.3'), faults.status(503));
    // production's read-backs answer 503 once 1.2.3 is stored, until the restore begins (then the
    // registry recovers): the first read-back cannot tell where production points.
    let restoring = false;
    const stored = () => releaseTags(w.registry).get('1.2.3') !== undefined;
    w.registry.interceptors.push((r) => {
      if (stored() && requests.manifestPut('1.2')(r)) restoring = true;
      return false;
    });
    injectRegistry(
      w.registry,
      (r) => !restoring && stored() && r.method === 'HEAD' && r.url.endsWith('/manifests/production'),
      faults.status(503),
    );
    const outcome = await publish(w);
    const error = expectClearError(outcome, w, /writing the tags failed/);
    expect(error.message).toMatch(
      new RegExp(
        `registry:\\n {2}release tag 1\\.2\\.3: could not be restored \\(.*HTTP 400.*\\); points at the new index ${w.index.digest}\\n`,
      ),
    );
    expect(error.message).toMatch(
      /1\.2\.3 points at this release's signed index: re-run the job for this commit/,
    );
    expect(Object.fromEntries(reportLines(error))).toEqual({
      '1.2.3': expect.stringMatching(/^could not be restored/) as unknown,
      '1.2': `restored to ${old.digest}`,
      '1': `restored to ${old.digest}`,
      latest: `restored to ${old.digest}`,
      production: `points at the new index ${w.index.digest}`,
    });
    expect(Object.fromEntries(releaseTags(w.registry))).toEqual({
      '1.2.2': old.digest,
      '1.2.3': w.index.digest,
      '1.2': old.digest,
      '1': old.digest,
      latest: old.digest,
      production: w.index.digest,
    });
    // The release tag is out: the draft release is kept for the re-run to publish.
    expect(w.github.releases()).toEqual([
      expect.objectContaining({ tag_name: RELEASE_GIT_TAG, draft: true }),
    ]);
    // The re-run the message asks for (faults gone, a rebuild of the same commit) adopts the release.
    w.registry.interceptors.splice(0);
    const rerun = await publish(w, { release: rebuilt(w) });
    expect(rerun.error?.message).toBeUndefined();
    expect(rerun.result?.indexDigest).toBe(w.index.digest);
    expect(Object.fromEntries(releaseTags(w.registry))).toEqual({
      '1.2.2': old.digest,
      ...Object.fromEntries(EXPECTED_TAGS.map((tag) => [tag, w.index.digest])),
    });
    expect(rerun.log.join('\n')).toMatch(/completed tags 1\.2, 1, latest and the GitHub release/);
    expect(w.github.releases()).toEqual([
      expect.objectContaining({ tag_name: RELEASE_GIT_TAG, draft: false }),
    ]);
  });

  // ---------------------------------------------------------------------------------------------------
  // Re-runs: this commit's signed release under the release tag is adopted, another commit's refused

  /** The same commit rebuilt: not byte-identical (another creation time), so another index digest. */
  function rebuilt(w: World): ReleaseMetadata {
    const annotations = {
      ...w.release.annotations,
      'org.opencontainers.image.created': '2026-01-02T04:00:00.000Z',
    };
    expect(expectedIndex(w.images, { ...w.release, annotations }).digest).not.toBe(w.index.digest);
    return { ...w.release, annotations };
  }

  const writes = (w: World) =>
    w.registry.requests
      .filter(
        (r) => r.method === 'PUT' || r.method === 'POST' || r.method === 'PATCH' || r.method === 'DELETE',
      )
      .map((r) => `${r.method} ${new URL(r.url, 'http://registry').pathname}`);

  it('re-run of a partly tagged release of the same commit → adopted: missing tags and the GitHub release completed, nothing pushed or signed anew', async () => {
    const w = await world();
    const first = await publish(w);
    expectEveryReleaseTagOnTheIndex(w, first);
    // What a failed run can leave: 1.2.3 on the complete, signed index, the moving tags gone.
    for (const tag of ['1.2', '1', 'latest', 'production']) w.registry.tags.get(REPO_PATH)!.delete(tag);
    const signed = fulcio.count();
    w.registry.requests.splice(0);
    const outcome = await publish(w, { release: rebuilt(w) });
    expectEveryReleaseTagOnTheIndex(w, {
      ...outcome,
      result: { ...outcome.result!, indexDigest: w.index.digest },
    });
    expect(outcome.result?.indexDigest).toBe(w.index.digest);
    // Only the four missing tags were written (1.2 first, the others at once): no index, blob, referrer or
    // signature pushed.
    expect(writes(w)[0]).toBe(`PUT /v2/${REPO_PATH}/manifests/1.2`);
    expect(writes(w).sort()).toEqual(
      ['1', '1.2', 'latest', 'production'].map((t) => `PUT /v2/${REPO_PATH}/manifests/${t}`),
    );
    expect(fulcio.count()).toBe(signed);
    expect(outcome.log.join('\n')).toMatch(
      /adopted .*acme\/edge-agent@sha256:[a-f0-9]{64} \(this commit's signed release\): completed tags 1\.2, 1, latest, production and the GitHub release/,
    );
    expect(outcome.result?.manifest.image.index.digest).toBe(w.index.digest);
    expect(await readFile(outcome.result!.manifestFile, 'utf8')).toContain(w.index.digest);
    expect(w.github.releases()).toEqual([
      expect.objectContaining({ tag_name: RELEASE_GIT_TAG, draft: false }),
    ]);
  });

  it('re-run of a complete release of the same commit → adopted: no tag written, succeeds', async () => {
    const w = await world();
    expectEveryReleaseTagOnTheIndex(w, await publish(w));
    w.registry.requests.splice(0);
    const outcome = await publish(w, { release: rebuilt(w) });
    expect(outcome.error?.message).toBeUndefined();
    expect(outcome.result?.indexDigest).toBe(w.index.digest);
    expect(writes(w)).toEqual([]);
    expect(outcome.log.join('\n')).toMatch(/completed no tag \(all were in place\)/);
  });

  it('re-run of a release whose index was later promoted → adopts the deployment manifest of its own version, not the newest', async () => {
    const w = await world();
    expectEveryReleaseTagOnTheIndex(w, await publish(w));
    // What a promotion adds to the index: a second deployment manifest artifact, of another version and newer.
    const [key, artifact] = [...w.registry.manifests].find(([k, m]) => {
      const doc = JSON.parse(m.body.toString('utf8')) as {
        artifactType?: string;
        subject?: { digest: string };
      };
      return (
        k.startsWith(`${REPO_PATH}@`) &&
        doc.artifactType === DEPLOYMENT_MANIFEST_ARTIFACT_TYPE &&
        doc.subject?.digest === w.index.digest
      );
    })!;
    expect(key).toBeDefined();
    const doc = JSON.parse(artifact.body.toString('utf8')) as {
      layers: Array<{ digest: string; size: number; annotations?: Record<string, string> }>;
    };
    const ownYaml = w.registry.blobs.get(`${REPO_PATH}@${doc.layers[0]!.digest}`)!.toString('utf8');
    expect(ownYaml).toMatch(/version: "?1\.2\.3"?/);
    const promotedYaml = Buffer.from(
      ownYaml.replaceAll('1.2.3', '9.0.0').replace(/created: .*/, 'created: "2099-01-01T00:00:00.000Z"'),
    );
    const promotedDigest = w.registry.addBlob(REPO_PATH, promotedYaml);
    const promoted = {
      ...doc,
      layers: [{ ...doc.layers[0]!, digest: promotedDigest, size: promotedYaml.length }],
    };
    const promotedBody = Buffer.from(JSON.stringify(promoted));
    const promotedArtifact = w.registry.addManifest(REPO_PATH, undefined, promotedBody, artifact.mediaType);
    // Listed in the referrers tag schema's index (this registry has no referrers API) before the release's own.
    const fallbackTag = w.index.digest.replace(':', '-');
    const fallback = w.registry.manifests.get(
      `${REPO_PATH}@${w.registry.tags.get(REPO_PATH)!.get(fallbackTag)!}`,
    )!;
    const listing = JSON.parse(fallback.body.toString('utf8')) as { manifests: unknown[] };
    expect(listing.manifests).toContainEqual(expect.objectContaining({ digest: key.split('@')[1] }));
    listing.manifests.unshift({
      mediaType: artifact.mediaType,
      digest: promotedArtifact,
      size: promotedBody.length,
      artifactType: DEPLOYMENT_MANIFEST_ARTIFACT_TYPE,
    });
    w.registry.addManifest(REPO_PATH, fallbackTag, Buffer.from(JSON.stringify(listing)), fallback.mediaType);
    w.registry.requests.splice(0);
    const outcome = await publish(w, { release: rebuilt(w) });
    expect(outcome.error?.message).toBeUndefined();
    expect(outcome.result?.indexDigest).toBe(w.index.digest);
    expect(writes(w)).toEqual([]);
    const adopted = await readFile(outcome.result!.manifestFile, 'utf8');
    expect(adopted).toBe(ownYaml);
    expect(adopted).not.toContain('9.0.0');
  });

  it('re-run for another commit while 1.2.3 is a signed release → refused (TagConflictError), nothing written, nothing signed', async () => {
    const w = await world();
    expectEveryReleaseTagOnTheIndex(w, await publish(w));
    const before = releaseTags(w.registry);
    const signed = fulcio.count();
    w.registry.requests.splice(0);
    const other = 'fedcba9876543210fedcba9876543210fedcba98';
    const release = {
      ...w.release,
      annotations: { ...w.release.annotations, 'org.opencontainers.image.revision': other },
    };
    const outcome = await publish(w, { release, revision: other });
    const error = expectClearError(
      outcome,
      w,
      /acme\/edge-agent:1\.2\.3 already exists and points at sha256:[a-f0-9]{64}/,
      new RegExp(`not adopted as this commit's release: it was built from commit ${REVISION}, not ${other}`),
    );
    expect(error.name).toBe('TagConflictError');
    expect(writes(w)).toEqual([]);
    expect(fulcio.count()).toBe(signed);
    expect(releaseTags(w.registry)).toEqual(before);
  });

  // ---------------------------------------------------------------------------------------------------
  // Registry authentication

  it('registry 401 mid-publish (credentials revoked after the index PUT) → no release tag, names the inputs', async () => {
    const w = await world();
    let revoked = false;
    w.registry.interceptors.push((r) => {
      if (requests.manifestPut(w.index.digest)(r)) revoked = true;
      return false;
    });
    const injected = injectRegistry(
      w.registry,
      (r) => revoked && !requests.manifestPut(w.index.digest)(r),
      faults.unauthorized,
    );
    const outcome = await publish(w);
    expectNoReleaseTagButFallbackTagsMayExist(w, outcome);
    const error = expectClearError(
      outcome,
      w,
      /HTTP 401/,
      /Check the registry-username\/registry-password inputs/,
    );
    expect(error.name).toBe('RegistryAuthError');
    // Basic credentials that were accepted and are now refused: not retried.
    expect(injected.hits).toBe(1);
  });

  it('registry bearer token expiry mid-publish → a new token is fetched → complete', async () => {
    const w = await world({ auth: auth.bearer });
    let expired = false;
    let tokensAtExpiry = 0;
    w.registry.interceptors.push((r) => {
      if (!expired && requests.referrerPut(r)) {
        expired = true;
        tokensAtExpiry = count(w, requests.isToken);
        w.registry.tokens.clear();
      }
      return false;
    });
    const outcome = await publish(w);
    expectEveryReleaseTagOnTheIndex(w, outcome);
    expect(expired).toBe(true);
    expect(count(w, requests.isToken)).toBeGreaterThan(tokensAtExpiry);
    const firstReferrer = w.registry.requests.find(requests.referrerPut)!;
    expect(count(w, (r) => r.method === 'PUT' && r.url === firstReferrer.url)).toBe(2);
  });

  it('registry bearer token expiry while the token server answers 503 → no release tag', async () => {
    const w = await world({ auth: auth.bearer });
    let expired = false;
    w.registry.interceptors.push((r) => {
      if (!expired && requests.referrerPut(r)) {
        expired = true;
        w.registry.tokens.clear();
      }
      return false;
    });
    const injected = injectRegistry(w.registry, (r) => expired && requests.isToken(r), faults.status(503));
    const outcome = await publish(w);
    expectNoReleaseTagButFallbackTagsMayExist(w, outcome);
    expectClearError(outcome, w, /token request/, /503/);
    // Issue 11: retried for the 60 s budget of the operation (not 4 attempts).
    expect(injected.hits).toBeGreaterThan(10);
  });

  // ---------------------------------------------------------------------------------------------------
  // Sigstore

  it('Fulcio 500 once → retried by sigstore-js → complete', async () => {
    const w = await world();
    const rule = fulcio.inject(faults.status(500), { times: 1 });
    const outcome = await publish(w);
    expectEveryReleaseTagOnTheIndex(w, outcome);
    expect(rule.hits).toBe(1);
    expect(fulcio.count()).toBe(2);
  });

  it('Fulcio 500 forever → no release tag, the message names Fulcio', async () => {
    const w = await world();
    const rule = fulcio.inject(faults.status(500));
    const outcome = await publish(w);
    expectNoReleaseTagButFallbackTagsMayExist(w, outcome);
    const error = expectClearError(outcome, w, /signing failed at Fulcio \(http:\/\/127\.0\.0\.1:\d+\)/);
    expect(error.name).toBe('SigningError');
    // One attempt and sigstore-js's 2 retries; nothing was signed, so nothing attached.
    expect(rule.hits).toBe(3);
    expect(fallbackTags(w.registry)).toEqual([]);
  });

  it('Rekor 503 forever after 4 entries (mid-signing) → no release tag, fallback tags of what was signed exist', async () => {
    const w = await world();
    rekor.inject(faults.status(503), { skip: 4 });
    const outcome = await publish(w);
    expectNoReleaseTagButFallbackTagsMayExist(w, outcome);
    expectClearError(outcome, w, /signing failed at Rekor/);
    expect(fallbackTags(w.registry).sort()).toEqual(
      [w.index.digest, w.images[0]!.digest].map((d) => `sha256-${hexOf(d)}`).sort(),
    );
  });

  it('Rekor down (connection reset forever) → no release tag, the message names Rekor', async () => {
    const w = await world();
    rekor.inject(faults.reset);
    const outcome = await publish(w);
    expectNoReleaseTagButFallbackTagsMayExist(w, outcome);
    expectClearError(outcome, w, /signing failed at Rekor \(http:\/\/127\.0\.0\.1:\d+\)/);
    expect(rekor.count()).toBe(3);
  });

  it('TSA down (503 forever) → no release tag, the message names the timestamp authority', async () => {
    const w = await world();
    tsa.inject(faults.status(503));
    const outcome = await publish(w);
    expectNoReleaseTagButFallbackTagsMayExist(w, outcome);
    expectClearError(outcome, w, /signing failed at the timestamp authority \(http:\/\/127\.0\.0\.1:\d+\)/);
    expect(tsa.count()).toBe(3);
  });

  it('OIDC token missing (no id-token permission) → no release tag, names `permissions: id-token: write`', async () => {
    const w = await world();
    const outcome = await publish(w, { env: {} });
    expectNoReleaseTagButFallbackTagsMayExist(w, outcome);
    const error = expectClearError(outcome, w, /permissions: id-token: write/);
    expect(error.name).toBe('MissingIdTokenPermissionError');
    expect(fulcio.count()).toBe(0);
    expect(fallbackTags(w.registry)).toEqual([]);
  });

  it('verification failure (certificate-identity expects another workflow) → no release tag, no release', async () => {
    const evil = 'https://github.com/evil/fork/.github/workflows/release.yml@refs/heads/main';
    const w = await world({ inputs: { 'certificate-identity': evil } });
    const outcome = await publish(w);
    expectNoReleaseTagButFallbackTagsMayExist(w, outcome);
    const error = expectClearError(
      outcome,
      w,
      /no Sigstore bundle attached to .*acme\/edge-agent@sha256:[a-f0-9]{64} is signed by https:\/\/github\.com\/evil\/fork/,
      new RegExp(
        `by other signers: the bundle was signed by ${IDENTITY.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}`,
      ),
    );
    expect(error.name).toBe('AttachedVerificationError');
    expect(w.github.releases()).toEqual([]);
  });

  // ---------------------------------------------------------------------------------------------------
  // GitHub Releases API

  it('GitHub release API 500 then OK → retried → complete', async () => {
    const w = await world({
      github: {
        failures: [{ method: 'GET', pathPattern: /\/releases\/tags\/v1\.2\.3$/, status: 500, times: 1 }],
      },
    });
    const outcome = await publish(w);
    expectEveryReleaseTagOnTheIndex(w, outcome);
    expect(w.github.requests().filter((r) => /\/releases\/tags\/v1\.2\.3$/.test(r.path))).toHaveLength(2);
    expect(w.github.releases().find((r) => r.tag_name === RELEASE_GIT_TAG)?.assets.length).toBeGreaterThan(0);
  });

  it('GitHub release API 403 (token without contents: write) → no release tag, names `contents: write`', async () => {
    const w = await world({ github: { forbidUploads: true } });
    const outcome = await publish(w);
    expectNoReleaseTagButFallbackTagsMayExist(w, outcome);
    const error = expectClearError(
      outcome,
      w,
      /create release for tag v1\.2\.3 .* failed: HTTP 403/,
      /contents: write/,
    );
    expect(error.name).toBe('ReleaseApiError');
  });

  it('GitHub 422 on an asset upload → not retried → no release tag', async () => {
    const w = await world({
      github: {
        failures: [
          {
            method: 'POST',
            pathPattern: /\/assets\?name=/,
            status: 422,
            times: 1,
            body: {
              message: 'Validation Failed',
              errors: [{ resource: 'ReleaseAsset', code: 'invalid', field: 'name' }],
            },
          },
        ],
      },
    });
    const outcome = await publish(w);
    expectNoReleaseTagButFallbackTagsMayExist(w, outcome);
    expectClearError(outcome, w, /upload release asset for asset \S+ \(tag v1\.2\.3\) .* failed: HTTP 422/);
    expect(w.github.requests().filter((r) => r.server === 'uploads')).toHaveLength(1);
  });

  it('GitHub 502 on an upload leaving a starter asset → retried, starter replaced → complete', async () => {
    const w = await world({
      github: {
        failures: [
          {
            method: 'POST',
            pathPattern: /\/assets\?name=edgeship-deployment-1\.2\.3\.yaml$/,
            status: 502,
            times: 1,
            leavesStarterAsset: true,
          },
        ],
      },
    });
    const outcome = await publish(w);
    expectEveryReleaseTagOnTheIndex(w, outcome);
    const assets = w.github.releases().find((r) => r.tag_name === RELEASE_GIT_TAG)!.assets;
    expect(assets.every((a) => a.state === 'uploaded')).toBe(true);
    expect(assets.filter((a) => a.name === 'edgeship-deployment-1.2.3.yaml')).toHaveLength(1);
  });

  // ---------------------------------------------------------------------------------------------------
  // Refusals

  it('tag conflict (1.2.3 exists elsewhere, overwrite off) → nothing written, nothing signed', async () => {
    const w = await world();
    const other = seedRelease(w, '1.2.3-rebuilt', ['1.2.3']);
    const before = releaseTags(w.registry);
    const outcome = await publish(w);
    expectNoReleaseTagButFallbackTagsMayExist(w, outcome, before);
    const error = expectClearError(
      outcome,
      w,
      new RegExp(`acme/edge-agent:1\\.2\\.3 already exists and points at ${other.digest}`),
      /overwrite: true/,
    );
    expect(error.name).toBe('TagConflictError');
    expect(w.registry.manifests.has(`${REPO_PATH}@${w.index.digest}`)).toBe(false);
    expect(fulcio.count()).toBe(0);
  });

  it('a stable release below production (2.0.0) is a maintenance release: only its own line moves', async () => {
    const w = await world();
    const old = seedRelease(w, '2.0.0', ['2.0.0', '2.0', '2', 'latest', 'production']);
    const outcome = await publish(w);
    expect(outcome.error?.message).toBeUndefined();
    const on = (digest: string, tags: string[]) => tags.map((t) => [t, digest]);
    expect(Object.fromEntries(releaseTags(w.registry))).toEqual(
      Object.fromEntries([
        ...on(old.digest, ['2.0.0', '2.0', '2', 'latest', 'production']),
        ...on(w.index.digest, ['1.2.3', '1.2', '1']),
      ]),
    );
    expect(outcome.result?.tags.sort()).toEqual(['1', '1.2', '1.2.3']);
    const plan = outcome.result!.manifest.tagPlan!;
    expect(plan.map((d) => [d.tag, d.moved])).toEqual([
      ['1.2.3', true],
      ['1.2', true],
      ['1', true],
      ['latest', false],
      ['production', false],
    ]);
    expect(plan.find((d) => d.tag === 'production')).toMatchObject({
      previous: { index: old.digest, version: '2.0.0' },
      reason: expect.stringMatching(/stays on 2\.0\.0.*maintenance release of the 1\.2 line/),
    });
    expect(outcome.result!.manifest.image.tags.sort()).toEqual(['1', '1.2', '1.2.3']);
  });

  it('maintenance line: a higher 1.x keeps `1`; allow-downgrade rolls production and latest back', async () => {
    const w = await world({ inputs: { 'allow-downgrade': 'true' } });
    const two = seedRelease(w, '2.0.0', ['2.0.0', '2.0', '2', 'latest', 'production']);
    const nine = seedRelease(w, '1.9.0', ['1.9.0', '1.9', '1']);
    const outcome = await publish(w);
    expect(outcome.error?.message).toBeUndefined();
    const tags = Object.fromEntries(releaseTags(w.registry));
    expect(tags).toMatchObject({ '1': nine.digest, '2': two.digest, '2.0.0': two.digest });
    for (const tag of ['1.2.3', '1.2', 'latest', 'production']) expect(tags[tag]).toBe(w.index.digest);
    const plan = outcome.result!.manifest.tagPlan!;
    expect(plan.find((d) => d.tag === '1')?.reason).toMatch(/stays on 1\.9\.0/);
    expect(plan.find((d) => d.tag === 'production')?.reason).toMatch(
      /rolled back from 2\.0\.0 \(allow-downgrade\)/,
    );
  });

  it('a prerelease below staging (2.0.0-rc.1) → nothing written, names allow-downgrade', async () => {
    const w = await world();
    const release = releaseMetadata({
      ref: 'refs/tags/v1.2.3-rc.1',
      sha: REVISION,
      repository: 'acme/edge-agent',
      serverUrl: 'https://github.com',
      now: new Date('2026-01-02T03:04:05Z'),
    });
    seedRelease(w, '2.0.0-rc.1', ['2.0.0-rc.1', 'staging']);
    const before = releaseTags(w.registry);
    const outcome = await publish(w, { release });
    expectNoReleaseTagButFallbackTagsMayExist(w, outcome, before);
    expectClearError(outcome, w, /1\.2\.3-rc\.1/, /2\.0\.0-rc\.1/, /allow-downgrade/);
    expect(fulcio.count()).toBe(0);
  });

  it('a platform missing from the gate scans → no release tag', async () => {
    const w = await world();
    const gate = { ...w.gate, scans: w.gate.scans.filter((s) => s.platform === 'linux/amd64') };
    const outcome = await publish(w, { gate });
    expectNoReleaseTagButFallbackTagsMayExist(w, outcome);
    expectClearError(outcome, w, /no scan of linux\/arm64: it was not gated, so it cannot be published/);
  });

  it('a platform missing from the gate scans, signing off → no release tag', async () => {
    const w = await world({ inputs: { signing: 'off' } });
    const gate = { ...w.gate, scans: w.gate.scans.filter((s) => s.platform === 'linux/amd64') };
    const outcome = await publish(w, { gate });
    expectNoReleaseTagButFallbackTagsMayExist(w, outcome);
    expectClearError(outcome, w, /linux\/arm64/);
    expect(fallbackTags(w.registry)).toEqual([]);
  });
});
