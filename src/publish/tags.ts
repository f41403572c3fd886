import { channelTag } from '../deployment/baseline.js';
import type { PhaseLog } from '../logging/phase-log.js';
import type { RegistryClient } from '../registry/client.js';
import type { ReleaseMetadata } from '../release/metadata.js';

/** One tag to point at the new index, with what it pointed at before (for the guard and rollback). */
export interface TagPlanEntry {
  tag: string;
  previous?: string;
  /** Release tags (the exact version) may not be moved silently; moving tags (1.8, latest, channel) may. */
  protected: boolean;
}

export class TagConflictError extends Error {
  override name = 'TagConflictError';
}

/**
 * The tags a release points at its index: its own tags, then its channel's baseline tag. A released
 * version (the exact version of a release or prerelease) is never moved silently; pr-N, branch and other
 * tags move with every push.
 */
export function releaseTagList(
  release: Pick<ReleaseMetadata, 'tags' | 'version' | 'kind' | 'channel'>,
): Array<{ tag: string; protected: boolean }> {
  const channel = channelTag(release.channel);
  return [
    ...release.tags.map((tag) => ({
      tag,
      protected: tag === release.version && (release.kind === 'release' || release.kind === 'prerelease'),
    })),
    ...(channel ? [{ tag: channel, protected: false }] : []),
  ];
}

/**
 * Reads where each tag points now and refuses, before anything is written, to move a protected tag
 * that already points at another digest unless `overwrite` is set.
 */
export async function planTags(
  client: Pick<RegistryClient, 'headManifest'>,
  repository: string,
  imageName: string,
  tags: ReadonlyArray<{ tag: string; protected: boolean }>,
  indexDigest: string,
  overwrite: boolean,
): Promise<TagPlanEntry[]> {
  const plan: TagPlanEntry[] = [];
  for (const { tag, protected: isProtected } of tags) {
    const current = await client.headManifest(repository, tag);
    plan.push({ tag, protected: isProtected, ...(current ? { previous: current.digest } : {}) });
  }
  const conflicts = plan.filter((p) => p.protected && p.previous && p.previous !== indexDigest);
  if (conflicts.length && !overwrite) {
    throw new TagConflictError(
      conflicts
        .map(
          (c) =>
            `${imageName}:${c.tag} already exists and points at ${c.previous}, not at this release's index ${indexDigest}`,
        )
        .join('\n') +
        '\nA published release tag is not moved silently. Release a new version, or set overwrite: true to replace it.',
    );
  }
  return plan;
}

/**
 * Points every planned tag at the index. Protected (release) tags are written last, so a reader that
 * sees the version tag sees a complete release. If a write fails for good, tags already moved are put
 * back where they were and tags it created are deleted (where the registry can delete a tag); the
 * error names any tag that could be neither.
 */
export async function applyTags(
  client: Pick<RegistryClient, 'putManifest' | 'deleteManifest' | 'headManifest'>,
  repository: string,
  plan: readonly TagPlanEntry[],
  index: { body: Buffer; mediaType: string },
  previousBodies: (digest: string) => Promise<{ body: Buffer; mediaType: string } | undefined>,
  log: PhaseLog,
): Promise<string[]> {
  const ordered = [...plan.filter((p) => !p.protected), ...plan.filter((p) => p.protected)];
  const written: TagPlanEntry[] = [];
  try {
    for (const entry of ordered) {
      // Another release may have moved the tag since it was planned (a concurrent run): never undo it.
      const now = await client.headManifest(repository, entry.tag);
      if (now?.digest !== entry.previous) {
        throw new TagConflictError(
          `${entry.tag} moved while this release was being published (planned from ${entry.previous ?? 'absent'}, ` +
            `now ${now?.digest ?? 'absent'}): another run is publishing to this repository. ` +
            'Serialise releases of one image with a workflow concurrency group keyed on the image.',
        );
      }
      await client.putManifest(repository, entry.tag, index.body, index.mediaType);
      written.push(entry);
      log.info(`tagged ${entry.tag}${entry.previous ? ` (was ${entry.previous})` : ''}`);
    }
  } catch (error) {
    const unrestored: string[] = [];
    for (const entry of written.reverse()) {
      if (!entry.previous) {
        // A tag this release created: delete it, where the registry allows deleting a tag.
        const deleted = await client.deleteManifest(repository, entry.tag).catch(() => false);
        if (!deleted) unrestored.push(entry.tag);
        continue;
      }
      const previous = await previousBodies(entry.previous).catch(() => undefined);
      if (!previous) {
        unrestored.push(entry.tag);
        continue;
      }
      try {
        await client.putManifest(repository, entry.tag, previous.body, previous.mediaType);
      } catch {
        unrestored.push(entry.tag);
      }
    }
    const detail = error instanceof Error ? error.message : String(error);
    throw new Error(
      `writing the tags failed: ${detail}.` +
        (written.length
          ? unrestored.length
            ? ` Tags already written that could not be put back or deleted: ${unrestored.join(', ')}; ` +
              'they point at this unpublished release: re-run the job, or delete them in the registry.'
            : ' Tags already written were put back where they were (or deleted when new).'
          : ' No tag was written.'),
      { cause: error },
    );
  }
  return ordered.map((p) => p.tag);
}
