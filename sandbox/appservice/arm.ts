import { randomBytes, randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Context } from './context.js';
import { applyFault, armFaultBody, type RouteName } from './faults.js';
import { flexSettingsRefusal } from './flex.js';
import { hostStatusBody } from './host.js';
import { drain, parseTarget, queryValue, readJson, send } from './http.js';
import {
  appSettingsJson,
  functionJson,
  hostKeysJson,
  planJson,
  publishingCredentialsJson,
  resourceJson,
  scmPolicyJson,
  siteJson,
  slotConfigNamesJson,
  webConfigJson,
} from './shapes.js';
import { findSite, isLinuxConsumption, recordEvent, redactSas, type Site, siteId } from './state.js';
import { swapDone, swapSites } from './swap.js';

const HOST_RUNTIME_ERROR = 'Encountered an error (ServiceUnavailable) from host runtime.';

type Respond = (status: number, body?: unknown, headers?: Record<string, string>) => void;

function responder(req: IncomingMessage, res: ServerResponse): Respond {
  const correlation = req.headers['x-ms-correlation-request-id'];
  const clientRequestId = req.headers['x-ms-client-request-id'];
  // Clients read these on failures (Core Tools calls GetValues, which throws when absent), so every answer has them.
  const common: Record<string, string> = {
    'Content-Type': 'application/json; charset=utf-8',
    'x-ms-request-id': randomUUID(),
    'x-ms-correlation-request-id': typeof correlation === 'string' ? correlation : randomUUID(),
    ...(typeof clientRequestId === 'string' ? { 'x-ms-client-request-id': clientRequestId } : {}),
  };
  return (status, body, headers = {}) =>
    send(res, status, body === undefined ? undefined : JSON.stringify(body), { ...common, ...headers });
}

function armError(code: string, message: string): Record<string, unknown> {
  return { error: { code, message: redactSas(message) } };
}

type Route = { name: RouteName; site?: Site; run: () => Promise<void> };

function stringList(value: unknown): string[] | undefined {
  if (value === undefined || value === null) return [];
  return Array.isArray(value) && value.every((v) => typeof v === 'string') ? [...value] : undefined;
}

/** The ARM front door for Microsoft.Web, as the SDKs and the action call it (azure-contract.md §A). */
export function armHandler(ctx: Context) {
  const { seed } = ctx;
  /** Slot swaps in progress, by operation id: polled through the 202's Location. */
  const operations = new Map<string, Site[]>();

  function siteRoutes(
    req: IncomingMessage,
    site: Site,
    rest: string[],
    method: string,
    respond: Respond,
  ): Route | undefined {
    const path = rest.join('/');
    const wants = (m: string, p: string) => method === m && path === p;
    // A sync goes to the host: while it is stopped, recycling, starting or failed to load it answers 400
    // "Encountered an error (ServiceUnavailable) from host runtime." (functions-action#147,
    // azure-pipelines-tasks#16942, Azure-Functions#1508; core-tools#1279 for a stopped app) [OBS].
    const unavailable = async () => {
      await ctx.platform.start(site);
      if (ctx.platform.phase(site) === 'running') return false;
      respond(400, armError('BadRequest', HOST_RUNTIME_ERROR));
      return true;
    };
    /** A sync that does not restart the host; an effective one registers the loaded triggers. */
    const sync = (via: string, effective: boolean) => {
      site.syncCount += 1;
      recordEvent(site, 'sync', effective ? via : `${via} (accepted, no effect on Linux Consumption)`);
      if (effective) ctx.platform.register(site);
    };

    if (wants('GET', ''))
      return { name: 'arm.site.get', site, run: async () => respond(200, siteJson(seed, site)) };
    if (wants('POST', 'config/appsettings/list')) {
      return {
        name: 'arm.appsettings.list',
        site,
        run: async () => respond(200, appSettingsJson(seed, site)),
      };
    }
    if (wants('PUT', 'config/appsettings')) {
      return {
        name: 'arm.appsettings.put',
        site,
        run: async () => {
          const body = (await readJson(req)) as { properties?: unknown } | undefined;
          const props = body?.properties;
          if (typeof props !== 'object' || props === null || Array.isArray(props)) {
            respond(
              400,
              armError(
                'BadRequest',
                'The request body must be a StringDictionary: {"properties": {"NAME": "value"}}.',
              ),
            );
            return;
          }
          const next: Record<string, string> = {};
          for (const [key, value] of Object.entries(props)) {
            // Newtonsoft binds JSON numbers and booleans to strings; objects and null are refused.
            if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean')
              next[key] = String(value);
            else {
              respond(
                400,
                armError('BadRequest', `The value of application setting '${key}' must be a string.`),
              );
              return;
            }
          }
          const refusal = flexSettingsRefusal(site, next);
          if (refusal !== undefined) {
            respond(400, armError('BadRequest', refusal));
            return;
          }
          site.settings = next;
          recordEvent(site, 'settings-put', Object.keys(next).sort().join(', '));
          void ctx.platform.reload(site, 'app settings replaced');
          respond(200, appSettingsJson(seed, site));
        },
      };
    }
    if (wants('GET', 'config/web'))
      return { name: 'arm.config.web', site, run: async () => respond(200, webConfigJson(seed, site)) };
    if (wants('POST', 'config/publishingcredentials/list')) {
      return {
        name: 'arm.publishingcredentials',
        site,
        run: async () => respond(200, publishingCredentialsJson(seed, site)),
      };
    }
    if (wants('GET', 'basicpublishingcredentialspolicies/scm')) {
      return { name: 'arm.scmpolicy', site, run: async () => respond(200, scmPolicyJson(seed, site)) };
    }
    if (wants('POST', 'restart')) {
      return {
        name: 'arm.restart',
        site,
        run: async () => {
          site.restartCount += 1;
          recordEvent(site, 'restart', 'arm');
          // A restart starts the host afresh, which syncs its triggers: Learn run-functions-from-deployment-package
          // lists a restart among the ways to sync after pointing the setting at a new package [DOC].
          void ctx.platform.reload(site, 'restart', { register: true });
          respond(200);
        },
      };
    }
    if (wants('POST', 'syncfunctiontriggers')) {
      return {
        name: 'arm.sync',
        site,
        run: async () => {
          if (await unavailable()) return;
          // "The function sync triggers endpoint does not work for Linux Consumption function app scenario"
          // (microsoft/pipelines-appservice-lib#2, a Microsoft engineer) [OBS]. Modelled as accepted with the same
          // answers as elsewhere, but registering nothing: the ARM list there keeps the triggers of the last
          // effective sync or restart [INF].
          sync('syncfunctiontriggers', !isLinuxConsumption(site));
          // A 200 carries a JSON body: the SDK then throws RestError(statusCode 200), as against real Azure.
          if (ctx.config.syncTriggersStatus === 200) respond(200, {});
          else respond(204);
        },
      };
    }
    if (wants('POST', 'host/default/sync')) {
      return {
        name: 'arm.sync.host',
        site,
        run: async () => {
          if (await unavailable()) return;
          sync('host/default/sync', true);
          respond(204);
        },
      };
    }
    if (wants('POST', 'hostruntime/admin/host/synctriggers')) {
      return {
        name: 'arm.sync.hostruntime',
        site,
        run: async () => {
          if (await unavailable()) return;
          sync('hostruntime/admin/host/synctriggers', true);
          respond(200, { status: 'success' });
        },
      };
    }
    if (wants('GET', 'functions')) {
      return {
        name: 'arm.functions',
        site,
        run: async () => {
          await ctx.platform.start(site);
          const view = ctx.platform.armFunctions(site);
          if ('error' in view) {
            respond(400, armError('BadRequest', `${HOST_RUNTIME_ERROR} ${view.error}`));
            return;
          }
          respond(200, { value: view.functions.map((fn) => functionJson(seed, site, fn)), nextLink: null });
        },
      };
    }
    if (wants('GET', 'hostruntime/admin/host/status')) {
      // The host's status through the control plane (no function key needed), as scripts poll it with
      // `az rest … /hostruntime/admin/host/status?api-version=2022-03-01` and read `.state` / `.errors` [OBS]. A
      // host that is down answers like the host-runtime sync [INF].
      return {
        name: 'arm.hoststatus',
        site,
        run: async () => {
          await ctx.platform.start(site);
          const phase = ctx.platform.phase(site);
          if (phase === 'down' || phase === 'stopped')
            respond(400, armError('BadRequest', HOST_RUNTIME_ERROR));
          else respond(200, hostStatusBody(ctx, site));
        },
      };
    }
    if (wants('POST', 'host/default/listkeys')) {
      return { name: 'arm.listkeys', site, run: async () => respond(200, hostKeysJson(site)) };
    }
    if (site.slot === undefined && wants('GET', 'config/slotconfignames')) {
      return {
        name: 'arm.slotconfignames.get',
        site,
        run: async () => respond(200, slotConfigNamesJson(seed, site)),
      };
    }
    if (site.slot === undefined && wants('PUT', 'config/slotconfignames')) {
      return {
        name: 'arm.slotconfignames.put',
        site,
        run: async () => {
          const body = (await readJson(req)) as { properties?: Record<string, unknown> } | undefined;
          const props = body?.properties ?? {};
          const appSettingNames = stringList(props.appSettingNames);
          const connectionStringNames = stringList(props.connectionStringNames);
          const azureStorageConfigNames = stringList(props.azureStorageConfigNames);
          if (!appSettingNames || !connectionStringNames || !azureStorageConfigNames) {
            respond(400, armError('BadRequest', 'slotConfigNames properties must be arrays of names.'));
            return;
          }
          // A full replace, like the app settings PUT [INF].
          site.slotConfigNames = { appSettingNames, connectionStringNames, azureStorageConfigNames };
          respond(200, slotConfigNamesJson(seed, site));
        },
      };
    }
    if (wants('POST', 'slotsswap')) {
      return { name: 'arm.swap', site, run: () => swap(req, site, respond) };
    }
    if (method === 'GET' && rest.length === 2 && rest[0] === 'operationresults') {
      const sites = operations.get(rest[1] as string);
      return {
        name: 'arm.operation',
        site,
        run: async () => {
          if (!sites) {
            respond(404, armError('NotFound', `Operation '${rest[1]}' was not found.`));
          } else if (swapDone(sites)) {
            operations.delete(rest[1] as string);
            respond(200);
          } else {
            respond(202, undefined, { Location: `https://${req.headers.host}${req.url}` });
          }
        },
      };
    }
    return undefined;
  }

  /**
   * `POST {site}/slotsswap` and `POST {site}/slots/{slot}/slotsswap` with `{targetSlot, preserveVnet}`: a
   * long-running operation the SDK polls through the Location it answers with 202 (v19 swapSlot and
   * swapSlotWithProduction: expected 202/200/201, resourceLocationConfig "location") [SRC]. The swap itself is
   * applied at once; the operation completes when both sites have restarted.
   */
  async function swap(req: IncomingMessage, site: Site, respond: Respond): Promise<void> {
    const body = (await readJson(req)) as { targetSlot?: unknown } | undefined;
    const target = body?.targetSlot;
    if (typeof target !== 'string' || target === '') {
      respond(400, armError('BadRequest', "The request body must name the 'targetSlot'."));
      return;
    }
    const other = findSite(ctx.sites, site.app.name, target);
    if (!other) {
      respond(
        404,
        armError(
          'ResourceNotFound',
          `The Resource 'Microsoft.Web/sites/${site.app.name}/slots/${target}' under resource group '${site.app.resourceGroup}' was not found.`,
        ),
      );
      return;
    }
    if (other === site) {
      respond(400, armError('BadRequest', 'A slot cannot be swapped with itself.'));
      return;
    }
    swapSites(ctx, site, other, 'arm slotsswap');
    const id = randomBytes(16).toString('hex');
    operations.set(id, [site, other]);
    const version = queryValue(parseTarget(req.url).query, 'api-version') ?? '';
    respond(202, undefined, {
      Location: `https://${req.headers.host}${siteId(site, seed.subscriptionId)}/operationresults/${id}?api-version=${version}`,
    });
  }

  function resources(query: URLSearchParams, respond: Respond): void {
    const filter = query.get('$filter') ?? '';
    const type = /resourceType\s+eq\s+'([^']*)'/i.exec(filter)?.[1]?.toLowerCase();
    const name = /\bname\s+eq\s+'([^']*)'/i.exec(filter)?.[1]?.toLowerCase();
    const matches = ctx.sites.filter((site) => {
      const siteType = site.slot === undefined ? 'microsoft.web/sites' : 'microsoft.web/sites/slots';
      if (type !== undefined ? type !== siteType : site.slot !== undefined) return false;
      const fullName = site.slot === undefined ? site.app.name : `${site.app.name}/${site.slot}`;
      return name === undefined || fullName.toLowerCase() === name;
    });
    respond(200, { value: matches.map((site) => resourceJson(seed, site)) });
  }

  /** Resolves the target: a route, a 404 body when the subscription, group or resource does not exist, or undefined. */
  function resolve(
    req: IncomingMessage,
    respond: Respond,
  ): Route | { notFound: Record<string, unknown> } | undefined {
    const { segments: s, raw, query } = parseTarget(req.url);
    const method = req.method ?? 'GET';
    if (s[0] !== 'subscriptions' || s.length < 3) return undefined;
    const sub = raw[1] as string;
    if (sub.toLowerCase() !== seed.subscriptionId.toLowerCase()) {
      return { notFound: armError('SubscriptionNotFound', `The subscription '${sub}' could not be found.`) };
    }
    if (s.length === 3 && s[2] === 'resources' && method === 'GET') {
      return { name: 'arm.resources', run: async () => resources(query, respond) };
    }
    if (s[2] !== 'resourcegroups' || s[4] !== 'providers' || s[5] !== 'microsoft.web' || s.length < 8)
      return undefined;
    const rg = raw[3] as string;
    if (!ctx.sites.some((site) => site.app.resourceGroup.toLowerCase() === rg.toLowerCase())) {
      return { notFound: armError('ResourceGroupNotFound', `Resource group '${rg}' could not be found.`) };
    }
    const inGroup = (site: Site) => site.app.resourceGroup.toLowerCase() === rg.toLowerCase();
    const name = raw[7] as string;
    if (s[6] === 'serverfarms' && s.length === 8 && method === 'GET') {
      const site = ctx.sites.find(
        (x) => inGroup(x) && x.slot === undefined && x.app.plan.name.toLowerCase() === name.toLowerCase(),
      );
      if (!site) {
        return {
          notFound: armError(
            'ResourceNotFound',
            `The Resource 'Microsoft.Web/serverfarms/${name}' under resource group '${rg}' was not found. For more details please go to https://aka.ms/ARMResourceNotFoundFix`,
          ),
        };
      }
      const count = ctx.sites.filter(
        (x) => inGroup(x) && x.slot === undefined && x.app.plan.name === site.app.plan.name,
      ).length;
      return { name: 'arm.serverfarm.get', run: async () => respond(200, planJson(seed, site, count)) };
    }
    if (s[6] !== 'sites') return undefined;
    if (s[8] === 'slots' && s.length === 9 && method === 'GET') {
      const production = findSite(ctx.sites.filter(inGroup), name, 'production');
      if (production) {
        // WebApps_ListSlots: a page of slot sites [SPEC].
        const slots = ctx.sites.filter((x) => x.app === production.app && x.slot !== undefined);
        return {
          name: 'arm.slots',
          site: production,
          run: async () => respond(200, { value: slots.map((x) => siteJson(seed, x)), nextLink: null }),
        };
      }
    }
    const slot = s[8] === 'slots' ? raw[9] : undefined;
    if (s[8] === 'slots' && slot === undefined) return undefined;
    const rest = s.slice(slot === undefined ? 8 : 10);
    const site = findSite(ctx.sites.filter(inGroup), name, slot ?? 'production');
    if (!site) {
      const what =
        slot === undefined ? `Microsoft.Web/sites/${name}` : `Microsoft.Web/sites/${name}/slots/${slot}`;
      return {
        notFound: armError(
          'ResourceNotFound',
          `The Resource '${what}' under resource group '${rg}' was not found. For more details please go to https://aka.ms/ARMResourceNotFoundFix`,
        ),
      };
    }
    return siteRoutes(req, site, rest, method, respond);
  }

  return async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const respond = responder(req, res);
    // Resolved before auth so that refused requests are counted by route too; resolving runs nothing.
    const route = resolve(req, respond);
    ctx.requests.request('arm', route === undefined || 'notFound' in route ? undefined : route.name);
    const auth = /^Bearer\s+(.+)$/i.exec(req.headers.authorization ?? '')?.[1]?.trim();
    if (auth === undefined || !ctx.verifyBearer(auth)) {
      await drain(req);
      const why =
        auth === undefined ? "The 'Authorization' header is missing." : 'The access token is invalid.';
      respond(401, armError('AuthenticationFailed', `Authentication failed. ${why}`));
      return;
    }
    const { query } = parseTarget(req.url);
    if (!queryValue(query, 'api-version')) {
      await drain(req);
      respond(
        400,
        armError(
          'MissingApiVersionParameter',
          'The api-version query parameter (?api-version=) is required for all requests.',
        ),
      );
      return;
    }
    if (route === undefined || 'notFound' in route) {
      await drain(req);
      respond(
        404,
        route?.notFound ??
          armError('NotFound', `No route matches '${req.method} /${parseTarget(req.url).raw.join('/')}'.`),
      );
      return;
    }
    const fault = ctx.faults.take(route.name, route.site?.app.name, route.site?.slot);
    if (fault?.setSettings && route.site) {
      route.site.settings = { ...fault.setSettings };
      recordEvent(route.site, 'settings-changed', 'sandbox fault (concurrent change)');
      void ctx.platform.reload(route.site, 'settings changed behind the action');
    }
    if (fault) {
      const answered = await applyFault(fault, req, res, ctx.timers, (status, headers) =>
        respond(status, armFaultBody(fault, status), headers),
      );
      if (answered) return;
    }
    await route.run();
  };
}
