/**
 * Promotion (`mode: promote`): a release already published, verified and re-gated (see ../lifecycle) is published
 * again under this ref's version and tags. Nothing is built or pushed by digest: the SAME index gets the tags, new
 * signatures and attestations (the fresh scan), and a new signed deployment manifest that records where it came
 * from. Everything that can fail happens before the first tag is written, as in a release.
 */
import type { Baseline } from '../deployment/baseline.js';
import type { ManifestPromotion } from '../deployment/manifest.js';
import type { TagDecision } from '../deployment/tag-lines.js';
import type { PlatformImage } from '../image/pushed-image.js';
import type { ReleaseToPromote } from '../lifecycle/carried-signatures.js';
import type { ReadRelease } from '../lifecycle/release-reader.js';
import type { PhaseLog } from '../logging/phase-log.js';
import type { RegistryClient } from '../registry/client.js';
import type { ReleaseMetadata } from '../release/metadata.js';
import type { Settings } from '../settings/inputs.js';
import { prepareSigning } from '../sign/signer.js';
import { gatedImages } from './gated-images.js';
import {
  publishContext,
  type PublishDeps,
  type PublishRequest,
  type PublishResult,
  type TagPlanEntry,
} from './model.js';
import { completeRelease, readChannelBaseline } from './release.js';
import { assertNoTagConflict, planLineTags, readTagPlan, releaseTagList } from './tags.js';

/** What a promotion reads before it writes: where its tags are (maintenance lines apply) and its channel baseline. */
export interface PromotionPlan {
  lines: { plan: TagPlanEntry[]; decisions: readonly TagDecision[] };
  baseline: Baseline | undefined;
}

export interface PromotionRequest extends PublishRequest {
  /** The release being promoted, read back and verified, with the signatures it carries over. */
  source: ReleaseToPromote;
  /** Its plan (see planPromotion), read while the source was verified and re-scanned; awaited before signing. */
  planned: () => Promise<PromotionPlan>;
}

/**
 * Reads where this ref's tags are and the channel baseline, for the promoted index: only reads, so it runs while
 * the source is verified and re-scanned. Refuses a release tag held by another index (unless `overwrite`) and a
 * downgrade of the channel (unless `allow-downgrade`); each tag is checked again right before it is written.
 */
export async function planPromotion(
  registry: RegistryClient,
  input: {
    settings: Settings;
    release: ReleaseMetadata;
    images: readonly PlatformImage[];
    indexDigest: string;
  },
  log: PhaseLog,
): Promise<PromotionPlan> {
  const { settings, release, indexDigest } = input;
  const repository = settings.image.path;
  const { allowDowngrade } = settings.publish;
  const plan = await readTagPlan(registry, repository, releaseTagList(release));
  if (!settings.publish.overwrite) assertNoTagConflict(plan, settings.imageName, indexDigest);
  const lines = await planLineTags(registry, repository, plan, release, indexDigest, allowDowngrade, log);
  const baseline = await readChannelBaseline(registry, input, log);
  return { lines, baseline };
}

/** Tags the promoted index with this release's tags (maintenance lines apply) after signing its new manifest. */
export async function publishPromotion(req: PromotionRequest, deps: PublishDeps): Promise<PublishResult> {
  const { source } = req;
  // The tags its signatures add to were read with the source (the same run, moments before): not read again.
  const gated = gatedImages(req.gate, req.images);
  const ctx = publishContext(req, deps, source.release.index, gated, source.reads);
  const { lines, baseline } = await req.planned();
  // Only what it carries over can refuse the promotion now: the signing certificate is fetched while that ends, and
  // nothing is signed before it did.
  if (deps.signer) prepareSigning(deps.signer);
  const carried = await source.carried();
  return completeRelease(ctx, lines, baseline, { record: promotionRecord(source, deps.now()), carried });
}

/** The manifest's `promotedFrom`: the promoted release's version, index and signed manifest, and the rescan. */
export function promotionRecord(source: ReadRelease, rescanned: Date): ManifestPromotion {
  const { manifest, file, artifact } = source.manifest;
  return {
    version: manifest.release.version,
    channel: manifest.release.channel,
    index: source.release.index.digest,
    manifest: { file: file.name, digest: file.digest, artifact },
    rescanned: rescanned.toISOString(),
  };
}
