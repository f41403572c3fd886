import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';

import { RegistryClient } from '../../../src/registry/client.js';
import { OCI_IMAGE_INDEX, OCI_IMAGE_MANIFEST } from '../../../src/registry/media-types.js';
import { digestOf } from '../../../src/registry/digest.js';
import {
  EMPTY_JSON_DIGEST,
  fallbackTag,
  parseReferrersIndex,
  type SubjectDescriptor,
} from '../../../src/registry/referrer-manifest.js';
import { listReferrers, ReferrerWriter, type ReferrersRegistry } from '../../../src/registry/referrers.js';
import {
  AttachedVerificationError,
  attachBundle,
  verifyAttached,
} from '../../../src/sign/bundle-referrers.js';
import { SIGSTORE_BUNDLE_V03_MEDIA_TYPE } from '../../../src/sign/cosign-format.js';
import { COSIGN_SIGN_PREDICATE_TYPE, SPDX_PREDICATE_TYPE } from '../../../src/sign/predicates.js';
import { attest, loadSigningKey, signDigest, type SignerConfig } from '../../../src/sign/signer.js';
import { trustMaterialFromJSON, type TrustMaterial } from '../../../src/sign/verify.js';
import {
  GITHUB_ACTIONS_ISSUER,
  startSigstoreStack,
  type SigstoreStack,
} from '../../e2e/harness/sigstore-stack.js';
import { FakeRegistry } from '../registry/fake-registry.js';

const PATH = 'acme/agent';
const IDENTITY = 'https://github.com/acme/agent/.github/workflows/release.yml@refs/tags/v1';
const EXPECTED = { kind: 'certificate' as const, identity: IDENTITY, issuer: GITHUB_ACTIONS_ISSUER };
const CREATED = '2026-01-02T03:04:05Z';

let registry: FakeRegistry;
let client: RegistryClient;
/** The referrer writer of one publish through `client`. */
let writer: ReferrerWriter;

function addImage(registryUnderTest: FakeRegistry, tag: string, seed: string): SubjectDescriptor {
  const body = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: OCI_IMAGE_MANIFEST,
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', size: 2, digest: EMPTY_JSON_DIGEST },
      layers: [],
      annotations: { seed },
    }),
  );
  const digest = registryUnderTest.addManifest(PATH, tag, body, OCI_IMAGE_MANIFEST);
  return { mediaType: OCI_IMAGE_MANIFEST, digest, size: body.length };
}

beforeEach(async () => {
  registry = await new FakeRegistry().start();
  // http:// up front: concurrent first requests race in the client's https→http probing.
  client = new RegistryClient({ registry: `http://${registry.host}`, retry: { attempts: 1 } });
  writer = new ReferrerWriter(client);
});

afterEach(async () => {
  await client.close();
  await registry.stop();
});

describe('attachBundle with the fallback tag', () => {
  it('uploads config and bundle, PUTs the referrer by digest and starts the sha256-<hex> index', async () => {
    const subject = addImage(registry, 'v1', 'a');
    const bundle = Buffer.from('{"mediaType":"application/vnd.dev.sigstore.bundle.v0.3+json"}');
    const result = await attachBundle(writer, PATH, subject, bundle, COSIGN_SIGN_PREDICATE_TYPE, CREATED);

    expect(result.via).toBe('fallback-tag');
    expect(result.fallbackTag).toBe(fallbackTag(subject.digest));
    expect(result.fallbackUpdated).toBe(true);
    expect(registry.blobs.get(`${PATH}@${EMPTY_JSON_DIGEST}`)?.toString()).toBe('{}');
    expect(registry.blobs.get(`${PATH}@${digestOf(bundle)}`)?.equals(bundle)).toBe(true);
    const stored = registry.manifests.get(`${PATH}@${result.referrer.digest}`);
    expect(stored?.mediaType).toBe(OCI_IMAGE_MANIFEST);
    const manifest = JSON.parse(stored?.body.toString() ?? '{}') as Record<string, unknown>;
    expect(manifest.subject).toEqual({
      mediaType: subject.mediaType,
      size: subject.size,
      digest: subject.digest,
    });
    expect(manifest.artifactType).toBe(SIGSTORE_BUNDLE_V03_MEDIA_TYPE);

    const indexDigest = registry.tags.get(PATH)?.get(fallbackTag(subject.digest));
    const index = registry.manifests.get(`${PATH}@${indexDigest ?? ''}`);
    expect(index?.mediaType).toBe(OCI_IMAGE_INDEX);
    expect(parseReferrersIndex(index?.body ?? '')).toEqual([result.referrer]);
    expect(result.referrer).toMatchObject({
      mediaType: OCI_IMAGE_MANIFEST,
      artifactType: SIGSTORE_BUNDLE_V03_MEDIA_TYPE,
      annotations: {
        'dev.sigstore.bundle.content': 'dsse-envelope',
        'dev.sigstore.bundle.predicateType': COSIGN_SIGN_PREDICATE_TYPE,
        'org.opencontainers.image.created': CREATED,
      },
    });
  });

  it('appends further referrers, does not rewrite an index that already lists one, and lists them', async () => {
    const subject = addImage(registry, 'v1', 'a');
    const first = await attachBundle(
      writer,
      PATH,
      subject,
      Buffer.from('{"n":1}'),
      COSIGN_SIGN_PREDICATE_TYPE,
      CREATED,
    );
    const second = await attachBundle(
      writer,
      PATH,
      subject,
      Buffer.from('{"n":2}'),
      SPDX_PREDICATE_TYPE,
      CREATED,
    );
    expect(second.fallbackUpdated).toBe(true);
    const puts = () =>
      registry
        .registryRequests()
        .filter((r) => r.startsWith('PUT') && r.includes(fallbackTag(subject.digest)));
    expect(puts()).toHaveLength(2);
    const again = await attachBundle(
      writer,
      PATH,
      subject,
      Buffer.from('{"n":2}'),
      SPDX_PREDICATE_TYPE,
      CREATED,
    );
    expect(again.fallbackUpdated).toBe(false);
    expect(puts()).toHaveLength(2);
    const listed = await listReferrers(client, PATH, subject.digest);
    expect(listed.map((d) => d.digest)).toEqual([first.referrer.digest, second.referrer.digest]);
    expect(await listReferrers(client, PATH, `sha256:${'00'.repeat(32)}`)).toEqual([]);
  });

  it('reads the fallback index ahead with load(), so the next attach does not read it', async () => {
    const subject = addImage(registry, 'v1', 'a');
    await listReferrers(client, PATH, subject.digest); // the client learns there is no referrers API
    const reads = () =>
      registry
        .registryRequests()
        .filter((r) => r.startsWith('GET') && r.includes(fallbackTag(subject.digest)));
    const before = reads().length;
    await writer.load(PATH, subject);
    await writer.load(PATH, subject); // known now (absent): not read again
    expect(reads()).toHaveLength(before + 1);
    const first = await attachBundle(
      writer,
      PATH,
      subject,
      Buffer.from('{"n":1}'),
      COSIGN_SIGN_PREDICATE_TYPE,
      CREATED,
    );
    expect(first.fallbackUpdated).toBe(true);
    expect(reads()).toHaveLength(before + 1);
    // Another writer finds the index there, loads it, and keeps the first referrer.
    const other = new ReferrerWriter(client);
    await other.load(PATH, subject);
    const second = await attachBundle(
      other,
      PATH,
      subject,
      Buffer.from('{"n":2}'),
      SPDX_PREDICATE_TYPE,
      CREATED,
    );
    expect(reads()).toHaveLength(before + 2);
    expect((await listReferrers(client, PATH, subject.digest)).map((d) => d.digest)).toEqual([
      first.referrer.digest,
      second.referrer.digest,
    ]);
  });

  it('serialises concurrent attaches to one subject so none is lost', async () => {
    const subject = addImage(registry, 'v1', 'a');
    const results = await Promise.all(
      Array.from({ length: 6 }, (_, i) =>
        attachBundle(writer, PATH, subject, Buffer.from(`{"n":${i}}`), COSIGN_SIGN_PREDICATE_TYPE, CREATED),
      ),
    );
    const listed = await listReferrers(client, PATH, subject.digest);
    expect(new Set(listed.map((d) => d.digest))).toEqual(new Set(results.map((r) => r.referrer.digest)));
  });

  it('refuses to overwrite a fallback tag that is not an image index', async () => {
    const subject = addImage(registry, 'v1', 'a');
    addImage(registry, fallbackTag(subject.digest), 'squatter');
    await expect(
      attachBundle(writer, PATH, subject, Buffer.from('{}x'), COSIGN_SIGN_PREDICATE_TYPE, CREATED),
    ).rejects.toThrow(/is a application\/vnd\.oci\.image\.manifest\.v1\+json, not the OCI image index/);
  });
});

describe('attachBundle with a referrers API', () => {
  it('leaves the fallback tag alone when the registry lists referrers itself', async () => {
    const subject = addImage(registry, 'v1', 'a');
    const answer = Buffer.from(
      JSON.stringify({ schemaVersion: 2, mediaType: OCI_IMAGE_INDEX, manifests: [] }),
    );
    const calls: string[] = [];
    const withApi: ReferrersRegistry = {
      registry: client.registry,
      getManifest: (p, r) => client.getManifest(p, r),
      putManifest: (p, r, b, m) => client.putManifest(p, r, b, m),
      getBlob: (p, d) => client.getBlob(p, d),
      uploadBlob: (p, b, d) => client.uploadBlob(p, b, d),
      getReferrers: async (p, d) => {
        calls.push(`${p}@${d}`);
        return answer;
      },
    };
    const result = await attachBundle(
      new ReferrerWriter(withApi),
      PATH,
      subject,
      Buffer.from('{"n":1}'),
      COSIGN_SIGN_PREDICATE_TYPE,
      CREATED,
    );
    expect(result.via).toBe('referrers-api');
    expect(calls).toEqual([`${PATH}@${subject.digest}`]);
    expect(registry.tags.get(PATH)?.has(fallbackTag(subject.digest))).toBe(false);
    expect(await listReferrers(withApi, PATH, subject.digest)).toEqual([]);

    const without: ReferrersRegistry = { ...withApi, getReferrers: async () => undefined };
    const fallback = await attachBundle(
      new ReferrerWriter(without),
      PATH,
      subject,
      Buffer.from('{"n":2}'),
      COSIGN_SIGN_PREDICATE_TYPE,
      CREATED,
    );
    expect(fallback.via).toBe('fallback-tag');
  });
});

describe('verifyAttached', () => {
  let stack: SigstoreStack;
  let trust: TrustMaterial;
  let keyless: SignerConfig;

  beforeAll(async () => {
    stack = await startSigstoreStack();
    trust = trustMaterialFromJSON(stack.trustedRoot);
    keyless = {
      identity: {
        kind: 'keyless',
        tokenProvider: { getToken: async () => stack.oidcToken(IDENTITY) },
        fulcioURL: stack.fulcioURL,
      },
      rekorURL: stack.rekorURL,
      tsaURL: stack.tsaURL,
    };
  });

  afterAll(async () => {
    await stack?.stop();
  });

  it('verifies every attached bundle and sets other signers aside', async () => {
    const subject = addImage(registry, 'v1', 'a');
    const signature = await signDigest(keyless, subject.digest);
    const sbom = await attest(keyless, subject.digest, SPDX_PREDICATE_TYPE, { spdxVersion: 'SPDX-2.3' });
    await attachBundle(writer, PATH, subject, signature.bundle, signature.predicateType, CREATED);
    await attachBundle(writer, PATH, subject, sbom.bundle, sbom.predicateType, CREATED);
    // Someone else's (sound) signature and an unrelated artifact are attached too.
    const otherIdentity = await signDigest(
      {
        ...keyless,
        identity: {
          kind: 'keyless',
          tokenProvider: {
            getToken: async () =>
              stack.oidcToken('https://github.com/other/repo/.github/workflows/x.yml@refs/heads/main'),
          },
          fulcioURL: stack.fulcioURL,
        },
      },
      subject.digest,
    );
    await attachBundle(writer, PATH, subject, otherIdentity.bundle, otherIdentity.predicateType, CREATED);

    const result = await verifyAttached(client, PATH, subject.digest, trust, EXPECTED, {
      requiredPredicateTypes: [COSIGN_SIGN_PREDICATE_TYPE, SPDX_PREDICATE_TYPE],
    });
    expect(result.verified.map((v) => v.predicateType).sort()).toEqual(
      [COSIGN_SIGN_PREDICATE_TYPE, SPDX_PREDICATE_TYPE].sort(),
    );
    expect(result.verified.every((v) => v.identity === IDENTITY && v.issuer === GITHUB_ACTIONS_ISSUER)).toBe(
      true,
    );
    expect(result.otherSigners).toHaveLength(1);
    expect(result.otherSigners[0]?.message).toMatch(/signed by https:\/\/github\.com\/other\/repo/);

    const key = loadSigningKey(
      (await import('node:crypto'))
        .generateKeyPairSync('ec', { namedCurve: 'prime256v1' })
        .privateKey.export({ format: 'pem', type: 'pkcs8' })
        .toString(),
    );
    const keySigned = await signDigest(
      { identity: { kind: 'key', key }, rekorURL: stack.rekorURL, tsaURL: stack.tsaURL },
      subject.digest,
    );
    await attachBundle(writer, PATH, subject, keySigned.bundle, keySigned.predicateType, CREATED);
    const byKey = await verifyAttached(client, PATH, subject.digest, trust, {
      kind: 'key',
      publicKey: key.publicKeyPem,
    });
    expect(byKey.verified).toHaveLength(1);
    expect(byKey.verified[0]?.publicKeyHint).toBe(key.hint);
    expect(byKey.otherSigners).toHaveLength(3);
    await expect(verifyAttached(client, PATH, subject.digest, trust, EXPECTED)).resolves.toMatchObject({
      verified: [{}, {}],
    });
  });

  it('fails on an altered bundle, naming the referrer and the reason', async () => {
    const subject = addImage(registry, 'v1', 'a');
    const signature = await signDigest(keyless, subject.digest);
    await attachBundle(writer, PATH, subject, signature.bundle, signature.predicateType, CREATED);
    const json = JSON.parse(signature.bundle.toString()) as {
      dsseEnvelope: { signatures: { sig: string }[] };
    };
    const sig = Buffer.from(json.dsseEnvelope.signatures[0]?.sig ?? '', 'base64');
    sig[10] = (sig[10] ?? 0) ^ 0xff;
    if (json.dsseEnvelope.signatures[0]) json.dsseEnvelope.signatures[0].sig = sig.toString('base64');
    const tampered = await attachBundle(
      writer,
      PATH,
      subject,
      Buffer.from(JSON.stringify(json)),
      COSIGN_SIGN_PREDICATE_TYPE,
      CREATED,
    );
    const error = (await verifyAttached(client, PATH, subject.digest, trust, EXPECTED).catch(
      (e: unknown) => e,
    )) as AttachedVerificationError;
    expect(error).toBeInstanceOf(AttachedVerificationError);
    expect(error.message).toContain(`referrer ${tampered.referrer.digest}`);
    expect(error.message).toMatch(/SIGNATURE_MISMATCH: the DSSE signature does not verify/);
    expect(error.failures).toHaveLength(1);
    expect(error.verified).toHaveLength(1);
  });

  it('fails on a signature copied from another image and on a referrer listed for the wrong subject', async () => {
    const subject = addImage(registry, 'v1', 'a');
    const other = addImage(registry, 'v2', 'b');
    const foreign = await signDigest(keyless, other.digest);
    await attachBundle(writer, PATH, subject, foreign.bundle, foreign.predicateType, CREATED);
    await expect(verifyAttached(client, PATH, subject.digest, trust, EXPECTED)).rejects.toThrow(
      /WRONG_SUBJECT: the statement is about sha256:[0-9a-f]+, not sha256/,
    );
  });

  it('fails when nothing, or nothing by the expected signer, or not every required type is attached', async () => {
    const subject = addImage(registry, 'v1', 'a');
    await expect(verifyAttached(client, PATH, subject.digest, trust, EXPECTED)).rejects.toThrow(
      /no Sigstore bundle attached to 127\.0\.0\.1:\d+\/acme\/agent@sha256:[0-9a-f]+ is signed by/,
    );
    const signature = await signDigest(keyless, subject.digest);
    await attachBundle(writer, PATH, subject, signature.bundle, signature.predicateType, CREATED);
    await expect(
      verifyAttached(client, PATH, subject.digest, trust, {
        ...EXPECTED,
        identity: 'https://github.com/evil/x',
      }),
    ).rejects.toThrow(
      /is signed by https:\/\/github\.com\/evil\/x .*1 by other signers: the bundle was signed by https:\/\/github\.com\/acme/,
    );
    await expect(
      verifyAttached(client, PATH, subject.digest, trust, EXPECTED, {
        requiredPredicateTypes: [SPDX_PREDICATE_TYPE],
      }),
    ).rejects.toThrow(/no bundle by .* with predicate type https:\/\/spdx\.dev\/Document/);
  });

  it('flags a manifest whose predicate annotation disagrees with the signed statement', async () => {
    const subject = addImage(registry, 'v1', 'a');
    const signature = await signDigest(keyless, subject.digest);
    await attachBundle(writer, PATH, subject, signature.bundle, SPDX_PREDICATE_TYPE, CREATED);
    await expect(verifyAttached(client, PATH, subject.digest, trust, EXPECTED)).rejects.toThrow(
      /PREDICATE_TYPE_MISMATCH: the manifest annotation says https:\/\/spdx\.dev\/Document/,
    );
  });

  it('ignores referrers that are not Sigstore bundles', async () => {
    const subject = addImage(registry, 'v1', 'a');
    const signature = await signDigest(keyless, subject.digest);
    await attachBundle(writer, PATH, subject, signature.bundle, signature.predicateType, CREATED);
    const sbomArtifact = Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: OCI_IMAGE_MANIFEST,
        artifactType: 'application/example.sbom',
        config: { mediaType: 'application/vnd.oci.empty.v1+json', size: 2, digest: EMPTY_JSON_DIGEST },
        layers: [],
        subject: { mediaType: subject.mediaType, size: subject.size, digest: subject.digest },
      }),
    );
    const digest = registry.addManifest(PATH, undefined, sbomArtifact, OCI_IMAGE_MANIFEST);
    const tag = fallbackTag(subject.digest);
    const indexDigest = registry.tags.get(PATH)?.get(tag) ?? '';
    const index = JSON.parse(registry.manifests.get(`${PATH}@${indexDigest}`)?.body.toString() ?? '{}') as {
      manifests: unknown[];
    };
    index.manifests.push(
      {
        mediaType: OCI_IMAGE_MANIFEST,
        size: sbomArtifact.length,
        digest,
        artifactType: 'application/example.sbom',
      },
      // Listed like cosign lists its own referrers: config media type as artifactType.
      {
        mediaType: OCI_IMAGE_MANIFEST,
        size: sbomArtifact.length,
        digest,
        artifactType: 'application/vnd.oci.empty.v1+json',
      },
    );
    registry.addManifest(PATH, tag, Buffer.from(JSON.stringify(index)), OCI_IMAGE_INDEX);
    const result = await verifyAttached(client, PATH, subject.digest, trust, EXPECTED);
    expect(result.verified).toHaveLength(1);
  });
});
