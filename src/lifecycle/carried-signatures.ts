/**
 * What a promotion carries over from the release it promotes: the promoted digests keep their signatures and
 * attestations (image signatures, SBOM, vulnerability, SLSA provenance, OpenVEX, the source's deployment manifest),
 * so the new deployment manifest lists every one that exists and verifies against the expected signer, with its
 * format, predicate type, subject and where it is stored, beside the ones the promotion makes. Bundles were verified
 * when the release was read (./read-release.ts); the classic `.sig`/`.att` layers the source's signed manifest lists
 * are verified here. A listed signature that is gone or does not verify refuses the promotion.
 */
import type { ManifestBundle, ManifestClassicSignature } from '../deployment/manifest.js';
import { verifyClassic, type ClassicRegistry } from '../sign/classic-tags.js';
import type { ExpectedSigner, TrustMaterial } from '../sign/verify.js';
import { ReleaseReadError, type ReadRelease, type ReleaseRepository } from './read-release.js';

/** The source's signatures and attestations, as a deployment manifest lists them. */
export interface CarriedSignatures {
  bundles: ManifestBundle[];
  classic: ManifestClassicSignature[];
}

/** A release read back and verified, with what its promotion carries over. */
export interface ReleaseToPromote extends ReadRelease {
  carried: CarriedSignatures;
}

/**
 * Every bundle by the expected signer on the index and the platform images (what readRelease verified), and every
 * classic signature the source's signed manifest lists, verified now. Throws ReleaseReadError when a listed one is
 * missing or does not verify.
 */
export async function carriedSignatures(
  registry: ClassicRegistry,
  repository: ReleaseRepository,
  source: ReadRelease,
  trust: { material: TrustMaterial; expected: ExpectedSigner },
): Promise<CarriedSignatures> {
  const { release, verified } = source;
  const listed = source.manifest.manifest.signatures;
  const bySubject = [
    { subject: release.index.digest, result: verified.index },
    ...release.platforms.map((p) => ({ subject: p.digest, result: verified.platforms.get(p.digest) })),
  ];
  const bundles = bySubject.flatMap(({ subject, result }) =>
    (result?.verified ?? []).map((v) => ({ subject, predicateType: v.predicateType, referrer: v.referrer })),
  );
  const missing = listed.bundles.filter(
    (b) => !bundles.some((v) => v.subject === b.subject && v.referrer === b.referrer),
  );
  if (missing.length > 0) {
    throw new ReleaseReadError(
      `${repository.name}@${release.index.digest}: ${missing.length} bundle(s) its signed deployment manifest ` +
        `lists are gone or do not verify: ${missing.map((b) => `${b.subject} ${b.predicateType} (referrer ${b.referrer})`).join('; ')}`,
    );
  }
  const classic = await verifiedClassic(registry, repository, source, trust);
  return { bundles, classic };
}

/** The classic signatures the source's manifest lists, each verified (by subject, predicate type and tag). */
async function verifiedClassic(
  registry: ClassicRegistry,
  repository: ReleaseRepository,
  source: ReadRelease,
  trust: { material: TrustMaterial; expected: ExpectedSigner },
): Promise<ManifestClassicSignature[]> {
  const listed = source.manifest.manifest.signatures.classic ?? [];
  const subjects = [...new Set(listed.map((c) => c.subject))];
  const results = await Promise.all(
    subjects.map((digest) =>
      verifyClassic(registry, repository.path, digest, trust.material, trust.expected, repository.name),
    ),
  );
  const failures = results.flatMap((r) => r.failures);
  if (failures.length > 0) {
    throw new ReleaseReadError(
      `${repository.name}@${source.release.index.digest}: ${failures.length} classic signature(s) failed ` +
        `verification: ${failures.map((f) => `${f.referrer}: ${f.code}: ${f.message}`).join('; ')}`,
    );
  }
  const found = new Map<string, ManifestClassicSignature>();
  subjects.forEach((subject, i) => {
    for (const v of results[i]!.verified) {
      found.set(`${subject} ${v.predicateType} ${v.tag}`, {
        subject,
        predicateType: v.predicateType,
        tag: v.tag,
      });
    }
  });
  const missing = listed.filter((c) => !found.has(`${c.subject} ${c.predicateType} ${c.tag}`));
  if (missing.length > 0) {
    throw new ReleaseReadError(
      `${repository.name}@${source.release.index.digest}: ${missing.length} classic signature(s) its signed ` +
        `deployment manifest lists are gone or not by the expected signer: ` +
        missing.map((c) => `${c.tag} (${c.predicateType})`).join('; '),
    );
  }
  return [...found.values()];
}
