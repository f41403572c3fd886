/**
 * The registry client's retry settings. The policy itself (which answers and network failures are retried,
 * Retry-After, backoff, the time budget) is the project's one policy in `src/process/retry.ts`.
 */
import type { RetryOptions } from '../process/retry.js';

/**
 * As many attempts as the time budget allows, backoff from 0.5 s up to 8 s between them; a Retry-After is
 * honoured up to RETRY_AFTER_CAP_MS and what remains of the budget.
 */
export const DEFAULT_RETRY: RetryOptions = {
  attempts: Number.POSITIVE_INFINITY,
  baseDelayMs: 500,
  maxDelayMs: 8000,
};

/** The time one registry operation may take, retries included, unless the registry-retry-budget input says. */
export const DEFAULT_RETRY_BUDGET_MS = 60_000;
