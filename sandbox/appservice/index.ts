import { armHandler } from './arm.js';
import { type Context, DEFAULT_CONFIG } from './context.js';
import { controlHandler } from './control.js';
import { Faults } from './faults.js';
import { prepareFlexSites, withFlexDefaults } from './flex.js';
import { hostHandler } from './host.js';
import { type Listening, listen, parseTarget, Timers } from './http.js';
import { kuduHandler } from './kudu.js';
import { Platform } from './platform.js';
import { RequestCounts } from './requests.js';
import type { SandboxSeed } from './seed.js';
import { createSites, findSite } from './state.js';

export { DEFAULT_CONFIG, type SandboxConfig } from './context.js';
export { FAULT_ROUTES, type RouteName } from './faults.js';
export { oryxBuild } from './oryx.js';
export {
  APP_SERVICE_FRONTS,
  type AppServiceFront,
  type AppServiceRequestCounters,
  type CountedRoute,
} from './requests.js';
export type { AppSeed, PlanSeed, SandboxSeed, SlotSeed, Tier } from './seed.js';
export { DEFAULT_SUBSCRIPTION_ID, DEFAULT_TENANT_ID, parseSeed, tierOf } from './seed.js';
export { redactSas } from './state.js';

export interface AppServiceOptions {
  /** Parsed seed (parseSeed), placeholders already substituted. */
  seed: SandboxSeed;
  /** PEM. `ca` is also what the platform trusts when it fetches package URLs over HTTPS. */
  tls: { key: string; cert: string; ca: string };
  /** Decides whether an ARM/Kudu Bearer token is valid. */
  verifyBearer: (token: string) => boolean;
  /**
   * Azurite account the platform reads with when an app uses its managed identity for the package; `endpoint`
   * (https://127.0.0.1:PORT/account) is where a Flex app seeded without a functionAppConfig keeps its package.
   */
  blob: { account: string; key: string; endpoint?: string };
}

export interface AppServiceHandle {
  /** https://127.0.0.1:PORT */
  armEndpoint: string;
  /** https://127.0.0.1:PORT/_sandbox (same server as ARM) */
  controlUrl: string;
  subscriptionId: string;
  /** https://127.0.0.1:KPORT of the app's (or slot's) Kudu site. */
  kuduUrl(app: string, slot?: string): string;
  /** https://127.0.0.1:HPORT of the app's (or slot's) Functions host: its default host name. */
  hostUrl(app: string, slot?: string): string;
  /** Closes every server, timer and socket. */
  close(): Promise<void>;
}

/** Starts the fake App Service: one ARM server (with /_sandbox), a Kudu and a Functions host server per site. */
export async function startAppService(options: AppServiceOptions): Promise<AppServiceHandle> {
  const timers = new Timers();
  const abort = new AbortController();
  const seed = withFlexDefaults(options.seed, options.blob.endpoint);
  const sites = createSites(seed);
  const config = { ...DEFAULT_CONFIG };
  const requests = new RequestCounts();
  const blobAccess = {
    ca: options.tls.ca,
    blob: { account: options.blob.account, key: options.blob.key },
    signal: abort.signal,
  };
  const ctx: Context = {
    seed,
    sites,
    verifyBearer: options.verifyBearer,
    faults: new Faults(),
    timers,
    platform: new Platform({ ...blobAccess, timers, config, requests }),
    blobAccess,
    config,
    requests,
  };
  const servers: Listening[] = [];
  const close = async () => {
    timers.close();
    abort.abort();
    await Promise.all(servers.splice(0).map((s) => s.close()));
  };
  try {
    await prepareFlexSites(sites, blobAccess);
    for (const site of sites) {
      const kudu = await listen(options.tls, kuduHandler(ctx, site));
      servers.push(kudu);
      site.kuduHost = `127.0.0.1:${kudu.port}`;
      const host = await listen(options.tls, hostHandler(ctx, site));
      servers.push(host);
      site.hostHost = `127.0.0.1:${host.port}`;
    }
    let armEndpoint = '';
    const arm = armHandler(ctx);
    const control = controlHandler(ctx, () => armEndpoint);
    const server = await listen(options.tls, (req, res) =>
      parseTarget(req.url).segments[0] === '_sandbox' ? control(req, res) : arm(req, res),
    );
    servers.push(server);
    armEndpoint = `https://127.0.0.1:${server.port}`;
    return {
      armEndpoint,
      controlUrl: `${armEndpoint}/_sandbox`,
      subscriptionId: seed.subscriptionId,
      kuduUrl(app: string, slot?: string): string {
        const site = findSite(sites, app, slot ?? 'production');
        if (!site) throw new Error(`The sandbox has no app '${app}'${slot ? ` with slot '${slot}'` : ''}.`);
        return `https://${site.kuduHost}`;
      },
      hostUrl(app: string, slot?: string): string {
        const site = findSite(sites, app, slot ?? 'production');
        if (!site) throw new Error(`The sandbox has no app '${app}'${slot ? ` with slot '${slot}'` : ''}.`);
        return `https://${site.hostHost}`;
      },
      close,
    };
  } catch (error) {
    await close();
    throw error;
  }
}
