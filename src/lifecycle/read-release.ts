/**
 * A published release read back from the registry: its index (from a tag or a digest), its platform images
 * (manifests and configs only, never a layer), the Sigstore bundles attached to each digest verified against the
 * expected signer, its signed deployment manifest(s) and its SBOM attestations. Promotion (`mode: promote`) and
 * rescans start from here; nothing is built and no layer blob is pulled.
 */
import path from 'node:path';
import {
  DEPLOYMENT_MANIFEST_ARTIFACT_TYPE,
  deploymentManifestFromValue,
  parseDeploymentManifest,
  type DeploymentManifest,
} from '../deployment/manifest.js';
import type { BuiltIndex } from '../image/image-index.js';
import { formatPlatform, parsePlatform, platformSlug } from '../image/platform.js';
import { isAttestationEntry, resolvePlatformImage, type IndexEntry } from '../image/pushed-image.js';
import type { PlatformImage } from '../image/pushed-image.js';
import type { RegistryClient } from '../registry/client.js';
import type { ReadOnceRegistry } from '../registry/read-once.js';
import { isIndexMediaType } from '../registry/media-types.js';
import { isDigest } from '../registry/reference.js';
import type { OciDescriptor } from '../registry/referrer-manifest.js';
import { listReferrers } from '../registry/referrers.js';
import type { ReferrerListings } from './referrer-listings.js';
import { sbomFileName, type SbomFormat } from '../scan/syft.js';
import {
  assertVerifiedAttached,
  verifyAttached,
  type VerifiedReferrer,
  type VerifyAttachedResult,
} from '../sign/bundle-referrers.js';
import {
  COSIGN_SIGN_PREDICATE_TYPE,
  CYCLONEDX_PREDICATE_TYPE,
  DEPLOYMENT_PREDICATE_TYPE,
  SPDX_PREDICATE_TYPE,
} from '../sign/predicates.js';
import { parseStatement, statementNamesDigest } from '../sign/statements.js';
import type { ExpectedSigner, TrustMaterial } from '../sign/verify.js';

/** SLSA provenance v1: verified whenever the release's deployment manifest lists a bundle of this type. */
export const SLSA_PROVENANCE_PREDICATE_TYPE = 'https://slsa.dev/provenance/v1';

const TITLE = 'org.opencontainers.image.title';

/** What a release read needs of the registry client (RegistryClient has it all; so has the read's readOnce view). */
export type ReleaseRegistry = ReadOnceRegistry;

/** What a release must verify against: the trust root and the expected signer. */
export interface ReleaseTrust {
  material: TrustMaterial;
  expected: ExpectedSigner;
}

/** The release's repository: its path in the registry (`acme/agent`) and its name in messages. */
export interface ReleaseRepository {
  path: string;
  name: string;
}

/** A release index as the registry has it. */
export interface PublishedRelease {
  /** What was asked for: a tag (`1.8.2-rc.1`, `staging`) or a digest. */
  reference: string;
  index: BuiltIndex;
  /** The index's annotations (`org.opencontainers.image.version`, `.revision`, ...). */
  annotations: Record<string, string>;
  /** Its runnable platform entries (attestation entries left out), in index order. */
  platforms: Array<{ platform: string; digest: string; mediaType: string; size: number }>;
}

/** The release was not found, is not an index, or does not verify; the message says what to do. */
export class ReleaseReadError extends Error {
  override name = 'ReleaseReadError';
}

/** Resolves a tag or digest of `repository` to its index (an image manifest is refused: a release is an index). */
export async function resolveRelease(
  registry: Pick<ReleaseRegistry, 'findManifest'>,
  repository: ReleaseRepository,
  reference: string,
): Promise<PublishedRelease> {
  const ref = reference.replace(/^@/, '');
  const fetched = await registry.findManifest(repository.path, ref);
  if (!fetched) {
    throw new ReleaseReadError(
      `${repository.name}${isDigest(ref) ? '@' : ':'}${ref} does not exist: name a tag or digest of a release of ${repository.name}`,
    );
  }
  if (!isIndexMediaType(fetched.mediaType)) {
    throw new ReleaseReadError(
      `${repository.name}${isDigest(ref) ? '@' : ':'}${ref} is a ${fetched.mediaType}, not a multi-arch index: ` +
        'only an Edgeship release (its index) can be promoted or rescanned',
    );
  }
  const doc = fetched.json as { manifests?: IndexEntry[]; annotations?: Record<string, string> };
  const platforms = (doc.manifests ?? [])
    .filter((m) => !isAttestationEntry(m) && m.platform?.os && m.platform.architecture)
    .map((m) => ({
      platform: formatPlatform({
        os: m.platform!.os!,
        architecture: m.platform!.architecture!,
        ...(m.platform?.variant ? { variant: m.platform.variant } : {}),
      }),
      digest: m.digest,
      mediaType: m.mediaType,
      size: m.size,
    }));
  if (platforms.length === 0)
    throw new ReleaseReadError(`${repository.name}@${fetched.digest} lists no platform image`);
  return {
    reference: ref,
    index: { body: fetched.body, digest: fetched.digest, mediaType: fetched.mediaType },
    annotations: doc.annotations ?? {},
    platforms,
  };
}

/** Each platform's image: its manifest and config (user, healthcheck, sizes), never a layer blob. */
export async function readReleaseImages(
  registry: RegistryClient,
  repository: ReleaseRepository,
  release: PublishedRelease,
): Promise<PlatformImage[]> {
  // Every platform at once (a manifest and a config each), in index order.
  return Promise.all(
    release.platforms.map((p) =>
      resolvePlatformImage(registry, repository.path, p.digest, parsePlatform(p.platform)),
    ),
  );
}

/** One deployment manifest attached to a release index. */
export interface PublishedManifest {
  manifest: DeploymentManifest;
  /** The manifest file: its name and digest, and its bytes read from the registry on demand. */
  file: { name: string; digest: string; read: () => Promise<Buffer> };
  /** The Sigstore bundle that signs it; undefined when the release was published with signing off. */
  bundle?: { name: string; body: Buffer; digest: string };
  /** Digest of the OCI artifact (referrer of the index) that carries it. */
  artifact: string;
}

/**
 * Every deployment manifest attached to the index, newest first (by `release.created`): a promoted index carries
 * the manifest of each release it was published as. Unsigned or invalid ones are returned too (see signedManifest).
 */
export async function readDeploymentManifests(
  registry: ReleaseRegistry,
  repository: ReleaseRepository,
  indexDigest: string,
  /** The index's referrers as listed already; default: listed now. */
  listing?: Promise<OciDescriptor[]>,
): Promise<PublishedManifest[]> {
  const artifacts = (await (listing ?? listReferrers(registry, repository.path, indexDigest))).filter(
    (r) => r.artifactType === DEPLOYMENT_MANIFEST_ARTIFACT_TYPE,
  );
  const read = await Promise.all(
    artifacts.map((artifact) => readManifestArtifact(registry, repository, artifact)),
  );
  const found = read.filter((m): m is PublishedManifest => m !== undefined);
  return found.sort((a, b) => b.manifest.release.created.localeCompare(a.manifest.release.created));
}

/**
 * One deployment manifest artifact: its file and (when signed) its bundle; undefined when it carries no file. A
 * signed manifest is read from its bundle's statement, whose predicate is the manifest as JSON and which names the
 * file's digest (that statement is what verification checks): the YAML file is not fetched. Without a bundle, or
 * when the statement does not name the file, the YAML is read and parsed.
 */
async function readManifestArtifact(
  registry: ReleaseRegistry,
  repository: ReleaseRepository,
  artifact: { digest: string },
): Promise<PublishedManifest | undefined> {
  const doc = (await registry.getManifest(repository.path, artifact.digest)).json as {
    layers?: Array<{ digest: string; annotations?: Record<string, string> }>;
  };
  const [yamlLayer, bundleLayer] = (doc.layers ?? []).slice(0, 2);
  if (!yamlLayer) return undefined;
  const named = (layer: { digest: string; annotations?: Record<string, string> }) =>
    path.basename(layer.annotations?.[TITLE] ?? layer.digest);
  let read: Promise<Buffer> | undefined;
  const readFile = () =>
    registry.getBlob(repository.path, yamlLayer.digest).catch((error: unknown) => {
      read = undefined; // asked again next time
      throw error;
    });
  const file = { name: named(yamlLayer), digest: yamlLayer.digest, read: () => (read ??= readFile()) };
  const where = `${file.name} (${artifact.digest})`;
  // The bundle, and whether the file is still there (a manifest that names a file no one can fetch is not one).
  const [bundleBody, fileThere] = await Promise.all([
    bundleLayer ? registry.getBlob(repository.path, bundleLayer.digest) : undefined,
    bundleLayer ? registry.blobExists(repository.path, yamlLayer.digest) : true,
  ]);
  if (!fileThere) {
    throw new ReleaseReadError(`${where}: the manifest file ${file.digest} is not in ${repository.name}`);
  }
  const bundle =
    bundleLayer && bundleBody
      ? { name: named(bundleLayer), body: bundleBody, digest: bundleLayer.digest }
      : undefined;
  const signed = bundle && signedPredicate(bundle.body, file.digest);
  const manifest =
    signed !== undefined
      ? deploymentManifestFromValue(signed, where)
      : parseDeploymentManifest((await file.read()).toString('utf8'), where);
  return { manifest, file, ...(bundle ? { bundle } : {}), artifact: artifact.digest };
}

/**
 * The predicate of the in-toto statement a deployment manifest bundle carries when that statement names the file
 * digest `fileDigest`; undefined for anything else (the bundle is verified, or refused, later).
 */
function signedPredicate(bundle: Buffer, fileDigest: string): unknown {
  try {
    const json = JSON.parse(bundle.toString('utf8')) as { dsseEnvelope?: { payload?: unknown } };
    const payload = json.dsseEnvelope?.payload;
    if (typeof payload !== 'string') return undefined;
    const statement = parseStatement(Buffer.from(payload, 'base64'));
    return statementNamesDigest(statement, fileDigest) ? statement.predicate : undefined;
  } catch {
    return undefined;
  }
}

/** The bundles verified on the index and on each platform image. */
export interface VerifiedRelease {
  index: VerifyAttachedResult;
  /** By platform image digest. */
  platforms: Map<string, VerifyAttachedResult>;
}

/**
 * Verifies the bundles attached to the index (its signature and a deployment manifest attestation) and to each
 * platform image (its signature, and SLSA provenance when `provenanceFor` names the image), all by `expected`,
 * except the referrers `deferred` lists by subject (the caller verifies those later). Refuses an unsigned release
 * and one signed by someone else (AttachedVerificationError says which digest).
 */
export async function verifyReleaseSignatures(
  registry: ReleaseRegistry,
  repository: ReleaseRepository,
  release: PublishedRelease,
  trust: ReleaseTrust,
  provenanceFor: ReadonlySet<string> = new Set(),
  deferred: ReadonlyMap<string, ReadonlySet<string>> = new Map(),
  /** What was verified before on the platform images (openRelease's SBOMs): not verified again, counted. */
  earlier: ReadonlyMap<string, VerifyAttachedResult> = new Map(),
  /** The referrers as this read listed them already; default: listed now. */
  listings?: ReferrerListings,
): Promise<VerifiedRelease> {
  const provenance = (digest: string) => (provenanceFor.has(digest) ? [SLSA_PROVENANCE_PREDICATE_TYPE] : []);
  const { material, expected } = trust;
  const platform = async (digest: string): Promise<VerifyAttachedResult> => {
    const before = earlier.get(digest) ?? { verified: [], otherSigners: [] };
    const skip = new Set([...(deferred.get(digest) ?? []), ...referrersOf(before)]);
    const now = await verifyAttached(registry, repository.path, digest, material, expected, {
      concurrent: true,
      partial: true,
      exceptReferrers: skip,
      ...(listings ? { listing: listings(digest) } : {}),
    });
    const all = {
      verified: [...before.verified, ...now.verified],
      otherSigners: [...before.otherSigners, ...now.otherSigners],
    };
    const subject = `${registry.registry}/${repository.path}@${digest}`;
    assertVerifiedAttached(subject, all, expected, [COSIGN_SIGN_PREDICATE_TYPE, ...provenance(digest)]);
    return all;
  };
  // The index and the platforms are read and verified at once (registry round trips), kept in index order.
  const [index, ...checked] = await Promise.all([
    verifyAttached(registry, repository.path, release.index.digest, material, expected, {
      requiredPredicateTypes: [
        COSIGN_SIGN_PREDICATE_TYPE,
        DEPLOYMENT_PREDICATE_TYPE,
        ...provenance(release.index.digest),
      ],
      concurrent: true,
      ...(listings ? { listing: listings(release.index.digest) } : {}),
    }),
    ...release.platforms.map((p) => platform(p.digest)),
  ]);
  const platforms = new Map<string, VerifyAttachedResult>();
  for (const [i, p] of release.platforms.entries()) platforms.set(p.digest, checked[i]!);
  return { index, platforms };
}

/** The referrers a verification looked at and kept (by the expected signer or another). */
function referrersOf(result: VerifyAttachedResult): string[] {
  return [...result.verified, ...result.otherSigners].map((v) => v.referrer);
}

/** The digests a manifest lists an SLSA provenance bundle for: they must verify with it. */
export function provenanceSubjects(manifest: DeploymentManifest): Set<string> {
  return new Set(
    manifest.signatures.bundles
      .filter((b) => b.predicateType === SLSA_PROVENANCE_PREDICATE_TYPE)
      .map((b) => b.subject),
  );
}

/**
 * The newest deployment manifest whose bundle is one of the index's verified deployment manifest attestations and
 * whose signed statement names the manifest file's digest; throws when there is none.
 */
export function signedManifest(
  manifests: readonly PublishedManifest[],
  verifiedIndex: VerifyAttachedResult,
  what: string,
): PublishedManifest {
  const attestations = verifiedIndex.verified.filter((v) => v.predicateType === DEPLOYMENT_PREDICATE_TYPE);
  const signed = manifests.find((m) =>
    attestations.some(
      (a) =>
        m.bundle &&
        a.bundleDigest === m.bundle.digest &&
        statementNamesDigest(a.statement, m.file.digest) &&
        statementNamesDigest(a.statement, m.manifest.image.index.digest),
    ),
  );
  if (!signed) {
    throw new ReleaseReadError(
      `${what} carries no deployment manifest signed by the expected signer ` +
        `(${manifests.length} deployment manifest(s) attached, ${attestations.length} verified attestation(s))`,
    );
  }
  return signed;
}

/** One platform's SBOM, as its verified attestation carries it. */
export interface AttestedSbom {
  platform: string;
  digest: string;
  format: SbomFormat;
  predicateType: string;
  /** The SBOM document (the statement's predicate). */
  document: unknown;
  /** The referrer manifest carrying the attestation. */
  referrer: string;
}

/** Each platform's verified SBOM attestation (SPDX preferred, then CycloneDX); throws when a platform has none. */
export function attestedSboms(
  release: PublishedRelease,
  verified: VerifiedRelease,
  repository: ReleaseRepository,
): AttestedSbom[] {
  return release.platforms.map((p) => {
    const bundles = verified.platforms.get(p.digest)?.verified ?? [];
    const pick = (type: string): VerifiedReferrer | undefined =>
      bundles.find((b) => b.predicateType === type && b.statement.predicate !== undefined);
    const spdx = pick(SPDX_PREDICATE_TYPE);
    const chosen = spdx ?? pick(CYCLONEDX_PREDICATE_TYPE);
    if (!chosen) {
      throw new ReleaseReadError(
        `${repository.name}@${p.digest} (${p.platform}) has no verified SPDX or CycloneDX SBOM attestation: ` +
          'it cannot be re-scanned without pulling its layers (release it anew)',
      );
    }
    return {
      platform: p.platform,
      digest: p.digest,
      format: spdx ? 'spdx-json' : 'cyclonedx-json',
      predicateType: chosen.predicateType,
      document: chosen.statement.predicate,
      referrer: chosen.referrer,
    };
  });
}

/** Writes each attested SBOM where a scan writes it (`sbom-linux-arm64.spdx.json` in `dir`); returns the files. */
export async function writeSbomFiles(
  sboms: readonly AttestedSbom[],
  dir: string,
  writeText: (file: string, text: string) => Promise<void>,
): Promise<Array<{ platform: string; digest: string; format: SbomFormat; file: string }>> {
  const files = [];
  for (const sbom of sboms) {
    const file = path.join(dir, sbomFileName(platformSlug(parsePlatform(sbom.platform)), sbom.format));
    await writeText(file, JSON.stringify(sbom.document));
    files.push({ platform: sbom.platform, digest: sbom.digest, format: sbom.format, file });
  }
  return files;
}
