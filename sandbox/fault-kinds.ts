import type { IncomingMessage, ServerResponse } from 'node:http';

/**
 * What a sandbox fault can do to one request, shared by every fake (App Service, the storage front door, the
 * artifact service), so a test injects the same kinds everywhere with the same JSON fields.
 */

export class FaultError extends Error {}

export interface FaultKinds {
  /** Answer with this status instead of running the route. */
  status?: number;
  /** HTTP reason phrase, e.g. "Ip Forbidden": some clients print the reason, not the body (functions-action). */
  statusText?: string;
  /** The service's own error code (ARM `error.code`, Blob `x-ms-error-code`). */
  errorCode?: string;
  /** The service's own error message. */
  message?: string;
  /** A verbatim response body; replaces the service's error shape. */
  body?: string;
  contentType?: string;
  retryAfter?: number;
  /** Wait this long before the fault (or the route) runs. */
  delayMs?: number;
  /** Destroy the connection without an answer. */
  reset?: true;
  /** Read the request, never answer: the socket stays open until the client gives up or the sandbox closes. */
  hang?: true;
  /** Run the route (its effect happens) but never send its answer: the client cannot tell whether it applied. */
  applyThenHang?: true;
}

export function intIn(value: unknown, name: string, min: number, max: number): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw new FaultError(`${name} must be an integer from ${min} to ${max}`);
  }
  return value;
}

export function optString(value: unknown, name: string): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'string' || value === '') throw new FaultError(`${name} must be a non-empty string`);
  return value;
}

function optTrue(value: unknown, name: string): true | undefined {
  if (value === undefined) return undefined;
  if (value !== true) throw new FaultError(`${name} must be true when given`);
  return true;
}

export function globToRegExp(glob: string): RegExp {
  const source = glob
    .split('*')
    .map((part) => part.replace(/[.+?^${}()|[\]\\]/g, '\\$&'))
    .join('.*');
  return new RegExp(`^${source}$`, 'i');
}

/** Validates the kind fields of a fault spec; the caller adds its own selectors (route, app, client…). */
export function parseFaultKinds(s: Record<string, unknown>): FaultKinds {
  const kinds: FaultKinds = {};
  const status = intIn(s.status, 'status', 100, 599);
  const retryAfter = intIn(s.retryAfter, 'retryAfter', 0, 86_400);
  const delayMs = intIn(s.delayMs, 'delayMs', 0, 600_000);
  const reset = optTrue(s.reset, 'reset');
  const hang = optTrue(s.hang, 'hang');
  const applyThenHang = optTrue(s.applyThenHang, 'applyThenHang');
  const statusText = optString(s.statusText, 'statusText');
  const errorCode = optString(s.errorCode, 'errorCode');
  const message = optString(s.message, 'message');
  if (s.body !== undefined && typeof s.body !== 'string') throw new FaultError('body must be a string');
  const body = s.body as string | undefined;
  const contentType = optString(s.contentType, 'contentType');
  const endings = [status !== undefined, reset, hang, applyThenHang].filter(Boolean).length;
  if (endings > 1) throw new FaultError('status, reset, hang and applyThenHang exclude each other');
  if (status === undefined && [statusText, errorCode, message, body, retryAfter].some((v) => v !== undefined))
    throw new FaultError('statusText, errorCode, message, body and retryAfter need a status');
  if (contentType !== undefined && body === undefined) throw new FaultError('contentType needs a body');
  if (status !== undefined) kinds.status = status;
  if (statusText !== undefined) kinds.statusText = statusText;
  if (errorCode !== undefined) kinds.errorCode = errorCode;
  if (message !== undefined) kinds.message = message;
  if (body !== undefined) kinds.body = body;
  if (contentType !== undefined) kinds.contentType = contentType;
  if (retryAfter !== undefined) kinds.retryAfter = retryAfter;
  if (delayMs !== undefined) kinds.delayMs = delayMs;
  if (reset) kinds.reset = true;
  if (hang) kinds.hang = true;
  if (applyThenHang) kinds.applyThenHang = true;
  return kinds;
}

/** True when the fault does something to the request beyond selecting it. */
export function hasEffect(kinds: FaultKinds): boolean {
  return (
    kinds.status !== undefined ||
    kinds.reset === true ||
    kinds.delayMs !== undefined ||
    kinds.hang === true ||
    kinds.applyThenHang === true
  );
}

/** Consumes an unread request body, so answering (or not answering) never stalls a client mid-upload. */
export async function drainRequest(req: IncomingMessage): Promise<void> {
  if (req.readableEnded) return;
  for await (const _ of req) {
    // discard
  }
}

/**
 * Makes every later write to this response a no-op: the route still runs (and its effect lands) but the client
 * never sees an answer. The socket is released only when the client gives up or the server closes its
 * connections, which every sandbox server does on close().
 */
export function muteResponse(res: ServerResponse): void {
  const callbackOf = (args: unknown[]) => args.find((a): a is () => void => typeof a === 'function');
  res.writeHead = (() => res) as unknown as ServerResponse['writeHead'];
  res.flushHeaders = () => undefined;
  res.write = ((_chunk: unknown, ...rest: unknown[]) => {
    const cb = callbackOf(rest);
    if (cb) queueMicrotask(cb);
    return true;
  }) as ServerResponse['write'];
  res.end = ((...args: unknown[]) => {
    const cb = callbackOf(args);
    if (cb) queueMicrotask(cb);
    return res;
  }) as ServerResponse['end'];
}

export type FaultOutcome = 'answered' | 'proceed';

/**
 * Applies the kinds every service shares. `answer` sends the service's own error shape for a status fault
 * without a custom body. Returns 'proceed' when the route should run (delay only, or applyThenHang with the
 * response muted).
 */
export async function applyFaultKinds(
  fault: FaultKinds,
  req: IncomingMessage,
  res: ServerResponse,
  sleep: (ms: number) => Promise<void>,
  answer: (status: number, headers: Record<string, string>) => void,
): Promise<FaultOutcome> {
  if (fault.delayMs !== undefined) await sleep(fault.delayMs);
  if (fault.reset) {
    req.socket.destroy();
    return 'answered';
  }
  if (fault.hang) {
    await drainRequest(req);
    return 'answered';
  }
  if (fault.applyThenHang) {
    muteResponse(res);
    return 'proceed';
  }
  if (fault.status === undefined) return 'proceed';
  await drainRequest(req);
  const headers: Record<string, string> =
    fault.retryAfter === undefined ? {} : { 'Retry-After': String(fault.retryAfter) };
  if (fault.statusText !== undefined) res.statusMessage = fault.statusText;
  if (fault.body !== undefined) {
    const payload = Buffer.from(fault.body, 'utf8');
    res.writeHead(fault.status, {
      ...headers,
      'Content-Type': fault.contentType ?? 'text/plain; charset=utf-8',
      'Content-Length': payload.length,
    });
    res.end(payload);
    return 'answered';
  }
  answer(fault.status, headers);
  return 'answered';
}

/** The bookkeeping every fault list keeps per fault. */
export interface CountedFault extends FaultKinds {
  id: string;
  route: string;
  /** Matching requests to let through untouched before the fault applies. */
  skip?: number;
  /** Requests still to affect; -1 = until cleared. */
  remaining: number;
  hits: number;
}

/** Validates the selector fields every fault list shares: a route (or glob) over known names, count and skip. */
export function parseSelection(
  s: Record<string, unknown>,
  routes: readonly string[],
  defaultRoute?: string,
): { route: string; count: number; skip?: number } {
  const route = optString(s.route, 'route') ?? defaultRoute;
  if (route === undefined) throw new FaultError('route is required');
  const pattern = globToRegExp(route);
  if (!routes.some((name) => pattern.test(name)))
    throw new FaultError(`route '${route}' matches no route; known: ${routes.join(', ')}`);
  const count = intIn(s.count, 'count', -1, 1_000_000) ?? 1;
  if (count === 0) throw new FaultError('count must be -1 or at least 1');
  const skip = intIn(s.skip, 'skip', 0, 1_000_000);
  return skip ? { route, count, skip } : { route, count };
}

export function specObject(spec: unknown): Record<string, unknown> {
  if (typeof spec !== 'object' || spec === null || Array.isArray(spec))
    throw new FaultError('body must be a JSON object');
  return spec as Record<string, unknown>;
}

/** An ordered list of faults: the first one matching a request applies, after its skips, until its count ends. */
export class FaultList<F extends CountedFault> {
  private faults: F[] = [];
  private nextId = 1;

  protected push(make: (id: string) => F): F {
    const fault = make(`fault-${this.nextId++}`);
    this.faults.push(fault);
    return fault;
  }

  list(): F[] {
    return this.faults.map((f) => ({ ...f }));
  }

  remove(id: string): boolean {
    const before = this.faults.length;
    this.faults = this.faults.filter((f) => f.id !== id);
    return this.faults.length !== before;
  }

  clear(): void {
    this.faults = [];
  }

  /** The first fault on this route that `matches` accepts, consumed by one. */
  protected takeWhere(route: string, matches: (fault: F) => boolean): F | undefined {
    const fault = this.faults.find((f) => globToRegExp(f.route).test(route) && matches(f));
    if (!fault) return undefined;
    if (fault.skip) {
      fault.skip -= 1;
      return undefined;
    }
    fault.hits += 1;
    if (fault.remaining > 0) {
      fault.remaining -= 1;
      if (fault.remaining === 0) this.faults = this.faults.filter((f) => f !== fault);
    }
    return { ...fault };
  }
}

export interface SwitchFault extends CountedFault {
  /** Unset matches every client. */
  client?: string;
}

/**
 * A list of faults over a fixed set of route names (globs allowed), optionally per client, for the fakes that
 * are not App Service (which has its own per-app, per-slot switch).
 */
export class FaultSwitch extends FaultList<SwitchFault> {
  constructor(
    readonly routes: readonly string[],
    readonly clients: readonly string[] = [],
  ) {
    super();
  }

  add(spec: unknown, defaults: { route?: string } = {}): SwitchFault {
    const s = specObject(spec);
    const { route, count, skip } = parseSelection(s, this.routes, defaults.route);
    const client = optString(s.client, 'client');
    if (client !== undefined && !this.clients.includes(client))
      throw new FaultError(`client must be one of ${this.clients.join(', ') || '(none)'}`);
    const kinds = parseFaultKinds(s);
    if (!hasEffect(kinds))
      throw new FaultError('a fault needs status, reset, delayMs, hang or applyThenHang');
    const fault = this.push((id) => {
      const f: SwitchFault = { id, route, remaining: count, hits: 0, ...kinds };
      if (client !== undefined) f.client = client;
      if (skip) f.skip = skip;
      return f;
    });
    return { ...fault };
  }

  /** The first fault matching this request, consumed by one. */
  take(route: string, client?: string): SwitchFault | undefined {
    return this.takeWhere(route, (f) => f.client === undefined || f.client === client);
  }
}
