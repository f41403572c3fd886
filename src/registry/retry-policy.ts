/**
 * The registry client's retry settings. The policy itself (which answers and network failures are retried,
 * Retry-After, backoff) is the project's one policy in `src/process/retry.ts`, re-exported for the client.
 */
import type { RetryOptions } from '../process/retry.js';

export {
  backoffDelayMs,
  classifyNetworkError,
  isRetryableStatus,
  parseRetryAfterMs,
  RETRY_AFTER_CAP_MS,
  type NetworkFailure,
  type NetworkFailureKind,
  type RetryOptions,
} from '../process/retry.js';

/** Four attempts, backoff from 0.5 s up to 8 s; a Retry-After is honoured up to RETRY_AFTER_CAP_MS. */
export const DEFAULT_RETRY: RetryOptions = { attempts: 4, baseDelayMs: 500, maxDelayMs: 8000 };
