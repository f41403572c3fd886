/**
 * mode: check and mode: rescan through runAction on an in-memory runner, the loopback fake registry and the GitHub API
 * stand-in; only buildah, syft and grype are fake-exec doubles.
 */
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { runAction } from '../../../src/action/run.js';
import { buildah } from '../helpers/builder-doubles.js';
import { fakeExec, groupsOf, memoryHost } from '../helpers/memory-host.js';
import { scannerDoubles } from '../helpers/scanner-doubles.js';
import { FakeRegistry } from '../registry/fake-registry.js';
import { startGitHubApiStandIn, type GitHubApiStandIn } from '../../e2e/harness/github-api.js';

const USER = 'bot';
const PASSWORD = 'registry-s3cret';
const NOW = new Date('2026-01-02T03:04:05Z');

let registry: FakeRegistry;
let github: GitHubApiStandIn;
let root: string;
let savedPath: string | undefined;

beforeAll(async () => {
  registry = await new FakeRegistry({ auth: { kind: 'basic', username: USER, password: PASSWORD } }).start();
  github = await startGitHubApiStandIn({ repository: 'acme/agent' });
});
afterAll(async () => {
  await registry.stop();
  await github.stop();
});
beforeEach(() => {
  root = mkdtempSync(path.join(os.tmpdir(), 'edgeship-lifecycle-'));
  mkdirSync(path.join(root, 'workspace'));
  writeFileSync(path.join(root, 'workspace', 'Dockerfile'), 'FROM scratch\n');
  mkdirSync(path.join(root, 'bin'));
  for (const tool of ['syft', 'grype']) {
    writeFileSync(path.join(root, 'bin', tool), '#!/bin/sh\nexit 1\n');
    chmodSync(path.join(root, 'bin', tool), 0o755);
  }
  savedPath = process.env.PATH;
  process.env.PATH = `${path.join(root, 'bin')}:${savedPath}`;
});
afterEach(() => {
  process.env.PATH = savedPath;
  rmSync(root, { recursive: true, force: true });
});

function action(inputs: Record<string, string>, ref: string) {
  return memoryHost({
    inputs: {
      image: `${registry.host}/acme/agent`,
      builder: 'buildah',
      platforms: 'linux/amd64,linux/arm64',
      'registry-username': USER,
      'registry-password': PASSWORD,
      'syft-version': 'path',
      'grype-version': 'path',
      'scan-concurrency': '1',
      'github-token': github.token,
      ...inputs,
    },
    env: {
      GITHUB_REF: ref,
      GITHUB_SHA: '0123456789abcdef0123456789abcdef01234567',
      GITHUB_REPOSITORY: 'acme/agent',
      GITHUB_API_URL: github.apiUrl,
      GITHUB_WORKSPACE: path.join(root, 'workspace'),
      GITHUB_RUN_ID: '4242',
      RUNNER_TEMP: path.join(root, 'temp'),
      RUNNER_TOOL_CACHE: path.join(root, 'tool-cache'),
    },
    exec: fakeExec(buildah, scannerDoubles({ now: NOW })),
    now: () => NOW,
  });
}

describe('runAction, lifecycle modes', () => {
  it('mode check: builds, scans and gates, tags and signs nothing, and keeps one comment on the pull request', async () => {
    for (const run of [1, 2]) {
      const host = action({ mode: 'check', signing: 'keyless' }, 'refs/pull/3/merge');
      const result = await runAction(host);
      expect(result.gate?.verdict.pass).toBe(true);
      expect(result.published).toBeUndefined();
      expect(groupsOf(host.log)).toEqual(
        expect.arrayContaining(['Compare with production', 'Comment on pull request #3']),
      );
      expect(groupsOf(host.log)).not.toContain('Sign and attest');
      expect(host.outputs['comment-url']).toContain('/pull/3#issuecomment-');
      expect(host.summary.join('\n')).toContain('No production release to compare with yet.');
      expect(github.comments(), `run ${run}`).toHaveLength(1);
    }
    expect(registry.tags.size).toBe(0);
  });

  it('mode rescan needs signed releases: signing off is refused before anything is read', async () => {
    const host = action({ mode: 'rescan', signing: 'off' }, 'refs/heads/main');
    await expect(runAction(host)).rejects.toThrow(/signing must not be off/);
  });
});
