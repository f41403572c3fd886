import { describe, expect, it } from 'vitest';

import {
  decideRetry,
  RetryBudget,
  retrying,
  type AttemptEnd,
  type RetryOptions,
} from '../../../src/process/retry.js';

const RETRY: RetryOptions = { attempts: 3, baseDelayMs: 100, maxDelayMs: 1000 };
const transient = {
  kind: 'network-error',
  failure: { kind: 'transient', code: 'ECONNRESET', description: 'read ECONNRESET' },
} as const;

describe('decideRetry', () => {
  it('retries retryable answers and transient network failures while attempts remain, with backoff', () => {
    expect(decideRetry({ kind: 'answer', status: 503 }, 1, RETRY, () => 1)).toEqual({
      retry: true,
      delayMs: 100,
    });
    expect(decideRetry(transient, 2, RETRY, () => 1)).toEqual({ retry: true, delayMs: 200 });
    expect(decideRetry(transient, 3, RETRY, () => 1)).toEqual({ retry: false, why: 'out-of-attempts' });
  });

  it('does not retry other answers or network failures', () => {
    expect(decideRetry({ kind: 'answer', status: 200 }, 1, RETRY, () => 1)).toEqual({
      retry: false,
      why: 'final',
    });
    expect(decideRetry({ kind: 'answer', status: 404, askedDelayMs: 5 }, 1, RETRY, () => 1)).toEqual({
      retry: false,
      why: 'final',
    });
    const tls: AttemptEnd = {
      kind: 'network-error',
      failure: { kind: 'tls-verification', description: 'self-signed' },
    };
    expect(decideRetry(tls, 1, RETRY, () => 1)).toEqual({ retry: false, why: 'final' });
  });

  it('takes what the caller knows of the answer: retryable, and the wait the server asked for', () => {
    const rateLimited: AttemptEnd = { kind: 'answer', status: 403, retryable: true, askedDelayMs: 5000 };
    expect(decideRetry(rateLimited, 1, RETRY, () => 1)).toEqual({ retry: true, delayMs: 5000 });
    expect(decideRetry(rateLimited, 1, { ...RETRY, maxWaitMs: 4999 }, () => 1)).toEqual({
      retry: false,
      why: 'wait-too-long',
    });
  });
});

describe('retrying', () => {
  it('tries again after the decided delays, telling onRetry, and returns the last attempt', async () => {
    const sleeps: number[] = [];
    const events: string[] = [];
    let calls = 0;
    const run = await retrying(
      async (attempt) => {
        calls += 1;
        if (attempt === 1) throw new TypeError('fetch failed', { cause: { code: 'ECONNRESET' } });
        return { status: attempt === 2 ? 502 : 200 };
      },
      (settled): AttemptEnd => (settled.ok ? { kind: 'answer', status: settled.value.status } : transient),
      {
        retry: RETRY,
        sleep: async (ms) => {
          sleeps.push(ms);
        },
        random: () => 0,
        onRetry: ({ end, delayMs, nextAttempt, attempts }) =>
          events.push(`${end.kind} ${delayMs} ${nextAttempt}/${attempts}`),
      },
    );
    expect(run).toMatchObject({ settled: { ok: true, value: { status: 200 } }, attempts: 3, why: 'final' });
    expect(calls).toBe(3);
    expect(sleeps).toEqual([50, 100]);
    expect(events).toEqual(['network-error 50 2/3', 'answer 100 3/3']);
  });

  it('never throws what an attempt threw: the last error comes back', async () => {
    const error = new Error('boom');
    const run = await retrying(
      async () => {
        throw error;
      },
      () => transient,
      { retry: RETRY, sleep: async () => {}, random: () => 0 },
    );
    expect(run).toMatchObject({ settled: { ok: false, error }, attempts: 3, why: 'out-of-attempts' });
  });
});

describe('retrying within a time budget', () => {
  const forever: RetryOptions = { attempts: Number.POSITIVE_INFINITY, baseDelayMs: 1000, maxDelayMs: 8000 };
  function fakeClock() {
    const clock = { nowMs: 0, sleeps: [] as number[] };
    return {
      clock,
      now: () => clock.nowMs,
      sleep: async (ms: number) => {
        clock.sleeps.push(ms);
        clock.nowMs += ms;
      },
    };
  }

  it('retries until the budget is spent, the last wait cut to what remains', async () => {
    const { clock, now, sleep } = fakeClock();
    const budget = new RetryBudget(20_000, { now, sleep });
    const run = await retrying(
      async () => {
        throw new Error('refused');
      },
      () => transient,
      { retry: forever, sleep: async () => {}, random: () => 1, budget },
    );
    expect(run).toMatchObject({ attempts: 6, why: 'out-of-time' });
    expect(clock.sleeps).toEqual([1000, 2000, 4000, 8000, 5000]);
    expect(budget.remainingMs).toBe(0);
  });

  it('counts a wait the sleep skipped as spent, so a test without a clock still ends', async () => {
    const budget = new RetryBudget(10_000, { now: () => 0, sleep: async () => {} });
    const run = await retrying(
      async () => {
        throw new Error('refused');
      },
      () => transient,
      { retry: forever, sleep: async () => {}, random: () => 1, budget },
    );
    expect(run).toMatchObject({ attempts: 5, why: 'out-of-time' });
    expect(budget.spentMs).toBe(10_000);
  });

  it('caps a Retry-After at what remains, and still retries once after an attempt that used it all', async () => {
    const { clock, now, sleep } = fakeClock();
    const budget = new RetryBudget(60_000, { now, sleep });
    const ends: AttemptEnd[] = [];
    const run = await retrying(
      async (attempt) => {
        if (attempt === 1) clock.nowMs += 70_000; // a request that timed out after 70 s
        return attempt === 1 ? 503 : 200;
      },
      (settled): AttemptEnd => {
        const status = settled.ok ? settled.value : 0;
        const end: AttemptEnd = { kind: 'answer', status, askedDelayMs: 120_000 };
        ends.push(end);
        return end;
      },
      { retry: forever, sleep: async () => {}, random: () => 1, budget },
    );
    expect(run).toMatchObject({ attempts: 2, why: 'final', settled: { ok: true, value: 200 } });
    expect(clock.sleeps).toEqual([0]);

    const second = new RetryBudget(60_000, { now, sleep });
    clock.sleeps.length = 0;
    await retrying(
      async (attempt) => (attempt < 3 ? 429 : 200),
      (settled): AttemptEnd => ({
        kind: 'answer',
        status: settled.ok ? settled.value : 0,
        askedDelayMs: 45_000,
      }),
      { retry: forever, sleep: async () => {}, random: () => 1, budget: second },
    );
    expect(clock.sleeps).toEqual([45_000, 15_000]);
  });
});
