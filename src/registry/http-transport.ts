import type { Dispatcher } from 'undici';
import {
  classifyNetworkError,
  parseRetryAfterMs,
  RetryBudget,
  retrying,
  type AttemptEnd,
  type NetworkFailure,
  type RetryOptions,
} from '../process/retry.js';
import { RegistryError } from './errors.js';

export interface HeaderReader {
  get(name: string): string | null;
}

/** What the client needs of a fetch response. */
export interface FetchResponseLike {
  status: number;
  headers: HeaderReader;
  arrayBuffer(): Promise<ArrayBuffer>;
  /** The body as it arrives (undici's fetch has it); read whole through arrayBuffer() when absent. */
  body?: AsyncIterable<Uint8Array> | null;
}

/** What the client passes to fetch. Redirects are always followed by the client itself. */
export interface FetchInitLike {
  method: string;
  headers: Record<string, string>;
  body?: Uint8Array;
  redirect: 'manual';
  signal: AbortSignal;
  dispatcher?: Dispatcher;
}

/** A fetch function; undici's `fetch` is one. */
export type FetchLike = (url: string, init: FetchInitLike) => Promise<FetchResponseLike>;

export type HttpMethod = 'GET' | 'HEAD' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

export interface HttpRequest {
  method: HttpMethod;
  /** Absolute URL. */
  url: string;
  /** Lowercase header names. */
  headers: Record<string, string>;
  /** A Buffer, so the request can be sent again on retry. */
  body?: Buffer;
  /**
   * Sent once, never retried here: the caller recovers itself (a blob upload's final PUT, whose upload
   * session may be gone after a lost reply).
   */
  once?: boolean;
  /**
   * A 200 answer's body is left unread, for the caller to read from `stream` (a blob); other
   * answers (errors, redirects) are read whole as usual.
   */
  stream?: boolean;
}

export interface HttpResponse {
  status: number;
  headers: HeaderReader;
  body: Buffer;
  /**
   * The unread body of a streamed request's 200 answer (then `body` is empty); it errors when the
   * connection breaks off or the request's timeout passes. Whoever gets it must read it to the end or
   * stop iterating (which cancels it).
   */
  stream?: AsyncIterable<Uint8Array>;
  /** The URL that gave this response, after redirects. */
  url: string;
  /** Attempts made for the request that gave this response. */
  attempts: number;
  /** Set when the operation's time budget ended the retries: the time it had spent (ms). */
  elapsedMs?: number;
}

/** Names the failing operation in errors, and carries its time budget. */
export interface RequestContext {
  operation: string;
  reference: string;
  /** Shared by every request of the operation; without one, each request gets its own. */
  budget?: RetryBudget;
}

export interface HttpTransportOptions {
  fetchImpl: FetchLike;
  dispatcher?: Dispatcher;
  sleep: (ms: number) => Promise<void>;
  random: () => number;
  now: () => number;
  retry: RetryOptions;
  /** Time budget per operation (ms), retries and waits included. */
  budgetMs: number;
  timeoutMs: number;
  userAgent: string;
  /** What to check when the registry cannot be reached (connection refused, reset, timed out). */
  unreachableHint?: string;
  /** Whether plain http may be used for this URL (checked before every request, redirects included). */
  mayUsePlainHttp: (url: URL) => boolean;
}

const MAX_REDIRECTS = 5;
const EMPTY = Buffer.alloc(0);

function timeoutError(timeoutMs: number): Error {
  return new DOMException(`no answer within ${timeoutMs} ms`, 'TimeoutError');
}

/** `body`, aborted when one wait for its next chunk lasts longer than `timeoutMs`; stopping early cancels it. */
async function* idleTimed(
  body: AsyncIterable<Uint8Array>,
  abort: AbortController,
  timeoutMs: number,
): AsyncIterable<Uint8Array> {
  const chunks = body[Symbol.asyncIterator]();
  try {
    for (;;) {
      const timer = setTimeout(() => abort.abort(timeoutError(timeoutMs)), timeoutMs);
      timer.unref();
      let next: IteratorResult<Uint8Array>;
      try {
        next = await chunks.next();
      } finally {
        clearTimeout(timer);
      }
      if (next.done) return;
      yield next.value;
    }
  } finally {
    await chunks.return?.();
  }
}

/** A body read whole, as a stream of one chunk (a fetch without `body`). */
async function* wholeBody(fetched: FetchResponseLike): AsyncIterable<Uint8Array> {
  yield new Uint8Array(await fetched.arrayBuffer());
}
const REDIRECT_STATUSES = new Set([301, 302, 303, 307, 308]);

/**
 * Sends HTTP requests: one fetch per attempt with a timeout covering the whole body, retries with backoff
 * on 429/5xx and transient network errors, redirects followed by hand (the Authorization header is dropped
 * when a redirect leaves the origin), and plain http refused where it is not allowed. Counts every request.
 */
export class HttpTransport {
  #requestCount = 0;
  readonly #options: HttpTransportOptions;

  constructor(options: HttpTransportOptions) {
    this.#options = options;
  }

  /** A new time budget for one operation. */
  newBudget(): RetryBudget {
    return new RetryBudget(this.#options.budgetMs, this.#options);
  }

  /** HTTP requests made so far: every attempt, redirect hop and token request. */
  get requestCount(): number {
    return this.#requestCount;
  }

  async send(request: HttpRequest, requestContext: RequestContext): Promise<HttpResponse> {
    const context = { ...requestContext, budget: requestContext.budget ?? this.newBudget() };
    let current = request;
    for (let redirects = 0; ; redirects++) {
      const response = await this.#sendWithRetries(current, context);
      const location = response.headers.get('location');
      if (!REDIRECT_STATUSES.has(response.status) || !location) return response;
      if (redirects >= MAX_REDIRECTS) {
        throw new RegistryError({
          operation: context.operation,
          reference: context.reference,
          reason: `more than ${MAX_REDIRECTS} redirects (last to ${redactUrl(location)})`,
          code: 'TOO_MANY_REDIRECTS',
          status: response.status,
        });
      }
      const from = new URL(current.url);
      const to = new URL(location, from);
      const headers = { ...current.headers };
      if (to.origin !== from.origin) delete headers.authorization;
      const keepsBody = response.status === 307 || response.status === 308;
      current = keepsBody
        ? { ...current, url: to.toString(), headers }
        : {
            method: current.method === 'HEAD' ? 'HEAD' : 'GET',
            url: to.toString(),
            headers,
            ...(current.stream ? { stream: true } : {}),
          };
    }
  }

  async #sendWithRetries(
    request: HttpRequest,
    context: RequestContext & { budget: RetryBudget },
  ): Promise<HttpResponse> {
    const options = this.#options;
    const { budget, ...errorContext } = context;
    const url = new URL(request.url);
    if (url.protocol !== 'https:' && url.protocol !== 'http:') {
      throw new RegistryError({
        ...errorContext,
        reason: `unsupported URL scheme ${url.protocol}`,
        code: 'BAD_URL',
      });
    }
    if (url.protocol === 'http:' && !options.mayUsePlainHttp(url)) {
      throw new RegistryError({
        ...errorContext,
        reason: `refusing plain http to ${url.host}`,
        code: 'PLAIN_HTTP_REFUSED',
        hint: 'Plain http is only used for loopback registries or registries explicitly marked insecure',
      });
    }
    const run = await retrying(
      async () => {
        this.#requestCount++;
        // A streamed body is read at its reader's pace: its timeout is for each wait on the network
        // (nothing arrived for timeoutMs), not for the whole body.
        const abort = new AbortController();
        const timer = setTimeout(() => abort.abort(timeoutError(options.timeoutMs)), options.timeoutMs);
        timer.unref();
        let streaming = false;
        try {
          const fetched = await options.fetchImpl(url.toString(), {
            method: request.method,
            headers: { 'user-agent': options.userAgent, ...request.headers },
            ...(request.body ? { body: request.body } : {}),
            redirect: 'manual',
            signal: abort.signal,
            ...(options.dispatcher ? { dispatcher: options.dispatcher } : {}),
          });
          const answer = { status: fetched.status, headers: fetched.headers, url: url.toString() };
          if (request.stream && fetched.status === 200) {
            streaming = true;
            clearTimeout(timer);
            const body = fetched.body ?? wholeBody(fetched);
            return { ...answer, body: EMPTY, stream: idleTimed(body, abort, options.timeoutMs) };
          }
          return { ...answer, body: Buffer.from(await fetched.arrayBuffer()) };
        } finally {
          if (!streaming) clearTimeout(timer);
        }
      },
      (settled): AttemptEnd =>
        settled.ok
          ? {
              kind: 'answer',
              status: settled.value.status,
              askedDelayMs: parseRetryAfterMs(settled.value.headers.get('retry-after'), options.now()),
            }
          : { kind: 'network-error', failure: classifyNetworkError(settled.error, options.timeoutMs) },
      {
        retry: request.once ? { ...options.retry, attempts: 1 } : options.retry,
        sleep: options.sleep,
        random: options.random,
        budget,
      },
    );
    const elapsed = run.why === 'out-of-time' ? { elapsedMs: budget.spentMs } : {};
    if (run.settled.ok) return { ...run.settled.value, attempts: run.attempts, ...elapsed };
    const failure = classifyNetworkError(run.settled.error, options.timeoutMs);
    throw new RegistryError({
      ...errorContext,
      reason: `${request.method} ${redactUrl(url.toString())}: ${describeNetworkFailure(failure)}`,
      code: networkErrorCode(failure.kind),
      retryable: failure.kind === 'transient',
      attempts: run.attempts,
      ...elapsed,
      cause: run.settled.error,
      ...networkErrorHint(failure.kind, url, options.unreachableHint),
    });
  }
}

const NETWORK_CAUSES: Record<string, string> = {
  ECONNREFUSED: 'connection refused (nothing listens on that port)',
  ECONNRESET: 'connection reset',
  EPIPE: 'connection closed while sending',
  ETIMEDOUT: 'connection timed out',
  EHOSTUNREACH: 'host unreachable',
  ENETUNREACH: 'network unreachable',
  EAI_AGAIN: 'name lookup failed (temporary)',
  ENOTFOUND: 'host name not found',
  UND_ERR_SOCKET: 'connection closed by the other side',
  UND_ERR_CONNECT_TIMEOUT: 'connection timed out',
};

/** A network failure in words, e.g. `connection refused (nothing listens on that port): ECONNREFUSED (…)`. */
export function describeNetworkFailure(failure: NetworkFailure): string {
  const words = failure.code ? NETWORK_CAUSES[failure.code] : undefined;
  return words ? `${words}: ${failure.description}` : failure.description;
}

function networkErrorCode(kind: ReturnType<typeof classifyNetworkError>['kind']): string {
  switch (kind) {
    case 'transient':
      return 'CONNECTION_FAILED';
    case 'plain-http-server':
      return 'PLAIN_HTTP_SERVER';
    case 'tls-verification':
      return 'TLS_VERIFICATION_FAILED';
    case 'other':
      return 'REQUEST_FAILED';
  }
}

function networkErrorHint(
  kind: ReturnType<typeof classifyNetworkError>['kind'],
  url: URL,
  unreachableHint: string | undefined,
): { hint?: string } {
  if (kind === 'transient' && unreachableHint) return { hint: unreachableHint };
  if (kind === 'tls-verification') {
    return {
      hint: `The TLS certificate of ${url.host} is not trusted; if the registry uses a private CA, configure its CA certificate (PEM)`,
    };
  }
  if (kind === 'plain-http-server') {
    return {
      hint: `${url.host} answered in plain http; use http:// only for loopback registries or registries marked insecure`,
    };
  }
  return {};
}

/** The URL without its query string, which may carry upload state or signatures. */
export function redactUrl(url: string): string {
  const query = url.indexOf('?');
  return query === -1 ? url : `${url.slice(0, query)}?…`;
}
