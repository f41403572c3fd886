import http from 'node:http';
import type { AddressInfo } from 'node:net';

import { describe, expect, it } from 'vitest';

import {
  backoffDelayMs,
  describeNetworkError,
  GitHubTransport,
  parseRateLimitReset,
  parseRetryAfterMs,
  retryDecision,
  SECONDARY_RATE_LIMIT_WAIT_MS,
} from '../../../src/github/http.js';

const NOW = Date.parse('2026-03-01T12:00:00Z');

function headers(values: Record<string, string>) {
  return new Headers(values);
}

describe('retryDecision', () => {
  it('retries 5xx, honouring retry-after', () => {
    expect(retryDecision(502, headers({}), '', NOW)).toEqual({ retry: true, rateLimited: false });
    expect(retryDecision(503, headers({ 'retry-after': '3' }), '', NOW)).toEqual({
      retry: true,
      rateLimited: false,
      delayMs: 3000,
    });
  });

  it('never retries other 4xx', () => {
    for (const status of [400, 401, 404, 409, 410, 422]) {
      expect(retryDecision(status, headers({ 'retry-after': '1' }), '', NOW)).toEqual({ retry: false });
    }
    expect(
      retryDecision(403, headers({}), '{"message":"Resource not accessible by integration"}', NOW),
    ).toEqual({
      retry: false,
    });
    expect(
      retryDecision(403, headers({ 'x-ratelimit-remaining': '4999' }), '{"message":"Forbidden"}', NOW),
    ).toEqual({
      retry: false,
    });
  });

  it('waits for x-ratelimit-reset on a primary rate limit (plus a second of slack)', () => {
    const reset = String(NOW / 1000 + 30);
    expect(
      retryDecision(403, headers({ 'x-ratelimit-remaining': '0', 'x-ratelimit-reset': reset }), '', NOW),
    ).toEqual({ retry: true, rateLimited: true, delayMs: 31_000, resetAt: NOW + 30_000 });
  });

  it('prefers retry-after, and waits a minute for a secondary rate limit without headers', () => {
    expect(retryDecision(429, headers({ 'retry-after': '12' }), '', NOW)).toMatchObject({ delayMs: 12_000 });
    expect(retryDecision(403, headers({ 'retry-after': '5' }), '', NOW)).toMatchObject({
      rateLimited: true,
      delayMs: 5000,
    });
    expect(
      retryDecision(403, headers({}), '{"message":"You have exceeded a secondary rate limit."}', NOW),
    ).toMatchObject({ rateLimited: true, delayMs: SECONDARY_RATE_LIMIT_WAIT_MS });
    expect(retryDecision(429, headers({}), '', NOW)).toMatchObject({ delayMs: SECONDARY_RATE_LIMIT_WAIT_MS });
  });
});

describe('header parsing and backoff', () => {
  it('reads retry-after as seconds or an HTTP date', () => {
    expect(parseRetryAfterMs(null, NOW)).toBeUndefined();
    expect(parseRetryAfterMs(' 2 ', NOW)).toBe(2000);
    expect(parseRetryAfterMs(new Date(NOW + 9000).toUTCString(), NOW)).toBe(9000);
    expect(parseRetryAfterMs(new Date(NOW - 9000).toUTCString(), NOW)).toBe(0);
    expect(parseRetryAfterMs('soon', NOW)).toBeUndefined();
    expect(parseRateLimitReset('1772366400')).toBe(1772366400000);
    expect(parseRateLimitReset('x')).toBeUndefined();
  });

  it('doubles the backoff ceiling per retry, up to 30 s', () => {
    expect(backoffDelayMs(1, 1000, () => 0)).toBe(500);
    expect(backoffDelayMs(1, 1000, () => 1)).toBe(1000);
    expect(backoffDelayMs(3, 1000, () => 1)).toBe(4000);
    expect(backoffDelayMs(20, 1000, () => 1)).toBe(30_000);
  });

  it('describes fetch failures from their cause chain', () => {
    const refused = new TypeError('fetch failed', {
      cause: Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:9'), { code: 'ECONNREFUSED' }),
    });
    expect(describeNetworkError(refused, 1000)).toBe('connect ECONNREFUSED 127.0.0.1:9');
    const socket = new TypeError('fetch failed', {
      cause: Object.assign(new Error('other side closed'), { code: 'UND_ERR_SOCKET' }),
    });
    expect(describeNetworkError(socket, 1000)).toBe('UND_ERR_SOCKET (other side closed)');
    const timeout = new DOMException('The operation was aborted due to timeout', 'TimeoutError');
    expect(describeNetworkError(timeout, 1500)).toBe('no answer within 1500 ms');
  });
});

describe('GitHubTransport', () => {
  it('retries a real refused connection, then reports it', async () => {
    const server = http.createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    await new Promise<void>((resolve) => server.close(() => resolve()));

    const warnings: string[] = [];
    const transport = new GitHubTransport({
      token: 'secret-token',
      fetchImpl: fetch,
      sleep: async () => {},
      retry: { attempts: 2, baseDelayMs: 1, maxWaitMs: 1000 },
      userAgent: 'edgeship',
      warn: (message) => warnings.push(message),
      now: Date.now,
      random: () => 0.5,
    });
    const result = await transport.send({
      method: 'GET',
      url: `http://127.0.0.1:${port}/repos/o/r/releases/tags/v1`,
      timeoutMs: 5000,
      what: 'get release (tag v1)',
    });
    expect(result).toMatchObject({ kind: 'network-error', attempts: 2 });
    expect(result.kind === 'network-error' ? result.description : '').toContain('ECONNREFUSED');
    expect(warnings).toHaveLength(1);
  });

  it('times out a request that never answers, and retries it', async () => {
    const server = http.createServer(() => {
      // Never answers.
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    try {
      const transport = new GitHubTransport({
        token: 't',
        fetchImpl: fetch,
        sleep: async () => {},
        retry: { attempts: 2, baseDelayMs: 1, maxWaitMs: 1000 },
        userAgent: 'edgeship',
        warn: () => {},
        now: Date.now,
        random: () => 0.5,
      });
      const result = await transport.send({
        method: 'GET',
        url: `http://127.0.0.1:${port}/x`,
        timeoutMs: 100,
        what: 'get release (tag v1)',
      });
      expect(result).toEqual(
        expect.objectContaining({
          kind: 'network-error',
          attempts: 2,
          description: 'no answer within 100 ms',
        }),
      );
    } finally {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });
});
