/**
 * What an offline bundle holds, as a list of files: one archive that is at once an OCI image layout
 * (`oci-layout`, `index.json`, `blobs/sha256/…`: `skopeo copy oci-archive:`, `ctr images import`) and a
 * `docker save` archive (`manifest.json` naming the same blobs: `docker load`), the platform's signatures
 * and attestations as a second OCI layout under `signatures/`, then the signed deployment manifest, the
 * trusted root, the installer and `SHA256SUMS`.
 *
 * Pure: file lists, names and JSON documents; reading blobs is the caller's.
 */
import { createHash } from 'node:crypto';
import type { Readable } from 'node:stream';
import { OCI_IMAGE_INDEX } from '../registry/media-types.js';

/** One file of a bundle: its path inside the archive, its size and how to read it. */
export interface BundleFile {
  path: string;
  size: number;
  /** sha256 hex when known without reading (blobs are named by it). */
  sha256?: string;
  /**
   * Its bytes: held in memory (small files), or a stream read when the archive writes it (a registry blob,
   * checked against its digest where it is read).
   */
  content: () => Buffer | Readable;
}

export type BundleKind = 'full' | 'delta';
export type BundleCompression = 'zstd' | 'gzip';

/** A blob as a manifest or index names it. */
export interface BlobRef {
  mediaType: string;
  digest: string;
  size: number;
}

export const OCI_LAYOUT = Buffer.from('{"imageLayoutVersion":"1.0.0"}');
export const REF_NAME = 'org.opencontainers.image.ref.name';
export const CONTAINERD_NAME = 'io.containerd.image.name';
/** The folder of the signatures' own OCI layout inside a bundle. */
export const SIGNATURES_DIR = 'signatures';
export const SUMS_FILE = 'SHA256SUMS';
export const SUMS_BUNDLE_FILE = 'SHA256SUMS.sigstore.json';
export const TRUSTED_ROOT_FILE = 'trusted_root.json';
export const INSTALLER_FILE = 'edgeship-install.sh';

/** `blobs/sha256/<hex>` (under `dir` when given). */
export function blobFile(digest: string, dir = ''): string {
  const [algorithm, hex] = digest.split(':');
  return `${dir ? `${dir}/` : ''}blobs/${algorithm}/${hex}`;
}

export const sha256Hex = (data: Buffer): string => createHash('sha256').update(data).digest('hex');

/** A file held in memory. */
export function memoryFile(path: string, body: Buffer | string): BundleFile {
  const data = Buffer.isBuffer(body) ? body : Buffer.from(body);
  return { path, size: data.length, sha256: sha256Hex(data), content: () => data };
}

/** A file's bytes, read whole into memory (for small files: signatures and attestations). */
export async function readWhole(file: BundleFile): Promise<Buffer> {
  const content = file.content();
  return Buffer.isBuffer(content) ? content : Buffer.concat((await content.toArray()) as Buffer[]);
}

/** `edgeship-1.8.2-linux-arm64-v8.oci.tar.zst`, `…-delta-from-1.8.1.oci.tar.gz`. */
export function bundleFileName(
  version: string,
  platform: string,
  kind: BundleKind,
  compression: BundleCompression,
  baselineVersion?: string,
): string {
  const slug = platform.split('/').join('-');
  const delta = kind === 'delta' ? `-delta-from-${baselineVersion ?? ''}` : '';
  return `edgeship-${version}-${slug}${delta}.oci.tar.${compression === 'zstd' ? 'zst' : 'gz'}`;
}

/** The OCI layout's index.json: the one image, named `<image>:<version>` for every loader. */
export function layoutIndex(manifest: BlobRef, name: string, platform?: Record<string, string>): Buffer {
  return Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: OCI_IMAGE_INDEX,
      manifests: [
        {
          mediaType: manifest.mediaType,
          digest: manifest.digest,
          size: manifest.size,
          ...(platform ? { platform } : {}),
          annotations: { [CONTAINERD_NAME]: name, [REF_NAME]: name },
        },
      ],
    }),
  );
}

/** `docker save`'s manifest.json for the same image (docker 25+ writes its blobs in the OCI layout too). */
export function dockerManifest(config: BlobRef, layers: readonly BlobRef[], name: string): Buffer {
  return Buffer.from(
    JSON.stringify([
      { Config: blobFile(config.digest), RepoTags: [name], Layers: layers.map((l) => blobFile(l.digest)) },
    ]),
  );
}

/** A referrers layout's index.json: every signature/attestation manifest with its tag or subject. */
export function signaturesIndex(entries: ReadonlyArray<BlobRef & { annotations?: Record<string, string> }>) {
  return Buffer.from(
    JSON.stringify({ schemaVersion: 2, mediaType: OCI_IMAGE_INDEX, manifests: entries }, null, 2),
  );
}

/** `sha256sum` text: `<hex>  <path>` per file, in archive order. */
export function sumsText(files: ReadonlyArray<{ path: string; sha256: string }>): string {
  return files.map((f) => `${f.sha256}  ${f.path}\n`).join('');
}
