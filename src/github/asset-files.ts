/**
 * Release asset files, read and checked before anything on GitHub changes: a plain name listed once, a
 * media type (from the name when not given), non-empty and under GitHub's 2 GiB limit; the digest of the
 * bytes is kept to check what GitHub stored.
 */
import { createHash } from 'node:crypto';
import path from 'node:path';

import { ReleaseApiError } from './release-api.js';

export interface ReleaseAsset {
  /** The asset's name on the release. */
  name: string;
  /** Path of the file to upload. */
  file: string;
  /** Media type sent as Content-Type; empty means contentTypeFor(name). */
  contentType: string;
}

export interface PreparedAsset {
  name: string;
  file: string;
  contentType: string;
  bytes: Buffer;
  digest: string;
}

/** GitHub refuses bigger release assets: "Each file included in a release must be under 2 GiB." */
export const MAX_ASSET_BYTES = 2 * 1024 ** 3 - 1;

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

/** Reads and checks every file before anything on GitHub changes. */
export async function prepareAssets(
  release: { tag: string; repository: string },
  assets: ReleaseAsset[],
  readFile: (file: string) => Promise<Buffer>,
  warn: (message: string) => void,
): Promise<PreparedAsset[]> {
  const seen = new Set<string>();
  const prepared: PreparedAsset[] = [];
  for (const asset of assets) {
    const fail = (reason: string, hint?: string, cause?: unknown) =>
      new ReleaseApiError({
        operation: 'prepare release asset',
        tag: release.tag,
        repository: release.repository,
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
      warn(
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
