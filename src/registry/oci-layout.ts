import { createHash } from 'node:crypto';
import path from 'node:path';
import type { RegistryClient } from './client.js';

export interface LayoutDescriptor {
  mediaType: string;
  digest: string;
  size: number;
}

export interface ImageManifestDocument {
  schemaVersion: number;
  mediaType?: string;
  config: LayoutDescriptor;
  layers: LayoutDescriptor[];
}

export type ReadBinary = (file: string) => Promise<Buffer>;

export class LayoutError extends Error {
  override name = 'LayoutError';
}

export function blobPath(layoutDir: string, digest: string): string {
  const [algorithm, hex] = digest.split(':');
  if (!algorithm || !hex) throw new LayoutError(`"${digest}" is not a digest`);
  return path.join(layoutDir, 'blobs', algorithm, hex);
}

function sha256(data: Buffer): string {
  return `sha256:${createHash('sha256').update(data).digest('hex')}`;
}

/** Parses an image manifest and checks it has the fields a push needs. */
export function parseImageManifest(body: Buffer, where: string): ImageManifestDocument {
  let doc: unknown;
  try {
    doc = JSON.parse(body.toString('utf8'));
  } catch {
    throw new LayoutError(`${where} is not JSON`);
  }
  const m = doc as Partial<ImageManifestDocument>;
  const isDescriptor = (d: unknown): d is LayoutDescriptor =>
    !!d &&
    typeof (d as LayoutDescriptor).digest === 'string' &&
    typeof (d as LayoutDescriptor).size === 'number' &&
    typeof (d as LayoutDescriptor).mediaType === 'string';
  if (!isDescriptor(m.config) || !Array.isArray(m.layers) || !m.layers.every(isDescriptor)) {
    throw new LayoutError(`${where} is not an image manifest (config and layers descriptors expected)`);
  }
  return m as ImageManifestDocument;
}

export interface PushedManifest {
  digest: string;
  mediaType: string;
  manifest: ImageManifestDocument;
  /** Bytes of config + layers, as stored (compressed). */
  size: number;
  uploadedBlobs: number;
  skippedBlobs: number;
}

/**
 * Uploads one image manifest from an OCI layout directory to `repository` by digest: blobs first
 * (each skipped when the registry has it), then the manifest under its digest. No tag is written.
 */
export async function pushLayoutManifestByDigest(
  client: RegistryClient,
  repository: string,
  layoutDir: string,
  manifestDigest: string,
  readBinary: ReadBinary,
): Promise<PushedManifest> {
  const body = await readBinary(blobPath(layoutDir, manifestDigest));
  if (sha256(body) !== manifestDigest) {
    throw new LayoutError(`the manifest in ${layoutDir} does not match its digest ${manifestDigest}`);
  }
  const manifest = parseImageManifest(body, `manifest ${manifestDigest} in ${layoutDir}`);
  const mediaType = manifest.mediaType ?? 'application/vnd.oci.image.manifest.v1+json';
  let uploadedBlobs = 0;
  let skippedBlobs = 0;
  for (const descriptor of [manifest.config, ...manifest.layers]) {
    const blob = await readBinary(blobPath(layoutDir, descriptor.digest));
    if (blob.length !== descriptor.size || sha256(blob) !== descriptor.digest) {
      throw new LayoutError(`blob ${descriptor.digest} in ${layoutDir} does not match its descriptor`);
    }
    const result = await client.uploadBlob(repository, blob, descriptor.digest);
    if (result.uploaded) uploadedBlobs += 1;
    else skippedBlobs += 1;
  }
  const pushed = await client.putManifest(repository, manifestDigest, body, mediaType);
  if (pushed !== manifestDigest) {
    throw new LayoutError(`the registry stored the manifest as ${pushed}, expected ${manifestDigest}`);
  }
  const size = manifest.config.size + manifest.layers.reduce((sum, l) => sum + l.size, 0);
  return { digest: manifestDigest, mediaType, manifest, size, uploadedBlobs, skippedBlobs };
}

/** The digest of the one image manifest an OCI layout's `index.json` lists (a single-platform export). */
export async function singleLayoutManifest(layoutDir: string, readBinary: ReadBinary): Promise<string> {
  let index: { manifests?: Array<Partial<LayoutDescriptor>> };
  try {
    index = JSON.parse(
      (await readBinary(path.join(layoutDir, 'index.json'))).toString('utf8'),
    ) as typeof index;
  } catch (error) {
    throw new LayoutError(
      `${layoutDir} has no readable index.json (${error instanceof Error ? error.message : String(error)})`,
    );
  }
  const manifests = index.manifests ?? [];
  const only = manifests[0];
  if (manifests.length !== 1 || typeof only?.digest !== 'string' || /index/.test(only.mediaType ?? '')) {
    throw new LayoutError(
      `the OCI layout ${layoutDir} should list exactly one image manifest, it lists ${JSON.stringify(manifests)}`,
    );
  }
  return only.digest;
}
