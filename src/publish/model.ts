/** What the publish phase takes, returns and shares between its steps. */
import type { OfflineBundle } from '../bundles/offline-bundles.js';
import type { DeploymentManifest } from '../deployment/manifest.js';
import type { BuiltIndex } from '../image/image-index.js';
import type { PlatformImage } from '../image/pushed-image.js';
import type { PhaseLog } from '../logging/phase-log.js';
import type { Policy } from '../policy/index.js';
import type { PlatformProvenance } from '../provenance/slsa.js';
import type { RegistryClient } from '../registry/client.js';
import { ReferrerWriter } from '../registry/referrers.js';
import type { ReleaseMetadata } from '../release/metadata.js';
import type { GateResult } from '../policy/decide.js';
import type { PlatformScan } from '../scan/scan-platforms.js';
import type { Settings } from '../settings/inputs.js';
import type { SignerConfig, SignResult } from '../sign/signer.js';
import type { ExpectedSigner, TrustMaterial } from '../sign/verify.js';
import type { AttestationStore } from '../github/attestations.js';
import { ReleaseSignatures, type SignatureRecord } from './signatures.js';

export interface PublishRequest {
  settings: Settings;
  policy: Policy;
  release: ReleaseMetadata;
  images: readonly PlatformImage[];
  gate: GateResult;
  git: { ref: string; revision: string; workflowRun: string };
  reportsDir: string;
  /** SLSA provenance of the platform images, made by the jobs that built them. */
  provenance?: readonly PlatformProvenance[];
}

export interface AssetUpload {
  name: string;
  file: string;
  contentType: string;
}

export interface PublishDeps {
  registry: RegistryClient;
  log: PhaseLog;
  /** Undefined when signing is off. */
  signer?: SignerConfig;
  /** Who verification expects, given the first signature made (keyless: its identity and issuer). */
  expectedSigner?: (first: SignResult) => ExpectedSigner;
  /** The trust root bundles are verified against (loaded only when signing). */
  trustMaterial?: () => Promise<TrustMaterial>;
  /** The GitHub Release of the tag; undefined when release assets are off or there is no tag. */
  releaseAssets?: ReleaseAssetsStage;
  /**
   * Keyless: the certificate identity and issuer this workflow signs with, when known before signing (a
   * re-run checks an existing release against it; see adopt-release).
   */
  workflowIdentity?: { identity: string; issuer: string };
  /** GitHub artifact attestations (`github-attestations`); undefined when off or not on GitHub. */
  githubAttestations?: GitHubAttestations;
  readText: (file: string) => Promise<string>;
  writeText: (file: string, text: string | Buffer) => Promise<void>;
  now: () => Date;
}

/**
 * Release assets go up to a draft release before any tag is written; the draft is published only once
 * every tag is in place, and discarded when tagging fails.
 */
export interface ReleaseAssetsStage {
  stage(assets: AssetUpload[]): Promise<{ releaseUrl: string; assets: Array<{ name: string }> }>;
  publish(): Promise<string>;
  discard(): Promise<void>;
}

export interface PublishResult {
  indexDigest: string;
  tags: string[];
  manifestFile: string;
  manifestBundleFile?: string;
  /** sha256 of the deployment manifest file. */
  manifestDigest: string;
  manifest: DeploymentManifest;
  signatures: SignatureRecord[];
  releaseUrl?: string;
  renderedTemplates: string[];
  /** Offline bundles written (empty when offline-bundles is off). */
  offlineBundles?: OfflineBundle[];
}

/** One tag to point at the new index, with what it pointed at before (for the guard and rollback). */
export interface TagPlanEntry {
  tag: string;
  previous?: string;
  /** Release tags (the exact version) may not be moved silently; moving tags (1.8, latest, channel) may. */
  protected: boolean;
}

/** `github-attestations` as the publish phase sees it (`off` is no value at all). */
export interface GitHubAttestations {
  mode: 'auto' | 'required';
  /** Undefined when there is no token or repository to store them with. */
  store?: AttestationStore;
}

export class PublishError extends Error {
  override name = 'PublishError';
}

/** An image to publish and the gate's scan of it. */
export interface GatedImage {
  image: PlatformImage;
  scan: PlatformScan;
}

/** What the steps after the index is built share. */
export interface PublishContext {
  req: PublishRequest;
  deps: PublishDeps;
  /** The index over the gated images. */
  index: BuiltIndex;
  /** Each image with the gate's scan of it. */
  gated: readonly GatedImage[];
  /** Where the release's referrers go (one writer per publish). */
  referrers: ReferrerWriter;
  /** Every bundle attached so far. */
  signatures: ReleaseSignatures;
}

/** The context of one publish: one referrer writer, the bundles attached so far (none yet). */
export function publishContext(
  req: PublishRequest,
  deps: PublishDeps,
  index: BuiltIndex,
  gated: readonly GatedImage[],
  /** Where the signature tags it adds to are read first (a promotion: the view it read its source through). */
  firstReads?: ReferrerWriter['firstReads'],
): PublishContext {
  const referrers = new ReferrerWriter(deps.registry, firstReads);
  const signatures = new ReleaseSignatures(
    referrers,
    req.settings.image.path,
    deps.now,
    req.settings.publish.signatureFormat,
    req.settings.imageName,
  );
  return { req, deps, index, gated, referrers, signatures };
}

/** The index's descriptor: the subject of its signatures and of the deployment manifest artifact. */
export function indexSubject(index: BuiltIndex): { mediaType: string; digest: string; size: number } {
  return { mediaType: index.mediaType, digest: index.digest, size: index.body.length };
}
