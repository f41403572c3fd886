/**
 * Builds Sigstore bundles (v0.3, DSSE envelope around an in-toto statement) for image digests, the way
 * cosign 3 signs by default: keyless (an OIDC token exchanged at Fulcio for a short-lived certificate)
 * or with a private key, witnessed by Rekor (transparency log) and an RFC 3161 timestamp authority.
 *
 * Also signs plain messages (cosign's classic image signature over a simple signing payload, see
 * ./classic-format.ts), witnessed by Rekor only.
 *
 * Kept as one file: key and keyless identities, the bundle builders and the signing calls are one
 * flow that shares the Sigstore clients and their error handling.
 */
import {
  createHash,
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  sign as cryptoSign,
  type KeyObject,
} from 'node:crypto';

import { bundleToJSON, type Bundle } from '@sigstore/bundle';
import { X509Certificate } from '@sigstore/core';
import { request } from 'undici';
import type {
  DSSEBundleBuilder,
  FulcioSigner,
  IdentityProvider,
  Signature,
  Signer,
  Witness,
} from '@sigstore/sign';

import { COSIGN_SIGN_PREDICATE_TYPE } from './predicates.js';
import { attestationStatement, IN_TOTO_PAYLOAD_TYPE, signatureStatement } from './statements.js';

export type { IdentityProvider } from '@sigstore/sign';

/** The public-good Sigstore services (what cosign 3 uses by default). */
export const PUBLIC_FULCIO_URL = 'https://fulcio.sigstore.dev';
export const PUBLIC_REKOR_URL = 'https://rekor.sigstore.dev';
export const PUBLIC_TSA_URL = 'https://timestamp.sigstore.dev';

/** The audience Fulcio expects in OIDC tokens. */
export const SIGSTORE_AUDIENCE = 'sigstore';

/** The Fulcio extension OIDs that carry the token issuer (v2 is DER UTF8String, v1 raw). */
const OID_ISSUER_V2 = '1.3.6.1.4.1.57264.1.8';
const OID_ISSUER_V1 = '1.3.6.1.4.1.57264.1.1';

const DEFAULT_TIMEOUT_MS = 30_000;
const DEFAULT_RETRIES = 2;
const OIDC_TIMEOUT_MS = 30_000;

/** Keyless signing: the OIDC token proves the identity Fulcio writes into the certificate. */
export interface KeylessIdentity {
  kind: 'keyless';
  tokenProvider: IdentityProvider;
  /** Default PUBLIC_FULCIO_URL. */
  fulcioURL?: string;
  /** The clock that decides when the run's certificate is renewed (epoch ms); default Date.now. */
  now?: () => number;
}

/** Signing with a private key of the user's (see loadSigningKey). */
export interface KeyIdentity {
  kind: 'key';
  key: SigningKey;
}

export interface SignerConfig {
  identity: KeylessIdentity | KeyIdentity;
  /** Rekor base URL; `false` leaves the signature out of the transparency log. Default PUBLIC_REKOR_URL. */
  rekorURL?: string | false;
  /** RFC 3161 timestamp authority base URL; `false` for none. Default PUBLIC_TSA_URL. */
  tsaURL?: string | false;
  /** Per request to Fulcio, Rekor and the TSA. Default 30 s. */
  timeoutMs?: number;
  /** Retries of failed requests to Fulcio, Rekor and the TSA. Default 2. */
  retries?: number;
}

export interface SignResult {
  /** The Sigstore bundle as JSON (what goes into the registry as the referrer's layer). */
  bundle: Buffer;
  /** Keyless: the certificate's subject alternative name (workflow URI or email). */
  identity?: string;
  /** Keyless: the OIDC issuer recorded in the certificate. */
  issuer?: string;
  /** Key-based: the public key hint written into the bundle (base64 SHA-256 of the SPKI DER). */
  publicKeyHint?: string;
  /** The statement's predicate type. */
  predicateType: string;
}

/** A failure of Fulcio, Rekor, the TSA or the OIDC token, with the service's own words. */
export class SigningError extends Error {
  readonly code?: string;

  constructor(message: string, options: { code?: string; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'SigningError';
    if (options.code !== undefined) this.code = options.code;
  }
}

/** Keyless signing was asked for but the job may not request an OIDC token. */
export class MissingIdTokenPermissionError extends SigningError {
  constructor() {
    super(
      'keyless signing needs a GitHub OIDC token, but ACTIONS_ID_TOKEN_REQUEST_URL/ACTIONS_ID_TOKEN_REQUEST_TOKEN ' +
        'are not set: add `permissions: id-token: write` to the job (workflows triggered by pull requests from ' +
        'forks never get one), or sign with a key instead',
      { code: 'MISSING_ID_TOKEN_PERMISSION' },
    );
    this.name = 'MissingIdTokenPermissionError';
  }
}

/** The GET the OIDC token provider makes; a fetch Response answers as this needs. */
export type OidcFetch = (
  url: URL,
  init: { headers: Record<string, string>; signal: AbortSignal },
) => Promise<{ status: number; text(): Promise<string> }>;

/**
 * undici's request (the client the registry uses, loaded already): Node's global fetch would load Node's own
 * copy of undici for this one request.
 */
const undiciGet: OidcFetch = async (url, init) => {
  // No redirect is followed (the Actions token endpoint answers itself); a 3xx is reported as a failed request.
  const answer = await request(url, { headers: init.headers, signal: init.signal });
  return { status: answer.statusCode, text: () => answer.body.text() };
};

export interface GitHubOidcOptions {
  env?: Readonly<Record<string, string | undefined>>;
  /** Default SIGSTORE_AUDIENCE. */
  audience?: string;
  /** Default undici's request. */
  fetchImpl?: OidcFetch;
  timeoutMs?: number;
}

/**
 * The GitHub Actions OIDC token provider: GET `$ACTIONS_ID_TOKEN_REQUEST_URL&audience=sigstore` with
 * `Authorization: Bearer $ACTIONS_ID_TOKEN_REQUEST_TOKEN`, answer `{"value": "<jwt>"}`. A new token per call
 * (they are short-lived). Missing variables → MissingIdTokenPermissionError.
 */
export function githubOidcTokenProvider(options: GitHubOidcOptions = {}): IdentityProvider {
  const env = options.env ?? process.env;
  const fetchImpl = options.fetchImpl ?? undiciGet;
  const audience = options.audience ?? SIGSTORE_AUDIENCE;
  return {
    async getToken(): Promise<string> {
      const requestUrl = env.ACTIONS_ID_TOKEN_REQUEST_URL;
      const requestToken = env.ACTIONS_ID_TOKEN_REQUEST_TOKEN;
      if (!requestUrl || !requestToken) throw new MissingIdTokenPermissionError();
      const url = new URL(requestUrl);
      url.searchParams.set('audience', audience);
      let response: Awaited<ReturnType<OidcFetch>>;
      try {
        response = await fetchImpl(url, {
          headers: { accept: 'application/json', authorization: `Bearer ${requestToken}` },
          signal: AbortSignal.timeout(options.timeoutMs ?? OIDC_TIMEOUT_MS),
        });
      } catch (error) {
        throw new SigningError(`requesting the GitHub OIDC token failed: ${(error as Error).message}`, {
          code: 'OIDC_TOKEN_REQUEST_FAILED',
          cause: error,
        });
      }
      const text = await response.text();
      if (response.status < 200 || response.status > 299) {
        throw new SigningError(
          `requesting the GitHub OIDC token failed: HTTP ${response.status}${text ? `: ${text.slice(0, 200)}` : ''}`,
          { code: 'OIDC_TOKEN_REQUEST_FAILED' },
        );
      }
      let value: unknown;
      try {
        value = (JSON.parse(text) as { value?: unknown }).value;
      } catch {
        value = undefined;
      }
      if (typeof value !== 'string' || value.split('.').length !== 3) {
        throw new SigningError('the GitHub OIDC token answer has no JWT in "value"', {
          code: 'OIDC_TOKEN_REQUEST_FAILED',
        });
      }
      return value;
    },
  };
}

/** A private key ready to sign, with what the bundle and verifiers need to know about it. */
export interface SigningKey {
  privateKey: KeyObject;
  /** SPKI PEM of the public half. */
  publicKeyPem: string;
  /** base64(SHA-256(SPKI DER)), the hint cosign writes into `verificationMaterial.publicKey`. */
  hint: string;
  /** `ecdsa-p256-sha256`, `rsa-sha256` or `ed25519`. */
  algorithm: string;
}

/**
 * Reads a PEM private key: PKCS#8 (`PRIVATE KEY`, or `ENCRYPTED PRIVATE KEY` with `password`), SEC1
 * (`EC PRIVATE KEY`) or PKCS#1 (`RSA PRIVATE KEY`). Supported: ECDSA P-256, RSA (2048 bits or more) and
 * Ed25519, each signed the way both cosign and sigstore-js verify it (SHA-256; Ed25519 pure).
 */
export function loadSigningKey(pem: string | Buffer, password?: string): SigningKey {
  const text = pem.toString();
  if (/-----BEGIN ENCRYPTED (SIGSTORE|COSIGN) PRIVATE KEY-----/.test(text)) {
    throw new SigningError(
      "cosign's own encrypted key format (scrypt + secretbox) is not supported; give the key as PKCS#8 PEM " +
        '(for example a key made with `openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256`, ' +
        'encrypted with `openssl pkcs8 -topk8 -v2 aes-256-cbc`)',
      { code: 'UNSUPPORTED_KEY_FORMAT' },
    );
  }
  if (!/-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(text)) {
    throw new SigningError(
      'the signing key is not a PEM private key (no -----BEGIN … PRIVATE KEY----- block)',
      {
        code: 'INVALID_KEY',
      },
    );
  }
  const encrypted = /-----BEGIN ENCRYPTED PRIVATE KEY-----|Proc-Type: 4,ENCRYPTED/.test(text);
  if (encrypted && !password) {
    throw new SigningError('the signing key is encrypted but no key password was given', {
      code: 'KEY_PASSWORD_REQUIRED',
    });
  }
  let privateKey: KeyObject;
  try {
    privateKey = createPrivateKey({
      key: text,
      format: 'pem',
      ...(encrypted ? { passphrase: password } : {}),
    });
  } catch (error) {
    const reason = (error as Error).message;
    // A wrong password fails at the padding check ("bad decrypt") most of the time, and otherwise (about one time
    // in 256, when the garbage happens to end in valid padding) at reading what it decrypted to: both are the
    // password's, unless the encrypted key itself is damaged.
    if (encrypted) {
      throw new SigningError(
        `the signing key could not be decrypted with the key password given (a wrong password, or a damaged key): ${reason}`,
        { code: 'KEY_PASSWORD_WRONG', cause: error },
      );
    }
    throw new SigningError(`the signing key could not be read: ${reason}`, {
      code: 'INVALID_KEY',
      cause: error,
    });
  }
  const algorithm = keyAlgorithm(privateKey);
  const publicKey = createPublicKey(privateKey);
  const der = publicKey.export({ format: 'der', type: 'spki' });
  return {
    privateKey,
    publicKeyPem: publicKey.export({ format: 'pem', type: 'spki' }).toString(),
    hint: publicKeyHint(der),
    algorithm,
  };
}

/** base64(SHA-256(SPKI DER)) of a public key (PEM or DER), the hint cosign puts into bundles. */
export function publicKeyHint(publicKey: string | Buffer | KeyObject): string {
  const key =
    typeof publicKey === 'object' && 'export' in publicKey
      ? publicKey
      : createPublicKey(
          typeof publicKey === 'string' || publicKey.toString('latin1').startsWith('-----')
            ? { key: publicKey.toString(), format: 'pem' }
            : { key: publicKey, format: 'der', type: 'spki' },
        );
  const der = key.export({ format: 'der', type: 'spki' });
  return createHash('sha256').update(der).digest('base64');
}

function keyAlgorithm(key: KeyObject): string {
  const type = key.asymmetricKeyType;
  const details = key.asymmetricKeyDetails ?? {};
  if (type === 'ec' && details.namedCurve === 'prime256v1') return 'ecdsa-p256-sha256';
  if (type === 'rsa' && (details.modulusLength ?? 0) >= 2048) return 'rsa-sha256';
  if (type === 'ed25519') return 'ed25519';
  const what =
    type === 'ec' ? `EC key on ${details.namedCurve ?? 'an unknown curve'}` : `${type ?? 'unknown'} key`;
  throw new SigningError(
    `unsupported signing key: ${what}${type === 'rsa' ? ` of ${details.modulusLength ?? '?'} bits` : ''}; use ECDSA P-256 (cosign's default), RSA of 2048 bits or more, or Ed25519`,
    { code: 'UNSUPPORTED_KEY' },
  );
}

/** A sigstore-js Signer over a local key: the bundle gets `publicKey.hint`, Rekor gets the public key. */
class KeySigner implements Signer {
  readonly #key: SigningKey;

  constructor(key: SigningKey) {
    this.#key = key;
  }

  async sign(data: Buffer): Promise<Signature> {
    // ECDSA and RSA: SHA-256 (DER-encoded ECDSA signature); Ed25519: no pre-hash.
    const digest = this.#key.algorithm === 'ed25519' ? null : 'sha256';
    return {
      signature: cryptoSign(digest, data, this.#key.privateKey),
      key: { $case: 'publicKey', publicKey: this.#key.publicKeyPem, hint: this.#key.hint },
    };
  }
}

/**
 * sigstore-js's signing half, loaded on first use: with its HTTP stack (make-fetch-happen, cacache, proxy agents)
 * it is about a quarter of the action's code to load, which a run that verifies before it signs (a promotion) or
 * never signs does not wait for at start.
 */
let signingLibrary: Promise<typeof import('@sigstore/sign')> | undefined;
// A CommonJS module: its exports are the default export both in Node and in the bundle (where only that exists).
const sigstoreSign = () => (signingLibrary ??= import('@sigstore/sign').then((m) => m.default));

/**
 * Loads the signing library (nothing is fetched or signed): a run that signs after waiting on other processes (a
 * promotion's scans) compiles it meanwhile instead of after. A failed load is raised where signing uses it.
 */
export function loadSigning(): void {
  sigstoreSign().catch(() => undefined);
}

/** A Fulcio certificate is reused while it has at least this long to live (Fulcio issues 10-minute ones). */
const CERTIFICATE_REUSE_MARGIN_MS = 3 * 60_000;

/**
 * Keyless signing with one ephemeral key and one Fulcio certificate for every signature of the run (both
 * signature formats, every subject), as `cosign` does per invocation: one OIDC token and one Fulcio round trip
 * instead of one per signature. A new key and certificate are made once the certificate has less than
 * CERTIFICATE_REUSE_MARGIN_MS to live, so every signature stays inside its certificate's validity.
 */
class RunCertificateSigner implements Signer {
  readonly #options: ConstructorParameters<typeof FulcioSigner>[0];
  readonly #now: () => number;
  #current:
    | {
        key: KeyObject;
        certificate: Promise<{ pem: string; notAfter: number }>;
        /** Asked for by prepare(): its failure is the failure of the signatures waiting for it. */
        prepared: boolean;
      }
    | undefined;

  constructor(options: ConstructorParameters<typeof FulcioSigner>[0], now: () => number = Date.now) {
    this.#options = options;
    this.#now = now;
  }

  /**
   * Gets the run's key and certificate now, before the first signature needs them (the signature that proves
   * the key to Fulcio is discarded). When that fails, the signatures that come next fail with the same error
   * (Fulcio is not asked twice in a row); the ones after them ask again.
   */
  prepare(): void {
    if (this.#current) return;
    this.#certify(Buffer.alloc(0), true).catch(() => undefined);
  }

  async sign(data: Buffer): Promise<Signature> {
    const current = this.#current;
    if (current) {
      const certificate = await current.certificate.catch((error: unknown) => {
        if (!current.prepared) return undefined;
        if (this.#current === current) this.#current = undefined;
        throw error;
      });
      if (certificate && certificate.notAfter - this.#now() > CERTIFICATE_REUSE_MARGIN_MS) {
        return {
          signature: cryptoSign('sha256', data, current.key),
          key: { $case: 'x509Certificate', certificate: certificate.pem },
        };
      }
    }
    return this.#certify(data, false);
  }

  /** A new ephemeral key certified by Fulcio; its first signature (over `data`) comes back with the certificate. */
  #certify(data: Buffer, prepared: boolean): Promise<Signature> {
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const publicKeyPem = publicKey.export({ format: 'pem', type: 'spki' }).toString();
    const keyHolder: Signer = {
      sign: (bytes: Buffer) =>
        Promise.resolve({
          signature: cryptoSign('sha256', bytes, privateKey),
          key: { $case: 'publicKey', publicKey: publicKeyPem },
        }),
    };
    const signed = sigstoreSign().then(({ FulcioSigner: Fulcio }) =>
      new Fulcio({ ...this.#options, keyHolder }).sign(data),
    );
    const certificate = signed.then((s) => {
      if (s.key.$case !== 'x509Certificate') throw new Error('Fulcio returned no certificate');
      const pem = s.key.certificate;
      return { pem, notAfter: X509Certificate.parse(pem).notAfter.getTime() };
    });
    certificate.catch(() => undefined); // the failure is the caller's (signed); the next signature starts anew
    this.#current = { key: privateKey, certificate, prepared };
    return signed;
  }
}

/** The keyless signer of each configuration (one certificate per run, see RunCertificateSigner). */
const runSigners = new WeakMap<KeylessIdentity, RunCertificateSigner>();

/**
 * Starts getting what signing with `config` needs from elsewhere (keyless: the OIDC token and the run's Fulcio
 * certificate) so the first signature does not wait for it; nothing for a signing key. Call it once the gate
 * passed: a certificate is logged in CT when it is issued, so a refusal after that (a tag conflict, a downgrade)
 * leaves one issued for nothing.
 */
export function prepareSigning(config: SignerConfig): void {
  if (config.identity.kind !== 'keyless') return;
  keylessSigner(config.identity, fetchOptionsOf(config)).prepare();
}

/** The bundle builder for a configuration: the signer plus the Rekor and TSA witnesses asked for. */
export async function bundleBuilder(config: SignerConfig): Promise<DSSEBundleBuilder> {
  const { DSSEBundleBuilder: Builder } = await sigstoreSign();
  return new Builder(await builderOptions(config, true));
}

/**
 * The signer (Fulcio certificate or key) and witnesses of a configuration: Rekor (a `dsse` entry for DSSE
 * envelopes, `hashedrekord` for message signatures), the TSA when `timestamp` and configured.
 */
async function builderOptions(
  config: SignerConfig,
  timestamp: boolean,
): Promise<{ signer: Signer; witnesses: Witness[] }> {
  const { RekorWitness, TSAWitness } = await sigstoreSign();
  const fetchOptions = fetchOptionsOf(config);
  const signer: Signer =
    config.identity.kind === 'keyless'
      ? keylessSigner(config.identity, fetchOptions)
      : new KeySigner(config.identity.key);
  const witnesses: Witness[] = [];
  const rekorURL = config.rekorURL ?? PUBLIC_REKOR_URL;
  if (rekorURL !== false) {
    witnesses.push(
      new RekorWitness({
        rekorBaseURL: trimSlash(rekorURL),
        entryType: 'dsse',
        fetchOnConflict: true,
        ...fetchOptions,
      }),
    );
  }
  const tsaURL = config.tsaURL ?? PUBLIC_TSA_URL;
  if (timestamp && tsaURL !== false) {
    witnesses.push(new TSAWitness({ tsaBaseURL: trimSlash(tsaURL), ...fetchOptions }));
  }
  return { signer, witnesses };
}

function fetchOptionsOf(config: SignerConfig): { timeout: number; retry: number } {
  return { timeout: config.timeoutMs ?? DEFAULT_TIMEOUT_MS, retry: config.retries ?? DEFAULT_RETRIES };
}

function keylessSigner(
  identity: KeylessIdentity,
  fetchOptions: { timeout: number; retry: number },
): RunCertificateSigner {
  let signer = runSigners.get(identity);
  if (!signer) {
    signer = new RunCertificateSigner(
      {
        identityProvider: identity.tokenProvider,
        fulcioBaseURL: trimSlash(identity.fulcioURL ?? PUBLIC_FULCIO_URL),
        ...fetchOptions,
      },
      identity.now,
    );
    runSigners.set(identity, signer);
  }
  return signer;
}

/**
 * Signs `payload` as a message (cosign's classic image signature over the simple signing payload): the
 * bundle holds the signature, the certificate or key hint and the Rekor `hashedrekord` entry with its
 * signed entry timestamp. No RFC 3161 timestamp: see ./classic-format.ts.
 */
export async function signPayload(
  config: SignerConfig,
  payload: Buffer,
  predicateType: string,
): Promise<SignResult> {
  let bundle: Bundle;
  try {
    const { MessageSignatureBundleBuilder } = await sigstoreSign();
    bundle = await new MessageSignatureBundleBuilder(await builderOptions(config, false)).create({
      data: payload,
    });
  } catch (error) {
    throw toSigningError(error, config);
  }
  return signResult(bundle, predicateType);
}

/**
 * Signs an in-toto statement (the DSSE payload, exact bytes) and returns the bundle. Errors of the OIDC
 * provider come back as they were thrown (MissingIdTokenPermissionError…); Fulcio, Rekor and TSA errors
 * as a SigningError naming the service's code and message.
 */
export async function signStatement(
  config: SignerConfig,
  statement: Buffer,
  predicateType: string,
): Promise<SignResult> {
  let bundle: Bundle;
  try {
    bundle = await (await bundleBuilder(config)).create({ data: statement, type: IN_TOTO_PAYLOAD_TYPE });
  } catch (error) {
    throw toSigningError(error, config);
  }
  return signResult(bundle, predicateType);
}

function signResult(bundle: Bundle, predicateType: string): SignResult {
  const bundleJson = Buffer.from(JSON.stringify(bundleToJSON(bundle)));
  const material = bundle.verificationMaterial.content;
  if (material.$case === 'publicKey') {
    return { bundle: bundleJson, publicKeyHint: material.publicKey.hint, predicateType };
  }
  const certificate =
    material.$case === 'certificate' ? material.certificate : material.x509CertificateChain.certificates[0];
  const identity = certificate ? certificateIdentity(certificate.rawBytes) : {};
  return { bundle: bundleJson, ...identity, predicateType };
}

/** Signs an image digest as `cosign sign` does (predicate type https://sigstore.dev/cosign/sign/v1). */
export function signDigest(config: SignerConfig, digest: string): Promise<SignResult> {
  const statement = signatureStatement(digest);
  return signStatement(config, statement, COSIGN_SIGN_PREDICATE_TYPE);
}

/** Attests an image digest: an in-toto Statement v1 with the given predicate (SBOM, vulnerability scan…). */
export function attest(
  config: SignerConfig,
  digest: string,
  predicateType: string,
  predicate: unknown,
  options: { subjectName?: string } = {},
): Promise<SignResult> {
  const statement = attestationStatement(digest, predicateType, predicate, options);
  return signStatement(config, statement, predicateType);
}

/** The subject alternative name and OIDC issuer of a Fulcio certificate (DER). */
export function certificateIdentity(der: Uint8Array): { identity?: string; issuer?: string } {
  const cert = X509Certificate.parse(Buffer.from(der));
  const identity = cert.subjectAltName;
  let issuer: string | undefined;
  const v2 = cert.extension(OID_ISSUER_V2);
  if (v2) issuer = v2.valueObj.subs[0]?.value.toString('utf8');
  issuer ??= cert.extension(OID_ISSUER_V1)?.value.toString('utf8');
  return { ...(identity ? { identity } : {}), ...(issuer ? { issuer } : {}) };
}

function toSigningError(error: unknown, config: SignerConfig): Error {
  // The OIDC provider's own errors (missing permission…) are already clear: pass them through.
  for (let cause: unknown = error; cause instanceof Error; cause = cause.cause) {
    if (cause instanceof SigningError) return cause;
  }
  if (!(error instanceof Error))
    return new SigningError(`signing failed: ${String(error)}`, { cause: error });
  const rawCode: unknown = (error as Error & { code?: unknown }).code;
  const code = typeof rawCode === 'string' ? rawCode : undefined;
  const service = serviceOf(code, config);
  // sigstore-js puts the whole token into this message: never repeat it.
  const details: string[] =
    code === 'IDENTITY_TOKEN_PARSE_ERROR'
      ? ['the OIDC token is not a JWT with a subject (sub or verified email claim)']
      : [error.message];
  const cause = error.cause;
  if (cause instanceof Error && !error.message.includes(cause.message)) details.push(cause.message);
  else if (typeof cause === 'string') details.push(cause);
  return new SigningError(`signing failed${service ? ` at ${service}` : ''}: ${details.join(': ')}`, {
    ...(code ? { code } : {}),
    cause: error,
  });
}

function serviceOf(code: string | undefined, config: SignerConfig): string | undefined {
  if (!code) return undefined;
  if (code.startsWith('CA_') && config.identity.kind === 'keyless') {
    return `Fulcio (${config.identity.fulcioURL ?? PUBLIC_FULCIO_URL})`;
  }
  if (code.startsWith('TLOG_') && config.rekorURL !== false)
    return `Rekor (${config.rekorURL ?? PUBLIC_REKOR_URL})`;
  if (code.startsWith('TSA_') && config.tsaURL !== false) {
    return `the timestamp authority (${config.tsaURL ?? PUBLIC_TSA_URL})`;
  }
  if (code.startsWith('IDENTITY_TOKEN')) return 'the OIDC token provider';
  return undefined;
}

function trimSlash(url: string): string {
  return url.replace(/\/+$/, '');
}
