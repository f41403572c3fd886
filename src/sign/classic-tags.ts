/**
 * cosign's classic `sha256-<hex>.sig` / `.att` tags (layout in ./classic-format.ts), read back and verified; they are
 * written by ./classic-writer.ts.
 */
import { bundleFromJSON, type Bundle } from '@sigstore/bundle';
import { PolicyError, toSignedEntity, Verifier, type TrustMaterial } from '@sigstore/verify';

import type { RegistryClient } from '../registry/client.js';
import { RegistryError } from '../registry/errors.js';
import {
  ANNOTATION_PREDICATE_TYPE,
  bundleFromClassicLayer,
  classicTag,
  DSSE_ENVELOPE_MEDIA_TYPE,
  parseClassicManifest,
  parseSimpleSigning,
  SIMPLE_SIGNING_MEDIA_TYPE,
  type ClassicDescriptor,
} from './classic-format.js';
import { MAX_BUNDLE_BYTES, type ReferrerFailure } from './bundle-referrers.js';
import { sameClassicLayer, type ClassicEquivalents } from './classic-equivalents.js';
import { COSIGN_SIGN_PREDICATE_TYPE } from './predicates.js';
import { certificateIdentity } from './signer.js';
import { IN_TOTO_PAYLOAD_TYPE, parseStatement, statementNamesDigest } from './statements.js';
import {
  exactPattern,
  identityMatches,
  toKeyObject,
  yieldToEventLoop,
  type ExpectedSigner,
} from './verify.js';

/** What the classic tags need of a registry client; RegistryClient has all of it. */
export type ClassicRegistry = Pick<
  RegistryClient,
  'registry' | 'getManifest' | 'putManifest' | 'uploadBlob' | 'getBlob' | 'blobExists'
>;

/** One classic layer that verified. */
export interface VerifiedClassic {
  tag: string;
  /** The layer's digest. */
  layer: string;
  /** Signatures: COSIGN_SIGN_PREDICATE_TYPE; attestations: the statement's predicate type. */
  predicateType: string;
  identity?: string;
  issuer?: string;
}

export interface VerifyClassicResult {
  verified: VerifiedClassic[];
  otherSigners: ReferrerFailure[];
  failures: ReferrerFailure[];
}

export interface VerifyClassicOptions {
  /** Verify only these layers (by digest), e.g. the ones this run appended; default every one. */
  onlyLayers?: ReadonlySet<string>;
  /** Read only these of the digest's tags (`sha256-<hex>.sig`, `.att`); default both. */
  onlyTags?: ReadonlySet<string>;
  /**
   * The layers the bundles verified about this digest make (classicEquivalents), by layer digest: a layer equal to
   * one of them is verified by that bundle's verification, without its blob. May still be on its way (the layers'
   * tags are read meanwhile); when it fails, every layer is read and verified.
   */
  equivalents?: ClassicEquivalents | Promise<ClassicEquivalents>;
}

/** Classic layers read and verified at once (as bundles are: see verifyAttached). */
const CLASSIC_AT_ONCE = 16;
/** More layers than this in one `.sig`/`.att` tag are refused rather than read (bundles: MAX_REFERRERS). */
const MAX_CLASSIC_LAYERS = 500;

/**
 * Reads the `.sig` and `.att` tags of `digest` and verifies every layer: the signature (certificate chain
 * to the trusted CA, or the expected key), the Rekor entry's signed timestamp and body, the signer, and what
 * is signed (a simple signing payload naming `digest` and `dockerReference`, or an in-toto statement about
 * `digest` whose predicate type is the annotated one). Layers by other signers are set aside, not failed.
 */
export async function verifyClassic(
  client: ClassicRegistry,
  path: string,
  digest: string,
  trust: TrustMaterial,
  expected: ExpectedSigner,
  dockerReference: string,
  options: VerifyClassicOptions = {},
): Promise<VerifyClassicResult> {
  const run: ClassicRun = {
    client,
    path,
    digest,
    trust,
    expected,
    dockerReference,
    onlyLayers: options.onlyLayers,
    // Their failure is the bundles' own (reported where they were verified): then every layer is verified here.
    equivalents: Promise.resolve(options.equivalents).catch(() => undefined),
  };
  // Both tags at once; then their layers, CLASSIC_AT_ONCE at a time (each a blob held in memory while verified).
  const listed = (
    await Promise.all(
      (['sig', 'att'] as const)
        .map((kind) => classicTag(digest, kind))
        .map((tag) => (options.onlyTags && !options.onlyTags.has(tag) ? [] : tagLayers(run, tag))),
    )
  ).flat();
  const outcomes: Array<Outcome | undefined> = [];
  for (let i = 0; i < listed.length; i += CLASSIC_AT_ONCE) {
    const batch = listed.slice(i, i + CLASSIC_AT_ONCE);
    outcomes.push(
      ...(await Promise.all(
        batch.map((entry) =>
          'outcome' in entry ? entry.outcome : layerOutcome(run, entry.tag, entry.layer),
        ),
      )),
    );
  }
  // The result keeps tag and layer order.
  const result: VerifyClassicResult = { verified: [], otherSigners: [], failures: [] };
  for (const outcome of outcomes) {
    if (!outcome) continue;
    if ('verified' in outcome) result.verified.push(outcome.verified);
    else if ('otherSigner' in outcome) result.otherSigners.push(outcome.otherSigner);
    else result.failures.push(outcome.failure);
  }
  return result;
}

/** What one verifyClassic works with. */
interface ClassicRun {
  client: ClassicRegistry;
  path: string;
  digest: string;
  trust: TrustMaterial;
  expected: ExpectedSigner;
  dockerReference: string;
  onlyLayers: ReadonlySet<string> | undefined;
  /** The bundles' equivalent layers; undefined when they failed. */
  equivalents: Promise<ClassicEquivalents | undefined>;
}

/** One layer's verdict. */
type Outcome =
  { verified: VerifiedClassic } | { otherSigner: ReferrerFailure } | { failure: ReferrerFailure };
/** A layer of a tag to verify, or a tag that failed as a whole. */
type Listed = { outcome: Outcome } | { tag: string; layer: ClassicDescriptor };

/** The layers of one `.sig` or `.att` tag (none when the tag does not exist). */
async function tagLayers(run: ClassicRun, tag: string): Promise<Listed[]> {
  const fetched = await getIfExists(run.client, run.path, tag);
  if (!fetched) return [];
  let layers: ClassicDescriptor[];
  try {
    layers = parseClassicManifest(fetched.body);
  } catch (error) {
    return [
      { outcome: { failure: { referrer: tag, code: 'INVALID_SIGNATURE_MANIFEST', message: String(error) } } },
    ];
  }
  if (layers.length > MAX_CLASSIC_LAYERS) {
    const message = `${layers.length} layers, more than the ${MAX_CLASSIC_LAYERS} looked at`;
    return [{ outcome: { failure: { referrer: tag, code: 'INVALID_SIGNATURE_MANIFEST', message } } }];
  }
  return layers.map((layer) => ({ tag, layer }));
}

/**
 * One layer verified: by the bundle it equals (its blob only looked up), or read and verified itself. A layer by
 * another signer is set aside; undefined for a layer not asked for.
 */
async function layerOutcome(
  run: ClassicRun,
  tag: string,
  layer: ClassicDescriptor,
): Promise<Outcome | undefined> {
  if (run.onlyLayers && !run.onlyLayers.has(layer.digest)) return undefined;
  const where = `${tag} layer ${layer.digest}`;
  const fail = (code: string, message: string): ReferrerFailure => ({
    referrer: where,
    ...(layer.annotations[ANNOTATION_PREDICATE_TYPE]
      ? { predicateType: layer.annotations[ANNOTATION_PREDICATE_TYPE] }
      : {}),
    code,
    message,
  });
  if (layer.size > MAX_BUNDLE_BYTES) {
    return { failure: fail('INVALID_SIGNATURE_MANIFEST', `the layer is ${layer.size} bytes`) };
  }
  // Only an attestation layer can be one a bundle makes: a signature layer does not wait for the bundles. Its blob
  // must still be there (a HEAD, not a read): a layer whose blob is gone is read, and fails, below.
  const known =
    layer.mediaType === DSSE_ENVELOPE_MEDIA_TYPE ? (await run.equivalents)?.get(layer.digest) : undefined;
  if (
    known &&
    sameClassicLayer(known.layer, layer) &&
    (await run.client.blobExists(run.path, layer.digest))
  ) {
    const { predicateType, identity, issuer } = known;
    return {
      verified: {
        tag,
        layer: layer.digest,
        predicateType,
        ...(identity ? { identity } : {}),
        ...(issuer ? { issuer } : {}),
      },
    };
  }
  try {
    const body = await run.client.getBlob(run.path, layer.digest);
    await yieldToEventLoop(); // the blob may have been read ahead: what else completed goes first
    const checked = verifyLayer(layer, body, run.trust, run.expected, {
      digest: run.digest,
      dockerReference: run.dockerReference,
    });
    return { verified: { tag, layer: layer.digest, ...checked } };
  } catch (error) {
    const code =
      error instanceof ClassicVerificationError
        ? error.code
        : error instanceof RegistryError
          ? (error.code ?? 'REGISTRY_ERROR')
          : 'VERIFICATION_FAILED';
    const failure = fail(code, (error as Error).message);
    return code === 'UNTRUSTED_SIGNER' || code === 'WRONG_KEY' ? { otherSigner: failure } : { failure };
  }
}

class ClassicVerificationError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'ClassicVerificationError';
  }
}

function verifyLayer(
  layer: ClassicDescriptor,
  body: Buffer,
  trust: TrustMaterial,
  expected: ExpectedSigner,
  subject: { digest: string; dockerReference: string },
): Omit<VerifiedClassic, 'tag' | 'layer'> {
  if (layer.mediaType !== SIMPLE_SIGNING_MEDIA_TYPE && layer.mediaType !== DSSE_ENVELOPE_MEDIA_TYPE) {
    throw new ClassicVerificationError('UNSUPPORTED_LAYER', `unknown layer media type ${layer.mediaType}`);
  }
  let bundle: Bundle;
  try {
    bundle = bundleFromJSON(bundleFromClassicLayer(layer, body));
  } catch (error) {
    throw new ClassicVerificationError('INVALID_SIGNATURE', (error as Error).message);
  }
  const signer = checkSigner(bundle, expected);
  if (expected.kind === 'key') checkLoggedKey(bundle, expected.publicKey);
  const effectiveTrust: TrustMaterial =
    expected.kind === 'key'
      ? { ...trust, publicKey: () => ({ publicKey: toKeyObject(expected.publicKey), validFor: () => true }) }
      : trust;
  const verifier = new Verifier(effectiveTrust, {
    tlogThreshold: 1,
    ctlogThreshold: 1,
    timestampThreshold: 1,
  });
  try {
    const entity =
      bundle.content.$case === 'messageSignature' ? toSignedEntity(bundle, body) : toSignedEntity(bundle);
    verifier.verify(
      entity,
      expected.kind === 'certificate'
        ? {
            subjectAlternativeName:
              typeof expected.identity === 'string' ? exactPattern(expected.identity) : expected.identity,
            extensions: { issuer: expected.issuer },
          }
        : undefined,
    );
  } catch (error) {
    const code = error instanceof PolicyError ? 'UNTRUSTED_SIGNER' : 'VERIFICATION_FAILED';
    throw new ClassicVerificationError(code, (error as Error).message);
  }
  if (bundle.content.$case === 'messageSignature') {
    const payload = parseSimpleSigning(body);
    if (payload.digest !== subject.digest) {
      throw new ClassicVerificationError('WRONG_SUBJECT', `the payload signs ${payload.digest}`);
    }
    if (payload.dockerReference !== subject.dockerReference) {
      throw new ClassicVerificationError(
        'WRONG_SUBJECT',
        `the payload names ${payload.dockerReference || 'no repository'}, not ${subject.dockerReference}`,
      );
    }
    return { predicateType: COSIGN_SIGN_PREDICATE_TYPE, ...signer };
  }
  const envelope = bundle.content.dsseEnvelope;
  if (envelope.payloadType !== IN_TOTO_PAYLOAD_TYPE) {
    throw new ClassicVerificationError('INVALID_STATEMENT', `payload type ${envelope.payloadType}`);
  }
  const statement = parseStatement(envelope.payload);
  if (!statementNamesDigest(statement, subject.digest)) {
    throw new ClassicVerificationError('WRONG_SUBJECT', `the statement is not about ${subject.digest}`);
  }
  const annotated = layer.annotations[ANNOTATION_PREDICATE_TYPE];
  if (annotated !== undefined && annotated !== statement.predicateType) {
    throw new ClassicVerificationError(
      'PREDICATE_TYPE_MISMATCH',
      `annotated ${annotated}, signed ${statement.predicateType}`,
    );
  }
  return { predicateType: statement.predicateType, ...signer };
}

/** Someone else's signature is not a broken one: said before any cryptography. */
function checkSigner(bundle: Bundle, expected: ExpectedSigner): { identity?: string; issuer?: string } {
  const material = bundle.verificationMaterial.content;
  if (material.$case === 'publicKey') {
    if (expected.kind !== 'key') {
      throw new ClassicVerificationError('UNTRUSTED_SIGNER', 'signed with a key, not a certificate');
    }
    return {};
  }
  if (expected.kind !== 'certificate') {
    throw new ClassicVerificationError('UNTRUSTED_SIGNER', 'signed by a certificate, not the expected key');
  }
  const der =
    material.$case === 'x509CertificateChain'
      ? material.x509CertificateChain.certificates[0]?.rawBytes
      : material.certificate.rawBytes;
  if (!der) throw new ClassicVerificationError('INVALID_SIGNATURE', 'no certificate');
  const found = certificateIdentity(Buffer.from(der));
  if (!identityMatches(expected, found)) {
    throw new ClassicVerificationError(
      'UNTRUSTED_SIGNER',
      `signed by ${found.identity ?? '(no identity)'} from ${found.issuer ?? '(no issuer)'}`,
    );
  }
  return found;
}

/** Key signing: the key Rekor logged must be the expected one (a layer names no key otherwise). */
function checkLoggedKey(bundle: Bundle, publicKey: Parameters<typeof toKeyObject>[0]): void {
  const entry = bundle.verificationMaterial.tlogEntries[0];
  if (!entry) return;
  const body = JSON.parse(Buffer.from(entry.canonicalizedBody).toString('utf8')) as {
    spec?: {
      signature?: { publicKey?: { content?: string } };
      signatures?: Array<{ verifier?: string }>;
    };
  };
  const logged = body.spec?.signature?.publicKey?.content ?? body.spec?.signatures?.[0]?.verifier;
  if (!logged) return;
  const der = (key: Parameters<typeof toKeyObject>[0]) =>
    toKeyObject(key).export({ format: 'der', type: 'spki' }).toString('base64');
  let loggedDer: string;
  try {
    loggedDer = der(Buffer.from(logged, 'base64').toString('utf8'));
  } catch {
    return;
  }
  if (loggedDer !== der(publicKey)) {
    throw new ClassicVerificationError('WRONG_KEY', 'signed with another key than the expected one');
  }
}

/** The manifest at `ref`, or undefined when the registry has none (404). */
export async function getIfExists(client: Pick<ClassicRegistry, 'getManifest'>, path: string, ref: string) {
  try {
    return await client.getManifest(path, ref);
  } catch (error) {
    if (error instanceof RegistryError && error.status === 404) return undefined;
    throw error;
  }
}
