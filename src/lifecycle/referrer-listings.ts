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
const READ_AHEAD = 64;

/**
 * Reads ahead, into `reads` (a readOnce view the verifications then read through), every referrer of a listing that
 * may hold a Sigstore bundle, and its bundle: what the read and what follows it verify, fetched while they still
 * wait for something else. Only reads, and nothing is taken from them unverified; a read that failed is made again
 * by whoever needs it, and says why there. Settles once every read ahead has.
 */
export async function readReferrersAhead(
  reads: ReadOnceRegistry,
  path: string,
  listing: Promise<OciDescriptor[]>,
): Promise<void> {
  const descriptors = await listing.catch(() => [] as OciDescriptor[]);
  const bundles = (manifest: Buffer) =>
    parseReferrerManifest(manifest)
      .layers.filter((layer) => isBundleV03MediaType(layer.mediaType) && layer.size <= MAX_BUNDLE_BYTES)
      .map((layer) => reads.getBlob(path, layer.digest));
  await Promise.allSettled(
    descriptors
      .filter(mayHoldBundle)
      .slice(0, READ_AHEAD)
      .map((d) => reads.getManifest(path, d.digest).then((m) => Promise.all(bundles(m.body)))),
  );
}
