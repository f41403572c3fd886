/**
 * Publishes files as assets of the GitHub Release for a tag: finds the release (creating it when
 * missing), replaces same-named assets (DELETE, then upload) and uploads the rest, through GitHub's REST
 * API with bounded retries. Errors name the operation, tag and asset, say what to fix, and never carry
 * the token.
 *
 * Two flows:
 * - publishReleaseAssets: uploads to the release for the tag, creating it published when missing.
 * - stageReleaseAssets → publishStagedRelease | discardStagedRelease: uploads to a draft release (found,
 *   or created by this run), publishes the draft only once everything else (the image tags) succeeded,
 *   and deletes a draft this run created when it did not. A draft takes assets even where releases are
 *   immutable once published, and nobody sees a release pointing at images that were never tagged.
 */
import { createHash } from 'node:crypto';
import { STATUS_CODES } from 'node:http';
import path from 'node:path';

import {
  DEFAULT_GITHUB_RETRY,
  DEFAULT_USER_AGENT,
  GitHubTransport,
  gitHubMessage,
  parseJson,
  type GitHubMethod,
  type GitHubResult,
  type GitHubRetryOptions,
} from './http.js';

export { GITHUB_API_VERSION } from './http.js';

export interface GitHubApi {
  /** GITHUB_API_URL, e.g. `https://api.github.com` or `https://ghe.example.com/api/v3`. */
  apiUrl: string;
  /**
   * Base of the upload host, e.g. `https://uploads.github.com` (the client appends
   * `/repos/{owner}/{repo}/releases/{id}/assets`). Default: the release's `upload_url` template.
   */
  uploadUrl?: string;
  token: string;
  /** `owner/name`. */
  repository: string;
  fetchImpl: typeof fetch;
  /** Waits between attempts; default setTimeout. */
  sleep?: (ms: number) => Promise<void>;
  /** Default: 4 attempts, 1 s base delay, rate-limit waits up to 120 s. */
  retry?: GitHubRetryOptions;
  /** Default `edgeship`. */
  userAgent?: string;
  /** Per-request timeout of API calls (ms). Default 60 s. */
  timeoutMs?: number;
  /** Per-request timeout of uploads (ms). Default 15 min. */
  uploadTimeoutMs?: number;
}

export interface ReleaseAsset {
  /** The asset's name on the release. */
  name: string;
  /** Path of the file to upload. */
  file: string;
  /** Media type sent as Content-Type; empty means contentTypeFor(name). */
  contentType: string;
}

export interface UploadedAsset {
  /** The name GitHub stored (GitHub renames some special characters; a warning says so). */
  name: string;
  id: number;
  /** browser_download_url. */
  url: string;
  size: number;
  /** Whether an asset of the same name was deleted first. */
  replaced: boolean;
  /** `sha256:<hex>` of the uploaded bytes (checked against GitHub's `digest` when it reports one). */
  digest: string;
}

export interface PublishReleaseAssetsDeps {
  readFile(file: string): Promise<Buffer>;
  log: { info(message: string): void; warning(message: string): void };
}

export interface PublishReleaseAssetsOptions {
  /** Create a published release for the tag when there is none. Default true. */
  createIfMissing?: boolean;
  /** `prerelease` of a created release (an existing release is left as it is). Default false. */
  prerelease?: boolean;
  /** Title of a created release. Default: the tag. */
  name?: string;
}

export interface PublishReleaseAssetsResult {
  releaseId: number;
  /** The release's html_url. */
  releaseUrl: string;
  created: boolean;
  assets: UploadedAsset[];
}

/** What publishStagedRelease and discardStagedRelease need: a logger. */
export type StagedReleaseDeps = Pick<PublishReleaseAssetsDeps, 'log'>;

export interface StageReleaseAssetsOptions {
  /** Create a draft release for the tag when there is none, published or draft. Default true. */
  createIfMissing?: boolean;
  /** `prerelease` of a created draft (an existing release is left as it is). Default false. */
  prerelease?: boolean;
  /** Title of a created draft. Default: the tag. */
  name?: string;
}

/** The release stageReleaseAssets uploaded to; pass it to publishStagedRelease or discardStagedRelease. */
export interface StagedRelease {
  /** The tag the release is for. */
  tag: string;
  releaseId: number;
  /**
   * The release's html_url when staged. A draft's URL changes when it is published (GitHub shows drafts
   * under `releases/tag/untagged-…`): publishStagedRelease returns the final one.
   */
  releaseUrl: string;
  /** Whether this run created the release (only then does discardStagedRelease delete it). */
  created: boolean;
  /** Whether the release is a draft (publishStagedRelease publishes it; a published one is left as is). */
  draft: boolean;
  assets: UploadedAsset[];
}

export interface ReleaseApiErrorInit {
  /** e.g. `get release`, `create release`, `list release assets`, `delete release asset`, `upload release asset`. */
  operation: string;
  tag: string;
  repository: string;
  asset?: string;
  status?: number;
  /** What went wrong, in words. */
  reason: string;
  /** What to do about it. */
  hint?: string;
  attempts?: number;
  cause?: unknown;
}

/** A failed release operation. The message names the operation, repository, tag and asset. */
export class ReleaseApiError extends Error {
  readonly operation: string;
  readonly tag: string;
  readonly repository: string;
  readonly asset?: string;
  readonly status?: number;
  readonly attempts?: number;

  constructor(init: ReleaseApiErrorInit) {
    super(formatReleaseApiError(init), init.cause === undefined ? undefined : { cause: init.cause });
    this.name = 'ReleaseApiError';
    this.operation = init.operation;
    this.tag = init.tag;
    this.repository = init.repository;
    if (init.asset !== undefined) this.asset = init.asset;
    if (init.status !== undefined) this.status = init.status;
    if (init.attempts !== undefined) this.attempts = init.attempts;
  }
}

function formatReleaseApiError(init: ReleaseApiErrorInit): string {
  const subject = init.asset === undefined ? `tag ${init.tag}` : `asset ${init.asset} (tag ${init.tag})`;
  let message = `${init.operation} for ${subject} in ${init.repository} failed: ${init.reason}`;
  if (init.attempts !== undefined && init.attempts > 1)
    message += ` (gave up after ${init.attempts} attempts)`;
  if (init.hint) message += `. ${init.hint}`;
  return message;
}

/** GitHub refuses bigger release assets: "Each file included in a release must be under 2 GiB." */
export const MAX_ASSET_BYTES = 2 * 1024 ** 3 - 1;

const PERMISSIONS_SNIPPET = 'permissions:\n  contents: write';
const DEFAULT_TIMEOUT_MS = 60_000;
const DEFAULT_UPLOAD_TIMEOUT_MS = 15 * 60_000;
const MAX_ASSET_PAGES = 50;
/** Pages of 100 releases searched for a draft (GitHub lists the newest first). */
export const MAX_RELEASE_PAGES = 10;

/**
 * The upload URL for an asset from a release's `upload_url` hypermedia template
 * (`https://uploads.github.com/repos/o/r/releases/1/assets{?name,label}`): the template expression is
 * dropped and `name` added as a query parameter (percent-encoded).
 */
export function uploadUrlFor(template: string, name: string): string {
  const base = template.replace(/\{[^}]*\}/g, '');
  const separator = base.includes('?') ? (base.endsWith('?') || base.endsWith('&') ? '' : '&') : '?';
  return `${base}${separator}name=${encodeURIComponent(name)}`;
}

const CONTENT_TYPES: ReadonlyArray<readonly [suffix: string, type: string]> = [
  // Longest suffixes first.
  // A Sigstore bundle is JSON; its own `mediaType` field carries the versioned bundle type.
  ['.sigstore.json', 'application/json'],
  ['.spdx.json', 'application/spdx+json'],
  ['.cdx.json', 'application/vnd.cyclonedx+json'],
  ['.intoto.jsonl', 'application/jsonl'],
  ['.tar.gz', 'application/gzip'],
  // Registered with IANA in 2020 by OASIS.
  ['.sarif', 'application/sarif+json'],
  ['.json', 'application/json'],
  ['.jsonl', 'application/jsonl'],
  // RFC 9512.
  ['.yaml', 'application/yaml'],
  ['.yml', 'application/yaml'],
  ['.txt', 'text/plain'],
  ['.md', 'text/markdown'],
  ['.sha256', 'text/plain'],
  ['.sha512', 'text/plain'],
  ['.pem', 'application/x-pem-file'],
  ['.tgz', 'application/gzip'],
  ['.gz', 'application/gzip'],
  ['.zip', 'application/zip'],
  ['.tar', 'application/x-tar'],
];

/** A Content-Type for an asset file name; `application/octet-stream` when the suffix is not known. */
export function contentTypeFor(fileName: string): string {
  const lower = path.basename(fileName).toLowerCase();
  for (const [suffix, type] of CONTENT_TYPES) {
    if (lower.endsWith(suffix) && lower.length > suffix.length) return type;
  }
  return 'application/octet-stream';
}

/** Media types as RFC 9110 writes them: `type/subtype` tokens, then optional parameters. */
const MEDIA_TYPE_PATTERN = /^[A-Za-z0-9!#$&^_.+-]+\/[A-Za-z0-9!#$&^_.+-]+(\s*;\s*[^\r\n;]+)*$/;

/** Characters GitHub keeps in asset names; it renames others (spaces, parentheses, `~`, `:`…). */
const SAFE_ASSET_NAME = /^[A-Za-z0-9_+-][A-Za-z0-9._+-]*$/;

interface ReleaseJson {
  id: number;
  tag_name: string;
  html_url: string;
  upload_url: string;
  draft?: boolean;
  prerelease?: boolean;
  immutable?: boolean;
}

interface AssetJson {
  id: number;
  name: string;
  size: number;
  browser_download_url: string;
  state?: string;
  digest?: string | null;
}

interface PreparedAsset {
  name: string;
  file: string;
  contentType: string;
  bytes: Buffer;
  digest: string;
}

type Response = Extract<GitHubResult, { kind: 'response' }>;

interface Context {
  api: GitHubApi;
  transport: GitHubTransport;
  owner: string;
  repo: string;
  tag: string;
  log: PublishReleaseAssetsDeps['log'];
}

interface Operation {
  operation: string;
  asset?: string;
}

/**
 * Uploads `assets` to the release for `tag` in `api.repository`, creating a published release when there
 * is none (unless `createIfMissing` is false). An existing asset of the same name is deleted first. All
 * files are read (and checked: non-empty, under 2 GiB) before anything on GitHub changes.
 */
export async function publishReleaseAssets(
  api: GitHubApi,
  tag: string,
  assets: ReleaseAsset[],
  deps: PublishReleaseAssetsDeps,
  options: PublishReleaseAssetsOptions = {},
): Promise<PublishReleaseAssetsResult> {
  const context = createContext(api, tag, deps.log, 'publishing release assets');
  const prepared = await prepareAssets(context, assets, deps.readFile);

  const { release, created } = await findOrCreateRelease(context, options);
  if (created) deps.log.info(`Created release ${release.html_url} for tag ${tag} (id ${release.id})`);
  else deps.log.info(`Found release ${release.html_url} for tag ${tag} (id ${release.id})`);
  warnAboutPrerelease(context, release, created, options.prerelease);
  const uploaded = await uploadAll(context, release, prepared);
  return { releaseId: release.id, releaseUrl: release.html_url, created, assets: uploaded };
}

/**
 * Uploads `assets` to a release for `tag` without publishing anything new: the published release for the
 * tag if there is one, else a draft release for the tag (the first GitHub lists), else a draft it creates
 * (unless `createIfMissing` is false). Same-named assets are replaced. All files are read (and checked)
 * before anything on GitHub changes. Publish the draft with publishStagedRelease once the rest of the
 * release (the image tags) is in place, or delete it with discardStagedRelease.
 *
 * A published immutable release still cannot take assets: that fails with a ReleaseApiError saying so.
 */
export async function stageReleaseAssets(
  api: GitHubApi,
  tag: string,
  assets: ReleaseAsset[],
  deps: PublishReleaseAssetsDeps,
  options: StageReleaseAssetsOptions = {},
): Promise<StagedRelease> {
  const context = createContext(api, tag, deps.log, 'staging release assets');
  const prepared = await prepareAssets(context, assets, deps.readFile);

  const { release, created } = await findOrCreateDraftRelease(context, options);
  // A created release is a draft (it was asked for) even if the answer leaves `draft` out.
  const draft = release.draft === true || (created && release.draft === undefined);
  if (created) {
    deps.log.info(`Created draft release ${release.html_url} for tag ${tag} (id ${release.id})`);
  } else if (draft) {
    deps.log.info(`Found draft release ${release.html_url} for tag ${tag} (id ${release.id}); reusing it`);
  } else {
    deps.log.info(
      `Found published release ${release.html_url} for tag ${tag} (id ${release.id}); its assets are ` +
        'replaced in place',
    );
  }
  warnAboutPrerelease(context, release, created, options.prerelease);
  const uploaded = await uploadAll(context, release, prepared);
  return { tag, releaseId: release.id, releaseUrl: release.html_url, created, draft, assets: uploaded };
}

/**
 * Publishes the draft release stageReleaseAssets uploaded to (PATCH `draft: false`, the tag unchanged)
 * and returns its html_url, which GitHub changes on publishing. A release that was already published
 * when staged is left as it is. Where releases are immutable, the release is immutable from now on.
 */
export async function publishStagedRelease(
  api: GitHubApi,
  staged: StagedRelease,
  deps: StagedReleaseDeps,
): Promise<string> {
  if (!staged.draft) return staged.releaseUrl;
  const context = createContext(api, staged.tag, deps.log, 'publishing a staged release');
  const op = { operation: 'publish release' };
  const response = await send(
    context,
    op,
    'PATCH',
    apiUrl(context, `/releases/${staged.releaseId}`),
    jsonBody({ draft: false, tag_name: staged.tag }),
  );
  if (response.status === 200) {
    const release = readRelease(context, op, response);
    if (release.draft === true) {
      throw new ReleaseApiError({
        ...baseInit(context, op),
        status: 200,
        reason: `GitHub answered, but release ${staged.releaseId} is still a draft`,
        hint: `Publish it by hand: ${release.html_url}`,
      });
    }
    deps.log.info(`Published release ${release.html_url} for tag ${staged.tag} (id ${release.id})`);
    return release.html_url;
  }
  if (response.status === 422) {
    // A retried PATCH whose first attempt went through may be refused (e.g. by an immutable release):
    // the release is published if GitHub finds it by tag.
    const current = await getReleaseByTag(context).catch(() => undefined);
    if (current?.id === staged.releaseId && current.draft !== true) {
      deps.log.info(`Release ${current.html_url} for tag ${staged.tag} (id ${current.id}) is published`);
      return current.html_url;
    }
    if (validationCodes(response).includes('already_exists')) {
      throw httpError(context, op, response, {
        hint:
          `Another release for tag ${staged.tag} was published meanwhile${current ? ` (${current.html_url})` : ''}. ` +
          `Delete one of them; the draft is ${staged.releaseUrl}`,
      });
    }
  }
  if (response.status === 404) {
    throw httpError(context, op, response, {
      hint:
        `Draft release ${staged.releaseId} no longer exists (deleted after its assets were uploaded?), or ` +
        `the token cannot see ${api.repository}. Run again to stage the assets anew`,
    });
  }
  throw httpError(context, op, response);
}

/**
 * Deletes the draft release stageReleaseAssets created in this run, for when the release must not be
 * published (tagging the images failed). A release this run did not create, or one that is no longer a
 * draft, is left alone. Best effort: never throws; a failure is logged as a warning and gives false.
 * Returns true when the draft is gone.
 */
export async function discardStagedRelease(
  api: GitHubApi,
  staged: StagedRelease,
  deps: StagedReleaseDeps,
): Promise<boolean> {
  if (!staged.created || !staged.draft) {
    if (staged.draft) {
      deps.log.info(
        `Leaving draft release ${staged.releaseUrl} for tag ${staged.tag} (id ${staged.releaseId}) as it ` +
          'is: this run did not create it',
      );
    }
    return false;
  }
  try {
    const context = createContext(api, staged.tag, deps.log, 'discarding a staged release');
    const url = apiUrl(context, `/releases/${staged.releaseId}`);
    const readOp = { operation: 'get release' };
    const current = await send(context, readOp, 'GET', url);
    if (current.status === 404) {
      deps.log.info(`Draft release ${staged.releaseId} for tag ${staged.tag} is already gone`);
      return true;
    }
    if (current.status !== 200) throw httpError(context, readOp, current);
    const release = readRelease(context, readOp, current);
    if (release.draft !== true) {
      deps.log.warning(
        `Not deleting release ${release.html_url} for tag ${staged.tag} (id ${release.id}): it was ` +
          'published meanwhile',
      );
      return false;
    }
    const op = { operation: 'delete release' };
    const response = await send(context, op, 'DELETE', url);
    // 404: already gone (a retried DELETE whose first attempt went through, or someone else).
    if (response.status !== 204 && response.status !== 200 && response.status !== 404) {
      throw httpError(context, op, response);
    }
    deps.log.info(`Deleted draft release ${staged.releaseId} for tag ${staged.tag} created by this run`);
    return true;
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    deps.log.warning(
      redact(
        `Could not delete draft release ${staged.releaseId} for tag ${staged.tag}: ${reason}\n` +
          `Delete it by hand: ${staged.releaseUrl}`,
        api.token,
      ),
    );
    return false;
  }
}

function createContext(
  api: GitHubApi,
  tag: string,
  log: PublishReleaseAssetsDeps['log'],
  doing: string,
): Context {
  const { owner, repo } = parseRepository(api.repository);
  if (tag.trim() === '') throw new Error(`${doing} needs a tag; got an empty one`);
  const retry = { ...DEFAULT_GITHUB_RETRY, ...api.retry };
  const transport = new GitHubTransport({
    token: api.token,
    fetchImpl: api.fetchImpl,
    sleep: api.sleep ?? ((ms) => new Promise((resolve) => setTimeout(resolve, ms))),
    retry,
    userAgent: api.userAgent ?? DEFAULT_USER_AGENT,
    warn: (message) => log.warning(redact(message, api.token)),
    now: Date.now,
    random: Math.random,
  });
  return { api, transport, owner, repo, tag, log };
}

function warnAboutPrerelease(
  context: Context,
  release: ReleaseJson,
  created: boolean,
  prerelease: boolean | undefined,
): void {
  if (!created && prerelease !== undefined && release.prerelease !== prerelease) {
    context.log.warning(
      `Release for tag ${context.tag} is ${release.prerelease ? '' : 'not '}a prerelease; leaving it as it is`,
    );
  }
}

/** Replaces same-named assets and uploads the rest; refuses a published immutable release up front. */
async function uploadAll(
  context: Context,
  release: ReleaseJson,
  prepared: PreparedAsset[],
): Promise<UploadedAsset[]> {
  const { tag, log } = context;
  if (release.immutable === true && release.draft !== true && prepared.length > 0) {
    throw new ReleaseApiError({
      operation: 'upload release asset',
      tag,
      repository: context.api.repository,
      asset: prepared[0]?.name,
      reason: `release ${release.id} is immutable`,
      hint:
        'Assets of a published immutable release cannot be added, replaced or deleted. Publish the ' +
        'assets with a new tag, or disable immutable releases for the repository',
    });
  }

  const existing = prepared.length > 0 ? await listAssets(context, release.id) : new Map<string, AssetJson>();
  const uploaded: UploadedAsset[] = [];
  for (const asset of prepared) {
    const previous = existing.get(asset.name);
    if (previous) {
      log.info(`Replacing asset ${asset.name} (id ${previous.id}) of release for tag ${tag}`);
      await deleteAsset(context, previous.id, asset.name);
    }
    const stored = await uploadAsset(context, release, asset);
    if (stored.name !== asset.name) {
      log.warning(
        `GitHub stored asset ${asset.name} as ${stored.name} (it renames special characters); a later run ` +
          `will not find it under ${asset.name} to replace it`,
      );
    }
    log.info(`Uploaded ${stored.name} (${asset.bytes.length} bytes) to release for tag ${tag}`);
    uploaded.push({
      name: stored.name,
      id: stored.id,
      url: stored.browser_download_url,
      size: stored.size,
      replaced: previous !== undefined,
      digest: asset.digest,
    });
  }
  return uploaded;
}

function parseRepository(repository: string): { owner: string; repo: string } {
  const match = /^([A-Za-z0-9_.-]+)\/([A-Za-z0-9_.-]+)$/.exec(repository.trim());
  if (!match?.[1] || !match[2]) {
    throw new Error(`invalid GitHub repository "${repository}": expected owner/name`);
  }
  return { owner: match[1], repo: match[2] };
}

async function prepareAssets(
  context: Context,
  assets: ReleaseAsset[],
  readFile: PublishReleaseAssetsDeps['readFile'],
): Promise<PreparedAsset[]> {
  const seen = new Set<string>();
  const prepared: PreparedAsset[] = [];
  for (const asset of assets) {
    const fail = (reason: string, hint?: string, cause?: unknown) =>
      new ReleaseApiError({
        operation: 'prepare release asset',
        tag: context.tag,
        repository: context.api.repository,
        asset: asset.name,
        reason,
        ...(hint ? { hint } : {}),
        ...(cause === undefined ? {} : { cause }),
      });
    if (asset.name.trim() === '' || asset.name.includes('/') || asset.name.includes('\\')) {
      throw fail(`invalid asset name ${JSON.stringify(asset.name)}`, 'Use a plain file name');
    }
    if (seen.has(asset.name)) throw fail('the same asset name is listed twice');
    seen.add(asset.name);
    const contentType = asset.contentType.trim() || contentTypeFor(asset.name);
    if (!MEDIA_TYPE_PATTERN.test(contentType)) {
      throw fail(
        `invalid content type ${JSON.stringify(asset.contentType)}`,
        'Use a media type like application/json',
      );
    }
    if (!SAFE_ASSET_NAME.test(asset.name) || asset.name.endsWith('.')) {
      context.log.warning(
        `Asset name ${asset.name} has characters GitHub may rename (it keeps letters, digits, ".", "_", "+", "-")`,
      );
    }
    let bytes: Buffer;
    try {
      bytes = await readFile(asset.file);
    } catch (error) {
      throw fail(
        `cannot read ${asset.file}: ${error instanceof Error ? error.message : String(error)}`,
        undefined,
        error,
      );
    }
    if (bytes.length === 0) {
      throw fail(
        `${asset.file} is empty`,
        'GitHub rejects empty release assets ("size must be greater than or equal to 1"); nothing was changed on the release',
      );
    }
    if (bytes.length > MAX_ASSET_BYTES) {
      throw fail(`${asset.file} has ${bytes.length} bytes`, 'GitHub release assets must be under 2 GiB');
    }
    const digest = `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
    prepared.push({ name: asset.name, file: asset.file, contentType, bytes, digest });
  }
  return prepared;
}

function apiUrl(context: Context, suffix: string): string {
  const base = context.api.apiUrl.replace(/\/+$/, '');
  return `${base}/repos/${encodeURIComponent(context.owner)}/${encodeURIComponent(context.repo)}${suffix}`;
}

async function send(
  context: Context,
  op: Operation,
  method: GitHubMethod,
  url: string,
  body?: { bytes: Buffer; contentType: string },
  timeoutMs = context.api.timeoutMs ?? DEFAULT_TIMEOUT_MS,
): Promise<Response> {
  const what = `${op.operation}${op.asset === undefined ? '' : ` ${op.asset}`} (tag ${context.tag})`;
  const result = await context.transport.send({ method, url, timeoutMs, what, ...(body ? { body } : {}) });
  if (result.kind === 'response') return result;
  throw new ReleaseApiError({
    ...baseInit(context, op),
    reason: redact(`cannot reach ${new URL(url).host}: ${result.description}`, context.api.token),
    attempts: result.attempts,
    ...(causeWithoutToken(result.cause, context.api.token) ?? {}),
  });
}

function baseInit(context: Context, op: Operation) {
  return {
    operation: op.operation,
    tag: context.tag,
    repository: context.api.repository,
    ...(op.asset === undefined ? {} : { asset: op.asset }),
  };
}

async function findOrCreateRelease(
  context: Context,
  options: PublishReleaseAssetsOptions,
): Promise<{ release: ReleaseJson; created: boolean }> {
  const found = await getReleaseByTag(context);
  if (found) return { release: found, created: false };
  if (options.createIfMissing === false) {
    throw new ReleaseApiError({
      ...baseInit(context, { operation: 'get release' }),
      status: 404,
      reason: 'HTTP 404 Not Found: there is no published release for this tag',
      hint:
        'Create the release first (releases are found by tag only once published; drafts are not), or ' +
        'allow creating it. If the release exists, check that the token can see the repository',
    });
  }
  return createRelease(context, options, false, async () => {
    const raced = await getReleaseByTag(context);
    if (raced) return raced;
    throw new ReleaseApiError({
      ...baseInit(context, { operation: 'create release' }),
      status: 422,
      reason: 'GitHub says a release for this tag already exists, but it cannot be read by tag',
      hint: 'It is probably a draft release (drafts are not found by tag): publish or delete the draft',
    });
  });
}

/**
 * The release for the tag, drafts included: GET by tag finds published releases only, so a 404 there
 * searches the release list for a draft of that tag. Creates a draft when there is none.
 */
async function findOrCreateDraftRelease(
  context: Context,
  options: StageReleaseAssetsOptions,
): Promise<{ release: ReleaseJson; created: boolean }> {
  const published = await getReleaseByTag(context);
  if (published) return { release: published, created: false };
  const listed = await findReleaseInList(context);
  if (listed) return { release: listed, created: false };
  if (options.createIfMissing === false) {
    throw new ReleaseApiError({
      ...baseInit(context, { operation: 'get release' }),
      status: 404,
      reason: 'there is no release for this tag, neither published nor draft',
      hint:
        'Create the release (or a draft of it) first, or allow creating it. If the release exists, check ' +
        'that the token can see the repository and has the contents: write permission (drafts are listed ' +
        'only to tokens that can write)',
    });
  }
  return createRelease(context, options, true, async () => {
    const raced = (await getReleaseByTag(context)) ?? (await findReleaseInList(context));
    if (raced) return raced;
    throw new ReleaseApiError({
      ...baseInit(context, { operation: 'create release' }),
      status: 422,
      reason: 'GitHub says a release for this tag already exists, but it can be neither read nor listed',
      hint: 'Check the releases of the repository, and delete the one that is in the way',
    });
  });
}

/**
 * Creates the release of the tag (a draft when asked). When another run created one between our look-up
 * and this POST (422 already_exists), `readRaced` finds it.
 */
async function createRelease(
  context: Context,
  options: { name?: string; prerelease?: boolean },
  draft: boolean,
  readRaced: () => Promise<ReleaseJson>,
): Promise<{ release: ReleaseJson; created: boolean }> {
  const op = { operation: 'create release' };
  const response = await send(
    context,
    op,
    'POST',
    apiUrl(context, '/releases'),
    jsonBody({
      tag_name: context.tag,
      name: options.name ?? context.tag,
      ...(draft ? { draft: true } : {}),
      prerelease: options.prerelease ?? false,
    }),
  );
  if (response.status === 201 || response.status === 200) {
    return { release: readRelease(context, op, response), created: true };
  }
  if (response.status === 422 && validationCodes(response).includes('already_exists')) {
    context.log.info(`Release for tag ${context.tag} was created concurrently; reading it`);
    return { release: await readRaced(), created: false };
  }
  throw httpError(context, op, response);
}

/**
 * A release for the tag from the release list (newest first, at most MAX_RELEASE_PAGES pages), drafts
 * first: the first draft listed, else a published one (published since GET by tag answered 404).
 */
async function findReleaseInList(context: Context): Promise<ReleaseJson | undefined> {
  const op = { operation: 'list releases' };
  const drafts: ReleaseJson[] = [];
  let published: ReleaseJson | undefined;
  const { complete } = await paginate(
    context,
    op,
    apiUrl(context, '/releases?per_page=100'),
    MAX_RELEASE_PAGES,
    (entries, response) => {
      for (const entry of entries) {
        if (typeof entry !== 'object' || entry === null) throw unexpectedBody(context, op, response);
        if ((entry as { tag_name?: unknown }).tag_name !== context.tag) continue;
        const release = asRelease(entry);
        if (!release) throw unexpectedBody(context, op, response);
        if (release.draft === true) drafts.push(release);
        else published ??= release;
      }
      return drafts.length > 0;
    },
  );
  if (drafts.length > 1) {
    context.log.warning(
      `There are ${drafts.length} draft releases for tag ${context.tag} (ids ` +
        `${drafts.map((draft) => draft.id).join(', ')}); using the newest, ${drafts[0]?.id}`,
    );
  }
  const found = drafts[0] ?? published;
  if (!found && !complete) {
    context.log.warning(
      `Looked for a draft release for tag ${context.tag} among the newest ${MAX_RELEASE_PAGES * 100} ` +
        'releases only; a draft older than that is not reused',
    );
  }
  return found;
}

async function getReleaseByTag(context: Context): Promise<ReleaseJson | undefined> {
  const op = { operation: 'get release' };
  const response = await send(
    context,
    op,
    'GET',
    apiUrl(context, `/releases/tags/${encodeURIComponent(context.tag)}`),
  );
  if (response.status === 404) return undefined;
  if (response.status !== 200) throw httpError(context, op, response);
  return readRelease(context, op, response);
}

async function listAssets(context: Context, releaseId: number): Promise<Map<string, AssetJson>> {
  const op = { operation: 'list release assets' };
  const assets = new Map<string, AssetJson>();
  const { complete } = await paginate(
    context,
    op,
    apiUrl(context, `/releases/${releaseId}/assets?per_page=100`),
    MAX_ASSET_PAGES,
    (entries, response) => {
      for (const entry of entries) {
        const asset = readAsset(entry);
        if (!asset) throw unexpectedBody(context, op, response);
        assets.set(asset.name, asset);
      }
      return false;
    },
  );
  if (!complete) {
    throw new ReleaseApiError({
      ...baseInit(context, op),
      reason: `more than ${MAX_ASSET_PAGES} pages of assets`,
    });
  }
  return assets;
}

/**
 * GETs a JSON array and the pages its `Link: rel="next"` headers point to (same host only), handing each
 * page's entries to `visit` until it returns true or there are no more pages. `complete` is false when
 * more than `maxPages` pages would have been needed.
 */
async function paginate(
  context: Context,
  op: Operation,
  firstUrl: string,
  maxPages: number,
  visit: (entries: unknown[], response: Response) => boolean,
): Promise<{ complete: boolean }> {
  const origin = new URL(context.api.apiUrl).origin;
  let url: string | undefined = firstUrl;
  for (let page = 1; url !== undefined; page += 1) {
    if (page > maxPages) return { complete: false };
    const response = await send(context, op, 'GET', url);
    if (response.status !== 200) throw httpError(context, op, response);
    const parsed = parseJson(response.body.toString('utf8'));
    if (!Array.isArray(parsed)) throw unexpectedBody(context, op, response);
    if (visit(parsed, response)) return { complete: true };
    url = nextLink(response.headers.get('link'));
    if (url !== undefined && new URL(url, context.api.apiUrl).origin !== origin) {
      throw new ReleaseApiError({
        ...baseInit(context, op),
        reason: `the next page link points to another host (${new URL(url, context.api.apiUrl).host})`,
      });
    }
    if (url !== undefined) url = new URL(url, context.api.apiUrl).toString();
  }
  return { complete: true };
}

async function deleteAsset(context: Context, assetId: number, name: string): Promise<void> {
  const op = { operation: 'delete release asset', asset: name };
  const response = await send(context, op, 'DELETE', apiUrl(context, `/releases/assets/${assetId}`));
  // 404: already gone (a retried DELETE whose first attempt went through, or another run).
  if (response.status === 204 || response.status === 200 || response.status === 404) return;
  throw httpError(context, op, response);
}

async function uploadAsset(context: Context, release: ReleaseJson, asset: PreparedAsset): Promise<AssetJson> {
  const op = { operation: 'upload release asset', asset: asset.name };
  const template = context.api.uploadUrl
    ? `${context.api.uploadUrl.replace(/\/+$/, '')}/repos/${encodeURIComponent(context.owner)}/` +
      `${encodeURIComponent(context.repo)}/releases/${release.id}/assets{?name,label}`
    : release.upload_url;
  const url = uploadUrlFor(template, asset.name);
  const body = { bytes: asset.bytes, contentType: asset.contentType };
  const timeoutMs = context.api.uploadTimeoutMs ?? DEFAULT_UPLOAD_TIMEOUT_MS;
  let response = await send(context, op, 'POST', url, body, timeoutMs);
  if (response.status === 422 && validationCodes(response).includes('already_exists')) {
    // A same-named asset appeared: a 502 can leave an empty `starter` asset behind, a retried upload may
    // have gone through, or another run uploaded it. Replace it, once.
    const current = (await listAssets(context, release.id)).get(asset.name);
    if (current) {
      context.log.info(
        `Asset ${asset.name} appeared on the release (id ${current.id}, state ${current.state ?? 'unknown'}); replacing it`,
      );
      await deleteAsset(context, current.id, asset.name);
      response = await send(context, op, 'POST', url, body, timeoutMs);
    }
  }
  if (response.status !== 201 && response.status !== 200) throw httpError(context, op, response);
  const stored = readAsset(parseJson(response.body.toString('utf8')));
  if (!stored) throw unexpectedBody(context, op, response);
  if (typeof stored.digest === 'string' && stored.digest !== '' && stored.digest !== asset.digest) {
    throw new ReleaseApiError({
      ...baseInit(context, op),
      reason: `GitHub stored digest ${stored.digest}, but ${asset.file} has ${asset.digest}`,
      hint: 'The upload was corrupted in transit; run again to replace the asset',
    });
  }
  if (stored.size !== asset.bytes.length) {
    throw new ReleaseApiError({
      ...baseInit(context, op),
      reason: `GitHub stored ${stored.size} bytes, but ${asset.file} has ${asset.bytes.length}`,
      hint: 'Run again to replace the asset',
    });
  }
  return stored;
}

function jsonBody(value: unknown): { bytes: Buffer; contentType: string } {
  return { bytes: Buffer.from(JSON.stringify(value)), contentType: 'application/json' };
}

function readRelease(context: Context, op: Operation, response: Response): ReleaseJson {
  const release = asRelease(parseJson(response.body.toString('utf8')));
  if (release) return release;
  throw unexpectedBody(context, op, response);
}

function asRelease(value: unknown): ReleaseJson | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const release = value as Partial<ReleaseJson>;
  if (
    typeof release.id === 'number' &&
    typeof release.upload_url === 'string' &&
    typeof release.html_url === 'string'
  ) {
    return release as ReleaseJson;
  }
  return undefined;
}

function readAsset(value: unknown): AssetJson | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const asset = value as Partial<AssetJson>;
  if (typeof asset.id !== 'number' || typeof asset.name !== 'string') return undefined;
  return {
    id: asset.id,
    name: asset.name,
    size: typeof asset.size === 'number' ? asset.size : 0,
    browser_download_url: typeof asset.browser_download_url === 'string' ? asset.browser_download_url : '',
    ...(typeof asset.state === 'string' ? { state: asset.state } : {}),
    ...(typeof asset.digest === 'string' ? { digest: asset.digest } : {}),
  };
}

/** The `code`s of a 422 body's `errors` list (`already_exists`, `custom`, `invalid`, …). */
function validationCodes(response: Response): string[] {
  const parsed = parseJson(response.body.toString('utf8'));
  if (typeof parsed !== 'object' || parsed === null) return [];
  const errors = (parsed as { errors?: unknown }).errors;
  if (!Array.isArray(errors)) return [];
  return errors
    .map((entry) =>
      typeof entry === 'object' && entry !== null ? (entry as { code?: unknown }).code : undefined,
    )
    .filter((code): code is string => typeof code === 'string');
}

/** GitHub's message and any validation errors: `Validation Failed (ReleaseAsset.size custom: size must…)`. */
function describeBody(response: Response): string | undefined {
  const text = response.body.toString('utf8');
  const message = gitHubMessage(text);
  const parsed = parseJson(text);
  const errors =
    typeof parsed === 'object' && parsed !== null ? (parsed as { errors?: unknown }).errors : undefined;
  const details = Array.isArray(errors)
    ? errors
        .map((entry) => {
          if (typeof entry === 'string') return entry;
          if (typeof entry !== 'object' || entry === null) return undefined;
          const { resource, field, code, message: detail } = entry as Record<string, unknown>;
          const where = [resource, field].filter((part) => typeof part === 'string').join('.');
          const what = [code, detail].filter((part) => typeof part === 'string').join(': ');
          return [where, what].filter((part) => part !== '').join(' ');
        })
        .filter((entry): entry is string => entry !== undefined && entry !== '')
    : [];
  if (message === undefined && details.length === 0) {
    if (parsed !== undefined || /^\s*</.test(text)) return undefined;
    const excerpt = text.replace(/\s+/g, ' ').trim().slice(0, 200);
    return excerpt === '' ? undefined : excerpt;
  }
  return [message, details.length > 0 ? `(${details.join('; ')})` : undefined].filter(Boolean).join(' ');
}

function statusLine(status: number): string {
  const text = STATUS_CODES[status];
  return text ? `HTTP ${status} ${text}` : `HTTP ${status}`;
}

function httpError(
  context: Context,
  op: Operation,
  response: Response,
  override?: { hint: string },
): ReleaseApiError {
  const { status } = response;
  const said = describeBody(response);
  const reason = said ? `${statusLine(status)}: ${said}` : statusLine(status);
  const repository = context.api.repository;
  let hint: string | undefined;
  if (response.rateLimit) {
    const { resetAt, waitMs } = response.rateLimit;
    const resets = resetAt === undefined ? '' : ` The limit resets at ${new Date(resetAt).toISOString()}.`;
    hint =
      waitMs === undefined
        ? `GitHub kept rate-limiting the token.${resets} Run again later`
        : `GitHub asked to wait ${Math.ceil(waitMs / 1000)} s, longer than allowed.${resets} Run again later`;
  } else if (status === 401) {
    hint =
      'The token was rejected: it is missing, wrong or expired. Pass a valid token ' +
      "(for example the workflow's GITHUB_TOKEN, `github-token: ${{ github.token }}`)";
  } else if (status === 403) {
    const accepted = response.headers.get('x-accepted-github-permissions');
    hint =
      `The token lacks the contents: write permission on ${repository}` +
      (accepted ? ` (GitHub accepts: ${accepted})` : '') +
      `. Grant it in the workflow (or job):\n\n${PERMISSIONS_SNIPPET}\n\n` +
      'A personal access token or GitHub App token needs write access to the repository contents';
  } else if (override) {
    hint = override.hint;
  } else if (status === 404) {
    hint =
      `The token cannot see the repository ${repository}: check the repository name, and that the token ` +
      "has access to it (the workflow's GITHUB_TOKEN covers only the repository the workflow runs in)";
  } else if (status === 422 && /immutable/i.test(said ?? '')) {
    hint = 'The release is immutable: its assets cannot be added, replaced or deleted once published';
  } else if (status >= 500) {
    hint = 'GitHub had a server error; run again later';
  }
  return new ReleaseApiError({
    ...baseInit(context, op),
    status,
    reason: redact(reason, context.api.token),
    ...(hint ? { hint } : {}),
    attempts: response.attempts,
  });
}

function unexpectedBody(context: Context, op: Operation, response: Response): ReleaseApiError {
  return new ReleaseApiError({
    ...baseInit(context, op),
    status: response.status,
    reason: `${statusLine(response.status)} with an answer that is not the JSON GitHub sends`,
    hint: `Check that ${context.api.apiUrl} is a GitHub REST API URL`,
  });
}

/** The next-page target of a `Link` header (`<url>; rel="next"`, RFC 8288). */
function nextLink(header: string | null): string | undefined {
  if (!header) return undefined;
  for (const match of header.matchAll(/<([^>]*)>((?:\s*;\s*[^;,]+)*)/g)) {
    const rel = /;\s*rel\s*=\s*(?:"([^"]*)"|([^\s;,]+))/i.exec(match[2] ?? '');
    const relations = (rel?.[1] ?? rel?.[2] ?? '').toLowerCase().split(/\s+/);
    if (relations.includes('next')) return match[1];
  }
  return undefined;
}

/** Replaces every occurrence of the token (the whole token only; short tokens too). */
function redact(text: string, token: string): string {
  return token === '' ? text : text.split(token).join('***');
}

function causeWithoutToken(cause: unknown, token: string): { cause: unknown } | undefined {
  if (token === '') return { cause };
  const seen: string[] = [];
  let current: unknown = cause;
  for (let depth = 0; typeof current === 'object' && current !== null && depth < 10; depth += 1) {
    const entry = current as { message?: unknown; stack?: unknown; cause?: unknown };
    seen.push(String(entry.message ?? ''), String(entry.stack ?? ''));
    current = entry.cause;
  }
  return seen.some((text) => text.includes(token)) ? undefined : { cause };
}

/**
 * The GitHub Release of `tag` as one stage of a publish: `stage` uploads the assets to a draft (made when
 * needed), `publish` makes it public once the image tags exist, `discard` removes a draft this run made.
 */
export function githubReleaseStage(
  api: GitHubApi,
  tag: string,
  deps: PublishReleaseAssetsDeps,
  options: StageReleaseAssetsOptions = {},
): {
  stage(assets: ReleaseAsset[]): Promise<{ releaseUrl: string; assets: UploadedAsset[] }>;
  publish(): Promise<string>;
  discard(): Promise<void>;
} {
  let staged: StagedRelease | undefined;
  return {
    async stage(assets) {
      staged = await stageReleaseAssets(api, tag, assets, deps, options);
      return { releaseUrl: staged.releaseUrl, assets: staged.assets };
    },
    async publish() {
      if (!staged) throw new Error(`no release of ${tag} was staged`);
      return publishStagedRelease(api, staged, deps);
    },
    async discard() {
      if (staged) await discardStagedRelease(api, staged, deps);
    },
  };
}
