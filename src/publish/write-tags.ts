import type { PublishContext } from './model.js';
import { PublishError } from './model.js';
import { applyTags, type TagPlanEntry } from './tags.js';

/**
 * Points every planned tag at the index (release tags last; see applyTags, which puts tags back when a
 * write fails) and reads each back. When tagging fails, the draft release is discarded: no release
 * announces untagged images.
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
    for (const tag of written) {
      const now = await registry.headManifest(repository, tag);
      if (now?.digest !== index.digest) {
        throw new PublishError(
          `${name}:${tag} resolves to ${now?.digest ?? 'nothing'} after tagging, not to ${index.digest}`,
        );
      }
    }
    log.info(`${written.map((t) => `${name}:${t}`).join(', ')} → ${index.digest}`);
    return written;
  } catch (error) {
    if (releaseAssets) await releaseAssets.discard();
    throw error;
  }
}
