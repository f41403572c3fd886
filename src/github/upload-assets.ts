/**
 * Uploading release assets: the release's assets listed (all pages), a same-named asset replaced (DELETE,
 * then upload), and what GitHub stored checked against the file (size, digest).
 */
import type { PreparedAsset } from './asset-files.js';
import {
  refused,
  ReleaseApiError,
  send,
  subject,
  unexpected,
  validationCodes,
  type ReleaseContext,
  type ReleaseJson,
} from './release-api.js';

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

interface AssetJson {
  id: number;
  name: string;
  size: number;
  browser_download_url: string;
  state?: string;
  digest?: string;
}

const UPLOAD_TIMEOUT_MS = 15 * 60_000;
const MAX_ASSET_PAGES = 50;

/** Replaces same-named assets and uploads the rest; refuses a published immutable release up front. */
export async function uploadAll(
  context: ReleaseContext,
  release: ReleaseJson,
  prepared: PreparedAsset[],
): Promise<UploadedAsset[]> {
  const { tag, log } = context;
  if (release.immutable === true && release.draft !== true && prepared.length > 0) {
    throw new ReleaseApiError({
      ...subject(context, { operation: 'upload release asset', asset: prepared[0]?.name ?? '' }),
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

async function listAssets(context: ReleaseContext, releaseId: number): Promise<Map<string, AssetJson>> {
  const op = { operation: 'list release assets' };
  const { owner, repo } = context;
  const listed = await send(context, op, async (octokit) => {
    const assets = new Map<string, AssetJson>();
    let pages = 0;
    const parameters = { owner, repo, release_id: releaseId, per_page: 100 };
    for await (const page of octokit.paginate.iterator(octokit.rest.repos.listReleaseAssets, parameters)) {
      if ((pages += 1) > MAX_ASSET_PAGES) return undefined;
      if (!Array.isArray(page.data)) throw unexpected(context, op, page.status);
      for (const entry of page.data as unknown[]) {
        const asset = readAsset(entry);
        if (!asset) throw unexpected(context, op, page.status);
        assets.set(asset.name, asset);
      }
    }
    return assets;
  });
  if (!listed.ok) throw refused(context, op, listed.failure);
  if (listed.value === undefined) {
    throw new ReleaseApiError({
      ...subject(context, op),
      reason: `more than ${MAX_ASSET_PAGES} pages of assets`,
    });
  }
  return listed.value;
}

async function deleteAsset(context: ReleaseContext, assetId: number, name: string): Promise<void> {
  const op = { operation: 'delete release asset', asset: name };
  const { owner, repo } = context;
  const deleted = await send(context, op, (octokit) =>
    octokit.rest.repos.deleteReleaseAsset({ owner, repo, asset_id: assetId }),
  );
  // 404: already gone (a retried DELETE whose first attempt went through, or another run).
  if (deleted.ok || deleted.failure.status === 404) return;
  throw refused(context, op, deleted.failure);
}

async function uploadAsset(
  context: ReleaseContext,
  release: ReleaseJson,
  asset: PreparedAsset,
): Promise<AssetJson> {
  const op = { operation: 'upload release asset', asset: asset.name };
  const upload = () =>
    send(
      context,
      op,
      (octokit) =>
        // The release's upload_url template (`…/releases/1/assets{?name,label}`) names the uploads host;
        // without `label` in it Octokit leaves no stray `&` after the name.
        octokit.request({
          method: 'POST',
          url: release.upload_url.replace(/\{([?&])[^}]*\}/, '{$1name}'),
          name: asset.name,
          data: asset.bytes,
          headers: { 'content-type': asset.contentType },
        }),
      UPLOAD_TIMEOUT_MS,
    );
  let uploaded = await upload();
  if (!uploaded.ok && validationCodes(uploaded.failure).includes('already_exists')) {
    // A same-named asset appeared: a 502 can leave an empty `starter` asset behind, a retried upload may
    // have gone through, or another run uploaded it. Replace it, once.
    const current = (await listAssets(context, release.id)).get(asset.name);
    if (current) {
      context.log.info(
        `Asset ${asset.name} appeared on the release (id ${current.id}, state ${current.state ?? 'unknown'}); replacing it`,
      );
      await deleteAsset(context, current.id, asset.name);
      uploaded = await upload();
    }
  }
  if (!uploaded.ok) throw refused(context, op, uploaded.failure);
  const stored = readAsset(uploaded.value.data);
  if (!stored) throw unexpected(context, op, uploaded.value.status);
  if (typeof stored.digest === 'string' && stored.digest !== '' && stored.digest !== asset.digest) {
    throw new ReleaseApiError({
      ...subject(context, op),
      reason: `GitHub stored digest ${stored.digest}, but ${asset.file} has ${asset.digest}`,
      hint: 'The upload was corrupted in transit; run again to replace the asset',
    });
  }
  if (stored.size !== asset.bytes.length) {
    throw new ReleaseApiError({
      ...subject(context, op),
      reason: `GitHub stored ${stored.size} bytes, but ${asset.file} has ${asset.bytes.length}`,
      hint: 'Run again to replace the asset',
    });
  }
  return stored;
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
