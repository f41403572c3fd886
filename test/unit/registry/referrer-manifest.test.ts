import { readFileSync } from 'node:fs';

import { describe, expect, it } from 'vitest';

import { digestOf } from '../../../src/registry/digest.js';
import { OCI_EMPTY_JSON, OCI_IMAGE_INDEX, OCI_IMAGE_MANIFEST } from '../../../src/registry/media-types.js';
import {
  EMPTY_JSON,
  EMPTY_JSON_DIGEST,
  fallbackTag,
  formatCreated,
  mergeFallbackIndex,
  parseReferrerManifest,
  parseReferrersIndex,
  referrerDescriptor,
  referrerManifest,
} from '../../../src/registry/referrer-manifest.js';
import { SIGSTORE_BUNDLE_V03_MEDIA_TYPE } from '../../../src/sign/cosign-format.js';
import { COSIGN_SIGN_PREDICATE_TYPE } from '../../../src/sign/predicates.js';
import { fixturePath, fixturesPresent } from '../../shared-fixtures.js';

const REFERRER_FIXTURE =
  'oci/referrers/cosign-v3.0.2_bundle-referrer-manifest_artifactType-sigstore-bundle-v0.3.json';
const DOCKERHUB_FALLBACK_FIXTURE = 'oci/referrers/dockerhub_referrers-fallback-tag-index_PUT-by-cosign.json';
const ECR_REFERRERS_FIXTURE = 'oci/referrers/ecr_referrers-api-response_1-bundle.json';
const EMPTY_REFERRERS_FIXTURE = 'oci/referrers/referrers-api-response_empty.json';
const REGCLIENT_FALLBACK_FIXTURE = 'oci/referrers/regclient_referrers-fallback-tag-index_v2.json';

/** The attestation manifest cosign signed in the fixture (from the referrer manifest's subject). */
const FIXTURE_SUBJECT = {
  mediaType: OCI_IMAGE_MANIFEST,
  size: 1380,
  digest: 'sha256:8fe63f8b055569015407e5bd0c78071e87cf921019249b8b7a913091f680a664',
};

const read = (relative: string) => readFileSync(fixturePath(relative));

describe('referrer manifests', () => {
  it('formats creation times like Go time.RFC3339 in UTC', () => {
    expect(formatCreated(new Date('2025-10-31T12:23:04.987Z'))).toBe('2025-10-31T12:23:04Z');
    expect(formatCreated('2025-10-31T14:23:04+02:00')).toBe('2025-10-31T12:23:04Z');
    expect(() => formatCreated('yesterday')).toThrow(/invalid creation time/);
  });

  it('knows the referrers tag schema', () => {
    expect(fallbackTag(FIXTURE_SUBJECT.digest)).toBe(
      'sha256-8fe63f8b055569015407e5bd0c78071e87cf921019249b8b7a913091f680a664',
    );
    expect(fallbackTag(`sha512:${'ab'.repeat(64)}`)).toBe(`sha512-${'ab'.repeat(32)}`);
    expect(() => fallbackTag('latest')).toThrow();
  });

  it('has the empty JSON config right', () => {
    expect(EMPTY_JSON.toString()).toBe('{}');
    expect(digestOf(EMPTY_JSON)).toBe(EMPTY_JSON_DIGEST);
  });

  it("writes go-containerregistry's layout: empty config with the artifact type, sorted annotations", () => {
    const layer = Buffer.from('payload');
    const manifest = referrerManifest({
      artifactType: 'application/example.sbom',
      layers: [{ mediaType: 'application/json', size: layer.length, digest: digestOf(layer) }],
      annotations: { b: '2', a: '1' },
      subject: { digest: FIXTURE_SUBJECT.digest, size: FIXTURE_SUBJECT.size, mediaType: OCI_IMAGE_MANIFEST },
    });
    expect(manifest.toString()).toBe(
      `{"schemaVersion":2,"mediaType":"${OCI_IMAGE_MANIFEST}",` +
        `"config":{"mediaType":"${OCI_EMPTY_JSON}","size":2,"digest":"${EMPTY_JSON_DIGEST}","artifactType":"application/example.sbom"},` +
        `"layers":[{"mediaType":"application/json","size":7,"digest":"${digestOf(layer)}"}],` +
        '"annotations":{"a":"1","b":"2"},' +
        `"subject":{"mediaType":"${OCI_IMAGE_MANIFEST}","size":1380,"digest":"${FIXTURE_SUBJECT.digest}"},` +
        '"artifactType":"application/example.sbom"}',
    );
  });
});

describe.skipIf(!fixturesPresent)('referrers as cosign and registries wrote them', () => {
  it('parses the referrer manifest and lists it as the ECR referrers API did', () => {
    const manifest = read(REFERRER_FIXTURE);
    const parsed = parseReferrerManifest(manifest);
    expect(parsed.artifactType).toBe(SIGSTORE_BUNDLE_V03_MEDIA_TYPE);
    expect(parsed.subject).toEqual(FIXTURE_SUBJECT);
    expect(parsed.layers).toEqual([
      {
        mediaType: SIGSTORE_BUNDLE_V03_MEDIA_TYPE,
        size: 10399,
        digest: 'sha256:2b4c5c9d02679447fac16423a8f30512d32779434b4cd09ec4e37c370fca72f8',
      },
    ]);
    const [listed] = parseReferrersIndex(read(ECR_REFERRERS_FIXTURE));
    expect(referrerDescriptor(manifest)).toEqual(listed);
  });

  it('re-creates the fallback index cosign PUT to Docker Hub from its (quirky) descriptor', () => {
    // go-containerregistry lists cosign's referrer with the config media type as artifactType, no annotations.
    const merged = mergeFallbackIndex(undefined, {
      mediaType: OCI_IMAGE_MANIFEST,
      size: 880,
      digest: 'sha256:65b138b622eb88020a0e070e14c8d2d71044a000ae190d00d8b9546503486d10',
      artifactType: OCI_EMPTY_JSON,
    });
    expect(merged.changed).toBe(true);
    expect(merged.body.toString()).toBe(read(DOCKERHUB_FALLBACK_FIXTURE).toString());
  });

  it('appends to an existing fallback index, keeping what is there, and does not repeat a digest', () => {
    const existing = read(DOCKERHUB_FALLBACK_FIXTURE);
    const descriptor = referrerDescriptor(read(REFERRER_FIXTURE));
    const merged = mergeFallbackIndex(existing, descriptor);
    expect(merged.changed).toBe(true);
    const listed = parseReferrersIndex(merged.body);
    expect(listed).toHaveLength(2);
    expect(listed[0]).toEqual(parseReferrersIndex(existing)[0]);
    expect(listed[1]).toEqual(descriptor);
    // Field order of the new entry: go-containerregistry's descriptor order.
    expect(merged.body.toString()).toContain(
      `{"mediaType":"${OCI_IMAGE_MANIFEST}","size":880,"digest":"${descriptor.digest}","annotations":{`,
    );
    expect(merged.body.toString()).toMatch(
      /"annotations":\{[^}]*\},"artifactType":"application\/vnd\.dev\.sigstore\.bundle\.v0\.3\+json"\}\]\}$/,
    );

    const again = mergeFallbackIndex(merged.body, descriptor);
    expect(again.changed).toBe(false);
    expect(again.body.equals(merged.body)).toBe(true);

    const updated = mergeFallbackIndex(merged.body, { ...descriptor, annotations: { a: 'b' } });
    expect(updated.changed).toBe(true);
    expect(parseReferrersIndex(updated.body)).toHaveLength(2);
    expect(parseReferrersIndex(updated.body)[1]?.annotations).toEqual({ a: 'b' });
  });

  it('keeps other fields of an existing index and refuses what is not an index', () => {
    const existing = JSON.stringify({
      schemaVersion: 2,
      mediaType: OCI_IMAGE_INDEX,
      manifests: [],
      annotations: { 'org.example': 'kept' },
    });
    const merged = JSON.parse(
      mergeFallbackIndex(existing, {
        mediaType: OCI_IMAGE_MANIFEST,
        size: 1,
        digest: EMPTY_JSON_DIGEST,
      }).body.toString(),
    ) as Record<string, unknown>;
    expect(merged.annotations).toEqual({ 'org.example': 'kept' });
    expect(() =>
      mergeFallbackIndex(`{"schemaVersion":2,"mediaType":"${OCI_IMAGE_MANIFEST}"}`, {
        mediaType: OCI_IMAGE_MANIFEST,
        size: 1,
        digest: EMPTY_JSON_DIGEST,
      }),
    ).toThrow(/not an OCI image index/);
    expect(() =>
      mergeFallbackIndex('[]', { mediaType: OCI_IMAGE_MANIFEST, size: 1, digest: EMPTY_JSON_DIGEST }),
    ).toThrow(/not a JSON object/);
  });

  it('parses referrers indexes from real registries and tools', () => {
    expect(parseReferrersIndex(read(EMPTY_REFERRERS_FIXTURE))).toEqual([]);
    const ecr = parseReferrersIndex(read(ECR_REFERRERS_FIXTURE));
    expect(ecr).toHaveLength(1);
    expect(ecr[0]?.artifactType).toBe(SIGSTORE_BUNDLE_V03_MEDIA_TYPE);
    expect(ecr[0]?.annotations?.['dev.sigstore.bundle.predicateType']).toBe(COSIGN_SIGN_PREDICATE_TYPE);
    const regclient = parseReferrersIndex(read(REGCLIENT_FALLBACK_FIXTURE));
    expect(regclient.map((d) => d.artifactType)).toEqual([
      'application/example.sbom',
      'application/example.signature',
    ]);
    const dockerhub = parseReferrersIndex(read(DOCKERHUB_FALLBACK_FIXTURE));
    expect(dockerhub[0]?.artifactType).toBe(OCI_EMPTY_JSON);
  });
});

describe('parseReferrerManifest', () => {
  it('falls back to the config media type when there is no artifactType', () => {
    const parsed = parseReferrerManifest(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: OCI_IMAGE_MANIFEST,
        config: { mediaType: 'application/example.sbom', size: 2, digest: EMPTY_JSON_DIGEST },
        layers: [],
      }),
    );
    expect(parsed.artifactType).toBe('application/example.sbom');
    expect(parsed.subject).toBeUndefined();
  });

  it('refuses indexes and malformed descriptors', () => {
    expect(() => parseReferrerManifest(`{"mediaType":"${OCI_IMAGE_INDEX}"}`)).toThrow(
      /not an OCI image manifest/,
    );
    expect(() => parseReferrerManifest('{"layers":[{"mediaType":"x"}]}')).toThrow(/layer 0 lacks/);
    expect(() =>
      parseReferrersIndex('{"manifests":[{"mediaType":"x","digest":"sha256:1","size":1}]}'),
    ).toThrow();
  });
});
