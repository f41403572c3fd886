/**
 * The channel baseline: the release an edge node on a channel runs now. Each channel with a baseline has a moving tag
 * in the image repository (`<repo>:production`, `<repo>:staging`) that points at the index of its latest release; the
 * next release of that channel is compared with it (download delta) and must not go below its version (the downgrade
 * guard). The `dev` channel (branches, pull requests, non-semver tags) has no baseline.
 *
 * Pure, except readBaseline(), which reads the baseline from the registry and applies the downgrade guard.
 */
import semver from 'semver';
import { parsePlatform } from '../image/platform.js';
import { selectPlatformManifest } from '../image/pushed-image.js';
import type { PhaseLog } from '../logging/phase-log.js';
import type { RegistryClient } from '../registry/client.js';
import type { Channel, ReleaseMetadata } from '../release/metadata.js';

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

/** The release was refused by the downgrade guard; the message says what to do. */
export class DowngradeError extends Error {
  override name = 'DowngradeError';
}

/** The channel's current release, as read from its baseline tag. */
export interface Baseline {
  /** Its version (`''` when its index has no version annotation). */
  version: string;
  /** Digest of its index. */
  index: string;
  /** Its image of each platform being released that it has: manifest digest, layers and config digest. */
  layersByPlatform: Map<
    string,
    { digest: string; layers: Array<{ digest: string; size: number }>; configDigest: string }
  >;
}

export interface BaselineRequest {
  /** The image repository's path in the registry (`acme/agent`). */
  repository: string;
  release: Pick<ReleaseMetadata, 'version' | 'channel'>;
  allowDowngrade: boolean;
  /** The platforms being released (`linux/arm64`): their images in the baseline are read for the deltas. */
  platforms: readonly string[];
  /**
   * A stable release: one lower than the channel's is a maintenance release of its own line, not refused; its
   * tags are decided one by one (./tag-lines.ts) and the channel tag stays unless `allowDowngrade`.
   */
  maintenanceLines?: boolean;
}

/**
 * Reads the channel baseline from the registry and applies the downgrade guard: undefined when the
 * channel keeps no baseline or has none yet (every layer counts as new); throws DowngradeError when the
 * release would downgrade the channel and that is not allowed. A platform the baseline lacks is left out
 * of `layersByPlatform` (its whole image counts as new).
 */
export async function readBaseline(
  registry: Pick<RegistryClient, 'headManifest' | 'getManifest'>,
  request: BaselineRequest,
  log: PhaseLog,
): Promise<Baseline | undefined> {
  const { repository, release } = request;
  const tag = channelTag(release.channel);
  if (!tag) {
    log.info(`channel ${release.channel} keeps no baseline`);
    return undefined;
  }
  const head = await registry.headManifest(repository, tag);
  if (!head) {
    log.info(`no ${tag} baseline yet: this is the first ${tag} release, every layer counts as new`);
    return undefined;
  }
  const previous = await registry.getManifest(repository, head.digest);
  const annotations = ((previous.json as { annotations?: Record<string, string> }).annotations ??
    {}) as Record<string, string>;
  const version = previousVersionFromIndexAnnotations(annotations) ?? '';
  // A baseline exists: '' (no version annotation) makes the guard skip with a warning.
  const guard = checkDowngrade(release.version, version, release.channel, request.allowDowngrade);
  if (!guard.ok && !request.maintenanceLines) throw new DowngradeError(guard.message);
  if (!guard.ok)
    log.info(
      `${release.version} is lower than ${tag} ${version}: a maintenance release, ${tag} stays where it is`,
    );
  if (guard.warning) log.warning(guard.warning);
  const layersByPlatform: Baseline['layersByPlatform'] = new Map();
  for (const platform of request.platforms) {
    try {
      const entry = selectPlatformManifest(previous.json, parsePlatform(platform));
      const manifest = (await registry.getManifest(repository, entry.digest)).json as {
        config: { digest: string };
        layers: Array<{ digest: string; size: number }>;
      };
      layersByPlatform.set(platform, {
        digest: entry.digest,
        layers: manifest.layers,
        configDigest: manifest.config.digest,
      });
    } catch {
      log.info(`${platform} is not in the ${tag} baseline ${version}: its whole image counts as new`);
    }
  }
  log.info(`baseline ${tag} = ${version || '(unversioned)'} ${head.digest}`);
  return { version, index: head.digest, layersByPlatform };
}
