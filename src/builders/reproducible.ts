/**
 * Reproducible images from buildah. With SOURCE_DATE_EPOCH buildah stamps every file and the image with that time,
 * but its docker-format config still carries the build container's random hostname (`config.Hostname`,
 * `container_config.Hostname`) and id (`container`), so two builds of one commit differ in digest. Those fields say
 * nothing about the image: they are cleared in the exported OCI layout before it is uploaded, and the manifest is
 * rewritten to the new config.
 */
import { createHash } from 'node:crypto';
import { blobPath } from '../registry/oci-layout.js';
import { isRecord } from '../validation/json.js';

/** The config without the build container's identity; undefined when there is nothing to clear. */
export function clearBuildContainer(config: Buffer): Buffer | undefined {
  const doc = JSON.parse(config.toString('utf8')) as unknown;
  if (!isRecord(doc)) return undefined;
  let changed = false;
  if ('container' in doc) {
    delete doc.container;
    changed = true;
  }
  for (const key of ['config', 'container_config']) {
    const section = doc[key];
    if (isRecord(section) && typeof section.Hostname === 'string' && section.Hostname !== '') {
      section.Hostname = '';
      changed = true;
    }
  }
  return changed ? Buffer.from(JSON.stringify(doc)) : undefined;
}

export interface LayoutFiles {
  readBinary: (file: string) => Promise<Buffer>;
  writeBinary: (file: string, content: Buffer) => void;
}

/** Clears the build container from the image at `manifestDigest` in an OCI layout; returns the new manifest digest. */
export async function reproducibleLayoutImage(
  layoutDir: string,
  manifestDigest: string,
  files: LayoutFiles,
): Promise<string> {
  const manifest = JSON.parse(
    (await files.readBinary(blobPath(layoutDir, manifestDigest))).toString('utf8'),
  ) as {
    config: { digest: string; size: number };
  };
  const config = clearBuildContainer(await files.readBinary(blobPath(layoutDir, manifest.config.digest)));
  if (!config) return manifestDigest;
  const configDigest = sha256(config);
  files.writeBinary(blobPath(layoutDir, configDigest), config);
  manifest.config = { ...manifest.config, digest: configDigest, size: config.length };
  const body = Buffer.from(JSON.stringify(manifest));
  const digest = sha256(body);
  files.writeBinary(blobPath(layoutDir, digest), body);
  return digest;
}

function sha256(body: Buffer): string {
  return `sha256:${createHash('sha256').update(body).digest('hex')}`;
}
