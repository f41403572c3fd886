/**
 * Pure derivation of release metadata (Docker tags, OCI labels/annotations, release channel) from the
 * GitHub event context. No I/O, no environment access: everything comes in through `ReleaseContext`.
 *
 * Semver tag behaviour follows docker/metadata-action's documented rules for `type=semver`
 * (https://github.com/docker/metadata-action#typesemver) with the patterns `{{version}}`,
 * `{{major}}.{{minor}}` and `{{major}}`, plus its "Major version zero" recipe:
 *
 * - `v1.2.3`          → `1.2.3`, `1.2`, `1`, `latest`
 * - `v2.0.8-beta.67`  → `2.0.8-beta.67` only (pre-releases only extend `{{version}}`, never `latest`)
 * - `v0.1.2`          → `0.1.2`, `0.1`, `latest` (no bare `0`: major zero is not a stable API)
 * - `v1.2.3+build.5`  → `1.2.3`, `1.2`, `1`, `latest`: build metadata is DROPPED. metadata-action renders
 *   `{{version}}` from node-semver's `SemVer#version`, documented as `{{major}}.{{minor}}.{{patch}}`
 *   (can include pre-release), which never contains build metadata. The full string, build included,
 *   is kept in `ReleaseMetadata.semver`, and a warning is emitted because distinct git tags
 *   (`+a`, `+b`) collapse onto the same Docker tag.
 *
 * Validity uses node-semver's strict parser, as metadata-action does (`semver.valid`): an optional
 * lowercase `v` prefix is accepted; `V1.2.3`, `1.2`, `01.2.3` are not semver.
 */
import { TAG_PATTERN } from '../registry/reference.js';
import semver from 'semver';
import type { SemVer } from 'semver';

export type Channel = 'production' | 'staging' | 'dev';

export interface ReleaseContext {
  /** GITHUB_REF, e.g. refs/tags/v1.8.2, refs/heads/feature/x, refs/pull/12/merge */
  ref: string;
  /** Full commit sha. */
  sha: string;
  /** owner/name */
  repository: string;
  /** e.g. https://github.com */
  serverUrl: string;
  runId?: string;
  runAttempt?: string;
  repo?: { description?: string; license?: string /* SPDX id */; htmlUrl?: string; name?: string };
  now: Date;
}

export interface ReleaseMetadata {
  kind: 'release' | 'prerelease' | 'tag' | 'branch' | 'pull-request' | 'other';
  /** 1.8.2, 1.8.2-rc.3, sanitised raw tag, sanitised branch name, pr-12, or sha-abcdef1. */
  version: string;
  /** Full normalised semver (build metadata included, `v` stripped) when the git tag is semver. */
  semver?: string;
  /** Docker tags (no repository), deduplicated, each matching {@link DOCKER_TAG_PATTERN}. */
  tags: string[];
  channel: Channel;
  /** org.opencontainers.image.{title,description,source,url,version,revision,created,licenses} */
  labels: Record<string, string>;
  /** Same keys and values as `labels`, for the image index. */
  annotations: Record<string, string>;
  warnings: string[];
}

/** The Docker tag grammar (the registry module's). */
export const DOCKER_TAG_PATTERN = TAG_PATTERN;

const MAX_TAG_LENGTH = 128;
const SHORT_SHA_LENGTH = 7;
const OCI = 'org.opencontainers.image';

/**
 * Turn an arbitrary string into a valid Docker tag, or `''` when nothing usable remains.
 *
 * Case is preserved (Docker tags may contain uppercase). Every run of characters outside
 * `[A-Za-z0-9_.-]` becomes a single `-` (metadata-action's `/[^a-zA-Z0-9._-]+/g`), leading `.`/`-`
 * are stripped (a tag must start with a word character), and the result is truncated to 128 chars.
 */
export function sanitizeTag(raw: string): string {
  return untruncated(raw).slice(0, MAX_TAG_LENGTH);
}

function untruncated(raw: string): string {
  return raw.replace(/[^A-Za-z0-9_.-]+/g, '-').replace(/^[.-]+/, '');
}

export function releaseMetadata(ctx: ReleaseContext, extraTags: string[] = []): ReleaseMetadata {
  const warnings: string[] = [];
  const derived = deriveFromRef(ctx, warnings);
  const tags = dedupe([...derived.tags, ...validateExtraTags(extraTags)]);
  if (tags.length === 0) {
    warnings.push(`No Docker tag could be derived from ref "${ctx.ref}" and no extra tags were given.`);
  }
  const version = derived.version ?? tags[0] ?? '';
  const labels = ociLabels(ctx, version);
  return {
    kind: derived.kind,
    version,
    ...(derived.semver === undefined ? {} : { semver: derived.semver }),
    tags,
    channel: derived.channel,
    labels,
    annotations: { ...labels },
    warnings,
  };
}

interface Derived {
  kind: ReleaseMetadata['kind'];
  channel: Channel;
  /** Undefined: use the first tag. */
  version?: string;
  semver?: string;
  tags: string[];
}

function deriveFromRef(ctx: ReleaseContext, warnings: string[]): Derived {
  const { ref } = ctx;

  if (ref.startsWith('refs/tags/') && ref.length > 'refs/tags/'.length) {
    const rawTag = ref.slice('refs/tags/'.length);
    const parsed = semver.parse(rawTag); // strict, like metadata-action's semver.valid()
    if (parsed) return fromSemverTag(rawTag, parsed, warnings);

    warnings.push(
      `Git tag "${rawTag}" is not a valid semver (expected [v]MAJOR.MINOR.PATCH[-PRERELEASE][+BUILD], see https://semver.org/); using the sanitised tag name on the dev channel.`,
    );
    const name = namedTag(rawTag, 'Git tag', warnings);
    // The sha tag is only a fallback here, so the image still gets a tag when the name is unusable.
    const tags = name === undefined ? compact([shaTag(ctx.sha, warnings)]) : [name];
    return { kind: 'tag', channel: 'dev', tags };
  }

  if (ref.startsWith('refs/heads/') && ref.length > 'refs/heads/'.length) {
    const branch = ref.slice('refs/heads/'.length);
    const name = namedTag(branch, 'Branch', warnings);
    return { kind: 'branch', channel: 'dev', tags: compact([name, shaTag(ctx.sha, warnings)]) };
  }

  const pr = /^refs\/pull\/(\d+)\/(?:merge|head)$/.exec(ref);
  if (pr) {
    return {
      kind: 'pull-request',
      channel: 'dev',
      tags: compact([`pr-${pr[1]}`, shaTag(ctx.sha, warnings)]),
    };
  }

  warnings.push(`Ref "${ref}" is not a tag, branch or pull request ref; only the commit tag is produced.`);
  return { kind: 'other', channel: 'dev', tags: compact([shaTag(ctx.sha, warnings)]) };
}

function fromSemverTag(rawTag: string, parsed: SemVer, warnings: string[]): Derived {
  const version = parsed.version; // major.minor.patch[-prerelease], never build metadata
  const full = parsed.build.length > 0 ? `${version}+${parsed.build.join('.')}` : version;
  if (parsed.build.length > 0) {
    warnings.push(
      `Build metadata "+${parsed.build.join('.')}" of git tag "${rawTag}" is not allowed in Docker tags and was dropped; the image is tagged ${version}.`,
    );
  }

  if (parsed.prerelease.length > 0) {
    return { kind: 'prerelease', channel: 'staging', version, semver: full, tags: [sanitizeTag(version)] };
  }

  const tags = [version, `${parsed.major}.${parsed.minor}`];
  if (parsed.major > 0) tags.push(`${parsed.major}`);
  tags.push('latest');
  return { kind: 'release', channel: 'production', version, semver: full, tags: dedupe(tags) };
}

/**
 * A tag derived from a user-chosen name (branch, non-semver git tag). Returns undefined when the name
 * sanitises to nothing, or to `latest`, which is reserved for stable semver releases.
 */
function namedTag(name: string, what: string, warnings: string[]): string | undefined {
  const tag = sanitizeTag(name);
  const length = untruncated(name).length;
  if (tag === '') {
    warnings.push(`${what} "${name}" contains no character usable in a Docker tag; it is not tagged.`);
    return undefined;
  }
  if (tag === 'latest') {
    warnings.push(
      `${what} "${name}" would produce the Docker tag "latest", which is reserved for stable semver releases; it is not tagged.`,
    );
    return undefined;
  }
  if (length > MAX_TAG_LENGTH) {
    warnings.push(
      `${what} "${name}" gives a ${length}-character Docker tag; truncated to ${MAX_TAG_LENGTH} characters.`,
    );
  }
  return tag;
}

/** `sha-<first 7>`, or undefined (with a warning) if `sha` is not a hex commit id. */
function shaTag(sha: string, warnings: string[]): string | undefined {
  if (!/^[0-9a-fA-F]{7,64}$/.test(sha)) {
    warnings.push(`Commit sha "${sha}" is not a hexadecimal commit id; no sha- tag is produced.`);
    return undefined;
  }
  return `sha-${sha.slice(0, SHORT_SHA_LENGTH).toLowerCase()}`;
}

function validateExtraTags(extraTags: readonly string[]): string[] {
  const out: string[] = [];
  for (const entry of extraTags) {
    const tag = entry.trim();
    if (tag === '') continue; // blank lines of a multi-line input
    if (!DOCKER_TAG_PATTERN.test(tag)) {
      throw new Error(
        `Invalid value in input \`tags\`: ${JSON.stringify(entry)} is not a valid Docker tag. ` +
          'Expected 1-128 characters matching [A-Za-z0-9_][A-Za-z0-9_.-]{0,127} ' +
          '(a letter, digit or underscore, then letters, digits, "_", "." or "-"), without a repository or ":".',
      );
    }
    out.push(tag);
  }
  return out;
}

function ociLabels(ctx: ReleaseContext, version: string): Record<string, string> {
  const source = `${ctx.serverUrl.replace(/\/+$/, '')}/${ctx.repository}`;
  const repoName = ctx.repository.split('/').pop() ?? ctx.repository;
  const entries: [string, string | undefined][] = [
    ['created', ctx.now.toISOString()],
    ['description', nonEmpty(ctx.repo?.description)],
    ['licenses', nonEmpty(ctx.repo?.license)],
    ['revision', ctx.sha],
    ['source', source],
    ['title', nonEmpty(ctx.repo?.name) ?? repoName],
    ['url', nonEmpty(ctx.repo?.htmlUrl) ?? source],
    ['version', version],
  ];
  const labels: Record<string, string> = {};
  for (const [key, value] of entries) {
    if (value !== undefined) labels[`${OCI}.${key}`] = value;
  }
  return labels;
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value.trim() === '' ? undefined : value;
}

function compact(values: (string | undefined)[]): string[] {
  return values.filter((v): v is string => v !== undefined);
}

function dedupe(values: readonly string[]): string[] {
  return [...new Set(values)];
}
