/**
 * Reads what one platform's bundle holds from the registry: the image (manifest, config, layers; for a
 * delta only the blobs the channel baseline lacks) and its signatures and attestations in both formats —
 * the OCI referrers of the image digest (referrers API or `sha256-<hex>` fallback index) and the classic
 * `sha256-<hex>.sig` / `.att` tags when present. Blobs are read lazily, streamed as the archive writes them.
 */
import type { RegistryClient } from '../registry/client.js';
import { RegistryError } from '../registry/errors.js';
import { fallbackTag, type OciDescriptor } from '../registry/referrer-manifest.js';
import { listReferrers, type ReferrersRegistry } from '../registry/referrers.js';
import {
  blobFile,
  dockerManifest,
  layoutIndex,
  memoryFile,
  OCI_LAYOUT,
  REF_NAME,
  SIGNATURES_DIR,
  signaturesIndex,
  type BlobRef,
  type BundleFile,
} from './layout.js';

export type BundleRegistry = ReferrersRegistry & Pick<RegistryClient, 'blobStream'>;

interface ImageManifestJson {
  config: BlobRef;
  layers: BlobRef[];
}

function blob(registry: BundleRegistry, repository: string, ref: BlobRef, dir = ''): BundleFile {
  return {
    path: blobFile(ref.digest, dir),
    size: ref.size,
    sha256: ref.digest.slice('sha256:'.length),
    content: () => registry.blobStream(repository, ref.digest, { size: ref.size }),
  };
}

/** What the image part of a bundle holds, and the bytes of its blobs. */
export interface ImageFiles {
  files: BundleFile[];
  /** Bytes of the blobs written (config and layers; the manifest is not counted). */
  blobBytes: number;
  /** Blobs left out because the baseline has them. */
  skipped: number;
}

/**
 * The OCI layout + docker archive files of one image named `name`; blobs in `skip` (the baseline's, for a
 * delta) are left out, but still named by index.json and manifest.json.
 */
export async function imageFiles(
  registry: BundleRegistry,
  repository: string,
  image: { digest: string; platform: Record<string, string> },
  name: string,
  skip: ReadonlySet<string> = new Set(),
): Promise<ImageFiles> {
  const fetched = await registry.getManifest(repository, image.digest);
  const manifest = fetched.json as ImageManifestJson;
  const ref = { mediaType: fetched.mediaType, digest: fetched.digest, size: fetched.body.length };
  const files: BundleFile[] = [
    memoryFile('oci-layout', OCI_LAYOUT),
    memoryFile('index.json', layoutIndex(ref, name, image.platform)),
    memoryFile('manifest.json', dockerManifest(manifest.config, manifest.layers, name)),
    memoryFile(blobFile(ref.digest), fetched.body),
  ];
  const seen = new Set<string>();
  let blobBytes = 0;
  let skipped = 0;
  for (const b of [manifest.config, ...manifest.layers]) {
    if (seen.has(b.digest)) continue;
    seen.add(b.digest);
    if (skip.has(b.digest)) skipped += 1;
    else {
      files.push(blob(registry, repository, b));
      blobBytes += b.size;
    }
  }
  return { files, blobBytes, skipped };
}

async function manifestIfExists(registry: BundleRegistry, repository: string, ref: string) {
  try {
    return await registry.getManifest(repository, ref);
  } catch (error) {
    if (error instanceof RegistryError && error.status === 404) return undefined;
    throw error;
  }
}

/**
 * The signatures and attestations of `digest` as an OCI layout under `signatures/`: every referrer
 * manifest (annotated with its subject) and every classic `.sig`/`.att` manifest (annotated with its tag),
 * with their blobs. Empty when there are none.
 */
export async function signatureFiles(
  registry: BundleRegistry,
  repository: string,
  digest: string,
): Promise<BundleFile[]> {
  const referrers = await listReferrers(registry, repository, digest);
  const entries: Array<OciDescriptor & { annotations: Record<string, string> }> = [];
  const files = new Map<string, BundleFile>();
  const add = async (ref: string, annotations: Record<string, string>, descriptor?: OciDescriptor) => {
    const fetched = descriptor
      ? await registry.getManifest(repository, descriptor.digest)
      : await manifestIfExists(registry, repository, ref);
    if (!fetched) return;
    entries.push({
      mediaType: fetched.mediaType,
      digest: fetched.digest,
      size: fetched.body.length,
      ...(descriptor?.artifactType ? { artifactType: descriptor.artifactType } : {}),
      annotations: { ...descriptor?.annotations, ...annotations },
    });
    files.set(fetched.digest, memoryFile(blobFile(fetched.digest, SIGNATURES_DIR), fetched.body));
    const json = fetched.json as { config?: BlobRef; layers?: BlobRef[] };
    for (const b of [...(json.config ? [json.config] : []), ...(json.layers ?? [])]) {
      if (!files.has(b.digest)) files.set(b.digest, blob(registry, repository, b, SIGNATURES_DIR));
    }
  };
  await Promise.all([
    ...referrers.map((r) => add(r.digest, { 'dev.edgeship.subject': digest }, r)),
    ...['sig', 'att'].map((suffix) => {
      const tag = `${fallbackTag(digest)}.${suffix}`;
      return add(tag, { [REF_NAME]: tag });
    }),
  ]);
  if (entries.length === 0) return [];
  const byDigest = <T extends { digest?: string; path?: string }>(a: T, b: T) =>
    (a.digest ?? a.path)! < (b.digest ?? b.path)! ? -1 : 1;
  return [
    memoryFile(`${SIGNATURES_DIR}/oci-layout`, OCI_LAYOUT),
    memoryFile(`${SIGNATURES_DIR}/index.json`, signaturesIndex(entries.sort(byDigest))),
    ...[...files.values()].sort(byDigest),
  ];
}
