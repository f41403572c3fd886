import type { PublishContext } from './model.js';
import { TagWriteError } from './reconcile-tags.js';
import { applyTags, type TagPlanEntry } from './tags.js';

/**
 * Points every planned tag at the index (release tags last) and reads each back; a failure is decided
 * from the registry (see applyTags). When tagging fails, the draft release is discarded (no release
 * announces untagged images) unless the release tag points at the new index after all: then the release
 * is out, and a re-run completes it.
 */
export async function writeTags(
  { req, deps, index }: PublishContext,
  plan: readonly TagPlanEntry[],
): Promise<string[]> {
  const { registry, log, releaseAssets } = deps;
  const repository = req.settings.image.path;
  const name = req.settings.imageName;
  try {
    const written = await applyTags(
      registry,
      repository,
      plan,
      index,
      async (digest) => {
        const previous = await registry.getManifest(repository, digest);
        return { body: previous.body, mediaType: previous.mediaType };
      },
      log,
    );
    log.info(`${written.map((t) => `${name}:${t}`).join(', ')} → ${index.digest}`);
    return written;
  } catch (error) {
    const releaseOut = error instanceof TagWriteError && error.releaseTagOnIndex;
    if (releaseAssets && !releaseOut) await releaseAssets.discard();
    throw error;
  }
}
