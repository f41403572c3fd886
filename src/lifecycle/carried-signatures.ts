/**
 * What a promotion carries over from the release it promotes: the promoted digests keep their signatures and
 * attestations (image signatures, SBOM, vulnerability, SLSA provenance, OpenVEX, the source's deployment manifest),
 * so the new deployment manifest lists every one that exists and verifies against the expected signer, with its
 * format, predicate type, subject and where it is stored, beside the ones the promotion makes. The bundles a
 * promotion relies on (image signatures, SBOMs, SLSA provenance) were verified when the release was read
 * (./read-release.ts); the ones it only carries (PROMOTION_DEFERS) and the classic `.sig`/`.att` layers the source's
 * signed manifest lists are verified here, while the platforms are re-scanned. A listed signature that is gone or
 * does not verify refuses the promotion.
 */
import type { ManifestBundle, ManifestClassicSignature } from '../deployment/manifest.js';
import type { ReadOnceRegistry } from '../registry/read-once.js';
import type { ReferrersRegistry } from '../registry/referrers.js';
import { MAX_BUNDLE_BYTES, verifyAttached, type VerifyAttachedResult } from '../sign/bundle-referrers.js';
import { classicTag, parseClassicManifest } from '../sign/classic-format.js';
import { classicEquivalents, type ClassicEquivalents } from '../sign/classic-equivalents.js';
import { verifyClassic, type ClassicRegistry } from '../sign/classic-tags.js';
import {
  COSIGN_SIGN_PREDICATE_TYPE,
  CYCLONEDX_PREDICATE_TYPE,
  SPDX_PREDICATE_TYPE,
} from '../sign/predicates.js';
import {
  ReleaseReadError,
  SLSA_PROVENANCE_PREDICATE_TYPE,
  type ReleaseRepository,
  type ReleaseTrust,
} from './read-release.js';
import type { OpenedRelease, ReadRelease } from './release-reader.js';

/** What a promotion relies on, verified before anything else: image signatures, SBOMs and SLSA provenance. */
const RELIED_ON: ReadonlySet<string> = new Set([
  COSIGN_SIGN_PREDICATE_TYPE,
  SPDX_PREDICATE_TYPE,
  CYCLONEDX_PREDICATE_TYPE,
  SLSA_PROVENANCE_PREDICATE_TYPE,
]);

/** The platform bundles a promotion only carries over (vulnerability, OpenVEX, …): verified by carriedSignatures. */
export const PROMOTION_DEFERS = (predicateType: string): boolean => !RELIED_ON.has(predicateType);

/** The source's signatures and attestations, as a deployment manifest lists them. */
export interface CarriedSignatures {
  bundles: ManifestBundle[];
  classic: ManifestClassicSignature[];
}

/** A release read back and verified, with what its promotion carries over. */
export interface ReleaseToPromote extends ReadRelease {
  /**
   * What it carries over, once verified: awaited (from the foreground, between log groups) before anything is
   * signed, so the verification may still run while the tags are planned and the baseline is read. A failure
   * refuses the promotion before it signs or writes anything.
   */
  carried: () => Promise<CarriedSignatures>;
}

/**
 * Every bundle by the expected signer on the index and the platform images (what readRelease verified), and every
 * classic signature the source's signed manifest lists, verified now. Throws ReleaseReadError when a listed one is
 * missing or does not verify.
 */
export async function carriedSignatures(
  registry: ClassicRegistry & ReferrersRegistry,
  repository: ReleaseRepository,
  source: ReadRelease,
  trust: ReleaseTrust,
): Promise<CarriedSignatures> {
  const { release, verified } = source;
  const listed = source.manifest.manifest.signatures;
  // The bundles left for now when the release was read, and the classic signatures, at once: a classic layer the
  // same signing made as a verified bundle is not read again (classicEquivalents).
  const deferred = verifiedDeferred(registry, repository, source, trust);
  const equivalents = (digest: string) =>
    deferred.then((later) => {
      const results =
        digest === release.index.digest
          ? [verified.index]
          : [verified.platforms.get(digest), later.get(digest)];
      return classicEquivalents(
        results.flatMap((r) => r?.verified ?? []),
        trust.expected,
        digest,
      );
    });
  const [later, classic] = await Promise.all([
    deferred,
    verifiedClassic(registry, repository, source, trust, equivalents),
  ]);
  const bySubject = [
    { subject: release.index.digest, results: [verified.index] },
    ...release.platforms.map((p) => ({
      subject: p.digest,
      results: [verified.platforms.get(p.digest), later.get(p.digest)],
    })),
  ];
  const bundles = bySubject.flatMap(({ subject, results }) =>
    results.flatMap((result) =>
      (result?.verified ?? []).map((v) => ({
        subject,
        predicateType: v.predicateType,
        referrer: v.referrer,
      })),
    ),
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
  return { bundles, classic };
}

/** Layers of one `.sig` tag read ahead at most (carriedSignatures reads any others itself). */
const PREFETCH_LAYERS = 16;

/**
 * Starts reading, through `reads` (the read's readOnce view, which carriedSignatures then reads through), the classic
 * signatures carriedSignatures will verify as the opened release's manifests list them, while the rest is verified:
 * the classic tags of the digests the manifests list classic signatures of, with the layers of their `.sig` tags (an
 * `.att` layer is mostly the one a verified bundle makes: see classicEquivalents). The bundles it verifies were read
 * ahead with the rest (readReferrersAhead). Only reads, from manifests not verified yet: nothing is taken from them
 * before carriedSignatures verifies it, and a read that failed is made again there. The caller need not wait for it;
 * it settles once every read ahead has.
 */
export function prefetchCarried(
  reads: ReadOnceRegistry,
  path: string,
  opened: Pick<OpenedRelease, 'manifests'>,
): Promise<void> {
  const classic = new Set(
    opened.manifests.flatMap(({ manifest }) => (manifest.signatures.classic ?? []).map((c) => c.subject)),
  );
  const reading = [...classic].flatMap((digest) => [
    reads.getManifest(path, classicTag(digest, 'att')),
    reads.getManifest(path, classicTag(digest, 'sig')).then((tag) =>
      Promise.all(
        parseClassicManifest(tag.body)
          .slice(0, PREFETCH_LAYERS)
          .filter((layer) => layer.size <= MAX_BUNDLE_BYTES)
          .map((layer) => reads.getBlob(path, layer.digest)),
      ),
    ),
  ]);
  // Settles once every read ahead has (none fails it: carriedSignatures reads again what failed, and says why).
  return Promise.allSettled(reading).then(() => undefined);
}

/** The referrers readRelease left unverified (`deferred`), verified now, by image digest. */
async function verifiedDeferred(
  registry: ReferrersRegistry,
  repository: ReleaseRepository,
  source: ReadRelease,
  trust: ReleaseTrust,
): Promise<Map<string, VerifyAttachedResult>> {
  const subjects = [...source.deferred.entries()];
  const results = await Promise.all(
    subjects.map(([digest, referrers]) =>
      verifyAttached(registry, repository.path, digest, trust.material, trust.expected, {
        onlyReferrers: referrers,
        concurrent: true,
        listing: source.listings(digest),
      }),
    ),
  );
  return new Map(subjects.map(([digest], i) => [digest, results[i]!]));
}

/** The classic signatures the source's manifest lists, each verified (by subject, predicate type and tag). */
async function verifiedClassic(
  registry: ClassicRegistry,
  repository: ReleaseRepository,
  source: ReadRelease,
  trust: ReleaseTrust,
  equivalents: (digest: string) => Promise<ClassicEquivalents>,
): Promise<ManifestClassicSignature[]> {
  const listed = source.manifest.manifest.signatures.classic ?? [];
  const subjects = [...new Set(listed.map((c) => c.subject))];
  const results = await Promise.all(
    subjects.map((digest) =>
      verifyClassic(registry, repository.path, digest, trust.material, trust.expected, repository.name, {
        equivalents: equivalents(digest),
      }),
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
