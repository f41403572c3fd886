import { channelTag, previousVersionFromIndexAnnotations } from '../deployment/baseline.js';
import { decideLineTags, type TagDecision } from '../deployment/tag-lines.js';
import type { PhaseLog } from '../logging/phase-log.js';
import type { RegistryClient } from '../registry/client.js';
import type { ReleaseMetadata } from '../release/metadata.js';
import type { TagPlanEntry } from './model.js';
import { reconcileTags } from './reconcile-tags.js';

export type { TagPlanEntry } from './model.js';

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

/** Where each tag points now (one HEAD a tag). */
export async function readTagPlan(
  client: Pick<RegistryClient, 'headManifest'>,
  repository: string,
  tags: ReadonlyArray<{ tag: string; protected: boolean }>,
): Promise<TagPlanEntry[]> {
  const read = async ({ tag, protected: isProtected }: { tag: string; protected: boolean }) => {
    const current = await client.headManifest(repository, tag);
    return { tag, protected: isProtected, ...(current ? { previous: current.digest } : {}) };
  };
  // The first alone (often a client's first request: the registry's challenge is then known to the rest), then
  // the others at once; the plan keeps the order of `tags`.
  const [first, ...rest] = tags;
  if (!first) return [];
  const head = await read(first);
  return [head, ...(await Promise.all(rest.map(read)))];
}

/**
 * Maintenance lines: reads the version of each index a moving tag of a stable release points at now (one GET per
 * index) and keeps in the plan only the tags the release moves (see decideLineTags); every decision is logged and
 * returned for the deployment manifest.
 */
export async function planLineTags(
  client: Pick<RegistryClient, 'getManifest'>,
  repository: string,
  plan: readonly TagPlanEntry[],
  release: Pick<ReleaseMetadata, 'version' | 'kind' | 'channel'>,
  indexDigest: string,
  allowDowngrade: boolean,
  log: PhaseLog,
): Promise<{ plan: TagPlanEntry[]; decisions: TagDecision[] }> {
  const versions = new Map<string, string | undefined>();
  if (release.kind === 'release') {
    const held = [...new Set(plan.map((p) => p.previous))].filter(
      (digest): digest is string => digest !== undefined && digest !== indexDigest,
    );
    await Promise.all(
      held.map(async (digest) => {
        const index = await client.getManifest(repository, digest);
        versions.set(
          digest,
          previousVersionFromIndexAnnotations((index.json as { annotations?: unknown }).annotations),
        );
      }),
    );
  }
  const holders = plan.map((p) => ({
    tag: p.tag,
    ...(p.previous ? { previous: p.previous } : {}),
    ...(p.previous && versions.get(p.previous) ? { previousVersion: versions.get(p.previous)! } : {}),
  }));
  const decisions = decideLineTags(release, indexDigest, holders, allowDowngrade);
  for (const d of decisions) log.info(`${d.tag}: ${d.moves ? 'moves' : 'stays'} (${d.reason})`);
  return { plan: plan.filter((_, i) => decisions[i]!.moves), decisions };
}

/** Refuses a plan that would move a protected tag already pointing at another digest. */
export function assertNoTagConflict(
  plan: readonly TagPlanEntry[],
  imageName: string,
  indexDigest: string,
): void {
  const conflicts = plan.filter((p) => p.protected && p.previous && p.previous !== indexDigest);
  if (conflicts.length === 0) return;
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

/**
 * Points every planned tag at the index and reads each back. Each tag is first checked to be where it was planned
 * (all at once); then the first moving tag is written alone (a registry that
 * refuses tag writes stops the release there, with nothing else moved), then the other moving tags all at once,
 * then the protected (release) tags, so a reader that sees the version tag sees a complete release; the read-back
 * is one round at once. Any failure from the first write on is decided from the registry once every write in
 * flight has ended (see reconcileTags): complete when every tag points at the index, else the tags this release
 * moved are put back and the error reports each tag as read back.
 */
export async function applyTags(
  client: Pick<RegistryClient, 'putManifest' | 'deleteManifest' | 'headManifest'>,
  repository: string,
  plan: readonly TagPlanEntry[],
  index: { body: Buffer; mediaType: string; digest: string },
  previousBodies: (digest: string) => Promise<{ body: Buffer; mediaType: string } | undefined>,
  log: PhaseLog,
): Promise<string[]> {
  const moving = plan.filter((p) => !p.protected);
  const release = plan.filter((p) => p.protected);
  const ordered = [...moving, ...release];
  // Another release may have moved a tag since it was planned (a concurrent run): never undo it. Every tag is
  // checked at once, right before the first is written.
  const check = async (entry: TagPlanEntry) => {
    const now = await client.headManifest(repository, entry.tag);
    if (now?.digest !== entry.previous) {
      throw new TagConflictError(
        `${entry.tag} moved while this release was being published (planned from ${entry.previous ?? 'absent'}, ` +
          `now ${now?.digest ?? 'absent'}): another run is publishing to this repository. ` +
          'Serialise releases of one image with a workflow concurrency group keyed on the image.',
      );
    }
  };
  const write = async (entry: TagPlanEntry) => {
    await client.putManifest(repository, entry.tag, index.body, index.mediaType);
  };
  const readBack = async (entry: TagPlanEntry) => {
    const now = await client.headManifest(repository, entry.tag);
    if (now?.digest !== index.digest) {
      throw new Error(
        `${entry.tag} resolves to ${now?.digest ?? 'nothing'} after tagging, not to ${index.digest}`,
      );
    }
  };
  try {
    await allSettledInOrder(ordered, check);
    for (const group of [moving.slice(0, 1), moving.slice(1), release]) {
      const written = await allSettledInOrder(group, write);
      for (const entry of written) {
        log.info(`tagged ${entry.tag}${entry.previous ? ` (was ${entry.previous})` : ''}`);
      }
    }
    await allSettledInOrder(ordered, readBack);
  } catch (error) {
    return reconcileTags(client, repository, ordered, index, previousBodies, log, error);
  }
  return ordered.map((p) => p.tag);
}

/**
 * Runs `fn` on every entry at once and waits for all of them to end; throws the first failure (in entry order)
 * only then, so nothing is still in flight when the caller reconciles. Returns the entries, in order.
 */
async function allSettledInOrder<T>(entries: readonly T[], fn: (entry: T) => Promise<void>): Promise<T[]> {
  const settled = await Promise.allSettled(entries.map(fn));
  const failed = settled.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) throw failed.reason;
  return [...entries];
}
