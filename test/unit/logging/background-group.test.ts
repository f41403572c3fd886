import { describe, expect, it } from 'vitest';
import { backgroundGroup } from '../../../src/logging/background-group.js';
import { memoryLog } from '../helpers/memory-host.js';

describe('backgroundGroup', () => {
  it('runs at once, and writes its lines as one group only when waited for, after the foreground work', async () => {
    const log = memoryLog();
    let started = false;
    const done = backgroundGroup(log, 'Install Grype', async (bg) => {
      started = true;
      bg.info('grype 0.119.0');
      await new Promise((resolve) => setTimeout(resolve, 5));
      bg.info('database ready');
      return 42;
    });
    await log.group('Read the release', async () => {
      log.info('verified');
      await new Promise((resolve) => setTimeout(resolve, 10));
    });
    expect(started).toBe(true);
    expect(log.lines.join('\n')).not.toContain('grype 0.119.0');
    expect(await done.result).toBe(42);
    expect(log.lines.join('\n')).not.toContain('grype 0.119.0');
    expect(await done.done()).toBe(42);
    expect(await done.done()).toBe(42);
    expect(log.lines).toEqual([
      '::group::Read the release',
      'verified',
      '::endgroup::',
      '::group::Install Grype',
      'grype 0.119.0',
      'database ready',
      '::endgroup::',
    ]);
  });

  it('rethrows its error after writing its lines; a failure never waited for is not an unhandled rejection', async () => {
    const log = memoryLog();
    const failing = backgroundGroup(log, 'Install Grype', async (bg) => {
      bg.warning('download failed');
      throw new Error('no database');
    });
    await expect(failing.done()).rejects.toThrow('no database');
    expect(log.lines).toEqual(['::group::Install Grype', 'warning: download failed', '::endgroup::']);

    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown) => unhandled.push(reason);
    process.on('unhandledRejection', onUnhandled);
    backgroundGroup(log, 'never waited for', () => Promise.reject(new Error('ignored')));
    backgroundGroup(log, 'throws at once', () => {
      throw new Error('ignored too');
    });
    await new Promise((resolve) => setTimeout(resolve, 20));
    process.off('unhandledRejection', onUnhandled);
    expect(unhandled).toEqual([]);
  });
});
