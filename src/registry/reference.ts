import { isIPv4 } from 'node:net';
import { InvalidReferenceError } from './errors.js';

export { InvalidReferenceError } from './errors.js';

/** An image repository: where it lives and its name there, without tag or digest. */
export interface ImageRepository {
  /** host[:port] as the user wrote it; Docker Hub's aliases are normalised to `docker.io`. */
  registry: string;
  /** Repository path, e.g. `acme/agent`; Docker Hub single names get `library/`. */
  path: string;
}

export type DigestAlgorithm = 'sha256' | 'sha512';

export interface ParsedDigest {
  algorithm: DigestAlgorithm;
  /** Lowercase hex. */
  hex: string;
}

export const DOCKER_HUB = 'docker.io';
const DOCKER_HUB_API_HOST = 'registry-1.docker.io';
const DOCKER_HUB_ALIASES = new Set(['docker.io', 'index.docker.io']);

/** The one Docker tag grammar: an ASCII word character, then up to 127 word characters, dots or dashes. */
export const TAG_PATTERN_SOURCE = '^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$';
export const TAG_PATTERN = new RegExp(TAG_PATTERN_SOURCE);

// The distribution reference grammar (github.com/distribution/reference, regexp.go).
const PATH_COMPONENT = '[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*';
const DOMAIN_COMPONENT = '(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])';
const DOMAIN_NAME = `${DOMAIN_COMPONENT}(?:\\.${DOMAIN_COMPONENT})*`;
const IPV6_ADDRESS = '\\[[a-fA-F0-9:]+\\]';
const PATH_PATTERN = new RegExp(`^${PATH_COMPONENT}(?:/${PATH_COMPONENT})*$`);
const DOMAIN_PATTERN = new RegExp(`^(?:${DOMAIN_NAME}|${IPV6_ADDRESS})(?::[0-9]+)?$`);
const DIGEST_PATTERNS: Record<DigestAlgorithm, RegExp> = {
  sha256: /^sha256:([a-f0-9]{64})$/,
  sha512: /^sha512:([a-f0-9]{128})$/,
};
const NAME_TOTAL_LENGTH_MAX = 255;

const EXPECTED_REPOSITORY =
  'a repository such as ghcr.io/acme/agent (registry host, then the path; no tag or digest)';
const EXPECTED_DIGEST = 'sha256:<64 lowercase hex> or sha512:<128 lowercase hex>';

/**
 * Parses an image repository as written by a user, following Docker's normalisation: a first component
 * with a `.` or `:` (or `localhost`) is the registry; otherwise the registry is Docker Hub, where single
 * names live under `library/`. Tags, digests, schemes and uppercase paths are rejected.
 */
export function parseRepository(input: string): ImageRepository {
  const fail = (reason: string): never => {
    throw new InvalidReferenceError('image repository', input, reason, EXPECTED_REPOSITORY);
  };
  const value = input.trim();
  if (value === '') fail('it is empty');
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(value)) fail('it must not include a URL scheme');
  if (value.includes('@')) fail('it must not include a digest (@sha256:…)');

  const slash = value.indexOf('/');
  const first = slash === -1 ? '' : value.slice(0, slash);
  // Docker also treats an uppercase first component as a host; here it is reported as an uppercase path.
  const hasRegistry = slash !== -1 && (/[.:]/.test(first) || first === 'localhost');
  let registry = hasRegistry ? first : DOCKER_HUB;
  let path = hasRegistry ? value.slice(slash + 1) : value;

  if (hasRegistry && !DOMAIN_PATTERN.test(registry))
    fail(`"${registry}" is not a valid registry host[:port]`);
  if (path.includes(':')) fail('it must not include a tag (:tag); give the repository only');
  if (path.toLowerCase() !== path) fail('the repository path must be lowercase');
  if (!PATH_PATTERN.test(path)) {
    fail(
      'each path component must be lowercase letters and digits, separated by ".", "_", "__" or "-", and components are joined by single "/"',
    );
  }
  registry = normaliseRegistry(registry);
  if (registry === DOCKER_HUB && !path.includes('/')) path = `library/${path}`;
  if (`${registry}/${path}`.length > NAME_TOTAL_LENGTH_MAX) {
    fail(`it is longer than ${NAME_TOTAL_LENGTH_MAX} characters`);
  }
  return { registry, path };
}

/** `registry/path`, e.g. `ghcr.io/acme/agent` or `docker.io/library/alpine`. */
export function formatRepository(repo: ImageRepository): string {
  return `${repo.registry}/${repo.path}`;
}

/** Whether a repository path (without registry) follows the path grammar, e.g. `acme/agent`. */
export function isValidRepositoryPath(path: string): boolean {
  return path.length <= NAME_TOTAL_LENGTH_MAX && PATH_PATTERN.test(path);
}

/** Whether `host` is a valid registry host[:port] (DNS name, IPv4, or bracketed IPv6). */
export function isValidRegistryHost(host: string): boolean {
  return DOMAIN_PATTERN.test(host);
}

/** Maps Docker Hub's aliases (`docker.io`, `index.docker.io`) to `docker.io`; other hosts are kept as written. */
export function normaliseRegistry(registry: string): string {
  return DOCKER_HUB_ALIASES.has(registry.toLowerCase()) ? DOCKER_HUB : registry;
}

/** The host that serves the registry API: Docker Hub's is `registry-1.docker.io`; others serve themselves. */
export function apiHost(registry: string): string {
  return normaliseRegistry(registry) === DOCKER_HUB ? DOCKER_HUB_API_HOST : registry;
}

export function isDigest(value: string): boolean {
  return DIGEST_PATTERNS.sha256.test(value) || DIGEST_PATTERNS.sha512.test(value);
}

/** Splits `sha256:<hex>` / `sha512:<hex>`; throws InvalidReferenceError otherwise. */
export function parseDigest(value: string): ParsedDigest {
  for (const algorithm of ['sha256', 'sha512'] as const) {
    const match = DIGEST_PATTERNS[algorithm].exec(value);
    if (match?.[1]) return { algorithm, hex: match[1] };
  }
  throw new InvalidReferenceError('digest', value, 'it is not a supported content digest', EXPECTED_DIGEST);
}

/** Whether `value` is a tag by {@link TAG_PATTERN}. */
export function isValidTag(value: string): boolean {
  return TAG_PATTERN.test(value);
}

/**
 * Checks a manifest reference (tag or digest) and throws InvalidReferenceError when it is neither.
 * Returns whether it is a digest.
 */
export function assertTagOrDigest(ref: string): 'tag' | 'digest' {
  if (isDigest(ref)) return 'digest';
  if (isValidTag(ref)) return 'tag';
  throw new InvalidReferenceError(
    'tag or digest',
    ref,
    'it is neither a valid tag nor a supported digest',
    `a tag matching [A-Za-z0-9_][A-Za-z0-9_.-]{0,127} or ${EXPECTED_DIGEST}`,
  );
}

/** Checks a repository path (e.g. `acme/agent`) and throws InvalidReferenceError when it is not valid. */
export function assertRepositoryPath(path: string): void {
  if (!isValidRepositoryPath(path)) {
    throw new InvalidReferenceError(
      'repository path',
      path,
      'it does not follow the repository path grammar',
      'a lowercase path such as acme/agent',
    );
  }
}

/** `localhost`, `127.0.0.0/8` or `::1`, with or without a port (IPv6 may be bracketed). */
export function isLoopbackHost(host: string): boolean {
  const hostname = stripPort(host.trim().toLowerCase());
  if (hostname === 'localhost') return true;
  if (hostname === '::1' || hostname === '0:0:0:0:0:0:0:1') return true;
  return isIPv4(hostname) && hostname.startsWith('127.');
}

/** The hostname part of host[:port], without IPv6 brackets. */
export function stripPort(host: string): string {
  if (host.startsWith('[')) {
    const end = host.indexOf(']');
    return end === -1 ? host : host.slice(1, end);
  }
  const colons = host.split(':').length - 1;
  return colons === 1 ? host.slice(0, host.indexOf(':')) : host;
}
