import { describe, expect, it } from 'vitest';
import { callAzure, failureOf, writeAzure } from '../../src/azure/call.js';
import { AzureError } from '../../src/errors.js';
import type { Logger } from '../../src/logger.js';
import {
  abortableSleep,
  Deadline,
  DeadlineError,
  isTransient,
  parseRetryAfter,
  poll,
  retry,
  retryAfterMs,
} from '../../src/retry.js';

/** A fake clock: sleeping advances time instantly, so tests are exact and fast. */
function clock() {
  let t = 0;
  const sleeps: number[] = [];
  return {
    now: () => t,
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

describe('retry: bounds and hooks', () => {
  it('stops after maxAttempts with the last error, reporting each retry', async () => {
    const c = clock();
    const seen: { attempt: number; delayMs: number }[] = [];
    let calls = 0;
    const error = await retry(
      async () => {
        calls++;
        throw httpError(503);
      },
      {
        label: 't',
        deadline: new Deadline(60_000, c.now),
        sleep: c.sleep,
        random: () => 0,
        baseDelayMs: 100,
        maxAttempts: 3,
        onRetry: ({ attempt, delayMs }) => seen.push({ attempt, delayMs }),
      },
    ).catch((e: unknown) => e);
    expect(calls).toBe(3);
    expect((error as Error).message).toBe('HTTP 503');
    expect(seen).toEqual([
      { attempt: 1, delayMs: 50 },
      { attempt: 2, delayMs: 100 },
    ]);
  });

  it('gives up before a wait that would pass the deadline', async () => {
    const c = clock();
    let calls = 0;
    const error = await retry(
      async () => {
        calls++;
        throw httpError(429, '30');
      },
      { label: 'x', deadline: new Deadline(20_000, c.now), sleep: c.sleep },
    ).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DeadlineError);
    expect(calls).toBe(1);
    expect(c.sleeps).toEqual([]);
  });

  it('hands each attempt the deadline signal, so a request that never answers is cut at the deadline', async () => {
    const started = Date.now();
    const error = await retry(
      (_attempt, signal) =>
        new Promise((_, reject) =>
          signal.addEventListener('abort', () =>
            reject(Object.assign(new Error('aborted'), { name: 'AbortError' })),
          ),
        ),
      { label: 'hung', deadline: new Deadline(150) },
    ).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DeadlineError);
    expect((error as Error).message).toMatch(/^hung did not succeed before the timeout/);
    expect(Date.now() - started).toBeLessThan(2000);
  });

  it('abortableSleep ends early when its signal aborts', async () => {
    const controller = new AbortController();
    const sleeping = abortableSleep(60_000, controller.signal);
    controller.abort(new Error('stop'));
    await expect(sleeping).rejects.toThrow('stop');
  });

  it('retryAfterMs reads the error field or the Retry-After header', () => {
    expect(retryAfterMs({ retryAfterMs: 1234 })).toBe(1234);
    expect(retryAfterMs(httpError(429, '3'))).toBe(3000);
    expect(retryAfterMs(httpError(429))).toBeUndefined();
    expect(retryAfterMs('not an error')).toBeUndefined();
  });

  it('poll retries "not yet" and transient errors but stops on others', async () => {
    const c = clock();
    let n = 0;
    const v = await poll(
      async () => {
        n++;
        if (n === 1) throw httpError(503);
        return n >= 3 ? 'ready' : undefined;
      },
      { label: 'p', deadline: new Deadline(10_000, c.now), sleep: c.sleep, random: () => 0 },
    );
    expect(v).toBe('ready');
    await expect(
      poll(
        async () => {
          throw httpError(403);
        },
        { label: 'p', deadline: new Deadline(10_000, c.now), sleep: c.sleep },
      ),
    ).rejects.toThrow('HTTP 403');
  });
});

const quiet: Logger = {
  info: () => {},
  warning: () => {},
  notice: () => {},
  debug: () => {},
  mask: () => {},
};

describe('the Azure call wrapper', () => {
  it('turns a refusal into an AzureError with the operation, status, code, message and the fix', async () => {
    const refusal = Object.assign(
      new Error('This request is not authorized to perform this operation.\nRequestId:1'),
      {
        statusCode: 403,
        code: 'AuthorizationFailure',
      },
    );
    const error = await callAzure(
      async () => {
        throw refusal;
      },
      { service: 'Storage', what: 'upload the package', deadline: new Deadline(5000), logger: quiet },
    ).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AzureError);
    expect(error).toMatchObject({ statusCode: 403, code: 'AuthorizationFailure' });
    expect((error as Error).message).toMatch(
      /^Failed to upload the package \(HTTP 403 AuthorizationFailure\): This request is not authorized to perform this operation\. The storage account's firewall refuses this runner/,
    );
  });

  it('cuts one attempt at its own timeout and retries within the deadline', async () => {
    let calls = 0;
    const value = await callAzure(
      (signal) => {
        calls++;
        if (calls === 1)
          return new Promise((_, reject) => signal.addEventListener('abort', () => reject(signal.reason)));
        return Promise.resolve('second');
      },
      { service: 'ARM', what: 'get', deadline: new Deadline(10_000), logger: quiet, timeoutMs: 100 },
    );
    expect(value).toBe('second');
    expect(calls).toBe(2);
  });

  it('a write left unanswered is confirmed by a fresh read instead of being sent again', async () => {
    let sent = 0;
    let applied = false;
    await writeAzure(
      (signal) => {
        sent++;
        applied = true;
        return new Promise((_, reject) => signal.addEventListener('abort', () => reject(signal.reason)));
      },
      {
        service: 'ARM',
        what: 'update the app settings',
        deadline: new Deadline(10_000),
        logger: quiet,
        timeoutMs: 100,
        confirm: async () => applied,
      },
    );
    expect(sent).toBe(1);
  });

  it('a write whose fresh read shows it did not apply is retried', async () => {
    let sent = 0;
    await writeAzure(
      async () => {
        sent++;
        if (sent === 1) throw httpError(503);
      },
      {
        service: 'ARM',
        what: 'w',
        deadline: new Deadline(10_000),
        logger: quiet,
        baseDelayMs: 10,
        confirm: async () => false,
      },
    );
    expect(sent).toBe(2);
  });

  it('failureOf names a cut request plainly and keeps the last error of a deadline', () => {
    expect(failureOf(Object.assign(new Error('x'), { name: 'TimeoutError' })).message).toBe(
      'the request was not answered in time',
    );
    expect(failureOf(new DeadlineError('x', httpError(503))).message).toBe(
      'no answer before the timeout (last: HTTP 503)',
    );
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
