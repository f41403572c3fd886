/**
 * The token server of a token-auth test registry (distribution's "token" auth, the flow GHCR, Docker Hub, Harbor
 * and ECR use): the registry answers 401 with a `Bearer realm=…,service=…,scope=…` challenge, the client asks this
 * server for a JWT granting the scope, then sends `Authorization: Bearer <jwt>`, which the registry checks with one
 * signature verification instead of the bcrypt that htpasswd runs on every request.
 *
 * What distribution 2.8 (registry/auth/token) requires of the token:
 * - `x5c` (standard base64 DER) whose first certificate chains to a `rootcertbundle` certificate, verified with any
 *   extended key usage; a self-signed certificate that is itself in the bundle is its own chain;
 * - `alg` matching the key (ES256 for P-256) and the signature as raw r||s (JWS), not DER;
 * - `iss` equal to the configured issuer and `aud` a single string equal to the service (2.8 unmarshals `aud` as a
 *   string: an array makes the token malformed);
 * - `exp`/`nbf` valid within a 60 s leeway;
 * - `access` listing each repository's actions (`*` grants every action). A token with no access still opens `/v2/`.
 */
import {
  createHash,
  createPrivateKey,
  randomBytes,
  sign,
  timingSafeEqual,
  X509Certificate,
  type KeyObject,
} from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import path from 'node:path';

import { describeFailure, execProcess } from '../../../src/process/exec.js';

/** The `service` of the registry's challenges, and the `aud` of the tokens. */
export const TOKEN_SERVICE = 'edgeship-test-registry';
/** The `iss` of the tokens, the registry's `auth.token.issuer`. */
export const TOKEN_ISSUER = 'edgeship-test-token-issuer';
/** Lifetime of a token in seconds (the `expires_in` of the answer). */
export const TOKEN_LIFETIME_SECONDS = 300;

const OPENSSL_TIMEOUT_MS = 60_000;
/** A client that sends nothing for this long is dropped (the server never waits on a body). */
const REQUEST_TIMEOUT_MS = 10_000;
const HEADERS_TIMEOUT_MS = 5_000;
const KEEP_ALIVE_TIMEOUT_MS = 5_000;
const KNOWN_ACTIONS = new Set(['pull', 'push', 'delete', '*']);

/**
 * OpenSSL config of the token signing certificate: self-signed, and without extended key usage (distribution
 * verifies it for "any" usage, which Go only accepts from a certificate naming no extended usage or `any`).
 */
const SIGNING_OPENSSL_CONFIG = `[req]
distinguished_name = dn
prompt = no
x509_extensions = v3
[dn]
CN = ${TOKEN_ISSUER}
[v3]
basicConstraints = critical, CA:TRUE
keyUsage = critical, digitalSignature, keyCertSign
subjectKeyIdentifier = hash
`;

/** The token signing key and its certificate (the registry's `rootcertbundle`). */
export interface TokenSigningMaterial {
  keyFile: string;
  certFile: string;
}

/** Writes a new EC P-256 token signing key and its self-signed certificate into `dir`. */
/** openssl's argv for a self-signed P-256 certificate of two days, its key unencrypted (`config` names its fields). */
export function selfSignedEcCertificateArgs(config: string, keyFile: string, certFile: string): string[] {
  const curve = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1'];
  return [
    'req',
    '-x509',
    '-config',
    config,
    ...curve,
    '-nodes',
    '-sha256',
    '-days',
    '2',
    '-keyout',
    keyFile,
    '-out',
    certFile,
  ];
}

export async function makeTokenSigningMaterial(dir: string): Promise<TokenSigningMaterial> {
  const configFile = path.join(dir, 'token-signing.cnf');
  const keyFile = path.join(dir, 'token-signing.key');
  const certFile = path.join(dir, 'token-signing.crt');
  await writeFile(configFile, SIGNING_OPENSSL_CONFIG);
  const args = selfSignedEcCertificateArgs(configFile, keyFile, certFile);
  const result = await execProcess('openssl', args, { timeoutMs: OPENSSL_TIMEOUT_MS });
  if (result.exitCode !== 0 || result.failure) throw new Error(describeFailure('openssl', result));
  return { keyFile, certFile };
}

/** One `access` entry of a registry token. */
export interface TokenAccess {
  type: 'repository';
  name: string;
  actions: string[];
}

/**
 * The repository access the `scope` parameters ask for (`repository:<name>:<actions>`, several per parameter when
 * separated by spaces), merged by repository. Other resource types and unknown actions are granted nothing.
 */
export function requestedAccess(scopes: readonly string[]): TokenAccess[] {
  const byName = new Map<string, Set<string>>();
  for (const scope of scopes.flatMap((value) => value.split(' ')).filter(Boolean)) {
    const first = scope.indexOf(':');
    const last = scope.lastIndexOf(':');
    if (first < 0 || last <= first) continue;
    if (scope.slice(0, first) !== 'repository') continue;
    const name = scope.slice(first + 1, last);
    if (!name) continue;
    const actions = scope
      .slice(last + 1)
      .split(',')
      .filter((action) => KNOWN_ACTIONS.has(action));
    if (actions.length === 0) continue;
    const set = byName.get(name) ?? new Set<string>();
    for (const action of actions) set.add(action);
    byName.set(name, set);
  }
  return [...byName].map(([name, actions]) => ({ type: 'repository', name, actions: [...actions].sort() }));
}

const base64url = (data: Buffer | string) => Buffer.from(data).toString('base64url');

/** Claims of a registry token besides the ones signRegistryToken() fills in. */
export interface RegistryTokenClaims {
  subject: string;
  access: TokenAccess[];
  /** Epoch seconds; defaults to now. */
  issuedAt?: number;
}

/** An ES256 JWT as distribution's token auth checks it (see the file comment). */
export function signRegistryToken(
  signing: { key: KeyObject; certificateDer: Buffer },
  claims: RegistryTokenClaims,
): string {
  const iat = claims.issuedAt ?? Math.floor(Date.now() / 1000);
  const header = { typ: 'JWT', alg: 'ES256', x5c: [signing.certificateDer.toString('base64')] };
  const payload = {
    iss: TOKEN_ISSUER,
    sub: claims.subject,
    aud: TOKEN_SERVICE,
    exp: iat + TOKEN_LIFETIME_SECONDS,
    nbf: iat,
    iat,
    jti: randomBytes(16).toString('hex'),
    access: claims.access,
  };
  const signed = `${base64url(JSON.stringify(header))}.${base64url(JSON.stringify(payload))}`;
  // JWS wants r||s (IEEE P1363); Node signs ECDSA as DER by default, which libtrust rejects.
  const signature = sign('sha256', Buffer.from(signed), { key: signing.key, dsaEncoding: 'ieee-p1363' });
  return `${signed}.${base64url(signature)}`;
}

/** A running token server. */
export interface TokenServer {
  port: number;
  /**
   * `https://localhost:<port>/token`, the registry's `auth.token.realm`. A host name, not 127.0.0.1: go-containerregistry
   * (Syft's registry client) refuses a realm at a loopback or private IP literal that is not the registry's own
   * host:port (its guard against token-server SSRF); names are not checked. The certificate names both.
   */
  realm: string;
  /** Requests received so far (any path or outcome). */
  requests(): number;
  /** Closes the listener and every open connection. Idempotent. */
  stop(): Promise<void>;
}

/** Options of startTokenServer(). */
export interface TokenServerOptions {
  /** TLS certificate and key (PEM files): the registry's own, so its CA file trusts both. */
  tlsCertFile: string;
  tlsKeyFile: string;
  signing: TokenSigningMaterial;
  username: string;
  password: string;
}

const digest = (value: string) => createHash('sha256').update(value, 'utf8').digest();

/** Whether `header` carries exactly `user:password` as Basic credentials; undefined when it carries none. */
function checkBasic(header: string | undefined, expected: Buffer): boolean | undefined {
  if (header === undefined || header === '') return undefined;
  const match = /^Basic\s+(\S+)$/i.exec(header);
  if (!match) return false;
  // Equal-length digests, so timingSafeEqual never throws and the comparison does not leak the length.
  return timingSafeEqual(digest(Buffer.from(match[1]!, 'base64').toString('utf8')), expected);
}

function answerJson(
  response: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  const text = JSON.stringify(body);
  response.writeHead(status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(text),
    'cache-control': 'no-store',
    ...headers,
  });
  response.end(text);
}

const errorBody = (code: string, message: string) => ({ errors: [{ code, message }] });

/** Starts the token server on a random 127.0.0.1 port. */
export async function startTokenServer(options: TokenServerOptions): Promise<TokenServer> {
  const [tlsCert, tlsKey, signingKey, signingCert] = await Promise.all([
    readFile(options.tlsCertFile),
    readFile(options.tlsKeyFile),
    readFile(options.signing.keyFile),
    readFile(options.signing.certFile),
  ]);
  const signing = { key: createPrivateKey(signingKey), certificateDer: new X509Certificate(signingCert).raw };
  const expected = digest(`${options.username}:${options.password}`);
  let count = 0;

  const handle = (request: IncomingMessage, response: ServerResponse) => {
    count++;
    // Bodies are never read: a token request has none, and Node discards what a client sends anyway.
    const url = new URL(request.url ?? '/', 'https://127.0.0.1');
    if (url.pathname !== '/token') {
      answerJson(response, 404, errorBody('NOT_FOUND', `no route ${url.pathname}`));
      return;
    }
    if (request.method !== 'GET') {
      answerJson(response, 405, errorBody('UNSUPPORTED', 'only GET /token'), { allow: 'GET' });
      return;
    }
    const service = url.searchParams.get('service');
    if (service !== null && service !== TOKEN_SERVICE) {
      answerJson(response, 400, errorBody('INVALID_REQUEST', `unknown service ${JSON.stringify(service)}`));
      return;
    }
    const authenticated = checkBasic(request.headers.authorization, expected);
    if (authenticated === false) {
      answerJson(response, 401, errorBody('UNAUTHORIZED', 'authentication required: wrong credentials'), {
        'www-authenticate': `Basic realm="${TOKEN_ISSUER}"`,
      });
      return;
    }
    // Anonymous clients get a token too, with no access: enough for /v2/, nothing in a repository.
    const issuedAt = Math.floor(Date.now() / 1000);
    const token = signRegistryToken(signing, {
      subject: authenticated ? options.username : '',
      access: authenticated ? requestedAccess(url.searchParams.getAll('scope')) : [],
      issuedAt,
    });
    answerJson(response, 200, {
      token,
      access_token: token,
      expires_in: TOKEN_LIFETIME_SECONDS,
      issued_at: new Date(issuedAt * 1000).toISOString(),
    });
  };

  const server = https.createServer(
    {
      cert: tlsCert,
      key: tlsKey,
      requestTimeout: REQUEST_TIMEOUT_MS,
      headersTimeout: HEADERS_TIMEOUT_MS,
      keepAliveTimeout: KEEP_ALIVE_TIMEOUT_MS,
    },
    handle,
  );
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host: '127.0.0.1', port: 0 }, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  let stopping: Promise<void> | undefined;
  return {
    port,
    realm: `https://localhost:${port}/token`,
    requests: () => count,
    stop: () =>
      (stopping ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        // close() only stops accepting: keep-alive and stalled sockets would hold it open.
        server.closeAllConnections();
      })),
  };
}
