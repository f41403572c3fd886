/**
 * cosign's classic `.sig` / `.att` tags: appending keeps what the tag already holds (another signer's
 * signature), and verification sorts each layer into verified, another signer's, or failed (tampered).
 */
import { generateKeyPairSync } from 'node:crypto';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { OCI_IMAGE_MANIFEST } from '../../../src/registry/media-types.js';
import { digestOf } from '../../../src/registry/digest.js';
import {
  ANNOTATION_REKOR_BUNDLE,
  classicAttestationLayer,
  classicManifest,
  classicSignatureLayer,
  classicTag,
  SIMPLE_SIGNING_MEDIA_TYPE,
  parseClassicManifest,
  simpleSigningPayload,
} from '../../../src/sign/classic-format.js';
import { classicEquivalents } from '../../../src/sign/classic-equivalents.js';
import { verifyClassic } from '../../../src/sign/classic-tags.js';
import { ClassicTagWriter } from '../../../src/sign/classic-writer.js';
import { COSIGN_SIGN_PREDICATE_TYPE, SPDX_PREDICATE_TYPE } from '../../../src/sign/predicates.js';
import { attest, loadSigningKey, signPayload, type SignerConfig } from '../../../src/sign/signer.js';
import { trustMaterialFromJSON, verifyBundle } from '../../../src/sign/verify.js';
import {
  GITHUB_ACTIONS_ISSUER,
  startSigstoreStack,
  type SigstoreStack,
} from '../../e2e/harness/sigstore-stack.js';
import { auth, clientFor, pushImage, REPO_PATH } from '../publish/harness.js';
import { FakeRegistry } from '../registry/fake-registry.js';

describe('classic signature tags', () => {
  let stack: SigstoreStack;
  let registry: FakeRegistry;

  beforeAll(async () => {
    stack = await startSigstoreStack();
    registry = await new FakeRegistry({ auth: auth.basic }).start();
  });

  afterAll(async () => {
    await registry?.stop();
    await stack?.stop();
  });

  const keyPair = () => {
    const pair = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
    return loadSigningKey(pair.privateKey.export({ format: 'pem', type: 'pkcs8' }).toString());
  };
  const config = (key: ReturnType<typeof keyPair>): SignerConfig => ({
    identity: { kind: 'key', key },
    rekorURL: stack.rekorURL,
    tsaURL: false,
  });

  it('appends to the tag, keeps another signer, and fails a tampered payload', async () => {
    const client = clientFor(registry);
    const digest = await pushImage(client, 'linux/amd64');
    const reference = `${registry.host}/${REPO_PATH}`;
    const payload = simpleSigningPayload(reference, digest);
    const ours = keyPair();
    const theirs = keyPair();
    const trust = trustMaterialFromJSON(stack.trustedRoot);
    const expected = { kind: 'key' as const, publicKey: ours.publicKeyPem };

    // Another signer's signature is there first; a second writer (a later run) appends ours.
    const first = new ClassicTagWriter(client, REPO_PATH);
    const other = await signPayload(config(theirs), payload, COSIGN_SIGN_PREDICATE_TYPE);
    await first.append(digest, 'sig', classicSignatureLayer(payload, other.bundle));
    // The second writer prepares its append (reads the tag, uploads the layer and the new config), so the append
    // only PUTs the tag.
    const second = new ClassicTagWriter(client, REPO_PATH);
    const signed = await signPayload(config(ours), payload, COSIGN_SIGN_PREDICATE_TYPE);
    const ours1 = classicSignatureLayer(payload, signed.bundle);
    await second.prepare(digest, 'sig', ours1);
    const prepared = registry.requests.length;
    const written = await second.append(digest, 'sig', ours1);
    expect(registry.requests.slice(prepared).map((r) => `${r.method} ${r.url}`)).toEqual([
      `PUT /v2/${REPO_PATH}/manifests/${classicTag(digest, 'sig')}`,
    ]);
    expect(written.tag).toBe(classicTag(digest, 'sig'));
    const tagged = registry.tags.get(REPO_PATH)!.get(written.tag)!;
    expect(tagged).toBe(written.manifest);
    expect(parseClassicManifest(registry.manifests.get(`${REPO_PATH}@${tagged}`)!.body)).toHaveLength(2);

    const result = await verifyClassic(client, REPO_PATH, digest, trust, expected, reference);
    expect(result.failures).toEqual([]);
    expect(result.verified.map((v) => v.predicateType)).toEqual([COSIGN_SIGN_PREDICATE_TYPE]);
    expect(result.otherSigners.map((o) => o.code)).toEqual(['WRONG_KEY']);

    // Asked for the .att tag alone, it reads nothing else: no signature found, and no request for the .sig tag.
    const mark = registry.requests.length;
    const attOnly = new Set([classicTag(digest, 'att')]);
    const onlyAtt = await verifyClassic(client, REPO_PATH, digest, trust, expected, reference, {
      onlyTags: attOnly,
    });
    expect(onlyAtt).toEqual({ verified: [], otherSigners: [], failures: [] });
    expect(registry.requests.slice(mark).map((r) => r.url)).toEqual([
      `/v2/${REPO_PATH}/manifests/${classicTag(digest, 'att')}`,
    ]);

    // A tag listing more layers than are looked at is refused without reading any of them.
    const many = classicManifest(
      Array.from({ length: 501 }, (_, i) => ({
        mediaType: SIMPLE_SIGNING_MEDIA_TYPE,
        digest: digestOf(Buffer.from(`layer ${i}`)),
        size: 10,
        annotations: {},
      })),
    );
    const manyDigest = await pushImage(client, 'linux/arm64');
    await client.uploadBlob(REPO_PATH, many.config);
    await client.putManifest(REPO_PATH, classicTag(manyDigest, 'sig'), many.manifest, OCI_IMAGE_MANIFEST);
    const before = registry.requests.length;
    const tooMany = await verifyClassic(client, REPO_PATH, manyDigest, trust, expected, reference);
    expect(tooMany.failures.map((f) => [f.code, f.message])).toEqual([
      ['INVALID_SIGNATURE_MANIFEST', '501 layers, more than the 500 looked at'],
    ]);
    expect(registry.requests.slice(before).filter((r) => r.url.includes('/blobs/'))).toEqual([]);

    // Another repository name in the payload is refused.
    const elsewhere = await verifyClassic(client, REPO_PATH, digest, trust, expected, 'other.io/x');
    expect(elsewhere.failures.map((f) => f.code)).toEqual(['WRONG_SUBJECT']);

    // Tampered: our layer's payload changed, its signature annotations kept.
    const stored = JSON.parse(registry.manifests.get(`${REPO_PATH}@${tagged}`)!.body.toString('utf8')) as {
      layers: Array<{ digest: string; size: number }>;
    };
    const altered = Buffer.from(payload.toString('utf8').replace('"optional":null', '"optional":{}'));
    await client.uploadBlob(REPO_PATH, altered);
    stored.layers[1]!.digest = digestOf(altered);
    stored.layers[1]!.size = altered.length;
    await client.putManifest(REPO_PATH, written.tag, Buffer.from(JSON.stringify(stored)), OCI_IMAGE_MANIFEST);
    const tampered = await verifyClassic(client, REPO_PATH, digest, trust, expected, reference);
    expect(tampered.verified).toEqual([]);
    expect(tampered.failures.map((f) => f.code)).toEqual(['VERIFICATION_FAILED']);
    await client.close();
  }, 60_000);

  it('takes a layer equal to the one a verified bundle makes as verified, without reading it', async () => {
    const client = clientFor(registry);
    const digest = await pushImage(client, 'linux/riscv64');
    const reference = `${registry.host}/${REPO_PATH}`;
    const trust = trustMaterialFromJSON(stack.trustedRoot);
    const identity = 'https://github.com/acme/agent/.github/workflows/release.yml@refs/tags/v1';
    const expected = { kind: 'certificate' as const, identity, issuer: GITHUB_ACTIONS_ISSUER };
    const keyless: SignerConfig = {
      identity: {
        kind: 'keyless',
        tokenProvider: { getToken: async () => stack.oidcToken(identity) },
        fulcioURL: stack.fulcioURL,
      },
      rekorURL: stack.rekorURL,
      tsaURL: stack.tsaURL,
    };
    // One signing written in both formats, as a release writes it; the bundle verified about `digest`.
    const sbom = await attest(keyless, digest, SPDX_PREDICATE_TYPE, { spdxVersion: 'SPDX-2.3' });
    const written = await new ClassicTagWriter(client, REPO_PATH).append(
      digest,
      'att',
      classicAttestationLayer(sbom.bundle, sbom.predicateType),
    );
    const checked = verifyBundle(sbom.bundle, trust, { subjectDigest: digest, expected });
    const equivalents = classicEquivalents([{ bundle: sbom.bundle, ...checked }], expected, digest);
    expect([...equivalents.keys()]).toEqual([written.layer]);
    const blobReads = (from: number) =>
      registry.requests.slice(from).filter((r) => r.method === 'GET' && r.url.includes('/blobs/'));
    const blobChecks = (from: number) =>
      registry.requests.slice(from).filter((r) => r.method === 'HEAD' && r.url.includes('/blobs/'));

    // Read and verified in full, it is what the equivalence says without a read.
    let mark = registry.requests.length;
    const full = await verifyClassic(client, REPO_PATH, digest, trust, expected, reference);
    expect(full.failures).toEqual([]);
    expect(blobReads(mark)).toHaveLength(1);
    for (const given of [equivalents, Promise.resolve(equivalents)]) {
      mark = registry.requests.length;
      const known = await verifyClassic(client, REPO_PATH, digest, trust, expected, reference, {
        equivalents: given,
      });
      expect(known).toEqual(full);
      expect(known.verified).toEqual([
        {
          tag: classicTag(digest, 'att'),
          layer: written.layer,
          predicateType: SPDX_PREDICATE_TYPE,
          identity,
          issuer: GITHUB_ACTIONS_ISSUER,
        },
      ]);
      expect(blobReads(mark)).toEqual([]);
      expect(blobChecks(mark)).toHaveLength(1); // still there: a HEAD
    }
    // Its blob gone from the registry: it is read, and that fails.
    const blobKey = `${REPO_PATH}@${written.layer}`;
    const blob = registry.blobs.get(blobKey)!;
    registry.blobs.delete(blobKey);
    const gone = await verifyClassic(client, REPO_PATH, digest, trust, expected, reference, { equivalents });
    expect(gone.verified).toEqual([]);
    expect(gone.failures).toHaveLength(1);
    registry.blobs.set(blobKey, blob);
    // Bundles that failed: every layer is read and verified.
    mark = registry.requests.length;
    const failed = await verifyClassic(client, REPO_PATH, digest, trust, expected, reference, {
      equivalents: Promise.reject(new Error('the bundles did not verify')),
    });
    expect(failed).toEqual(full);
    expect(blobReads(mark)).toHaveLength(1);
    // Another digest's layers get none from it; nor does a bundle whose log entry has no promise.
    expect(
      classicEquivalents([{ bundle: sbom.bundle, ...checked }], expected, `sha256:${'1'.repeat(64)}`).size,
    ).toBe(0);
    const noPromise = JSON.parse(sbom.bundle.toString('utf8')) as {
      verificationMaterial: { tlogEntries: Array<{ inclusionPromise?: unknown }> };
    };
    delete noPromise.verificationMaterial.tlogEntries[0]!.inclusionPromise;
    expect(
      classicEquivalents([{ ...checked, bundle: Buffer.from(JSON.stringify(noPromise)) }], expected, digest)
        .size,
    ).toBe(0);
    // A key signer, or a message signature, makes none.
    expect(
      classicEquivalents(
        [{ bundle: sbom.bundle, ...checked }],
        { kind: 'key', publicKey: keyPair().publicKeyPem },
        digest,
      ).size,
    ).toBe(0);
    const signature = await signPayload(
      keyless,
      simpleSigningPayload(reference, digest),
      COSIGN_SIGN_PREDICATE_TYPE,
    );
    expect(
      classicEquivalents(
        [
          {
            bundle: signature.bundle,
            predicateType: COSIGN_SIGN_PREDICATE_TYPE,
            statement: checked.statement,
          },
        ],
        expected,
        digest,
      ).size,
    ).toBe(0);

    // The same layer with one annotation changed (the log's promise, its envelope unchanged) is not taken on
    // trust: it is read and its verification fails.
    const stored = JSON.parse(
      registry.manifests
        .get(`${REPO_PATH}@${registry.tags.get(REPO_PATH)!.get(written.tag)!}`)!
        .body.toString('utf8'),
    ) as { layers: Array<{ annotations: Record<string, string> }> };
    const promise = JSON.parse(stored.layers[0]!.annotations[ANNOTATION_REKOR_BUNDLE]!) as {
      Payload: { integratedTime: number };
    };
    promise.Payload.integratedTime += 1;
    stored.layers[0]!.annotations[ANNOTATION_REKOR_BUNDLE] = JSON.stringify(promise);
    await client.putManifest(REPO_PATH, written.tag, Buffer.from(JSON.stringify(stored)), OCI_IMAGE_MANIFEST);
    mark = registry.requests.length;
    const altered = await verifyClassic(client, REPO_PATH, digest, trust, expected, reference, {
      equivalents,
    });
    expect(altered.verified).toEqual([]);
    expect(altered.failures.map((f) => f.code)).toEqual(['VERIFICATION_FAILED']);
    expect(blobReads(mark)).toHaveLength(1);
    await client.close();
  }, 60_000);
});
