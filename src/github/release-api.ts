/**
 * Calls to the GitHub Releases API and their errors: `send` runs one call for an operation; errors name the
 * operation, repository, tag and asset, say what to fix (the `contents: write` permission on 403, the
 * token on 401, the rate limit's reset…), and never carry the token.
 */
import { STATUS_CODES } from 'node:http';

import {
  GitHubCallError,
  type GitHubApi,
  type GitHubClient,
  type GitHubFailure,
  type Octokit,
} from './client.js';
import { isRecord } from '../validation/json.js';

export interface ReleaseLog {
  info(message: string): void;
  warning(message: string): void;
}

/** The release of one tag in one repository, and how to reach it. */
export interface ReleaseContext {
  api: GitHubApi;
  client: GitHubClient;
  owner: string;
  repo: string;
  tag: string;
  log: ReleaseLog;
}

/** The parts of a release object this code reads. */
export interface ReleaseJson {
  id: number;
  tag_name: string;
  html_url: string;
  upload_url: string;
  draft?: boolean;
  prerelease?: boolean;
  immutable?: boolean;
}

export interface Operation {
  operation: string;
  asset?: string;
}

export interface ReleaseApiErrorInit {
  /** e.g. `get release`, `create release`, `list release assets`, `delete release asset`, `upload release asset`. */
  operation: string;
  tag: string;
  repository: string;
  asset?: string;
  status?: number;
  /** What went wrong, in words. */
  reason: string;
  /** What to do about it. */
  hint?: string;
  attempts?: number;
  cause?: unknown;
}

/** A failed release operation. The message names the operation, repository, tag and asset. */
export class ReleaseApiError extends Error {
  readonly operation: string;
  readonly tag: string;
  readonly repository: string;
  readonly asset?: string;
  readonly status?: number;
  readonly attempts?: number;

  constructor(init: ReleaseApiErrorInit) {
    super(formatReleaseApiError(init), init.cause === undefined ? undefined : { cause: init.cause });
    this.name = 'ReleaseApiError';
    this.operation = init.operation;
    this.tag = init.tag;
    this.repository = init.repository;
    if (init.asset !== undefined) this.asset = init.asset;
    if (init.status !== undefined) this.status = init.status;
    if (init.attempts !== undefined) this.attempts = init.attempts;
  }
}

function formatReleaseApiError(init: ReleaseApiErrorInit): string {
  const subject = init.asset === undefined ? `tag ${init.tag}` : `asset ${init.asset} (tag ${init.tag})`;
  let message = `${init.operation} for ${subject} in ${init.repository} failed: ${init.reason}`;
  if (init.attempts !== undefined && init.attempts > 1)
    message += ` (gave up after ${init.attempts} attempts)`;
  if (init.hint) message += `. ${init.hint}`;
  return message;
}

/** What failed: the operation and what it was for. */
export interface Subject {
  operation: string;
  tag: string;
  repository: string;
  asset?: string;
}

/**
 * Runs one API call for `op`. An HTTP answer GitHub refused (after the retries) comes back for the caller
 * to word; a network failure throws the ReleaseApiError saying so.
 */
export async function send<T>(
  context: ReleaseContext,
  op: Operation,
  call: (octokit: Octokit) => Promise<T>,
  timeoutMs?: number,
): Promise<{ ok: true; value: T } | { ok: false; failure: Extract<GitHubFailure, { kind: 'answer' }> }> {
  const what = `${op.operation}${op.asset === undefined ? '' : ` ${op.asset}`} (tag ${context.tag})`;
  try {
    return { ok: true, value: await context.client.call(what, call, timeoutMs) };
  } catch (error) {
    if (error instanceof ReleaseApiError) throw error;
    if (!(error instanceof GitHubCallError)) {
      throw new ReleaseApiError({
        ...subject(context, op),
        reason: redact(error instanceof Error ? error.message : String(error), context.api.token),
      });
    }
    if (error.failure.kind === 'answer') return { ok: false, failure: error.failure };
    throw refused(context, op, error.failure);
  }
}

export function subject(context: ReleaseContext, op: Operation): Subject {
  return {
    operation: op.operation,
    tag: context.tag,
    repository: context.api.repository,
    ...(op.asset === undefined ? {} : { asset: op.asset }),
  };
}

/** The release an answer (or a list entry) holds; anything else throws. */
export function readRelease(
  context: ReleaseContext,
  op: Operation,
  status: number,
  value: unknown,
): ReleaseJson {
  const release = (typeof value === 'object' && value !== null ? value : {}) as Partial<ReleaseJson>;
  if (
    typeof release.id === 'number' &&
    typeof release.upload_url === 'string' &&
    typeof release.html_url === 'string'
  ) {
    return release as ReleaseJson;
  }
  throw unexpected(context, op, status);
}

const PERMISSIONS_SNIPPET = 'permissions:\n  contents: write';

/**
 * The ReleaseApiError for a call of `op` that failed after its retries. `override` words a status the
 * caller knows more about (401, 403 and rate limits are always about the token).
 */
export function refused(
  context: ReleaseContext,
  op: Operation,
  failure: GitHubFailure,
  override?: { hint: string },
): ReleaseApiError {
  const { token, repository } = context.api;
  if (failure.kind === 'network') {
    return new ReleaseApiError({
      ...subject(context, op),
      reason: redact(`cannot reach ${failure.host}: ${failure.failure.description}`, token),
      attempts: failure.attempts,
      ...(causeWithoutToken(failure.cause, token) ?? {}),
    });
  }
  const { status } = failure;
  const said = describeBody(failure.data);
  const reason = said ? `${statusLine(status)}: ${said}` : statusLine(status);
  let hint: string | undefined;
  if (failure.rateLimited || failure.waitTooLongMs !== undefined) {
    const { resetAt, waitTooLongMs } = failure;
    const resets = resetAt === undefined ? '' : ` The limit resets at ${new Date(resetAt).toISOString()}.`;
    hint =
      waitTooLongMs === undefined
        ? `GitHub kept rate-limiting the token.${resets} Run again later`
        : `GitHub asked to wait ${Math.ceil(waitTooLongMs / 1000)} s, longer than allowed.${resets} Run again later`;
  } else if (status === 401) {
    hint =
      'The token was rejected: it is missing, wrong or expired. Pass a valid token ' +
      "(for example the workflow's GITHUB_TOKEN, `github-token: ${{ github.token }}`)";
  } else if (status === 403) {
    const accepted = failure.headers['x-accepted-github-permissions'];
    hint =
      `The token lacks the contents: write permission on ${repository}` +
      (accepted ? ` (GitHub accepts: ${accepted})` : '') +
      `. Grant it in the workflow (or job):\n\n${PERMISSIONS_SNIPPET}\n\n` +
      'A personal access token or GitHub App token needs write access to the repository contents';
  } else if (override) {
    hint = override.hint;
  } else if (status === 404) {
    hint =
      `The token cannot see the repository ${repository}: check the repository name, and that the token ` +
      "has access to it (the workflow's GITHUB_TOKEN covers only the repository the workflow runs in)";
  } else if (status === 422 && /immutable/i.test(said ?? '')) {
    hint = 'The release is immutable: its assets cannot be added, replaced or deleted once published';
  } else if (status >= 500) {
    hint = 'GitHub had a server error; run again later';
  }
  return new ReleaseApiError({
    ...subject(context, op),
    status,
    reason: redact(reason, token),
    ...(hint ? { hint } : {}),
    attempts: failure.attempts,
  });
}

/** An answer that is not the JSON GitHub sends (e.g. a proxy's HTML page, or the wrong API URL). */
export function unexpected(context: ReleaseContext, op: Operation, status: number): ReleaseApiError {
  return new ReleaseApiError({
    ...subject(context, op),
    status,
    reason: `${statusLine(status)} with an answer that is not the JSON GitHub sends`,
    hint: `Check that ${context.api.apiUrl} is a GitHub REST API URL`,
  });
}

/** The `code`s of a 422 body's `errors` list (`already_exists`, `custom`, `invalid`, …). */
export function validationCodes(failure: GitHubFailure): string[] {
  if (failure.kind !== 'answer') return [];
  const errors = asObject(failure.data)?.errors;
  if (!Array.isArray(errors)) return [];
  return errors
    .map((entry) => asObject(entry)?.code)
    .filter((code): code is string => typeof code === 'string');
}

/** GitHub's message and any validation errors: `Validation Failed (ReleaseAsset.size custom: size must…)`. */
function describeBody(data: unknown): string | undefined {
  const text = typeof data === 'string' ? data : undefined;
  const parsed = asObject(text === undefined ? data : parseJson(text));
  const message =
    typeof parsed?.message === 'string' && parsed.message.trim() !== '' ? parsed.message.trim() : undefined;
  const errors = parsed?.errors;
  const details = Array.isArray(errors)
    ? errors
        .map((entry) => {
          if (typeof entry === 'string') return entry;
          const { resource, field, code, message: detail } = asObject(entry) ?? {};
          const where = [resource, field].filter((part) => typeof part === 'string').join('.');
          const what = [code, detail].filter((part) => typeof part === 'string').join(': ');
          return [where, what].filter((part) => part !== '').join(' ');
        })
        .filter((entry) => entry !== '')
    : [];
  if (message === undefined && details.length === 0) {
    if (text === undefined || parseJson(text) !== undefined || /^\s*</.test(text)) return undefined;
    const excerpt = text.replace(/\s+/g, ' ').trim().slice(0, 200);
    return excerpt === '' ? undefined : excerpt;
  }
  return [message, details.length > 0 ? `(${details.join('; ')})` : undefined].filter(Boolean).join(' ');
}

function statusLine(status: number): string {
  const text = STATUS_CODES[status];
  return text ? `HTTP ${status} ${text}` : `HTTP ${status}`;
}

function asObject(value: unknown): Record<string, unknown> | undefined {
  return isRecord(value) ? value : undefined;
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

/** Replaces every occurrence of the token (the whole token only; short tokens too). */
export function redact(text: string, token: string): string {
  return token === '' ? text : text.split(token).join('***');
}

function causeWithoutToken(cause: unknown, token: string): { cause: unknown } | undefined {
  if (token === '') return { cause };
  const seen: string[] = [];
  let current: unknown = cause;
  for (let depth = 0; typeof current === 'object' && current !== null && depth < 10; depth += 1) {
    const entry = current as { message?: unknown; stack?: unknown; cause?: unknown };
    seen.push(String(entry.message ?? ''), String(entry.stack ?? ''));
    current = entry.cause;
  }
  return seen.some((text) => text.includes(token)) ? undefined : { cause };
}
