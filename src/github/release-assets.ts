/**
 * The GitHub Release of a tag as one stage of a publish, on the GitHub REST API (Octokit, see client.ts):
 * stageReleaseAssets uploads the assets to a draft release (found, or created by this run) before any
 * image tag is written; publishStagedRelease publishes the draft once every tag is in place;
 * discardStagedRelease deletes a draft this run created when tagging failed. A draft takes assets even
 * where releases are immutable once published, and nobody sees a release pointing at images that were
 * never tagged. Errors name the operation, tag and asset, say what to fix, and never carry the token.
 */
import { prepareAssets, type ReleaseAsset } from './asset-files.js';
import { createGitHubClient, type GitHubApi } from './client.js';
import {
  readRelease,
  redact,
  refused,
  ReleaseApiError,
  send,
  subject,
  unexpected,
  validationCodes,
  type ReleaseContext,
  type ReleaseJson,
  type ReleaseLog,
} from './release-api.js';
import { uploadAll, type UploadedAsset } from './upload-assets.js';

export { GITHUB_API_VERSION, type GitHubApi } from './client.js';
export { ReleaseApiError } from './release-api.js';
export { contentTypeFor, MAX_ASSET_BYTES, type ReleaseAsset } from './asset-files.js';
export type { UploadedAsset } from './upload-assets.js';

export interface StageReleaseAssetsDeps {
  readFile(file: string): Promise<Buffer>;
  log: ReleaseLog;
}

/** What publishStagedRelease and discardStagedRelease need: a logger. */
export type StagedReleaseDeps = Pick<StageReleaseAssetsDeps, 'log'>;

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

/** Pages of 100 releases searched for a draft (GitHub lists the newest first). */
export const MAX_RELEASE_PAGES = 10;

/**
 * The GitHub Release of `tag` as one stage of a publish: `stage` uploads the assets to a draft (made when
 * needed), `publish` makes it public once the image tags exist, `discard` removes a draft this run made.
 */
export function githubReleaseStage(
  api: GitHubApi,
  tag: string,
  deps: StageReleaseAssetsDeps,
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

/**
 * Uploads `assets` to a release for `tag` without publishing anything new: the published release for the
 * tag if there is one, else a draft release for the tag (the newest GitHub lists), else a draft it creates
 * (unless `createIfMissing` is false). Same-named assets are replaced. All files are read (and checked)
 * before anything on GitHub changes.
 *
 * A published immutable release still cannot take assets: that fails with a ReleaseApiError saying so.
 */
export async function stageReleaseAssets(
  api: GitHubApi,
  tag: string,
  assets: ReleaseAsset[],
  deps: StageReleaseAssetsDeps,
  options: StageReleaseAssetsOptions = {},
): Promise<StagedRelease> {
  const context = createContext(api, tag, deps.log, 'staging release assets');
  const prepared = await prepareAssets(
    { tag, repository: api.repository },
    assets,
    deps.readFile,
    (message) => deps.log.warning(message),
  );

  const { release, created } = await findOrCreateDraftRelease(context, options);
  // A created release is a draft (it was asked for) even if the answer leaves `draft` out.
  const draft = release.draft === true || (created && release.draft === undefined);
  const found = `release ${release.html_url} for tag ${tag} (id ${release.id})`;
  if (created) deps.log.info(`Created draft ${found}`);
  else if (draft) deps.log.info(`Found draft ${found}; reusing it`);
  else deps.log.info(`Found published ${found}; its assets are replaced in place`);
  if (!created && options.prerelease !== undefined && release.prerelease !== options.prerelease) {
    deps.log.warning(
      `Release for tag ${tag} is ${release.prerelease ? '' : 'not '}a prerelease; leaving it as it is`,
    );
  }
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
  const { owner, repo } = context;
  const published = await send(context, op, (octokit) =>
    octokit.rest.repos.updateRelease({
      owner,
      repo,
      release_id: staged.releaseId,
      draft: false,
      tag_name: staged.tag,
    }),
  );
  if (published.ok) {
    const release = readRelease(context, op, published.value.status, published.value.data);
    if (release.draft === true) {
      throw new ReleaseApiError({
        ...subject(context, op),
        status: published.value.status,
        reason: `GitHub answered, but release ${staged.releaseId} is still a draft`,
        hint: `Publish it by hand: ${release.html_url}`,
      });
    }
    deps.log.info(`Published release ${release.html_url} for tag ${staged.tag} (id ${release.id})`);
    return release.html_url;
  }
  const { failure } = published;
  let hint: string | undefined;
  if (failure.status === 422) {
    // A retried PATCH whose first attempt went through may be refused (e.g. by an immutable release):
    // the release is published if GitHub finds it by tag.
    const current = await getReleaseByTag(context).catch(() => undefined);
    if (current?.id === staged.releaseId && current.draft !== true) {
      deps.log.info(`Release ${current.html_url} for tag ${staged.tag} (id ${current.id}) is published`);
      return current.html_url;
    }
    if (validationCodes(failure).includes('already_exists')) {
      hint =
        `Another release for tag ${staged.tag} was published meanwhile${current ? ` (${current.html_url})` : ''}. ` +
        `Delete one of them; the draft is ${staged.releaseUrl}`;
    }
  } else if (failure.status === 404) {
    hint =
      `Draft release ${staged.releaseId} no longer exists (deleted after its assets were uploaded?), or ` +
      `the token cannot see ${api.repository}. Run again to stage the assets anew`;
  }
  throw refused(context, op, failure, hint === undefined ? undefined : { hint });
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
  const { tag, releaseId } = staged;
  if (!staged.created || !staged.draft) {
    if (staged.draft) {
      deps.log.info(
        `Leaving draft release ${staged.releaseUrl} for tag ${tag} (id ${releaseId}) as it is: this run ` +
          'did not create it',
      );
    }
    return false;
  }
  try {
    const context = createContext(api, tag, deps.log, 'discarding a staged release');
    const { owner, repo } = context;
    const readOp = { operation: 'get release' };
    const current = await send(context, readOp, (octokit) =>
      octokit.rest.repos.getRelease({ owner, repo, release_id: releaseId }),
    );
    if (!current.ok && current.failure.status === 404) {
      deps.log.info(`Draft release ${releaseId} for tag ${tag} is already gone`);
      return true;
    }
    if (!current.ok) throw refused(context, readOp, current.failure);
    const release = readRelease(context, readOp, current.value.status, current.value.data);
    if (release.draft !== true) {
      deps.log.warning(
        `Not deleting release ${release.html_url} for tag ${tag} (id ${release.id}): it was published ` +
          'meanwhile',
      );
      return false;
    }
    const op = { operation: 'delete release' };
    const deleted = await send(context, op, (octokit) =>
      octokit.rest.repos.deleteRelease({ owner, repo, release_id: releaseId }),
    );
    // 404: already gone (a retried DELETE whose first attempt went through, or someone else).
    if (!deleted.ok && deleted.failure.status !== 404) {
      throw refused(context, op, deleted.failure);
    }
    deps.log.info(`Deleted draft release ${releaseId} for tag ${tag} created by this run`);
    return true;
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    deps.log.warning(
      redact(
        `Could not delete draft release ${releaseId} for tag ${tag}: ${reason}\n` +
          `Delete it by hand: ${staged.releaseUrl}`,
        api.token,
      ),
    );
    return false;
  }
}

function createContext(api: GitHubApi, tag: string, log: ReleaseLog, doing: string): ReleaseContext {
  const match = /^([A-Za-z0-9_.-]+)\/([A-Za-z0-9_.-]+)$/.exec(api.repository.trim());
  if (!match?.[1] || !match[2]) {
    throw new Error(`invalid GitHub repository "${api.repository}": expected owner/name`);
  }
  if (tag.trim() === '') throw new Error(`${doing} needs a tag; got an empty one`);
  if (api.token === '') throw new Error(`${doing} needs a GitHub token; got an empty one`);
  const client = createGitHubClient(api, (message) => log.warning(redact(message, api.token)));
  return { api, client, owner: match[1], repo: match[2], tag, log };
}

/**
 * The release for the tag, drafts included: GET by tag finds published releases only, so a 404 there
 * searches the release list for a draft of that tag. Creates a draft when there is none.
 */
async function findOrCreateDraftRelease(
  context: ReleaseContext,
  options: StageReleaseAssetsOptions,
): Promise<{ release: ReleaseJson; created: boolean }> {
  const existing = (await getReleaseByTag(context)) ?? (await findReleaseInList(context));
  if (existing) return { release: existing, created: false };
  if (options.createIfMissing === false) {
    throw new ReleaseApiError({
      ...subject(context, { operation: 'get release' }),
      status: 404,
      reason: 'there is no release for this tag, neither published nor draft',
      hint:
        'Create the release (or a draft of it) first, or allow creating it. If the release exists, check ' +
        'that the token can see the repository and has the contents: write permission (drafts are listed ' +
        'only to tokens that can write)',
    });
  }
  const op = { operation: 'create release' };
  const { owner, repo, tag } = context;
  const created = await send(context, op, (octokit) =>
    octokit.rest.repos.createRelease({
      owner,
      repo,
      tag_name: tag,
      name: options.name ?? tag,
      draft: true,
      prerelease: options.prerelease ?? false,
    }),
  );
  if (created.ok) {
    const release = readRelease(context, op, created.value.status, created.value.data);
    return { release, created: true };
  }
  if (created.failure.status !== 422 || !validationCodes(created.failure).includes('already_exists')) {
    throw refused(context, op, created.failure);
  }
  // Another run created a release for the tag between our look-up and this POST.
  context.log.info(`Release for tag ${tag} was created concurrently; reading it`);
  const raced = (await getReleaseByTag(context)) ?? (await findReleaseInList(context));
  if (raced) return { release: raced, created: false };
  throw new ReleaseApiError({
    ...subject(context, op),
    status: 422,
    reason: 'GitHub says a release for this tag already exists, but it can be neither read nor listed',
    hint: 'Check the releases of the repository, and delete the one that is in the way',
  });
}

async function getReleaseByTag(context: ReleaseContext): Promise<ReleaseJson | undefined> {
  const op = { operation: 'get release' };
  const { owner, repo, tag } = context;
  const found = await send(context, op, (octokit) =>
    octokit.rest.repos.getReleaseByTag({ owner, repo, tag }),
  );
  if (!found.ok && found.failure.status === 404) return undefined;
  if (!found.ok) throw refused(context, op, found.failure);
  const release = readRelease(context, op, found.value.status, found.value.data);
  return release;
}

/**
 * A release for the tag from the release list (newest first, at most MAX_RELEASE_PAGES pages), drafts
 * first: the newest draft listed, else a published one (published since GET by tag answered 404).
 */
async function findReleaseInList(context: ReleaseContext): Promise<ReleaseJson | undefined> {
  const op = { operation: 'list releases' };
  const { owner, repo, tag } = context;
  const drafts: ReleaseJson[] = [];
  let published: ReleaseJson | undefined;
  const listed = await send(context, op, async (octokit) => {
    let pages = 0;
    const parameters = { owner, repo, per_page: 100 };
    for await (const page of octokit.paginate.iterator(octokit.rest.repos.listReleases, parameters)) {
      if ((pages += 1) > MAX_RELEASE_PAGES) return false;
      if (!Array.isArray(page.data)) throw unexpected(context, op, page.status);
      for (const entry of page.data as unknown[]) {
        if (typeof entry !== 'object' || entry === null) {
          throw unexpected(context, op, page.status);
        }
        if ((entry as { tag_name?: unknown }).tag_name !== tag) continue;
        const release = readRelease(context, op, page.status, entry);
        if (release.draft === true) drafts.push(release);
        else published ??= release;
      }
      if (drafts.length > 0) return true;
    }
    return true;
  });
  if (!listed.ok) throw refused(context, op, listed.failure);
  if (drafts.length > 1) {
    context.log.warning(
      `There are ${drafts.length} draft releases for tag ${tag} (ids ` +
        `${drafts.map((draft) => draft.id).join(', ')}); using the newest, ${drafts[0]?.id}`,
    );
  }
  const found = drafts[0] ?? published;
  if (!found && !listed.value) {
    context.log.warning(
      `Looked for a draft release for tag ${tag} among the newest ${MAX_RELEASE_PAGES * 100} releases ` +
        'only; a draft older than that is not reused',
    );
  }
  return found;
}
