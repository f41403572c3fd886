export interface RetryOptions {
  /** Total attempts per request, the first included. */
  attempts: number;
  baseDelayMs: number;
  maxDelayMs: number;
}

export const DEFAULT_RETRY: RetryOptions = { attempts: 4, baseDelayMs: 500, maxDelayMs: 8000 };

/** A server's Retry-After is honoured up to this long. */
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
export function backoffDelayMs(retryNumber: number, retry: RetryOptions, random: () => number): number {
  const ceiling = Math.min(retry.maxDelayMs, retry.baseDelayMs * 2 ** Math.max(0, retryNumber - 1));
  const jitter = Math.min(1, Math.max(0, random()));
  return Math.round(ceiling / 2 + (ceiling / 2) * jitter);
}

/**
 * The delay a `Retry-After` value asks for (delta seconds or an HTTP date), capped at RETRY_AFTER_CAP_MS;
 * undefined when absent or unreadable.
 */
export function parseRetryAfterMs(value: string | null, now: number): number | undefined {
  if (value === null) return undefined;
  const trimmed = value.trim();
  let delayMs: number;
  if (/^\d+$/.test(trimmed)) {
    delayMs = Number(trimmed) * 1000;
  } else {
    const date = Date.parse(trimmed);
    if (Number.isNaN(date)) return undefined;
    delayMs = Math.max(0, date - now);
  }
  return Math.min(delayMs, RETRY_AFTER_CAP_MS);
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
