import type { RegistryClient } from '../registry/client.js';
import type { SignatureFormat } from '../settings/settings.js';
import { AttachedVerificationError, verifyAttached } from '../sign/bundle-referrers.js';
import { verifyClassic } from '../sign/classic-tags.js';
import {
  COSIGN_SIGN_PREDICATE_TYPE,
  COSIGN_VULN_PREDICATE_TYPE,
  DEPLOYMENT_PREDICATE_TYPE,
  preferredSbom,
} from '../sign/predicates.js';
import type { ExpectedSigner, TrustMaterial } from '../sign/verify.js';
import type { PublishContext } from './model.js';

/**
 * Reads back every signature and attestation of the index and of each platform image, in every format the
 * release is stored in, and verifies them against the trust root and the expected signer: each subject must
 * carry, in each format, everything this run stored for it (signature, deployment manifest, SBOM,
 * vulnerability scan, and any other predicate), and at least the signature and the attestations every
 * release has (index: the deployment manifest; images: the vulnerability scan and the SBOM).
 */
export async function verifyRelease(
  ctx: PublishContext,
  trust: TrustMaterial,
  expected: ExpectedSigner,
): Promise<void> {
  const { req, deps, index, gated, signatures } = ctx;
  const subjects = [
    {
      digest: index.digest,
      platform: 'index',
      required: [COSIGN_SIGN_PREDICATE_TYPE, DEPLOYMENT_PREDICATE_TYPE],
    },
    ...gated.map(({ image, scan }) => {
      const sbom = preferredSbom(scan.sbomFiles);
      const required = [COSIGN_SIGN_PREDICATE_TYPE, COSIGN_VULN_PREDICATE_TYPE];
      if (sbom) required.push(sbom.predicateType);
      return { digest: image.digest, platform: image.platform, required };
    }),
  ];
  for (const { digest, platform, required } of subjects) {
    const stored = signatures.records.filter((r) => r.subject === digest).map((r) => r.predicateType);
    const counts = await verifySignedDigest(
      {
        registry: deps.registry,
        repository: req.settings.image.path,
        dockerReference: req.settings.imageName,
      },
      signatures.format,
      digest,
      trust,
      expected,
      [...new Set([...required, ...stored])],
    );
    deps.log.info(`${platform}: ${counts} verified`);
  }
}

/**
 * Promotion: verifies only what this run stored (the fresh vulnerability attestations, the new deployment
 * manifest), each against the trust root and the expected signer, in every format it was stored in. What the
 * promoted release already carried was verified when it was read (../lifecycle/read-release.ts).
 */
export async function verifyWritten(
  ctx: PublishContext,
  trust: TrustMaterial,
  expected: ExpectedSigner,
): Promise<void> {
  const { req, deps, signatures } = ctx;
  const where = {
    registry: deps.registry,
    repository: req.settings.image.path,
    dockerReference: req.settings.imageName,
  };
  const subjects = [...new Set(signatures.records.map((r) => r.subject))];
  // Every subject at once (its referrers and classic tags read back), reported in order.
  const verified = await Promise.all(
    subjects.map(async (digest) => {
      const records = signatures.records.filter((r) => r.subject === digest);
      const only = {
        referrers: new Set(records.flatMap((r) => (r.format === 'bundle' ? [r.referrer] : []))),
        layers: new Set(records.flatMap((r) => (r.format === 'classic' ? [r.layer] : []))),
      };
      const required = [...new Set(records.map((r) => r.predicateType))];
      const counts = await verifySignedDigest(
        where,
        signatures.format,
        digest,
        trust,
        expected,
        required,
        only,
      );
      return `${records[0]!.platform}: ${counts} written by this run verified`;
    }),
  );
  for (const line of verified) deps.log.info(line);
}

export interface SignedRepository {
  registry: RegistryClient;
  repository: string;
  /** `registry/path`, what classic signatures name. */
  dockerReference: string;
}

/**
 * Verifies the signatures of `digest` in `format` (both: each format on its own must hold every required
 * predicate type); throws AttachedVerificationError naming what failed or is missing. Returns a summary.
 */
export async function verifySignedDigest(
  where: SignedRepository,
  format: SignatureFormat,
  digest: string,
  trust: TrustMaterial,
  expected: ExpectedSigner,
  required: readonly string[],
  /** Only these referrers and classic layers (see verifyWritten); default every one. */
  only?: { referrers: ReadonlySet<string>; layers: ReadonlySet<string> },
): Promise<string> {
  const { registry, repository } = where;
  const counts: string[] = [];
  if (format !== 'classic') {
    const checked = await verifyAttached(registry, repository, digest, trust, expected, {
      requiredPredicateTypes: [...required],
      ...(only ? { onlyReferrers: only.referrers } : {}),
    });
    counts.push(`${checked.verified.length} bundle(s)`);
  }
  if (format !== 'bundle') {
    const subject = `${registry.registry}/${repository}@${digest}`;
    const result = await verifyClassic(
      registry,
      repository,
      digest,
      trust,
      expected,
      where.dockerReference,
      only?.layers,
    );
    const summary = { verified: [], otherSigners: result.otherSigners };
    if (result.failures.length > 0) {
      const reasons = result.failures.map((f) => `${f.referrer}: ${f.code}: ${f.message}`).join('; ');
      throw new AttachedVerificationError(
        `${result.failures.length} of the classic signatures of ${subject} failed verification: ${reasons}`,
        result.failures,
        summary,
      );
    }
    const missing = required.filter((type) => !result.verified.some((v) => v.predicateType === type));
    if (missing.length > 0) {
      const others =
        result.otherSigners.length > 0 ? ` (${result.otherSigners.length} by other signers)` : '';
      throw new AttachedVerificationError(
        `${subject} has no classic signature (.sig/.att tag) by the expected signer with predicate type ${missing.join(', ')}${others}`,
        [],
        summary,
      );
    }
    counts.push(`${result.verified.length} classic signature(s)`);
  }
  return counts.join(' and ');
}
