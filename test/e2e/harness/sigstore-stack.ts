/**
 * A throw-away Sigstore for the end-to-end suite: @sigstore/mock's Fulcio (with a CT log), Rekor and
 * timestamp authority served over real HTTP on 127.0.0.1 (random ports), and the trusted root that
 * verifies what they issue.
 *
 * The mock modules are imported from their own files, not from the package root: the root also loads
 * nock, which patches node:http globally on import.
 *
 * Two gaps of the mocks are closed here:
 * - the mock Rekor logs a `dsse` entry as proposed (`proposedContent` with the envelope) where the real
 *   Rekor canonicalises it to `{envelopeHash, payloadHash, signatures[{signature, verifier}]}`, the body
 *   verifiers compare with the bundle; requests are canonicalised before the mock sees them;
 * - the mock TSA encodes milliseconds into its GeneralizedTime, which verifiers reject; it gets a clock
 *   that always reads the current whole second;
 * - the mock CA writes every identity as a URI SAN, where the real Fulcio writes an e-mail identity as an
 *   rfc822Name SAN (what containers/image's `fulcio.subjectEmail` pins): a token whose subject is an e-mail
 *   address gets an e-mail SAN (see withEmailIdentities).
 */
import { createHash, generateKeyPairSync, randomBytes, type KeyObject } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

// @peculiar/x509 (the mock's certificate library, used for e-mail certificates) needs the Reflect polyfill first.
import 'reflect-metadata';

import * as x509 from '@peculiar/x509';
import type { CA, CertificateRequestOptions } from '@sigstore/mock/dist/fulcio/ca.js';
import type { CTLog } from '@sigstore/mock/dist/fulcio/ctlog.js';
import { fulcioHandler, initializeCA, initializeCTLog } from '@sigstore/mock/dist/fulcio/index.js';
import { initializeTLog, rekorHandler } from '@sigstore/mock/dist/rekor/index.js';
import type { Handler } from '@sigstore/mock/dist/shared.types.js';
import { initializeTSA, tsaHandler } from '@sigstore/mock/dist/timestamp/index.js';

/** The issuer oidcToken() puts into tokens unless told otherwise (GitHub Actions'). */
export const GITHUB_ACTIONS_ISSUER = 'https://token.actions.githubusercontent.com';

/** A running mock Sigstore. */
export interface SigstoreStack {
  /** `http://127.0.0.1:PORT` of Fulcio (POST /api/v2/signingCert). */
  fulcioURL: string;
  /** `http://127.0.0.1:PORT` of Rekor (POST /api/v1/log/entries). */
  rekorURL: string;
  /** `http://127.0.0.1:PORT` of the timestamp authority (POST /api/v1/timestamp). */
  tsaURL: string;
  /** The trusted root in its JSON form (`trusted_root.json`), for TrustedRoot.fromJSON / toTrustMaterial. */
  trustedRoot: Record<string, unknown>;
  /**
   * An OIDC token (JWT, unsigned: the mock Fulcio does not check signatures) whose `sub` the mock
   * Fulcio writes into the certificate's SAN: an e-mail SAN for an e-mail address, else a URI SAN.
   * `claims` are added (`iss` defaults to GitHub's).
   */
  oidcToken(identity: string, claims?: Record<string, unknown>): string;
  /** Requests served so far, per service. */
  requests(): { fulcio: number; rekor: number; tsa: number };
  /** Closes the three servers. Idempotent. */
  stop(): Promise<void>;
}

/** Requests larger than this are refused (a DSSE entry carrying an SBOM is well below). */
const MAX_BODY_BYTES = 32 * 1024 * 1024;
const REQUEST_TIMEOUT_MS = 30_000;
/** Trust starts a little before now, so certificates issued right away are within it. */
const TRUST_START_SLACK_MS = 60_000;

interface MockServer {
  url: string;
  count: () => number;
  setHandler: (handler: Handler, transform?: (body: string) => string) => void;
  close: () => Promise<void>;
}

/** Starts the mock Fulcio, Rekor and TSA and builds their trusted root. */
export async function startSigstoreStack(): Promise<SigstoreStack> {
  const servers: MockServer[] = [];
  try {
    const fulcio = await startMockServer();
    servers.push(fulcio);
    const rekor = await startMockServer();
    servers.push(rekor);
    const tsa = await startMockServer();
    servers.push(tsa);

    const trustStart = new Date(Date.now() - TRUST_START_SLACK_MS);
    const caKeys = ecKeyPair();
    const ctKeys = ecKeyPair();
    const tlogKeys = ecKeyPair();
    const tsaKeys = ecKeyPair();

    const ctlog = await initializeCTLog(ctKeys);
    const ca = await initializeCA(caKeys, ctlog);
    // The log signs checkpoints with its URL's host; the trusted root's baseUrl must contain it.
    const tlog = await initializeTLog(rekor.url, tlogKeys);
    const timestampAuthority = await initializeTSA(tsaKeys, wholeSecondClock());

    fulcio.setHandler(fulcioHandler(withEmailIdentities(ca, caKeys, ctlog)));
    rekor.setHandler(rekorHandler(tlog), canonicaliseDsseEntry);
    tsa.setHandler(tsaHandler(timestampAuthority));

    const b64 = (bytes: ArrayBufferView) =>
      Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64');
    const validFor = { start: trustStart.toISOString() };
    const trustedRoot = {
      mediaType: 'application/vnd.dev.sigstore.trustedroot+json;version=0.1',
      tlogs: [
        {
          baseUrl: rekor.url,
          hashAlgorithm: 'SHA2_256',
          publicKey: {
            rawBytes: b64(tlog.publicKey),
            keyDetails: 'PKIX_ECDSA_P256_SHA_256',
            validFor,
          },
          logId: { keyId: sha256Base64(tlog.publicKey) },
        },
      ],
      certificateAuthorities: [
        {
          subject: { organization: 'sigstore.mock', commonName: 'sigstore' },
          uri: fulcio.url,
          certChain: { certificates: [{ rawBytes: b64(ca.rootCertificate) }] },
          validFor,
        },
      ],
      ctlogs: [
        {
          baseUrl: `${fulcio.url}/ct`,
          hashAlgorithm: 'SHA2_256',
          publicKey: {
            rawBytes: b64(ctlog.publicKey),
            keyDetails: 'PKIX_ECDSA_P256_SHA_256',
            validFor,
          },
          logId: { keyId: b64(ctlog.logID) },
        },
      ],
      timestampAuthorities: [
        {
          subject: { organization: 'sigstore.mock', commonName: 'tsa' },
          uri: tsa.url,
          // The signing certificate first, then its root.
          certChain: {
            certificates: [
              { rawBytes: b64(timestampAuthority.intCertificate) },
              { rawBytes: b64(timestampAuthority.rootCertificate) },
            ],
          },
          validFor,
        },
      ],
    };
    let stopping: Promise<void> | undefined;
    return {
      fulcioURL: fulcio.url,
      rekorURL: rekor.url,
      tsaURL: tsa.url,
      trustedRoot,
      oidcToken: (identity, claims = {}) =>
        unsignedJwt({ iss: GITHUB_ACTIONS_ISSUER, aud: 'sigstore', sub: identity, ...claims }),
      requests: () => ({ fulcio: fulcio.count(), rekor: rekor.count(), tsa: tsa.count() }),
      stop: () => (stopping ??= Promise.all(servers.map((s) => s.close())).then(() => undefined)),
    };
  } catch (error) {
    await Promise.all(servers.map((s) => s.close()));
    throw error;
  }
}

/**
 * The real Rekor's canonical form of a dsse v0.0.1 entry, from the proposed one sigstore-js sends:
 * envelopeHash = SHA-256 of the envelope JSON as submitted, payloadHash = SHA-256 of the decoded payload,
 * one `{signature, verifier}` per envelope signature (verifier = the base64 PEM submitted). Other kinds
 * pass unchanged.
 */
export function canonicaliseDsseEntry(body: string): string {
  let entry: unknown;
  try {
    entry = JSON.parse(body);
  } catch {
    return body;
  }
  const proposed = entry as {
    apiVersion?: string;
    kind?: string;
    spec?: { proposedContent?: { envelope?: string; verifiers?: string[] } };
  };
  const content = proposed.spec?.proposedContent;
  if (proposed.kind !== 'dsse' || typeof content?.envelope !== 'string') return body;
  const envelope = JSON.parse(content.envelope) as { payload: string; signatures: { sig: string }[] };
  const verifiers = content.verifiers ?? [];
  const sha256 = (data: Buffer | string) => createHash('sha256').update(data).digest('hex');
  return JSON.stringify({
    apiVersion: proposed.apiVersion,
    kind: 'dsse',
    spec: {
      envelopeHash: { algorithm: 'sha256', value: sha256(content.envelope) },
      payloadHash: { algorithm: 'sha256', value: sha256(Buffer.from(envelope.payload, 'base64')) },
      signatures: envelope.signatures.map((signature, i) => ({
        signature: signature.sig,
        verifier: verifiers[i] ?? verifiers[0] ?? '',
      })),
    },
  });
}

/**
 * The mock CA, except that a subject that is an e-mail address is issued with an e-mail SAN (rfc822Name), as
 * the real Fulcio does for e-mail issuers. Issued the way the mock issues the rest: the same root key and
 * issuer name, key usage, code signing, the claims' extensions, and an embedded SCT from the same CT log.
 */
function withEmailIdentities(ca: CA, caKeys: KeyPair, ctlog: CTLog): CA {
  return {
    rootCertificate: ca.rootCertificate,
    issueCertificate: (request) =>
      EMAIL.test(request.subjectAltName)
        ? issueEmailCertificate(ca, caKeys, ctlog, request)
        : ca.issueCertificate(request),
  };
}

const EMAIL = /^[^\s@/:]+@[^\s@/:]+$/;
const OID_SCT_LIST = '1.3.6.1.4.1.11129.2.4.2';
const CERTIFICATE_LIFETIME_MS = 10 * 60_000;

type KeyPair = { publicKey: KeyObject; privateKey: KeyObject };

async function issueEmailCertificate(
  ca: CA,
  caKeys: KeyPair,
  ctlog: CTLog,
  request: CertificateRequestOptions,
): Promise<ArrayBufferView<ArrayBuffer>> {
  const crypto = globalThis.crypto;
  const ecdsa = { name: 'ECDSA', namedCurve: 'P-256' };
  const caSpki = caKeys.publicKey.export({ format: 'der', type: 'spki' });
  const signingKey = await crypto.subtle.importKey(
    'pkcs8',
    caKeys.privateKey.export({ format: 'der', type: 'pkcs8' }),
    ecdsa,
    false,
    ['sign'],
  );
  const caPublicKey = await crypto.subtle.importKey('spki', caSpki, ecdsa, true, ['verify']);
  const publicKey = await crypto.subtle.importKey('spki', request.publicKey, ecdsa, true, ['verify']);
  const root = new x509.X509Certificate(new Uint8Array(ca.rootCertificate.buffer));
  const now = new Date();
  const extensions: x509.Extension[] = [
    new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
    new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.codeSigning]),
    new x509.SubjectAlternativeNameExtension([{ type: 'email', value: request.subjectAltName }], true),
    await x509.SubjectKeyIdentifierExtension.create(publicKey, false, crypto),
    await x509.AuthorityKeyIdentifierExtension.create(caPublicKey, false, crypto),
    ...(request.extensions ?? []).map(
      (e) =>
        new x509.Extension(
          e.oid,
          false,
          new Uint8Array(e.legacy ? Buffer.from(e.value) : der(0x0c, Buffer.from(e.value))),
        ),
    ),
  ];
  const params = {
    serialNumber: randomBytes(8).toString('hex'),
    notBefore: now,
    notAfter: new Date(now.getTime() + CERTIFICATE_LIFETIME_MS),
    issuer: root.subject,
    publicKey,
    signingAlgorithm: { name: 'ECDSA', hash: 'SHA-384' },
    signingKey,
    extensions,
  };
  // The precertificate goes to the CT log; its SCT is embedded in the certificate (SignedCertificateTimestampList).
  const precertificate = await x509.X509CertificateGenerator.create(params, crypto);
  const issuerID = await crypto.subtle.digest('SHA-256', caSpki);
  const sct = Buffer.from(await ctlog.log(precertificate.rawData, issuerID));
  const sctList = Buffer.concat([Buffer.from([sct.length >> 8, sct.length & 0xff]), sct]);
  extensions.push(new x509.Extension(OID_SCT_LIST, false, new Uint8Array(der(0x04, sctList))));
  const certificate = await x509.X509CertificateGenerator.create(params, crypto);
  return new Uint8Array(certificate.rawData);
}

/** One DER element: tag, definite length, contents. */
function der(tag: number, contents: Buffer): Buffer {
  const n = contents.length;
  const length =
    n < 0x80 ? Buffer.from([n]) : n < 0x100 ? Buffer.from([0x81, n]) : Buffer.from([0x82, n >> 8, n & 0xff]);
  return Buffer.concat([Buffer.from([tag]), length, contents]);
}

/**
 * A Date whose every method reads the current time truncated to the whole second. A reading holds until the
 * current synchronous run ends: the mock TSA encodes its TSTInfo twice (the signed content, then the digest it
 * signs) and asn1js reads a date field by field, so a clock that moved on between reads could sign a digest of
 * a different genTime (or encode a genTime a minute early) when a second boundary falls in between.
 */
export function wholeSecondClock(): Date {
  const clock = new Date(0);
  let reading: Date | undefined;
  const now = () => {
    if (!reading) {
      reading = new Date(Math.floor(Date.now() / 1000) * 1000);
      queueMicrotask(() => (reading = undefined));
    }
    return reading;
  };
  const proto = Date.prototype as unknown as Record<string | symbol, unknown>;
  const names: (string | symbol)[] = [...Object.getOwnPropertyNames(Date.prototype), Symbol.toPrimitive];
  for (const name of names) {
    const method = proto[name];
    if (name === 'constructor' || typeof method !== 'function') continue;
    Object.defineProperty(clock, name, {
      value: (...args: unknown[]) => (method as (...a: unknown[]) => unknown).apply(now(), args),
    });
  }
  return clock;
}

/** `header.payload.` with `alg: none`: what a mock that only decodes tokens needs. */
function unsignedJwt(claims: Record<string, unknown>): string {
  const now = Math.floor(Date.now() / 1000);
  const encode = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
  return `${encode({ alg: 'none', typ: 'JWT' })}.${encode({ iat: now, nbf: now, exp: now + 600, ...claims })}.`;
}

function ecKeyPair(): { publicKey: KeyObject; privateKey: KeyObject } {
  return generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
}

function sha256Base64(data: Uint8Array): string {
  return createHash('sha256').update(data).digest('base64');
}

/** An HTTP server on 127.0.0.1 that feeds POST bodies of one path to a mock handler. */
async function startMockServer(): Promise<MockServer> {
  let handler: Handler | undefined;
  let transform: ((body: string) => string) | undefined;
  let served = 0;
  const listener = (req: IncomingMessage, res: ServerResponse) => {
    void serve(req, res).catch((error: unknown) => {
      if (!res.headersSent) respond(res, 500, `mock failure: ${(error as Error).message}`, 'text/plain');
      else res.destroy();
    });
  };
  const serve = async (req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    if (!handler || req.method !== 'POST' || url.pathname !== handler.path) {
      req.resume();
      return respond(res, 404, `no route for ${req.method ?? '?'} ${url.pathname}`, 'text/plain');
    }
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of req) {
      size += (chunk as Buffer).length;
      if (size > MAX_BODY_BYTES) {
        respond(res, 413, 'request body too large', 'text/plain');
        req.destroy();
        return;
      }
      chunks.push(chunk as Buffer);
    }
    served++;
    let body = Buffer.concat(chunks).toString('utf8');
    if (transform) body = transform(body);
    const result = await handler.fn(body);
    const payload =
      typeof result.response === 'string'
        ? Buffer.from(result.response)
        : Buffer.from(result.response.buffer, result.response.byteOffset, result.response.byteLength);
    respond(res, result.statusCode, payload, result.contentType ?? 'text/plain');
  };
  const server: Server = createServer({ requestTimeout: REQUEST_TIMEOUT_MS }, listener);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host: '127.0.0.1', port: 0 }, () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  let closing: Promise<void> | undefined;
  return {
    url: `http://127.0.0.1:${port}`,
    count: () => served,
    setHandler: (next, nextTransform) => {
      handler = next;
      transform = nextTransform;
    },
    close: () =>
      (closing ??= new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      })),
  };
}

function respond(res: ServerResponse, status: number, body: Buffer | string, contentType: string): void {
  const bytes = typeof body === 'string' ? Buffer.from(body) : body;
  res.writeHead(status, { 'content-type': contentType, 'content-length': String(bytes.length) });
  res.end(bytes);
}
