import { describe, expect, it } from 'vitest';
import { InputError, readSettings } from '../../../src/settings/inputs.js';

const files: Record<string, 'file' | 'directory'> = { '/w': 'directory', '/w/Dockerfile': 'file' };
const settingsFor = (
  inputs: Record<string, string>,
  env?: Record<string, string | undefined>,
  fileExists = (p: string) => files[p] ?? ('missing' as const),
) =>
  readSettings((name) => ({ image: 'ghcr.io/acme/agent', ...inputs })[name] ?? '', {
    workspace: '/w',
    fileExists,
    ...(env ? { env } : {}),
  });

describe('lifecycle inputs', () => {
  it('rescan: channels and the latest releases, defaults production and staging; no Dockerfile needed', () => {
    expect(settingsFor({}).rescan).toEqual({ channels: ['production', 'staging'], releases: 0 });
    const s = settingsFor(
      { mode: 'rescan', channels: 'production\nring-1', 'rescan-releases': '3' },
      undefined,
      (p) => (p === '/w' ? 'directory' : 'missing'),
    );
    expect(s.rescan).toEqual({ channels: ['production', 'ring-1'], releases: 3 });
    expect(() => settingsFor({ channels: 'prod uction' })).toThrow(/channels/);
    expect(() => settingsFor({ 'rescan-releases': '51' })).toThrow(/rescan-releases/);
  });

  it('check: keyless signing needs no OIDC token (nothing is signed)', () => {
    expect(settingsFor({ mode: 'check' }, {}).mode).toBe('check');
    expect(() => settingsFor({ mode: 'all' }, {})).toThrow(/id-token/);
  });

  it('gitops: repository, paths and token together; the token is masked and never echoed', () => {
    expect(settingsFor({}).gitops).toBeUndefined();
    const s = settingsFor({
      'gitops-repository': 'acme/fleet',
      'gitops-paths': 'clusters/{channel}/agent.yaml\n# comment\n',
      'gitops-token': 'ghs_secret',
    });
    expect(s.gitops).toEqual({
      repository: 'acme/fleet',
      paths: ['clusters/{channel}/agent.yaml'],
      branch: 'main',
      token: 'ghs_secret',
    });
    expect(
      settingsFor({
        'gitops-repository': 'http://127.0.0.1:8/fleet/edge.git',
        'gitops-paths': 'a',
        'gitops-token': 't',
      }).gitops?.repository,
    ).toBe('http://127.0.0.1:8/fleet/edge.git');
    expect(() => settingsFor({ 'gitops-repository': 'acme/fleet', 'gitops-token': 't' })).toThrow(
      /gitops-paths/,
    );
    expect(() => settingsFor({ 'gitops-repository': 'acme/fleet', 'gitops-paths': 'a' })).toThrow(
      /gitops-token/,
    );
    expect(() => settingsFor({ 'gitops-repository': 'not a repo' })).toThrow(InputError);
    expect(() => settingsFor({ 'gitops-branch': 'bad..branch' })).toThrow(/gitops-branch/);
  });
});

describe('redactSettings', () => {
  it('hides the GitOps token', async () => {
    const { redactSettings } = await import('../../../src/settings/redact.js');
    const s = settingsFor({
      'gitops-repository': 'acme/fleet',
      'gitops-paths': 'a',
      'gitops-token': 'ghs_secret',
    });
    expect(JSON.stringify(redactSettings(s))).not.toContain('ghs_secret');
  });
});
