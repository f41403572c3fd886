import { describe, expect, it } from 'vitest';

import {
  COSIGN_SIGN_PREDICATE_TYPE,
  COSIGN_VULN_PREDICATE_TYPE,
  CYCLONEDX_PREDICATE_TYPE,
  DEPLOYMENT_PREDICATE_TYPE,
  preferredSbom,
  SPDX_PREDICATE_TYPE,
  vulnerabilityPredicate,
} from '../../../src/sign/predicates.js';

describe('predicates', () => {
  it('names the predicate types as cosign and in-toto-golang spell them', () => {
    expect(COSIGN_SIGN_PREDICATE_TYPE).toBe('https://sigstore.dev/cosign/sign/v1');
    expect(SPDX_PREDICATE_TYPE).toBe('https://spdx.dev/Document');
    expect(CYCLONEDX_PREDICATE_TYPE).toBe('https://cyclonedx.org/bom');
    expect(COSIGN_VULN_PREDICATE_TYPE).toBe('https://cosign.sigstore.dev/attestation/vuln/v1');
  });

  it('names the deployment manifest predicate type', () => {
    expect(DEPLOYMENT_PREDICATE_TYPE).toBe('https://edgeship.dev/deployment-manifest/v1');
  });

  it('attests the first SPDX or CycloneDX SBOM, in the order asked for, and no Syft JSON', () => {
    expect(
      preferredSbom([
        { format: 'syft-json', file: 'sbom.syft.json' },
        { format: 'cyclonedx-json', file: 'sbom.cdx.json' },
        { format: 'spdx-json', file: 'sbom.spdx.json' },
      ]),
    ).toEqual({ file: 'sbom.cdx.json', predicateType: CYCLONEDX_PREDICATE_TYPE });
    expect(
      preferredSbom([
        { format: 'spdx-json', file: 'sbom.spdx.json' },
        { format: 'cyclonedx-json', file: 'sbom.cdx.json' },
      ]),
    ).toEqual({ file: 'sbom.spdx.json', predicateType: SPDX_PREDICATE_TYPE });
    expect(preferredSbom([{ format: 'syft-json', file: 'sbom.syft.json' }])).toBeUndefined();
    expect(preferredSbom([])).toBeUndefined();
  });

  it("wraps Grype's report in cosign's vulnerability predicate", () => {
    const report = { matches: [], descriptor: { name: 'grype', version: '0.114.0' } };
    const at = new Date('2026-01-02T03:04:05.678Z');
    expect(
      vulnerabilityPredicate({
        reportText: JSON.stringify(report),
        grypeVersion: '0.114.0',
        dbBuilt: '2026-01-01T00:00:00Z',
        workflowRun: 'https://github.com/acme/agent/actions/runs/42',
        scannedAt: at,
      }),
    ).toEqual({
      invocation: {
        parameters: [],
        uri: 'https://github.com/acme/agent/actions/runs/42',
        event_id: '',
        'builder.id': 'https://github.com/edgeship/edgeship',
      },
      scanner: {
        uri: 'pkg:github/anchore/grype',
        version: '0.114.0',
        db: { uri: 'https://grype.anchore.io/databases', version: '2026-01-01T00:00:00Z' },
        result: report,
      },
      metadata: { scanStartedOn: '2026-01-02T03:04:05.678Z', scanFinishedOn: '2026-01-02T03:04:05.678Z' },
    });
  });

  it('says unknown for a scanner or database version the report does not give', () => {
    const predicate = vulnerabilityPredicate({
      reportText: '{"matches":[]}',
      workflowRun: '',
      scannedAt: new Date(0),
    }) as { scanner: { version: string; db: { version: string } } };
    expect(predicate.scanner.version).toBe('unknown');
    expect(predicate.scanner.db.version).toBe('unknown');
  });

  it('names the database Grype says it imported (a mirror given by grype-db-url, for instance)', () => {
    const predicate = vulnerabilityPredicate({
      reportText: '{"matches":[]}',
      dbSource: 'https://mirror.example/grype/v6/vulnerability-db_v6.1.9.tar.zst',
      workflowRun: '',
      scannedAt: new Date(0),
    }) as { scanner: { db: { uri: string } } };
    expect(predicate.scanner.db.uri).toBe('https://mirror.example/grype/v6/vulnerability-db_v6.1.9.tar.zst');
  });

  it('refuses a report that is not JSON', () => {
    expect(() =>
      vulnerabilityPredicate({ reportText: 'nope', workflowRun: '', scannedAt: new Date(0) }),
    ).toThrow();
  });
});
