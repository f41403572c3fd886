import { describe, expect, it } from 'vitest';
import { CleanupRecorder, parseCleanupState } from '../../../src/runner/cleanup-state.js';
import { runPost } from '../../../src/stages/clean-up.js';
import { buildSummaryTable, formatBytes, markdownTable } from '../../../src/summary/tables.js';
import { memoryLog } from '../helpers/memory-host.js';
import type { Exec } from '../../../src/process/exec.js';

describe('cleanup state', () => {
  it('persists after every change so a crash midway still cleans up', () => {
    const saved: string[] = [];
    const recorder = new CleanupRecorder((s) => saved.push(s));
    recorder.record((s) => (s.buildxBuilder = 'edgeship-1'));
    recorder.record((s) => s.paths.push('/tmp/x'));
    expect(saved).toHaveLength(2);
    expect(parseCleanupState(saved[0]!)).toEqual({
      buildxBuilder: 'edgeship-1',
      buildahImages: [],
      paths: [],
    });
    expect(parseCleanupState(saved[1]!).paths).toEqual(['/tmp/x']);
  });

  it('treats empty or corrupt state as nothing to do', () => {
    expect(parseCleanupState('')).toEqual({ buildahImages: [], paths: [] });
    expect(parseCleanupState('{not json')).toEqual({ buildahImages: [], paths: [] });
  });
});

describe('post step', () => {
  it('removes the builder, logs out, removes images and paths, even when one step fails', async () => {
    const calls: string[] = [];
    const exec: Exec = async (file, args) => {
      calls.push([file, ...args].join(' '));
      return file === 'docker' && args[0] === 'logout'
        ? { exitCode: 1, stdout: '', stderr: 'not logged in' }
        : { exitCode: 0, stdout: '', stderr: '' };
    };
    const removed: string[] = [];
    const log = memoryLog();
    const state = JSON.stringify({
      buildxBuilder: 'edgeship-9',
      dockerLogout: 'ghcr.io',
      buildahImages: ['localhost/a'],
      paths: ['/t/1', '/t/2'],
    });
    const done = await runPost(state, { exec, log, removePath: (p) => removed.push(p) });
    expect(calls).toEqual([
      'docker buildx rm edgeship-9',
      'docker logout ghcr.io',
      'buildah rmi --force localhost/a',
    ]);
    expect(removed).toEqual(['/t/1', '/t/2']);
    expect(done).toContain('removed buildx builder edgeship-9');
    expect(
      log.lines.some(
        (l) => l.startsWith('warning: cleanup: logged out of ghcr.io failed') && l.includes('not logged in'),
      ),
    ).toBe(true);
  });

  it('does nothing without state', async () => {
    const exec: Exec = async () => {
      throw new Error('must not run');
    };
    expect(await runPost('', { exec, log: memoryLog(), removePath: () => undefined })).toEqual([]);
  });
});

describe('summary', () => {
  it('formats sizes the way registries report them', () => {
    expect(formatBytes(999)).toBe('999 B');
    expect(formatBytes(1_083_608)).toBe('1.08 MB');
    expect(formatBytes(150_000_000)).toBe('150.0 MB');
  });

  it('renders a platform table with escaped cells', () => {
    const table = buildSummaryTable('reg/app', [
      {
        platform: 'linux/arm64',
        digest: 'sha256:' + 'a'.repeat(64),
        mediaType: 'application/vnd.docker.distribution.manifest.v2+json',
        manifestSize: 400,
        size: 2_000_000,
        config: { os: 'linux', architecture: 'arm64', user: '', healthcheck: true, labels: {} },
        configDigest: 'sha256:' + 'b'.repeat(64),
        layers: [],
      },
    ]);
    const md = markdownTable(table);
    expect(md.split('\n')).toHaveLength(3);
    expect(md).toContain('| linux/arm64 | `reg/app@sha256:aaaa');
    expect(md).toContain('| 2.00 MB | root (unset) | yes |');
    expect(markdownTable([['a|b'], ['c']])).toContain('a\\|b');
  });
});
