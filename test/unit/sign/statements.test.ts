import { readFileSync } from 'node:fs';

import { describe, expect, it } from 'vitest';

import { OCI_IMAGE_MANIFEST } from '../../../src/registry/media-types.js';
import { isBundleV03MediaType, SIGSTORE_BUNDLE_V03_MEDIA_TYPE } from '../../../src/sign/cosign-format.js';
import {
  COSIGN_SIGN_PREDICATE_TYPE,
  COSIGN_VULN_PREDICATE_TYPE,
  DEPLOYMENT_PREDICATE_TYPE,
  SPDX_PREDICATE_TYPE,
} from '../../../src/sign/predicates.js';
import {
  attestationStatement,
  deploymentManifestStatement,
  IN_TOTO_PAYLOAD_TYPE,
  parseStatement,
  signatureStatement,
  statementNamesDigest,
} from '../../../src/sign/statements.js';
import { fixturePath, fixturesPresent } from '../../shared-fixtures.js';

const BUNDLE_FIXTURE =
  'cosign-sigstore/cosign-v3.0.2_sigstore-bundle-v0.3_dsse_for-attestation-manifest.json';
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

  it('builds the deployment manifest statement naming the file and the index', () => {
    const file = `sha256:${'3d'.repeat(32)}`;
    const index = `sha256:${'4e'.repeat(32)}`;
    const manifest = { apiVersion: 'edgeship.dev/v1', kind: 'DeploymentManifest' };
    const payload = deploymentManifestStatement(
      {
        file: { name: 'edgeship-deployment-1.2.3.yaml', digest: file },
        index: { name: 'ghcr.io/acme/agent', digest: index },
      },
      manifest,
    );
    expect(payload.toString()).toBe(
      '{"_type":"https://in-toto.io/Statement/v1","subject":[' +
        `{"name":"edgeship-deployment-1.2.3.yaml","digest":{"sha256":"${'3d'.repeat(32)}"}},` +
        `{"name":"ghcr.io/acme/agent","digest":{"sha256":"${'4e'.repeat(32)}"}}],` +
        `"predicateType":"${DEPLOYMENT_PREDICATE_TYPE}",` +
        '"predicate":{"apiVersion":"edgeship.dev/v1","kind":"DeploymentManifest"}}',
    );
    const statement = parseStatement(payload);
    expect(statementNamesDigest(statement, file)).toBe(true);
    expect(statementNamesDigest(statement, index)).toBe(true);
    expect(statement.predicate).toEqual(manifest);
    expect(() =>
      deploymentManifestStatement(
        { file: { name: 'x.yaml', digest: 'sha256:abc' }, index: { name: 'x', digest: index } },
        manifest,
      ),
    ).toThrow(/digest/);
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
});
