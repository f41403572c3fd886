/**
 * The predicates Edgeship signs, with the predicate types cosign and in-toto-golang give them: the plain
 * image signature, the SBOM (SPDX or CycloneDX, as Syft wrote it), cosign's vulnerability scan record
 * carrying Grype's report, and Edgeship's deployment manifest.
 *
 * Pure functions only: the reports are read elsewhere.
 */

/** The predicate type of a plain image signature (`cosign sign`, new bundle format). */
export const COSIGN_SIGN_PREDICATE_TYPE = 'https://sigstore.dev/cosign/sign/v1';
/** `cosign attest --type spdx|spdxjson` (in-toto-golang PredicateSPDX). */
export const SPDX_PREDICATE_TYPE = 'https://spdx.dev/Document';
/** `cosign attest --type cyclonedx` (in-toto-golang PredicateCycloneDX). */
export const CYCLONEDX_PREDICATE_TYPE = 'https://cyclonedx.org/bom';
/** `cosign attest --type vuln` (cosign's vulnerability scan record, attestation.CosignVulnProvenanceV01). */
export const COSIGN_VULN_PREDICATE_TYPE = 'https://cosign.sigstore.dev/attestation/vuln/v1';
/** The predicate type of Edgeship's deployment manifest attestation. */
export const DEPLOYMENT_PREDICATE_TYPE = 'https://edgeship.dev/deployment-manifest/v1';

/** The builder cosign's vulnerability predicate names. */
const BUILDER_ID = 'https://github.com/edgeship/edgeship';
const GRYPE_PURL = 'pkg:github/anchore/grype';
/** Anchore's database listing: named only when the report does not say where its database came from. */
const GRYPE_DB_URI = 'https://grype.anchore.io/databases';

/** The SBOM attested on an image and the predicate type it is attested under. */
export interface SbomPredicate {
  file: string;
  predicateType: string;
}

/**
 * The SBOM attested on an image: the first SPDX (cosign's `spdxjson`) or CycloneDX document, in the order
 * the formats were asked for; undefined when there is neither (a Syft JSON SBOM has no predicate type).
 */
export function preferredSbom(
  sbomFiles: ReadonlyArray<{ format: string; file: string }>,
): SbomPredicate | undefined {
  for (const sbom of sbomFiles) {
    if (sbom.format === 'spdx-json') return { file: sbom.file, predicateType: SPDX_PREDICATE_TYPE };
    if (sbom.format === 'cyclonedx-json') return { file: sbom.file, predicateType: CYCLONEDX_PREDICATE_TYPE };
  }
  return undefined;
}

export interface VulnerabilityScan {
  /** Grype's JSON report, as Grype wrote it. */
  reportText: string;
  /** The Grype version in the report's descriptor; 'unknown' when absent. */
  grypeVersion?: string | undefined;
  /** When the vulnerability database was built; 'unknown' when absent. */
  dbBuilt?: string | undefined;
  /** Where Grype's database came from (the report's `descriptor.db.status.from`). */
  dbSource?: string | undefined;
  /** The URL of the workflow run that scanned. */
  workflowRun: string;
  /** When the scan is recorded as started and finished. */
  scannedAt: Date;
}

/** cosign's vulnerability predicate (attestation/vuln/v1) carrying Grype's JSON report. */
export function vulnerabilityPredicate(scan: VulnerabilityScan): unknown {
  return {
    invocation: {
      parameters: [],
      uri: scan.workflowRun,
      event_id: '',
      'builder.id': BUILDER_ID,
    },
    scanner: {
      uri: GRYPE_PURL,
      version: scan.grypeVersion ?? 'unknown',
      db: { uri: scan.dbSource ?? GRYPE_DB_URI, version: scan.dbBuilt ?? 'unknown' },
      result: JSON.parse(scan.reportText) as unknown,
    },
    metadata: { scanStartedOn: scan.scannedAt.toISOString(), scanFinishedOn: scan.scannedAt.toISOString() },
  };
}
