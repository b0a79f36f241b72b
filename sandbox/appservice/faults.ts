import type { IncomingMessage } from 'node:http';
import { drain, type Timers } from './http.js';

/**
 * Route names a fault can target. A fault's `route` is one of these or a glob over them (`*`, `arm.*`, `arm.sync*`).
 */
export const FAULT_ROUTES = [
  'arm.resources',
  'arm.serverfarm.get',
  'arm.site.get',
  'arm.appsettings.list',
  'arm.appsettings.put',
  'arm.config.web',
  'arm.publishingcredentials',
  'arm.scmpolicy',
  'arm.restart',
  'arm.sync',
  'arm.sync.host',
  'arm.sync.hostruntime',
  'arm.functions',
  'arm.listkeys',
  'arm.hoststatus',
  'arm.slots',
  'arm.slotconfignames.get',
  'arm.slotconfignames.put',
  'arm.swap',
  'arm.operation',
  'kudu.zipdeploy',
  'kudu.publish',
  'kudu.deployments.list',
  'kudu.deployments.latest',
  'kudu.deployments.get',
  'kudu.deployments.log',
  'kudu.deployments.put',
  'kudu.settings.get',
  'kudu.settings.post',
  'kudu.settings.delete',
  'kudu.vfs',
  'host.status',
  'host.root',
] as const;

export type RouteName = (typeof FAULT_ROUTES)[number];

export interface Fault {
  id: string;
  route: string;
  app?: string;
  /** Unset matches production and every slot. */
  slot?: string;
  status?: number;
  retryAfter?: number;
  reset?: true;
  delayMs?: number;
  /** Matching requests to let through untouched before the fault applies. */
  skip?: number;
  /** Settings that replace the app's settings the moment the fault fires: a change made by someone else, mid-run. */
  setSettings?: Record<string, string>;
  /** Requests still to affect; -1 = until cleared. */
  remaining: number;
  hits: number;
}

export class FaultError extends Error {}

function intIn(value: unknown, name: string, min: number, max: number): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw new FaultError(`${name} must be an integer from ${min} to ${max}`);
  }
  return value;
}

function optString(value: unknown, name: string): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'string' || value === '') throw new FaultError(`${name} must be a non-empty string`);
  return value;
}

function globToRegExp(glob: string): RegExp {
  const source = glob
    .split('*')
    .map((part) => part.replace(/[.+?^${}()|[\]\\]/g, '\\$&'))
    .join('.*');
  return new RegExp(`^${source}$`, 'i');
}

export class Faults {
  private faults: Fault[] = [];
  private nextId = 1;

  add(spec: unknown): Fault {
    if (typeof spec !== 'object' || spec === null) throw new FaultError('body must be a JSON object');
    const s = spec as Record<string, unknown>;
    const route = optString(s.route, 'route');
    if (route === undefined) throw new FaultError('route is required');
    const pattern = globToRegExp(route);
    if (!FAULT_ROUTES.some((name) => pattern.test(name))) {
      throw new FaultError(`route '${route}' matches no route; known: ${FAULT_ROUTES.join(', ')}`);
    }
    const status = intIn(s.status, 'status', 100, 599);
    const retryAfter = intIn(s.retryAfter, 'retryAfter', 0, 86_400);
    const delayMs = intIn(s.delayMs, 'delayMs', 0, 600_000);
    const count = intIn(s.count, 'count', -1, 1_000_000) ?? 1;
    if (count === 0) throw new FaultError('count must be -1 or at least 1');
    if (s.reset !== undefined && s.reset !== true) throw new FaultError('reset must be true when given');
    const skip = intIn(s.skip, 'skip', 0, 1_000_000);
    let setSettings: Record<string, string> | undefined;
    if (s.setSettings !== undefined) {
      const bad =
        typeof s.setSettings !== 'object' ||
        s.setSettings === null ||
        Object.values(s.setSettings).some((v) => typeof v !== 'string');
      if (bad) throw new FaultError('setSettings must be an object of string settings');
      setSettings = { ...(s.setSettings as Record<string, string>) };
    }
    if (status === undefined && s.reset !== true && delayMs === undefined && setSettings === undefined) {
      throw new FaultError('a fault needs status, reset, delayMs or setSettings');
    }
    const fault: Fault = { id: `fault-${this.nextId++}`, route, remaining: count, hits: 0 };
    const app = optString(s.app, 'app');
    const slot = optString(s.slot, 'slot');
    if (app !== undefined) fault.app = app;
    if (slot !== undefined) fault.slot = slot;
    if (status !== undefined) fault.status = status;
    if (retryAfter !== undefined) fault.retryAfter = retryAfter;
    if (s.reset === true) fault.reset = true;
    if (delayMs !== undefined) fault.delayMs = delayMs;
    if (skip) fault.skip = skip;
    if (setSettings) fault.setSettings = setSettings;
    this.faults.push(fault);
    return fault;
  }

  list(): Fault[] {
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

  /** The first fault matching this request, consumed by one. */
  take(route: RouteName, app: string | undefined, slot: string | undefined): Fault | undefined {
    const fault = this.faults.find(
      (f) =>
        globToRegExp(f.route).test(route) &&
        (f.app === undefined || f.app.toLowerCase() === app?.toLowerCase()) &&
        (f.slot === undefined || f.slot.toLowerCase() === (slot ?? 'production').toLowerCase()),
    );
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

const REASONS: Record<number, [string, string]> = {
  400: ['BadRequest', 'The request is invalid.'],
  403: ['AuthorizationFailed', 'The client does not have authorization to perform this action.'],
  404: ['NotFound', 'The resource was not found.'],
  409: ['Conflict', 'The request conflicts with the current state of the resource.'],
  429: [
    'TooManyRequests',
    'The request is being throttled. Please retry after the interval in the Retry-After header.',
  ],
  500: ['InternalServerError', 'An unexpected error occurred while processing the request.'],
  502: ['BadGateway', 'The gateway did not receive a valid response from the upstream server.'],
  503: [
    'ServiceUnavailable',
    'The service is unavailable. Please retry after the interval in the Retry-After header.',
  ],
  504: ['GatewayTimeout', 'The gateway did not receive a response within the specified time period.'],
};

export function faultReason(status: number): { code: string; message: string } {
  const [code, message] = REASONS[status] ?? [`Http${status}`, `The sandbox answered ${status}.`];
  return { code, message };
}

/**
 * Applies a fault. Returns true when the fault answered the request (status or reset);
 * false when the request should proceed normally (delay only).
 */
export async function applyFault(
  fault: Fault,
  req: IncomingMessage,
  timers: Timers,
  respond: (status: number, headers: Record<string, string>) => void,
): Promise<boolean> {
  if (fault.delayMs !== undefined) await timers.sleep(fault.delayMs);
  if (fault.reset) {
    req.socket.destroy();
    return true;
  }
  if (fault.status === undefined) return false;
  await drain(req);
  respond(fault.status, fault.retryAfter === undefined ? {} : { 'Retry-After': String(fault.retryAfter) });
  return true;
}
