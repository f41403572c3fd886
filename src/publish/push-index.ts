import type { PublishContext } from './model.js';

/** Pushes the release index by digest: no tag points at it until every signature is in place. */
export async function pushIndex({ req, deps, index }: PublishContext): Promise<void> {
  await deps.registry.putManifest(req.settings.image.path, index.digest, index.body, index.mediaType);
  deps.log.info(
    `pushed ${req.settings.imageName}@${index.digest} (${req.images.length} platforms, no tag yet)`,
  );
}
