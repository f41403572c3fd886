/**
 * Referrers in a registry: artifacts (signatures, attestations, the deployment manifest) stored as OCI 1.1
 * manifests whose `subject` is an image, written so they can be found from that image and listed again.
 *
 * Discovery: the registry's referrers API when the client offers it (see ReferrersApi), else the
 * referrers tag schema: the image index tagged `sha256-<hex>` listing every referrer of that digest,
 * updated read-modify-write. That tag is what cosign (go-containerregistry) maintains on registries
 * without the API (distribution 2.8 and others).
 */
import type { RegistryClient } from './client.js';
import { digestOf } from './digest.js';
import { RegistryError } from './errors.js';
import { OCI_IMAGE_INDEX, OCI_IMAGE_MANIFEST } from './media-types.js';
import {
  fallbackTag,
  mergeFallbackIndex,
  parseReferrersIndex,
  referrerDescriptor,
  type OciDescriptor,
  type SubjectDescriptor,
} from './referrer-manifest.js';

/**
 * The referrers API, `GET /v2/<path>/referrers/<digest>` (OCI distribution 1.1). When a client has it, it
 * is used, otherwise discovery uses the fallback tag. Resolves the (Link-paginated, merged) OCI image
 * index, or undefined when the registry has no referrers API (HTTP 404 whose body is not an OCI image
 * index).
 */
export interface ReferrersApi {
  getReferrers(path: string, digest: string): Promise<Buffer | undefined>;
  /**
   * Whether the registry has the referrers API as far as the client has seen (undefined: not known yet).
   * When known, ReferrerWriter.attach() does not ask the registry again.
   */
  readonly referrersApi: boolean | undefined;
}

/** What referrers need of a registry client; RegistryClient has all of it. */
export type ReferrersRegistry = Pick<
  RegistryClient,
  'registry' | 'getManifest' | 'putManifest' | 'getBlob' | 'uploadBlob'
> &
  Partial<ReferrersApi>;

export interface AttachResult {
  /** The referrer manifest as listed: media type, digest, size, artifactType, annotations. */
  referrer: OciDescriptor;
  /** How the referrer is discoverable. */
  via: 'referrers-api' | 'fallback-tag';
  /** The fallback tag written (or found already listing the referrer) when `via` is `fallback-tag`. */
  fallbackTag?: string;
  /** Whether the fallback index had to be written (false: it already listed the referrer). */
  fallbackUpdated?: boolean;
}

/**
 * Writes referrers through one registry client. Each `sha256-<hex>` fallback index is updated
 * read-modify-write, and attaches to one subject through this writer are serialised. The fallback index
 * this writer last wrote (or read) for a subject is kept, and the next attach to that subject builds on
 * it without reading it again; like the read-modify-write itself, this assumes no other writer changes
 * that tag meanwhile (listReferrers() reads it back from the registry). One writer per publish.
 */
export class ReferrerWriter {
  /**
   * The fallback index body each `<registry>/<path>:<tag>` had when this writer last wrote or read it (undefined:
   * there was none). An entry is removed while its PUT is under way, so a failed write leaves nothing behind.
   */
  readonly #fallbackIndexes = new Map<string, Buffer | undefined>();
  /** Per fallback tag, the attach under way (the next one waits for it to settle). */
  readonly #pending = new Map<string, Promise<unknown>>();

  /**
   * `firstReads`: where a fallback index this writer has not seen yet is read (default: `client`). A promotion
   * passes the view its read of the release went through (../registry/read-once.ts): a fallback index read then
   * is not read again, as if this writer had read it then.
   */
  constructor(
    readonly client: ReferrersRegistry,
    readonly firstReads: Pick<ReferrersRegistry, 'getManifest'> = client,
  ) {}

  /**
   * Pushes a referrer manifest (its blobs already uploaded) by digest and makes it findable from its
   * subject: nothing more when the registry's referrers API lists referrers itself, else the subject's
   * `sha256-<hex>` fallback index gets the referrer.
   */
  async attach(repositoryPath: string, subject: SubjectDescriptor, manifest: Buffer): Promise<AttachResult> {
    const client = this.client;
    await client.putManifest(repositoryPath, digestOf(manifest), manifest, OCI_IMAGE_MANIFEST);
    const referrer = referrerDescriptor(manifest);

    if (client.getReferrers) {
      const api =
        client.referrersApi ?? (await client.getReferrers(repositoryPath, subject.digest)) !== undefined;
      if (api) return { referrer, via: 'referrers-api' };
    }
    const tag = fallbackTag(subject.digest);
    const key = `${client.registry}/${repositoryPath}:${tag}`;
    const fallbackUpdated = await this.#serialised(key, async () => {
      let current = this.#fallbackIndexes.get(key);
      if (!this.#fallbackIndexes.has(key)) {
        const existing = await getIfExists(this.firstReads, repositoryPath, tag);
        if (existing && existing.mediaType !== OCI_IMAGE_INDEX) {
          throw new Error(
            `${client.registry}/${repositoryPath}:${tag} is a ${existing.mediaType}, not the OCI image index of the ` +
              `referrers of ${subject.digest}; refusing to overwrite it`,
          );
        }
        current = existing?.body;
      }
      const merged = mergeFallbackIndex(current, referrer);
      if (merged.changed) {
        this.#fallbackIndexes.delete(key);
        await client.putManifest(repositoryPath, tag, merged.body, OCI_IMAGE_INDEX);
      }
      this.#fallbackIndexes.set(key, merged.body);
      return merged.changed;
    });
    return { referrer, via: 'fallback-tag', fallbackTag: tag, fallbackUpdated };
  }

  /**
   * Reads `subject`'s fallback index now (unless the writer knows it already, or the registry lists referrers
   * itself), so the next attach to it does not wait for that read.
   */
  async load(repositoryPath: string, subject: SubjectDescriptor): Promise<void> {
    const client = this.client;
    if (client.getReferrers && client.referrersApi !== false) return;
    const tag = fallbackTag(subject.digest);
    const key = `${client.registry}/${repositoryPath}:${tag}`;
    await this.#serialised(key, async () => {
      if (this.#fallbackIndexes.has(key)) return;
      const existing = await getIfExists(this.firstReads, repositoryPath, tag);
      if (existing && existing.mediaType !== OCI_IMAGE_INDEX) return; // attach refuses it, saying why
      this.#fallbackIndexes.set(key, existing?.body);
    });
  }

  /** Runs `task` after every earlier task of this writer with the same key has settled. */
  async #serialised<T>(key: string, task: () => Promise<T>): Promise<T> {
    const previous = this.#pending.get(key) ?? Promise.resolve();
    const run = previous.then(task, task);
    const settled = run.then(
      () => undefined,
      () => undefined,
    );
    this.#pending.set(key, settled);
    try {
      return await run;
    } finally {
      if (this.#pending.get(key) === settled) this.#pending.delete(key);
    }
  }
}

/**
 * The referrers of a digest: the referrers API's answer when the client offers the API and the registry
 * has it, else the entries of the `sha256-<hex>` fallback index (empty when the tag does not exist).
 */
export async function listReferrers(
  client: ReferrersRegistry,
  path: string,
  digest: string,
): Promise<OciDescriptor[]> {
  if (client.getReferrers) {
    const answer = await client.getReferrers(path, digest);
    if (answer !== undefined) return parseReferrersIndex(answer);
  }
  const index = await getIfExists(client, path, fallbackTag(digest));
  if (!index) return [];
  try {
    return parseReferrersIndex(index.body);
  } catch (error) {
    throw new Error(`${client.registry}/${path}:${fallbackTag(digest)}: ${(error as Error).message}`, {
      cause: error,
    });
  }
}

async function getIfExists(client: Pick<ReferrersRegistry, 'getManifest'>, path: string, ref: string) {
  try {
    return await client.getManifest(path, ref);
  } catch (error) {
    if (error instanceof RegistryError && error.status === 404) return undefined;
    throw error;
  }
}
