import type { IncomingMessage, ServerResponse } from 'node:http';
import { resignSas } from '../fixtures.js';
import type { Context, SandboxConfig } from './context.js';
import { holdLock, newestFirst, renderDeployment } from './deploy.js';
import { FAULT_ROUTES, FaultError } from './faults.js';
import { flexControl } from './flex.js';
import { parseTarget, queryValue, readJson, send, sendJson } from './http.js';
import { PACKAGE_NAME_FILE } from './platform.js';
import {
  findSite,
  isLinuxConsumption,
  label,
  recordEvent,
  type Site,
  type TimingOverrides,
} from './state.js';
import { swapSites } from './swap.js';

/**
 * The sandbox's own switchboard under /_sandbox (no auth): inspect an app, inject faults, change state behind
 * the action's back. Only tests and the demo call it.
 */

function bad(res: ServerResponse, message: string): void {
  sendJson(res, 400, { error: message });
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

const HOST_STATES = {
  stopped: 'Stopped',
  down: 'Restarting',
  starting: 'Starting',
  error: 'Error',
  running: 'Running',
} as const;

function functionsView(fns: Site['platform']['functions']) {
  return fns.map((fn) => ({
    name: fn.name,
    trigger: fn.bindings.find((b) => String(b.type).toLowerCase().endsWith('trigger'))?.type ?? null,
    invokeRoute: fn.httpRoute ?? null,
    isDisabled: fn.isDisabled,
  }));
}

/** The site as it is now: nothing is awaited (POST …/settle waits), except the first load of a fresh site. */
async function appState(ctx: Context, site: Site): Promise<Record<string, unknown>> {
  await ctx.platform.start(site);
  const base = `https://${site.kuduHost}`;
  const st = site.platform;
  const now = Date.now();
  const listing = ctx.platform.armFunctions(site);
  const catchUp = ctx.platform.kuduCatchesUpAt(site);
  const zips = [...site.sitePackages.keys()].filter((name) => name !== PACKAGE_NAME_FILE).sort();
  return {
    name: site.app.name,
    slot: site.slot ?? null,
    resourceGroup: site.app.resourceGroup,
    os: site.app.os,
    sku: site.app.plan.sku,
    tier: site.app.plan.tier,
    state: site.state,
    settings: { ...site.settings },
    restartCount: site.restartCount,
    syncCount: site.syncCount,
    events: site.events,
    deployments: newestFirst(site).map((d) => renderDeployment(d, base)),
    sitePackages: zips,
    packageName: site.sitePackages.get(PACKAGE_NAME_FILE)?.bytes.toString('utf8') ?? null,
    wwwroot: site.wwwroot !== undefined,
    functionsLoaded: st.loading !== undefined,
    loadCount: st.loadCount,
    // What the host has loaded (after its recycle); `armFunctions` is what ARM GET …/functions answers now.
    functions: functionsView(st.functions),
    armFunctions: 'error' in listing ? { error: listing.error } : functionsView(listing.functions),
    registeredFunctions:
      isLinuxConsumption(site) && st.registered ? functionsView(st.registered.functions) : null,
    hostError: st.hostError ?? null,
    hostErrors: st.hostError === undefined ? [] : [st.hostError],
    hostState: HOST_STATES[ctx.platform.phase(site, now)],
    recyclingUntil: now < st.recycleUntil ? new Date(st.recycleUntil).toISOString() : null,
    packageSource: st.source ?? null,
    ranFromLocalPackage: st.ranFromLocalPackage,
    hostUrl: `https://${site.hostHost}`,
    hostKeys: site.hostKeys,
    timing: { ...ctx.platform.timing(site), overrides: site.timing },
    slotConfigNames: site.slot === undefined ? site.slotConfigNames : null,
    builds: site.builds,
    kudu: {
      url: base,
      deploymentDurationMs: site.kudu.deploymentDurationMs,
      failNextDeployment: site.kudu.failNextDeployment ?? null,
      // The app settings Kudu reads now, and when it will see the current ones.
      settings: ctx.platform.kuduSettings(site),
      seesCurrentSettings: catchUp <= now,
      seesCurrentSettingsAt: new Date(Math.max(catchUp, 0)).toISOString(),
      ipRestricted: site.kudu.ipRestricted,
    },
  };
}

const TIMINGS = ['recycleMs', 'kuduSettingsDelayMs', 'listLagMs'] as const;
const LIMITS = ['maxRunFromPackageBytes', 'maxZipDeployBytes'] as const;

/** Applies POST /_sandbox/config; returns an error message or undefined. */
function configure(config: SandboxConfig, body: Record<string, unknown>): string | undefined {
  if (
    body.syncTriggersStatus !== undefined &&
    body.syncTriggersStatus !== 200 &&
    body.syncTriggersStatus !== 204
  )
    return 'syncTriggersStatus must be 200 or 204';
  for (const key of TIMINGS) {
    const value = nonNegative(body[key], key);
    if (typeof value === 'string') return value;
  }
  for (const key of LIMITS) {
    const value = body[key];
    if (value !== undefined && (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 1))
      return `${key} must be a positive integer (bytes)`;
  }
  if (body.syncTriggersStatus !== undefined) config.syncTriggersStatus = body.syncTriggersStatus as 200 | 204;
  for (const key of TIMINGS) if (body[key] !== undefined) config[key] = body[key] as number;
  for (const key of LIMITS) if (body[key] !== undefined) config[key] = body[key] as number;
  return undefined;
}

function settingsFrom(body: unknown): Record<string, string> | string {
  if (!isObject(body)) return 'body must be a JSON object of string settings';
  for (const [key, value] of Object.entries(body))
    if (typeof value !== 'string') return `setting '${key}' must be a string`;
  return body as Record<string, string>;
}

function nonNegative(value: unknown, name: string): number | undefined | string {
  if (value === undefined) return undefined;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > 600_000)
    return `${name} must be an integer from 0 to 600000`;
  return value;
}

export function controlHandler(ctx: Context, armEndpoint: () => string) {
  return async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const { segments: s, raw, query } = parseTarget(req.url);
    const method = req.method ?? 'GET';
    const path = s.slice(1);

    if (path.length === 0 && method === 'GET') {
      sendJson(res, 200, {
        subscriptionId: ctx.seed.subscriptionId,
        tenantId: ctx.seed.tenantId,
        armEndpoint: armEndpoint(),
        apps: ctx.sites.map((site) => ({
          name: site.app.name,
          slot: site.slot ?? null,
          kuduUrl: `https://${site.kuduHost}`,
          hostUrl: `https://${site.hostHost}`,
        })),
        faultRoutes: FAULT_ROUTES,
        config: ctx.config,
        requests: ctx.requests.snapshot(),
      });
      return;
    }

    if (path.length === 1 && path[0] === 'requests') {
      if (method === 'GET') return sendJson(res, 200, ctx.requests.snapshot());
      if (method === 'DELETE') {
        ctx.requests.reset();
        return send(res, 204, undefined);
      }
    }

    if (path[0] === 'faults') {
      if (path.length === 1 && method === 'POST') {
        try {
          sendJson(res, 200, { id: ctx.faults.add(await readJson(req)).id });
        } catch (error) {
          if (error instanceof FaultError) bad(res, error.message);
          else throw error;
        }
        return;
      }
      if (path.length === 1 && method === 'GET') return sendJson(res, 200, ctx.faults.list());
      if (path.length === 1 && method === 'DELETE') {
        ctx.faults.clear();
        return send(res, 204, undefined);
      }
      if (path.length === 2 && method === 'DELETE') {
        return ctx.faults.remove(raw[2] as string)
          ? send(res, 204, undefined)
          : sendJson(res, 404, { error: 'no such fault' });
      }
    }

    if (path.length === 1 && path[0] === 'config' && method === 'POST') {
      const body = await readJson(req);
      if (!isObject(body)) return bad(res, 'body must be a JSON object');
      const problem = configure(ctx.config, body);
      if (problem !== undefined) return bad(res, problem);
      return sendJson(res, 200, ctx.config);
    }

    if (path[0] === 'apps' && path.length === 1 && method === 'GET') {
      return sendJson(res, 200, await Promise.all(ctx.sites.map((site) => appState(ctx, site))));
    }

    if (path[0] === 'apps' && path.length >= 2) {
      const name = raw[2] as string;
      const slot = queryValue(query, 'slot');
      const site = findSite(ctx.sites, name, slot ?? 'production');
      if (!site)
        return sendJson(res, 404, {
          error: `no app '${name}'${slot ? ` slot '${slot}'` : ''} in the sandbox`,
        });
      const action = path[2];

      if (action === undefined && method === 'GET') return sendJson(res, 200, await appState(ctx, site));

      if (action === 'settings' && method === 'PUT') {
        const settings = settingsFrom(await readJson(req));
        if (typeof settings === 'string') return bad(res, settings);
        site.settings = { ...settings };
        recordEvent(site, 'settings-changed', 'sandbox control (concurrent change)');
        void ctx.platform.reload(site, 'settings changed behind the action');
        return sendJson(res, 200, site.settings);
      }

      if (action === 'platform' && method === 'POST') {
        const body = await readJson(req);
        if (!isObject(body)) return bad(res, 'body must be a JSON object');
        const next: TimingOverrides = { ...site.timing };
        for (const key of TIMINGS) {
          if (body[key] === null) delete next[key];
          else {
            const value = nonNegative(body[key], key);
            if (typeof value === 'string') return bad(res, `${value} (or null to use the sandbox default)`);
            if (value !== undefined) next[key] = value;
          }
        }
        site.timing = next;
        return sendJson(res, 200, { app: label(site), ...ctx.platform.timing(site), overrides: site.timing });
      }

      if (action === 'settle' && method === 'POST') {
        const body = await readJson(req);
        const timeout = nonNegative(isObject(body) ? body.timeoutMs : undefined, 'timeoutMs') ?? 30_000;
        if (typeof timeout === 'string') return bad(res, timeout);
        const settled = await ctx.platform.quiesce(site, Date.now() + timeout);
        return sendJson(res, settled ? 200 : 504, await appState(ctx, site));
      }

      if (action === 'age-sas' && method === 'POST') {
        // Re-signs the app's package URL for the same blob to expire in `days` (may be negative): a URL written
        // long ago, as the app would hold it now. Recycles like any settings change.
        const body = await readJson(req);
        const days = isObject(body) ? body.days : undefined;
        if (typeof days !== 'number' || !Number.isFinite(days)) return bad(res, 'days must be a number');
        const key = Object.keys(site.settings).find((k) => k.toUpperCase() === 'WEBSITE_RUN_FROM_PACKAGE');
        const value = key ? site.settings[key] : undefined;
        if (!key || !value || !/[?&]sig=/.test(value))
          return bad(res, 'the app has no package URL with a SAS');
        site.settings = {
          ...site.settings,
          [key]: resignSas(value, new Date(Date.now() + days * 86_400_000)),
        };
        recordEvent(site, 'settings-changed', 'sandbox control (SAS aged)');
        void ctx.platform.reload(site, 'SAS aged');
        return sendJson(res, 200, { expiresInDays: days });
      }

      if (action === 'swap' && method === 'POST') {
        if (site.slot === undefined) return bad(res, 'name the slot to swap with production: ?slot=staging');
        const production = findSite(ctx.sites, site.app.name, 'production') as Site;
        swapSites(ctx, site, production, 'sandbox control');
        return sendJson(res, 200, {
          swapped: [label(site), label(production)],
          production: { ...production.settings },
          [site.slot]: { ...site.settings },
        });
      }

      if (action === 'state' && method === 'POST') {
        const body = await readJson(req);
        const state = isObject(body) ? body.state : undefined;
        if (state !== 'Running' && state !== 'Stopped')
          return bad(res, 'state must be "Running" or "Stopped"');
        site.state = state;
        recordEvent(site, 'state', state);
        return sendJson(res, 200, { state });
      }

      if (action === 'flex' && path.length === 3) return flexControl(ctx, site, req, res, method);

      if (action === 'kudu' && method === 'POST') {
        const body = await readJson(req);
        if (!isObject(body)) return bad(res, 'body must be a JSON object');
        const duration = nonNegative(body.deploymentDurationMs, 'deploymentDurationMs');
        const lock = nonNegative(body.lockHeldMs, 'lockHeldMs');
        if (typeof duration === 'string') return bad(res, duration);
        if (typeof lock === 'string') return bad(res, lock);
        const fail = body.failNextDeployment;
        if (fail !== undefined && (typeof fail !== 'string' || fail === ''))
          return bad(res, 'failNextDeployment must be a non-empty string');
        const restricted = body.ipRestricted;
        if (restricted !== undefined && typeof restricted !== 'boolean')
          return bad(res, 'ipRestricted must be a boolean');
        if (duration !== undefined) site.kudu.deploymentDurationMs = duration;
        if (fail !== undefined) site.kudu.failNextDeployment = fail;
        if (restricted !== undefined) site.kudu.ipRestricted = restricted;
        if (lock !== undefined && lock > 0)
          holdLock({ platform: ctx.platform, timers: ctx.timers }, site, lock);
        return sendJson(res, 200, {
          app: label(site),
          deploymentDurationMs: site.kudu.deploymentDurationMs,
          failNextDeployment: site.kudu.failNextDeployment ?? null,
          ipRestricted: site.kudu.ipRestricted,
        });
      }
    }

    sendJson(res, 404, { error: `no sandbox control route for ${method} ${req.url}` });
  };
}
