import { STATUS_CODES } from 'node:http';
import { isRecord } from '../validation/json.js';

/** Thrown when an image repository, tag or digest written by the user does not follow the reference grammar. */
export class InvalidReferenceError extends Error {
  readonly value: string;
  readonly expected: string;

  /** `what` names the kind of value, e.g. `image repository`, `tag`, `digest`. */
  constructor(what: string, value: string, reason: string, expected: string) {
    super(`invalid ${what} "${value}": ${reason}; expected ${expected}`);
    this.name = 'InvalidReferenceError';
    this.value = value;
    this.expected = expected;
  }
}

export interface RegistryErrorInit {
  /** What was being accessed, e.g. `ghcr.io/acme/agent:v1` or `ghcr.io/acme/agent@sha256:…`. */
  reference: string;
  /** What the client was doing, e.g. `get manifest`, `upload blob`. */
  operation: string;
  /** Why it failed, in words (status line, registry error code and message, or the network error). */
  reason: string;
  status?: number;
  /** The registry's error code (MANIFEST_UNKNOWN, UNAUTHORIZED, …) or a local one (DIGEST_MISMATCH, …). */
  code?: string;
  retryable?: boolean;
  /** How many attempts were made; mentioned in the message when more than one. */
  attempts?: number;
  /** Set when the time budget ended the retries: how long the operation tried (ms). */
  elapsedMs?: number;
  /** A sentence telling the user what to check. */
  hint?: string;
  cause?: unknown;
}

/** A failed registry operation. The message names the reference, the operation and the registry's reason. */
export class RegistryError extends Error {
  readonly reference: string;
  readonly operation: string;
  /** Why it failed, as given (the message adds the operation, attempts and hint). */
  readonly reason: string;
  readonly hint?: string;
  readonly status?: number;
  readonly code?: string;
  readonly retryable: boolean;
  readonly attempts?: number;
  readonly elapsedMs?: number;

  constructor(init: RegistryErrorInit) {
    super(formatRegistryErrorMessage(init), init.cause === undefined ? undefined : { cause: init.cause });
    this.name = 'RegistryError';
    this.reference = init.reference;
    this.operation = init.operation;
    this.reason = init.reason;
    if (init.hint !== undefined) this.hint = init.hint;
    this.retryable = init.retryable ?? false;
    if (init.status !== undefined) this.status = init.status;
    if (init.code !== undefined) this.code = init.code;
    if (init.attempts !== undefined) this.attempts = init.attempts;
    if (init.elapsedMs !== undefined) this.elapsedMs = init.elapsedMs;
  }
}

/** 401/403 from a registry or its token server: the credentials are missing, wrong or lack permission. */
export class RegistryAuthError extends RegistryError {
  constructor(init: RegistryErrorInit) {
    super({
      ...init,
      retryable: false,
      hint:
        init.hint ??
        'Check the registry-username/registry-password inputs (or the docker login credentials) for this registry and that they may access the repository.',
    });
    this.name = 'RegistryAuthError';
  }
}

function formatRegistryErrorMessage(init: RegistryErrorInit): string {
  let message = `${init.operation} ${init.reference} failed: ${init.reason}`;
  if (init.attempts !== undefined && init.attempts > 1) {
    const over = init.elapsedMs === undefined ? '' : ` over ${formatSeconds(init.elapsedMs)}`;
    message += ` (gave up after ${init.attempts} attempts${over})`;
  }
  if (init.hint) message += `. ${init.hint}`;
  return message;
}

/** A duration for messages: `0.4 s`, `61 s`. */
export function formatSeconds(ms: number): string {
  return ms < 10_000 ? `${(ms / 1000).toFixed(1)} s` : `${Math.round(ms / 1000)} s`;
}

/** One entry of a registry's JSON error body. */
export interface RegistryErrorDetail {
  code?: string;
  message?: string;
}

/**
 * Reads the distribution-spec error body `{"errors":[{"code","message","detail"}]}`, and the shapes token
 * servers use (`{"details": "..."}`, `{"error": "...", "error_description": "..."}`, `{"message": "..."}`).
 * Returns an empty list for anything else.
 */
export function parseRegistryErrorBody(body: Buffer | string): RegistryErrorDetail[] {
  const text = typeof body === 'string' ? body : body.toString('utf8');
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return [];
  }
  if (!isRecord(parsed)) return [];
  if (Array.isArray(parsed.errors)) {
    return parsed.errors.filter(isRecord).map((entry) => ({
      ...(typeof entry.code === 'string' ? { code: entry.code } : {}),
      ...(typeof entry.message === 'string' ? { message: entry.message } : {}),
    }));
  }
  const single = firstString(parsed.details, parsed.error_description, parsed.message, parsed.error);
  const code = typeof parsed.error === 'string' && single !== parsed.error ? parsed.error : undefined;
  return single === undefined ? [] : [{ ...(code ? { code } : {}), message: single }];
}

/**
 * Describes an HTTP failure: `HTTP 404 Not Found, MANIFEST_UNKNOWN: manifest unknown`. Non-JSON text bodies
 * (not HTML) contribute a short excerpt.
 */
export function describeHttpFailure(
  status: number,
  body: Buffer,
  contentType: string | null,
): { reason: string; code?: string } {
  const statusLine = `HTTP ${status}${STATUS_CODES[status] ? ` ${STATUS_CODES[status]}` : ''}`;
  const details = parseRegistryErrorBody(body);
  const first = details[0];
  if (first) {
    const text = [first.code, first.message].filter(Boolean).join(': ');
    return {
      reason: text ? `${statusLine}, ${text}` : statusLine,
      ...(first.code ? { code: first.code } : {}),
    };
  }
  const isHtml = (contentType ?? '').toLowerCase().includes('html');
  const excerpt = isHtml ? '' : body.toString('utf8').replace(/\s+/g, ' ').trim().slice(0, 200);
  return { reason: excerpt ? `${statusLine}: ${excerpt}` : statusLine };
}

function firstString(...values: unknown[]): string | undefined {
  return values.find((value): value is string => typeof value === 'string' && value.length > 0);
}
