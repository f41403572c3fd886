/**
 * The OCI distribution API client: manifests and blobs by digest or tag, chunked and monolithic uploads, cross-repo
 * mounts, tag listing, referrers, with the registry's auth challenges (basic and bearer tokens per scope), TLS with an
 * extra CA, the https-then-http fallback for loopback and insecure registries, and the one retry policy.
 *
 * Kept as one file: every endpoint goes through the same request path (auth, scheme, retries, error mapping), and
 * each method is a thin use of it.
 */
import { PassThrough, type Readable, type Writable } from 'node:stream';
import { createSecureContext, rootCertificates } from 'node:tls';
import { Agent } from 'undici';
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
import { BlobCheck, BlobCheckError } from './blob-check.js';
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
  describeNetworkFailure,
  HttpTransport,
  type FetchLike,
  type HttpRequest,
  type HttpResponse,
  type RequestContext,
} from './http-transport.js';
import { parseNextLink } from './link-header.js';
import { ACCEPT_MANIFESTS, baseMediaType, OCI_IMAGE_INDEX } from './media-types.js';
import {
  assertRepositoryPath,
  assertTagOrDigest,
  isDigest,
  isLoopbackHost,
  parseDigest,
  stripPort,
} from './reference.js';
import { DEFAULT_RETRY, DEFAULT_RETRY_BUDGET_MS } from './retry-policy.js';
import { undiciRequest } from './undici-request.js';
import {
  classifyNetworkError,
  isRetryableStatus,
  parseRetryAfterMs,
  retrying,
  type AttemptEnd,
  type RetryOptions,
  type Settled,
} from '../process/retry.js';
import { isRecord } from '../validation/json.js';

export type { FetchLike } from './http-transport.js';

export interface RegistryClientOptions {
  /** host[:port] (`docker.io` for Docker Hub), optionally prefixed by `https://` or `http://`. */
  registry: string;
  credentials?: CredentialResolver;
  /** PEM CA certificate(s) trusted in addition to the system roots. */
  ca?: string | Buffer;
  /** Allow plain http to this (non-loopback) registry. Loopback registries may always use it. */
  insecure?: boolean;
  /** Defaults to undici's request (see ./undici-request.ts). */
  fetchImpl?: FetchLike;
  sleep?: (ms: number) => Promise<void>;
  /** Jitter source in [0, 1); defaults to Math.random. */
  random?: () => number;
  /** Clock in epoch milliseconds (token expiry, HTTP-date Retry-After); defaults to Date.now. */
  now?: () => number;
  retry?: Partial<RetryOptions>;
  /**
   * The time one operation (a manifest read, a blob upload with its HEAD, POST and PUT, …) may take, its
   * retries and waits included. Default DEFAULT_RETRY_BUDGET_MS.
   */
  retryBudgetMs?: number;
  /**
   * What to check when the registry cannot be reached (added to those errors), e.g. which input named
   * it. Default: a generic sentence.
   */
  unreachableHint?: string;
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

export interface BlobUploadOptions {
  /**
   * Repositories of the same registry that may already hold the blob, tried in order with a cross-repository
   * mount (`POST …/blobs/uploads/?mount=<digest>&from=<repo>`) before the content is sent.
   */
  mountFrom?: readonly string[];
  /**
   * The content was made just now (a fresh Sigstore bundle, for example) and the registry cannot have it
   * yet: the existence check (HEAD) is skipped and the content is uploaded. Harmless when wrong: a registry
   * that had the blob takes the same bytes again. A blob this client already saw in the repository is still
   * not sent again.
   */
  knownMissing?: boolean;
}

export interface BlobUploadResult {
  digest: string;
  /** False when nothing was sent: the registry already had the blob, or it was mounted. */
  uploaded: boolean;
  /**
   * Present when mount candidates were given and the blob was not already there: true when a mount
   * succeeded, false when the content had to be uploaded.
   */
  mounted?: boolean;
}

const DEFAULT_TIMEOUT_MS = 60_000;
/** Bytes a blob stream reads ahead of its reader (blobStream). */
const DEFAULT_READ_AHEAD = 4 * 1024 * 1024;
const DEFAULT_USER_AGENT = 'edgeship';
const TOKEN_CLIENT_ID = 'edgeship';
/** Registries commonly refuse manifests above 4 MiB; anything larger is not a manifest. */
const MAX_MANIFEST_BYTES = 4 * 1024 * 1024;
const MAX_TAG_PAGES = 1000;
const MAX_REFERRER_PAGES = 100;

/** Access asked for in a Bearer scope: RepositoryAccess, or `delete` for DELETE requests. */
type Access = RepositoryAccess | 'delete';

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
  /** Settles when the request probing https (scheme `https-then-http`) has its answer; see #send. */
  #schemeProbe: Promise<void> | undefined;
  readonly #insecure: boolean;
  readonly #transport: HttpTransport;
  readonly #agent: Agent;
  readonly #credentials: CredentialResolver | undefined;
  #credential: Promise<RegistryCredential | undefined> | undefined;
  readonly #tokens: TokenCache;
  readonly #pendingTokens = new Map<string, Promise<string>>();
  #basicAuthorization: string | undefined;
  #bearerChallenge: (AuthChallenge & { realm: string }) | undefined;
  /**
   * `<path>@<digest>` of blobs this client saw the registry hold: a HEAD or GET that found them, an upload
   * or a mount it made. Only positives the client observed itself; uploads skip their existence check for
   * these. (Nothing here deletes blobs; one removed behind the client's back makes the manifest that
   * references it fail with BLOB_UNKNOWN rather than go wrong silently.)
   */
  readonly #knownBlobs = new Set<string>();
  /** Uploads under way, per repository and digest: a second upload of the same blob waits for the first. */
  readonly #uploading = new Map<string, Promise<BlobUploadResult>>();
  /** Whether the registry has the referrers API, once an answer showed it; undefined until then. */
  #referrersApi: boolean | undefined;
  /** The retry policy's settings, for the upload loop (the transport has its own copy). */
  readonly #retry: { retry: RetryOptions; sleep: (ms: number) => Promise<void>; random: () => number };
  readonly #now: () => number;
  readonly #timeoutMs: number;

  constructor(options: RegistryClientOptions) {
    this.#insecure = options.insecure ?? false;
    this.#endpoint = parseRegistryEndpoint(options.registry, this.#insecure);
    this.#scheme = this.#endpoint.scheme;
    this.#credentials = options.credentials;
    const now = options.now ?? Date.now;
    this.#now = now;
    this.#timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    this.#tokens = new TokenCache(now);
    // The client's own dispatcher. Its connect timeout is the request timeout: undici's request (see
    // ./undici-request.ts) only ends an attempt on abort once connected, and undici's own connect timeout is 10 s.
    // Given `ca`, one TLS context serves every connection (each would parse the ~150 roots anew).
    this.#agent = new Agent({
      connect: {
        timeout: this.#timeoutMs,
        ...(options.ca === undefined
          ? {}
          : { secureContext: createSecureContext({ ca: [...rootCertificates, options.ca.toString()] }) }),
      },
    });
    this.#retry = {
      retry: { ...DEFAULT_RETRY, ...options.retry },
      sleep: options.sleep ?? ((ms) => new Promise((resolve) => setTimeout(resolve, ms))),
      random: options.random ?? Math.random,
    };
    this.#transport = new HttpTransport({
      fetchImpl: options.fetchImpl ?? undiciRequest,
      dispatcher: this.#agent,
      ...this.#retry,
      now,
      budgetMs: options.retryBudgetMs ?? DEFAULT_RETRY_BUDGET_MS,
      unreachableHint:
        options.unreachableHint ??
        `Check that the registry ${this.#endpoint.registry} is running and reachable from this machine`,
      timeoutMs: this.#timeoutMs,
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

  /**
   * Whether the registry has the referrers API (OCI distribution 1.1): true once a referrers answer or an
   * `OCI-Subject` header on a manifest upload showed it, false once a referrers request was answered with a
   * 404 that is not an image index, undefined before either. Absence is a property of the registry, so
   * getReferrers() asks it only once.
   */
  get referrersApi(): boolean | undefined {
    return this.#referrersApi;
  }

  /** Closes the connections of the client's dispatcher. */
  async close(): Promise<void> {
    await this.#agent.close();
  }

  /**
   * Fetches a manifest or index by tag or digest. The body is checked against the requested digest and
   * against the registry's Docker-Content-Digest header.
   */
  async getManifest(path: string, ref: string): Promise<FetchedManifest> {
    return (await this.#fetchManifest(path, ref, false))!;
  }

  /**
   * getManifest, but undefined when the registry does not have it (HTTP 404): one request where a HEAD for
   * existence and a GET would be two.
   */
  async findManifest(path: string, ref: string): Promise<FetchedManifest | undefined> {
    return this.#fetchManifest(path, ref, true);
  }

  async #fetchManifest(
    path: string,
    ref: string,
    mayBeMissing: boolean,
  ): Promise<FetchedManifest | undefined> {
    const context = this.#manifestContext('get manifest', path, ref);
    const response = await this.#authorizedSend(
      { method: 'GET', url: `/v2/${path}/manifests/${ref}`, headers: { accept: ACCEPT_MANIFESTS } },
      context,
      path,
      'pull',
    );
    if (mayBeMissing && response.status === 404) return undefined;
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
    // Registries with the referrers API say so when they take a manifest with a subject.
    if (response.headers.get('oci-subject')) this.#referrersApi = true;
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
    this.#knownBlobs.add(blobKey(path, digest));
    return response.body;
  }

  /**
   * Reads a blob as a stream, for blobs too large to hold whole (layers): the bytes pass on as they arrive,
   * at most about `readAhead` bytes ahead of the reader, checked against the digest (and `size`) on the way
   * (BlobCheck); a wrong blob fails the stream (DIGEST_MISMATCH) before its end. A read that breaks off
   * midway (connection reset, no data within the timeout) starts again from the first byte under the one
   * retry policy, in the operation's time budget, and the reader gets each byte once. Destroying the stream
   * stops the read.
   */
  blobStream(path: string, digest: string, options: { size?: number; readAhead?: number } = {}): Readable {
    const context = this.#blobContext('get blob', path, digest);
    const out = new PassThrough({ highWaterMark: options.readAhead ?? DEFAULT_READ_AHEAD });
    this.#pumpBlob(path, digest, new BlobCheck(digest, options.size), context, out).then(
      () => {
        if (!out.destroyed) out.end();
      },
      (error: unknown) => out.destroy(error as Error),
    );
    return out;
  }

  async #pumpBlob(
    path: string,
    digest: string,
    check: BlobCheck,
    context: RequestContext,
    out: PassThrough,
  ): Promise<void> {
    const run = await retrying(
      async () => {
        check.restart();
        const response = await this.#authorizedSend(
          { method: 'GET', url: `/v2/${path}/blobs/${digest}`, headers: {}, stream: true },
          context,
          path,
          'pull',
        );
        if (response.status !== 200 || !response.stream) throw this.#statusError(response, context);
        for await (const chunk of response.stream) {
          if (out.destroyed) throw new ReaderGone();
          const part = check.take(chunk);
          if (part.length > 0 && !out.write(part)) await drained(out);
        }
        check.finish();
      },
      (settled): AttemptEnd => {
        if (settled.ok) return { kind: 'answer', status: 200 };
        const { error } = settled;
        // What the request itself met was retried by the transport already; a wrong blob is final.
        if (error instanceof RegistryError || error instanceof BlobCheckError || error instanceof ReaderGone)
          return { kind: 'answer', status: 0, retryable: false };
        return { kind: 'network-error', failure: classifyNetworkError(error, this.#timeoutMs) };
      },
      { ...this.#retry, ...(context.budget ? { budget: context.budget } : {}) },
    );
    if (run.settled.ok) {
      this.#knownBlobs.add(blobKey(path, digest));
      return;
    }
    const { error } = run.settled;
    if (error instanceof BlobCheckError) throw digestMismatch(context, error.message);
    if (error instanceof RegistryError || error instanceof ReaderGone) throw error;
    const failure = classifyNetworkError(error, this.#timeoutMs);
    throw new RegistryError({
      ...context,
      reason: `the download broke off after ${check.passed} bytes: ${describeNetworkFailure(failure)}`,
      code: 'CONNECTION_FAILED',
      retryable: failure.kind === 'transient',
      attempts: run.attempts,
      ...(run.why === 'out-of-time' && context.budget ? { elapsedMs: context.budget.spentMs } : {}),
      cause: error,
    });
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

  /** Asks the registry whether it has a blob (always a request: the answer is the registry's). */
  async blobExists(path: string, digest: string): Promise<boolean> {
    return this.#blobExists(path, digest, this.#blobContext('check blob', path, digest), 'pull');
  }

  /**
   * Uploads a blob unless the registry already has it: a POST to open an upload, then a single PUT with the
   * content and its digest. `digest`, when given, must match the content. Whether the registry has it is
   * asked with a HEAD, unless this client already saw the blob there (nothing is sent then) or the caller
   * says it cannot be there yet (`knownMissing`).
   *
   * With `mountFrom`, a missing blob is first mounted from those repositories, one at a time: 201 means
   * mounted (nothing is sent); 202 means the registry did not mount it but opened an upload session,
   * which is then used for the content. A candidate the credentials may not pull from (401/403) or that
   * the registry refuses otherwise (4xx) is skipped. Uploads of one blob to one repository at once are one upload:
   * the later ones wait for it and share its outcome (uploaded: false).
   */
  async uploadBlob(
    path: string,
    body: Buffer,
    digest?: string,
    options: BlobUploadOptions = {},
  ): Promise<BlobUploadResult> {
    const blobDigest = digest ?? digestOf(body);
    const context = this.#blobContext('upload blob', path, blobDigest);
    if (!matchesDigest(body, blobDigest)) throw digestMismatch(context, 'the content does not hash to it');
    const key = blobKey(path, blobDigest);
    if (this.#knownBlobs.has(key)) return { digest: blobDigest, uploaded: false };
    const underWay = this.#uploading.get(key);
    if (underWay) {
      await underWay;
      return { digest: blobDigest, uploaded: false };
    }
    const upload = this.#upload(path, body, blobDigest, key, context, options);
    this.#uploading.set(key, upload);
    try {
      return await upload;
    } finally {
      this.#uploading.delete(key);
    }
  }

  async #upload(
    path: string,
    body: Buffer,
    blobDigest: string,
    key: string,
    context: RequestContext,
    options: BlobUploadOptions,
  ): Promise<BlobUploadResult> {
    const sources = mountSources(path, options.mountFrom ?? []);
    if (!options.knownMissing && (await this.#blobExists(path, blobDigest, context, 'push')))
      return { digest: blobDigest, uploaded: false };

    let session: { response: HttpResponse; pullFrom: string[] } | undefined;
    for (const from of sources) {
      const mount = await this.#tryMount(path, from, body, blobDigest, context);
      if (mount === 'mounted') {
        this.#knownBlobs.add(key);
        return { digest: blobDigest, uploaded: false, mounted: true };
      }
      if (mount) {
        session = { response: mount, pullFrom: [from] };
        break;
      }
    }
    session ??= { response: await this.#openUpload(path, context), pullFrom: [] };
    await this.#sendContent(path, body, blobDigest, session, context);
    this.#knownBlobs.add(key);
    return { digest: blobDigest, uploaded: true, ...(sources.length > 0 ? { mounted: false } : {}) };
  }

  /**
   * The referrers of a manifest (`GET /v2/<path>/referrers/<digest>`, OCI distribution 1.1) as the JSON
   * of an OCI image index, with the `manifests` of every `Link` page merged (the registry's own bytes
   * when it answered in one page), or undefined when the registry has no referrers API (HTTP 404 whose
   * body is not an image index). With `artifactType`, only referrers of that type; the list is filtered
   * here when the registry does not say (OCI-Filters-Applied) that it did. Once the registry has answered
   * that it has no referrers API, it is not asked again (see referrersApi).
   */
  async getReferrers(path: string, digest: string, artifactType?: string): Promise<Buffer | undefined> {
    const context = this.#blobContext('get referrers', path, digest);
    if (this.#referrersApi === false) return undefined;
    const query = artifactType === undefined ? '' : `?${new URLSearchParams({ artifactType }).toString()}`;
    let url = `/v2/${path}/referrers/${digest}${query}`;
    let first: { body: Buffer; index: Record<string, unknown> } | undefined;
    let rewritten = false;
    const manifests: unknown[] = [];
    const seen = new Set<string>();
    const visited = new Set<string>();
    for (let page = 0; page < MAX_REFERRER_PAGES; page++) {
      const response = await this.#authorizedSend(
        { method: 'GET', url, headers: { accept: OCI_IMAGE_INDEX } },
        context,
        path,
        'pull',
      );
      // A registry without the API answers 404 with an error body or text; one with it may answer 404
      // with an (empty) index for a subject it does not know.
      if (response.status !== 200 && !(response.status === 404 && looksLikeImageIndex(response.body))) {
        if (response.status === 404 && page === 0) {
          this.#referrersApi = false;
          return undefined;
        }
        throw this.#statusError(response, context);
      }
      const index = readReferrersPage(response.body, context);
      this.#referrersApi = true;
      first ??= { body: response.body, index };
      const filterHere = artifactType !== undefined && !filtersApplied(response, 'artifactType');
      const entries = Array.isArray(index.manifests) ? index.manifests : [];
      if (!Array.isArray(index.manifests) || filterHere || page > 0) rewritten = true;
      for (const entry of entries) {
        if (filterHere && !(isRecord(entry) && entry.artifactType === artifactType)) continue;
        const key = isRecord(entry) && typeof entry.digest === 'string' ? entry.digest : undefined;
        if (key !== undefined) {
          if (seen.has(key)) {
            rewritten = true;
            continue;
          }
          seen.add(key);
        }
        manifests.push(entry);
      }
      const next = parseNextLink(response.headers.get('link'));
      const nextUrl = next === undefined ? undefined : new URL(next, response.url).toString();
      if (nextUrl === undefined || visited.has(nextUrl)) {
        if (!rewritten) return first.body;
        const merged = {
          ...first.index,
          schemaVersion: first.index.schemaVersion ?? 2,
          mediaType: first.index.mediaType ?? OCI_IMAGE_INDEX,
          manifests,
        };
        return Buffer.from(JSON.stringify(merged));
      }
      visited.add(nextUrl);
      url = nextUrl;
    }
    throw new RegistryError({
      ...context,
      reason: `the referrers list has more than ${MAX_REFERRER_PAGES} pages`,
      code: 'TOO_MANY_PAGES',
    });
  }

  /**
   * Deletes a manifest by digest (to roll back a failed publish, for example). True when the registry
   * deleted it, false when it did not have it; a registry with deletion disabled (HTTP 405) is an error.
   */
  async deleteManifest(path: string, digest: string): Promise<boolean> {
    // A digest deletes the manifest; a tag deletes only the tag (OCI distribution 1.1; not every registry can).
    assertTagOrDigest(digest);
    const context = this.#manifestContext('delete manifest', path, digest);
    const response = await this.#authorizedSend(
      { method: 'DELETE', url: `/v2/${path}/manifests/${digest}`, headers: {} },
      context,
      path,
      'delete',
    );
    if (response.status === 202 || response.status === 200 || response.status === 204) return true;
    if (response.status === 404) return false;
    if (response.status === 405) {
      const failure = describeHttpFailure(
        response.status,
        response.body,
        response.headers.get('content-type'),
      );
      throw new RegistryError({
        ...context,
        reason: `deletion is disabled on the registry (${failure.reason})`,
        status: response.status,
        code: failure.code ?? 'UNSUPPORTED',
        attempts: response.attempts,
        hint: `Enable deletion on ${this.registry} (for a distribution registry, REGISTRY_STORAGE_DELETE_ENABLED=true) or delete the manifest by hand`,
      });
    }
    throw this.#statusError(response, context);
  }

  /** All tags of a repository, following `Link` pagination; empty when the repository does not exist. */
  async listTags(path: string): Promise<string[]> {
    assertRepositoryPath(path);
    const context: RequestContext = {
      operation: 'list tags',
      reference: `${this.registry}/${path}`,
      budget: this.#transport.newBudget(),
    };
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
    if (response.status === 200) {
      this.#knownBlobs.add(blobKey(path, digest));
      return true;
    }
    if (response.status === 404) return false;
    throw this.#statusError(response, context);
  }

  /**
   * Tries to mount a blob from another repository: 'mounted' (201), the upload session the registry
   * opened instead (202), or undefined when the registry refused the mount without opening one (the
   * credentials may not pull from `from`, or another 4xx).
   */
  async #tryMount(
    path: string,
    from: string,
    body: Buffer,
    digest: string,
    context: RequestContext,
  ): Promise<'mounted' | HttpResponse | undefined> {
    const query = new URLSearchParams({ mount: digest, from }).toString();
    let response: HttpResponse;
    try {
      response = await this.#authorizedSend(
        { method: 'POST', url: `/v2/${path}/blobs/uploads/?${query}`, headers: {} },
        context,
        path,
        'push',
        [from],
      );
    } catch (error) {
      if (error instanceof RegistryAuthError) return undefined;
      throw error;
    }
    if (response.status === 201) {
      checkReportedDigest(response, body, context);
      return 'mounted';
    }
    if (response.status === 202) return response;
    if (response.status >= 400 && response.status < 500 && !isRetryableStatus(response.status)) {
      return undefined;
    }
    throw this.#statusError(response, context);
  }

  /** Opens an upload session (POST); the answer carries its Location. */
  async #openUpload(path: string, context: RequestContext): Promise<HttpResponse> {
    const started = await this.#authorizedSend(
      { method: 'POST', url: `/v2/${path}/blobs/uploads/`, headers: {} },
      context,
      path,
      'push',
    );
    if (started.status !== 202 && started.status !== 201) throw this.#statusError(started, context);
    return started;
  }

  /**
   * Sends the content to an upload session with a single PUT carrying the digest, and recovers when the
   * PUT does not say it worked: after a lost reply (connection error), a 5xx or a session the registry no
   * longer knows (404 BLOB_UPLOAD_UNKNOWN), the blob is looked up (HEAD; there: done) and otherwise sent
   * again in a new session; a 429 is sent again to the same session after the wait asked for. All within
   * the operation's time budget, with the one retry policy's backoff between rounds.
   */
  async #sendContent(
    path: string,
    body: Buffer,
    digest: string,
    first: { response: HttpResponse; pullFrom: string[] },
    context: RequestContext,
  ): Promise<void> {
    let session = first;
    let restart = false;
    const run = await retrying(
      async (): Promise<PutOutcome> => {
        if (restart) {
          if (await this.#blobExists(path, digest, context, 'push')) return { kind: 'present' };
          session = { response: await this.#openUpload(path, context), pullFrom: [] };
        }
        try {
          const response = await this.#putUpload(path, body, digest, session, context);
          return { kind: 'answer', response };
        } catch (error) {
          if (error instanceof RegistryError && error.code === 'CONNECTION_FAILED')
            return { kind: 'lost', error };
          throw error;
        }
      },
      (settled: Settled<PutOutcome>): AttemptEnd => {
        const outcome = settled.ok ? settled.value : undefined;
        restart = outcome?.kind === 'lost';
        // A lost reply is tried again; what the HEAD or POST threw (after their own retries) is final.
        if (outcome?.kind !== 'answer') return { kind: 'answer', status: 0, retryable: restart };
        const { status, headers, body: replyBody } = outcome.response;
        const sessionLost =
          status === 404 &&
          describeHttpFailure(status, replyBody, headers.get('content-type')).code === 'BLOB_UPLOAD_UNKNOWN';
        restart = sessionLost || (status >= 500 && isRetryableStatus(status));
        return {
          kind: 'answer',
          status,
          retryable: sessionLost || isRetryableStatus(status),
          askedDelayMs: parseRetryAfterMs(headers.get('retry-after'), this.#now()),
        };
      },
      { ...this.#retry, ...(context.budget ? { budget: context.budget } : {}) },
    );
    if (!run.settled.ok) throw run.settled.error;
    const outcome = run.settled.value;
    const gaveUp = {
      attempts: run.attempts,
      ...(run.why === 'out-of-time' && context.budget ? { elapsedMs: context.budget.spentMs } : {}),
    };
    if (outcome.kind === 'present') return;
    if (outcome.kind === 'lost') {
      const { error } = outcome;
      throw new RegistryError({
        operation: context.operation,
        reference: context.reference,
        reason: error.reason,
        code: 'CONNECTION_FAILED',
        retryable: true,
        ...gaveUp,
        ...(error.hint ? { hint: error.hint } : {}),
        cause: error.cause,
      });
    }
    const { response } = outcome;
    if (response.status !== 201 && response.status !== 200 && response.status !== 204) {
      throw this.#statusError({ ...response, ...gaveUp }, context);
    }
    checkReportedDigest(response, body, context);
  }

  /** One PUT of the content, with the digest, to the session `started` opened; sent once (see #sendContent). */
  async #putUpload(
    path: string,
    body: Buffer,
    digest: string,
    session: { response: HttpResponse; pullFrom: readonly string[] },
    context: RequestContext,
  ): Promise<HttpResponse> {
    const started = session.response;
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
    const putUrl = `${uploadUrl.toString()}${separator}digest=${encodeURIComponent(digest)}`;
    // The session's own scopes: the token that opened it (with pull on a mount source) is reused.
    return this.#authorizedSend(
      {
        method: 'PUT',
        url: putUrl,
        headers: { 'content-type': 'application/octet-stream' },
        body,
        once: true,
      },
      context,
      path,
      'push',
      session.pullFrom,
    );
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
    access: Access,
    pullFrom: readonly string[] = [],
  ): Promise<HttpResponse> {
    const scopeKey = scopeKeyOf(path, access, pullFrom);
    // A pull may use a cached push token of the same repository.
    const alsoKey = access === 'pull' && pullFrom.length === 0 ? repositoryScope(path, 'push') : undefined;
    let authorization = await this.#knownAuthorization(scopeKey, alsoKey, context);
    let response = await this.#send(request, authorization, context);
    if (response.status === 401 && !authorization.fresh) {
      if (authorization.header) this.#tokens.delete(scopeKey);
      authorization = await this.#answerChallenge(response, scopeKey, context);
      response = await this.#send(request, authorization, context);
    }
    if (response.status === 401 || response.status === 403) throw await this.#authError(response, context);
    return response;
  }

  /**
   * Sends to the registry, resolving relative URLs against it. While the scheme is `https-then-http`, one
   * request at a time probes https (falling back to plain http when the server answers TLS in plain http)
   * and the others wait for its answer; a probe that fails otherwise leaves the next request to probe.
   */
  async #send(
    request: HttpRequest,
    authorization: Authorization,
    context: RequestContext,
  ): Promise<HttpResponse> {
    const relative = request.url.startsWith('/');
    while (relative && this.#scheme === 'https-then-http' && this.#schemeProbe) await this.#schemeProbe;
    const build = (): HttpRequest => {
      const url = relative ? `${this.#origin()}${request.url}` : request.url;
      const headers = { ...request.headers };
      // Credentials go to the registry's own origin only, never to upload or redirect targets elsewhere.
      const toRegistry = new URL(url).origin === new URL(this.#origin()).origin;
      if (authorization.header && toRegistry) headers.authorization = authorization.header;
      return { ...request, url, headers };
    };
    if (!relative || this.#scheme !== 'https-then-http') return this.#transport.send(build(), context);

    // No await since the check above: this request is the only probe.
    const settle = this.#startSchemeProbe();
    try {
      const response = await this.#transport.send(build(), context);
      this.#scheme = 'https';
      return response;
    } catch (error) {
      if (!(error instanceof RegistryError) || error.code !== 'PLAIN_HTTP_SERVER') throw error;
      this.#scheme = 'http';
    } finally {
      settle();
    }
    if (authorization.header?.startsWith('Basic ') && !isLoopbackHost(this.#endpoint.host)) {
      throw this.#plainHttpCredentialsError(context);
    }
    return this.#transport.send(build(), context);
  }

  /** Marks a scheme probe as under way; the function returned settles it. */
  #startSchemeProbe(): () => void {
    let resolve: () => void = () => undefined;
    const probe = new Promise<void>((settle) => {
      resolve = settle;
    });
    this.#schemeProbe = probe;
    return () => {
      if (this.#schemeProbe === probe) this.#schemeProbe = undefined;
      resolve();
    };
  }

  #origin(): string {
    return `${this.#scheme === 'http' ? 'http' : 'https'}://${this.#endpoint.host}`;
  }

  /** Authorization from earlier challenges: cached Basic, a cached token, or a new token from a known realm. */
  async #knownAuthorization(
    scopeKey: string,
    alsoKey: string | undefined,
    context: RequestContext,
  ): Promise<Authorization> {
    if (this.#basicAuthorization) return { header: this.#basicAuthorization, fresh: true };
    const challenge = this.#bearerChallenge;
    if (!challenge) return { fresh: false };
    const cached =
      this.#tokens.get(scopeKey) ?? (alsoKey === undefined ? undefined : this.#tokens.get(alsoKey));
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
      ...(response.elapsedMs === undefined ? {} : { elapsedMs: response.elapsedMs }),
    });
  }

  /** Each operation gets its own time budget, shared by its requests (see RetryBudget). */
  #manifestContext(operation: string, path: string, ref: string): RequestContext {
    assertRepositoryPath(path);
    const kind = assertTagOrDigest(ref);
    const reference = `${this.registry}/${path}${kind === 'digest' ? '@' : ':'}${ref}`;
    return { operation, reference, budget: this.#transport.newBudget() };
  }

  #blobContext(operation: string, path: string, digest: string): RequestContext {
    assertRepositoryPath(path);
    parseDigest(digest);
    return {
      operation,
      reference: `${this.registry}/${path}@${digest}`,
      budget: this.#transport.newBudget(),
    };
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

/** How one round of a blob upload's PUT ended (see #sendContent). */
type PutOutcome =
  { kind: 'present' } | { kind: 'answer'; response: HttpResponse } | { kind: 'lost'; error: RegistryError };

/** The key of a blob in a repository, for the blobs a client knows the registry has. */
function blobKey(path: string, digest: string): string {
  return `${path}@${digest}`;
}

/** The reader of a blob stream destroyed it: the read stops. */
class ReaderGone extends Error {
  override name = 'ReaderGone';
  constructor() {
    super('the blob stream was closed by its reader');
  }
}

/** Resolves when `out` takes more writes again, or is closed. */
function drained(out: Writable): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      out.off('drain', done);
      out.off('close', done);
      resolve();
    };
    out.on('drain', done);
    out.on('close', done);
  });
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

/** A Bearer scope key: the access to `path`, plus pull on each repository in `pullFrom` (blob mounts). */
function scopeKeyOf(path: string, access: Access, pullFrom: readonly string[]): string {
  const own = access === 'delete' ? `repository:${path}:delete` : repositoryScope(path, access);
  if (pullFrom.length === 0) return own;
  return mergeScopes(
    [own],
    pullFrom.map((from) => repositoryScope(from, 'pull')),
  ).join(' ');
}

/** The mount candidates for a blob upload to `path`: checked, without `path` itself or repeats. */
function mountSources(path: string, candidates: readonly string[]): string[] {
  const sources: string[] = [];
  for (const candidate of candidates) {
    assertRepositoryPath(candidate);
    if (candidate !== path && !sources.includes(candidate)) sources.push(candidate);
  }
  return sources;
}

/** Whether a body is an OCI image index (a referrers answer), as opposed to an error body or text. */
function looksLikeImageIndex(body: Buffer): boolean {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body.toString('utf8'));
  } catch {
    return false;
  }
  if (!isRecord(parsed) || 'errors' in parsed) return false;
  return parsed.mediaType === OCI_IMAGE_INDEX || Array.isArray(parsed.manifests);
}

/** One page of a referrers answer: an image index whose `manifests` is an array (or null, for none). */
function readReferrersPage(body: Buffer, context: RequestContext): Record<string, unknown> {
  const invalid = (reason: string) =>
    new RegistryError({ ...context, reason: `the referrers answer ${reason}`, code: 'MANIFEST_INVALID' });
  if (body.length > MAX_MANIFEST_BYTES) {
    throw invalid(`is ${body.length} bytes, more than the ${MAX_MANIFEST_BYTES} allowed`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(body.toString('utf8'));
  } catch {
    throw invalid('is not valid JSON');
  }
  if (!isRecord(parsed)) throw invalid('is not a JSON object');
  if (parsed.mediaType !== undefined && parsed.mediaType !== OCI_IMAGE_INDEX) {
    throw invalid(`is a ${String(parsed.mediaType)}, not an OCI image index`);
  }
  const { manifests } = parsed;
  if (manifests !== undefined && manifests !== null && !Array.isArray(manifests)) {
    throw invalid('has no manifests array');
  }
  return parsed;
}

/** Whether the registry says (OCI-Filters-Applied) it applied a filter to its answer. */
function filtersApplied(response: HttpResponse, filter: string): boolean {
  const header = response.headers.get('oci-filters-applied') ?? '';
  return header
    .split(',')
    .map((entry) => entry.trim())
    .includes(filter);
}
