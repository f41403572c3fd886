import { rootCertificates } from 'node:tls';
import { Agent, fetch as undiciFetch } from 'undici';
import {
  basicAuthorization,
  buildTokenRequest,
  ChallengeParseError,
  mergeScopes,
  parseChallenge,
  parseTokenResponse,
  repositoryScope,
  TokenCache,
  type AuthChallenge,
  type RepositoryAccess,
} from './auth.js';
import type { CredentialResolver, RegistryCredential } from './credentials.js';
import { digestOf, matchesDigest } from './digest.js';
import {
  parseRegistryEndpoint,
  sameHostname,
  type RegistryEndpoint,
  type RegistryScheme,
} from './endpoint.js';
import { describeHttpFailure, RegistryAuthError, RegistryError } from './errors.js';
import {
  HttpTransport,
  type FetchLike,
  type HttpRequest,
  type HttpResponse,
  type RequestContext,
} from './http-transport.js';
import { parseNextLink } from './link-header.js';
import { ACCEPT_MANIFESTS, baseMediaType } from './media-types.js';
import {
  assertRepositoryPath,
  assertTagOrDigest,
  isDigest,
  isLoopbackHost,
  parseDigest,
  stripPort,
} from './reference.js';
import { DEFAULT_RETRY, isRetryableStatus, type RetryOptions } from './retry-policy.js';

export type { FetchLike } from './http-transport.js';

export interface RegistryClientOptions {
  /** host[:port] (`docker.io` for Docker Hub), optionally prefixed by `https://` or `http://`. */
  registry: string;
  credentials?: CredentialResolver;
  /** PEM CA certificate(s) trusted in addition to the system roots. */
  ca?: string | Buffer;
  /** Allow plain http to this (non-loopback) registry. Loopback registries may always use it. */
  insecure?: boolean;
  /** Defaults to undici's fetch. */
  fetchImpl?: FetchLike;
  sleep?: (ms: number) => Promise<void>;
  /** Jitter source in [0, 1); defaults to Math.random. */
  random?: () => number;
  /** Clock in epoch milliseconds (token expiry, HTTP-date Retry-After); defaults to Date.now. */
  now?: () => number;
  retry?: Partial<RetryOptions>;
  /** Per request attempt, body included. Default 60000. */
  timeoutMs?: number;
  userAgent?: string;
}

export interface ManifestDescriptor {
  digest: string;
  mediaType: string;
  size: number;
}

export interface FetchedManifest extends ManifestDescriptor {
  body: Buffer;
  json: unknown;
}

export interface BlobUploadResult {
  digest: string;
  /** False when the registry already had the blob and nothing was sent. */
  uploaded: boolean;
}

const DEFAULT_TIMEOUT_MS = 60_000;
const DEFAULT_USER_AGENT = 'edgeship';
const TOKEN_CLIENT_ID = 'edgeship';
/** Registries commonly refuse manifests above 4 MiB; anything larger is not a manifest. */
const MAX_MANIFEST_BYTES = 4 * 1024 * 1024;
const MAX_TAG_PAGES = 1000;

interface Authorization {
  header?: string;
  /** Obtained for this request (a 401 now means the credentials are refused), not taken from a cache. */
  fresh: boolean;
}

/**
 * A client for one OCI distribution registry: manifests, blobs and tags, with Basic and Bearer token
 * authentication, retries, digest verification and plain-http protection.
 */
export class RegistryClient {
  readonly #endpoint: RegistryEndpoint;
  #scheme: RegistryScheme;
  readonly #insecure: boolean;
  readonly #transport: HttpTransport;
  readonly #agent: Agent | undefined;
  readonly #credentials: CredentialResolver | undefined;
  #credential: Promise<RegistryCredential | undefined> | undefined;
  readonly #tokens: TokenCache;
  readonly #pendingTokens = new Map<string, Promise<string>>();
  #basicAuthorization: string | undefined;
  #bearerChallenge: (AuthChallenge & { realm: string }) | undefined;

  constructor(options: RegistryClientOptions) {
    this.#insecure = options.insecure ?? false;
    this.#endpoint = parseRegistryEndpoint(options.registry, this.#insecure);
    this.#scheme = this.#endpoint.scheme;
    this.#credentials = options.credentials;
    const now = options.now ?? Date.now;
    this.#tokens = new TokenCache(now);
    this.#agent =
      options.ca === undefined
        ? undefined
        : new Agent({ connect: { ca: [...rootCertificates, options.ca.toString()] } });
    this.#transport = new HttpTransport({
      fetchImpl: options.fetchImpl ?? undiciFetch,
      ...(this.#agent ? { dispatcher: this.#agent } : {}),
      sleep: options.sleep ?? ((ms) => new Promise((resolve) => setTimeout(resolve, ms))),
      random: options.random ?? Math.random,
      now,
      retry: { ...DEFAULT_RETRY, ...options.retry },
      timeoutMs: options.timeoutMs ?? DEFAULT_TIMEOUT_MS,
      userAgent: options.userAgent ?? DEFAULT_USER_AGENT,
      mayUsePlainHttp: (url) =>
        isLoopbackHost(url.host) || (this.#insecure && sameHostname(url.host, this.#endpoint.host)),
    });
  }

  /** The registry as credentials are looked up (host[:port], `docker.io` for Docker Hub). */
  get registry(): string {
    return this.#endpoint.registry;
  }

  /** HTTP requests made so far, including token requests, retries and redirect hops. */
  get requestCount(): number {
    return this.#transport.requestCount;
  }

  /** Closes the connections of the custom-CA dispatcher, if one was created. */
  async close(): Promise<void> {
    await this.#agent?.close();
  }

  /**
   * Fetches a manifest or index by tag or digest. The body is checked against the requested digest and
   * against the registry's Docker-Content-Digest header.
   */
  async getManifest(path: string, ref: string): Promise<FetchedManifest> {
    const context = this.#manifestContext('get manifest', path, ref);
    const response = await this.#authorizedSend(
      { method: 'GET', url: `/v2/${path}/manifests/${ref}`, headers: { accept: ACCEPT_MANIFESTS } },
      context,
      path,
      'pull',
    );
    if (response.status !== 200) throw this.#statusError(response, context);
    return this.#readManifest(response, ref, context);
  }

  /** The descriptor of a manifest by tag or digest, or undefined when the registry does not have it. */
  async headManifest(path: string, ref: string): Promise<ManifestDescriptor | undefined> {
    const context = this.#manifestContext('head manifest', path, ref);
    const response = await this.#authorizedSend(
      { method: 'HEAD', url: `/v2/${path}/manifests/${ref}`, headers: { accept: ACCEPT_MANIFESTS } },
      context,
      path,
      'pull',
    );
    if (response.status === 404) return undefined;
    if (response.status !== 200) throw this.#statusError(response, context);
    const headerDigest = response.headers.get('docker-content-digest');
    const contentType = response.headers.get('content-type');
    const length = Number(response.headers.get('content-length') ?? Number.NaN);
    if (!headerDigest || !isDigest(headerDigest) || !contentType || !Number.isSafeInteger(length)) {
      // Some registries leave these out of HEAD answers; the manifest itself says everything.
      const { digest, mediaType, size } = await this.getManifest(path, ref);
      return { digest, mediaType, size };
    }
    if (isDigest(ref) && sameAlgorithm(ref, headerDigest) && ref !== headerDigest) {
      throw digestMismatch(context, `the registry reports digest ${headerDigest}`);
    }
    return {
      digest: isDigest(ref) ? ref : headerDigest,
      mediaType: baseMediaType(contentType),
      size: length,
    };
  }

  /** Uploads a manifest under a tag or its digest; returns its digest (checked against the registry's). */
  async putManifest(path: string, ref: string, body: Buffer, mediaType: string): Promise<string> {
    const context = this.#manifestContext('put manifest', path, ref);
    const digest = isDigest(ref) ? ref : digestOf(body);
    if (!matchesDigest(body, digest)) throw digestMismatch(context, 'the manifest body does not hash to it');
    const response = await this.#authorizedSend(
      { method: 'PUT', url: `/v2/${path}/manifests/${ref}`, headers: { 'content-type': mediaType }, body },
      context,
      path,
      'push',
    );
    if (response.status !== 201 && response.status !== 200 && response.status !== 202) {
      throw this.#statusError(response, context);
    }
    checkReportedDigest(response, body, context);
    return digest;
  }

  /** Downloads a blob and checks it against its digest. */
  async getBlob(path: string, digest: string): Promise<Buffer> {
    const context = this.#blobContext('get blob', path, digest);
    const response = await this.#authorizedSend(
      { method: 'GET', url: `/v2/${path}/blobs/${digest}`, headers: {} },
      context,
      path,
      'pull',
    );
    if (response.status !== 200) throw this.#statusError(response, context);
    if (!matchesDigest(response.body, digest)) {
      throw digestMismatch(
        context,
        `the ${response.body.length} bytes received hash to ${digestOf(response.body)}`,
      );
    }
    return response.body;
  }

  /** Downloads a blob holding JSON (an image config, for example) and parses it. */
  async getJsonBlob<T>(path: string, digest: string): Promise<T> {
    const body = await this.getBlob(path, digest);
    try {
      return JSON.parse(body.toString('utf8')) as T;
    } catch (error) {
      throw new RegistryError({
        ...this.#blobContext('get blob', path, digest),
        reason: `the blob is not valid JSON (${(error as Error).message})`,
        code: 'INVALID_JSON',
        cause: error,
      });
    }
  }

  async blobExists(path: string, digest: string): Promise<boolean> {
    return this.#blobExists(path, digest, this.#blobContext('check blob', path, digest), 'pull');
  }

  /**
   * Uploads a blob unless the registry already has it: a POST to open an upload, then a single PUT with the
   * content and its digest. `digest`, when given, must match the content.
   */
  async uploadBlob(path: string, body: Buffer, digest?: string): Promise<BlobUploadResult> {
    const blobDigest = digest ?? digestOf(body);
    const context = this.#blobContext('upload blob', path, blobDigest);
    if (!matchesDigest(body, blobDigest)) throw digestMismatch(context, 'the content does not hash to it');
    if (await this.#blobExists(path, blobDigest, context, 'push'))
      return { digest: blobDigest, uploaded: false };

    const started = await this.#authorizedSend(
      { method: 'POST', url: `/v2/${path}/blobs/uploads/`, headers: {} },
      context,
      path,
      'push',
    );
    if (started.status !== 202 && started.status !== 201) throw this.#statusError(started, context);
    const location = started.headers.get('location');
    if (!location) {
      throw new RegistryError({
        ...context,
        reason: `the registry opened an upload (HTTP ${started.status}) without a Location header`,
        code: 'BLOB_UPLOAD_INVALID',
        status: started.status,
      });
    }
    const uploadUrl = new URL(location, started.url);
    uploadUrl.hash = '';
    const separator = uploadUrl.search ? '&' : '?';
    const putUrl = `${uploadUrl.toString()}${separator}digest=${encodeURIComponent(blobDigest)}`;
    const finished = await this.#authorizedSend(
      {
        method: 'PUT',
        url: putUrl,
        headers: { 'content-type': 'application/octet-stream' },
        body,
      },
      context,
      path,
      'push',
    );
    if (finished.status !== 201 && finished.status !== 200 && finished.status !== 204) {
      throw this.#statusError(finished, context);
    }
    checkReportedDigest(finished, body, context);
    return { digest: blobDigest, uploaded: true };
  }

  /** All tags of a repository, following `Link` pagination; empty when the repository does not exist. */
  async listTags(path: string): Promise<string[]> {
    assertRepositoryPath(path);
    const context: RequestContext = { operation: 'list tags', reference: `${this.registry}/${path}` };
    const tags: string[] = [];
    const visited = new Set<string>();
    let url = `/v2/${path}/tags/list`;
    for (let page = 0; page < MAX_TAG_PAGES; page++) {
      const response = await this.#authorizedSend({ method: 'GET', url, headers: {} }, context, path, 'pull');
      if (response.status === 404 && page === 0) {
        const failure = describeHttpFailure(
          response.status,
          response.body,
          response.headers.get('content-type'),
        );
        if (failure.code === undefined || failure.code === 'NAME_UNKNOWN') return [];
      }
      if (response.status !== 200) throw this.#statusError(response, context);
      tags.push(...readTagPage(response.body, context));
      const next = parseNextLink(response.headers.get('link'));
      if (!next) return tags;
      const nextUrl = new URL(next, response.url).toString();
      if (visited.has(nextUrl)) return tags;
      visited.add(nextUrl);
      url = nextUrl;
    }
    throw new RegistryError({
      ...context,
      reason: `the tag list has more than ${MAX_TAG_PAGES} pages`,
      code: 'TOO_MANY_PAGES',
    });
  }

  async #blobExists(path: string, digest: string, context: RequestContext, access: RepositoryAccess) {
    const response = await this.#authorizedSend(
      { method: 'HEAD', url: `/v2/${path}/blobs/${digest}`, headers: {} },
      context,
      path,
      access,
    );
    if (response.status === 200) return true;
    if (response.status === 404) return false;
    throw this.#statusError(response, context);
  }

  #readManifest(response: HttpResponse, ref: string, context: RequestContext): FetchedManifest {
    const body = response.body;
    if (body.length > MAX_MANIFEST_BYTES) {
      throw new RegistryError({
        ...context,
        reason: `the manifest is ${body.length} bytes, more than the ${MAX_MANIFEST_BYTES} allowed`,
        code: 'MANIFEST_INVALID',
      });
    }
    if (isDigest(ref) && !matchesDigest(body, ref)) {
      throw digestMismatch(context, `the manifest received hashes to ${digestOf(body)}`);
    }
    checkReportedDigest(response, body, context);
    let json: unknown;
    try {
      json = JSON.parse(body.toString('utf8'));
    } catch (error) {
      throw new RegistryError({
        ...context,
        reason: `the manifest is not valid JSON (${(error as Error).message})`,
        code: 'MANIFEST_INVALID',
        cause: error,
      });
    }
    const declared = (json as { mediaType?: unknown } | null)?.mediaType;
    const contentType = response.headers.get('content-type');
    const mediaType = typeof declared === 'string' ? declared : contentType ? baseMediaType(contentType) : '';
    const headerDigest = response.headers.get('docker-content-digest');
    const digest = isDigest(ref)
      ? ref
      : headerDigest && isDigest(headerDigest)
        ? headerDigest
        : digestOf(body);
    return { digest, mediaType, size: body.length, body, json };
  }

  /**
   * Sends a request with whatever authorization is known, and on a 401 answers the registry's challenge
   * and sends it once more. A 401 with fresh credentials, or a 403, is a RegistryAuthError.
   */
  async #authorizedSend(
    request: HttpRequest,
    context: RequestContext,
    path: string,
    access: RepositoryAccess,
  ): Promise<HttpResponse> {
    const scopeKey = repositoryScope(path, access);
    let authorization = await this.#knownAuthorization(path, access, context);
    let response = await this.#send(request, authorization, context);
    if (response.status === 401 && !authorization.fresh) {
      if (authorization.header) this.#tokens.delete(scopeKey);
      authorization = await this.#answerChallenge(response, scopeKey, context);
      response = await this.#send(request, authorization, context);
    }
    if (response.status === 401 || response.status === 403) throw await this.#authError(response, context);
    return response;
  }

  /** Sends to the registry, resolving relative URLs against it and probing https before plain http. */
  async #send(
    request: HttpRequest,
    authorization: Authorization,
    context: RequestContext,
  ): Promise<HttpResponse> {
    const relative = request.url.startsWith('/');
    const build = (): HttpRequest => {
      const url = relative ? `${this.#origin()}${request.url}` : request.url;
      const headers = { ...request.headers };
      // Credentials go to the registry's own origin only, never to upload or redirect targets elsewhere.
      const toRegistry = new URL(url).origin === new URL(this.#origin()).origin;
      if (authorization.header && toRegistry) headers.authorization = authorization.header;
      return { ...request, url, headers };
    };
    try {
      const response = await this.#transport.send(build(), context);
      if (relative && this.#scheme === 'https-then-http') this.#scheme = 'https';
      return response;
    } catch (error) {
      const probing = relative && this.#scheme === 'https-then-http';
      if (!probing || !(error instanceof RegistryError) || error.code !== 'PLAIN_HTTP_SERVER') throw error;
      this.#scheme = 'http';
      if (authorization.header?.startsWith('Basic ') && !isLoopbackHost(this.#endpoint.host)) {
        throw this.#plainHttpCredentialsError(context);
      }
      return this.#transport.send(build(), context);
    }
  }

  #origin(): string {
    return `${this.#scheme === 'http' ? 'http' : 'https'}://${this.#endpoint.host}`;
  }

  /** Authorization from earlier challenges: cached Basic, a cached token, or a new token from a known realm. */
  async #knownAuthorization(
    path: string,
    access: RepositoryAccess,
    context: RequestContext,
  ): Promise<Authorization> {
    if (this.#basicAuthorization) return { header: this.#basicAuthorization, fresh: true };
    const challenge = this.#bearerChallenge;
    if (!challenge) return { fresh: false };
    const scopeKey = repositoryScope(path, access);
    const cached =
      this.#tokens.get(scopeKey) ??
      (access === 'pull' ? this.#tokens.get(repositoryScope(path, 'push')) : undefined);
    if (cached) return { header: `Bearer ${cached}`, fresh: false };
    return { header: await this.#bearerFor(challenge, scopeKey, context), fresh: true };
  }

  async #answerChallenge(
    response: HttpResponse,
    scopeKey: string,
    context: RequestContext,
  ): Promise<Authorization> {
    const header = response.headers.get('www-authenticate');
    if (!header) {
      throw new RegistryAuthError({
        ...context,
        reason: 'HTTP 401 without a WWW-Authenticate challenge',
        status: 401,
        code: 'UNAUTHORIZED',
      });
    }
    let challenge: AuthChallenge;
    try {
      challenge = parseChallenge(header);
    } catch (error) {
      if (!(error instanceof ChallengeParseError)) throw error;
      throw new RegistryAuthError({ ...context, reason: error.message, status: 401, code: 'UNAUTHORIZED' });
    }
    if (challenge.scheme === 'basic') {
      const basic = basicAuthorization(await this.#resolveCredential());
      if (!basic) throw await this.#authError(response, context);
      if (this.#origin().startsWith('http:') && !isLoopbackHost(this.#endpoint.host)) {
        throw this.#plainHttpCredentialsError(context);
      }
      this.#basicAuthorization = basic;
      return { header: basic, fresh: true };
    }
    const { realm } = challenge;
    if (!realm) {
      throw new RegistryAuthError({
        ...context,
        reason: 'the Bearer challenge has no realm to ask for a token',
        status: 401,
        code: 'UNAUTHORIZED',
      });
    }
    this.#bearerChallenge = {
      scheme: 'bearer',
      realm,
      ...(challenge.service ? { service: challenge.service } : {}),
    };
    return { header: await this.#bearerFor({ ...challenge, realm }, scopeKey, context), fresh: true };
  }

  /** A Bearer header for a scope: the configured registry token, or a token from the realm (one at a time). */
  async #bearerFor(
    challenge: AuthChallenge & { realm: string },
    scopeKey: string,
    context: RequestContext,
  ): Promise<string> {
    const credential = await this.#resolveCredential();
    if (credential?.registryToken) return `Bearer ${credential.registryToken}`;
    let pending = this.#pendingTokens.get(scopeKey);
    if (!pending) {
      pending = this.#fetchToken(challenge, scopeKey, credential, context).finally(() =>
        this.#pendingTokens.delete(scopeKey),
      );
      this.#pendingTokens.set(scopeKey, pending);
    }
    return `Bearer ${await pending}`;
  }

  async #fetchToken(
    challenge: AuthChallenge & { realm: string },
    scopeKey: string,
    credential: RegistryCredential | undefined,
    context: RequestContext,
  ): Promise<string> {
    const scopes = mergeScopes([scopeKey], challenge.scope ? [challenge.scope] : []);
    const tokenContext: RequestContext = { ...context, operation: `${context.operation} (token request)` };
    let tokenRequest;
    try {
      tokenRequest = buildTokenRequest(challenge, scopes, credential, TOKEN_CLIENT_ID);
    } catch (error) {
      throw new RegistryAuthError({
        ...tokenContext,
        reason: `the Bearer realm "${challenge.realm}" is not a usable URL`,
        code: 'UNAUTHORIZED',
        cause: error,
      });
    }
    const realmUrl = new URL(tokenRequest.url);
    if (tokenRequest.carriesCredentials && realmUrl.protocol === 'http:' && !isLoopbackHost(realmUrl.host)) {
      throw this.#plainHttpCredentialsError(tokenContext, realmUrl.host);
    }
    const response = await this.#transport.send(
      {
        method: tokenRequest.method,
        url: tokenRequest.url,
        headers: tokenRequest.headers,
        ...(tokenRequest.body ? { body: tokenRequest.body } : {}),
      },
      tokenContext,
    );
    if (response.status === 401 || response.status === 403)
      throw await this.#authError(response, tokenContext);
    if (response.status !== 200) throw this.#statusError(response, tokenContext);
    let issued;
    try {
      issued = parseTokenResponse(response.body);
    } catch (error) {
      throw new RegistryAuthError({
        ...tokenContext,
        reason: (error as Error).message,
        code: 'UNAUTHORIZED',
        status: response.status,
      });
    }
    this.#tokens.set(scopeKey, issued);
    return issued.token;
  }

  #resolveCredential(): Promise<RegistryCredential | undefined> {
    this.#credential ??= this.#credentials
      ? this.#credentials(this.#endpoint.registry)
      : Promise.resolve(undefined);
    return this.#credential;
  }

  async #authError(response: HttpResponse, context: RequestContext): Promise<RegistryAuthError> {
    const failure = describeHttpFailure(response.status, response.body, response.headers.get('content-type'));
    const credential = await this.#resolveCredential().catch(() => undefined);
    const hint =
      credential === undefined
        ? `No credentials were found for ${this.registry}; set the registry-username/registry-password inputs or run docker login ${this.registry}`
        : undefined;
    return new RegistryAuthError({
      ...context,
      reason: failure.reason,
      status: response.status,
      code: failure.code ?? (response.status === 403 ? 'DENIED' : 'UNAUTHORIZED'),
      ...(hint ? { hint } : {}),
    });
  }

  #plainHttpCredentialsError(context: RequestContext, host: string = this.#endpoint.host): RegistryAuthError {
    return new RegistryAuthError({
      ...context,
      reason: `refusing to send credentials over plain http to ${stripPort(host)}`,
      code: 'PLAIN_HTTP_REFUSED',
      hint: 'Serve the registry and its token server over https (plain http may carry credentials only to loopback hosts)',
    });
  }

  #statusError(response: HttpResponse, context: RequestContext): RegistryError {
    const failure = describeHttpFailure(response.status, response.body, response.headers.get('content-type'));
    return new RegistryError({
      ...context,
      reason: failure.reason,
      status: response.status,
      ...(failure.code ? { code: failure.code } : {}),
      retryable: isRetryableStatus(response.status),
      attempts: response.attempts,
    });
  }

  #manifestContext(operation: string, path: string, ref: string): RequestContext {
    assertRepositoryPath(path);
    const kind = assertTagOrDigest(ref);
    return { operation, reference: `${this.registry}/${path}${kind === 'digest' ? '@' : ':'}${ref}` };
  }

  #blobContext(operation: string, path: string, digest: string): RequestContext {
    assertRepositoryPath(path);
    parseDigest(digest);
    return { operation, reference: `${this.registry}/${path}@${digest}` };
  }
}

function readTagPage(body: Buffer, context: RequestContext): string[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body.toString('utf8'));
  } catch {
    throw new RegistryError({ ...context, reason: 'the tag list is not valid JSON', code: 'INVALID_JSON' });
  }
  const tags = (parsed as { tags?: unknown } | null)?.tags;
  if (tags === null || tags === undefined) return [];
  if (!Array.isArray(tags) || !tags.every((tag) => typeof tag === 'string')) {
    throw new RegistryError({
      ...context,
      reason: 'the tag list has no array of strings in "tags"',
      code: 'INVALID_JSON',
    });
  }
  return tags;
}

function sameAlgorithm(a: string, b: string): boolean {
  return a.slice(0, a.indexOf(':')) === b.slice(0, b.indexOf(':'));
}

function digestMismatch(context: RequestContext, detail: string): RegistryError {
  return new RegistryError({ ...context, reason: `digest mismatch: ${detail}`, code: 'DIGEST_MISMATCH' });
}

/** Fails when the registry's Docker-Content-Digest header names a digest the body does not hash to. */
function checkReportedDigest(response: HttpResponse, body: Buffer, context: RequestContext): void {
  const reported = response.headers.get('docker-content-digest');
  if (reported && isDigest(reported) && !matchesDigest(body, reported)) {
    throw digestMismatch(
      context,
      `the registry reports ${reported} but the content hashes to ${digestOf(body)}`,
    );
  }
}
