/**
 * Sigstore bundles next to an image, stored the way cosign 3 does (OCI 1.1 referrer manifests whose
 * `subject` is the image, see ./cosign-format.ts and ../registry/referrers.ts), and found and verified
 * again.
 */
import { digestOf } from '../registry/digest.js';
import { RegistryError } from '../registry/errors.js';
import { OCI_EMPTY_JSON, OCI_IMAGE_MANIFEST } from '../registry/media-types.js';
import {
  EMPTY_JSON,
  EMPTY_JSON_DIGEST,
  parseReferrerManifest,
  type OciDescriptor,
  type SubjectDescriptor,
} from '../registry/referrer-manifest.js';
import {
  listReferrers,
  type AttachResult,
  type ReferrerWriter,
  type ReferrersRegistry,
} from '../registry/referrers.js';
import {
  ANNOTATION_BUNDLE_PREDICATE_TYPE,
  bundleReferrerManifest,
  isBundleV03MediaType,
} from './cosign-format.js';
import { publicKeyHint } from './signer.js';
import type { InTotoStatement } from './statements.js';
import {
  BundleVerificationError,
  verifyBundle,
  yieldToEventLoop,
  type ExpectedSigner,
  type TrustMaterial,
  type VerificationThresholds,
} from './verify.js';

/** Bundles larger than this are not downloaded (an SBOM attestation of a large image is a few MiB). */
export const MAX_BUNDLE_BYTES = 64 * 1024 * 1024;
/** At most this many referrers of one digest are looked at. */
export const MAX_REFERRERS = 500;

/** Referrers read and verified at the same time. */
const VERIFY_AT_ONCE = 16;

/**
 * Attaches a bundle to `subject` in `repositoryPath` through `writer`: uploads the empty config `{}` and
 * the bundle blobs, then the writer PUTs the referrer manifest by digest and makes it discoverable
 * (referrers API, or the subject's `sha256-<hex>` fallback index, see ReferrerWriter).
 *
 * The bundle is taken to be freshly signed (a new signature, certificate and log entry), so its blob is
 * uploaded without asking the registry first whether it has it.
 */
export async function attachBundle(
  writer: ReferrerWriter,
  repositoryPath: string,
  subject: SubjectDescriptor,
  bundle: Buffer,
  predicateType: string,
  created: Date | string = new Date(),
): Promise<AttachResult> {
  await writer.client.uploadBlob(repositoryPath, EMPTY_JSON, EMPTY_JSON_DIGEST);
  await writer.client.uploadBlob(repositoryPath, bundle, digestOf(bundle), { knownMissing: true });
  const manifest = bundleReferrerManifest({ bundle, subject, predicateType, created });
  return writer.attach(repositoryPath, subject, manifest);
}

/** One attached bundle that verified. */
export interface VerifiedReferrer {
  /** The referrer manifest's digest. */
  referrer: string;
  /** The bundle layer's digest. */
  bundleDigest: string;
  /** The verified bundle (its JSON), e.g. to recognise the classic layer the same signing made (classicEquivalents). */
  bundle: Buffer;
  predicateType: string;
  /** The signed in-toto statement (its predicate: the SBOM, the scan, the deployment manifest, ...). */
  statement: InTotoStatement;
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
  /** Verify only these referrers (by manifest digest), e.g. the ones this run attached; default every one. */
  onlyReferrers?: ReadonlySet<string>;
  /** Leave these referrers out (by manifest digest): verified later by the caller, e.g. what a promotion carries. */
  exceptReferrers?: ReadonlySet<string>;
  /**
   * The caller verifies `digest`'s other referrers elsewhere and checks the whole (assertVerifiedAttached): none
   * verified here, or a required type missing, is not an error. A bundle that fails still is.
   */
  partial?: boolean;
  /**
   * Read and verify up to 16 referrers at once (a release read back for promotion or rescan); default one after
   * the other, which keeps a publish's requests in a fixed order.
   */
  concurrent?: boolean;
  /** `digest`'s referrers as listed a moment ago (by the same read); default: listed now. */
  listing?: Promise<OciDescriptor[]>;
}

/** Failure codes that only mean "someone else signed this" (see verifyBundle). */
const OTHER_SIGNER_CODES: ReadonlySet<string> = new Set(['UNTRUSTED_SIGNER', 'WRONG_KEY']);

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
  const descriptors = await (options.listing ?? listReferrers(client, path, digest));
  if (descriptors.length > MAX_REFERRERS) {
    throw new Error(
      `${subject} has ${descriptors.length} referrers, more than the ${MAX_REFERRERS} looked at`,
    );
  }
  const result: VerifyAttachedResult = { verified: [], otherSigners: [] };
  const failures: ReferrerFailure[] = [];
  const candidates = descriptors.filter((descriptor) => {
    if (!mayHoldBundle(descriptor)) return false;
    if (options.exceptReferrers?.has(descriptor.digest)) return false;
    return !options.onlyReferrers || options.onlyReferrers.has(descriptor.digest);
  });
  // Referrers are read and verified `atOnce` at a time (two registry round trips each), outcomes in listing order.
  const atOnce = options.concurrent ? VERIFY_AT_ONCE : 1;
  const outcomes: Array<Awaited<ReturnType<typeof verifyReferrer>>> = [];
  for (let i = 0; i < candidates.length; i += atOnce) {
    const batch = candidates.slice(i, i + atOnce);
    outcomes.push(
      ...(await Promise.all(
        batch.map((descriptor) =>
          verifyReferrer(client, path, digest, descriptor, trustMaterial, expected, options),
        ),
      )),
    );
  }
  for (const outcome of outcomes) {
    if (outcome === undefined) continue;
    if (!('code' in outcome)) result.verified.push(outcome);
    else if (OTHER_SIGNER_CODES.has(outcome.code)) result.otherSigners.push(outcome);
    else failures.push(outcome);
  }
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
  if (!options.partial) assertVerifiedAttached(subject, result, expected, options.requiredPredicateTypes);
  return result;
}

/** Whether a listed referrer may hold a Sigstore bundle (what verifyAttached reads). */
export function mayHoldBundle(descriptor: Pick<OciDescriptor, 'mediaType' | 'artifactType'>): boolean {
  // cosign (go-containerregistry) lists its referrers with the config media type as artifactType.
  const artifactType = descriptor.artifactType;
  return (
    descriptor.mediaType === OCI_IMAGE_MANIFEST &&
    (artifactType === undefined || artifactType === OCI_EMPTY_JSON || isBundleV03MediaType(artifactType))
  );
}

/**
 * Throws AttachedVerificationError when no bundle of `result` (all of a digest's referrers verified, at once or
 * in parts) is by `expected`, or when a required predicate type is missing.
 */
export function assertVerifiedAttached(
  subject: string,
  result: VerifyAttachedResult,
  expected: ExpectedSigner,
  requiredPredicateTypes: readonly string[] = [],
): void {
  const signer = describeExpected(expected);
  if (result.verified.length === 0) {
    const others = result.otherSigners.map((f) => f.message).join('; ');
    throw new AttachedVerificationError(
      `no Sigstore bundle attached to ${subject} is signed by ${signer}` +
        (others ? ` (${result.otherSigners.length} by other signers: ${others})` : ''),
      [],
      result,
    );
  }
  const missing = requiredPredicateTypes.filter(
    (type) => !result.verified.some((entry) => entry.predicateType === type),
  );
  if (missing.length > 0) {
    throw new AttachedVerificationError(
      `${subject} has no bundle by ${signer} with predicate type ${missing.join(', ')}`,
      [],
      result,
    );
  }
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
  await yieldToEventLoop(); // the bundle may have been read ahead: what else completed goes first
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
      bundle,
      predicateType: result.predicateType,
      statement: result.statement,
      ...(result.identity ? { identity: result.identity } : {}),
      ...(result.issuer ? { issuer: result.issuer } : {}),
      ...(result.publicKeyHint ? { publicKeyHint: result.publicKeyHint } : {}),
    };
  } catch (error) {
    if (error instanceof BundleVerificationError) return fail(error.code, error.message, annotated);
    return fail('VERIFICATION_FAILED', (error as Error).message, annotated);
  }
}
