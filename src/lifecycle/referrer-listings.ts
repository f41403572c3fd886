/**
 * The referrers of a release's digests, listed once for a whole read of it: openRelease, verifyOpenedRelease and what
 * a promotion carries over each need the same listings, a moment apart, and the read writes nothing meanwhile.
 */
import type { OciDescriptor } from '../registry/referrer-manifest.js';
import { listReferrers, type ReferrersRegistry } from '../registry/referrers.js';

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
