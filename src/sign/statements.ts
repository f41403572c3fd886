/**
 * In-toto statements: what a DSSE envelope in a Sigstore bundle signs. A statement names its subjects by
 * digest and carries one predicate (see ./predicates.ts). Built byte-for-byte as cosign v3.0.2 writes
 * them, and read back (v1, or the v0.1 cosign attest still produces) when verifying.
 *
 * Pure functions only: no I/O.
 */
import { parseDigest } from '../registry/reference.js';
import { isRecord } from '../validation/json.js';
import { COSIGN_SIGN_PREDICATE_TYPE, DEPLOYMENT_PREDICATE_TYPE } from './predicates.js';

/** DSSE payload type of in-toto statements. */
export const IN_TOTO_PAYLOAD_TYPE = 'application/vnd.in-toto+json';
export const IN_TOTO_STATEMENT_V1 = 'https://in-toto.io/Statement/v1';
/** The legacy statement type cosign attest still produces; accepted when reading. */
export const IN_TOTO_STATEMENT_V01 = 'https://in-toto.io/Statement/v0.1';

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
  return Buffer.from(
    JSON.stringify({
      _type: IN_TOTO_STATEMENT_V1,
      subject: [{ digest: digestMap(digest) }],
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
  const map = digestMap(digest);
  if (!predicateType) throw new Error('an attestation needs a predicate type');
  if (predicate === undefined) throw new Error(`the ${predicateType} attestation has no predicate`);
  const subject = options.subjectName ? { name: options.subjectName, digest: map } : { digest: map };
  return Buffer.from(
    JSON.stringify({ _type: IN_TOTO_STATEMENT_V1, subject: [subject], predicateType, predicate }),
  );
}

export interface DeploymentManifestSubjects {
  /** The manifest file's name and digest (`cosign verify-blob-attestation` checks the file). */
  file: { name: string; digest: string };
  /** The image repository and its index digest (the bundle is attached to the index as a referrer). */
  index: { name: string; digest: string };
}

/**
 * The DSSE payload of the deployment manifest attestation: one statement that names both the manifest
 * file and the release index, with the manifest as its predicate.
 */
export function deploymentManifestStatement(subjects: DeploymentManifestSubjects, manifest: unknown): Buffer {
  return Buffer.from(
    JSON.stringify({
      _type: IN_TOTO_STATEMENT_V1,
      subject: [
        { name: subjects.file.name, digest: digestMap(subjects.file.digest) },
        { name: subjects.index.name, digest: digestMap(subjects.index.digest) },
      ],
      predicateType: DEPLOYMENT_PREDICATE_TYPE,
      predicate: manifest,
    }),
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

/** An in-toto digest map, `{ "sha256": "<hex>" }`. */
function digestMap(digest: string): Record<string, string> {
  const { algorithm, hex } = parseDigest(digest);
  return { [algorithm]: hex };
}
