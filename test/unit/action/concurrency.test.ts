import { describe, expect, it } from 'vitest';
import { BufferedLog } from '../../../src/logging/buffered-log.js';
import { memoryLog } from '../helpers/memory-host.js';
import { mapSettledBounded } from '../../../src/process/concurrency.js';

describe('mapSettledBounded', () => {
  it('never runs more than the limit at once and keeps order', async () => {
    let running = 0;
    let peak = 0;
    const results = await mapSettledBounded([30, 10, 20, 5, 15], 2, async (ms, i) => {
      running += 1;
      peak = Math.max(peak, running);
      await new Promise((r) => setTimeout(r, ms));
      running -= 1;
      return i * 10;
    });
    expect(peak).toBe(2);
    expect(results.map((r) => (r.status === 'fulfilled' ? r.value : -1))).toEqual([0, 10, 20, 30, 40]);
  });

  it('settles every task even when one fails', async () => {
    const results = await mapSettledBounded(['a', 'b', 'c'], 3, async (x) => {
      if (x === 'b') throw new Error('b broke');
      return x;
    });
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    expect((results[1] as PromiseRejectedResult).reason.message).toBe('b broke');
  });

  it('handles an empty list', async () => {
    expect(await mapSettledBounded([], 4, async () => 1)).toEqual([]);
  });
});

describe('BufferedLog', () => {
  it('replays its lines as one group, in order, with levels kept', async () => {
    const buffered = new BufferedLog();
    buffered.info('one');
    buffered.warning('careful');
    await buffered.group('inner', async () => buffered.debug('deep'));
    const target = memoryLog();
    await buffered.replay(target, 'SBOM and scan linux/arm64');
    expect(target.lines).toEqual([
      '::group::SBOM and scan linux/arm64',
      'one',
      'warning: careful',
      '── inner',
      'debug: deep',
      '::endgroup::',
    ]);
  });
});
