/**
 * OCI 1.1 referrers, as bytes: the manifest of an artifact that refers to an image (empty `{}` config,
 * its layers, `subject` = the image), the descriptor it is listed under, the referrers index (the
 * registry's referrers API answer, or the image index tagged `sha256-<hex>` on registries without that
 * API) and how a referrer is added to that fallback index.
 *
 * Pure functions only: no I/O. Byte layouts follow go-containerregistry's v1.Manifest and v1.Descriptor
 * (what cosign 3 and crane write), checked against the manifests cosign pushed to real registries.
 */
import { isRecord } from '../validation/json.js';
import { digestOf } from './digest.js';
import { OCI_EMPTY_JSON, OCI_IMAGE_INDEX, OCI_IMAGE_MANIFEST } from './media-types.js';
import { parseDigest } from './reference.js';

/** The OCI annotation with the creation time of an artifact. */
export const ANNOTATION_CREATED = 'org.opencontainers.image.created';

/** The empty JSON object `{}`: the config blob of a referrer manifest. */
export const EMPTY_JSON = Buffer.from('{}');
export const EMPTY_JSON_DIGEST = 'sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a';

/** An OCI content descriptor as found in manifests and indexes. */
export interface OciDescriptor {
  mediaType: string;
  digest: string;
  size: number;
  artifactType?: string;
  annotations?: Record<string, string>;
}

/** The subject of a referrer: the image manifest or index it refers to. */
export interface SubjectDescriptor {
  mediaType: string;
  digest: string;
  size: number;
}

export interface ReferrerManifestInput {
  /** The artifact's type: the manifest's `artifactType` and the empty config's. */
  artifactType: string;
  /** The artifact's blobs, already uploaded. */
  layers: OciDescriptor[];
  annotations: Record<string, string>;
  subject: SubjectDescriptor;
}

/**
 * The manifest of an artifact that refers to `subject`, byte-for-byte in go-containerregistry's shape:
 * v1.Manifest field order (schemaVersion, mediaType, config, layers, annotations, subject), descriptor
 * fields as mediaType, size, digest[, annotations][, artifactType], annotation keys sorted (Go map
 * marshalling), the empty config carrying the artifact type, and the top-level artifactType last.
 * No whitespace.
 */
export function referrerManifest(input: ReferrerManifestInput): Buffer {
  const manifest = {
    schemaVersion: 2,
    mediaType: OCI_IMAGE_MANIFEST,
    config: descriptorJson({
      mediaType: OCI_EMPTY_JSON,
      size: EMPTY_JSON.length,
      digest: EMPTY_JSON_DIGEST,
      artifactType: input.artifactType,
    }),
    layers: input.layers.map(descriptorJson),
    annotations: sortedRecord(input.annotations),
    subject: descriptorJson({
      mediaType: input.subject.mediaType,
      size: input.subject.size,
      digest: input.subject.digest,
    }),
    artifactType: input.artifactType,
  };
  return Buffer.from(JSON.stringify(manifest));
}

/** What a referrer manifest says about itself, for listing it in a referrers index. */
export interface ParsedReferrerManifest {
  /** The manifest's artifactType, else its config media type (OCI referrers rule). */
  artifactType: string;
  annotations: Record<string, string>;
  layers: OciDescriptor[];
  subject?: SubjectDescriptor;
}

/** Reads the parts of an OCI image manifest that matter for referrers; throws when it is not a manifest. */
export function parseReferrerManifest(body: Buffer | string): ParsedReferrerManifest {
  const value = parseJsonObject(body, 'referrer manifest');
  if (value.mediaType !== undefined && value.mediaType !== OCI_IMAGE_MANIFEST) {
    throw new Error(`the referrer is a ${String(value.mediaType)}, not an OCI image manifest`);
  }
  const config = isRecord(value.config) ? value.config : undefined;
  const artifactType =
    typeof value.artifactType === 'string' && value.artifactType
      ? value.artifactType
      : typeof config?.mediaType === 'string'
        ? config.mediaType
        : '';
  const layers = Array.isArray(value.layers)
    ? value.layers.map((layer, i) => toDescriptor(layer, `layer ${i}`))
    : [];
  const subject = value.subject === undefined ? undefined : toDescriptor(value.subject, 'subject');
  return {
    artifactType,
    annotations: stringRecord(value.annotations),
    layers,
    ...(subject
      ? { subject: { mediaType: subject.mediaType, digest: subject.digest, size: subject.size } }
      : {}),
  };
}

/**
 * The descriptor under which a referrer manifest is listed (referrers API answer or fallback index):
 * its media type, digest and size, plus artifactType and annotations taken from the manifest as the OCI
 * distribution spec asks. (cosign/go-containerregistry list their own referrers with the config media
 * type as artifactType and no annotations; readers here accept both.)
 */
export function referrerDescriptor(manifest: Buffer): OciDescriptor {
  const parsed = parseReferrerManifest(manifest);
  return {
    mediaType: OCI_IMAGE_MANIFEST,
    digest: digestOf(manifest),
    size: manifest.length,
    ...(parsed.artifactType ? { artifactType: parsed.artifactType } : {}),
    ...(Object.keys(parsed.annotations).length > 0 ? { annotations: parsed.annotations } : {}),
  };
}

/**
 * The referrers tag schema (OCI distribution spec 1.1): `<alg>-<hex>`, the algorithm truncated to 32 and
 * the hex to 64 characters, e.g. `sha256-8fe6…a664`.
 */
export function fallbackTag(digest: string): string {
  const { algorithm, hex } = parseDigest(digest);
  return `${algorithm.slice(0, 32)}-${hex.slice(0, 64)}`;
}

/** The result of mergeFallbackIndex(). */
export interface MergedIndex {
  body: Buffer;
  /** False when the descriptor was already listed: nothing needs to be written. */
  changed: boolean;
}

/**
 * Adds a referrer to the fallback tag's image index (or starts a new one). Entries with the same digest
 * are not repeated: an existing entry is kept unless its artifactType/annotations differ, in which case
 * it is replaced in place. Everything else in the existing index (other entries, annotations, unknown
 * fields, their order) is kept.
 */
export function mergeFallbackIndex(
  existing: Buffer | string | undefined,
  descriptor: OciDescriptor,
): MergedIndex {
  const entry = descriptorJson(descriptor);
  if (existing === undefined) {
    const index = { schemaVersion: 2, mediaType: OCI_IMAGE_INDEX, manifests: [entry] };
    return { body: Buffer.from(JSON.stringify(index)), changed: true };
  }
  const index = parseJsonObject(existing, 'referrers fallback index');
  if (index.mediaType !== undefined && index.mediaType !== OCI_IMAGE_INDEX) {
    throw new Error(`the referrers fallback tag holds a ${String(index.mediaType)}, not an OCI image index`);
  }
  const manifests = index.manifests === undefined || index.manifests === null ? [] : index.manifests;
  if (!Array.isArray(manifests)) throw new Error('the referrers fallback index has no manifests array');
  const position = manifests.findIndex((m: unknown) => isRecord(m) && m.digest === descriptor.digest);
  if (position !== -1) {
    if (JSON.stringify(manifests[position]) === JSON.stringify(entry)) {
      return { body: Buffer.from(existing), changed: false };
    }
    const replaced = [...manifests];
    replaced[position] = entry;
    return { body: Buffer.from(JSON.stringify({ ...index, manifests: replaced })), changed: true };
  }
  const merged = {
    ...index,
    schemaVersion: index.schemaVersion ?? 2,
    mediaType: index.mediaType ?? OCI_IMAGE_INDEX,
    manifests: [...manifests, entry],
  };
  return { body: Buffer.from(JSON.stringify(merged)), changed: true };
}

/** Reads the descriptors of a referrers index (referrers API answer or fallback tag index). */
export function parseReferrersIndex(body: Buffer | string): OciDescriptor[] {
  const index = parseJsonObject(body, 'referrers index');
  if (index.mediaType !== undefined && index.mediaType !== OCI_IMAGE_INDEX) {
    throw new Error(`the referrers index is a ${String(index.mediaType)}, not an OCI image index`);
  }
  if (index.manifests === undefined || index.manifests === null) return [];
  if (!Array.isArray(index.manifests)) throw new Error('the referrers index has no manifests array');
  return index.manifests.map((entry, i) => toDescriptor(entry, `referrer ${i}`));
}

/** RFC 3339 in UTC without fractional seconds (Go's time.RFC3339 of a UTC time), e.g. `2025-10-31T12:23:04Z`. */
export function formatCreated(created: Date | string): string {
  const date = typeof created === 'string' ? new Date(created) : created;
  if (Number.isNaN(date.getTime())) throw new Error(`invalid creation time ${String(created)}`);
  return date.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/** go-containerregistry's v1.Descriptor field order: mediaType, size, digest, annotations, artifactType. */
function descriptorJson(descriptor: OciDescriptor): Record<string, unknown> {
  return {
    mediaType: descriptor.mediaType,
    size: descriptor.size,
    digest: descriptor.digest,
    ...(descriptor.annotations && Object.keys(descriptor.annotations).length > 0
      ? { annotations: sortedRecord(descriptor.annotations) }
      : {}),
    ...(descriptor.artifactType ? { artifactType: descriptor.artifactType } : {}),
  };
}

function toDescriptor(value: unknown, what: string): OciDescriptor {
  if (!isRecord(value)) throw new Error(`${what} is not a descriptor object`);
  const { mediaType, digest, size } = value;
  if (typeof mediaType !== 'string' || typeof digest !== 'string' || typeof size !== 'number') {
    throw new Error(`${what} lacks mediaType, digest or size`);
  }
  if (!Number.isSafeInteger(size) || size < 0) throw new Error(`${what} has an invalid size ${size}`);
  parseDigest(digest);
  const annotations = stringRecord(value.annotations);
  return {
    mediaType,
    digest,
    size,
    ...(typeof value.artifactType === 'string' && value.artifactType
      ? { artifactType: value.artifactType }
      : {}),
    ...(Object.keys(annotations).length > 0 ? { annotations } : {}),
  };
}

function parseJsonObject(body: Buffer | string, what: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(body.toString());
  } catch (error) {
    throw new Error(`the ${what} is not valid JSON (${(error as Error).message})`, { cause: error });
  }
  if (!isRecord(value)) throw new Error(`the ${what} is not a JSON object`);
  return value;
}

function stringRecord(value: unknown): Record<string, string> {
  if (!isRecord(value)) return {};
  const result: Record<string, string> = {};
  for (const [key, entry] of Object.entries(value)) if (typeof entry === 'string') result[key] = entry;
  return result;
}

function sortedRecord(record: Record<string, string>): Record<string, string> {
  const sorted: Record<string, string> = {};
  for (const key of Object.keys(record).sort()) sorted[key] = record[key] as string;
  return sorted;
}
