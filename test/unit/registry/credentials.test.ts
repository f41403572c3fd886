import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execProcess, type Exec } from '../../../src/process/exec.js';
import {
  chainResolvers,
  defaultDockerConfigDir,
  dockerConfigResolver,
  resolverFromInputs,
  type CredentialResolver,
} from '../../../src/registry/credentials.js';

let root: string;
let binDir: string;
let callLog: string;
/** Runs programs with the test's helper scripts first on PATH. */
let exec: Exec;
let configCount = 0;

const base64 = (text: string) => Buffer.from(text).toString('base64');

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'edgeship-credentials-'));
  binDir = join(root, 'bin');
  callLog = join(root, 'calls.log');
  await mkdir(binDir);
  const script = async (name: string, body: string) => {
    const file = join(binDir, `docker-credential-${name}`);
    await writeFile(file, `#!/bin/sh\nserver=$(cat)\necho "${name} $1 $server" >> '${callLog}'\n${body}\n`);
    await chmod(file, 0o755);
  };
  await script(
    'store',
    `case "$server" in
  ghcr.io) echo '{"ServerURL":"ghcr.io","Username":"store-user","Secret":"store-secret"}' ;;
  https://index.docker.io/v1/) echo '{"ServerURL":"https://index.docker.io/v1/","Username":"<token>","Secret":"hub-identity"}' ;;
  *) echo 'credentials not found in native keychain'; exit 1 ;;
esac`,
  );
  await script(
    'helper',
    `echo '{"ServerURL":"'"$server"'","Username":"helper-user","Secret":"helper-secret"}'`,
  );
  await script('broken', `echo 'keychain locked' >&2; exit 2`);
  exec = (file, args, options) =>
    execProcess(file, args, {
      ...options,
      env: { ...options?.env, PATH: `${binDir}${delimiter}${process.env.PATH}` },
    });
});

afterAll(async () => {
  if (root) await rm(root, { recursive: true, force: true });
});

/** Writes a docker config.json in a fresh directory and returns a resolver reading it. */
async function resolverWithConfig(config: unknown): Promise<{ resolve: CredentialResolver; file: string }> {
  const configDir = join(root, `config-${++configCount}`);
  await mkdir(configDir);
  const file = join(configDir, 'config.json');
  await writeFile(file, typeof config === 'string' ? config : JSON.stringify(config));
  return {
    resolve: dockerConfigResolver({ readFile: (path) => readFile(path, 'utf8'), exec, configDir }),
    file,
  };
}

async function calls(): Promise<string[]> {
  const text = await readFile(callLog, 'utf8').catch(() => '');
  return text.split('\n').filter(Boolean);
}

describe('resolverFromInputs', () => {
  it('answers only for its registry, Docker Hub aliases included', async () => {
    const resolve = resolverFromInputs('docker.io', 'ci', 'pw');
    expect(await resolve('docker.io')).toEqual({ username: 'ci', password: 'pw' });
    expect(await resolve('index.docker.io')).toEqual({ username: 'ci', password: 'pw' });
    expect(await resolve('ghcr.io')).toBeUndefined();
    expect(await resolverFromInputs('localhost:5000', 'u', 'p')('localhost:5000')).toEqual({
      username: 'u',
      password: 'p',
    });
  });

  it('answers nothing without inputs and refuses half of a pair', async () => {
    expect(await resolverFromInputs('ghcr.io', undefined, '')('ghcr.io')).toBeUndefined();
    expect(() => resolverFromInputs('ghcr.io', 'u', '')).toThrow(/registry-password is empty/);
    expect(() => resolverFromInputs('ghcr.io', undefined, 'p')).toThrow(/registry-username is empty/);
  });
});

describe('chainResolvers', () => {
  it('returns the first credential found and stops asking', async () => {
    const asked: string[] = [];
    const resolver =
      (name: string, found: boolean): CredentialResolver =>
      async () => {
        asked.push(name);
        return found ? { username: name, password: 'x' } : undefined;
      };
    const resolve = chainResolvers(resolver('a', false), resolver('b', true), resolver('c', true));
    expect(await resolve('ghcr.io')).toEqual({ username: 'b', password: 'x' });
    expect(asked).toEqual(['a', 'b']);
    expect(await chainResolvers()('ghcr.io')).toBeUndefined();
  });
});

describe('dockerConfigResolver with auths', () => {
  it('means no credentials when the config file does not exist', async () => {
    const configDir = join(root, 'no-such-dir');
    const resolve = dockerConfigResolver({ readFile: (path) => readFile(path, 'utf8'), exec, configDir });
    expect(await resolve('ghcr.io')).toBeUndefined();
  });

  it('names the file when the config is not valid JSON', async () => {
    const { resolve, file } = await resolverWithConfig('{"auths": {');
    await expect(resolve('ghcr.io')).rejects.toThrow(`docker config ${file} is not valid JSON`);
  });

  it('names the file and key when an entry is malformed', async () => {
    const { resolve, file } = await resolverWithConfig({
      auths: { 'ghcr.io': { auth: base64('no-colon') } },
    });
    await expect(resolve('ghcr.io')).rejects.toThrow(
      `docker config ${file} is malformed: auths["ghcr.io"].auth is not base64 of "user:password"`,
    );
    const wrongType = await resolverWithConfig({ auths: { 'ghcr.io': { username: 42 } } });
    await expect(wrongType.resolve('ghcr.io')).rejects.toThrow(/auths\["ghcr.io"\].username is not a string/);
  });

  it('decodes a base64 auth, keeping colons in the password', async () => {
    const { resolve } = await resolverWithConfig({ auths: { 'ghcr.io': { auth: base64('ci:pa:ss') } } });
    expect(await resolve('ghcr.io')).toEqual({ username: 'ci', password: 'pa:ss' });
    expect(await resolve('quay.io')).toBeUndefined();
  });

  it('finds Docker Hub under https://index.docker.io/v1/', async () => {
    const { resolve } = await resolverWithConfig({
      auths: { 'https://index.docker.io/v1/': { auth: base64('hubuser:hubpass') } },
    });
    expect(await resolve('docker.io')).toEqual({ username: 'hubuser', password: 'hubpass' });
  });

  it('matches keys written with a scheme or path, and exact host:port keys', async () => {
    const { resolve } = await resolverWithConfig({
      auths: {
        'https://ghcr.io/v2/': { username: 'gh', password: 'ghp' },
        'localhost:5000': { auth: base64('local:pw') },
        'localhost:5001': {},
        'quay.io': { identitytoken: 'quay-refresh' },
        'registry.example.com': { registrytoken: 'ready-token' },
      },
    });
    expect(await resolve('ghcr.io')).toEqual({ username: 'gh', password: 'ghp' });
    expect(await resolve('localhost:5000')).toEqual({ username: 'local', password: 'pw' });
    expect(await resolve('localhost:5001')).toBeUndefined();
    expect(await resolve('quay.io')).toEqual({ identityToken: 'quay-refresh' });
    expect(await resolve('registry.example.com')).toEqual({ registryToken: 'ready-token' });
  });
});

describe('dockerConfigResolver with credential helpers', () => {
  it('prefers credHelpers for the registry over credsStore', async () => {
    const before = (await calls()).length;
    const { resolve } = await resolverWithConfig({
      credsStore: 'store',
      credHelpers: { 'ghcr.io': 'helper' },
    });

    expect(await resolve('ghcr.io')).toEqual({ username: 'helper-user', password: 'helper-secret' });
    expect((await calls()).slice(before)).toEqual(['helper get ghcr.io']);
  });

  it('uses credsStore otherwise, with the Docker Hub server URL and <token> as identity token', async () => {
    const before = (await calls()).length;
    const { resolve } = await resolverWithConfig({
      credsStore: 'store',
      credHelpers: { 'quay.io': 'helper' },
    });

    expect(await resolve('ghcr.io')).toEqual({ username: 'store-user', password: 'store-secret' });
    expect(await resolve('docker.io')).toEqual({ identityToken: 'hub-identity' });
    expect((await calls()).slice(before)).toEqual([
      'store get ghcr.io',
      'store get https://index.docker.io/v1/',
    ]);
  });

  it('falls back to auths when the store has nothing for the registry', async () => {
    const { resolve } = await resolverWithConfig({
      credsStore: 'store',
      auths: { 'localhost:5000': { auth: base64('file:pw') } },
    });
    expect(await resolve('localhost:5000')).toEqual({ username: 'file', password: 'pw' });
    expect(await resolve('localhost:6000')).toBeUndefined();
  });

  it('fails clearly when the helper is not installed', async () => {
    const { resolve } = await resolverWithConfig({ credHelpers: { 'ghcr.io': 'not-installed' } });
    await expect(resolve('ghcr.io')).rejects.toThrow(
      /credential helper docker-credential-not-installed could not run/,
    );
  });

  it('reports a failing helper with its exit code and message', async () => {
    const { resolve } = await resolverWithConfig({ credsStore: 'broken' });
    await expect(resolve('ghcr.io')).rejects.toThrow(
      'credential helper docker-credential-broken failed for ghcr.io with exit code 2: keychain locked',
    );
  });

  it('rejects a helper name that is not a plain program name', async () => {
    const { resolve } = await resolverWithConfig({ credsStore: '../../bin/sh' });
    await expect(resolve('ghcr.io')).rejects.toThrow(/"credsStore" is not a helper name/);
  });
});

describe('defaultDockerConfigDir', () => {
  it('uses DOCKER_CONFIG, else ~/.docker', () => {
    expect(defaultDockerConfigDir({ DOCKER_CONFIG: '/etc/docker-ci' }, '/home/runner')).toBe(
      '/etc/docker-ci',
    );
    expect(defaultDockerConfigDir({}, '/home/runner')).toBe(join('/home/runner', '.docker'));
  });
});
