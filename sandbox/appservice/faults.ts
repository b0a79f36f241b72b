import type { IncomingMessage, ServerResponse } from 'node:http';
import {
  applyFaultKinds,
  type CountedFault,
  drainRequest,
  FaultError,
  FaultList,
  hasEffect,
  optString,
  parseFaultKinds,
  parseSelection,
  specObject,
} from '../fault-kinds.js';
import type { Handler, Timers } from './http.js';

export { FaultError } from '../fault-kinds.js';

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

export interface Fault extends CountedFault {
  app?: string;
  /** Unset matches production and every slot. */
  slot?: string;
  /** Settings that replace the app's settings the moment the fault fires: a change made by someone else, mid-run. */
  setSettings?: Record<string, string>;
  /**
   * ARM only: `arm` answers `{"error":{"code","message"}}`, `legacy` the App Service RP's capitalised
   * `{"Code","Message",…}`; both exist on the wire (azure-contract.md §A.0).
   */
  errorShape?: 'arm' | 'legacy';
}

export class Faults extends FaultList<Fault> {
  add(spec: unknown): Fault {
    const s = specObject(spec);
    const { route, count, skip } = parseSelection(s, FAULT_ROUTES);
    const kinds = parseFaultKinds(s);
    let setSettings: Record<string, string> | undefined;
    if (s.setSettings !== undefined) {
      const bad =
        typeof s.setSettings !== 'object' ||
        s.setSettings === null ||
        Object.values(s.setSettings).some((v) => typeof v !== 'string');
      if (bad) throw new FaultError('setSettings must be an object of string settings');
      setSettings = { ...(s.setSettings as Record<string, string>) };
    }
    if (s.errorShape !== undefined && s.errorShape !== 'arm' && s.errorShape !== 'legacy')
      throw new FaultError('errorShape must be "arm" or "legacy"');
    if (!hasEffect(kinds) && setSettings === undefined) {
      throw new FaultError('a fault needs status, reset, delayMs, hang, applyThenHang or setSettings');
    }
    const app = optString(s.app, 'app');
    const slot = optString(s.slot, 'slot');
    return this.push((id) => {
      const fault: Fault = { id, route, remaining: count, hits: 0, ...kinds };
      if (app !== undefined) fault.app = app;
      if (slot !== undefined) fault.slot = slot;
      if (skip) fault.skip = skip;
      if (setSettings) fault.setSettings = setSettings;
      if (s.errorShape !== undefined) fault.errorShape = s.errorShape as 'arm' | 'legacy';
      return fault;
    });
  }

  /** The first fault matching this request, consumed by one. */
  take(route: RouteName, app: string | undefined, slot: string | undefined): Fault | undefined {
    return this.takeWhere(
      route,
      (f) =>
        (f.app === undefined || f.app.toLowerCase() === app?.toLowerCase()) &&
        (f.slot === undefined || f.slot.toLowerCase() === (slot ?? 'production').toLowerCase()),
    );
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

/** The ARM error body of a status fault: the fault's code and message, or the status's usual ones. */
export function armFaultBody(fault: Fault, status: number): Record<string, unknown> {
  const reason = faultReason(status);
  const code = fault.errorCode ?? reason.code;
  const message = fault.message ?? reason.message;
  if (fault.errorShape !== 'legacy') return { error: { code, message } };
  // The RP's capitalised form as captured in the wild (azure-contract.md §A.0 [OBS]); ExtendedCode is specific
  // to each real error and is left out rather than invented [INF].
  return {
    Code: code,
    Message: message,
    Target: null,
    Details: [
      { Message: message },
      { Code: code },
      { ErrorEntity: { MessageTemplate: message, Parameters: [], Code: code, Message: message } },
    ],
    Innererror: null,
  };
}

/**
 * Applies a fault. Returns true when the fault answered the request (status, reset or hang);
 * false when the request should proceed (delay only, or applyThenHang with the response muted).
 */
export async function applyFault(
  fault: Fault,
  req: IncomingMessage,
  res: ServerResponse,
  timers: Timers,
  respond: (status: number, headers: Record<string, string>) => void,
): Promise<boolean> {
  if (!hasEffect(fault)) return false;
  return (await applyFaultKinds(fault, req, res, (ms) => timers.sleep(ms), respond)) === 'answered';
}

/**
 * App Service access restrictions on the SCM site: the front end refuses before Kudu (or its auth) sees the
 * request. The 403's reason phrase is "Ip Forbidden": functions-action prints `${statusMessage} (CODE: 403)`
 * and users report "Failed to fetch Kudu App Settings. Ip Forbidden (CODE: 403)" [SRC functions-action
 * azure-app-kudu-service.js _getFormattedError; ISSUE MicrosoftDocs/azure-docs#85717, #109558,
 * Azure/webapps-deploy#244, projectkudu/kudu#2945]. The body is the App Service 403 page, whose text tools
 * surface as "Error 403 - Forbidden / The web app you have attempted to reach has blocked your access."
 * [ISSUE microsoft/vscode-azureappservice#2526, #2498]; the exact markup is [INF]. The `x-ms-forbidden-ip`
 * header names the refused client address [ISSUE Azure/static-web-apps#1666]. azure-functions-host#7871 (named
 * in the brief) was not found in the sources searched.
 */
const IP_FORBIDDEN_BODY =
  '<!DOCTYPE html>\n<html><head><title>Error 403 - Forbidden</title></head><body>' +
  '<h1>Error 403 - Forbidden</h1><p>The web app you have attempted to reach has blocked your access.</p>' +
  '</body></html>\n';

export function scmAccessRestriction(restricted: () => boolean, handler: Handler): Handler {
  return async (req, res) => {
    if (!restricted()) return handler(req, res);
    await drainRequest(req);
    const payload = Buffer.from(IP_FORBIDDEN_BODY, 'utf8');
    res.writeHead(403, 'Ip Forbidden', {
      'Content-Type': 'text/html',
      'Content-Length': payload.length,
      'x-ms-forbidden-ip': req.socket.remoteAddress ?? '',
    });
    res.end(payload);
  };
}
