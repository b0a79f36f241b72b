import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Context } from './context.js';
import { applyFault, type RouteName } from './faults.js';
import { drain, type Handler, parseTarget, queryValue, send, sendJson, sendText } from './http.js';
import { isLinux, label, runFromPackage, type Site } from './state.js';

/**
 * A site's Functions host on its default host name (`https://127.0.0.1:PORT`): the admin status API that Core Tools
 * and az CLI poll after a Flex publish (azure-contract.md B.4) and the default page. Nothing else is served.
 */

const HOST_VERSION = '4.1041.200.1';

/** The host id: the site name, lower-cased and cut to 32 characters [INF: as the host's default id provider]. */
function hostId(site: Site): string {
  return label(site).toLowerCase().slice(0, 32).replace(/-+$/, '');
}

/** host.json gives a range such as "[4.*, 5.0.0)"; the host reports the bundle version it resolved [INF]. */
function resolvedBundle(bundle: { id: string; version: string }): { id: string; version: string } {
  const major = /\d+/.exec(bundle.version)?.[0] ?? '4';
  return { id: bundle.id, version: `${major}.22.0` };
}

function validKey(site: Site, req: IncomingMessage): boolean {
  const header = req.headers['x-functions-key'];
  const key =
    (typeof header === 'string' ? header : undefined) ?? queryValue(parseTarget(req.url).query, 'code');
  // The status API is admin-level: the master key or a system key (HostController.GetHostStatus,
  // PolicyNames.AdminAuthLevelOrInternal) [SRC].
  return (
    key !== undefined &&
    (key === site.hostKeys.masterKey || Object.values(site.hostKeys.systemKeys).includes(key))
  );
}

/** Answers for the front end when the site's host cannot answer itself (stopped, restarting); true if it did. */
function unavailable(ctx: Context, site: Site, res: ServerResponse): boolean {
  const phase = ctx.platform.phase(site);
  if (phase === 'stopped') {
    send(res, 403, '<h1>Error 403 - This web app is stopped.</h1>', { 'Content-Type': 'text/html' });
    return true;
  }
  if (phase === 'down') {
    // While the worker process restarts the front end has nothing to route to [OBS: "Running in the portal, but
    // /admin/host/status answered 503" while the container was not up; INF: the exact body].
    send(res, 503, '<h1>Service Unavailable</h1>', { 'Content-Type': 'text/html', 'Retry-After': '1' });
    return true;
  }
  return false;
}

/** The HostStatus JSON for a host that is up (starting, running or failed). */
export function hostStatusBody(ctx: Context, site: Site): Record<string, unknown> {
  const phase = ctx.platform.phase(site);
  const st = site.platform;
  // Field names and omissions: azure-functions-host HostStatus (DefaultValueHandling.Ignore) filled by
  // HostController.GetHostStatus; `state` is ScriptHostState (Default, Starting, Initialized, Running, Error,
  // Stopping, Stopped, Offline) [SRC].
  const body: Record<string, unknown> = {
    id: hostId(site),
    state: phase === 'running' ? 'Running' : phase === 'error' ? 'Error' : 'Starting',
    version: HOST_VERSION,
    versionDetails: `${HOST_VERSION}+sandbox`,
    platformVersion: '105.0.7.712',
    instanceId: st.instanceId,
    computerName: isLinux(site)
      ? `10-30-${st.instanceId.slice(0, 2)}-7`
      : `DW1SDWK${st.instanceId.slice(0, 6)}`,
    processUptime: Math.max(0, Date.now() - st.loadedAt),
    functionAppContentEditingState: isLinux(site) || runFromPackage(site) ? 'NotAllowed' : 'Allowed',
  };
  if (phase !== 'starting' && st.extensionBundle) body.extensionBundle = resolvedBundle(st.extensionBundle);
  if (phase === 'error' && st.hostError !== undefined) body.errors = [st.hostError];
  return body;
}

async function status(ctx: Context, site: Site, req: IncomingMessage, res: ServerResponse): Promise<void> {
  await ctx.platform.start(site);
  if (unavailable(ctx, site, res)) return;
  if (!validKey(site, req)) {
    send(res, 401, undefined);
    return;
  }
  sendJson(res, 200, hostStatusBody(ctx, site));
}

async function root(ctx: Context, site: Site, res: ServerResponse): Promise<void> {
  await ctx.platform.start(site);
  if (unavailable(ctx, site, res)) return;
  if (ctx.platform.phase(site) !== 'running') {
    // HostAvailabilityCheckMiddleware: a request before the host is ready gets 503 "Function host is not running."
    sendText(res, 503, 'Function host is not running.');
    return;
  }
  send(
    res,
    200,
    '<!DOCTYPE html><html><head><title>Your Functions 4.0 app is up and running</title></head><body><h1>Your Functions 4.0 app is up and running</h1></body></html>',
    { 'Content-Type': 'text/html; charset=utf-8' },
  );
}

/** One site's Functions host: its own HTTPS origin. */
export function hostHandler(ctx: Context, site: Site): Handler {
  return async (req, res) => {
    const { segments } = parseTarget(req.url);
    const method = req.method ?? 'GET';
    const path = segments.join('/');
    let name: RouteName | undefined;
    let run: (() => Promise<void>) | undefined;
    if (path === 'admin/host/status' && method === 'GET') {
      name = 'host.status';
      run = () => status(ctx, site, req, res);
    } else if (path === '' && (method === 'GET' || method === 'HEAD')) {
      name = 'host.root';
      run = () => root(ctx, site, res);
    }
    ctx.requests.request('host', name);
    if (name === undefined || run === undefined) {
      await drain(req);
      sendText(res, 404, 'Not Found');
      return;
    }
    const fault = ctx.faults.take(name, site.app.name, site.slot);
    if (fault) {
      const answered = await applyFault(fault, req, res, ctx.timers, (code, headers) =>
        sendText(res, code, fault.message ?? `Sandbox fault ${fault.id} on ${name}: HTTP ${code}.`, headers),
      );
      if (answered) return;
    }
    await run();
  };
}
