import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';

import { describe, expect, it } from 'vitest';

import { OCI_EMPTY_JSON, OCI_IMAGE_INDEX, OCI_IMAGE_MANIFEST } from '../../../src/registry/media-types.js';
import {
  attestationStatement,
  COSIGN_SIGN_PREDICATE_TYPE,
  COSIGN_VULN_PREDICATE_TYPE,
  CYCLONEDX_PREDICATE_TYPE,
  EMPTY_JSON,
  EMPTY_JSON_DIGEST,
  fallbackTag,
  formatCreated,
  IN_TOTO_PAYLOAD_TYPE,
  isBundleV03MediaType,
  mergeFallbackIndex,
  parseReferrerManifest,
  parseReferrersIndex,
  parseStatement,
  referrerDescriptor,
  referrerManifest,
  sha256Digest,
  signatureStatement,
  SIGSTORE_BUNDLE_V03_MEDIA_TYPE,
  SPDX_PREDICATE_TYPE,
  statementNamesDigest,
} from '../../../src/sign/cosign-format.js';
import { fixturePath, fixturesPresent } from '../../shared-fixtures.js';

const BUNDLE_FIXTURE =
  'cosign-sigstore/cosign-v3.0.2_sigstore-bundle-v0.3_dsse_for-attestation-manifest.json';
const REFERRER_FIXTURE =
  'oci/referrers/cosign-v3.0.2_bundle-referrer-manifest_artifactType-sigstore-bundle-v0.3.json';
const DOCKERHUB_FALLBACK_FIXTURE = 'oci/referrers/dockerhub_referrers-fallback-tag-index_PUT-by-cosign.json';
const ECR_REFERRERS_FIXTURE = 'oci/referrers/ecr_referrers-api-response_1-bundle.json';
const EMPTY_REFERRERS_FIXTURE = 'oci/referrers/referrers-api-response_empty.json';
const REGCLIENT_FALLBACK_FIXTURE = 'oci/referrers/regclient_referrers-fallback-tag-index_v2.json';
const COSIGN_TESTDATA_BUNDLE =
  'cosign-sigstore/cosign-v3_oci-attestation_sigstore-bundle-v0.3_cosign-testdata.json';

/** The attestation manifest cosign signed in the fixture (from the referrer manifest's subject). */
const FIXTURE_SUBJECT = {
  mediaType: OCI_IMAGE_MANIFEST,
  size: 1380,
  digest: 'sha256:8fe63f8b055569015407e5bd0c78071e87cf921019249b8b7a913091f680a664',
};

const read = (relative: string) => readFileSync(fixturePath(relative));

describe('statements', () => {
  it('builds the cosign sign/v1 statement as JSON with the digest as the only subject', () => {
    const digest = `sha256:${'0a'.repeat(32)}`;
    expect(signatureStatement(digest).toString()).toBe(
      `{"_type":"https://in-toto.io/Statement/v1","subject":[{"digest":{"sha256":"${'0a'.repeat(32)}"}}],` +
        '"predicateType":"https://sigstore.dev/cosign/sign/v1"}',
    );
  });

  it('builds attestation statements with the predicate and an optional subject name', () => {
    const digest = `sha256:${'1b'.repeat(32)}`;
    const statement = parseStatement(
      attestationStatement(digest, SPDX_PREDICATE_TYPE, { spdxVersion: 'SPDX-2.3' }),
    );
    expect(statement).toEqual({
      _type: 'https://in-toto.io/Statement/v1',
      subject: [{ digest: { sha256: '1b'.repeat(32) } }],
      predicateType: SPDX_PREDICATE_TYPE,
      predicate: { spdxVersion: 'SPDX-2.3' },
    });
    const named = parseStatement(
      attestationStatement(digest, COSIGN_VULN_PREDICATE_TYPE, {}, { subjectName: 'ghcr.io/acme/agent' }),
    );
    expect(named.subject[0]?.name).toBe('ghcr.io/acme/agent');
    expect(statementNamesDigest(named, digest)).toBe(true);
    expect(statementNamesDigest(named, `sha256:${'2c'.repeat(32)}`)).toBe(false);
  });

  it('refuses statements without a digest or predicate', () => {
    expect(() => signatureStatement('sha256:abc')).toThrow(/digest/);
    expect(() => attestationStatement(`sha256:${'1b'.repeat(32)}`, '', {})).toThrow(/predicate type/);
    expect(() => attestationStatement(`sha256:${'1b'.repeat(32)}`, SPDX_PREDICATE_TYPE, undefined)).toThrow(
      /no predicate/,
    );
  });

  it('names the predicate types as cosign and in-toto-golang spell them', () => {
    expect(COSIGN_SIGN_PREDICATE_TYPE).toBe('https://sigstore.dev/cosign/sign/v1');
    expect(SPDX_PREDICATE_TYPE).toBe('https://spdx.dev/Document');
    expect(CYCLONEDX_PREDICATE_TYPE).toBe('https://cyclonedx.org/bom');
    expect(COSIGN_VULN_PREDICATE_TYPE).toBe('https://cosign.sigstore.dev/attestation/vuln/v1');
  });

  it('rejects payloads that are not in-toto statements', () => {
    expect(() => parseStatement('nope')).toThrow(/not JSON/);
    expect(() => parseStatement('{"_type":"x"}')).toThrow(/not an in-toto statement/);
    expect(() =>
      parseStatement(`{"_type":"${'https://in-toto.io/Statement/v1'}","subject":[],"predicateType":"p"}`),
    ).toThrow(/no subject/);
    expect(() =>
      parseStatement(
        '{"_type":"https://in-toto.io/Statement/v1","subject":[{"name":"x"}],"predicateType":"p"}',
      ),
    ).toThrow(/no digest map/);
  });

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
    expect(sha256Digest(EMPTY_JSON)).toBe(EMPTY_JSON_DIGEST);
  });
});

describe.skipIf(!fixturesPresent)('cosign v3.0.2 fixtures', () => {
  it('re-creates the DSSE payload of the real cosign signature byte for byte', () => {
    const bundle = JSON.parse(read(BUNDLE_FIXTURE).toString()) as {
      mediaType: string;
      dsseEnvelope: { payload: string; payloadType: string };
    };
    expect(bundle.mediaType).toBe(SIGSTORE_BUNDLE_V03_MEDIA_TYPE);
    expect(bundle.dsseEnvelope.payloadType).toBe(IN_TOTO_PAYLOAD_TYPE);
    const payload = Buffer.from(bundle.dsseEnvelope.payload, 'base64');
    expect(signatureStatement(FIXTURE_SUBJECT.digest).equals(payload)).toBe(true);
    const statement = parseStatement(payload);
    expect(statement.predicateType).toBe(COSIGN_SIGN_PREDICATE_TYPE);
    expect(statementNamesDigest(statement, FIXTURE_SUBJECT.digest)).toBe(true);
  });

  it('re-creates the referrer manifest cosign pushed byte for byte from its inputs', () => {
    const bundle = read(BUNDLE_FIXTURE);
    const expected = read(REFERRER_FIXTURE);
    const manifest = referrerManifest({
      bundle,
      subject: FIXTURE_SUBJECT,
      predicateType: COSIGN_SIGN_PREDICATE_TYPE,
      created: new Date('2025-10-31T12:23:04.321Z'),
    });
    expect(manifest.toString()).toBe(expected.toString());
    expect(sha256Digest(manifest)).toBe(
      'sha256:b79760ca789467ba1bf1cf6ff89d71353e23819474e8ffb44a1116ce95a102fa',
    );
  });

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

  it('reads the statement of cosign testdata (in-toto v0.1 with a named subject)', () => {
    const bundle = JSON.parse(read(COSIGN_TESTDATA_BUNDLE).toString()) as {
      mediaType: string;
      dsseEnvelope: { payload: string };
    };
    expect(isBundleV03MediaType(bundle.mediaType)).toBe(true);
    const statement = parseStatement(Buffer.from(bundle.dsseEnvelope.payload, 'base64'));
    expect(statement._type).toBe('https://in-toto.io/Statement/v0.1');
    expect(statement.predicateType).toBe('https://cosign.sigstore.dev/attestation/v1');
    expect(statement.subject[0]?.name).toBe('127.0.0.1:60943/repo');
    const digest = `sha256:${statement.subject[0]?.digest.sha256 ?? ''}`;
    expect(statementNamesDigest(statement, digest)).toBe(true);
  });

  it('checks the fixtures are the byte-exact files their digests name', () => {
    const hash = (b: Buffer) => createHash('sha256').update(b).digest('hex');
    expect(hash(read(BUNDLE_FIXTURE))).toBe(
      '2b4c5c9d02679447fac16423a8f30512d32779434b4cd09ec4e37c370fca72f8',
    );
    expect(hash(read(REFERRER_FIXTURE))).toBe(
      'b79760ca789467ba1bf1cf6ff89d71353e23819474e8ffb44a1116ce95a102fa',
    );
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
