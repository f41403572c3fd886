/**
 * The referrers of a release's digests, listed once for a whole read of it: openRelease, verifyOpenedRelease and what
 * a promotion carries over each need the same listings, a moment apart, and the read writes nothing meanwhile; and
 * the bundles they list, read ahead.
 */
import type { ReadOnceRegistry } from '../registry/read-once.js';
import { parseReferrerManifest, type OciDescriptor } from '../registry/referrer-manifest.js';
import { listReferrers, type ReferrersRegistry } from '../registry/referrers.js';
import { MAX_BUNDLE_BYTES, mayHoldBundle } from '../sign/bundle-referrers.js';
import { isBundleV03MediaType } from '../sign/cosign-format.js';

/** Each digest's referrers (fallback index or referrers API), listed on first ask. */
export type ReferrerListings = (digest: string) => Promise<OciDescriptor[]>;

/** The listings of one read of `path`; a listing that failed is asked again next time. */
export function referrerListings(registry: ReferrersRegistry, path: string): ReferrerListings {
  const listed = new Map<string, Promise<OciDescriptor[]>>();
  return (digest) => {
    let listing = listed.get(digest);
    if (!listing) {
      listing = listReferrers(registry, path, digest);
      listed.set(digest, listing);
      listing.catch(() => listed.delete(digest));
    }
    return listing;
  };
}

/** Referrers of one digest read ahead at most (a verification reads any others itself). */
const READ_AHEAD_PER_DIGEST = 64;
/** Referrer manifests read ahead at once (as many as a verification reads at once). */
const READ_AHEAD_AT_ONCE = 16;
/** Bundle bytes read ahead at most, in all. */
const READ_AHEAD_BYTES = 128 * 1024 * 1024;

/**
 * Reads ahead, into `reads` (a readOnce view the verifications then read through), the referrers of some listings
 * that may hold a Sigstore bundle, and each one's bundle: what the read and what follows it verify, fetched while
 * they still wait for something else. At most READ_AHEAD_PER_DIGEST referrers of each listing, READ_AHEAD_AT_ONCE at
 * a time, and READ_AHEAD_BYTES of bundles in all; a manifest that is not one bundle layer is left to its verification.
 * Only reads, and nothing is taken from them unverified; a read that failed is made again by whoever needs it, and
 * says why there. Settles once every read ahead has.
 */
export async function readReferrersAhead(
  reads: ReadOnceRegistry,
  path: string,
  listings: ReadonlyArray<Promise<OciDescriptor[]>>,
): Promise<void> {
  const listed = await Promise.all(listings.map((l) => l.catch(() => [] as OciDescriptor[])));
  const queue = listed.flatMap((descriptors) =>
    descriptors.filter(mayHoldBundle).slice(0, READ_AHEAD_PER_DIGEST),
  );
  let bytes = 0;
  const readOne = async (descriptor: OciDescriptor) => {
    const manifest = await reads.getManifest(path, descriptor.digest);
    const layers = parseReferrerManifest(manifest.body).layers.filter((l) =>
      isBundleV03MediaType(l.mediaType),
    );
    const layer = layers[0];
    if (
      layers.length !== 1 ||
      !layer ||
      layer.size > MAX_BUNDLE_BYTES ||
      bytes + layer.size > READ_AHEAD_BYTES
    )
      return;
    bytes += layer.size;
    await reads.getBlob(path, layer.digest);
  };
  for (let i = 0; i < queue.length; i += READ_AHEAD_AT_ONCE) {
    await Promise.allSettled(queue.slice(i, i + READ_AHEAD_AT_ONCE).map(readOne));
  }
}
