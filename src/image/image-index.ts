import { createHash } from 'node:crypto';
import type { PlatformImage } from './pushed-image.js';
import { parsePlatform } from './platform.js';
import { OCI_IMAGE_INDEX } from '../registry/media-types.js';

export interface BuiltIndex {
  body: Buffer;
  digest: string;
  mediaType: string;
}

/**
 * The OCI image index over the gated platform manifests: one descriptor a platform with exact platform
 * fields (variant only where the platform has one), in the order the platforms were asked for, and the
 * release annotations. Deterministic: the same inputs give the same digest.
 */
export function buildImageIndex(
  images: readonly PlatformImage[],
  annotations: Record<string, string>,
): BuiltIndex {
  if (images.length === 0) throw new Error('an index needs at least one platform image');
  const manifests = images.map((image) => {
    const platform = parsePlatform(image.platform);
    return {
      mediaType: image.mediaType,
      digest: image.digest,
      size: image.manifestSize,
      platform: {
        architecture: platform.architecture,
        os: platform.os,
        ...(platform.variant ? { variant: platform.variant } : {}),
      },
    };
  });
  const index = {
    schemaVersion: 2,
    mediaType: OCI_IMAGE_INDEX,
    manifests,
    ...(Object.keys(annotations).length ? { annotations: sortedRecord(annotations) } : {}),
  };
  const body = Buffer.from(JSON.stringify(index));
  return {
    body,
    digest: `sha256:${createHash('sha256').update(body).digest('hex')}`,
    mediaType: OCI_IMAGE_INDEX,
  };
}

function sortedRecord(record: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(record).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}
