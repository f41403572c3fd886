/**
 * Writing cosign's classic `sha256-<hex>.sig` / `.att` tags (layout in ./classic-format.ts): a layer is appended to
 * what the tag already holds (as cosign does: signatures of other runs and signers are kept).
 */
import { digestOf } from '../registry/digest.js';
import { OCI_IMAGE_MANIFEST } from '../registry/media-types.js';
import {
  classicManifest,
  classicTag,
  parseClassicManifest,
  type ClassicDescriptor,
  type ClassicKind,
  type ClassicLayer,
} from './classic-format.js';
import { getIfExists, type ClassicRegistry } from './classic-tags.js';

/** What writing the tags needs of a registry client. */
export type ClassicWriterRegistry = Pick<
  ClassicRegistry,
  'registry' | 'getManifest' | 'putManifest' | 'uploadBlob'
>;

/** Where a classic layer went: the tag and the manifest it holds now. */
export interface ClassicWriteResult {
  tag: string;
  manifest: string;
  /** The digest of the layer appended (what verification of only this signature looks for). */
  layer: string;
}

/**
 * Appends layers to the `.sig`/`.att` tags of one repository. Each tag is read once (a missing tag is an
 * empty one); later appends of the same writer start from what it wrote.
 */
export class ClassicTagWriter {
  readonly #layers = new Map<string, ClassicDescriptor[]>();

  /** `firstReads`: where a tag this writer has not seen yet is read (default: `client`; see ReferrerWriter). */
  constructor(
    readonly client: ClassicWriterRegistry,
    readonly repositoryPath: string,
    readonly firstReads: Pick<ClassicWriterRegistry, 'getManifest'> = client,
  ) {}

  /** Adds `layer` to the `kind` tag of `subjectDigest`: uploads its blob and the config, PUTs the tag. */
  async append(subjectDigest: string, kind: ClassicKind, layer: ClassicLayer): Promise<ClassicWriteResult> {
    const { client, repositoryPath: path } = this;
    const tag = classicTag(subjectDigest, kind);
    const existing = this.#layers.get(tag) ?? (await this.#read(tag));
    const descriptor = descriptorOf(layer);
    // A simple signing payload is the same for every signature of a digest: known when the tag lists it.
    const stored = existing.some((l) => l.digest === descriptor.digest);
    const layers = [...existing, descriptor];
    const { manifest, config } = classicManifest(layers);
    // The layer and the config blob at once; the manifest names both, so it waits for both.
    await Promise.all([
      stored ? undefined : client.uploadBlob(path, layer.body, descriptor.digest, { knownMissing: true }),
      client.uploadBlob(path, config, digestOf(config), { knownMissing: true }),
    ]);
    const digest = await client.putManifest(path, tag, manifest, OCI_IMAGE_MANIFEST);
    this.#layers.set(tag, layers);
    return { tag, manifest: digest, layer: descriptor.digest };
  }

  /**
   * What append(subjectDigest, kind, layer) needs, ahead of it: the tag is read (unless this writer knows it), and
   * the layer and the config the tag will have go up, so the append only PUTs the tag. Writes nothing a reader sees.
   */
  async prepare(subjectDigest: string, kind: ClassicKind, layer: ClassicLayer): Promise<void> {
    const { client, repositoryPath: path } = this;
    const tag = classicTag(subjectDigest, kind);
    const digest = digestOf(layer.body);
    const [existing] = await Promise.all([
      this.#layers.get(tag) ?? this.#read(tag),
      client.uploadBlob(path, layer.body, digest, { knownMissing: true }),
    ]);
    if (!this.#layers.has(tag)) this.#layers.set(tag, existing);
    const { config } = classicManifest([...existing, descriptorOf(layer)]);
    await client.uploadBlob(path, config, digestOf(config), { knownMissing: true });
  }

  async #read(tag: string): Promise<ClassicDescriptor[]> {
    const fetched = await getIfExists(this.firstReads, this.repositoryPath, tag);
    if (!fetched) return [];
    try {
      return parseClassicManifest(fetched.body);
    } catch (error) {
      throw new Error(
        `${this.client.registry}/${this.repositoryPath}:${tag} is not a cosign signature manifest: ${(error as Error).message}`,
        { cause: error },
      );
    }
  }
}

function descriptorOf(layer: ClassicLayer): ClassicDescriptor {
  return {
    mediaType: layer.mediaType,
    digest: digestOf(layer.body),
    size: layer.body.length,
    annotations: layer.annotations,
  };
}
