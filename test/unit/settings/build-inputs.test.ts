import { describe, expect, it } from 'vitest';
import { InputError, maskSecretInputs, readSettings } from '../../../src/settings/inputs.js';
import { redactSettings } from '../../../src/settings/redact.js';

const files: Record<string, 'file' | 'directory'> = {
  '/w': 'directory',
  '/w/Dockerfile': 'file',
  '/w/npmrc': 'file',
};
const env = { workspace: '/w', fileExists: (p: string) => files[p] ?? ('missing' as const) };
const read = (inputs: Record<string, string>) => (name: string) => inputs[name] ?? '';
const settingsFor = (inputs: Record<string, string>) =>
  readSettings(read({ image: 'ghcr.io/acme/agent', ...inputs }), env);
const failure = (inputs: Record<string, string>) => {
  try {
    settingsFor(inputs);
  } catch (error) {
    if (error instanceof InputError) return error;
    throw error;
  }
  throw new Error('expected an InputError');
};

describe('builder and build inputs', () => {
  it('defaults: a created builder with BuildKit and binfmt images pinned by digest, no extras', () => {
    const s = settingsFor({});
    expect(s.buildkitImage).toMatch(/^docker\.io\/moby\/buildkit:v[\d.]+@sha256:[a-f0-9]{64}$/);
    expect(s.binfmtImage).toMatch(/^docker\.io\/tonistiigi\/binfmt:[\w.-]+@sha256:[a-f0-9]{64}$/);
    expect(s.buildxBuilder).toBeUndefined();
    expect(s.buildkitEndpoint).toBeUndefined();
    expect([s.secrets, s.secretFiles, s.ssh, s.buildContexts, s.annotations]).toEqual([[], [], [], [], {}]);
    expect([s.noCache, s.pull]).toEqual([false, false]);
  });

  it('reads every build input', () => {
    const s = settingsFor({
      'buildx-builder': 'default',
      'buildkit-image': 'mirror.lan/moby/buildkit:v0.31.2@sha256:' + 'a'.repeat(64),
      secrets: 'token=abc=def\n# comment\nnpm_token= spaced ',
      'secret-files': 'npmrc=npmrc',
      ssh: 'default\ndeploy=/home/runner/.ssh/id_ed25519',
      'build-contexts': 'alpine=docker-image://alpine:3.20\nassets=./assets',
      annotations: 'com.example.owner=edge',
      'no-cache': 'TRUE',
      pull: 'true',
    });
    expect(s.buildxBuilder).toBe('default');
    expect(s.buildkitImage).toBe('mirror.lan/moby/buildkit:v0.31.2@sha256:' + 'a'.repeat(64));
    expect(s.secrets).toEqual([
      ['token', 'abc=def'],
      ['npm_token', ' spaced'],
    ]);
    expect(s.secretFiles).toEqual([['npmrc', '/w/npmrc']]);
    expect(s.ssh).toEqual(['default', 'deploy=/home/runner/.ssh/id_ed25519']);
    expect(s.buildContexts).toEqual([
      ['alpine', 'docker-image://alpine:3.20'],
      ['assets', './assets'],
    ]);
    expect(s.annotations).toEqual({ 'com.example.owner': 'edge' });
    expect([s.noCache, s.pull]).toEqual([true, true]);
    expect(settingsFor({ 'buildkit-endpoint': 'tcp://10.0.0.5:1234' }).buildkitEndpoint).toBe(
      'tcp://10.0.0.5:1234',
    );
  });

  it('names the input and never echoes a secret value', () => {
    const bad = failure({ secrets: 'token=fine\nno-equals-sign-s3cret' });
    expect(bad.input).toBe('secrets');
    expect(bad.message).toContain('line 2');
    expect(bad.message).not.toContain('s3cret');
    expect(failure({ 'secret-files': 'npmrc=missing' }).input).toBe('secret-files');
    expect(failure({ 'build-contexts': 'no-value=' }).input).toBe('build-contexts');
    expect(failure({ ssh: 'bad id' }).input).toBe('ssh');
    expect(failure({ 'buildkit-endpoint': 'http://x:1234' }).input).toBe('buildkit-endpoint');
    expect(failure({ 'buildkit-image': 'has space' }).input).toBe('buildkit-image');
    expect(failure({ 'buildx-builder': 'a b' }).input).toBe('buildx-builder');
    expect(failure({ 'no-cache': 'yes' }).input).toBe('no-cache');
  });

  it('rejects combinations before anything runs', () => {
    expect(failure({ 'buildx-builder': 'default', 'buildkit-endpoint': 'tcp://h:1' }).message).toMatch(
      /buildkit-endpoint.*set one of them/,
    );
    expect(failure({ builder: 'buildah', 'buildx-builder': 'default' }).input).toBe('buildx-builder');
    expect(failure({ builder: 'buildah', annotations: 'a=b' }).input).toBe('annotations');
    expect(failure({ secrets: 'npmrc=x', 'secret-files': 'npmrc=npmrc' }).message).toMatch(
      /each secret id once/,
    );
  });

  it('masks each secret value, and the logged settings show ids only', () => {
    const masked: string[] = [];
    maskSecretInputs(read({ secrets: 'token=tok-value\nother= padded \n' }), (v) => masked.push(v));
    expect(masked).toEqual(expect.arrayContaining(['tok-value', ' padded ', 'padded']));
    const logged = JSON.stringify(redactSettings(settingsFor({ secrets: 'token=tok-value' })));
    expect(logged).toContain('token=***');
    expect(logged).not.toContain('tok-value');
  });
});
