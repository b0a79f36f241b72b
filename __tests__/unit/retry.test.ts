import { describe, expect, it } from 'vitest';
import { Deadline, DeadlineError, isTransient, parseRetryAfter, poll, retry } from '../../src/retry.js';

/** A fake clock: sleeping advances time instantly, so tests are exact and fast. */
function clock() {
  let t = 0;
  const sleeps: number[] = [];
  return {
    now: () => t,
    sleep: async (ms: number) => {
      sleeps.push(ms);
      t += ms;
    },
    sleeps,
  };
}
const httpError = (statusCode: number, retryAfter?: string) =>
  Object.assign(new Error(`HTTP ${statusCode}`), {
    statusCode,
    response: { headers: { get: (n: string) => (n === 'retry-after' ? retryAfter : undefined) } },
  });

describe('retry', () => {
  it('retries transient errors with growing jittered backoff, then succeeds', async () => {
    const c = clock();
    let calls = 0;
    const value = await retry(
      async () => {
        calls++;
        if (calls < 4) throw httpError(503);
        return 'ok';
      },
      {
        label: 't',
        deadline: new Deadline(60_000, c.now),
        sleep: c.sleep,
        random: () => 0.5,
        baseDelayMs: 100,
      },
    );
    expect(value).toBe('ok');
    expect(calls).toBe(4);
    expect(c.sleeps).toEqual([75, 150, 300]);
  });

  it('honours Retry-After', async () => {
    const c = clock();
    let calls = 0;
    await retry(
      async () => {
        if (calls++ === 0) throw httpError(429, '7');
        return 1;
      },
      { label: 't', deadline: new Deadline(60_000, c.now), sleep: c.sleep, random: () => 0 },
    );
    expect(c.sleeps).toEqual([7000]);
  });

  it('does not retry a 400 or 404', async () => {
    const c = clock();
    let calls = 0;
    await expect(
      retry(
        async () => {
          calls++;
          throw httpError(404);
        },
        { label: 't', deadline: new Deadline(60_000, c.now), sleep: c.sleep },
      ),
    ).rejects.toThrow('HTTP 404');
    expect(calls).toBe(1);
  });

  it('stops at the deadline with the last error', async () => {
    const c = clock();
    const err = await retry(
      async () => {
        throw httpError(503, '30');
      },
      { label: 'sync', deadline: new Deadline(65_000, c.now), sleep: c.sleep },
    ).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DeadlineError);
    expect((err as Error).message).toMatch(/sync did not succeed before the timeout: HTTP 503/);
    expect(c.now()).toBeLessThanOrEqual(65_000);
  });

  it('poll returns the first defined value', async () => {
    const c = clock();
    let n = 0;
    const v = await poll(async () => (++n >= 3 ? n : undefined), {
      label: 'p',
      deadline: new Deadline(10_000, c.now),
      sleep: c.sleep,
      random: () => 1,
    });
    expect(v).toBe(3);
  });
});

describe('classification', () => {
  it.each([
    [httpError(429), true],
    [httpError(503), true],
    [httpError(409), false],
    [Object.assign(new Error('reset'), { code: 'ECONNRESET' }), true],
    [new TypeError('fetch failed', { cause: Object.assign(new Error('x'), { code: 'ECONNREFUSED' }) }), true],
    [new Error('plain'), false],
  ])('isTransient #%#', (error, expected) => expect(isTransient(error)).toBe(expected));

  it('parses Retry-After seconds and dates', () => {
    expect(parseRetryAfter('5')).toBe(5000);
    expect(parseRetryAfter(new Date(10_000).toUTCString(), 4000)).toBe(6000);
    expect(parseRetryAfter('soon')).toBeUndefined();
  });
});
