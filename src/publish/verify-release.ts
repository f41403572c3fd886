import type { RegistryClient } from '../registry/client.js';
import type { SignatureFormat } from '../settings/settings.js';
import { AttachedVerificationError, verifyAttached } from '../sign/bundle-referrers.js';
import { classicEquivalents, type ClassicEquivalents } from '../sign/classic-equivalents.js';
import { verifyClassic } from '../sign/classic-tags.js';
import {
  COSIGN_SIGN_PREDICATE_TYPE,
  COSIGN_VULN_PREDICATE_TYPE,
  DEPLOYMENT_PREDICATE_TYPE,
  preferredSbom,
} from '../sign/predicates.js';
import type { ExpectedSigner, TrustMaterial } from '../sign/verify.js';
import type { PublishContext } from './model.js';
import type { SignatureRecord } from './signatures.js';

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

/** A verification of what a promotion wrote, begun while it goes on writing (see verifyingWritten). */
export interface WrittenVerification {
  /** Verifies what was stored since it began, waits for the rest, and logs one line per subject in order. */
  finish(): Promise<void>;
}

/**
 * Promotion: verifies only what this run stored (the fresh vulnerability attestations, the new deployment
 * manifest), each against the trust root and the expected signer, in every format it was stored in. What the
 * promoted release already carried was verified when it was read (../lifecycle/read-release.ts). What is stored
 * already (the rescan's attestations) is read back and verified from now on, beside what the run writes next (its
 * deployment manifest); finish() verifies what was stored since. Undefined when nothing was signed.
 */
export function verifyingWritten(
  ctx: PublishContext,
  /** The storing of what is recorded so far, when it still goes on: read back once it ended. */
  stored?: Promise<void>,
): WrittenVerification | undefined {
  const { deps, signatures } = ctx;
  const { trustMaterial, expectedSigner } = deps;
  const first = signatures.first;
  if (!trustMaterial || !expectedSigner || !first) return undefined;
  const expected = expectedSigner(first);
  const trust = trustMaterial();
  const before = signatures.records.length;
  const early = Promise.all([trust, stored]).then(([t]) =>
    verifyRecords(ctx, t, expected, signatures.records.slice(0, before)),
  );
  early.catch(() => undefined); // its failure is finish()'s
  return {
    finish: async () => {
      const later = await verifyRecords(ctx, await trust, expected, signatures.records.slice(before));
      for (const line of [...(await early), ...later]) deps.log.info(line);
    },
  };
}

/** Reads back and verifies `records`, every subject at once; one line per subject, in order. */
async function verifyRecords(
  ctx: PublishContext,
  trust: TrustMaterial,
  expected: ExpectedSigner,
  written: readonly SignatureRecord[],
): Promise<string[]> {
  const { req, deps, signatures } = ctx;
  const where = {
    registry: deps.registry,
    repository: req.settings.image.path,
    dockerReference: req.settings.imageName,
  };
  const subjects = [...new Set(written.map((r) => r.subject))];
  return Promise.all(
    subjects.map(async (digest) => {
      const records = written.filter((r) => r.subject === digest);
      const only = {
        referrers: new Set(records.flatMap((r) => (r.format === 'bundle' ? [r.referrer] : []))),
        layers: new Set(records.flatMap((r) => (r.format === 'classic' ? [r.layer] : []))),
        tags: new Set(records.flatMap((r) => (r.format === 'classic' ? [r.tag] : []))),
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
  /** Only these referrers, and these classic layers in these tags (see verifyWritten); default every one. */
  only?: { referrers: ReadonlySet<string>; layers: ReadonlySet<string>; tags?: ReadonlySet<string> },
): Promise<string> {
  const { registry, repository } = where;
  const counts: string[] = [];
  // A classic layer the same signing made as a bundle verified here needs no read of its own (classicEquivalents).
  let equivalents: ClassicEquivalents | undefined;
  if (format !== 'classic') {
    const checked = await verifyAttached(registry, repository, digest, trust, expected, {
      requiredPredicateTypes: [...required],
      ...(only ? { onlyReferrers: only.referrers } : {}),
    });
    counts.push(`${checked.verified.length} bundle(s)`);
    equivalents = classicEquivalents(checked.verified, expected, digest);
  }
  if (format !== 'bundle') {
    const subject = `${registry.registry}/${repository}@${digest}`;
    const result = await verifyClassic(registry, repository, digest, trust, expected, where.dockerReference, {
      ...(only ? { onlyLayers: only.layers } : {}),
      ...(only?.tags ? { onlyTags: only.tags } : {}),
      ...(equivalents ? { equivalents } : {}),
    });
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
