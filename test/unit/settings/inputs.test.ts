import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { formatPlatform } from '../../../src/image/platform.js';
import { INPUT_DEFAULTS, INPUTS, InputError, readSettings } from '../../../src/settings/inputs.js';
import { documentedDefault } from '../../../src/settings/table.js';

const files: Record<string, 'file' | 'directory'> = {
  '/w': 'directory',
  '/w/Dockerfile': 'file',
  '/w/app': 'directory',
  '/w/app/Containerfile': 'file',
  '/w/ca.pem': 'file',
};
const env = { workspace: '/w', fileExists: (p: string) => files[p] ?? ('missing' as const) };
const read = (inputs: Record<string, string>) => (name: string) => inputs[name] ?? '';
const settingsFor = (inputs: Record<string, string>) =>
  readSettings(read({ image: 'ghcr.io/acme/agent', ...inputs }), env);

describe('readSettings: good inputs', () => {
  it('applies the documented defaults', () => {
    const s = settingsFor({});
    expect(s.imageName).toBe('ghcr.io/acme/agent');
    expect(s.context).toBe('/w');
    expect(s.file).toBe('/w/Dockerfile');
    expect(s.platforms.map(formatPlatform)).toEqual(['linux/amd64', 'linux/arm64']);
    expect(s.builder).toBe('buildx');
    expect(s.qemu).toBe('auto');
    expect(s.registry).toBe('ghcr.io');
    expect(s.tags).toEqual([]);
  });

  it('reads lists, key/value lines and credentials', () => {
    const s = settingsFor({
      context: 'app',
      file: 'app/Containerfile',
      platforms: 'linux/amd64\nlinux/arm/v7, linux/aarch64',
      builder: 'BUILDAH',
      'build-args': 'VERSION=1.2\nURL=https://x/?a=b\n# comment\n',
      labels: 'com.example.team=edge',
      'cache-from': 'type=gha\n',
      tags: 'edge, stable',
      'registry-username': 'bot',
      'registry-password': 's3cret',
      'registry-ca-file': 'ca.pem',
      'insecure-registries': 'registry.lan:5000',
      'registry-retry-budget': '2m',
      qemu: 'false',
      target: 'runtime',
    });
    expect(s.context).toBe('/w/app');
    expect(s.file).toBe('/w/app/Containerfile');
    expect(s.platforms.map(formatPlatform)).toEqual(['linux/amd64', 'linux/arm/v7', 'linux/arm64']);
    expect(s.builder).toBe('buildah');
    expect(s.buildArgs).toEqual([
      ['VERSION', '1.2'],
      ['URL', 'https://x/?a=b'],
    ]);
    expect(s.labels).toEqual({ 'com.example.team': 'edge' });
    expect(s.cacheFrom).toEqual(['type=gha']);
    expect(s.tags).toEqual(['edge', 'stable']);
    expect(s.registryPassword).toBe('s3cret');
    expect(s.registryCaFile).toBe('/w/ca.pem');
    expect(s.insecureRegistries).toEqual(['registry.lan:5000']);
    expect(s.registryRetryBudgetMs).toBe(120_000);
    expect(settingsFor({}).registryRetryBudgetMs).toBe(60_000);
    expect(s.qemu).toBe('off');
    expect(s.target).toBe('runtime');
  });

  it('accepts a remote git context without checking the file system', () => {
    const s = settingsFor({ context: 'https://github.com/acme/agent.git#main' });
    expect(s.context).toBe('https://github.com/acme/agent.git#main');
  });
});

describe('readSettings: bad inputs name the input, the value and the expected form', () => {
  it.each([
    [{ image: '' }, 'image', /no value was given; expected an image repository such as ghcr.io\/acme\/agent/],
    [
      { image: 'ghcr.io/acme/agent:1.0' },
      'image',
      /"ghcr.io\/acme\/agent:1.0" is not valid; expected an image repository without tag or digest/,
    ],
    [{ image: 'ghcr.io/Acme/Agent' }, 'image', /"ghcr.io\/Acme\/Agent" is not valid/],
    [{ image: 'ghcr.io/acme/agent@sha256:' + 'a'.repeat(64) }, 'image', /is not valid/],
    [{ image: 'https://ghcr.io/acme/agent' }, 'image', /is not valid/],
    [{ image: 'ghcr.io/acme//agent' }, 'image', /is not valid/],
    [
      { platforms: 'linux/arm65' },
      'platforms',
      /"linux\/arm65" is not valid; expected os\/arch\[\/variant\]/,
    ],
    [{ platforms: 'arm64' }, 'platforms', /"arm64" is not valid/],
    [
      { platforms: 'linux/amd64,linux/amd64' },
      'platforms',
      /each platform once \(linux\/amd64 is listed twice\)/,
    ],
    [{ platforms: 'linux/arm64,linux/aarch64' }, 'platforms', /linux\/arm64 is listed twice/],
    [{ platforms: ' , \n' }, 'platforms', /expected one or more platforms/],
    [{ platforms: 'linux/arm/v9' }, 'platforms', /"linux\/arm\/v9" is not valid/],
    [{ platforms: 'windows/amd64/v9' }, 'platforms', /is not valid/],
    [{ builder: 'kaniko' }, 'builder', /"kaniko" is not valid; expected one of buildx, buildah/],
    [{ qemu: 'maybe' }, 'qemu', /"maybe" is not valid; expected one of auto/],
    [{ qemu: 'yes please' }, 'qemu', /expected one of auto/],
    [
      { context: 'missing-dir' },
      'context',
      /"missing-dir" is not valid; expected a directory of the build context/,
    ],
    [
      { file: 'Containerfile' },
      'file',
      /"Containerfile" is not valid; expected a Dockerfile or Containerfile that exists \(looked for \/w\/Containerfile\)/,
    ],
    [{ context: 'app' }, 'file', /looked for \/w\/app\/Dockerfile/],
    [{ 'build-args': 'NOVALUE' }, 'build-args', /"NOVALUE" is not valid; expected one KEY=VALUE per line/],
    [{ 'build-args': '=value' }, 'build-args', /expected one KEY=VALUE per line/],
    [{ 'build-args': '1BAD=x' }, 'build-args', /"1BAD=x" is not valid/],
    [{ labels: 'no equals sign' }, 'labels', /expected one KEY=VALUE per line, KEY being a label key/],
    [{ tags: 'ok,-bad' }, 'tags', /"-bad" is not valid; expected tag names/],
    [{ tags: 'has space' }, 'tags', /"has space" is not valid/],
    [{ tags: 'x'.repeat(129) }, 'tags', /at most 128 characters/],
    [{ tags: 'a:b' }, 'tags', /"a:b" is not valid/],
    [{ target: 'bad target' }, 'target', /expected the name of a build stage/],
    [{ registry: 'https://ghcr.io' }, 'registry', /expected a registry host such as ghcr.io/],
    [{ registry: 'ghcr.io/acme' }, 'registry', /no scheme, no path/],
    [
      { 'registry-password': 'x' },
      'registry-username',
      /no value was given; expected a user name whenever registry-password is set/,
    ],
    [
      { 'registry-username': 'bot' },
      'registry-password',
      /expected a password or token whenever registry-username is set/,
    ],
    [
      { 'registry-ca-file': 'nope.pem' },
      'registry-ca-file',
      /"nope.pem" is not valid; expected the path of a PEM file/,
    ],
    [{ 'insecure-registries': 'http://reg.lan' }, 'insecure-registries', /expected registry hosts/],
    [
      { 'scan-concurrency': '0' },
      'scan-concurrency',
      /"0" is not valid; expected a whole number from 1 to 16/,
    ],
    [{ 'scan-concurrency': 'many' }, 'scan-concurrency', /expected a whole number/],
    [{ 'scan-timeout': 'soon' }, 'scan-timeout', /expected a duration such as 90s, 15m or 1h/],
    [{ 'registry-retry-budget': '0s' }, 'registry-retry-budget', /expected a duration such as 90s/],
    [{ 'allow-empty-sbom': 'yes' }, 'allow-empty-sbom', /"yes" is not valid; expected true or false/],
    [{ 'max-db-age': '5 days' }, 'max-db-age', /expected a positive number of days or hours/],
    [{ 'sbom-formats': 'spdx' }, 'sbom-formats', /unknown format "spdx"/],
    [{ 'fulcio-url': 'http://127.0.0.1:9000' }, 'trusted-root', /whenever fulcio-url points at it/],
    [{ 'records-retention-days': '0' }, 'records-retention-days', /a whole number of days from 1 to 90/],
    [{ mode: 'merge' }, 'mode', /expected one of all, build, publish, promote/],
    [{ mode: 'promote' }, 'from', /the tag or digest of the release to promote/],
    [{ mode: 'promote', from: '1.8.2-rc.1', signing: 'off' }, 'signing', /keyless or key in mode promote/],
    [
      { mode: 'promote', from: 'ghcr.io/acme/agent:1.8.2' },
      'from',
      /a tag \(1\.8\.2-rc\.3, staging\) or a digest/,
    ],
    [{ signing: 'sometimes' }, 'signing', /expected one of keyless, key, off/],
    [{ signing: 'key' }, 'signing-key', /a PEM private key/],
    [{ 'release-assets': 'always' }, 'release-assets', /expected one of auto, off/],
    [{ overwrite: 'yes' }, 'overwrite', /expected true or false/],
    [{ policy: 'nope.yml' }, 'policy', /"nope.yml" is not valid; expected the path of a policy YAML file/],
  ])('%j → error on %s', (inputs, input, message) => {
    let caught: unknown;
    try {
      settingsFor(inputs);
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(InputError);
    expect((caught as InputError).input).toBe(input);
    expect((caught as Error).message).toMatch(/^Input "/);
    expect((caught as Error).message).toMatch(message);
    expect((caught as Error).message).not.toMatch(/\n\s+at /);
  });

  it.each([
    [
      { 'syft-version': 'latest' },
      /Input "syft-version": "latest" is not valid; expected default, path, or a release version/,
    ],
    [{ 'grype-version': '1.x' }, /Input "grype-version": "1.x" is not valid/],
  ])('%j → a clear tool version error', (inputs, message) => {
    expect(() => settingsFor(inputs)).toThrow(message);
  });

  it('reads the gate settings and policy inputs', () => {
    const s = readSettings(
      read({
        image: 'ghcr.io/acme/agent',
        policy: 'policy.yml',
        'fail-on': 'critical',
        'max-image-size': '150MB',
        'scan-timeout': '90s',
        'sbom-formats': 'spdx-json, cyclonedx-json',
      }),
      {
        ...env,
        fileExists: (p: string) => (p === '/w/policy.yml' ? 'file' : env.fileExists(p)),
        readText: () => 'apiVersion: edgeship/v1\nkind: Policy\n',
      },
    );
    expect(s.gate).toEqual({
      syftVersion: 'default',
      grypeVersion: 'default',
      sbomFormats: ['spdx-json', 'cyclonedx-json'],
      maxDbAge: '5d',
      scanConcurrency: 2,
      scanTimeoutMs: 90_000,
      allowEmptySbom: false,
    });
    expect(s.policy).toEqual({
      policyFile: { path: 'policy.yml', text: 'apiVersion: edgeship/v1\nkind: Policy\n' },
      failOn: 'critical',
      maxImageSize: '150MB',
    });
  });

  it('never echoes the registry password in an error', () => {
    expect(() => settingsFor({ 'registry-password': 'hunter2' })).toThrow(InputError);
    try {
      settingsFor({ 'registry-password': 'hunter2' });
    } catch (error) {
      expect((error as Error).message).not.toContain('hunter2');
    }
  });
});

describe('action.yml', () => {
  const action = parse(readFileSync(new URL('../../../action.yml', import.meta.url), 'utf8')) as {
    inputs: Record<string, { description: string; default?: string }>;
    outputs: Record<string, { description: string }>;
    runs: { using: string; main: string; post: string };
  };

  it('documents the same defaults the code applies', () => {
    for (const [name, value] of Object.entries(INPUT_DEFAULTS)) {
      expect(action.inputs[name]?.default, name).toBe(value);
    }
  });

  it('documents every input and output and runs on node24 with a post step', () => {
    for (const [name, input] of Object.entries(action.inputs)) expect(input.description, name).toBeTruthy();
    for (const [name, output] of Object.entries(action.outputs))
      expect(output.description, name).toBeTruthy();
    expect(action.runs).toEqual({ using: 'node24', main: 'dist/main.js', post: 'dist/post.js' });
  });

  it('the settings table reads exactly the inputs action.yml declares, with the same defaults', () => {
    expect(Object.keys(INPUTS).sort()).toEqual(Object.keys(action.inputs).sort());
    for (const [name, input] of Object.entries(action.inputs)) {
      expect(documentedDefault(name as keyof typeof INPUTS), name).toBe(input.default);
    }
  });
});
