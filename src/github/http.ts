/**
 * A small GitHub REST transport: one fetch per attempt with a timeout, bounded retries with backoff on
 * 5xx, 429, rate-limited 403 and connection failures, honouring `retry-after` and `x-ratelimit-reset`.
 * It never throws for an HTTP status: the caller reads the final answer and words the error.
 */

/** GitHub's REST API version this client is written against. */
export const GITHUB_API_VERSION = '2022-11-28';

export const DEFAULT_USER_AGENT = 'edgeship';

export interface GitHubRetryOptions {
  /** Total attempts per request, the first included (at least 1). */
  attempts: number;
  /** The backoff ceiling starts here and doubles per retry (capped at MAX_BACKOFF_MS). */
  baseDelayMs: number;
  /**
   * The longest a rate-limited request waits for `retry-after` / `x-ratelimit-reset`; a longer wait
   * fails at once, saying when the limit resets.
   */
  maxWaitMs?: number;
}

export const DEFAULT_GITHUB_RETRY: Required<GitHubRetryOptions> = {
  attempts: 4,
  baseDelayMs: 1000,
  maxWaitMs: 120_000,
};

/** Backoff ceilings never exceed this. */
export const MAX_BACKOFF_MS = 30_000;

/** GitHub: "Otherwise, wait for at least one minute before retrying" (secondary rate limits). */
export const SECONDARY_RATE_LIMIT_WAIT_MS = 60_000;

export type GitHubMethod = 'GET' | 'POST' | 'PATCH' | 'DELETE';

export interface GitHubRequest {
  method: GitHubMethod;
  /** Absolute URL. */
  url: string;
  /** Sent as `Content-Type` and `Content-Length` with the body; a Buffer so a retry can send it again. */
  body?: { bytes: Buffer; contentType: string };
  timeoutMs: number;
  /** Names the request in retry warnings, e.g. `upload release asset sbom.json (tag v1.2.0)`. */
  what: string;
}

export interface RateLimitState {
  /** When the rate limit resets (epoch ms), from `x-ratelimit-reset`. */
  resetAt?: number;
  /** How long the server asked to wait (ms), when that was longer than allowed. */
  waitMs?: number;
}

export type GitHubResult =
  | {
      kind: 'response';
      status: number;
      headers: Headers;
      body: Buffer;
      attempts: number;
      /** Set when the final answer was a rate-limit answer (429 or rate-limited 403). */
      rateLimit?: RateLimitState;
    }
  | { kind: 'network-error'; description: string; attempts: number; cause: unknown };

export interface GitHubTransportOptions {
  token: string;
  fetchImpl: typeof fetch;
  sleep: (ms: number) => Promise<void>;
  retry: Required<GitHubRetryOptions>;
  userAgent: string;
  warn: (message: string) => void;
  now: () => number;
  random: () => number;
}

export type RetryDecision =
  { retry: false } | { retry: true; rateLimited: boolean; delayMs?: number; resetAt?: number };

interface HeaderGetter {
  get(name: string): string | null;
}

/**
 * Whether an answer is worth another attempt, and how long the server asked to wait: 5xx (honouring
 * `retry-after`), 429, and 403 when it is a rate limit (`x-ratelimit-remaining: 0`, a `retry-after`, or
 * GitHub's "rate limit" message). Never other 4xx.
 */
export function retryDecision(
  status: number,
  headers: HeaderGetter,
  body: string,
  now: number,
): RetryDecision {
  if (status >= 500 && status <= 599) {
    const delayMs = parseRetryAfterMs(headers.get('retry-after'), now);
    return { retry: true, rateLimited: false, ...(delayMs === undefined ? {} : { delayMs }) };
  }
  if (status !== 403 && status !== 429) return { retry: false };
  const retryAfter = parseRetryAfterMs(headers.get('retry-after'), now);
  const remaining = headers.get('x-ratelimit-remaining')?.trim();
  const resetAt = parseRateLimitReset(headers.get('x-ratelimit-reset'));
  const primaryExhausted = remaining === '0';
  const mentionsRateLimit = /rate limit/i.test(gitHubMessage(body) ?? '');
  if (status === 403 && !primaryExhausted && retryAfter === undefined && !mentionsRateLimit) {
    return { retry: false };
  }
  let delayMs: number;
  if (retryAfter !== undefined) delayMs = retryAfter;
  else if (primaryExhausted && resetAt !== undefined) delayMs = Math.max(0, resetAt - now) + 1000;
  else delayMs = SECONDARY_RATE_LIMIT_WAIT_MS;
  return {
    retry: true,
    rateLimited: true,
    delayMs,
    ...(primaryExhausted && resetAt !== undefined ? { resetAt } : {}),
  };
}

/** `retry-after` as delta seconds or an HTTP date, in ms from `now`; undefined when absent or unreadable. */
export function parseRetryAfterMs(value: string | null, now: number): number | undefined {
  if (value === null) return undefined;
  const trimmed = value.trim();
  if (/^\d+$/.test(trimmed)) return Number(trimmed) * 1000;
  const date = Date.parse(trimmed);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}

/** `x-ratelimit-reset` (UTC epoch seconds) as epoch ms. */
export function parseRateLimitReset(value: string | null): number | undefined {
  if (value === null || !/^\s*\d+\s*$/.test(value)) return undefined;
  return Number(value.trim()) * 1000;
}

/** Exponential backoff: the ceiling doubles from baseDelayMs per retry; the delay is in its upper half. */
export function backoffDelayMs(retryNumber: number, baseDelayMs: number, random: () => number): number {
  const ceiling = Math.min(MAX_BACKOFF_MS, baseDelayMs * 2 ** Math.max(0, retryNumber - 1));
  const jitter = Math.min(1, Math.max(0, random()));
  return Math.round(ceiling / 2 + (ceiling / 2) * jitter);
}

/** The `message` of a GitHub JSON error body, if any. */
export function gitHubMessage(body: string): string | undefined {
  const parsed = parseJson(body);
  if (typeof parsed === 'object' && parsed !== null && 'message' in parsed) {
    const message = (parsed as { message?: unknown }).message;
    if (typeof message === 'string' && message.trim() !== '') return message.trim();
  }
  return undefined;
}

export function parseJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

/** Sends GitHub REST requests with authentication, the API version headers and bounded retries. */
export class GitHubTransport {
  readonly #options: GitHubTransportOptions;

  constructor(options: GitHubTransportOptions) {
    this.#options = options;
  }

  async send(request: GitHubRequest): Promise<GitHubResult> {
    const { retry, sleep, warn, now, random } = this.#options;
    const attempts = Math.max(1, Math.floor(retry.attempts));
    for (let attempt = 1; ; attempt += 1) {
      let response: Response;
      let body: Buffer;
      try {
        response = await this.#options.fetchImpl(request.url, this.#init(request));
        body = Buffer.from(await response.arrayBuffer());
      } catch (error) {
        const description = describeNetworkError(error, request.timeoutMs);
        if (attempt >= attempts)
          return { kind: 'network-error', description, attempts: attempt, cause: error };
        const delayMs = backoffDelayMs(attempt, retry.baseDelayMs, random);
        warn(`${request.what}: ${description}; ${retryingIn(delayMs, attempt + 1, attempts)}`);
        await sleep(delayMs);
        continue;
      }
      const decision = retryDecision(response.status, response.headers, body.toString('utf8'), now());
      const final = (rateLimit?: RateLimitState): GitHubResult => ({
        kind: 'response',
        status: response.status,
        headers: response.headers,
        body,
        attempts: attempt,
        ...(rateLimit ? { rateLimit } : {}),
      });
      if (!decision.retry) return final();
      const rateLimit: RateLimitState | undefined = decision.rateLimited
        ? decision.resetAt === undefined
          ? {}
          : { resetAt: decision.resetAt }
        : undefined;
      if (attempt >= attempts) return final(rateLimit);
      const delayMs = decision.delayMs ?? backoffDelayMs(attempt, retry.baseDelayMs, random);
      if (decision.rateLimited && delayMs > retry.maxWaitMs) {
        return final({ ...rateLimit, waitMs: delayMs });
      }
      const why = decision.rateLimited ? 'rate limited' : 'server error';
      warn(
        `${request.what}: HTTP ${response.status} (${why}); ${retryingIn(delayMs, attempt + 1, attempts)}`,
      );
      await sleep(delayMs);
    }
  }

  #init(request: GitHubRequest): RequestInit {
    const headers: Record<string, string> = {
      Accept: 'application/vnd.github+json',
      Authorization: `Bearer ${this.#options.token}`,
      'X-GitHub-Api-Version': GITHUB_API_VERSION,
      'User-Agent': this.#options.userAgent,
    };
    const init: RequestInit = {
      method: request.method,
      headers,
      redirect: 'follow',
      signal: AbortSignal.timeout(request.timeoutMs),
    };
    if (request.body) {
      headers['Content-Type'] = request.body.contentType;
      headers['Content-Length'] = String(request.body.bytes.length);
      init.body = request.body.bytes;
    }
    return init;
  }
}

function retryingIn(delayMs: number, nextAttempt: number, attempts: number): string {
  return `retrying in ${(delayMs / 1000).toFixed(1)} s (attempt ${nextAttempt} of ${attempts})`;
}

interface ErrorLike {
  name?: unknown;
  message?: unknown;
  code?: unknown;
  cause?: unknown;
}

/** `ECONNRESET (read ECONNRESET)`, `no answer within 60000 ms`, … from a fetch rejection's cause chain. */
export function describeNetworkError(error: unknown, timeoutMs: number): string {
  const chain: ErrorLike[] = [];
  let current: unknown = error;
  while (typeof current === 'object' && current !== null && chain.length < 10) {
    chain.push(current as ErrorLike);
    current = (current as ErrorLike).cause;
  }
  if (chain.some((entry) => entry.name === 'TimeoutError')) return `no answer within ${timeoutMs} ms`;
  const innermost = [...chain].reverse().find((entry) => typeof entry.code === 'string') ?? chain.at(-1);
  const message = typeof innermost?.message === 'string' ? (innermost.message.split('\n')[0] ?? '') : '';
  const code = typeof innermost?.code === 'string' ? innermost.code : undefined;
  if (code && !message.includes(code)) return message ? `${code} (${message})` : code;
  return message || String(error);
}
