import { getEventListeners } from 'node:events';
import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  abortableSleep,
  Deadline,
  DeadlineError,
  isAbort,
  isTransient,
  parseRetryAfter,
  poll,
  retry,
  retryAfterMs,
  statusOf,
} from '../../src/retry.js';

// The retry helper's arithmetic and classification, exactly, with an injected clock, sleep and random.

afterEach(() => {
  vi.useRealTimers();
});

/** A fake clock: sleeping advances time instantly. */
function clock(start = 0) {
  let t = start;
  const sleeps: number[] = [];
  return {
    now: () => t,
    advance: (ms: number) => {
      t += ms;
    },
    sleep: async (ms: number, _signal: AbortSignal) => {
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
const abortError = () => Object.assign(new Error('This operation was aborted'), { name: 'AbortError' });
const withCode = (code: unknown) => Object.assign(new Error(`code ${String(code)}`), { code });
/** An error whose transient code sits `depth` causes down. */
function nested(code: string, depth: number): Error {
  let e: Error = withCode(code);
  for (let i = 0; i < depth; i++) e = new Error(`wrapper ${i}`, { cause: e });
  return e;
}
const timeouts = () => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;

describe('Deadline', () => {
  it('remaining() counts down from the injected clock and stops at 0', () => {
    const c = clock(1000);
    const d = new Deadline(500, c.now);
    expect(d.at).toBe(1500);
    expect(d.remaining()).toBe(500);
    c.advance(499);
    expect(d.remaining()).toBe(1);
    c.advance(10);
    expect(d.remaining()).toBe(0);
  });

  it('hands out one signal, aborted at once when no time is left', () => {
    const c = clock();
    const spent = new Deadline(0, c.now);
    const signal = spent.signal;
    expect(spent.signal).toBe(signal);
    expect(signal.aborted).toBe(true);
    expect(signal.reason).toBeInstanceOf(DeadlineError);
    expect((signal.reason as Error).message).toBe('the run did not succeed before the timeout');
  });

  it('aborts its signal when the time runs out, with a DeadlineError for the run', () => {
    vi.useFakeTimers();
    const c = clock();
    const d = new Deadline(1000, c.now);
    const signal = d.signal;
    expect(d.signal).toBe(signal);
    vi.advanceTimersByTime(999);
    expect(signal.aborted).toBe(false);
    vi.advanceTimersByTime(1);
    expect(signal.aborted).toBe(true);
    expect((signal.reason as Error).message).toBe('the run did not succeed before the timeout');
  });

  it('a pending deadline does not keep the process alive', () => {
    const before = timeouts();
    const d = new Deadline(60_000);
    expect(d.signal.aborted).toBe(false);
    expect(timeouts()).toBe(before);
  });
});

describe('DeadlineError', () => {
  it('names the operation, the last error and keeps it as the cause', () => {
    const last = httpError(503);
    const e = new DeadlineError('sync triggers', last);
    expect(e.name).toBe('DeadlineError');
    expect(e.message).toBe('sync triggers did not succeed before the timeout: HTTP 503');
    expect(e.cause).toBe(last);
    expect(e.lastError).toBe(last);
    expect(e.label).toBe('sync triggers');
  });

  it('says nothing more when the last failure is not an Error', () => {
    expect(new DeadlineError('x', 'a string').message).toBe('x did not succeed before the timeout');
    expect(new DeadlineError('x', undefined).message).toBe('x did not succeed before the timeout');
  });
});

describe('classification', () => {
  it.each([
    [{ statusCode: 503 }, 503],
    [{ status: 429 }, 429],
    [{ statusCode: 404, status: 500 }, 404],
    [{ statusCode: '503' }, undefined],
    [{ status: '503' }, undefined],
    [{ statusCode: '503', status: 502 }, 502],
    [{}, undefined],
    [null, undefined],
    [undefined, undefined],
    ['HTTP 503', undefined],
    [503, undefined],
  ])('statusOf(%j) is %s', (error, status) => {
    expect(statusOf(error)).toBe(status);
  });

  it.each([
    [408, true],
    [429, true],
    [500, true],
    [502, true],
    [503, true],
    [504, true],
    [400, false],
    [401, false],
    [403, false],
    [404, false],
    [409, false],
    [501, false],
    [505, false],
  ])('HTTP %d transient: %s', (status, expected) => {
    expect(isTransient({ statusCode: status })).toBe(expected);
    expect(isTransient({ status })).toBe(expected);
  });

  it('a status decides, whatever the code says', () => {
    expect(isTransient(Object.assign(withCode('ECONNRESET'), { statusCode: 400 }))).toBe(false);
  });

  it.each([
    'ECONNRESET',
    'ECONNREFUSED',
    'ETIMEDOUT',
    'EPIPE',
    'UND_ERR_SOCKET',
    'ECONNABORTED',
    'EAI_AGAIN',
    'REQUEST_SEND_ERROR',
  ])('network code %s is transient, also three causes down', (code) => {
    expect(isTransient(withCode(code))).toBe(true);
    expect(isTransient(nested(code, 3))).toBe(true);
  });

  it('a code four causes down, another code, or a code that is not a string is not transient', () => {
    expect(isTransient(nested('ECONNRESET', 4))).toBe(false);
    expect(isTransient(withCode('ENOENT'))).toBe(false);
    expect(isTransient(withCode('econnreset'))).toBe(false);
    expect(isTransient(withCode(104))).toBe(false);
    expect(isTransient(new Error('ECONNRESET'))).toBe(false);
  });

  it('a cut request and a failed fetch are transient; other errors are not', () => {
    expect(isTransient(abortError())).toBe(true);
    expect(isTransient(Object.assign(new Error('t'), { name: 'TimeoutError' }))).toBe(true);
    expect(isTransient(new TypeError('fetch failed'))).toBe(true);
    expect(isTransient(new TypeError('Fetch Failed'))).toBe(true);
    expect(isTransient(new TypeError('x is not a function'))).toBe(false);
    expect(isTransient(new Error('fetch failed'))).toBe(false);
    expect(isTransient(null)).toBe(false);
    expect(isTransient(undefined)).toBe(false);
  });

  it.each([
    [abortError(), true],
    [{ name: 'TimeoutError' }, true],
    [{ name: 'Error' }, false],
    [new Error('aborted'), false],
    [null, false],
    [undefined, false],
  ])('isAbort(%o) is %s', (error, expected) => {
    expect(isAbort(error)).toBe(expected);
  });
});

describe('Retry-After', () => {
  it.each([
    ['0', 0],
    ['5', 5000],
    [' 5 ', 5000],
    ['120', 120_000],
  ])('seconds %j are %d ms', (value, ms) => {
    expect(parseRetryAfter(value, 0)).toBe(ms);
  });

  it('an HTTP date counts from now, and a past date is 0', () => {
    const now = Date.parse('2026-11-21T10:00:00Z');
    expect(parseRetryAfter('Sat, 21 Nov 2026 10:00:30 GMT', now)).toBe(30_000);
    expect(parseRetryAfter('Sat, 21 Nov 2026 09:59:00 GMT', now)).toBe(0);
  });

  it.each(['', 'soon', 'a5', '5x', undefined, null])('%j is no Retry-After', (value) => {
    expect(parseRetryAfter(value, 0)).toBeUndefined();
  });

  it('retryAfterMs reads the error field first, then the header, and tolerates any shape', () => {
    expect(retryAfterMs({ retryAfterMs: 0, ...httpError(429, '9') })).toBe(0);
    expect(retryAfterMs(httpError(429, '9'), 0)).toBe(9000);
    expect(retryAfterMs({ retryAfterMs: '5' }, 0)).toBeUndefined();
    expect(retryAfterMs({ response: { headers: {} } })).toBeUndefined();
    expect(retryAfterMs({ response: {} })).toBeUndefined();
    expect(retryAfterMs({ response: { headers: { get: () => null } } })).toBeUndefined();
    expect(retryAfterMs(null)).toBeUndefined();
    expect(retryAfterMs(undefined)).toBeUndefined();
    expect(retryAfterMs(42)).toBeUndefined();
  });
});

describe('abortableSleep', () => {
  it('resolves after its time, and leaves no listener behind', async () => {
    vi.useFakeTimers();
    const controller = new AbortController();
    let outcome = 'pending';
    abortableSleep(1000, controller.signal).then(() => {
      outcome = 'resolved';
    });
    expect(getEventListeners(controller.signal, 'abort')).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(999);
    expect(outcome).toBe('pending');
    await vi.advanceTimersByTimeAsync(1);
    expect(outcome).toBe('resolved');
    expect(getEventListeners(controller.signal, 'abort')).toHaveLength(0);
  });

  it('rejects with the reason as soon as the signal aborts, and clears its timer', async () => {
    vi.useFakeTimers();
    const controller = new AbortController();
    let outcome = 'pending';
    abortableSleep(60_000, controller.signal).then(
      () => {
        outcome = 'resolved';
      },
      (e: Error) => {
        outcome = `rejected: ${e.message}`;
      },
    );
    expect(vi.getTimerCount()).toBe(1);
    controller.abort(new Error('stop'));
    await vi.advanceTimersByTimeAsync(0);
    expect(outcome).toBe('rejected: stop');
    expect(vi.getTimerCount()).toBe(0);
    expect(getEventListeners(controller.signal, 'abort')).toHaveLength(0);
  });

  it('rejects at once on a signal that has already aborted, without a timer', async () => {
    vi.useFakeTimers();
    const controller = new AbortController();
    controller.abort(new Error('already'));
    const sleeping = abortableSleep(10, controller.signal);
    expect(vi.getTimerCount()).toBe(0);
    await expect(sleeping).rejects.toThrow('already');
  });
});

describe('retry: the backoff arithmetic', () => {
  const failing = (n: number, error: () => unknown = () => httpError(503)) => {
    let calls = 0;
    return {
      fn: async () => {
        calls++;
        if (calls <= n) throw error();
        return calls;
      },
      calls: () => calls,
    };
  };

  it.each([
    // random → the waits for base 1000, cap 3000: doubled, capped, then jittered in [backoff/2, backoff).
    [0, [500, 1000, 1500, 1500, 1500]],
    [0.5, [750, 1500, 2250, 2250, 2250]],
    [0.999, [1000, 1999, 2999, 2999, 2999]],
  ])('random %d gives waits %j', async (r, waits) => {
    const c = clock();
    const f = failing(5);
    const seen: number[] = [];
    await retry(f.fn, {
      label: 't',
      deadline: new Deadline(600_000, c.now),
      sleep: c.sleep,
      random: () => r,
      baseDelayMs: 1000,
      maxDelayMs: 3000,
      onRetry: ({ delayMs }) => seen.push(delayMs),
    });
    expect(c.sleeps).toEqual(waits);
    expect(seen).toEqual(waits);
    expect(f.calls()).toBe(6);
  });

  it('defaults: 500 ms base, 15 s cap', async () => {
    const c = clock();
    await retry(failing(7).fn, {
      label: 't',
      deadline: new Deadline(600_000, c.now),
      sleep: c.sleep,
      random: () => 0,
    });
    expect(c.sleeps).toEqual([250, 500, 1000, 2000, 4000, 7500, 7500]);
  });

  it('Retry-After wins over a shorter jitter, and a quarter of the jitter bounds a shorter one', async () => {
    const c = clock();
    const f = failing(2, () => httpError(429, c.sleeps.length === 0 ? '3' : '0'));
    await retry(f.fn, {
      label: 't',
      deadline: new Deadline(600_000, c.now),
      sleep: c.sleep,
      random: () => 0.5,
      baseDelayMs: 400,
    });
    // first: asked 3000 > jitter 300; second: asked 0 < jitter 600 / 4 = 150.
    expect(c.sleeps).toEqual([3000, 150]);
  });

  it('hands each attempt its number and the deadline signal', async () => {
    const c = clock();
    const deadline = new Deadline(60_000, c.now);
    const seen: [number, AbortSignal][] = [];
    await retry(
      async (attempt, signal) => {
        seen.push([attempt, signal]);
        if (attempt < 3) throw httpError(503);
        return attempt;
      },
      { label: 't', deadline, sleep: c.sleep, random: () => 0 },
    );
    expect(seen.map(([a]) => a)).toEqual([1, 2, 3]);
    for (const [, signal] of seen) expect(signal).toBe(deadline.signal);
  });

  it('reports each retry with its attempt, wait and error', async () => {
    const c = clock();
    const errors = [httpError(503), httpError(502)];
    const seen: unknown[] = [];
    let calls = 0;
    await retry(
      async () => {
        const e = errors[calls++];
        if (e) throw e;
        return 'ok';
      },
      {
        label: 't',
        deadline: new Deadline(60_000, c.now),
        sleep: c.sleep,
        random: () => 0,
        baseDelayMs: 100,
        onRetry: (info) => seen.push(info),
      },
    );
    expect(seen).toEqual([
      { attempt: 1, delayMs: 50, error: errors[0] },
      { attempt: 2, delayMs: 100, error: errors[1] },
    ]);
  });
});

describe('retry: the deadline', () => {
  it('a wait exactly as long as the time left is not started: DeadlineError with the last error', async () => {
    const c = clock();
    const last = httpError(429, '1');
    const error = await retry(
      async () => {
        throw last;
      },
      { label: 'upload', deadline: new Deadline(1000, c.now), sleep: c.sleep },
    ).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DeadlineError);
    expect((error as DeadlineError).lastError).toBe(last);
    expect((error as Error).message).toBe('upload did not succeed before the timeout: HTTP 429');
    expect(c.sleeps).toEqual([]);
  });

  it('a wait one millisecond shorter than the time left is taken', async () => {
    const c = clock();
    let calls = 0;
    await retry(
      async () => {
        if (calls++ === 0) throw httpError(429, '1');
        return 'ok';
      },
      { label: 'upload', deadline: new Deadline(1001, c.now), sleep: c.sleep },
    );
    expect(c.sleeps).toEqual([1000]);
  });

  it('a cut request once the time is up is a DeadlineError, even when not retryable', async () => {
    const c = clock();
    const cut = abortError();
    const error = await retry(
      async () => {
        throw cut;
      },
      { label: 'deploy', deadline: new Deadline(0, c.now), sleep: c.sleep, isRetryable: () => false },
    ).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DeadlineError);
    expect((error as DeadlineError).lastError).toBe(cut);
    expect((error as Error).message).toBe(
      'deploy did not succeed before the timeout: This operation was aborted',
    );
  });

  it('a retryable error once the time is up is a DeadlineError at once', async () => {
    const c = clock();
    let calls = 0;
    const error = await retry(
      async () => {
        calls++;
        throw httpError(503);
      },
      { label: 'deploy', deadline: new Deadline(0, c.now), sleep: c.sleep, baseDelayMs: 0 },
    ).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DeadlineError);
    expect(calls).toBe(1);
    expect(c.sleeps).toEqual([]);
  });

  it('an error that is neither cut nor retryable is rethrown as it is, even once the time is up', async () => {
    const c = clock();
    const notFound = httpError(404);
    const error = await retry(
      async () => {
        throw notFound;
      },
      { label: 'deploy', deadline: new Deadline(0, c.now), sleep: c.sleep },
    ).catch((e: unknown) => e);
    expect(error).toBe(notFound);
  });

  it('the first attempt runs even on a spent deadline', async () => {
    const c = clock();
    expect(await retry(async () => 'done', { label: 'r', deadline: new Deadline(0, c.now) })).toBe('done');
  });

  it('maxAttempts 1 means no retry', async () => {
    const c = clock();
    let calls = 0;
    const last = httpError(503);
    const error = await retry(
      async () => {
        calls++;
        throw last;
      },
      { label: 't', deadline: new Deadline(60_000, c.now), sleep: c.sleep, maxAttempts: 1 },
    ).catch((e: unknown) => e);
    expect(error).toBe(last);
    expect(calls).toBe(1);
  });
});

describe('poll', () => {
  it('says what it waited for when the time runs out', async () => {
    const c = clock();
    const error = await poll(async () => undefined, {
      label: 'functions listed',
      deadline: new Deadline(1000, c.now),
      sleep: c.sleep,
      random: () => 0,
      describeLast: () => 'the host lists 1 of 2 functions',
    }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DeadlineError);
    expect((error as Error).message).toBe(
      'functions listed did not succeed before the timeout: the host lists 1 of 2 functions',
    );
    expect(((error as DeadlineError).lastError as Error).name).toBe('NotYet');
  });

  it('without describeLast the last state is "not ready yet"', async () => {
    const c = clock();
    const error = await poll(async () => undefined, {
      label: 'p',
      deadline: new Deadline(1000, c.now),
      sleep: c.sleep,
      random: () => 0,
    }).catch((e: unknown) => e);
    expect((error as Error).message).toBe('p did not succeed before the timeout: not ready yet');
  });

  it('an error that is not transient ends the poll at once, as it is', async () => {
    const c = clock();
    const forbidden = httpError(403);
    let calls = 0;
    const error = await poll(
      async () => {
        calls++;
        throw forbidden;
      },
      { label: 'p', deadline: new Deadline(10_000, c.now), sleep: c.sleep },
    ).catch((e: unknown) => e);
    expect(error).toBe(forbidden);
    expect(calls).toBe(1);
  });

  it('its own isRetryable adds to "not yet", and a falsy value other than undefined is a value', async () => {
    const c = clock();
    let calls = 0;
    const value = await poll(
      async () => {
        calls++;
        if (calls === 1) throw httpError(404);
        if (calls === 2) return undefined;
        return 0;
      },
      {
        label: 'p',
        deadline: new Deadline(10_000, c.now),
        sleep: c.sleep,
        random: () => 0,
        isRetryable: (e) => statusOf(e) === 404,
      },
    );
    expect(value).toBe(0);
    expect(calls).toBe(3);
  });
});

describe('Retry-After that is neither delay-seconds nor an HTTP-date', () => {
  it.each([
    ['5.5', 5500],
    ['-5', undefined],
    ['2001', 2_001_000],
    ['soon', undefined],
    ['2026-11-21T10:00:30Z', undefined],
  ] as const)('%s', (value, ms) => {
    expect(parseRetryAfter(value, 0)).toBe(ms);
  });
});
