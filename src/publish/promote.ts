/**
 * Promotion (`mode: promote`): a release already published, verified and re-gated (see ../lifecycle) is published
 * again under this ref's version and tags. Nothing is built or pushed by digest: the SAME index gets the tags, new
 * signatures and attestations (the fresh scan), and a new signed deployment manifest that records where it came
 * from. Everything that can fail happens before the first tag is written, as in a release.
 */
import type { ManifestPromotion } from '../deployment/manifest.js';
import type { ReleaseToPromote } from '../lifecycle/carried-signatures.js';
import type { ReadRelease } from '../lifecycle/release-reader.js';
import { prepareSigning } from '../sign/signer.js';
import { gatedImages } from './gated-images.js';
import { publishContext, type PublishDeps, type PublishRequest, type PublishResult } from './model.js';
import { completeRelease, readChannelBaseline } from './release.js';
import { assertNoTagConflict, planLineTags, readTagPlan, releaseTagList } from './tags.js';

export interface PromotionRequest extends PublishRequest {
  /** The release being promoted, read back and verified, with the signatures it carries over. */
  source: ReleaseToPromote;
}

/** Tags the promoted index with this release's tags (maintenance lines apply) after signing its new manifest. */
export async function publishPromotion(req: PromotionRequest, deps: PublishDeps): Promise<PublishResult> {
  const { settings, release, source } = req;
  const { registry, log } = deps;
  const ctx = publishContext(req, deps, source.release.index, gatedImages(req.gate, req.images));
  const lines = await log.group('Plan the tags', async () => {
    const plan = await readTagPlan(registry, settings.image.path, releaseTagList(release));
    if (!settings.publish.overwrite) assertNoTagConflict(plan, settings.imageName, ctx.index.digest);
    const { allowDowngrade } = settings.publish;
    return planLineTags(registry, settings.image.path, plan, release, ctx.index.digest, allowDowngrade, log);
  });
  const baseline = await log.group('Read the channel baseline', () => readChannelBaseline(ctx));
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
