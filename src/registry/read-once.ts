/**
 * A view of a registry client for one read of something that is not written meanwhile (a release being promoted or
 * re-scanned): each manifest and blob is fetched once, whoever asks first (the read, its verification, or a read
 * started ahead of them), and shared by the later asks. Writes and everything else go to the client itself.
 */
import type { FetchedManifest, RegistryClient } from './client.js';

/** What the view offers (a RegistryClient has all of it): what reading a release back needs. */
export type ReadOnceRegistry = Pick<
  RegistryClient,
  | 'registry'
  | 'getManifest'
  | 'findManifest'
  | 'headManifest'
  | 'getBlob'
  | 'blobExists'
  | 'getJsonBlob'
  | 'putManifest'
  | 'uploadBlob'
> &
  Partial<Pick<RegistryClient, 'getReferrers' | 'referrersApi'>>;

/**
 * `client` with getManifest and getBlob memoised by repository and reference (a tag is read once too: nothing
 * writes during the read). A read that failed is dropped, so the next ask makes it again.
 */
export function readOnce(client: ReadOnceRegistry): ReadOnceRegistry {
  const manifests = new Map<string, Promise<FetchedManifest>>();
  const blobs = new Map<string, Promise<Buffer>>();
  const once = <T>(memo: Map<string, Promise<T>>, key: string, read: () => Promise<T>): Promise<T> => {
    let pending = memo.get(key);
    if (!pending) {
      pending = read();
      memo.set(key, pending);
      pending.catch(() => memo.delete(key));
    }
    return pending;
  };
  const view: ReadOnceRegistry = {
    registry: client.registry,
    getManifest: (path, ref) => once(manifests, `${path}:${ref}`, () => client.getManifest(path, ref)),
    getBlob: (path, digest) => once(blobs, `${path}@${digest}`, () => client.getBlob(path, digest)),
    findManifest: (...args) => client.findManifest(...args),
    headManifest: (...args) => client.headManifest(...args),
    blobExists: (...args) => client.blobExists(...args),
    getJsonBlob: (...args) => client.getJsonBlob(...args),
    // Not written through during a read; should it be, the reference is read anew after.
    putManifest: (path, ref, ...rest) => {
      manifests.delete(`${path}:${ref}`);
      return client.putManifest(path, ref, ...rest);
    },
    uploadBlob: (...args) => client.uploadBlob(...args),
    get referrersApi() {
      return client.referrersApi;
    },
  };
  const getReferrers = client.getReferrers?.bind(client);
  if (getReferrers) view.getReferrers = (...args) => getReferrers(...args);
  return view;
}
