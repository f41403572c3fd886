/**
 * Maintenance lines: which moving tags a release takes. A stable release lower than the release a moving tag points
 * at (1.7.5 after 1.8.2) is a maintenance release of its own line: it takes its version, its `major.minor` and its
 * `major` tag unless a higher release holds them, and leaves `latest`, the channel tag and higher lines where they
 * are. `allow-downgrade` rolls the channel back on purpose: the channel tag and `latest` then move as well.
 * Prereleases, branches and other refs move every tag they have (the downgrade guard still refuses a lower
 * prerelease, see ./baseline.ts).
 *
 * Pure: the versions of the indexes the tags point at now are read elsewhere.
 */
import semver from 'semver';
import type { ReleaseMetadata } from '../release/metadata.js';
import { ALLOW_DOWNGRADE_INPUT, channelTag } from './baseline.js';

/** A tag the release would point at its index, with what it points at now. */
export interface TagHolder {
  tag: string;
  /** Digest of the index the tag points at now; undefined: the tag does not exist. */
  previous?: string;
  /** That index's release version (`org.opencontainers.image.version`), when it has one. */
  previousVersion?: string;
}

/** Whether the release moves a tag, and why. */
export interface TagDecision {
  tag: string;
  moves: boolean;
  reason: string;
  /** What the tag pointed at before this release. */
  previous?: { index: string; version?: string };
}

/**
 * Decides, tag by tag, which tags `release` moves to `indexDigest`. Only the moving tags a stable release derives
 * from its version (`1.7`, `1`, `latest`) and the channel tag can stay; the exact version and extra tags always move.
 */
export function decideLineTags(
  release: Pick<ReleaseMetadata, 'version' | 'kind' | 'channel'>,
  indexDigest: string,
  holders: readonly TagHolder[],
  allowDowngrade: boolean,
): TagDecision[] {
  const version = semver.parse(release.version);
  const channel = channelTag(release.channel);
  const lineTags =
    release.kind === 'release' && version
      ? new Set([
          `${version.major}.${version.minor}`,
          `${version.major}`,
          'latest',
          ...(channel ? [channel] : []),
        ])
      : new Set<string>();
  return holders.map((holder) => {
    const previous = holder.previous
      ? {
          previous: {
            index: holder.previous,
            ...(holder.previousVersion ? { version: holder.previousVersion } : {}),
          },
        }
      : {};
    const decide = (moves: boolean, reason: string): TagDecision => ({
      tag: holder.tag,
      moves,
      reason,
      ...previous,
    });
    if (holder.tag === release.version) return decide(true, "the release's own version");
    if (!holder.previous) return decide(true, 'a new tag');
    if (holder.previous === indexDigest) return decide(true, 'already points at this release');
    if (!lineTags.has(holder.tag))
      return decide(true, `moves from ${holder.previousVersion ?? holder.previous}`);
    const held = holder.previousVersion ? semver.parse(holder.previousVersion) : null;
    if (!held || !version)
      return decide(
        true,
        `moves from ${holder.previousVersion ?? holder.previous} (no semantic version there to compare with)`,
      );
    if (semver.compare(version, held) >= 0) return decide(true, `moves up from ${holder.previousVersion}`);
    const rollsBack = holder.tag === channel || holder.tag === 'latest';
    if (rollsBack && allowDowngrade)
      return decide(true, `rolled back from ${holder.previousVersion} (${ALLOW_DOWNGRADE_INPUT})`);
    return decide(
      false,
      `stays on ${holder.previousVersion}, a higher release: ${release.version} is a maintenance release of the ` +
        `${version.major}.${version.minor} line and moves only the tags no higher release holds`,
    );
  });
}
