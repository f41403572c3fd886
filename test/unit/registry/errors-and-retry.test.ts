import { describe, expect, it } from 'vitest';
import { parseRegistryEndpoint } from '../../../src/registry/endpoint.js';
import {
  describeHttpFailure,
  parseRegistryErrorBody,
  RegistryAuthError,
  RegistryError,
} from '../../../src/registry/errors.js';
import { parseNextLink } from '../../../src/registry/link-header.js';
import {
  ACCEPT_MANIFESTS,
  DOCKER_MANIFEST_LIST_V2,
  DOCKER_MANIFEST_V2,
  isIndexMediaType,
  isManifestMediaType,
  OCI_IMAGE_INDEX,
  OCI_IMAGE_MANIFEST,
} from '../../../src/registry/media-types.js';
import {
  backoffDelayMs,
  classifyNetworkError,
  isRetryableStatus,
  parseRetryAfterMs,
  RETRY_AFTER_CAP_MS,
} from '../../../src/process/retry.js';

describe('registry error bodies', () => {
  it('reads the distribution error list and token server shapes', () => {
    expect(
      parseRegistryErrorBody(
        '{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown","detail":{}}]}',
      ),
    ).toEqual([{ code: 'MANIFEST_UNKNOWN', message: 'manifest unknown' }]);
    expect(parseRegistryErrorBody('{"details":"incorrect username or password"}')).toEqual([
      { message: 'incorrect username or password' },
    ]);
    expect(parseRegistryErrorBody('{"error":"invalid_grant","error_description":"expired"}')).toEqual([
      { code: 'invalid_grant', message: 'expired' },
    ]);
    expect(parseRegistryErrorBody('<html>502</html>')).toEqual([]);
    expect(parseRegistryErrorBody('[1,2]')).toEqual([]);
  });

  it('describes failures with the status line, code and message, or a short text excerpt', () => {
    expect(
      describeHttpFailure(404, Buffer.from('{"errors":[{"code":"NAME_UNKNOWN","message":"no repo"}]}'), null),
    ).toEqual({ reason: 'HTTP 404 Not Found, NAME_UNKNOWN: no repo', code: 'NAME_UNKNOWN' });
    expect(describeHttpFailure(502, Buffer.from('upstream\n  timed out'), 'text/plain').reason).toBe(
      'HTTP 502 Bad Gateway: upstream timed out',
    );
    expect(describeHttpFailure(502, Buffer.from('<html><body>Bad</body></html>'), 'text/html').reason).toBe(
      'HTTP 502 Bad Gateway',
    );
  });

  it('builds messages that name the operation, reference, reason and attempts', () => {
    const error = new RegistryError({
      operation: 'get blob',
      reference: 'ghcr.io/acme/agent@sha256:abc',
      reason: 'HTTP 503 Service Unavailable',
      status: 503,
      retryable: true,
      attempts: 4,
    });
    expect(error.message).toBe(
      'get blob ghcr.io/acme/agent@sha256:abc failed: HTTP 503 Service Unavailable (gave up after 4 attempts)',
    );
    expect(error).toMatchObject({ status: 503, retryable: true, attempts: 4, name: 'RegistryError' });

    const auth = new RegistryAuthError({
      operation: 'put manifest',
      reference: 'ghcr.io/a/b:v1',
      reason: 'HTTP 401',
    });
    expect(auth).toBeInstanceOf(RegistryError);
    expect(auth.retryable).toBe(false);
    expect(auth.message).toContain(
      'Check the registry-username/registry-password inputs (or the docker login',
    );
  });
});

describe('retry policy', () => {
  it('retries 429 and transient 5xx only', () => {
    expect([429, 500, 502, 503, 504].every(isRetryableStatus)).toBe(true);
    expect([400, 401, 403, 404, 405, 409, 501].some(isRetryableStatus)).toBe(false);
  });

  it('doubles the backoff ceiling up to the maximum and jitters in its upper half', () => {
    const retry = { attempts: 6, baseDelayMs: 500, maxDelayMs: 8000 };
    expect([1, 2, 3, 4, 5, 6].map((n) => backoffDelayMs(n, retry, () => 1))).toEqual([
      500, 1000, 2000, 4000, 8000, 8000,
    ]);
    expect(backoffDelayMs(3, retry, () => 0)).toBe(1000);
    expect(backoffDelayMs(3, retry, () => 0.5)).toBe(1500);
  });

  it('reads Retry-After as seconds or an HTTP date, capped', () => {
    const now = Date.parse('2025-01-01T00:00:00Z');
    expect(parseRetryAfterMs('3', now)).toBe(3000);
    expect(parseRetryAfterMs('Wed, 01 Jan 2025 00:00:10 GMT', now)).toBe(10_000);
    expect(parseRetryAfterMs('86400', now)).toBe(RETRY_AFTER_CAP_MS);
    expect(parseRetryAfterMs('soon', now)).toBeUndefined();
    expect(parseRetryAfterMs(null, now)).toBeUndefined();
  });

  it('classifies fetch errors by their causes', () => {
    const wrapped = (cause: object) => Object.assign(new TypeError('fetch failed'), { cause });
    expect(classifyNetworkError(wrapped({ code: 'ECONNRESET', message: 'read ECONNRESET' }), 1000)).toEqual({
      kind: 'transient',
      code: 'ECONNRESET',
      description: 'read ECONNRESET',
    });
    expect(classifyNetworkError(wrapped(new Error('socket hang up')), 1000).kind).toBe('transient');
    const timeout = Object.assign(new Error('aborted'), { name: 'TimeoutError' });
    expect(classifyNetworkError(timeout, 2500)).toEqual({
      kind: 'transient',
      code: 'TIMEOUT',
      description: 'no complete answer within 2500 ms',
    });
    expect(
      classifyNetworkError(wrapped({ code: 'DEPTH_ZERO_SELF_SIGNED_CERT', message: 'self-signed' }), 1).kind,
    ).toBe('tls-verification');
    expect(
      classifyNetworkError(wrapped({ code: 'ERR_SSL_WRONG_VERSION_NUMBER', message: 'x' }), 1).kind,
    ).toBe('plain-http-server');
    const aggregate = Object.assign(new AggregateError([{ code: 'ECONNREFUSED', message: 'refused' }]), {});
    expect(classifyNetworkError(wrapped(aggregate), 1).kind).toBe('transient');
    expect(
      classifyNetworkError(wrapped({ code: 'ENOTFOUND', message: 'getaddrinfo ENOTFOUND x' }), 1).kind,
    ).toBe('other');
  });
});

describe('registry endpoints', () => {
  it.each([
    ['ghcr.io', false, { registry: 'ghcr.io', host: 'ghcr.io', scheme: 'https' }],
    ['https://ghcr.io/', false, { registry: 'ghcr.io', host: 'ghcr.io', scheme: 'https' }],
    ['docker.io', false, { registry: 'docker.io', host: 'registry-1.docker.io', scheme: 'https' }],
    [
      'localhost:5000',
      false,
      { registry: 'localhost:5000', host: 'localhost:5000', scheme: 'https-then-http' },
    ],
    ['http://127.0.0.1:5000', false, { registry: '127.0.0.1:5000', host: '127.0.0.1:5000', scheme: 'http' }],
    ['10.0.0.5:5000', true, { registry: '10.0.0.5:5000', host: '10.0.0.5:5000', scheme: 'https-then-http' }],
    ['http://10.0.0.5:5000', true, { registry: '10.0.0.5:5000', host: '10.0.0.5:5000', scheme: 'http' }],
  ] as const)('reads %s (insecure: %s)', (input, insecure, expected) => {
    expect(parseRegistryEndpoint(input, insecure)).toEqual(expected);
  });

  it.each([
    ['http://10.0.0.5:5000', /plain http, which is only allowed for loopback registries/],
    ['ftp://ghcr.io', /unsupported scheme ftp/],
    ['ghcr.io/v2', /not a valid host\[:port\]/],
  ])('rejects %s', (input, reason) => {
    expect(() => parseRegistryEndpoint(input, false)).toThrow(reason);
  });
});

describe('Link headers and media types', () => {
  it('finds the next link among several', () => {
    expect(parseNextLink('</v2/a/tags/list?n=2&last=b>; rel="next"')).toBe('/v2/a/tags/list?n=2&last=b');
    expect(parseNextLink('<https://x/first>; rel="first", <https://x/p2>; type="a"; rel=next')).toBe(
      'https://x/p2',
    );
    expect(parseNextLink('<https://x/p>; rel="prev"')).toBeUndefined();
    expect(parseNextLink(null)).toBeUndefined();
  });

  it('tells indexes from manifests, ignoring parameters and case', () => {
    expect(isIndexMediaType(OCI_IMAGE_INDEX)).toBe(true);
    expect(isIndexMediaType(`${DOCKER_MANIFEST_LIST_V2}; charset=utf-8`)).toBe(true);
    expect(isIndexMediaType(OCI_IMAGE_MANIFEST)).toBe(false);
    expect(isManifestMediaType(OCI_IMAGE_MANIFEST.toUpperCase())).toBe(true);
    expect(isManifestMediaType(DOCKER_MANIFEST_V2)).toBe(true);
    expect(isManifestMediaType('application/json')).toBe(false);
    expect(ACCEPT_MANIFESTS.split(', ')).toEqual([
      OCI_IMAGE_INDEX,
      OCI_IMAGE_MANIFEST,
      DOCKER_MANIFEST_LIST_V2,
      DOCKER_MANIFEST_V2,
    ]);
  });
});
