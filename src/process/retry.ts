/**
 * The one retry policy for HTTP calls (the OCI registry client and the GitHub API): which answers and
 * network failures are worth another attempt, how long to wait before it (what the server asked for, else
 * exponential backoff with jitter), and the loop that applies it, within a number of attempts and, when
 * given, a time budget per operation (RetryBudget). A server's own signals (GitHub's rate-limit headers)
 * come in as the `retryable` and `askedDelayMs` of an attempt's end; waits go through an injected `sleep`
 * and time through an injected clock, so tests never wait.
 */

export interface RetryOptions {
  /**
   * Total attempts per request, the first included (at least 1); `Infinity` leaves the limit to the
   * time budget.
   */
  attempts: number;
  /** The backoff ceiling starts here and doubles per retry, up to maxDelayMs. */
  baseDelayMs: number;
  maxDelayMs: number;
  /**
   * The longest wait a server may ask for (Retry-After, a rate-limit reset); a longer one ends the retries
   * at once. Default: no limit.
   */
  maxWaitMs?: number;
}

/** A server's Retry-After is honoured up to this long (unless the reader asks for another cap). */
export const RETRY_AFTER_CAP_MS = 60_000;

const RETRYABLE_STATUSES = new Set([429, 500, 502, 503, 504]);

/** 429 and the transient 5xx answers; never other 4xx. */
export function isRetryableStatus(status: number): boolean {
  return RETRYABLE_STATUSES.has(status);
}

/**
 * Exponential backoff with jitter before retry number `retryNumber` (1 for the first retry): the ceiling
 * doubles from `baseDelayMs` up to `maxDelayMs`, and the delay is drawn from its upper half.
 */
export function backoffDelayMs(
  retryNumber: number,
  retry: Pick<RetryOptions, 'baseDelayMs' | 'maxDelayMs'>,
  random: () => number,
): number {
  const ceiling = Math.min(retry.maxDelayMs, retry.baseDelayMs * 2 ** Math.max(0, retryNumber - 1));
  const jitter = Math.min(1, Math.max(0, random()));
  return Math.round(ceiling / 2 + (ceiling / 2) * jitter);
}

/**
 * The delay a `Retry-After` value asks for (delta seconds or an HTTP date), capped at `capMs`; undefined
 * when absent or unreadable.
 */
export function parseRetryAfterMs(
  value: string | null | undefined,
  now: number,
  capMs = RETRY_AFTER_CAP_MS,
): number | undefined {
  if (value === null || value === undefined) return undefined;
  const trimmed = value.trim();
  let delayMs: number;
  if (/^\d+$/.test(trimmed)) {
    delayMs = Number(trimmed) * 1000;
  } else {
    const date = Date.parse(trimmed);
    if (Number.isNaN(date)) return undefined;
    delayMs = Math.max(0, date - now);
  }
  return Math.min(delayMs, capMs);
}

export type NetworkFailureKind =
  /** Connection reset/refused, socket closed, timeouts: worth another attempt. */
  | 'transient'
  /** A TLS handshake was answered in plain HTTP: the server does not speak TLS on that port. */
  | 'plain-http-server'
  /** The server's certificate is not trusted or does not match the host. */
  | 'tls-verification'
  | 'other';

export interface NetworkFailure {
  kind: NetworkFailureKind;
  /** The most specific error code found (ECONNRESET, UND_ERR_SOCKET, DEPTH_ZERO_SELF_SIGNED_CERT, …). */
  code?: string;
  description: string;
}

const TRANSIENT_CODES = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'ECONNABORTED',
  'EPIPE',
  'ETIMEDOUT',
  'EAI_AGAIN',
  'ENETUNREACH',
  'EHOSTUNREACH',
  'UND_ERR_SOCKET',
  'UND_ERR_CLOSED',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
]);
const PLAIN_HTTP_CODES = new Set(['ERR_SSL_WRONG_VERSION_NUMBER', 'ERR_SSL_PACKET_LENGTH_TOO_LONG']);
const TLS_VERIFICATION_CODES = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'CERT_UNTRUSTED',
  'CERT_SIGNATURE_FAILURE',
  'ERR_TLS_CERT_ALTNAME_INVALID',
]);

/**
 * Sorts a thrown fetch error by what the client should do about it, looking through `cause` chains and
 * aggregate errors (fetch wraps the socket error as `TypeError: fetch failed`).
 */
export function classifyNetworkError(error: unknown, timeoutMs: number): NetworkFailure {
  const chain = errorChain(error);
  if (chain.some((entry) => entry.name === 'TimeoutError')) {
    return { kind: 'transient', code: 'TIMEOUT', description: `no complete answer within ${timeoutMs} ms` };
  }
  const withCode = chain.filter((entry) => typeof entry.code === 'string');
  const codes = withCode.map((entry) => entry.code as string);
  const messages = chain.map((entry) => entry.message).join(' | ');
  const innermost = withCode[withCode.length - 1] ?? chain[chain.length - 1];
  const code = typeof innermost?.code === 'string' ? innermost.code : undefined;
  const describe = () => {
    const message = (innermost?.message ?? 'unknown error').split('\n')[0] ?? '';
    return code && !message.includes(code) ? `${code} (${message})` : message;
  };
  const result = (kind: NetworkFailureKind): NetworkFailure => ({
    kind,
    ...(code ? { code } : {}),
    description: describe(),
  });
  if (codes.some((entry) => TLS_VERIFICATION_CODES.has(entry))) return result('tls-verification');
  if (
    codes.some((entry) => PLAIN_HTTP_CODES.has(entry)) ||
    /wrong version number|packet length too long/i.test(messages)
  ) {
    return result('plain-http-server');
  }
  if (
    codes.some((entry) => TRANSIENT_CODES.has(entry)) ||
    /socket hang up|other side closed/i.test(messages)
  ) {
    return result('transient');
  }
  return result('other');
}

interface ErrorLike {
  name?: string;
  message?: string;
  code?: unknown;
}

function errorChain(error: unknown): ErrorLike[] {
  const chain: ErrorLike[] = [];
  const pending: unknown[] = [error];
  while (pending.length > 0 && chain.length < 20) {
    const current = pending.shift();
    if (typeof current !== 'object' || current === null) continue;
    const entry = current as ErrorLike & { cause?: unknown; errors?: unknown };
    chain.push(entry);
    if (entry.cause !== undefined) pending.push(entry.cause);
    if (Array.isArray(entry.errors)) pending.push(...entry.errors);
  }
  return chain;
}

/** How one attempt ended, as the policy sees it. */
export type AttemptEnd =
  | {
      kind: 'answer';
      status: number;
      /** Worth another attempt; default: isRetryableStatus(status). */
      retryable?: boolean;
      /** How long the server asked to wait (Retry-After, a rate-limit reset). Default: backoff. */
      askedDelayMs?: number;
    }
  | { kind: 'network-error'; failure: NetworkFailure };

export type RetryDecision =
  | { retry: true; delayMs: number }
  | {
      retry: false;
      /**
       * `final`: not worth another attempt; `wait-too-long`: the server asked for more than maxWaitMs;
       * `out-of-time`: the operation's time budget is spent.
       */
      why: 'final' | 'out-of-attempts' | 'wait-too-long' | 'out-of-time';
    };

/**
 * Whether attempt number `attempt` (1 for the first) that ended so is tried again, and after how long:
 * transient network failures and retryable answers are, while attempts remain, after the wait the server
 * asked for (when it is at most maxWaitMs) or else the backoff.
 */
export function decideRetry(
  end: AttemptEnd,
  attempt: number,
  retry: RetryOptions,
  random: () => number,
): RetryDecision {
  const retryable =
    end.kind === 'network-error'
      ? end.failure.kind === 'transient'
      : (end.retryable ?? isRetryableStatus(end.status));
  if (!retryable) return { retry: false, why: 'final' };
  if (attempt >= attemptLimit(retry)) return { retry: false, why: 'out-of-attempts' };
  const asked = end.kind === 'answer' ? end.askedDelayMs : undefined;
  if (asked !== undefined && asked > (retry.maxWaitMs ?? Number.POSITIVE_INFINITY)) {
    return { retry: false, why: 'wait-too-long' };
  }
  return { retry: true, delayMs: asked ?? backoffDelayMs(attempt, retry, random) };
}

function attemptLimit(retry: RetryOptions): number {
  return Math.max(1, Math.floor(retry.attempts));
}

/** The clock a budget reads and the sleep it waits with (both injected in tests). */
export interface RetryClock {
  now: () => number;
  sleep: (ms: number) => Promise<void>;
}

/**
 * The time one operation may spend, its retries included (e.g. 60 s for a blob upload: its HEAD, POST and
 * PUT, every retry of them and every wait between). Time spent is the clock's since the budget was made,
 * plus any part of a wait the sleep skipped (an injected sleep that returns at once still spends the
 * budget, so a test of a long outage runs in milliseconds and still ends). Requests of one operation share
 * its budget, nested retries included.
 */
export class RetryBudget {
  readonly totalMs: number;
  readonly #clock: RetryClock;
  readonly #start: number;
  #skippedMs = 0;

  constructor(totalMs: number, clock: RetryClock) {
    this.totalMs = totalMs;
    this.#clock = clock;
    this.#start = clock.now();
  }

  get spentMs(): number {
    return Math.max(0, this.#clock.now() - this.#start) + this.#skippedMs;
  }

  get remainingMs(): number {
    return Math.max(0, this.totalMs - this.spentMs);
  }

  /** Waits `ms` (as asked; the caller caps it), counting it as spent even if the sleep returns sooner. */
  async wait(ms: number): Promise<void> {
    const before = this.#clock.now();
    await this.#clock.sleep(ms);
    this.#skippedMs += Math.max(0, ms - Math.max(0, this.#clock.now() - before));
  }
}

export type Settled<T> = { ok: true; value: T } | { ok: false; error: unknown };

export interface RetryLoop<End extends AttemptEnd> {
  retry: RetryOptions;
  sleep: (ms: number) => Promise<void>;
  random: () => number;
  /**
   * The operation's time budget: no new attempt once it is spent, and no wait (backoff or Retry-After)
   * longer than what remains, so the last attempt falls on the budget's end. A single attempt that used
   * up the budget by itself (a request timeout) is still tried once more. Waits go through its clock.
   */
  budget?: RetryBudget;
  /** Told before each wait, e.g. to log it. */
  onRetry?: (event: { end: End; delayMs: number; nextAttempt: number; attempts: number }) => void;
}

export interface RetryRun<T, End extends AttemptEnd> {
  /** What the last attempt gave or threw. */
  settled: Settled<T>;
  end: End;
  attempts: number;
  why: Extract<RetryDecision, { retry: false }>['why'];
}

/**
 * Runs `attempt` until the policy says to stop, reading each result (or thrown error) with `judge`, and
 * returns the last one; it never throws what an attempt threw.
 */
export async function retrying<T, End extends AttemptEnd>(
  attempt: (attemptNumber: number) => Promise<T>,
  judge: (settled: Settled<T>) => End,
  loop: RetryLoop<End>,
): Promise<RetryRun<T, End>> {
  const attempts = attemptLimit(loop.retry);
  const { budget } = loop;
  for (let number = 1; ; number += 1) {
    let settled: Settled<T>;
    try {
      settled = { ok: true, value: await attempt(number) };
    } catch (error) {
      settled = { ok: false, error };
    }
    const end = judge(settled);
    const decision = decideRetry(end, number, loop.retry, loop.random);
    if (!decision.retry) return { settled, end, attempts: number, why: decision.why };
    let delayMs = decision.delayMs;
    if (budget) {
      const remaining = budget.remainingMs;
      if (remaining <= 0 && number > 1) return { settled, end, attempts: number, why: 'out-of-time' };
      delayMs = Math.min(delayMs, remaining);
    }
    loop.onRetry?.({ end, delayMs, nextAttempt: number + 1, attempts });
    await (budget ? budget.wait(delayMs) : loop.sleep(delayMs));
  }
}
