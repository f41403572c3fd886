/**
 * After a tag write failed (or its read-back did), the registry is asked where every planned tag points
 * now and the outcome is decided from what was read, never assumed: a release whose every tag points at
 * the new index is complete (a reply was lost); otherwise the tags this release moved are put back and the
 * error reports, per tag, what a final read-back found.
 */
import type { PhaseLog } from '../logging/phase-log.js';
import type { RegistryClient } from '../registry/client.js';
import { PublishError, type TagPlanEntry } from './model.js';

type TagClient = Pick<RegistryClient, 'putManifest' | 'deleteManifest' | 'headManifest'>;

/** Where a tag points, as read back (digest undefined: no such tag), or why it could not be read. */
export interface TagReading {
  tag: string;
  digest?: string;
  error?: string;
}

/** Tagging failed; the message reports every tag as read back. */
export class TagWriteError extends PublishError {
  override name = 'TagWriteError';
  constructor(
    message: string,
    /** The release tag (the exact version) points at the new index: the release is out, if incomplete. */
    readonly releaseTagOnIndex: boolean,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

const describe = (error: unknown) => (error instanceof Error ? error.message : String(error));

/** Reads every tag back, one registry operation each (the client's retry budget applies to each). */
export async function readTags(
  client: Pick<RegistryClient, 'headManifest'>,
  repository: string,
  tags: readonly string[],
): Promise<TagReading[]> {
  const readings: TagReading[] = [];
  for (const tag of tags) {
    try {
      const now = await client.headManifest(repository, tag);
      readings.push({ tag, ...(now ? { digest: now.digest } : {}) });
    } catch (error) {
      readings.push({ tag, error: describe(error) });
    }
  }
  return readings;
}

/** Puts one tag back where it was: the previous manifest re-tagged, or a new tag deleted. */
async function restoreTag(
  client: TagClient,
  repository: string,
  entry: TagPlanEntry,
  previousBodies: (digest: string) => Promise<{ body: Buffer; mediaType: string } | undefined>,
): Promise<void> {
  if (!entry.previous) {
    const deleted = await client.deleteManifest(repository, entry.tag);
    if (!deleted) throw new Error('the registry did not find the tag to delete');
    return;
  }
  const previous = await previousBodies(entry.previous);
  if (!previous) throw new Error(`the manifest ${entry.previous} could not be read`);
  await client.putManifest(repository, entry.tag, previous.body, previous.mediaType);
}

/**
 * Decides a failed tagging from the registry's tags: returns the tags when every one points at the
 * index, else restores what this release moved and throws a TagWriteError reporting each tag.
 */
export async function reconcileTags(
  client: TagClient,
  repository: string,
  ordered: readonly TagPlanEntry[],
  index: { digest: string },
  previousBodies: (digest: string) => Promise<{ body: Buffer; mediaType: string } | undefined>,
  log: PhaseLog,
  failure: unknown,
): Promise<string[]> {
  const tags = ordered.map((p) => p.tag);
  const detail = describe(failure);
  const first = await readTags(client, repository, tags);
  if (first.every((r) => r.digest === index.digest)) {
    log.warning(
      `a registry reply was lost (${detail}), but reading every tag back shows each on ${index.digest}: ` +
        `${tags.join(', ')}. The release is complete.`,
    );
    return tags;
  }
  // Only tags that point at this release's index are put back (release tags first, then moving tags):
  // a tag another run moved since planning is never undone.
  const attempted = new Map<string, string | undefined>();
  for (const entry of [...ordered].reverse()) {
    const reading = first.find((r) => r.tag === entry.tag);
    if (reading?.digest !== index.digest || entry.previous === index.digest) continue;
    try {
      await restoreTag(client, repository, entry, previousBodies);
      attempted.set(entry.tag, undefined);
    } catch (error) {
      attempted.set(entry.tag, describe(error));
    }
  }
  const final = attempted.size ? await readTags(client, repository, tags) : first;
  throw tagReport(ordered, final, attempted, index.digest, detail, failure);
}

/** The error that reports each tag as read back last, the release tag first, and says what to do. */
function tagReport(
  ordered: readonly TagPlanEntry[],
  final: readonly TagReading[],
  attempted: ReadonlyMap<string, string | undefined>,
  indexDigest: string,
  detail: string,
  failure: unknown,
): TagWriteError {
  const byTag = new Map(final.map((r) => [r.tag, r]));
  const releaseFirst = [...ordered.filter((p) => p.protected), ...ordered.filter((p) => !p.protected)];
  const where = (digest: string | undefined) => digest ?? 'nothing (no such tag)';
  const lines = releaseFirst.map((entry) => {
    const r = byTag.get(entry.tag)!;
    const label = `${entry.protected ? 'release tag ' : ''}${entry.tag}`;
    if (r.error) return `${label}: could not be read back (${r.error})`;
    const tried = attempted.has(entry.tag);
    if (r.digest === indexDigest) {
      return tried
        ? `${label}: could not be restored (${attempted.get(entry.tag) ?? 'the registry kept it'}); points at the new index ${indexDigest}`
        : `${label}: points at the new index ${indexDigest}`;
    }
    if (tried && r.digest === entry.previous) return `${label}: restored to ${where(entry.previous)}`;
    if (r.digest === entry.previous)
      return `${label}: unchanged, ${r.digest ? `points at ${r.digest}` : 'absent (not written)'}`;
    return `${label}: moved by another run to ${where(r.digest)}; left alone`;
  });
  const release = ordered.find((p) => p.protected);
  const releaseOnIndex = release !== undefined && byTag.get(release.tag)?.digest === indexDigest;
  const left = final.filter(
    (r) => r.digest === indexDigest && ordered.find((p) => p.tag === r.tag)?.previous !== indexDigest,
  );
  const unread = final.filter((r) => r.error);
  let advice: string;
  if (releaseOnIndex) {
    advice =
      `${release.tag} points at this release's signed index: re-run the job for this commit, which adopts the ` +
      'release and completes its tags and GitHub release.';
  } else if (left.length) {
    const fixes = left.map((r) => {
      const previous = ordered.find((p) => p.tag === r.tag)?.previous;
      return previous ? `point ${r.tag} back at ${previous}` : `delete tag ${r.tag}`;
    });
    advice = `Re-run the job, or in the registry ${fixes.join(', ')} (this release is not published).`;
  } else if (unread.length) {
    advice = `Check ${unread.map((r) => r.tag).join(', ')} in the registry, then re-run the job.`;
  } else {
    advice = "No tag points at this release's index. Re-run the job.";
  }
  return new TagWriteError(
    `writing the tags failed: ${detail}. The tags as read back from the registry:\n` +
      lines.map((l) => `  ${l}`).join('\n') +
      `\n${advice}`,
    releaseOnIndex,
    { cause: failure },
  );
}
