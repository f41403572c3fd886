/**
 * Stores Sigstore bundles next to an image the way cosign 3 does (OCI 1.1 referrer manifests whose
 * `subject` is the image) and finds and verifies them again.
 *
 * Discovery: the registry's referrers API when the client offers it (see ReferrersApi), else the
 * referrers tag schema: the image index tagged `sha256-<hex>` listing every referrer of that digest,
 * updated read-modify-write. That tag is what cosign (go-containerregistry) maintains on registries
 * without the API (distribution 2.8 and others).
 */
import type { RegistryClient } from '../registry/client.js';
import { RegistryError } from '../registry/errors.js';
import { OCI_EMPTY_JSON, OCI_IMAGE_INDEX, OCI_IMAGE_MANIFEST } from '../registry/media-types.js';
import {
  ANNOTATION_BUNDLE_PREDICATE_TYPE,
  EMPTY_JSON,
  EMPTY_JSON_DIGEST,
  fallbackTag,
  isBundleV03MediaType,
  mergeFallbackIndex,
  parseReferrerManifest,
  parseReferrersIndex,
  referrerDescriptor,
  referrerManifest,
  sha256Digest,
  type OciDescriptor,
  type SubjectDescriptor,
} from './cosign-format.js';
import { publicKeyHint } from './signer.js';
import {
  BundleVerificationError,
  verifyBundle,
  type ExpectedSigner,
  type TrustMaterial,
  type VerificationThresholds,
} from './verify.js';

/**
 * The referrers API, `GET /v2/<path>/referrers/<digest>` (OCI distribution 1.1). Proposed as a
 * RegistryClient method; when a client has it, it is used, otherwise discovery uses the fallback tag.
 * Resolves the (Link-paginated, merged) OCI image index, or undefined when the registry has no referrers
 * API (HTTP 404 whose body is not an OCI image index).
 */
export interface ReferrersApi {
  getReferrers(path: string, digest: string): Promise<Buffer | undefined>;
  /**
   * Whether the registry has the referrers API as far as the client has seen (undefined: not known yet).
   * When known, attachBundle() does not ask the registry again.
   */
  readonly referrersApi: boolean | undefined;
}

/** What this module needs of a registry client; RegistryClient has all of it. */
export type ReferrersRegistry = Pick<
  RegistryClient,
  'registry' | 'getManifest' | 'putManifest' | 'getBlob' | 'uploadBlob'
> &
  Partial<ReferrersApi>;

/** Bundles larger than this are not downloaded (an SBOM attestation of a large image is a few MiB). */
export const MAX_BUNDLE_BYTES = 64 * 1024 * 1024;
/** At most this many referrers of one digest are looked at. */
export const MAX_REFERRERS = 500;

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
 * Attaches a bundle to `subject` in `repositoryPath`: uploads the empty config `{}` and the bundle blobs,
 * PUTs the referrer manifest by digest, then makes it discoverable: nothing more when the registry's
 * referrers API lists referrers itself, else the `sha256-<hex>` fallback index gets the referrer
 * (read-modify-write; concurrent attaches to one subject from this process are serialised).
 *
 * The bundle is taken to be freshly signed (a new signature, certificate and log entry), so its blob is
 * uploaded without asking the registry first whether it has it. The fallback index this client last
 * wrote (or read) for a subject is kept, and the next attach to that subject through the same client
 * builds on it without reading it again; like the read-modify-write itself, this assumes no other writer
 * changes that tag meanwhile (verifyAttached() reads it back from the registry).
 */
export async function attachBundle(
  client: ReferrersRegistry,
  repositoryPath: string,
  subject: SubjectDescriptor,
  bundle: Buffer,
  predicateType: string,
  created: Date | string = new Date(),
): Promise<AttachResult> {
  await client.uploadBlob(repositoryPath, EMPTY_JSON, EMPTY_JSON_DIGEST);
  await client.uploadBlob(repositoryPath, bundle, sha256Digest(bundle), { knownMissing: true });
  const manifest = referrerManifest({ bundle, subject, predicateType, created });
  return attachReferrer(client, repositoryPath, subject, manifest);
}

/**
 * Pushes a referrer manifest (its blobs already uploaded) by digest and makes it findable from its
 * subject: through the referrers API where the registry has one, else by adding it to the subject's
 * `sha256-<hex>` fallback index (read-modify-write, serialised per tag in this process).
 */
export async function attachReferrer(
  client: ReferrersRegistry,
  repositoryPath: string,
  subject: SubjectDescriptor,
  manifest: Buffer,
): Promise<AttachResult> {
  const digest = sha256Digest(manifest);
  await client.putManifest(repositoryPath, digest, manifest, OCI_IMAGE_MANIFEST);
  const referrer = referrerDescriptor(manifest);

  if (client.getReferrers) {
    const api =
      client.referrersApi ?? (await client.getReferrers(repositoryPath, subject.digest)) !== undefined;
    if (api) return { referrer, via: 'referrers-api' };
  }
  const tag = fallbackTag(subject.digest);
  const key = `${client.registry}/${repositoryPath}:${tag}`;
  const fallbackUpdated = await serialised(key, async () => {
    const known = knownFallbackIndexes(client);
    let current = known.get(key);
    if (current === undefined) {
      const existing = await getIfExists(client, repositoryPath, tag);
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
      known.delete(key);
      await client.putManifest(repositoryPath, tag, merged.body, OCI_IMAGE_INDEX);
    }
    known.set(key, merged.body);
    return merged.changed;
  });
  return { referrer, via: 'fallback-tag', fallbackTag: tag, fallbackUpdated };
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

/** One attached bundle that verified. */
export interface VerifiedReferrer {
  /** The referrer manifest's digest. */
  referrer: string;
  /** The bundle layer's digest. */
  bundleDigest: string;
  predicateType: string;
  identity?: string;
  issuer?: string;
  publicKeyHint?: string;
}

/** One attached bundle that did not verify, or that another signer made. */
export interface ReferrerFailure {
  referrer: string;
  predicateType?: string;
  code: string;
  message: string;
}

/** What verifyAttached() found. */
export interface VerifyAttachedResult {
  /** Bundles by the expected signer that verified. */
  verified: VerifiedReferrer[];
  /** Sound-looking bundles by other signers (another identity or key): neither trusted nor an error. */
  otherSigners: ReferrerFailure[];
}

/**
 * An attached bundle by the expected signer failed verification, or no bundle by that signer is
 * attached; `failures` has each reason.
 */
export class AttachedVerificationError extends Error {
  readonly failures: ReferrerFailure[];
  readonly verified: VerifiedReferrer[];
  readonly otherSigners: ReferrerFailure[];

  constructor(message: string, failures: ReferrerFailure[], result: VerifyAttachedResult) {
    super(message);
    this.name = 'AttachedVerificationError';
    this.failures = failures;
    this.verified = result.verified;
    this.otherSigners = result.otherSigners;
  }
}

export interface VerifyAttachedOptions extends VerificationThresholds {
  /** Predicate types that must be among the verified bundles (e.g. the signature and the SBOM). */
  requiredPredicateTypes?: string[];
}

/** Failure codes that only mean "someone else signed this" (see verifyBundle). */
const OTHER_SIGNER_CODES = new Set(['UNTRUSTED_SIGNER', 'WRONG_KEY']);

/**
 * Fetches every Sigstore bundle attached to `digest` (fallback index or referrers API, each referrer
 * manifest, each bundle) and verifies each: Sigstore verification against `trustMaterial`, the signer
 * (`expected` certificate identity and issuer, or public key), and that the signed statement's subject is
 * `digest`. Referrers that are not Sigstore bundles are ignored; bundles that name another signer (another
 * certificate identity or issuer, another key) are set aside in `otherSigners`. Throws
 * AttachedVerificationError when any other bundle fails (altered, wrong subject, untrusted chain, …),
 * when no bundle by the expected signer verifies, or when a required predicate type is missing.
 */
export async function verifyAttached(
  client: ReferrersRegistry,
  path: string,
  digest: string,
  trustMaterial: TrustMaterial,
  expected: ExpectedSigner,
  options: VerifyAttachedOptions = {},
): Promise<VerifyAttachedResult> {
  const subject = `${client.registry}/${path}@${digest}`;
  const descriptors = await listReferrers(client, path, digest);
  if (descriptors.length > MAX_REFERRERS) {
    throw new Error(
      `${subject} has ${descriptors.length} referrers, more than the ${MAX_REFERRERS} looked at`,
    );
  }
  const result: VerifyAttachedResult = { verified: [], otherSigners: [] };
  const failures: ReferrerFailure[] = [];
  for (const descriptor of descriptors) {
    // cosign (go-containerregistry) lists its referrers with the config media type as artifactType.
    const maybeBundle =
      descriptor.artifactType === undefined ||
      descriptor.artifactType === OCI_EMPTY_JSON ||
      isBundleV03MediaType(descriptor.artifactType);
    if (!maybeBundle || descriptor.mediaType !== OCI_IMAGE_MANIFEST) continue;
    const outcome = await verifyReferrer(client, path, digest, descriptor, trustMaterial, expected, options);
    if (outcome === undefined) continue;
    if (!('code' in outcome)) result.verified.push(outcome);
    else if (OTHER_SIGNER_CODES.has(outcome.code)) result.otherSigners.push(outcome);
    else failures.push(outcome);
  }
  const signer = describeExpected(expected);
  if (failures.length > 0) {
    const reasons = failures
      .map(
        (f) =>
          `referrer ${f.referrer}${f.predicateType ? ` (${f.predicateType})` : ''}: ${f.code}: ${f.message}`,
      )
      .join('; ');
    throw new AttachedVerificationError(
      `${failures.length} of the Sigstore bundles attached to ${subject} failed verification: ${reasons}`,
      failures,
      result,
    );
  }
  if (result.verified.length === 0) {
    const others = result.otherSigners.map((f) => f.message).join('; ');
    throw new AttachedVerificationError(
      `no Sigstore bundle attached to ${subject} is signed by ${signer}` +
        (others ? ` (${result.otherSigners.length} by other signers: ${others})` : ''),
      failures,
      result,
    );
  }
  const missing = (options.requiredPredicateTypes ?? []).filter(
    (type) => !result.verified.some((entry) => entry.predicateType === type),
  );
  if (missing.length > 0) {
    throw new AttachedVerificationError(
      `${subject} has no bundle by ${signer} with predicate type ${missing.join(', ')}`,
      failures,
      result,
    );
  }
  return result;
}

function describeExpected(expected: ExpectedSigner): string {
  if (expected.kind === 'certificate') return `${String(expected.identity)} from ${expected.issuer}`;
  const key =
    typeof expected.publicKey === 'string'
      ? expected.publicKey
      : expected.publicKey.export({ format: 'pem', type: 'spki' }).toString();
  return `the public key with hint ${publicKeyHint(key)}`;
}

async function verifyReferrer(
  client: ReferrersRegistry,
  path: string,
  digest: string,
  descriptor: OciDescriptor,
  trustMaterial: TrustMaterial,
  expected: ExpectedSigner,
  thresholds: VerificationThresholds,
): Promise<VerifiedReferrer | ReferrerFailure | undefined> {
  const fail = (code: string, message: string, predicateType?: string): ReferrerFailure => ({
    referrer: descriptor.digest,
    ...(predicateType ? { predicateType } : {}),
    code,
    message,
  });
  let manifest;
  try {
    manifest = parseReferrerManifest((await client.getManifest(path, descriptor.digest)).body);
  } catch (error) {
    return fail('INVALID_REFERRER', (error as Error).message);
  }
  const bundleLayers = manifest.layers.filter((layer) => isBundleV03MediaType(layer.mediaType));
  if (!isBundleV03MediaType(manifest.artifactType) && bundleLayers.length === 0) return undefined;
  const annotated = manifest.annotations[ANNOTATION_BUNDLE_PREDICATE_TYPE];
  if (manifest.subject?.digest !== digest) {
    return fail(
      'WRONG_SUBJECT',
      `the referrer's subject is ${manifest.subject?.digest ?? 'missing'}, not ${digest}`,
      annotated,
    );
  }
  const layer = bundleLayers[0];
  if (bundleLayers.length !== 1 || !layer) {
    return fail(
      'INVALID_REFERRER',
      `the referrer has ${bundleLayers.length} bundle layers, expected 1`,
      annotated,
    );
  }
  if (layer.size > MAX_BUNDLE_BYTES) {
    return fail(
      'INVALID_REFERRER',
      `the bundle is ${layer.size} bytes, more than the ${MAX_BUNDLE_BYTES} allowed`,
      annotated,
    );
  }
  let bundle: Buffer;
  try {
    bundle = await client.getBlob(path, layer.digest);
  } catch (error) {
    return fail(
      error instanceof RegistryError ? (error.code ?? 'REGISTRY_ERROR') : 'REGISTRY_ERROR',
      (error as Error).message,
      annotated,
    );
  }
  try {
    const result = verifyBundle(bundle, trustMaterial, { subjectDigest: digest, expected, ...thresholds });
    if (annotated !== undefined && annotated !== result.predicateType) {
      return fail(
        'PREDICATE_TYPE_MISMATCH',
        `the manifest annotation says ${annotated} but the signed statement is a ${result.predicateType}`,
        annotated,
      );
    }
    return {
      referrer: descriptor.digest,
      bundleDigest: layer.digest,
      predicateType: result.predicateType,
      ...(result.identity ? { identity: result.identity } : {}),
      ...(result.issuer ? { issuer: result.issuer } : {}),
      ...(result.publicKeyHint ? { publicKeyHint: result.publicKeyHint } : {}),
    };
  } catch (error) {
    if (error instanceof BundleVerificationError) return fail(error.code, error.message, annotated);
    return fail('VERIFICATION_FAILED', (error as Error).message, annotated);
  }
}

async function getIfExists(client: ReferrersRegistry, path: string, ref: string) {
  try {
    return await client.getManifest(path, ref);
  } catch (error) {
    if (error instanceof RegistryError && error.status === 404) return undefined;
    throw error;
  }
}

/**
 * Per client, the fallback index body each `<registry>/<path>:<tag>` had when this client last wrote or
 * read it in attachBundle(). Dropped with the client; an entry is removed while its PUT is under way, so a
 * failed write leaves nothing behind.
 */
const fallbackIndexes = new WeakMap<object, Map<string, Buffer>>();

function knownFallbackIndexes(client: ReferrersRegistry): Map<string, Buffer> {
  let known = fallbackIndexes.get(client);
  if (!known) {
    known = new Map();
    fallbackIndexes.set(client, known);
  }
  return known;
}

const pending = new Map<string, Promise<unknown>>();

/** Runs `task` after every earlier task with the same key has settled (in this process). */
async function serialised<T>(key: string, task: () => Promise<T>): Promise<T> {
  const previous = pending.get(key) ?? Promise.resolve();
  const run = previous.then(task, task);
  const settled = run.then(
    () => undefined,
    () => undefined,
  );
  pending.set(key, settled);
  try {
    return await run;
  } finally {
    if (pending.get(key) === settled) pending.delete(key);
  }
}
