import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';

import { describe, expect, it } from 'vitest';

import { digestOf } from '../../../src/registry/digest.js';
import { OCI_IMAGE_MANIFEST } from '../../../src/registry/media-types.js';
import { parseReferrerManifest, referrerDescriptor } from '../../../src/registry/referrer-manifest.js';
import {
  bundleReferrerManifest,
  isBundleV03MediaType,
  SIGSTORE_BUNDLE_V03_MEDIA_TYPE,
} from '../../../src/sign/cosign-format.js';
import { COSIGN_SIGN_PREDICATE_TYPE, SPDX_PREDICATE_TYPE } from '../../../src/sign/predicates.js';
import { fixturePath, fixturesPresent } from '../../shared-fixtures.js';

const BUNDLE_FIXTURE =
  'cosign-sigstore/cosign-v3.0.2_sigstore-bundle-v0.3_dsse_for-attestation-manifest.json';
const REFERRER_FIXTURE =
  'oci/referrers/cosign-v3.0.2_bundle-referrer-manifest_artifactType-sigstore-bundle-v0.3.json';

/** The attestation manifest cosign signed in the fixture (from the referrer manifest's subject). */
const FIXTURE_SUBJECT = {
  mediaType: OCI_IMAGE_MANIFEST,
  size: 1380,
  digest: 'sha256:8fe63f8b055569015407e5bd0c78071e87cf921019249b8b7a913091f680a664',
};

const read = (relative: string) => readFileSync(fixturePath(relative));

describe('bundle referrer manifests', () => {
  it('carries the bundle as its one layer, annotated like cosign, with the image as subject', () => {
    const bundle = Buffer.from('{"mediaType":"application/vnd.dev.sigstore.bundle.v0.3+json"}');
    const manifest = bundleReferrerManifest({
      bundle,
      subject: FIXTURE_SUBJECT,
      predicateType: SPDX_PREDICATE_TYPE,
      created: '2026-01-02T03:04:05.999Z',
    });
    const parsed = parseReferrerManifest(manifest);
    expect(parsed).toEqual({
      artifactType: SIGSTORE_BUNDLE_V03_MEDIA_TYPE,
      annotations: {
        'dev.sigstore.bundle.content': 'dsse-envelope',
        'dev.sigstore.bundle.predicateType': SPDX_PREDICATE_TYPE,
        'org.opencontainers.image.created': '2026-01-02T03:04:05Z',
      },
      layers: [{ mediaType: SIGSTORE_BUNDLE_V03_MEDIA_TYPE, size: bundle.length, digest: digestOf(bundle) }],
      subject: FIXTURE_SUBJECT,
    });
    expect(referrerDescriptor(manifest)).toMatchObject({
      mediaType: OCI_IMAGE_MANIFEST,
      digest: digestOf(manifest),
      artifactType: SIGSTORE_BUNDLE_V03_MEDIA_TYPE,
    });
  });

  it('knows both spellings of the bundle v0.3 media type', () => {
    expect(isBundleV03MediaType(SIGSTORE_BUNDLE_V03_MEDIA_TYPE)).toBe(true);
    expect(isBundleV03MediaType('application/vnd.dev.sigstore.bundle+json;version=0.3')).toBe(true);
    expect(isBundleV03MediaType('application/vnd.dev.sigstore.bundle+json;version=0.2')).toBe(false);
    expect(isBundleV03MediaType(undefined)).toBe(false);
  });
});

describe.skipIf(!fixturesPresent)('cosign v3.0.2 fixtures', () => {
  it('re-creates the referrer manifest cosign pushed byte for byte from its inputs', () => {
    const bundle = read(BUNDLE_FIXTURE);
    const expected = read(REFERRER_FIXTURE);
    const manifest = bundleReferrerManifest({
      bundle,
      subject: FIXTURE_SUBJECT,
      predicateType: COSIGN_SIGN_PREDICATE_TYPE,
      created: new Date('2025-10-31T12:23:04.321Z'),
    });
    expect(manifest.toString()).toBe(expected.toString());
    expect(digestOf(manifest)).toBe(
      'sha256:b79760ca789467ba1bf1cf6ff89d71353e23819474e8ffb44a1116ce95a102fa',
    );
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
