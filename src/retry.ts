/** A point in time every wait and every request is bounded by. */
export class Deadline {
  readonly at: number;
  private controller: AbortController | undefined;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    timeoutMs: number,
    private readonly now: () => number = Date.now,
  ) {
    this.at = now() + timeoutMs;
  }

  remaining(): number {
    return Math.max(0, this.at - this.now());
  }

  /** Aborts when the deadline passes; handed to every request so none can outlive the run's budget. */
  get signal(): AbortSignal {
    if (!this.controller) {
      const controller = new AbortController();
      this.controller = controller;
      const left = this.remaining();
      if (left <= 0) controller.abort(new DeadlineError('the run', undefined));
      else {
        this.timer = setTimeout(() => controller.abort(new DeadlineError('the run', undefined)), left);
        // A pending deadline must not keep the process alive once the work is done.
        this.timer.unref();
      }
    }
    return this.controller.signal;
  }
}

export class DeadlineError extends Error {
  constructor(
    readonly label: string,
    readonly lastError: unknown,
  ) {
    const cause = lastError instanceof Error ? `: ${lastError.message}` : '';
    super(`${label} did not succeed before the timeout${cause}`, { cause: lastError });
    this.name = 'DeadlineError';
  }
}

export interface RetryOptions {
  /** Names the operation in log lines and the final error. */
  label: string;
  deadline: Deadline;
  /** Decides whether an error is worth another try (default: transient HTTP and network errors). */
  isRetryable?: (error: unknown) => boolean;
  /** First backoff; doubled each attempt, capped at maxDelayMs, then jittered. */
  baseDelayMs?: number;
  maxDelayMs?: number;
  /** Upper bound on attempts, on top of the deadline. */
  maxAttempts?: number;
  onRetry?: (info: { attempt: number; delayMs: number; error: unknown }) => void;
  /** Injected for tests. */
  sleep?: (ms: number, signal: AbortSignal) => Promise<void>;
  random?: () => number;
}

const TRANSIENT_STATUS = new Set([408, 429, 500, 502, 503, 504]);
const TRANSIENT_CODES = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'ETIMEDOUT',
  'EPIPE',
  'UND_ERR_SOCKET',
  'ECONNABORTED',
  'EAI_AGAIN',
  'REQUEST_SEND_ERROR',
]);

export function statusOf(error: unknown): number | undefined {
  if (typeof error !== 'object' || error === null) return undefined;
  const e = error as { statusCode?: unknown; status?: unknown };
  if (typeof e.statusCode === 'number') return e.statusCode;
  if (typeof e.status === 'number') return e.status;
  return undefined;
}

function codeOf(error: unknown): string | undefined {
  for (let e: unknown = error, depth = 0; e && depth < 4; depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && TRANSIENT_CODES.has(code)) return code;
    e = (e as { cause?: unknown }).cause;
  }
  return undefined;
}

/** The request was cut short (our per-request timeout or the deadline), so its outcome is unknown. */
export function isAbort(error: unknown): boolean {
  const name = (error as { name?: unknown } | null)?.name;
  return name === 'AbortError' || name === 'TimeoutError';
}

export function isTransient(error: unknown): boolean {
  const status = statusOf(error);
  if (status !== undefined) return TRANSIENT_STATUS.has(status);
  if (codeOf(error)) return true;
  return isAbort(error) || (error instanceof TypeError && /fetch failed/i.test(error.message));
}

/** Milliseconds asked for by a `Retry-After` header (seconds or HTTP date) carried by the error, if any. */
export function retryAfterMs(error: unknown, now: number = Date.now()): number | undefined {
  if (typeof error !== 'object' || error === null) return undefined;
  const e = error as {
    retryAfterMs?: unknown;
    response?: { headers?: { get?: (n: string) => string | undefined | null } };
  };
  if (typeof e.retryAfterMs === 'number') return e.retryAfterMs;
  const header = e.response?.headers?.get?.('retry-after') ?? undefined;
  return parseRetryAfter(header ?? undefined, now);
}

export function parseRetryAfter(
  value: string | undefined | null,
  now: number = Date.now(),
): number | undefined {
  if (!value) return undefined;
  const v = value.trim();
  // delay-seconds, or an HTTP-date (RFC 9110 §10.2.3); anything else (a negative or odd number) is no answer.
  if (/^\d+(?:\.\d+)?$/.test(v)) return Math.round(Number(v) * 1000);
  if (!/^[A-Za-z]{3}, \d{2} [A-Za-z]{3} \d{4} \d{2}:\d{2}:\d{2} GMT$/.test(v)) return undefined;
  const date = Date.parse(v);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}

/** Resolves after `ms`, or rejects as soon as `signal` aborts: no wait outlives the deadline. */
export function abortableSleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) {
      reject(signal.reason);
      return;
    }
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal.reason);
    };
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

/**
 * The one retry helper: jittered exponential backoff, honours Retry-After, never waits past the deadline.
 * Each attempt gets the deadline's signal, so a request that never answers is cut at the deadline too.
 * The first attempt always runs (a restore on an expired budget still tries once). The last error is rethrown
 * as is when it is not retryable; a DeadlineError when time runs out.
 */
export async function retry<T>(
  fn: (attempt: number, signal: AbortSignal) => Promise<T>,
  options: RetryOptions,
): Promise<T> {
  const {
    deadline,
    label,
    isRetryable = isTransient,
    baseDelayMs = 500,
    maxDelayMs = 15_000,
    maxAttempts = Number.POSITIVE_INFINITY,
    sleep = abortableSleep,
    random = Math.random,
  } = options;
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn(attempt, deadline.signal);
    } catch (error) {
      if (deadline.remaining() <= 0 && (isAbort(error) || isRetryable(error)))
        throw new DeadlineError(label, error);
      if (!isRetryable(error) || attempt >= maxAttempts) throw error;
      const backoff = Math.min(maxDelayMs, baseDelayMs * 2 ** (attempt - 1));
      // Full jitter in [backoff/2, backoff): spreads concurrent clients without ever retrying immediately.
      const jittered = backoff / 2 + random() * (backoff / 2);
      const asked = retryAfterMs(error);
      const delayMs = Math.round(asked !== undefined ? Math.max(asked, jittered / 4) : jittered);
      if (delayMs >= deadline.remaining()) throw new DeadlineError(label, error);
      options.onRetry?.({ attempt, delayMs, error });
      await sleep(delayMs, deadline.signal);
    }
  }
}

/** Thrown by a probe's "not yet"; retried by `poll` until the deadline. */
class NotYet extends Error {
  override readonly name = 'NotYet';
}

/**
 * Polls `probe` until it returns a value (not undefined), with the same backoff and deadline rules.
 * Used for waits on a remote state (deployment status, functions listed, settings seen).
 */
export async function poll<T>(
  probe: (attempt: number, signal: AbortSignal) => Promise<T | undefined>,
  options: Omit<RetryOptions, 'maxAttempts'> & { describeLast?: () => string },
): Promise<T> {
  const retryable = options.isRetryable ?? isTransient;
  return retry(
    async (attempt, signal) => {
      const value = await probe(attempt, signal);
      if (value === undefined) throw new NotYet(options.describeLast?.() ?? 'not ready yet');
      return value;
    },
    { ...options, isRetryable: (e) => e instanceof NotYet || retryable(e) },
  );
}
