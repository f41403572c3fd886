import { join } from 'node:path';
import type { Exec } from '../process/exec.js';
import { getFromCredentialHelper } from './credential-helper.js';
import { DOCKER_HUB, normaliseRegistry } from './reference.js';
import { isRecord } from '../validation/json.js';

/** How to authenticate to one registry. Which fields are set depends on where it came from. */
export interface RegistryCredential {
  username?: string;
  password?: string;
  /** An OAuth2 refresh token (docker config `identitytoken`, or a helper's `<token>` user). */
  identityToken?: string;
  /** A ready bearer token to send to the registry as is (docker config `registrytoken`). */
  registryToken?: string;
}

/** Finds the credential for a registry (host[:port], `docker.io` for Docker Hub), or undefined. */
export type CredentialResolver = (registry: string) => Promise<RegistryCredential | undefined>;

/** Reads a UTF-8 text file; rejects with an error whose `code` is `ENOENT` when it does not exist. */
export type ReadTextFile = (path: string) => Promise<string>;

/** Docker Hub's key in docker config files and the server URL its credential helpers store it under. */
const DOCKER_HUB_SERVER_URL = 'https://index.docker.io/v1/';

/**
 * Credentials given as action inputs, for the one registry they belong to. Both must be given or neither;
 * with neither the resolver never answers.
 */
export function resolverFromInputs(
  registry: string,
  username: string | undefined,
  password: string | undefined,
): CredentialResolver {
  const hasUsername = Boolean(username);
  const hasPassword = Boolean(password);
  if (hasUsername !== hasPassword) {
    throw new Error(
      hasUsername
        ? 'registry-username is set but registry-password is empty; give both or neither'
        : 'registry-password is set but registry-username is empty; give both or neither',
    );
  }
  const target = registryKey(registry);
  return async (requested) => {
    if (!hasUsername || registryKey(requested) !== target) return undefined;
    return { username, password };
  };
}

/** Asks each resolver in turn; the first credential found wins. */
export function chainResolvers(...resolvers: CredentialResolver[]): CredentialResolver {
  return async (registry) => {
    for (const resolve of resolvers) {
      const credential = await resolve(registry);
      if (credential) return credential;
    }
    return undefined;
  };
}

/** `$DOCKER_CONFIG`, else `<home>/.docker`. */
export function defaultDockerConfigDir(
  env: Readonly<Record<string, string | undefined>>,
  homeDir: string,
): string {
  return env.DOCKER_CONFIG || join(homeDir, '.docker');
}

export interface DockerConfigResolverOptions {
  readFile: ReadTextFile;
  exec: Exec;
  /** The directory holding `config.json`, see defaultDockerConfigDir. */
  configDir: string;
}

/** The parts of a docker `config.json` that hold credentials. */
export interface DockerConfigFile {
  auths?: Record<string, DockerAuthEntry>;
  credHelpers?: Record<string, string>;
  credsStore?: string;
}

export interface DockerAuthEntry {
  auth?: string;
  username?: string;
  password?: string;
  identitytoken?: string;
  registrytoken?: string;
}

/**
 * Credentials from a docker `config.json` as `docker login` leaves them: a credential helper named in
 * `credHelpers` for the registry (preferred), else the `credsStore` helper, else the `auths` entry (base64
 * `auth`, `username`/`password`, `identitytoken`, `registrytoken`). A missing file means no credentials;
 * an unreadable or malformed one is an error naming the file.
 */
export function dockerConfigResolver(options: DockerConfigResolverOptions): CredentialResolver {
  const file = join(options.configDir, 'config.json');
  let loaded: Promise<DockerConfigFile | undefined> | undefined;
  const load = () => (loaded ??= loadDockerConfig(options.readFile, file));

  return async (registry) => {
    const config = await load();
    if (!config) return undefined;
    const helper = findByRegistry(config.credHelpers ?? {}, registry)?.[1] ?? config.credsStore;
    if (helper) {
      const fromHelper = await credentialFromHelper(options.exec, helper, registry);
      if (fromHelper) return fromHelper;
    }
    const entry = findByRegistry(config.auths ?? {}, registry);
    return entry ? credentialFromAuthEntry(entry[1], entry[0], file) : undefined;
  };
}

async function loadDockerConfig(readFile: ReadTextFile, file: string): Promise<DockerConfigFile | undefined> {
  let text: string;
  try {
    text = await readFile(file);
  } catch (error) {
    if ((error as { code?: unknown }).code === 'ENOENT') return undefined;
    throw new Error(`cannot read docker config ${file}: ${(error as Error).message}`, { cause: error });
  }
  return parseDockerConfig(text, file);
}

/** Validates the credential-related shape of a docker config file's text; errors name the file. */
export function parseDockerConfig(text: string, file: string): DockerConfigFile {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new Error(`docker config ${file} is not valid JSON: ${(error as Error).message}`, { cause: error });
  }
  const fail = (what: string): never => {
    throw new Error(`docker config ${file} is malformed: ${what}`);
  };
  if (!isRecord(parsed)) return fail('the top level is not an object');
  const config: DockerConfigFile = {};
  if (parsed.auths !== undefined) {
    if (!isRecord(parsed.auths)) return fail('"auths" is not an object');
    const auths: Record<string, DockerAuthEntry> = {};
    for (const [key, entry] of Object.entries(parsed.auths)) {
      if (!isRecord(entry)) return fail(`auths["${key}"] is not an object`);
      const picked: DockerAuthEntry = {};
      for (const field of ['auth', 'username', 'password', 'identitytoken', 'registrytoken'] as const) {
        const value = entry[field];
        if (value === undefined || value === null) continue;
        if (typeof value !== 'string') return fail(`auths["${key}"].${field} is not a string`);
        picked[field] = value;
      }
      auths[key] = picked;
    }
    config.auths = auths;
  }
  if (parsed.credHelpers !== undefined) {
    if (!isRecord(parsed.credHelpers)) return fail('"credHelpers" is not an object');
    const helpers: Record<string, string> = {};
    for (const [key, helper] of Object.entries(parsed.credHelpers)) {
      if (typeof helper !== 'string' || !isHelperName(helper))
        return fail(`credHelpers["${key}"] is not a helper name`);
      helpers[key] = helper;
    }
    config.credHelpers = helpers;
  }
  if (parsed.credsStore !== undefined && parsed.credsStore !== '') {
    if (typeof parsed.credsStore !== 'string' || !isHelperName(parsed.credsStore)) {
      return fail('"credsStore" is not a helper name');
    }
    config.credsStore = parsed.credsStore;
  }
  return config;
}

/** The credential an `auths` entry holds, or undefined for an empty entry (credentials live in a store). */
export function credentialFromAuthEntry(
  entry: DockerAuthEntry,
  key: string,
  file: string,
): RegistryCredential | undefined {
  const credential: RegistryCredential = {};
  if (entry.auth) {
    const decoded = Buffer.from(entry.auth, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon <= 0) {
      throw new Error(
        `docker config ${file} is malformed: auths["${key}"].auth is not base64 of "user:password"`,
      );
    }
    credential.username = decoded.slice(0, colon);
    credential.password = decoded.slice(colon + 1);
  } else if (entry.username && entry.password) {
    credential.username = entry.username;
    credential.password = entry.password;
  }
  if (entry.identitytoken) credential.identityToken = entry.identitytoken;
  if (entry.registrytoken) credential.registryToken = entry.registrytoken;
  return Object.keys(credential).length > 0 ? credential : undefined;
}

/**
 * The credential a helper holds for `registry`, asked under Docker Hub's server URL for Docker Hub. A
 * `<token>` user means the secret is an identity token.
 */
async function credentialFromHelper(
  exec: Exec,
  helper: string,
  registry: string,
): Promise<RegistryCredential | undefined> {
  const serverUrl = registryKey(registry) === DOCKER_HUB ? DOCKER_HUB_SERVER_URL : registry;
  const stored = await getFromCredentialHelper(exec, helper, serverUrl, registry);
  if (!stored) return undefined;
  if (stored.username === '<token>') return { identityToken: stored.secret };
  return { username: stored.username, password: stored.secret };
}

/**
 * The entry of `map` for `registry`: an exact key first, then keys that name the same host once a
 * scheme and path are removed (`https://index.docker.io/v1/` is Docker Hub).
 */
function findByRegistry<T>(map: Record<string, T>, registry: string): [string, T] | undefined {
  const exact = map[registry];
  if (exact !== undefined) return [registry, exact];
  const wanted = registryKey(registry);
  if (wanted === DOCKER_HUB && map[DOCKER_HUB_SERVER_URL] !== undefined) {
    return [DOCKER_HUB_SERVER_URL, map[DOCKER_HUB_SERVER_URL]];
  }
  return Object.entries(map).find(([key]) => registryKey(key) === wanted);
}

/** Normalises a registry name or docker config key to a comparable host[:port]. */
export function registryKey(value: string): string {
  const withoutScheme = value.trim().replace(/^[a-z][a-z0-9+.-]*:\/\//i, '');
  const host = (withoutScheme.split('/')[0] ?? '').toLowerCase();
  return host === 'registry-1.docker.io' ? DOCKER_HUB : normaliseRegistry(host);
}

function isHelperName(value: string): boolean {
  return /^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(value);
}
