/**
 * Reading a release back, step by step (./read-release.ts has the steps): openRelease resolves it, reads its
 * deployment manifests and images and verifies its SBOM attestations (a re-scan can start from there);
 * verifyOpenedRelease verifies the rest (image signatures, SLSA provenance, the signed manifest). readRelease does
 * both, one after the other.
 */
import type { PlatformImage } from '../image/pushed-image.js';
import type { PhaseLog } from '../logging/phase-log.js';
import type { RegistryClient } from '../registry/client.js';
import { verifyAttached, type VerifyAttachedResult } from '../sign/bundle-referrers.js';
import { CYCLONEDX_PREDICATE_TYPE, SPDX_PREDICATE_TYPE } from '../sign/predicates.js';
import { readOnce, type ReadOnceRegistry } from '../registry/read-once.js';
import { readReferrersAhead, referrerListings, type ReferrerListings } from './referrer-listings.js';
import {
  attestedSboms,
  provenanceSubjects,
  readDeploymentManifests,
  readReleaseImages,
  resolveRelease,
  signedManifest,
  verifyReleaseSignatures,
  type AttestedSbom,
  type PublishedManifest,
  type PublishedRelease,
  type ReleaseRepository,
  type ReleaseTrust,
  type VerifiedRelease,
} from './read-release.js';

/** A release read back and verified: where promotion and rescans start. */
export interface ReadRelease {
  release: PublishedRelease;
  images: PlatformImage[];
  verified: VerifiedRelease;
  /** Its newest signed deployment manifest. */
  manifest: PublishedManifest;
  sboms: AttestedSbom[];
  /** The referrers as the read listed them (what it carries over is verified from these listings too). */
  listings: ReferrerListings;
  /** The registry as the read sees it (each manifest and blob fetched once): what follows reads through it too. */
  reads: ReadOnceRegistry;
  /**
   * Referrers of the platform images left unverified (see `defer`), by image digest: the caller verifies them
   * before it relies on them. Empty unless asked for.
   */
  deferred: Map<string, Set<string>>;
}

/**
 * Resolves `reference`, reads its deployment manifests, verifies every signature (and SLSA provenance the manifest
 * lists) against `expected`, picks the newest signed manifest and the SBOM attestations, and reads the images'
 * manifests and configs. Throws ReleaseReadError (or AttachedVerificationError) for anything unsigned or foreign.
 * `defer` picks predicate types whose bundles on the platform images, as the manifests list them, are left out of
 * this verification (returned in `deferred`): a promotion verifies what it only carries over while it re-scans.
 */
export async function readRelease(
  registry: RegistryClient,
  repository: ReleaseRepository,
  reference: string,
  trust: ReleaseTrust,
  log: PhaseLog,
  defer: (predicateType: string) => boolean = () => false,
): Promise<ReadRelease> {
  const opened = await openRelease(registry, repository, reference, trust, log);
  return verifyOpenedRelease(registry, repository, opened, trust, log, defer);
}

/** A release resolved, its manifests and images read, its SBOM attestations verified: nothing else yet. */
export interface OpenedRelease {
  release: PublishedRelease;
  images: PlatformImage[];
  manifests: PublishedManifest[];
  sboms: AttestedSbom[];
  /** The SBOM referrers verified, by image digest (verifyOpenedRelease does not verify them again). */
  sbomResults: Map<string, VerifyAttachedResult>;
  /** The referrers as listed by this read (verifyOpenedRelease does not list them again). */
  listings: ReferrerListings;
  /** The registry as this read sees it: each manifest and blob fetched once, the bundles read ahead. */
  reads: ReadOnceRegistry;
  /** Settles once every bundle read ahead has been (nothing needs to wait for it). */
  readAhead: Promise<void>;
}

/**
 * The first half of readRelease: resolves `reference`, reads its deployment manifests and its images' manifests
 * and configs, and verifies the SBOM attestations the manifests list (each platform's whole set of referrers when
 * a manifest lists none), so a re-scan can start while verifyOpenedRelease checks the rest.
 */
export async function openRelease(
  registry: RegistryClient,
  repository: ReleaseRepository,
  reference: string,
  /** What it verifies against; may still be loading (the public-good root comes through TUF) while it reads. */
  trusted: ReleaseTrust | Promise<ReleaseTrust>,
  log: PhaseLog,
): Promise<OpenedRelease> {
  const release = await resolveRelease(registry, repository, reference);
  // One read: each manifest and blob is fetched once (readOnce). The index's referrers are listed first (that answer
  // says whether the registry has a referrers API), the platforms' right after, while its manifests are read.
  const reads = readOnce(registry);
  const listings = referrerListings(reads, repository.path);
  const digests = [release.index.digest, ...release.platforms.map((p) => p.digest)];
  const listed = listings(release.index.digest).then(
    () => Promise.allSettled(digests.map((digest) => listings(digest))),
    () => undefined,
  );
  log.info(`${reference} → ${release.index.digest}: ${release.platforms.map((p) => p.platform).join(', ')}`);
  // The manifests and the images' manifests and configs at once; verification needs the manifests' listings.
  const [manifests, images] = await Promise.all([
    readDeploymentManifests(reads, repository, release.index.digest, listings(release.index.digest)),
    readReleaseImages(registry, repository, release),
    listed,
  ]);
  const sbomReferrers = listedReferrers(manifests, release, (type) => SBOM_PREDICATE_TYPES.has(type));
  const trust = await trusted;
  const verifying = Promise.all(
    release.platforms.map((p) =>
      verifyAttached(reads, repository.path, p.digest, trust.material, trust.expected, {
        concurrent: true,
        partial: true,
        listing: listings(p.digest),
        ...(sbomReferrers.has(p.digest) ? { onlyReferrers: sbomReferrers.get(p.digest)! } : {}),
      }),
    ),
  );
  // Every other bundle of the release, read ahead (after the SBOMs' reads) of its verification: the rest of the
  // read verifies them while the SBOMs are scanned, and a promotion carries the others over.
  const readAhead = readReferrersAhead(
    reads,
    repository.path,
    digests.map((digest) => listings(digest)),
  );
  const results = await verifying;
  const sbomResults = new Map(release.platforms.map((p, i) => [p.digest, results[i]!]));
  const onlySboms = { index: { verified: [], otherSigners: [] }, platforms: sbomResults };
  let sboms: AttestedSbom[];
  try {
    sboms = attestedSboms(release, onlySboms, repository);
  } catch (error) {
    // Say first whether the release is signed by the expected signer at all; then that it has no SBOM.
    const provenance = provenanceOf(manifests);
    await verifyReleaseSignatures(
      reads,
      repository,
      release,
      trust,
      provenance,
      new Map(),
      sbomResults,
      listings,
    );
    throw error;
  }
  return { release, images, manifests, sboms, sbomResults, listings, reads, readAhead };
}

/** SBOM attestations: what a re-scan reads. */
const SBOM_PREDICATE_TYPES: ReadonlySet<string> = new Set([SPDX_PREDICATE_TYPE, CYCLONEDX_PREDICATE_TYPE]);

/**
 * The second half of readRelease: every other signature of the opened release (and SLSA provenance the manifest
 * lists) verified against `expected`, except what `defer` picks, and the newest signed manifest.
 */
export async function verifyOpenedRelease(
  registry: RegistryClient,
  repository: ReleaseRepository,
  opened: OpenedRelease,
  trust: ReleaseTrust,
  log: PhaseLog,
  defer: (predicateType: string) => boolean = () => false,
): Promise<ReadRelease> {
  const { release, images, manifests, sboms, sbomResults, listings, reads } = opened;
  const what = `${repository.name}@${release.index.digest} (${release.reference})`;
  const provenance = provenanceOf(manifests);
  const deferred = listedReferrers(manifests, release, defer);
  const verified = await verifyReleaseSignatures(
    reads,
    repository,
    release,
    trust,
    provenance,
    deferred,
    sbomResults,
    listings,
  );
  const manifest = signedManifest(manifests, verified.index, what);
  log.info(
    `verified: the index and ${release.platforms.length} image(s) are signed by the expected signer` +
      `${provenance.size ? `, SLSA provenance of ${provenance.size} digest(s)` : ''}; deployment manifest ` +
      `${manifest.file.name} (${manifest.manifest.release.version}, ${manifest.file.digest})`,
  );
  return { release, images, verified, manifest, sboms, deferred, listings, reads };
}

/** The digests any of the manifests lists SLSA provenance for. */
function provenanceOf(manifests: readonly PublishedManifest[]): Set<string> {
  return new Set(manifests.flatMap((m) => [...provenanceSubjects(m.manifest)]));
}

/**
 * The platform images' referrers that any of the (not yet verified) manifests lists with a predicate type `pick`
 * picks, by image digest. Taking them from an unverified listing is safe: it only orders the verification (a
 * listed referrer is verified first or later, never skipped), and a referrer no manifest lists is verified with
 * the rest.
 */
function listedReferrers(
  manifests: readonly PublishedManifest[],
  release: PublishedRelease,
  pick: (predicateType: string) => boolean,
): Map<string, Set<string>> {
  const listed = new Map<string, Set<string>>();
  const platforms = new Set(release.platforms.map((p) => p.digest));
  for (const { manifest } of manifests) {
    for (const b of manifest.signatures.bundles) {
      if (!platforms.has(b.subject) || !pick(b.predicateType)) continue;
      const set = listed.get(b.subject) ?? new Set<string>();
      set.add(b.referrer);
      listed.set(b.subject, set);
    }
  }
  return listed;
}
