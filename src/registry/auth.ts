import type { RegistryCredential } from './credentials.js';

/** One parsed `WWW-Authenticate` challenge that the client can answer. */
export interface AuthChallenge {
  scheme: 'basic' | 'bearer';
  realm?: string;
  service?: string;
  /** Space-separated scopes the registry asked for, e.g. `repository:acme/agent:pull`. */
  scope?: string;
  /** The registry's error parameter, e.g. `invalid_token` or `insufficient_scope`. */
  error?: string;
}

/** Any challenge as written: its scheme (lowercased) and its parameters (names lowercased). */
export interface RawChallenge {
  scheme: string;
  params: Record<string, string>;
}

/** Thrown when a `WWW-Authenticate` header cannot be understood. */
export class ChallengeParseError extends Error {
  constructor(header: string, reason: string) {
    super(`cannot parse WWW-Authenticate header "${header.slice(0, 300)}": ${reason}`);
    this.name = 'ChallengeParseError';
  }
}

const TOKEN_CHAR = /[!#$%&'*+\-.^_`|~0-9A-Za-z]/;

/**
 * Parses every challenge in a `WWW-Authenticate` value (several may be joined with commas), including
 * quoted parameter values that contain commas, `=` or backslash escapes.
 */
export function parseChallenges(header: string): RawChallenge[] {
  const challenges: RawChallenge[] = [];
  let current: RawChallenge | undefined;
  let pos = 0;
  const fail = (reason: string): never => {
    throw new ChallengeParseError(header, reason);
  };
  const skip = (pattern: RegExp) => {
    while (pos < header.length && pattern.test(header.charAt(pos))) pos++;
  };
  const readToken = (): string => {
    const start = pos;
    while (pos < header.length && TOKEN_CHAR.test(header.charAt(pos))) pos++;
    return header.slice(start, pos);
  };

  while (pos < header.length) {
    skip(/[\s,]/);
    if (pos >= header.length) break;
    const name = readToken();
    if (name === '') fail(`unexpected character "${header.charAt(pos)}" at position ${pos}`);
    skip(/\s/);
    if (header.charAt(pos) !== '=') {
      current = { scheme: name.toLowerCase(), params: {} };
      challenges.push(current);
      continue;
    }
    pos++; // '='
    skip(/\s/);
    let value = '';
    if (header.charAt(pos) === '"') {
      pos++;
      let closed = false;
      while (pos < header.length) {
        const char = header.charAt(pos);
        if (char === '\\') {
          value += header.charAt(pos + 1);
          pos += 2;
        } else if (char === '"') {
          pos++;
          closed = true;
          break;
        } else {
          value += char;
          pos++;
        }
      }
      if (!closed) fail(`unterminated quoted value for "${name}"`);
    } else {
      const start = pos;
      while (pos < header.length && !/[\s,]/.test(header.charAt(pos))) pos++;
      value = header.slice(start, pos);
    }
    if (!current) fail(`parameter "${name}" appears before any scheme`);
    else current.params[name.toLowerCase()] = value;
    skip(/\s/);
    if (pos < header.length && header.charAt(pos) !== ',') {
      fail(`expected "," after the value of "${name}" at position ${pos}`);
    }
  }
  if (challenges.length === 0) fail('no challenge found');
  return challenges;
}

/**
 * The challenge to answer from a `WWW-Authenticate` value: Bearer when offered, otherwise Basic.
 * Throws ChallengeParseError when the header is malformed or offers neither.
 */
export function parseChallenge(wwwAuthenticate: string): AuthChallenge {
  const challenges = parseChallenges(wwwAuthenticate);
  const chosen =
    challenges.find((challenge) => challenge.scheme === 'bearer') ??
    challenges.find((challenge) => challenge.scheme === 'basic');
  if (!chosen) {
    const offered = challenges.map((challenge) => challenge.scheme).join(', ');
    throw new ChallengeParseError(
      wwwAuthenticate,
      `unsupported scheme (${offered}); only Basic and Bearer are`,
    );
  }
  const { realm, service, scope, error } = chosen.params;
  return {
    scheme: chosen.scheme === 'bearer' ? 'bearer' : 'basic',
    ...(realm !== undefined ? { realm } : {}),
    ...(service !== undefined ? { service } : {}),
    ...(scope !== undefined ? { scope } : {}),
    ...(error !== undefined ? { error } : {}),
  };
}

export type RepositoryAccess = 'pull' | 'push';

/** `repository:<path>:pull` for reads, `repository:<path>:pull,push` for writes. */
export function repositoryScope(path: string, access: RepositoryAccess): string {
  return `repository:${path}:${access === 'push' ? 'pull,push' : 'pull'}`;
}

/**
 * Unions scopes (`type:name:actions`), merging the actions of scopes on the same resource.
 * Scopes without that shape are kept as they are. The result is sorted for stable cache keys.
 */
export function mergeScopes(...lists: readonly string[][]): string[] {
  const resources = new Map<string, Set<string>>();
  const opaque = new Set<string>();
  for (const scope of lists
    .flat()
    .flatMap((entry) => entry.split(/\s+/))
    .filter(Boolean)) {
    const first = scope.indexOf(':');
    const last = scope.lastIndexOf(':');
    if (first === -1 || first === last) {
      opaque.add(scope);
      continue;
    }
    const resource = scope.slice(0, last);
    const actions = resources.get(resource) ?? new Set<string>();
    for (const action of scope
      .slice(last + 1)
      .split(',')
      .filter(Boolean))
      actions.add(action);
    resources.set(resource, actions);
  }
  const merged = [...resources].map(([resource, actions]) => `${resource}:${[...actions].sort().join(',')}`);
  return [...merged, ...opaque].sort();
}

/** An HTTP request to a Bearer token server, built without side effects. */
export interface TokenRequest {
  method: 'GET' | 'POST';
  url: string;
  headers: Record<string, string>;
  body?: Buffer;
  /** Whether the request carries the user's credentials (Basic header or refresh token). */
  carriesCredentials: boolean;
}

/**
 * Builds the token request for a Bearer challenge: an OAuth2 refresh-token POST when the credential has an
 * identity token, otherwise a GET with `service` and `scope` (Basic-authenticated when a username and
 * password are known, anonymous otherwise).
 */
export function buildTokenRequest(
  challenge: AuthChallenge & { realm: string },
  scopes: readonly string[],
  credential: RegistryCredential | undefined,
  clientId: string,
): TokenRequest {
  if (credential?.identityToken) {
    const form = new URLSearchParams({
      grant_type: 'refresh_token',
      refresh_token: credential.identityToken,
    });
    if (challenge.service) form.set('service', challenge.service);
    if (scopes.length > 0) form.set('scope', scopes.join(' '));
    form.set('client_id', clientId);
    return {
      method: 'POST',
      url: challenge.realm,
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: Buffer.from(form.toString(), 'utf8'),
      carriesCredentials: true,
    };
  }
  const url = new URL(challenge.realm);
  if (challenge.service) url.searchParams.set('service', challenge.service);
  for (const scope of scopes) url.searchParams.append('scope', scope);
  const basic = basicAuthorization(credential);
  return {
    method: 'GET',
    url: url.toString(),
    headers: basic ? { authorization: basic } : {},
    carriesCredentials: basic !== undefined,
  };
}

/** `Basic base64(user:password)` when the credential has both, else undefined. */
export function basicAuthorization(credential: RegistryCredential | undefined): string | undefined {
  if (!credential?.username || credential.password === undefined || credential.password === '')
    return undefined;
  return `Basic ${Buffer.from(`${credential.username}:${credential.password}`, 'utf8').toString('base64')}`;
}

export interface IssuedToken {
  token: string;
  /** Lifetime in seconds, when the server said. */
  expiresInSeconds?: number;
}

/** Reads a token server's JSON answer; accepts `token` or `access_token`. Throws when neither is present. */
export function parseTokenResponse(body: Buffer | string): IssuedToken {
  let parsed: unknown;
  try {
    parsed = JSON.parse(typeof body === 'string' ? body : body.toString('utf8'));
  } catch {
    throw new Error('the token server did not answer with JSON');
  }
  if (typeof parsed !== 'object' || parsed === null)
    throw new Error('the token server answer is not an object');
  const record = parsed as Record<string, unknown>;
  const token = [record.token, record.access_token].find(
    (value): value is string => typeof value === 'string' && value !== '',
  );
  if (!token) throw new Error('the token server answer has neither "token" nor "access_token"');
  const expiresIn = record.expires_in;
  return {
    token,
    ...(typeof expiresIn === 'number' && Number.isFinite(expiresIn) && expiresIn > 0
      ? { expiresInSeconds: expiresIn }
      : {}),
  };
}

/** Tokens without `expires_in` are valid for 60 seconds (distribution token spec). */
const DEFAULT_TOKEN_LIFETIME_SECONDS = 60;
/** Tokens are dropped this long before they expire, so a request never races the expiry. */
const TOKEN_EXPIRY_MARGIN_MS = 10_000;

/** Bearer tokens by scope key, each until shortly before it expires. */
export class TokenCache {
  readonly #now: () => number;
  readonly #entries = new Map<string, { token: string; expiresAt: number }>();

  constructor(now: () => number = Date.now) {
    this.#now = now;
  }

  get(scopeKey: string): string | undefined {
    const entry = this.#entries.get(scopeKey);
    if (!entry) return undefined;
    if (entry.expiresAt <= this.#now()) {
      this.#entries.delete(scopeKey);
      return undefined;
    }
    return entry.token;
  }

  set(scopeKey: string, issued: IssuedToken): void {
    const lifetimeMs = (issued.expiresInSeconds ?? DEFAULT_TOKEN_LIFETIME_SECONDS) * 1000;
    const margin = Math.min(TOKEN_EXPIRY_MARGIN_MS, lifetimeMs / 2);
    this.#entries.set(scopeKey, { token: issued.token, expiresAt: this.#now() + lifetimeMs - margin });
  }

  delete(scopeKey: string): void {
    this.#entries.delete(scopeKey);
  }
}
