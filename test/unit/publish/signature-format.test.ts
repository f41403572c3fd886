/**
 * `signature-format`: what a publish writes to the registry in each format.
 *
 * `bundle` must stay what Edgeship wrote before the input existed, request for request and manifest for
 * manifest: the golden file (fixtures/bundle-format-golden.json) was recorded from `main` before classic
 * signatures were added (`UPDATE_GOLDEN=1` rewrites it). Digests that change with every signature (bundles,
 * referrer manifests, the deployment manifest, which carries its creation time) are numbered in order of first
 * appearance, sizes of signed content and creation times are blanked: everything else is compared as is.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { loadPolicy } from '../../../src/policy/index.js';
import { expectedSignerFor, signerConfig } from '../../../src/publish/publish-deps.js';
import { publishRelease, type PublishResult } from '../../../src/publish/release.js';
import {
  ANNOTATION_CERTIFICATE,
  ANNOTATION_REKOR_BUNDLE,
  ANNOTATION_SIGNATURE,
  classicTag,
  DSSE_ENVELOPE_MEDIA_TYPE,
  parseClassicManifest,
  SIMPLE_SIGNING_MEDIA_TYPE,
} from '../../../src/sign/classic-format.js';
import { trustMaterialFromJSON } from '../../../src/sign/verify.js';
import { startOidcTokenEndpoint } from '../../e2e/harness/oidc-issuer.js';
import { startSigstoreStack, type SigstoreStack } from '../../e2e/harness/sigstore-stack.js';
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
  releaseFor,
  RELEASE_REF,
  REPO_PATH,
  REVISION,
  settingsFor,
} from './harness.js';

const GOLDEN = path.join(import.meta.dirname, 'fixtures', 'bundle-format-golden.json');

/** What one publish wrote, with the per-signature randomness numbered or blanked. */
export interface PublishShape {
  requests: string[];
  manifests: Record<string, unknown>;
  tags: Record<string, string>;
}

interface Published {
  registry: FakeRegistry;
  result: PublishResult;
  /** Digests the test can know up front (images, index). */
  stable: Set<string>;
}

describe('signature-format', () => {
  let stack: SigstoreStack;
  let oidc: Awaited<ReturnType<typeof startOidcTokenEndpoint>>;
  let scratch: string;
  let trustedRootFile: string;
  const registries: FakeRegistry[] = [];

  beforeAll(async () => {
    stack = await startSigstoreStack();
    oidc = await startOidcTokenEndpoint(() => stack.oidcToken(IDENTITY));
    scratch = await mkdtemp(path.join(os.tmpdir(), 'edgeship-sigfmt-'));
    trustedRootFile = path.join(scratch, 'trusted_root.json');
    await writeFile(trustedRootFile, JSON.stringify(stack.trustedRoot));
  });

  afterAll(async () => {
    await Promise.all(registries.map((r) => r.stop()));
    await oidc?.stop();
    await stack?.stop();
    if (scratch) await rm(scratch, { recursive: true, force: true });
  });

  async function publish(inputs: Record<string, string>): Promise<Published> {
    const registry = await new FakeRegistry({ auth: auth.basic }).start();
    registries.push(registry);
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
      fulcioURL: stack.fulcioURL,
      rekorURL: stack.rekorURL,
      tsaURL: stack.tsaURL,
      trustedRootFile,
      githubToken: 'unused',
      inputs,
    });
    const policy = loadPolicy(settings.policy);
    const gate = await passingGate(images, policy, reportsDir);
    registry.requests.splice(0);
    const client = clientFor(registry);
    const signer = signerConfig(settings, oidc.env)!;
    try {
      const result = await publishRelease(
        {
          settings,
          policy,
          release: releaseFor(),
          images,
          gate,
          git: {
            ref: RELEASE_REF,
            revision: REVISION,
            workflowRun: 'https://github.com/acme/edge-agent/actions/runs/4242',
          },
          reportsDir,
        },
        {
          registry: client,
          log: memoryLog(),
          signer,
          expectedSigner: expectedSignerFor(settings, signer),
          trustMaterial: async () => trustMaterialFromJSON(stack.trustedRoot),
          readText: (file) => readFile(file, 'utf8'),
          writeText: (file, text) => writeFile(file, text),
          now: () => new Date(),
        },
      );
      const stable = new Set([...images.map((i) => i.digest), result.indexDigest]);
      for (const image of images) {
        stable.add(image.configDigest);
        for (const layer of image.layers) stable.add(layer.digest);
      }
      return { registry, result, stable };
    } finally {
      await client.close();
    }
  }

  it('bundle: the same requests and manifests as before the input existed', async () => {
    const published = await publish({ 'signature-format': 'bundle' });
    const shape = publishShape(published);
    if (process.env.UPDATE_GOLDEN === '1') {
      await writeFile(GOLDEN, `${JSON.stringify(shape, null, 2)}\n`);
    }
    const golden = JSON.parse(await readFile(GOLDEN, 'utf8')) as PublishShape;
    expect(shape.requests).toEqual(golden.requests);
    expect(shape.manifests).toEqual(golden.manifests);
    expect(shape.tags).toEqual(golden.tags);
  }, 60_000);

  /** The layers of a `.sig`/`.att` tag, with their blobs. */
  function classicLayers(registry: FakeRegistry, digest: string, kind: 'sig' | 'att') {
    const tagged = registry.tags.get(REPO_PATH)?.get(classicTag(digest, kind));
    if (!tagged) return [];
    const body = registry.manifests.get(`${REPO_PATH}@${tagged}`)!.body;
    return parseClassicManifest(body).map((layer) => ({
      ...layer,
      blob: registry.blobs.get(`${REPO_PATH}@${layer.digest}`) ?? registry.blobs.get(layer.digest),
    }));
  }

  it("classic: cosign's .sig and .att tags on the index and each image, no bundle referrer, verified after publish", async () => {
    const { registry, result } = await publish({ 'signature-format': 'classic' });
    const subjects = [result.indexDigest, ...result.manifest.platforms.map((p) => p.digest)];
    for (const digest of subjects) {
      const [signature, ...more] = classicLayers(registry, digest, 'sig');
      expect(more).toHaveLength(0);
      expect(signature!.mediaType).toBe(SIMPLE_SIGNING_MEDIA_TYPE);
      expect(Object.keys(signature!.annotations).sort()).toEqual(
        [ANNOTATION_SIGNATURE, ANNOTATION_CERTIFICATE, ANNOTATION_REKOR_BUNDLE].sort(),
      );
      expect(JSON.parse(signature!.blob!.toString('utf8'))).toEqual({
        critical: {
          identity: { 'docker-reference': `${registry.host}/${REPO_PATH}` },
          image: { 'docker-manifest-digest': digest },
          type: 'cosign container image signature',
        },
        optional: null,
      });
      const attestations = classicLayers(registry, digest, 'att');
      expect(attestations.every((a) => a.mediaType === DSSE_ENVELOPE_MEDIA_TYPE)).toBe(true);
      expect(attestations.every((a) => a.annotations[ANNOTATION_SIGNATURE] === '')).toBe(true);
    }
    // Index: the deployment manifest; each image: SBOM and vulnerability scan.
    expect(
      classicLayers(registry, result.indexDigest, 'att').map((a) => a.annotations.predicateType),
    ).toEqual(['https://edgeship.dev/deployment-manifest/v1']);
    expect(result.signatures.every((s) => s.format === 'classic')).toBe(true);
    expect(result.manifest.signatures.format).toBe('classic');
    expect(result.manifest.signatures.bundles).toEqual([]);
    expect(result.manifest.signatures.classic).toHaveLength(2 + 3 * PLATFORMS.length - 1);
    expect(result.manifest.platforms.every((p) => p.sbom.attestation === undefined)).toBe(true);
  }, 60_000);

  it("both: one signature per attestation serves both formats (the .att layer is the bundle's envelope)", async () => {
    const { registry, result } = await publish({});
    expect(result.manifest.signatures.format).toBe('both');
    const bundles = result.signatures.filter((s) => s.format === 'bundle');
    const classic = result.signatures.filter((s) => s.format === 'classic');
    expect(bundles).toHaveLength(2 + 3 * PLATFORMS.length);
    expect(classic).toHaveLength(2 + 3 * PLATFORMS.length);
    const image = result.manifest.platforms[0]!.digest;
    const [sbom] = classicLayers(registry, image, 'att');
    const referrer = bundles.find(
      (b) => b.subject === image && b.predicateType === sbom!.annotations.predicateType,
    );
    const stored = registry.manifests.get(`${REPO_PATH}@${(referrer as { referrer: string }).referrer}`)!;
    const layerDigest = (JSON.parse(stored.body.toString('utf8')) as { layers: Array<{ digest: string }> })
      .layers[0]!.digest;
    const bundle = JSON.parse(registry.blobs.get(`${REPO_PATH}@${layerDigest}`)!.toString('utf8')) as {
      dsseEnvelope: { signatures: Array<{ sig: string }> };
    };
    const envelope = JSON.parse(sbom!.blob!.toString('utf8')) as { signatures: Array<{ sig: string }> };
    expect(envelope.signatures[0]!.sig).toBe(bundle.dsseEnvelope.signatures[0]!.sig);
  }, 60_000);
});

/** The requests and stored manifests of a publish, with randomness numbered or blanked (see the header). */
export function publishShape({ registry, stable }: Published): PublishShape {
  const names = new Map<string, string>();
  const name = (hex: string): string => {
    const digest = `sha256:${hex}`;
    if (stable.has(digest)) return digest;
    let n = names.get(hex);
    if (!n) {
      n = `<digest ${names.size + 1}>`;
      names.set(hex, n);
    }
    return n;
  };
  const normalise = (text: string): string =>
    text
      .replace(/%3A/gi, ':')
      .replace(/sha256[:-]([a-f0-9]{64})/g, (match, hex: string) => {
        const named = name(hex);
        return named.startsWith('sha256:') ? match : match.startsWith('sha256-') ? `tag${named}` : named;
      })
      .replace(/\/blobs\/uploads\/[^?]+/, '/blobs/uploads/<id>')
      .replace(/([?&])(_state|uuid|upload)=[^&]*/g, '$1$2=<x>');
  // The tags are read (the plan) and written (in rounds, tags.test.ts checks them) with requests that run at
  // once: their order within a run of tag requests is the network's, so each such run is compared sorted.
  const all = registry.requests.map((r) => `${r.method} ${normalise(r.url)}`);
  const isTagRequest = (r: string) => /^(HEAD|PUT) \/v2\/[^ ]+\/manifests\/(?!<|sha256)[^/]+$/.test(r);
  const requests: string[] = [];
  for (let i = 0; i < all.length;) {
    let end = i + 1;
    if (isTagRequest(all[i]!)) while (end < all.length && isTagRequest(all[end]!)) end++;
    requests.push(...all.slice(i, end).sort());
    i = end;
  }
  const manifests: Record<string, unknown> = {};
  for (const [key, stored] of registry.manifests) {
    if (!key.startsWith(`${REPO_PATH}@`)) continue;
    const digest = key.slice(REPO_PATH.length + 1);
    if (stable.has(digest)) continue;
    const body = JSON.parse(normalise(stored.body.toString('utf8'))) as unknown;
    manifests[normalise(digest)] = { mediaType: stored.mediaType, body: blank(body) };
  }
  const tags: Record<string, string> = {};
  for (const [tag, digest] of registry.tags.get(REPO_PATH) ?? new Map<string, string>()) {
    tags[normalise(tag)] = normalise(digest);
  }
  return { requests, manifests, tags };
}

/** Sizes of signed content and creation times change with every run: blanked. */
function blank(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(blank);
  if (value && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [key, v] of Object.entries(value as Record<string, unknown>)) {
      if (key === 'size' && typeof v === 'number') out[key] = '<size>';
      else if (key === 'org.opencontainers.image.created') out[key] = '<created>';
      else out[key] = blank(v);
    }
    return out;
  }
  return value;
}
