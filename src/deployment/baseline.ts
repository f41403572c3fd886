/**
 * The channel baseline: the release an edge node on a channel runs now. Each channel with a baseline has a moving tag
 * in the image repository (`<repo>:production`, `<repo>:staging`) that points at the index of its latest release; the
 * next release of that channel is compared with it (download delta) and must not go below its version (the downgrade
 * guard). The `dev` channel (branches, pull requests, non-semver tags) has no baseline.
 *
 * Pure: the registry reads happen elsewhere.
 */
import semver from 'semver';
import type { Channel } from '../release/metadata.js';

/** The moving tag of each channel's latest release; `null`: the channel has no baseline. */
export const CHANNEL_BASELINE_TAGS: Readonly<Record<Channel, string | null>> = Object.freeze({
  production: 'production',
  staging: 'staging',
  dev: null,
});

/** The OCI annotation on the index that carries the release version. */
export const VERSION_ANNOTATION = 'org.opencontainers.image.version';

/** The baseline tag of `channel` (`production`, `staging`), or undefined for `dev`. */
export function channelTag(channel: Channel): string | undefined {
  return CHANNEL_BASELINE_TAGS[channel] ?? undefined;
}

/** `ghcr.io/acme/agent:production`, or undefined when the channel has no baseline. */
export function baselineReference(repository: string, channel: Channel): string | undefined {
  const tag = channelTag(channel);
  return tag === undefined ? undefined : `${repository}:${tag}`;
}

/** The release version recorded on a baseline index (`org.opencontainers.image.version`), if any. */
export function previousVersionFromIndexAnnotations(annotations: unknown): string | undefined {
  if (typeof annotations !== 'object' || annotations === null || Array.isArray(annotations)) return undefined;
  const value = (annotations as Record<string, unknown>)[VERSION_ANNOTATION];
  if (typeof value !== 'string') return undefined;
  const version = value.trim();
  return version === '' ? undefined : version;
}

export type VersionRelation =
  /** No previous release on the channel (or the channel has no baseline). */
  | 'first'
  | 'upgrade'
  /** Same version (build metadata ignored): a re-release, allowed. */
  | 're-release'
  | 'downgrade'
  /** One of the versions is not semver: nothing to compare. */
  | 'unknown';

export interface DowngradeCheck {
  /** Whether the release may proceed. */
  ok: boolean;
  relation: VersionRelation;
  /** One line for the log. */
  message: string;
  /** Set when the release proceeds but someone should look (unchecked versions, an allowed downgrade). */
  warning?: string;
}

/** The name of the action input that lets a downgrade through. */
export const ALLOW_DOWNGRADE_INPUT = 'allow-downgrade';

/**
 * The downgrade guard. A release whose semver is lower than the channel's current release would roll every edge node
 * on the channel back; it is refused unless `allowDowngrade`. Ordering is semver's: pre-releases sort below their
 * release (1.2.0-rc.1 < 1.2.0), numeric identifiers numerically (rc.10 > rc.9), build metadata is ignored (so
 * 1.2.0+a → 1.2.0+b is a re-release). A version that is not semver cannot be compared: the guard is skipped with a
 * warning, as it is when the previous release is known but has no version (`''`). `previousVersion` undefined means
 * there is no previous release on the channel. A leading `v` is accepted on either version.
 */
export function checkDowngrade(
  newVersion: string,
  previousVersion: string | undefined,
  channel: Channel,
  allowDowngrade: boolean,
): DowngradeCheck {
  if (channelTag(channel) === undefined) {
    return {
      ok: true,
      relation: 'first',
      message: `The ${channel} channel has no baseline; no downgrade check.`,
    };
  }
  if (previousVersion === undefined) {
    return {
      ok: true,
      relation: 'first',
      message: `${newVersion} is the first release on the ${channel} channel.`,
    };
  }
  if (previousVersion.trim() === '') {
    const warning =
      `Downgrade check skipped: the ${channel} channel's current release has no version ` +
      `(no org.opencontainers.image.version annotation on its index), so ${newVersion} cannot be ordered against it.`;
    return { ok: true, relation: 'unknown', message: warning, warning };
  }
  const previous = semver.parse(previousVersion.trim());
  const next = semver.parse(newVersion.trim());
  if (!previous || !next) {
    const which = !previous
      ? `the ${channel} channel's current release "${previousVersion}"`
      : `the new release "${newVersion}"`;
    const warning =
      `Downgrade check skipped: ${which} is not a semantic version, so ${newVersion} cannot be ordered ` +
      `against ${previousVersion}. Make sure edge nodes on ${channel} are meant to move to ${newVersion}.`;
    return { ok: true, relation: 'unknown', message: warning, warning };
  }
  const order = semver.compare(next, previous);
  if (order > 0) {
    return {
      ok: true,
      relation: 'upgrade',
      message: `${newVersion} upgrades the ${channel} channel from ${previousVersion}.`,
    };
  }
  if (order === 0) {
    return {
      ok: true,
      relation: 're-release',
      message: `${newVersion} re-releases the ${channel} channel's current version ${previousVersion}.`,
    };
  }
  if (allowDowngrade) {
    const warning =
      `${newVersion} is lower than the ${channel} channel's current release ${previousVersion}: edge nodes on ` +
      `${channel} will be downgraded (allowed by ${ALLOW_DOWNGRADE_INPUT}).`;
    return { ok: true, relation: 'downgrade', message: warning, warning };
  }
  return {
    ok: false,
    relation: 'downgrade',
    message:
      `Refusing to release ${newVersion} on the ${channel} channel: its current release is ${previousVersion}, ` +
      `a higher version, and every edge node on ${channel} would be downgraded. Release a version above ` +
      `${previousVersion}, or set ${ALLOW_DOWNGRADE_INPUT}: true to roll back on purpose.`,
  };
}
