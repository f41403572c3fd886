/**
 * What an edge node must download to upgrade: the blobs (config + layers) of the new image that the image it already
 * runs (the previous release of the same channel, same platform) does not have. Registries and container runtimes
 * share blobs by digest, so a layer with the same digest is never fetched twice.
 *
 * Pure: works on descriptors already read from the registry.
 */
import { formatPlatform, parsePlatform } from '../image/platform.js';

export interface BlobDescriptor {
  digest: string;
  size: number;
}

/** The blobs of the image being released. */
export interface CurrentImageBlobs {
  layers: readonly BlobDescriptor[];
  configDigest: string;
  /** Bytes of the config blob. */
  configSize?: number;
  /**
   * Compressed bytes of config + layers (PlatformImage.size). Used to derive the config's size when `configSize` is
   * not given; with neither, the config counts as 0 bytes.
   */
  size?: number;
}

/** The blobs of the image the edge node runs now. */
export interface PreviousImageBlobs {
  layers: readonly Pick<BlobDescriptor, 'digest'>[];
  configDigest: string;
  /** Digest of the previous image's manifest, carried into {@link PlatformDelta.previousDigest}. */
  digest?: string;
}

export interface LayerDelta {
  /** Bytes to download: the new config (when it changed) plus every layer the previous image does not have. */
  bytes: number;
  /** Number of layers to download (the config blob is not counted here; its bytes are in `bytes`). */
  layers: number;
  /** Bytes of the current image already present on a node running the previous image. */
  reusedBytes: number;
}

function configSizeOf(current: CurrentImageBlobs): number {
  if (current.configSize !== undefined) return current.configSize;
  if (current.size === undefined) return 0;
  const layerBytes = current.layers.reduce((sum, l) => sum + l.size, 0);
  return Math.max(0, current.size - layerBytes);
}

function checkSize(size: number, what: string): void {
  if (!Number.isSafeInteger(size) || size < 0) {
    throw new RangeError(`${what} has an invalid size ${String(size)}; expected a whole number of bytes ≥ 0`);
  }
}

/**
 * The download needed to go from `previous` to `current` (same platform). A blob is downloaded once even when the
 * image lists it twice (e.g. identical empty layers). Without a previous image everything is downloaded.
 */
export function layerDelta(current: CurrentImageBlobs, previous: PreviousImageBlobs | undefined): LayerDelta {
  const have = new Set<string>();
  if (previous) {
    have.add(previous.configDigest);
    for (const layer of previous.layers) have.add(layer.digest);
  }
  const seen = new Set<string>();
  let bytes = 0;
  let layers = 0;
  let reusedBytes = 0;

  const configSize = configSizeOf(current);
  checkSize(configSize, `config ${current.configDigest}`);
  seen.add(current.configDigest);
  if (have.has(current.configDigest)) reusedBytes += configSize;
  else bytes += configSize;

  for (const layer of current.layers) {
    checkSize(layer.size, `layer ${layer.digest}`);
    if (seen.has(layer.digest)) continue;
    seen.add(layer.digest);
    if (have.has(layer.digest)) {
      reusedBytes += layer.size;
    } else {
      bytes += layer.size;
      layers += 1;
    }
  }
  return { bytes, layers, reusedBytes };
}

/** A platform's delta and whether there was a previous image of that platform to compare with. */
export interface PlatformDelta extends LayerDelta {
  platform: string;
  /** False when the baseline has no image for this platform (new platform, or no baseline): a full download. */
  hasPrevious: boolean;
  /** Digest of the previous image, when known. */
  previousDigest?: string;
}

/** `linux/arm64/v8` and `linux/aarch64` are `linux/arm64`; unknown spellings are kept as written. */
export function platformKey(platform: string): string {
  try {
    return formatPlatform(parsePlatform(platform));
  } catch {
    return platform.trim();
  }
}

/**
 * The delta of every current image against the previous release's image of the same platform. Platform names are
 * compared in their normalised form. The result is keyed by each current image's `platform` as given.
 */
export function platformDeltas(
  currentImages: ReadonlyArray<CurrentImageBlobs & { platform: string }>,
  previousByPlatform: ReadonlyMap<string, PreviousImageBlobs>,
): Map<string, PlatformDelta> {
  const previous = new Map<string, PreviousImageBlobs>();
  for (const [platform, image] of previousByPlatform) previous.set(platformKey(platform), image);
  const out = new Map<string, PlatformDelta>();
  for (const image of currentImages) {
    const before = previous.get(platformKey(image.platform));
    out.set(image.platform, {
      platform: image.platform,
      hasPrevious: before !== undefined,
      ...(before?.digest === undefined ? {} : { previousDigest: before.digest }),
      ...layerDelta(image, before),
    });
  }
  return out;
}
