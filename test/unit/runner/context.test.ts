import { describe, expect, it } from 'vitest';
import { readRunnerContext, RunnerContextError } from '../../../src/runner/context.js';

const base = {
  GITHUB_REF: 'refs/tags/v1.0.0',
  GITHUB_SHA: 'a'.repeat(40),
  GITHUB_REPOSITORY: 'acme/agent',
  GITHUB_RUN_ID: '7',
  GITHUB_RUN_ATTEMPT: '2',
  RUNNER_TEMP: '/runner/tmp',
  GITHUB_WORKSPACE: '/w',
  GITHUB_EVENT_PATH: '/event.json',
};
const event = JSON.stringify({
  repository: {
    name: 'agent',
    description: 'Edge agent',
    html_url: 'https://github.com/acme/agent',
    license: { spdx_id: 'Apache-2.0' },
  },
});
const now = new Date('2026-11-21T10:00:00Z');

describe('readRunnerContext', () => {
  it('reads the ref, run and repository fields from the event', () => {
    const ctx = readRunnerContext(base, () => event, now, '/cwd', '/tmp');
    expect(ctx.release).toMatchObject({
      ref: 'refs/tags/v1.0.0',
      repository: 'acme/agent',
      now,
      repo: {
        name: 'agent',
        description: 'Edge agent',
        license: 'Apache-2.0',
        htmlUrl: 'https://github.com/acme/agent',
      },
    });
    expect(ctx.workflowRunUrl).toBe('https://github.com/acme/agent/actions/runs/7/attempts/2');
    expect(ctx.tempDir).toBe('/runner/tmp');
    expect(ctx.sourceDateEpoch).toBeUndefined();
  });

  it('uses SOURCE_DATE_EPOCH for the release time and passes it on to the builds', () => {
    const ctx = readRunnerContext(
      { ...base, SOURCE_DATE_EPOCH: '1700000000' },
      () => event,
      now,
      '/cwd',
      '/tmp',
    );
    expect(ctx.sourceDateEpoch).toBe(1700000000);
    expect(ctx.release.now.toISOString()).toBe('2023-11-14T22:13:20.000Z');
  });

  it('refuses a malformed SOURCE_DATE_EPOCH', () => {
    expect(() =>
      readRunnerContext({ ...base, SOURCE_DATE_EPOCH: 'yesterday' }, () => event, now, '/cwd', '/tmp'),
    ).toThrow(/SOURCE_DATE_EPOCH "yesterday" is not valid; expected whole seconds since 1970/);
  });

  it('says what is missing outside a workflow', () => {
    expect(() => readRunnerContext({}, () => undefined, now, '/cwd', '/tmp')).toThrow(RunnerContextError);
    expect(() => readRunnerContext({ GITHUB_SHA: 'x' }, () => undefined, now, '/cwd', '/tmp')).toThrow(
      /GITHUB_REF, GITHUB_REPOSITORY are not set/,
    );
  });

  it('ignores a broken event payload', () => {
    expect(readRunnerContext(base, () => '{nope', now, '/cwd', '/tmp').release.repo).toBeUndefined();
  });
});

describe('SOURCE_DATE_EPOCH from the commit', () => {
  const pushed = (id: string, timestamp: string) =>
    JSON.stringify({ head_commit: { id, timestamp }, repository: { name: 'agent' } });

  it('is the pushed commit time when unset, so two builds of one commit agree', () => {
    const ctx = readRunnerContext(
      base,
      () => pushed('a'.repeat(40), '2026-11-20T09:30:15+01:00'),
      now,
      '/c',
      '/t',
    );
    expect(ctx.sourceDateEpoch).toBe(Date.parse('2026-11-20T08:30:15Z') / 1000);
    expect(ctx.release.now.toISOString()).toBe('2026-11-20T08:30:15.000Z');
  });

  it('yields to SOURCE_DATE_EPOCH, and ignores a head commit that is not this run’s', () => {
    const given = { ...base, SOURCE_DATE_EPOCH: '1700000000' };
    expect(
      readRunnerContext(given, () => pushed('a'.repeat(40), '2026-11-20T08:30:15Z'), now, '/c', '/t')
        .sourceDateEpoch,
    ).toBe(1700000000);
    const other = readRunnerContext(
      base,
      () => pushed('b'.repeat(40), '2026-11-20T08:30:15Z'),
      now,
      '/c',
      '/t',
    );
    expect(other.sourceDateEpoch).toBeUndefined();
    expect(other.release.now).toBe(now);
  });
});
