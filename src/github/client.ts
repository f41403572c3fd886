/**
 * The GitHub REST client: Octokit from `@actions/github`, with the project's one retry policy
 * (src/process/retry.ts) wrapped around every request, GitHub's rate-limit signals fed into it, a timeout per
 * attempt and the REST API version header. A request that still fails throws a GitHubCallError for the
 * caller to word.
 */
import { AsyncLocalStorage } from 'node:async_hooks';

import type { getOctokit } from '@actions/github';

import {
  classifyNetworkError,
  parseRetryAfterMs,
  retrying,
  type AttemptEnd,
  type NetworkFailure,
  type RetryOptions,
  type Settled,
} from '../process/retry.js';

/** GitHub's REST API version this client is written against. */
export const GITHUB_API_VERSION = '2022-11-28';

export interface GitHubApi {
  /** GITHUB_API_URL, e.g. `https://api.github.com` or `https://ghe.example.com/api/v3`. */
  apiUrl: string;
  token: string;
  /** `owner/name`. */
  repository: string;
  /** Default: the one `@actions/github` sets up (it honours the runner's proxy settings). */
  fetchImpl?: typeof fetch;
  /** Waits between attempts; default setTimeout. */
  sleep?: (ms: number) => Promise<void>;
  /** Default DEFAULT_GITHUB_RETRY. */
  retry?: Partial<RetryOptions>;
  /** Per-attempt timeout of API calls (ms). Default 60 s; uploads get 15 min. */
  timeoutMs?: number;
}

/** Four attempts, backoff from 1 s up to 30 s; a rate-limited request waits up to 2 min for its reset. */
export const DEFAULT_GITHUB_RETRY: Required<RetryOptions> = {
  attempts: 4,
  baseDelayMs: 1000,
  maxDelayMs: 30_000,
  maxWaitMs: 120_000,
};

/** GitHub: "Otherwise, wait for at least one minute before retrying" (secondary rate limits). */
export const SECONDARY_RATE_LIMIT_WAIT_MS = 60_000;

export const DEFAULT_TIMEOUT_MS = 60_000;

export type Octokit = ReturnType<typeof getOctokit>;

/** How a request that did not succeed ended, after the retries. */
export type GitHubFailure =
  | {
      kind: 'answer';
      status: number;
      headers: Record<string, string | number | undefined>;
      /** The body as Octokit read it: parsed JSON, text, or bytes. */
      data: unknown;
      attempts: number;
      /** The last answer was a rate limit (429 or a rate-limited 403). */
      rateLimited: boolean;
      /** When the primary rate limit resets (epoch ms), from `x-ratelimit-reset`. */
      resetAt?: number;
      /** Set when GitHub asked to wait longer than allowed (ms), which was not waited for. */
      waitTooLongMs?: number;
    }
  | { kind: 'network'; failure: NetworkFailure; host: string; attempts: number; cause: unknown };

export class GitHubCallError extends Error {
  constructor(readonly failure: GitHubFailure) {
    super(
      failure.kind === 'answer' ? `HTTP ${failure.status}` : `cannot reach ${failure.host}`,
      failure.kind === 'network' ? { cause: failure.cause } : undefined,
    );
    this.name = 'GitHubCallError';
  }
}

export interface GitHubClient {
  /**
   * Runs `call` with the Octokit. Its requests are named `what` in retry warnings (e.g. `upload release
   * asset sbom.json (tag v1.2.0)`) and time out after `timeoutMs` per attempt.
   */
  call<T>(what: string, call: (octokit: Octokit) => Promise<T>, timeoutMs?: number): Promise<T>;
}

/** A GitHub answer as the retry policy sees it. */
export type GitHubAttemptEnd = AttemptEnd & { rateLimited?: boolean; resetAt?: number };

/**
 * Octokit for `api`: every request goes through the one retry policy, warning through `warn` before each
 * retry, with `Accept` and `X-GitHub-Api-Version` set as GitHub recommends.
 */
export function createGitHubClient(api: GitHubApi, warn: (message: string) => void): GitHubClient {
  const retry = { ...DEFAULT_GITHUB_RETRY, ...api.retry };
  const sleep = api.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)));
  const scope = new AsyncLocalStorage<{ what: string; timeoutMs: number }>();
  const wrapRequests = (made: Octokit) =>
    made.hook.wrap('request', async (request, options) => {
      const { what, timeoutMs } = scope.getStore() ?? {
        what: `${options.method} ${options.url}`,
        timeoutMs: api.timeoutMs ?? DEFAULT_TIMEOUT_MS,
      };
      options.headers.accept = 'application/vnd.github+json';
      options.headers['x-github-api-version'] = GITHUB_API_VERSION;
      const run = await retrying(
        async () => {
          // The inner hooks (auth) and the request read this options object, not what is passed on.
          options.request = { ...options.request, signal: AbortSignal.timeout(timeoutMs) };
          return request(options);
        },
        (settled): GitHubAttemptEnd => attemptEnd(settled, timeoutMs, Date.now()),
        {
          retry,
          sleep,
          random: Math.random,
          onRetry: ({ end, delayMs, nextAttempt, attempts }) =>
            warn(
              `${what}: ${describeEnd(end)}; retrying in ${(delayMs / 1000).toFixed(1)} s ` +
                `(attempt ${nextAttempt} of ${attempts})`,
            ),
        },
      );
      if (run.settled.ok) return run.settled.value;
      const { error } = run.settled;
      const answer = answerOf(error);
      if (answer) {
        throw new GitHubCallError({
          kind: 'answer',
          ...answer,
          attempts: run.attempts,
          rateLimited: run.end.rateLimited === true,
          ...(run.end.resetAt === undefined ? {} : { resetAt: run.end.resetAt }),
          ...(run.why === 'wait-too-long' && run.end.kind === 'answer'
            ? { waitTooLongMs: run.end.askedDelayMs }
            : {}),
        });
      }
      throw new GitHubCallError({
        kind: 'network',
        failure: classifyNetworkError(error, timeoutMs),
        host: hostOf(error, api.apiUrl),
        attempts: run.attempts,
        cause: (error as { cause?: unknown }).cause ?? error,
      });
    });
  // Octokit (with undici's fetch under it) is loaded on the first call: most runs make none.
  let octokit: Promise<Octokit> | undefined;
  const ready = () =>
    (octokit ??= import('@actions/github').then(({ getOctokit: create }) => {
      const made = create(api.token, {
        baseUrl: api.apiUrl.replace(/\/+$/, ''),
        userAgent: 'edgeship',
        ...(api.fetchImpl ? { request: { fetch: api.fetchImpl } } : {}),
      });
      wrapRequests(made);
      return made;
    }));
  return {
    call: (what, call, timeoutMs = api.timeoutMs ?? DEFAULT_TIMEOUT_MS) =>
      ready().then((made) => scope.run({ what, timeoutMs }, () => call(made))),
  };
}

/**
 * GitHub's answer as input to the retry policy. 429 and a rate-limited 403 (`x-ratelimit-remaining: 0`, a
 * `retry-after`, or GitHub's "rate limit" message) are retried after `retry-after`, else the primary
 * limit's reset (`x-ratelimit-reset`, plus a second of slack), else a minute (GitHub's advice for
 * secondary rate limits). Other answers are as the policy says, honouring `retry-after`.
 */
export function gitHubAnswerEnd(
  status: number,
  headers: Record<string, string | number | undefined>,
  data: unknown,
  now: number,
): GitHubAttemptEnd {
  const header = (name: string) => (headers[name] === undefined ? undefined : String(headers[name]));
  const retryAfter = parseRetryAfterMs(header('retry-after'), now, Number.POSITIVE_INFINITY);
  if (status !== 403 && status !== 429) {
    return { kind: 'answer', status, ...(retryAfter === undefined ? {} : { askedDelayMs: retryAfter }) };
  }
  const primaryExhausted = header('x-ratelimit-remaining')?.trim() === '0';
  const reset = header('x-ratelimit-reset');
  const resetAt = reset !== undefined && /^\s*\d+\s*$/.test(reset) ? Number(reset) * 1000 : undefined;
  const message = typeof data === 'object' && data !== null ? (data as { message?: unknown }).message : data;
  const mentionsRateLimit = typeof message === 'string' && /rate limit/i.test(message);
  if (status === 403 && !primaryExhausted && retryAfter === undefined && !mentionsRateLimit) {
    return { kind: 'answer', status, retryable: false };
  }
  const waitForReset = primaryExhausted && resetAt !== undefined;
  return {
    kind: 'answer',
    status,
    retryable: true,
    rateLimited: true,
    askedDelayMs:
      retryAfter ?? (waitForReset ? Math.max(0, resetAt - now) + 1000 : SECONDARY_RATE_LIMIT_WAIT_MS),
    ...(waitForReset ? { resetAt } : {}),
  };
}

function attemptEnd(settled: Settled<{ status: number }>, timeoutMs: number, now: number): GitHubAttemptEnd {
  if (settled.ok) return { kind: 'answer', status: settled.value.status, retryable: false };
  const answer = answerOf(settled.error);
  if (answer) return gitHubAnswerEnd(answer.status, answer.headers, answer.data, now);
  return { kind: 'network-error', failure: classifyNetworkError(settled.error, timeoutMs) };
}

function describeEnd(end: GitHubAttemptEnd): string {
  if (end.kind === 'network-error') return end.failure.description;
  return `HTTP ${end.status} (${end.rateLimited ? 'rate limited' : 'server error'})`;
}

/** The HTTP answer an Octokit RequestError carries; none for a network failure. */
function answerOf(
  error: unknown,
): { status: number; headers: Record<string, string | number | undefined>; data: unknown } | undefined {
  const response = (error as { response?: { status?: unknown; headers?: unknown; data?: unknown } })
    ?.response;
  if (typeof response?.status !== 'number') return undefined;
  const headers = (response.headers ?? {}) as Record<string, string | number | undefined>;
  return { status: response.status, headers, data: response.data };
}

function hostOf(error: unknown, fallback: string): string {
  const url = (error as { request?: { url?: unknown } })?.request?.url;
  try {
    return new URL(typeof url === 'string' ? url : fallback).host;
  } catch {
    return fallback;
  }
}
