/**
 * The shapes cosign 3 writes and verifies by default for container image signatures and attestations:
 * a Sigstore bundle v0.3 whose DSSE envelope carries an in-toto Statement, stored in the registry as an
 * OCI 1.1 referrer manifest (artifactType = the bundle media type, empty config, one bundle layer,
 * `subject` = the signed image), listed either by the registry's referrers API or by the
 * `sha256-<hex>` fallback tag index.
 *
 * Pure functions only: no I/O. Byte layouts follow cosign v3.0.2 (pkg/oci/remote/write.go,
 * `WriteAttestationNewBundleFormat`/`WriteReferrer`, serialised by go-containerregistry's v1.Manifest),
 * checked against the manifests cosign pushed to real registries.
 */
import { createHash } from 'node:crypto';

import { OCI_EMPTY_JSON, OCI_IMAGE_INDEX, OCI_IMAGE_MANIFEST } from '../registry/media-types.js';
import { parseDigest } from '../registry/reference.js';

/** The Sigstore bundle media type cosign 3 writes (bundle layer media type and referrer artifactType). */
export const SIGSTORE_BUNDLE_V03_MEDIA_TYPE = 'application/vnd.dev.sigstore.bundle.v0.3+json';
/** The older spelling of the v0.3 bundle media type, still accepted by readers. */
export const SIGSTORE_BUNDLE_V03_LEGACY_MEDIA_TYPE = 'application/vnd.dev.sigstore.bundle+json;version=0.3';
/** DSSE payload type of in-toto statements. */
export const IN_TOTO_PAYLOAD_TYPE = 'application/vnd.in-toto+json';
export const IN_TOTO_STATEMENT_V1 = 'https://in-toto.io/Statement/v1';
/** The legacy statement type cosign attest still produces; accepted when reading. */
export const IN_TOTO_STATEMENT_V01 = 'https://in-toto.io/Statement/v0.1';

/** The predicate type of a plain image signature (`cosign sign`, new bundle format). */
export const COSIGN_SIGN_PREDICATE_TYPE = 'https://sigstore.dev/cosign/sign/v1';
/** `cosign attest --type spdx|spdxjson` (in-toto-golang PredicateSPDX). */
export const SPDX_PREDICATE_TYPE = 'https://spdx.dev/Document';
/** `cosign attest --type cyclonedx` (in-toto-golang PredicateCycloneDX). */
export const CYCLONEDX_PREDICATE_TYPE = 'https://cyclonedx.org/bom';
/** `cosign attest --type vuln` (cosign's vulnerability scan record, attestation.CosignVulnProvenanceV01). */
export const COSIGN_VULN_PREDICATE_TYPE = 'https://cosign.sigstore.dev/attestation/vuln/v1';

/** Annotation keys cosign puts on the referrer manifest. */
export const ANNOTATION_BUNDLE_CONTENT = 'dev.sigstore.bundle.content';
export const ANNOTATION_BUNDLE_PREDICATE_TYPE = 'dev.sigstore.bundle.predicateType';
export const ANNOTATION_CREATED = 'org.opencontainers.image.created';
/** The only `dev.sigstore.bundle.content` value cosign writes: the bundle holds a DSSE envelope. */
export const BUNDLE_CONTENT_DSSE = 'dsse-envelope';

/** The empty JSON object `{}`: the referrer manifest's config blob. */
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

/** The subject of a referrer: the signed image manifest or index. */
export interface SubjectDescriptor {
  mediaType: string;
  digest: string;
  size: number;
}

/** An in-toto statement as it travels in a DSSE payload. */
export interface InTotoStatement {
  _type: string;
  subject: { name?: string; digest: Record<string, string> }[];
  predicateType: string;
  predicate?: unknown;
}

/**
 * The DSSE payload of an image signature, byte-for-byte as cosign v3.0.2 writes it:
 * `{"_type":"https://in-toto.io/Statement/v1","subject":[{"digest":{"sha256":"<hex>"}}],"predicateType":"https://sigstore.dev/cosign/sign/v1"}`.
 */
export function signatureStatement(digest: string): Buffer {
  const { algorithm, hex } = parseDigest(digest);
  return Buffer.from(
    JSON.stringify({
      _type: IN_TOTO_STATEMENT_V1,
      subject: [{ digest: { [algorithm]: hex } }],
      predicateType: COSIGN_SIGN_PREDICATE_TYPE,
    }),
  );
}

export interface AttestationStatementOptions {
  /** `subject[0].name`, e.g. the image repository (`ghcr.io/acme/agent`); left out when not given. */
  subjectName?: string;
}

/**
 * The DSSE payload of an attestation: an in-toto Statement v1 about the image digest with the given
 * predicate (e.g. an SPDX document under SPDX_PREDICATE_TYPE).
 */
export function attestationStatement(
  digest: string,
  predicateType: string,
  predicate: unknown,
  options: AttestationStatementOptions = {},
): Buffer {
  const { algorithm, hex } = parseDigest(digest);
  if (!predicateType) throw new Error('an attestation needs a predicate type');
  if (predicate === undefined) throw new Error(`the ${predicateType} attestation has no predicate`);
  const subject = options.subjectName
    ? { name: options.subjectName, digest: { [algorithm]: hex } }
    : { digest: { [algorithm]: hex } };
  return Buffer.from(
    JSON.stringify({ _type: IN_TOTO_STATEMENT_V1, subject: [subject], predicateType, predicate }),
  );
}

/** Reads an in-toto statement from a DSSE payload; throws when it is not one. */
export function parseStatement(payload: Buffer | string): InTotoStatement {
  let value: unknown;
  try {
    value = JSON.parse(payload.toString());
  } catch (error) {
    throw new Error(`the DSSE payload is not JSON (${(error as Error).message})`, { cause: error });
  }
  if (!isRecord(value)) throw new Error('the DSSE payload is not a JSON object');
  const type = value._type;
  if (type !== IN_TOTO_STATEMENT_V1 && type !== IN_TOTO_STATEMENT_V01) {
    throw new Error(`the DSSE payload is not an in-toto statement (_type ${JSON.stringify(type)})`);
  }
  if (typeof value.predicateType !== 'string' || value.predicateType === '') {
    throw new Error('the in-toto statement has no predicateType');
  }
  const subjects = value.subject;
  if (!Array.isArray(subjects) || subjects.length === 0)
    throw new Error('the in-toto statement has no subject');
  const subject = subjects.map((entry: unknown, index) => {
    const digest = isRecord(entry) ? entry.digest : undefined;
    if (!isRecord(digest) || !Object.values(digest).every((v) => typeof v === 'string')) {
      throw new Error(`subject ${index} of the in-toto statement has no digest map`);
    }
    const name = isRecord(entry) && typeof entry.name === 'string' ? entry.name : undefined;
    return { ...(name === undefined ? {} : { name }), digest: digest as Record<string, string> };
  });
  return {
    _type: type,
    subject,
    predicateType: value.predicateType,
    ...('predicate' in value ? { predicate: value.predicate } : {}),
  };
}

/** Whether one of the statement's subjects names this digest (`sha256:<hex>`). */
export function statementNamesDigest(statement: InTotoStatement, digest: string): boolean {
  const { algorithm, hex } = parseDigest(digest);
  return statement.subject.some((subject) => subject.digest[algorithm]?.toLowerCase() === hex);
}

export interface ReferrerManifestInput {
  /** The serialised Sigstore bundle (the layer). */
  bundle: Buffer;
  subject: SubjectDescriptor;
  /** The statement's predicate type, for the `dev.sigstore.bundle.predicateType` annotation. */
  predicateType: string;
  /** `org.opencontainers.image.created`, written as RFC 3339 UTC to the second like cosign. */
  created: Date | string;
}

/**
 * The referrer manifest that carries a bundle, byte-for-byte in cosign's shape: go-containerregistry's
 * v1.Manifest field order (schemaVersion, mediaType, config, layers, annotations, subject), descriptor
 * fields as mediaType, size, digest[, artifactType], annotation keys sorted (Go map marshalling), and
 * cosign's extra top-level artifactType last. No whitespace.
 */
export function referrerManifest(input: ReferrerManifestInput): Buffer {
  const annotations = sortedRecord({
    [ANNOTATION_CREATED]: formatCreated(input.created),
    [ANNOTATION_BUNDLE_CONTENT]: BUNDLE_CONTENT_DSSE,
    [ANNOTATION_BUNDLE_PREDICATE_TYPE]: input.predicateType,
  });
  const manifest = {
    schemaVersion: 2,
    mediaType: OCI_IMAGE_MANIFEST,
    config: {
      mediaType: OCI_EMPTY_JSON,
      size: EMPTY_JSON.length,
      digest: EMPTY_JSON_DIGEST,
      artifactType: SIGSTORE_BUNDLE_V03_MEDIA_TYPE,
    },
    layers: [
      {
        mediaType: SIGSTORE_BUNDLE_V03_MEDIA_TYPE,
        size: input.bundle.length,
        digest: sha256Digest(input.bundle),
      },
    ],
    annotations,
    subject: { mediaType: input.subject.mediaType, size: input.subject.size, digest: input.subject.digest },
    artifactType: SIGSTORE_BUNDLE_V03_MEDIA_TYPE,
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
    digest: sha256Digest(manifest),
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

/** Whether a media type names a Sigstore bundle v0.3 (either spelling). */
export function isBundleV03MediaType(mediaType: string | undefined): boolean {
  return mediaType === SIGSTORE_BUNDLE_V03_MEDIA_TYPE || mediaType === SIGSTORE_BUNDLE_V03_LEGACY_MEDIA_TYPE;
}

/** RFC 3339 in UTC without fractional seconds (Go's time.RFC3339 of a UTC time), e.g. `2025-10-31T12:23:04Z`. */
export function formatCreated(created: Date | string): string {
  const date = typeof created === 'string' ? new Date(created) : created;
  if (Number.isNaN(date.getTime())) throw new Error(`invalid creation time ${String(created)}`);
  return date.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

export function sha256Digest(body: Uint8Array): string {
  return `sha256:${createHash('sha256').update(body).digest('hex')}`;
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

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
