import http from 'node:http';
import type { AddressInfo } from 'node:net';

import { describe, expect, it } from 'vitest';

import {
  createGitHubClient,
  DEFAULT_GITHUB_RETRY,
  GitHubCallError,
  gitHubAnswerEnd,
  SECONDARY_RATE_LIMIT_WAIT_MS,
  type GitHubApi,
} from '../../../src/github/client.js';
import { decideRetry } from '../../../src/process/retry.js';

const NOW = Date.parse('2026-03-01T12:00:00Z');

/** What the one retry policy decides for a first attempt GitHub answered so. */
function decide(status: number, headers: Record<string, string> = {}, body: unknown = '') {
  return decideRetry(gitHubAnswerEnd(status, headers, body, NOW), 1, DEFAULT_GITHUB_RETRY, () => 1);
}

describe('GitHub answers as input to the retry policy', () => {
  it('retries 5xx, honouring retry-after', () => {
    expect(decide(502)).toEqual({ retry: true, delayMs: 1000 });
    expect(decide(503, { 'retry-after': '3' })).toEqual({ retry: true, delayMs: 3000 });
  });

  it('never retries other 4xx', () => {
    for (const status of [400, 401, 404, 409, 410, 422]) {
      expect(decide(status, { 'retry-after': '1' })).toEqual({ retry: false, why: 'final' });
    }
    expect(decide(403, {}, { message: 'Resource not accessible by integration' })).toEqual({
      retry: false,
      why: 'final',
    });
    expect(decide(403, { 'x-ratelimit-remaining': '4999' }, { message: 'Forbidden' })).toEqual({
      retry: false,
      why: 'final',
    });
  });

  it('waits for x-ratelimit-reset on a primary rate limit (plus a second of slack)', () => {
    const headers = { 'x-ratelimit-remaining': '0', 'x-ratelimit-reset': String(NOW / 1000 + 30) };
    expect(gitHubAnswerEnd(403, headers, '', NOW)).toMatchObject({
      rateLimited: true,
      askedDelayMs: 31_000,
      resetAt: NOW + 30_000,
    });
    expect(decide(403, headers)).toEqual({ retry: true, delayMs: 31_000 });
  });

  it('prefers retry-after, and waits a minute for a secondary rate limit without headers', () => {
    expect(decide(429, { 'retry-after': '12' })).toEqual({ retry: true, delayMs: 12_000 });
    expect(gitHubAnswerEnd(403, { 'retry-after': '5' }, '', NOW)).toMatchObject({
      rateLimited: true,
      askedDelayMs: 5000,
    });
    expect(decide(403, {}, { message: 'You have exceeded a secondary rate limit.' })).toEqual({
      retry: true,
      delayMs: SECONDARY_RATE_LIMIT_WAIT_MS,
    });
    expect(decide(429)).toEqual({ retry: true, delayMs: SECONDARY_RATE_LIMIT_WAIT_MS });
  });

  it('does not wait for a reset further away than allowed', () => {
    const headers = { 'x-ratelimit-remaining': '0', 'x-ratelimit-reset': String(NOW / 1000 + 3600) };
    expect(decide(403, headers)).toEqual({ retry: false, why: 'wait-too-long' });
    expect(decide(503, { 'retry-after': '3600' })).toEqual({ retry: false, why: 'wait-too-long' });
  });
});

describe('createGitHubClient', () => {
  function client(apiUrl: string, overrides: Partial<GitHubApi> = {}) {
    const warnings: string[] = [];
    const github = createGitHubClient(
      {
        apiUrl,
        token: 'secret-token',
        repository: 'o/r',
        fetchImpl: fetch,
        sleep: async () => {},
        retry: { attempts: 2, baseDelayMs: 1 },
        ...overrides,
      },
      (message) => warnings.push(message),
    );
    const getRelease = () =>
      github.call('get release (tag v1)', (octokit) =>
        octokit.rest.repos.getReleaseByTag({ owner: 'o', repo: 'r', tag: 'v1' }),
      );
    return { getRelease, warnings };
  }

  async function failure(promise: Promise<unknown>) {
    const error = await promise.then(
      () => undefined,
      (reason: unknown) => reason,
    );
    expect(error).toBeInstanceOf(GitHubCallError);
    return (error as GitHubCallError).failure;
  }

  it('retries a real refused connection, then reports it', async () => {
    const server = http.createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    await new Promise<void>((resolve) => server.close(() => resolve()));

    const { getRelease, warnings } = client(`http://127.0.0.1:${port}`);
    const result = await failure(getRelease());

    expect(result).toMatchObject({ kind: 'network', attempts: 2, host: `127.0.0.1:${port}` });
    expect(result.kind === 'network' ? result.failure.description : '').toContain('ECONNREFUSED');
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(
      /^get release \(tag v1\): .*ECONNREFUSED.*; retrying in 0\.0 s \(attempt 2 of 2\)$/,
    );
  });

  it('times out an attempt that never answers, and retries it', async () => {
    const server = http.createServer(() => {
      // Never answers.
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    try {
      const { getRelease } = client(`http://127.0.0.1:${port}`, { timeoutMs: 100 });
      const result = await failure(getRelease());
      expect(result).toMatchObject({
        kind: 'network',
        attempts: 2,
        failure: { kind: 'transient', description: 'no complete answer within 100 ms' },
      });
    } finally {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });
});
