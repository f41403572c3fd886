/**
 * Verification of one Sigstore bundle about an image digest, with @sigstore/verify: the signature, the
 * certificate chain (or the given public key), the transparency log entry and timestamps against a
 * trusted root, then what cosign checks on top: the DSSE payload is an in-toto statement whose subject is
 * the image digest, and the signer is the expected identity.
 */
import { createPublicKey, type KeyObject } from 'node:crypto';

import { assertBundleLatest, bundleFromJSON, type Bundle } from '@sigstore/bundle';
import { crypto as sigstoreCrypto, dsse, X509Certificate } from '@sigstore/core';
import { TrustedRoot } from '@sigstore/protobuf-specs';
import {
  PolicyError,
  toSignedEntity,
  toTrustMaterial,
  VerificationError,
  Verifier,
  type TrustMaterial,
  type VerificationPolicy,
} from '@sigstore/verify';

import { isBundleV03MediaType } from './cosign-format.js';
import {
  IN_TOTO_PAYLOAD_TYPE,
  parseStatement,
  statementNamesDigest,
  type InTotoStatement,
} from './statements.js';
import { certificateIdentity, publicKeyHint } from './signer.js';

export type { TrustMaterial } from '@sigstore/verify';

/** Who must have signed. */
export type ExpectedSigner =
  | {
      kind: 'certificate';
      /** The certificate's subject alternative name (workflow URI or email), exactly or as a RegExp. */
      identity: string | RegExp;
      /** The OIDC issuer, e.g. https://token.actions.githubusercontent.com. */
      issuer: string;
    }
  | {
      kind: 'key';
      /** PEM (SPKI) or a KeyObject. */
      publicKey: string | KeyObject;
    };

/** How many independent proofs verification requires (see @sigstore/verify VerifierOptions). */
export interface VerificationThresholds {
  /** Transparency log entries. Default 1. */
  tlogThreshold?: number;
  /** Certificate transparency SCTs (certificate signers only). Default 1. */
  ctlogThreshold?: number;
  /** Trusted timestamps (RFC 3161 or the log's integrated time). Default 1. */
  timestampThreshold?: number;
}

export interface BundleCheck extends VerificationThresholds {
  /** The image digest the statement must name as its subject. */
  subjectDigest: string;
  expected: ExpectedSigner;
}

export interface VerifiedBundle {
  statement: InTotoStatement;
  predicateType: string;
  /** Certificate signers: the subject alternative name and issuer. */
  identity?: string;
  issuer?: string;
  /** Key signers: the bundle's public key hint. */
  publicKeyHint?: string;
}

export type BundleFailureCode =
  | 'INVALID_BUNDLE'
  | 'UNSUPPORTED_BUNDLE'
  | 'SIGNATURE_MISMATCH'
  | 'WRONG_KEY'
  | 'UNTRUSTED_SIGNER'
  | 'VERIFICATION_FAILED'
  | 'WRONG_SUBJECT'
  | 'INVALID_STATEMENT';

/** A bundle that does not verify; `code` says which check refused it, `message` says why in words. */
export class BundleVerificationError extends Error {
  readonly code: BundleFailureCode;

  constructor(code: BundleFailureCode, message: string, cause?: unknown) {
    super(message, cause === undefined ? undefined : { cause });
    this.name = 'BundleVerificationError';
    this.code = code;
  }
}

/** Trust material from a trusted root in its JSON form (`trusted_root.json`, as TUF and tests give it). */
export function trustMaterialFromJSON(trustedRoot: unknown): TrustMaterial {
  let root: TrustedRoot;
  try {
    root = TrustedRoot.fromJSON(trustedRoot);
  } catch (error) {
    throw new Error(`the trusted root is not valid: ${(error as Error).message}`, { cause: error });
  }
  return toTrustMaterial(root);
}

/**
 * Verifies a serialised bundle about `check.subjectDigest`. Throws BundleVerificationError with a message
 * that says what failed; returns the statement and the signer otherwise.
 */
export function verifyBundle(
  bundleJson: Buffer | string,
  trustMaterial: TrustMaterial,
  check: BundleCheck,
): VerifiedBundle {
  const bundle = parseBundle(bundleJson);
  if (bundle.content.$case !== 'dsseEnvelope') {
    throw new BundleVerificationError(
      'UNSUPPORTED_BUNDLE',
      'the bundle holds a message signature, not a DSSE envelope (cosign image signatures are DSSE in-toto statements)',
    );
  }
  const envelope = bundle.content.dsseEnvelope;
  // The signer, and a first check that the signature is over this payload with its key: a clearer answer for
  // altered bundles than the timestamp or log checks that would otherwise fail first.
  const signer = expectedSigner(bundle.verificationMaterial.content, check.expected);
  checkDsseSignature(envelope, signer);
  // The full Sigstore verification: chain to the trusted CA (or the key), SCTs, log inclusion and body,
  // timestamps, then the identity policy.
  verifyWithSigstore(bundle, trustMaterial, check, signer);
  const statement = statementAbout(envelope, check.subjectDigest);
  return {
    statement,
    predicateType: statement.predicateType,
    ...signer.identity,
    ...(signer.hint ? { publicKeyHint: signer.hint } : {}),
  };
}

type VerificationMaterialContent = Bundle['verificationMaterial']['content'];
type DsseEnvelope = Extract<Bundle['content'], { $case: 'dsseEnvelope' }>['dsseEnvelope'];

/** Who signed a bundle, as far as its verification material says, once it is known to be the expected kind. */
interface BundleSigner {
  key: KeyObject;
  /** The signature was made with a key (`publicKey` material), not by a certificate. */
  byKey: boolean;
  /** Key signers: the expected key's hint. */
  hint?: string;
  /** Certificate signers: the certificate's identity and issuer. */
  identity: { identity?: string; issuer?: string };
}

/**
 * The bundle's signer: the expected key (its hint must match the bundle's), or the certificate's key and identity
 * (someone else's signature is not a broken one: that is said before any cryptography).
 */
function expectedSigner(material: VerificationMaterialContent, expected: ExpectedSigner): BundleSigner {
  if (material.$case === 'publicKey') {
    if (expected.kind !== 'key') {
      throw new BundleVerificationError(
        'UNTRUSTED_SIGNER',
        `the bundle was signed with a key (hint ${material.publicKey.hint || 'none'}), not by a certificate for ${String(expected.identity)}`,
      );
    }
    const key = toKeyObject(expected.publicKey);
    const hint = publicKeyHint(key);
    if (material.publicKey.hint && material.publicKey.hint !== hint) {
      throw new BundleVerificationError(
        'WRONG_KEY',
        `the bundle was signed with another key (hint ${material.publicKey.hint}, the expected key's is ${hint})`,
      );
    }
    return { key, byKey: true, hint, identity: {} };
  }
  if (expected.kind !== 'certificate') {
    throw new BundleVerificationError(
      'UNTRUSTED_SIGNER',
      'the bundle was signed by a certificate (keyless), not with the expected public key',
    );
  }
  const der =
    material.$case === 'certificate'
      ? material.certificate.rawBytes
      : material.x509CertificateChain.certificates[0]?.rawBytes;
  if (!der) throw new BundleVerificationError('INVALID_BUNDLE', 'the bundle has an empty certificate chain');
  let certificate: X509Certificate;
  try {
    certificate = X509Certificate.parse(Buffer.from(der));
  } catch (error) {
    throw new BundleVerificationError(
      'INVALID_BUNDLE',
      `the bundle's certificate cannot be parsed: ${(error as Error).message}`,
      error,
    );
  }
  const identity = certificateIdentity(Buffer.from(der));
  if (!identityMatches(expected, identity)) {
    throw new BundleVerificationError(
      'UNTRUSTED_SIGNER',
      `the bundle was signed by ${describeIdentity(identity)}, expected ${String(expected.identity)} from ${expected.issuer}`,
    );
  }
  return { key: sigstoreCrypto.createPublicKey(certificate.publicKey), byKey: false, identity };
}

/** The envelope holds one signature, and it is over its payload with the signer's key. */
function checkDsseSignature(envelope: DsseEnvelope, signer: BundleSigner): void {
  const signature = envelope.signatures[0];
  if (envelope.signatures.length !== 1 || !signature) {
    throw new BundleVerificationError(
      'INVALID_BUNDLE',
      `the DSSE envelope has ${envelope.signatures.length} signatures, expected 1`,
    );
  }
  const pae = dsse.preAuthEncoding(envelope.payloadType, envelope.payload);
  if (!sigstoreCrypto.verify(pae, signer.key, signature.sig)) {
    throw new BundleVerificationError(
      'SIGNATURE_MISMATCH',
      `the DSSE signature does not verify with the ${signer.byKey ? 'expected public key' : "signing certificate's key"}: the bundle was altered or is corrupt`,
    );
  }
}

/** @sigstore/verify's whole verification against the trusted root (or the key), with the identity policy. */
function verifyWithSigstore(
  bundle: Bundle,
  trustMaterial: TrustMaterial,
  check: BundleCheck,
  signer: BundleSigner,
): void {
  const expected = check.expected;
  const trust: TrustMaterial =
    expected.kind === 'key'
      ? { ...trustMaterial, publicKey: () => ({ publicKey: signer.key, validFor: () => true }) }
      : trustMaterial;
  const verifier = new Verifier(trust, {
    tlogThreshold: check.tlogThreshold ?? 1,
    ctlogThreshold: check.ctlogThreshold ?? 1,
    timestampThreshold: check.timestampThreshold ?? 1,
  });
  const policy: VerificationPolicy | undefined =
    expected.kind === 'certificate'
      ? {
          // @sigstore/verify matches the SAN as a regular expression: an exact identity (a ref may hold
          // `+`, `(`, `?`…) is given as an anchored, escaped one.
          subjectAlternativeName:
            typeof expected.identity === 'string' ? exactPattern(expected.identity) : expected.identity,
          extensions: { issuer: expected.issuer },
        }
      : undefined;
  try {
    verifier.verify(toSignedEntity(bundle), policy);
  } catch (error) {
    if (error instanceof PolicyError) {
      const wanted =
        expected.kind === 'certificate' ? `${String(expected.identity)} from ${expected.issuer}` : '';
      throw new BundleVerificationError(
        'UNTRUSTED_SIGNER',
        `the bundle was signed by ${describeIdentity(signer.identity)}, expected ${wanted} (${error.message})`,
        error,
      );
    }
    if (error instanceof VerificationError) {
      throw new BundleVerificationError('VERIFICATION_FAILED', `${error.code}: ${error.message}`, error);
    }
    throw new BundleVerificationError('VERIFICATION_FAILED', (error as Error).message, error);
  }
}

/** What the signature is about: an in-toto statement whose subject names `subjectDigest`. */
function statementAbout(envelope: DsseEnvelope, subjectDigest: string): InTotoStatement {
  if (envelope.payloadType !== IN_TOTO_PAYLOAD_TYPE) {
    throw new BundleVerificationError(
      'INVALID_STATEMENT',
      `the DSSE payload type is ${JSON.stringify(envelope.payloadType)}, not ${IN_TOTO_PAYLOAD_TYPE}`,
    );
  }
  let statement: InTotoStatement;
  try {
    statement = parseStatement(envelope.payload);
  } catch (error) {
    throw new BundleVerificationError('INVALID_STATEMENT', (error as Error).message, error);
  }
  if (!statementNamesDigest(statement, subjectDigest)) {
    const named = statement.subject
      .map((s) =>
        Object.entries(s.digest)
          .map(([a, h]) => `${a}:${h}`)
          .join(','),
      )
      .join(' ');
    throw new BundleVerificationError(
      'WRONG_SUBJECT',
      `the statement is about ${named || 'nothing'}, not ${subjectDigest} (a signature copied from another image?)`,
    );
  }
  return statement;
}

/** Whether a certificate's identity and issuer are the expected ones (exact strings, or the RegExp). */
export function identityMatches(
  expected: Extract<ExpectedSigner, { kind: 'certificate' }>,
  found: { identity?: string; issuer?: string },
): boolean {
  if (found.issuer !== expected.issuer || found.identity === undefined) return false;
  if (typeof expected.identity === 'string') return found.identity === expected.identity;
  expected.identity.lastIndex = 0;
  return expected.identity.test(found.identity);
}

function describeIdentity(found: { identity?: string; issuer?: string }): string {
  return `${found.identity ?? '(no identity)'} from ${found.issuer ?? '(no issuer)'}`;
}

function parseBundle(bundleJson: Buffer | string): Bundle {
  let json: unknown;
  try {
    json = JSON.parse(bundleJson.toString());
  } catch (error) {
    throw new BundleVerificationError(
      'INVALID_BUNDLE',
      `the bundle is not valid JSON (${(error as Error).message})`,
      error,
    );
  }
  const mediaType = (json as { mediaType?: unknown } | null)?.mediaType;
  if (typeof mediaType !== 'string' || !isBundleV03MediaType(mediaType)) {
    throw new BundleVerificationError(
      'UNSUPPORTED_BUNDLE',
      `the bundle media type is ${JSON.stringify(mediaType)}, expected a Sigstore bundle v0.3`,
    );
  }
  let bundle: Bundle;
  try {
    bundle = bundleFromJSON(json);
    assertBundleLatest(bundle);
  } catch (error) {
    const fields = (error as { fields?: unknown }).fields;
    const detail = Array.isArray(fields) && fields.length > 0 ? ` (${fields.join(', ')})` : '';
    throw new BundleVerificationError(
      'INVALID_BUNDLE',
      `the bundle is malformed: ${(error as Error).message}${detail}`,
      error,
    );
  }
  return bundle;
}

/** The expected public key as a KeyObject (PEM SPKI or a KeyObject already). */
export function toKeyObject(key: string | KeyObject): KeyObject {
  if (typeof key !== 'string') return key;
  try {
    return createPublicKey({ key, format: 'pem' });
  } catch (error) {
    throw new Error(`the expected public key is not a PEM public key: ${(error as Error).message}`, {
      cause: error,
    });
  }
}

/** A RegExp matching exactly `text`. */
export function exactPattern(text: string): RegExp {
  return new RegExp(`^${text.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}$`);
}

/**
 * One turn of the event loop: I/O that completed meanwhile (a response, a file read, a process started or ended) is
 * handled before the CPU-bound work that follows. Awaiting a result that is already there (a cached read) is a
 * microtask and never lets I/O in: a run of such checks would hold everything else back until it ends.
 */
export function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
