import { describe, expect, it } from 'vitest';
import {
  buildTokenRequest,
  ChallengeParseError,
  mergeScopes,
  parseChallenge,
  parseChallenges,
  parseTokenResponse,
  repositoryScope,
  TokenCache,
} from '../../../src/registry/auth.js';

describe('parseChallenge', () => {
  it('parses a Bearer challenge with quoted parameters', () => {
    expect(
      parseChallenge(
        'Bearer realm="https://ghcr.io/token",service="ghcr.io",scope="repository:acme/agent:pull"',
      ),
    ).toEqual({
      scheme: 'bearer',
      realm: 'https://ghcr.io/token',
      service: 'ghcr.io',
      scope: 'repository:acme/agent:pull',
    });
  });

  it('keeps commas, equals signs and escaped quotes inside quoted values', () => {
    expect(
      parseChallenge(
        'bearer realm="https://auth.example.com/token?a=1,b=2", scope="repository:a/b:pull,push", error="say \\"hi\\""',
      ),
    ).toEqual({
      scheme: 'bearer',
      realm: 'https://auth.example.com/token?a=1,b=2',
      scope: 'repository:a/b:pull,push',
      error: 'say "hi"',
    });
  });

  it('parses Basic with a realm and unquoted parameters', () => {
    expect(parseChallenge('Basic realm=Registry')).toEqual({ scheme: 'basic', realm: 'Registry' });
    expect(parseChallenge('Basic')).toEqual({ scheme: 'basic' });
  });

  it('prefers Bearer when several challenges are offered in one header', () => {
    const header = 'Basic realm="basic-realm", Bearer realm="https://t/token",service="svc"';
    expect(parseChallenges(header)).toEqual([
      { scheme: 'basic', params: { realm: 'basic-realm' } },
      { scheme: 'bearer', params: { realm: 'https://t/token', service: 'svc' } },
    ]);
    expect(parseChallenge(header)).toEqual({ scheme: 'bearer', realm: 'https://t/token', service: 'svc' });
  });

  it.each([
    ['', /no challenge found/],
    ['Bearer realm="unterminated', /unterminated quoted value/],
    ['realm="x"', /appears before any scheme/],
    ['Bearer realm="x"garbage', /expected ","/],
    ['Negotiate', /unsupported scheme \(negotiate\)/],
    ['Bearer ;', /unexpected character/],
  ])('throws on %j', (header, reason) => {
    expect(() => parseChallenge(header)).toThrow(ChallengeParseError);
    expect(() => parseChallenge(header)).toThrow(reason);
  });
});

describe('scopes', () => {
  it('builds repository scopes for reads and writes', () => {
    expect(repositoryScope('acme/agent', 'pull')).toBe('repository:acme/agent:pull');
    expect(repositoryScope('acme/agent', 'push')).toBe('repository:acme/agent:pull,push');
  });

  it('merges the actions of scopes on the same resource', () => {
    expect(
      mergeScopes(
        ['repository:acme/agent:pull'],
        ['repository:acme/agent:push repository:acme/base:pull', 'opaque'],
      ),
    ).toEqual(['opaque', 'repository:acme/agent:pull,push', 'repository:acme/base:pull']);
  });
});

describe('token requests', () => {
  const challenge = {
    scheme: 'bearer' as const,
    realm: 'https://auth.example.com/token?client=x',
    service: 'reg',
  };

  it('GETs the realm with service and scopes, Basic-authenticated when a password is known', () => {
    const request = buildTokenRequest(
      challenge,
      ['repository:a/b:pull'],
      { username: 'u', password: 'p' },
      'edgeship',
    );
    expect(request.method).toBe('GET');
    const url = new URL(request.url);
    expect(url.searchParams.get('client')).toBe('x');
    expect(url.searchParams.get('service')).toBe('reg');
    expect(url.searchParams.getAll('scope')).toEqual(['repository:a/b:pull']);
    expect(request.headers).toEqual({ authorization: `Basic ${Buffer.from('u:p').toString('base64')}` });
    expect(request.carriesCredentials).toBe(true);
  });

  it('GETs anonymously without credentials', () => {
    const request = buildTokenRequest(challenge, ['repository:a/b:pull'], undefined, 'edgeship');
    expect(request.headers).toEqual({});
    expect(request.carriesCredentials).toBe(false);
  });

  it('POSTs a refresh_token grant when an identity token is known', () => {
    const request = buildTokenRequest(
      challenge,
      ['repository:a/b:pull', 'repository:c/d:pull'],
      { identityToken: 'idt' },
      'edgeship',
    );
    expect(request.method).toBe('POST');
    expect(request.url).toBe(challenge.realm);
    const form = new URLSearchParams(request.body?.toString('utf8'));
    expect(Object.fromEntries(form)).toEqual({
      grant_type: 'refresh_token',
      refresh_token: 'idt',
      service: 'reg',
      scope: 'repository:a/b:pull repository:c/d:pull',
      client_id: 'edgeship',
    });
  });

  it('reads token or access_token from the answer', () => {
    expect(parseTokenResponse('{"token":"t1","expires_in":300}')).toEqual({
      token: 't1',
      expiresInSeconds: 300,
    });
    expect(parseTokenResponse(Buffer.from('{"access_token":"t2"}'))).toEqual({ token: 't2' });
    expect(() => parseTokenResponse('{"nope":1}')).toThrow(/neither "token" nor "access_token"/);
    expect(() => parseTokenResponse('<html>')).toThrow(/did not answer with JSON/);
  });
});

describe('TokenCache', () => {
  it('keeps a token until shortly before it expires', () => {
    let now = 0;
    const cache = new TokenCache(() => now);
    cache.set('repository:a/b:pull', { token: 't', expiresInSeconds: 300 });
    now = 289_000;
    expect(cache.get('repository:a/b:pull')).toBe('t');
    now = 290_000;
    expect(cache.get('repository:a/b:pull')).toBeUndefined();
  });

  it('assumes 60 seconds without expires_in, and forgets deleted tokens', () => {
    let now = 0;
    const cache = new TokenCache(() => now);
    cache.set('s', { token: 't' });
    now = 49_000;
    expect(cache.get('s')).toBe('t');
    cache.delete('s');
    expect(cache.get('s')).toBeUndefined();
    expect(cache.get('other')).toBeUndefined();
  });
});
