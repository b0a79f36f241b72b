import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Context } from './context.js';
import {
  defaultDeployer,
  deployAsync,
  deploySync,
  lockHeld,
  newestFirst,
  putDeployment,
  renderDeployment,
  renderLog,
} from './deploy.js';
import { applyFault, type RouteName, scmAccessRestriction } from './faults.js';
import { flexKuduRoute, isFlex } from './flex.js';
import { drain, type Handler, parseTarget, queryValue, readJson, send, sendJson, sendText } from './http.js';
import { isLinux, publishingUserName, recordEvent, runFromPackageIn, type Site } from './state.js';

const RFP_URL_WINDOWS =
  'Run-From-Zip is set to a remote URL using WEBSITE_USE_ZIP app setting. Deployment is not supported in this configuration.';
const RFP_URL_LINUX =
  'Run-From-Zip is set to a remote URL using WEBSITE_RUN_FROM_PACKAGE or WEBSITE_USE_ZIP app setting. Deployment is not supported in this configuration.';
const IN_PROGRESS = 'There is a deployment currently in progress. Please try again when it completes.';
const RETRY_AFTER_SECONDS = 30;

/**
 * Reads a body of at most `limit` bytes; undefined when it is larger. A Linux front end drops the connection as
 * soon as the limit is passed; otherwise the rest is read and discarded, so the client gets an answer.
 */
async function readUpTo(req: IncomingMessage, limit: number, drop: boolean): Promise<Buffer | undefined> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size <= limit) chunks.push(chunk as Buffer);
    else if (drop) {
      req.socket.destroy();
      return undefined;
    }
  }
  return size > limit ? undefined : Buffer.concat(chunks);
}

function authorized(ctx: Context, site: Site, header: string | undefined): boolean {
  const match = /^(\w+)\s+(.+)$/.exec(header ?? '');
  if (!match) return false;
  const scheme = (match[1] as string).toLowerCase();
  const value = (match[2] as string).trim();
  if (scheme === 'bearer') return ctx.verifyBearer(value);
  if (scheme !== 'basic' || !site.app.basicAuthAllowed) return false;
  const decoded = Buffer.from(value, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  return (
    colon > 0 &&
    decoded.slice(0, colon) === publishingUserName(site) &&
    decoded.slice(colon + 1) === site.password
  );
}

/** `yyyy-MM-dd_HH-mm-ssZ`, the `time` Kudu puts in the 202 Location. */
function locationTime(date: Date): string {
  return date
    .toISOString()
    .replace(/T/, '_')
    .replace(/:/g, '-')
    .replace(/\.\d{3}Z$/, 'Z');
}

function notFound(site: Site, res: ServerResponse, what: string): void {
  const text = `Deployment '${what}' not found.`;
  // Windows Kudu (Web API) wraps the message in an object; KuduLite serialises the bare string.
  sendJson(res, 404, isLinux(site) ? text : { Message: text });
}

function vfsEntry(
  site: Site,
  base: string,
  name: string,
  size: number,
  mtime: Date,
): Record<string, unknown> {
  const zip = name.toLowerCase().endsWith('.zip');
  const time = mtime.toISOString();
  return {
    name,
    size,
    mtime: time,
    crtime: time,
    mime: zip ? (isLinux(site) ? 'application/zip' : 'application/x-zip-compressed') : 'text/plain',
    href: `${base}/api/vfs/data/SitePackages/${encodeURIComponent(name)}`,
    path: isLinux(site) ? `/home/data/SitePackages/${name}` : `C:\\home\\data\\SitePackages\\${name}`,
  };
}

type Route = { name: RouteName; run: () => Promise<void> };

/** One Kudu (SCM) site: its own HTTPS origin, routes with and without the `/api` prefix. */
export function kuduHandler(ctx: Context, site: Site): Handler {
  const deps = { platform: ctx.platform, timers: ctx.timers };

  async function zipdeploy(
    req: IncomingMessage,
    res: ServerResponse,
    query: URLSearchParams,
    base: string,
  ): Promise<void> {
    // Zip deploys over 2 GB fail without a clear error (azure-cli#26635: the client saw a failed certificate
    // verification, i.e. a broken connection) [OBS]; Windows' IIS answers "Maximum request length exceeded."
    // (projectkudu/kudu#3318) [OBS].
    const body = await readUpTo(req, ctx.config.maxZipDeployBytes, isLinux(site));
    if (body === undefined) {
      if (isLinux(site)) return;
      sendJson(res, 500, {
        Message: 'An error has occurred.',
        ExceptionMessage: 'Maximum request length exceeded.',
        ExceptionType: 'System.Web.HttpException',
        StackTrace: null,
      });
      return;
    }
    if (site.app.plan.tier === 'FlexConsumption') {
      // Flex has no zipdeploy: "Not Found (CODE: 404)" (functions-action#277), "returns 404 (Not Found)"
      // (OctopusDeploy/Calamari#2077) [ISSUE]. Neither quotes a body; an unmatched ASP.NET Core route sends none [INF].
      send(res, 404, undefined);
      return;
    }
    // Every decision below reads the settings as Kudu sees them, which lag the change (Platform.kuduSettings).
    const settings = ctx.platform.kuduSettings(site);
    if (/^http/i.test(runFromPackageIn(settings)?.trim() ?? '')) {
      sendText(res, 409, isLinux(site) ? RFP_URL_LINUX : RFP_URL_WINDOWS);
      return;
    }
    if (lockHeld(site)) {
      sendText(res, 409, IN_PROGRESS);
      return;
    }
    const deployer = queryValue(query, 'deployer') || defaultDeployer(site);
    const request = {
      body,
      deployer,
      author: queryValue(query, 'author'),
      authorEmail: queryValue(query, 'authorEmail'),
      message: queryValue(query, 'message'),
      settings,
    };
    if (queryValue(query, 'isAsync')?.toLowerCase() === 'true') {
      deployAsync(deps, site, request);
      const location = `${base}/api/deployments/latest?deployer=${encodeURIComponent(deployer)}&time=${locationTime(new Date())}`;
      send(res, 202, undefined, {
        Location: location,
        ...(isLinux(site) ? {} : { 'Retry-After': RETRY_AFTER_SECONDS }),
      });
      return;
    }
    const dep = await deploySync(deps, site, request);
    if (dep.result.status === 4) send(res, 200, undefined);
    else sendText(res, 500, dep.result.status_text);
  }

  function latest(req: IncomingMessage, res: ServerResponse, base: string): void {
    const pending = newestFirst(site).find((d) => d.result.status !== 3 && d.result.status !== 4);
    if (pending) {
      sendJson(res, 202, renderDeployment(pending, base, 'latest'), {
        Location: `${base}${req.url ?? '/api/deployments/latest'}`,
        ...(isLinux(site) ? {} : { 'Retry-After': RETRY_AFTER_SECONDS }),
      });
      return;
    }
    const done = newestFirst(site).reduce<(typeof site.deployments)[number] | undefined>(
      (best, d) =>
        best === undefined || (d.result.end_time ?? '') > (best.result.end_time ?? '') ? d : best,
      undefined,
    );
    if (!done) notFound(site, res, 'latest');
    else sendJson(res, 200, renderDeployment(done, base, 'latest'));
  }

  function findDeployment(id: string) {
    const all = newestFirst(site);
    return id.toLowerCase() === 'latest'
      ? all.find((d) => d.result.complete)
      : all.find((d) => d.result.id.toLowerCase() === id.toLowerCase());
  }

  async function settingsPost(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const body = await readJson(req);
    if (typeof body !== 'object' || body === null || Array.isArray(body)) {
      sendJson(res, 400, { Message: 'The request body must be a JSON object of settings.' });
      return;
    }
    for (const [key, value] of Object.entries(body)) {
      if (typeof value !== 'string') {
        sendJson(res, 400, { Message: `Setting '${key}' must be a string.` });
        return;
      }
    }
    Object.assign(site.settings, body);
    recordEvent(site, 'settings-changed', `kudu: ${Object.keys(body).join(', ')}`);
    void ctx.platform.reload(site, 'settings changed');
    send(res, 204, undefined);
  }

  function settingsDelete(res: ServerResponse, key: string): void {
    for (const k of Object.keys(site.settings))
      if (k.toLowerCase() === key.toLowerCase()) delete site.settings[k];
    recordEvent(site, 'settings-changed', `kudu: deleted ${key}`);
    void ctx.platform.reload(site, 'settings changed');
    send(res, 204, undefined);
  }

  function vfs(res: ServerResponse, base: string, file: string | undefined): void {
    if (file === undefined) {
      const entries = [...site.sitePackages.entries()]
        .sort(([a], [b]) => a.localeCompare(b))
        .map(([name, f]) => vfsEntry(site, base, name, f.bytes.length, f.mtime));
      sendJson(res, 200, entries);
      return;
    }
    const name = [...site.sitePackages.keys()].find((n) => n.toLowerCase() === file.toLowerCase());
    const entry = name === undefined ? undefined : site.sitePackages.get(name);
    if (!entry) {
      sendJson(res, 404, { Message: `'${file}' not found.` });
      return;
    }
    send(res, 200, entry.bytes, {
      'Content-Type': name?.toLowerCase().endsWith('.zip') ? 'application/zip' : 'text/plain; charset=utf-8',
    });
  }

  function route(req: IncomingMessage, res: ServerResponse): Route | undefined {
    const { segments, raw, query } = parseTarget(req.url);
    const api = segments[0] === 'api' ? 1 : 0;
    const s = segments.slice(api);
    const r = raw.slice(api);
    const m = req.method ?? 'GET';
    const base = `https://${req.headers.host ?? site.kuduHost}`;
    const is = (...parts: string[]) =>
      s.length === parts.length && parts.every((p, i) => p === '*' || p === s[i]);
    if (isFlex(site)) {
      const flex = flexKuduRoute(ctx, site, req, res, { s, r, api: api === 1, method: m, base, query });
      if (flex) return flex;
    }

    if (is('zipdeploy') && (m === 'POST' || m === 'PUT'))
      return { name: 'kudu.zipdeploy', run: () => zipdeploy(req, res, query, base) };
    if (is('deployments') && m === 'GET') {
      return {
        name: 'kudu.deployments.list',
        run: async () =>
          sendJson(
            res,
            200,
            newestFirst(site).map((d) => renderDeployment(d, base)),
          ),
      };
    }
    if (is('deployments', 'latest') && m === 'GET')
      return { name: 'kudu.deployments.latest', run: async () => latest(req, res, base) };
    if (is('deployments', '*') && m === 'GET') {
      const id = r[1] as string;
      return {
        name: 'kudu.deployments.get',
        run: async () => {
          const dep = findDeployment(id);
          if (dep) sendJson(res, 200, renderDeployment(dep, base, id));
          else notFound(site, res, id);
        },
      };
    }
    if (is('deployments', '*') && m === 'PUT') {
      const id = r[1] as string;
      return {
        name: 'kudu.deployments.put',
        run: async () => {
          const body = await readJson(req);
          const dep = putDeployment(
            site,
            id,
            typeof body === 'object' && body !== null ? (body as Record<string, unknown>) : {},
          );
          sendJson(res, 200, renderDeployment(dep, base));
        },
      };
    }
    if (is('deployments', '*', 'log') && m === 'GET') {
      const id = r[1] as string;
      return {
        name: 'kudu.deployments.log',
        run: async () => {
          const dep = findDeployment(id);
          if (dep) sendJson(res, 200, renderLog(dep));
          else notFound(site, res, id);
        },
      };
    }
    if (is('settings') && m === 'GET') {
      return {
        name: 'kudu.settings.get',
        run: async () =>
          sendJson(res, 200, {
            deployment_branch: 'master',
            SCM_TRACE_LEVEL: '1',
            WEBSITE_SITE_NAME: site.app.name,
            ...ctx.platform.kuduSettings(site),
          }),
      };
    }
    if (is('settings') && m === 'POST')
      return { name: 'kudu.settings.post', run: () => settingsPost(req, res) };
    if (is('settings', '*') && m === 'DELETE') {
      return { name: 'kudu.settings.delete', run: async () => settingsDelete(res, r[1] as string) };
    }
    if (s[0] === 'vfs' && s[1] === 'data' && s[2] === 'sitepackages' && s.length <= 4 && m === 'GET') {
      return { name: 'kudu.vfs', run: async () => vfs(res, base, r[3]) };
    }
    return undefined;
  }

  const served: Handler = async (req, res) => {
    if (!authorized(ctx, site, req.headers.authorization)) {
      await drain(req);
      sendText(res, 401, '401 - Unauthorized: Access is denied due to invalid credentials.');
      return;
    }
    const matched = route(req, res);
    if (!matched) {
      await drain(req);
      sendJson(res, 404, {
        Message: `No HTTP resource was found that matches the request URI '${req.url}'.`,
      });
      return;
    }
    const fault = ctx.faults.take(matched.name, site.app.name, site.slot);
    if (fault) {
      const answered = await applyFault(fault, req, res, ctx.timers, (status, headers) =>
        sendText(
          res,
          status,
          fault.message ?? `Sandbox fault ${fault.id} on ${matched.name}: HTTP ${status}.`,
          headers,
        ),
      );
      if (answered) return;
    }
    await matched.run();
  };
  const restricted = scmAccessRestriction(() => site.kudu.ipRestricted, served);
  return async (req, res) => {
    // Counted before the access restriction and auth: a refused request was still made. Naming the route runs nothing.
    ctx.requests.request('kudu', route(req, res)?.name);
    await restricted(req, res);
  };
}
