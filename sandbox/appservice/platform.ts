import { randomBytes } from 'node:crypto';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { BlobClient, type StoragePipelineOptions, StorageSharedKeyCredential } from '@azure/storage-blob';
import { PLATFORM_USER_AGENT } from '../storage-front.js';
import type { SandboxConfig } from './context.js';
import { discoverPackage, HostError } from './discover.js';
import { flexPackage, flexRuntime, isFlex } from './flex.js';
import type { Timers } from './http.js';
import type { RequestCounts } from './requests.js';
import {
  type FunctionInfo,
  getSetting,
  isContainerApp,
  isLinuxConsumption,
  recordEvent,
  redactSas,
  runFromPackage,
  type Site,
  settingIn,
} from './state.js';

export const PACKAGE_NAME_FILE = 'packagename.txt';
const FETCH_TIMEOUT_MS = 15_000;
const LOOPBACK = new Set(['127.0.0.1', 'localhost', '[::1]']);

export interface PlatformDeps {
  ca: string;
  blob: { account: string; key: string };
  signal: AbortSignal;
  timers: Timers;
  /** The live sandbox-wide knobs (POST /_sandbox/config changes them in place). */
  config: SandboxConfig;
  /** Where the platform's own package fetches are counted. */
  requests: RequestCounts;
}

interface Fetched {
  status: number;
  errorCode: string | undefined;
  body: Buffer;
}

function get(url: URL, ca: string, signal: AbortSignal): Promise<Fetched> {
  return new Promise((resolve, reject) => {
    const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
    // agent:false: no pooled socket outlives the load, so close() leaves nothing behind.
    const req = send(url, { method: 'GET', agent: false, ca, signal, timeout: FETCH_TIMEOUT_MS }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('error', reject);
      res.on('end', () => {
        const code = res.headers['x-ms-error-code'];
        resolve({
          status: res.statusCode ?? 0,
          errorCode: typeof code === 'string' ? code : res.statusMessage,
          body: Buffer.concat(chunks),
        });
      });
    });
    req.on('timeout', () => req.destroy(new Error(`no answer within ${FETCH_TIMEOUT_MS} ms`)));
    req.on('error', reject);
    // Tells the storage front door this is the platform, not the action (storage-front.ts).
    req.setHeader('User-Agent', PLATFORM_USER_AGENT);
    req.end();
  });
}

/** The URL as it may appear in a message: never with its query (a SAS is a secret). */
function display(url: URL): string {
  const plain = `${url.origin}${url.pathname}`;
  return url.search === '' ? plain : `${plain} (${url.searchParams.has('sig') ? 'SAS' : 'query'} redacted)`;
}

async function readWithIdentity(url: URL, identity: string, deps: PlatformDeps): Promise<Buffer> {
  // tlsOptions is honoured by the core pipeline the storage client builds, though its option type omits it.
  const options: StoragePipelineOptions & { tlsOptions: { ca: string } } = {
    retryOptions: { maxTries: 1, tryTimeoutInMs: FETCH_TIMEOUT_MS },
    keepAliveOptions: { enable: false },
    userAgentOptions: { userAgentPrefix: PLATFORM_USER_AGENT },
    tlsOptions: { ca: deps.ca },
  };
  const client = new BlobClient(
    `${url.origin}${url.pathname}`,
    new StorageSharedKeyCredential(deps.blob.account, deps.blob.key),
    options,
  );
  try {
    return await client.downloadToBuffer(0, undefined, { abortSignal: deps.signal });
  } catch (error) {
    const e = error as { statusCode?: number; code?: string; message?: string };
    const why =
      e.statusCode !== undefined
        ? `returned ${e.statusCode} ${e.code ?? ''}`.trim()
        : `failed: ${e.message ?? e}`;
    throw new HostError(`package ${display(url)} read with managed identity '${identity}' ${why}`);
  }
}

async function fetchUrl(
  site: Site,
  value: string,
  deps: PlatformDeps,
): Promise<{ bytes: Buffer; where: string }> {
  let url: URL;
  try {
    url = new URL(value.trim());
  } catch {
    throw new HostError('WEBSITE_RUN_FROM_PACKAGE is not a valid URL');
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:')
    throw new HostError(`package URL scheme '${url.protocol}' is not supported`);
  if (!LOOPBACK.has(url.hostname)) {
    throw new HostError(
      `package ${display(url)} is not reachable: the sandbox platform only fetches from 127.0.0.1/localhost`,
    );
  }
  const identity = getSetting(site, 'WEBSITE_RUN_FROM_PACKAGE_BLOB_MI_RESOURCE_ID');
  if (identity !== undefined && identity !== '') {
    if (!site.app.identities.some((id) => id.toLowerCase() === identity.toLowerCase())) {
      throw new HostError(
        `managed identity '${identity}' named by WEBSITE_RUN_FROM_PACKAGE_BLOB_MI_RESOURCE_ID is not assigned to the app`,
      );
    }
    deps.requests.packageFetch();
    return { bytes: await readWithIdentity(url, identity, deps), where: display(url) };
  }
  let fetched: Fetched;
  deps.requests.packageFetch();
  try {
    fetched = await get(url, deps.ca, deps.signal);
  } catch (error) {
    const e = error as NodeJS.ErrnoException;
    throw new HostError(`package ${display(url)} could not be fetched: ${e.code ?? e.message}`);
  }
  if (fetched.status !== 200) {
    throw new HostError(
      `package ${display(url)} returned ${fetched.status} ${fetched.errorCode ?? ''}`.trim(),
    );
  }
  return { bytes: fetched.body, where: display(url) };
}

interface Package {
  bytes: Buffer;
  where: string;
  /** Read from data/SitePackages (WEBSITE_RUN_FROM_PACKAGE=1). */
  local: boolean;
}

const GIB = 1024 ** 3;

function sizeText(bytes: number): string {
  return bytes % GIB === 0 ? `${bytes / GIB} GB` : `${bytes} bytes`;
}

/** The package the app runs from now, or undefined when there is none (the host starts with no functions). */
async function currentPackage(site: Site, deps: PlatformDeps): Promise<Package | undefined> {
  if (isFlex(site)) {
    // A Flex host runs the platform's released-package.zip; WEBSITE_RUN_FROM_PACKAGE is not used there (Learn
    // "Package-based deployment": "Runs from the deployed package by default. Don't set WEBSITE_RUN_FROM_PACKAGE")
    // [DOC].
    deps.requests.packageFetch();
    const released = await flexPackage(site, deps);
    return released ? { ...released, local: false } : undefined;
  }
  const rfp = runFromPackage(site)?.trim();
  if (rfp !== undefined && /^http/i.test(rfp)) {
    if (site.platform.ranFromLocalPackage) {
      // Learn app-service/deploy-run-package, "Run from external URL instead": "an existing App Service resource
      // that runs a local ZIP package can't be migrated to run from a remote ZIP package" [DOC].
      throw new HostError(
        'the app has run from a local package (WEBSITE_RUN_FROM_PACKAGE=1) and cannot be migrated to run from a ' +
          'remote ZIP package URL; create a new app configured to run from an external URL',
      );
    }
    const fetched = await fetchUrl(site, rfp, deps);
    const limit = deps.config.maxRunFromPackageBytes;
    if (fetched.bytes.length > limit) {
      // Learn deploy-run-package, Troubleshooting: the package can be at most 1 GB [DOC].
      throw new HostError(
        `package ${fetched.where} is ${fetched.bytes.length} bytes, more than the ${sizeText(limit)} a run-from-package ZIP may be; it was not mounted`,
      );
    }
    return { ...fetched, local: false };
  }
  if (rfp === '1') {
    // The host mounts data/SitePackages/<packagename.txt> as a read-only wwwroot; files extracted to site/wwwroot
    // are hidden under it, so without a local package the app has nothing to run [INF].
    const name = site.sitePackages.get(PACKAGE_NAME_FILE)?.bytes.toString('utf8');
    const zip = name === undefined ? undefined : site.sitePackages.get(name);
    return zip ? { bytes: zip.bytes, where: `data/SitePackages/${name}`, local: true } : undefined;
  }
  return site.wwwroot ? { bytes: site.wwwroot.bytes, where: 'site/wwwroot', local: false } : undefined;
}

interface LoadResult {
  functions: FunctionInfo[];
  error?: string;
  source: string;
  local?: boolean;
  extensionBundle?: { id: string; version: string };
}

function httpFunction(name: string, language: string): FunctionInfo {
  return {
    name,
    bindings: [
      { type: 'httpTrigger', direction: 'in', name: 'req', authLevel: 'function', methods: ['get', 'post'] },
      { type: 'http', direction: 'out', name: 'res' },
    ],
    language,
    isDisabled: false,
    httpRoute: `api/${name.toLowerCase()}`,
  };
}

/**
 * The app's worker language. Flex takes it from functionAppConfig.runtime.name; "FUNCTIONS_WORKER_RUNTIME is not
 * used" there (azure-contract.md §H) [SPEC], and ARM refuses the setting (flex.ts flexSettingsRefusal).
 */
function workerLanguage(site: Site): string {
  return flexRuntime(site) ?? getSetting(site, 'FUNCTIONS_WORKER_RUNTIME') ?? 'node';
}

/**
 * The placeholder's `WarmUp` function: apps started from a pre-warmed placeholder list it until the host has
 * specialised to the app's own package. Seen on Consumption (azure-functions-host#4037, vscode-azurefunctions#669,
 * which shows it as `api/WarmUp`) and Flex (azure-functions-host#10169) [OBS]; Elastic Premium also starts from
 * pre-warmed instances [INF]. Dedicated plans have no placeholder.
 */
function placeholderFunctions(site: Site): FunctionInfo[] {
  const tier = site.app.plan.tier;
  if (tier !== 'Dynamic' && tier !== 'ElasticPremium' && tier !== 'FlexConsumption') return [];
  const warmup = httpFunction('WarmUp', workerLanguage(site));
  warmup.httpRoute = 'api/WarmUp';
  return [warmup];
}

/** What the host is doing now. */
export type HostPhase = 'stopped' | 'down' | 'starting' | 'error' | 'running';

export interface Timing {
  recycleMs: number;
  kuduSettingsDelayMs: number;
  listLagMs: number;
}

function sameSettings(a: Record<string, string>, b: Record<string, string>): boolean {
  const keys = Object.keys(a);
  return keys.length === Object.keys(b).length && keys.every((k) => b[k] === a[k]);
}

const MAX_SNAPSHOTS = 100;

/**
 * The Functions host of each site. A settings change, a restart, a deployment or a swap recycles it: for
 * `recycleMs` it is down (a recycle during a recycle extends it), then it loads the package the app points at and
 * only then lists its functions, and for `listLagMs` more the ARM list shows part of them. Loads may overlap; the
 * latest one started wins, so a slow stale fetch never overwrites a newer result.
 */
export class Platform {
  private readonly generation = new WeakMap<Site, number>();
  private readonly first = new WeakMap<Site, Promise<void>>();

  constructor(private readonly deps: PlatformDeps) {}

  timing(site: Site): Timing {
    const { config } = this.deps;
    return {
      recycleMs: site.timing.recycleMs ?? config.recycleMs,
      kuduSettingsDelayMs: site.timing.kuduSettingsDelayMs ?? config.kuduSettingsDelayMs,
      listLagMs: site.timing.listLagMs ?? config.listLagMs,
    };
  }

  /** Records the settings' current value with its time if it changed since the last snapshot. */
  noteSettings(site: Site): void {
    const last = site.settingsLog.at(-1);
    if (last && sameSettings(last.settings, site.settings)) return;
    site.settingsLog.push({ at: Date.now(), settings: { ...site.settings } });
    if (site.settingsLog.length > MAX_SNAPSHOTS)
      site.settingsLog.splice(0, site.settingsLog.length - MAX_SNAPSHOTS);
  }

  /**
   * The app settings as Kudu sees them: the value they had `kuduSettingsDelayMs` ago. Kudu reads them from its own
   * worker, which learns of a change late; Core Tools, functions-action and azure-cli all poll /api/settings until
   * a change shows (azure-contract.md A.3) [SRC].
   */
  kuduSettings(site: Site): Record<string, string> {
    this.noteSettings(site);
    const cutoff = Date.now() - this.timing(site).kuduSettingsDelayMs;
    let view = site.settingsLog[0];
    for (const snapshot of site.settingsLog) if (snapshot.at <= cutoff) view = snapshot;
    return { ...(view?.settings ?? site.settings) };
  }

  /** When Kudu will see the current settings (epoch ms; in the past when it already does). */
  kuduCatchesUpAt(site: Site): number {
    this.noteSettings(site);
    return (site.settingsLog.at(-1)?.at ?? 0) + this.timing(site).kuduSettingsDelayMs;
  }

  private bump(site: Site): number {
    const gen = (this.generation.get(site) ?? 0) + 1;
    this.generation.set(site, gen);
    return gen;
  }

  /**
   * Recycles the host. `register`: the load that follows registers its triggers with the scale controller (a
   * restart, or Kudu's own sync after a deployment); a settings change alone does not.
   * "Updating or removing application settings will cause an app recycle" [DOC az webapp config appsettings].
   */
  reload(site: Site, reason: string, options: { register?: boolean } = {}): Promise<void> {
    this.noteSettings(site);
    const st = site.platform;
    const gen = this.bump(site);
    const now = Date.now();
    if (now >= st.recycleUntil) st.recycleStartedAt = now;
    st.recycleUntil = Math.max(st.recycleUntil, now + this.timing(site).recycleMs);
    st.ready = false;
    if (options.register) st.registerOnLoad = true;
    recordEvent(site, 'recycle', `${reason}: host down until ${new Date(st.recycleUntil).toISOString()}`);
    const load = (async () => {
      for (;;) {
        const wait = st.recycleUntil - Date.now();
        if (wait <= 0) break;
        await this.deps.timers.sleep(wait);
        if (this.generation.get(site) !== gen) return;
      }
      await this.load(site, reason, gen, false);
    })();
    st.loading = load;
    return load;
  }

  /**
   * The host was running before the sandbox started: its first state is computed on demand, without a recycle.
   * Resolves once that first state is known; later recycles are not waited for.
   */
  start(site: Site): Promise<void> {
    let first = this.first.get(site);
    if (first === undefined) {
      if (site.platform.loading !== undefined) return Promise.resolve();
      site.platform.ready = false;
      first = this.load(site, 'first request', this.bump(site), true);
      site.platform.loading = first;
      this.first.set(site, first);
    }
    return first;
  }

  private async compute(site: Site): Promise<LoadResult> {
    const language = workerLanguage(site);
    if (isContainerApp(site)) {
      // A container app runs its image's functions whatever Kudu was given (Core Tools does not zip-deploy to
      // these: PublishHelper.IsLinuxFxVersionUsingCustomImage, Site.IsKubeApp) [SRC; the silent success is INF].
      const image = site.app.linuxFxVersion || site.app.kind || 'container';
      return {
        functions: (site.app.imageFunctions ?? []).map((name) => httpFunction(name, language)),
        source: `image ${image}`,
      };
    }
    try {
      const pkg = await currentPackage(site, this.deps);
      if (!pkg) return { functions: [], source: 'none' };
      const found = await discoverPackage(pkg.bytes, pkg.where, {
        language,
        setting: (name) => settingIn(site.settings, name),
      });
      return {
        functions: found.functions,
        source: pkg.where,
        local: pkg.local,
        ...(found.extensionBundle ? { extensionBundle: found.extensionBundle } : {}),
      };
    } catch (error) {
      const message =
        error instanceof HostError ? error.message : `unexpected failure: ${(error as Error).message}`;
      return { functions: [], error: redactSas(`Host error: ${message}`), source: 'none' };
    }
  }

  private async load(site: Site, reason: string, gen: number, initial: boolean): Promise<void> {
    const result = await this.compute(site);
    if (this.generation.get(site) !== gen) return;
    const st = site.platform;
    st.loadCount += 1;
    st.functions = result.functions;
    st.hostError = result.error;
    st.source = result.source;
    st.extensionBundle = result.extensionBundle;
    if (result.local) st.ranFromLocalPackage = true;
    // The first state is the one the app already had: no lag, and a process that has been up for an hour.
    st.loadedAt = initial ? Date.now() - 3_600_000 : Date.now();
    st.instanceId = randomBytes(32).toString('hex');
    st.ready = true;
    if (initial || st.registerOnLoad) {
      st.registered = { functions: st.functions, hostError: st.hostError, at: st.loadedAt };
      st.registerOnLoad = false;
    }
    if (result.error === undefined) {
      recordEvent(site, 'load-ok', `${reason}: ${result.functions.length} function(s) from ${result.source}`);
    } else {
      recordEvent(site, 'load-failed', `${reason}: ${result.error}`);
    }
  }

  /** Waits for the newest load, starting the first one if the site was never loaded. */
  async settled(site: Site): Promise<void> {
    await this.start(site);
    let current: Promise<void> | undefined;
    do {
      current = site.platform.loading;
      await current;
    } while (current !== site.platform.loading);
  }

  /** Waits until the host runs (or has failed), its list is complete and Kudu sees the current settings. */
  async quiesce(site: Site, deadline: number): Promise<boolean> {
    for (;;) {
      await this.settled(site);
      const st = site.platform;
      const lag = this.timing(site).listLagMs;
      const until = Math.max(
        st.recycleUntil,
        st.loadedAt + lag,
        (st.registered?.at ?? 0) + lag,
        this.kuduCatchesUpAt(site),
      );
      const now = Date.now();
      if (st.ready && until <= now) return true;
      if (now >= deadline) return false;
      await this.deps.timers.sleep(Math.max(5, Math.min(until - now, deadline - now)));
    }
  }

  /** The host's state. `down`: the process is restarting; `starting`: it is up but has not loaded the package. */
  phase(site: Site, now = Date.now()): HostPhase {
    if (site.state === 'Stopped') return 'stopped';
    return this.hostPhase(site, now);
  }

  private hostPhase(site: Site, now: number): Exclude<HostPhase, 'stopped'> {
    const st = site.platform;
    if (now < st.recycleUntil) {
      const half = st.recycleStartedAt + (st.recycleUntil - st.recycleStartedAt) / 2;
      return now < half ? 'down' : 'starting';
    }
    if (!st.ready) return 'starting';
    return st.hostError === undefined ? 'running' : 'error';
  }

  /**
   * A sync that reaches the host registers the triggers it has loaded (on Linux Consumption, the only way the
   * ARM list learns of a new package besides a restart).
   */
  register(site: Site): void {
    const st = site.platform;
    st.registered = { functions: st.functions, hostError: st.hostError, at: Date.now() };
  }

  /**
   * What ARM `GET …/functions` shows: while the host recycles, the placeholder's WarmUp (or nothing); after a load,
   * for `listLagMs`, only part of the list (functions-action#373, azure-functions-host#10169) [OBS]; then all of it.
   * On Linux Consumption, the triggers registered by the last effective sync or restart [INF; see arm.ts].
   */
  armFunctions(site: Site): { functions: FunctionInfo[] } | { error: string } {
    const st = site.platform;
    const now = Date.now();
    if (isLinuxConsumption(site)) {
      const reg = st.registered;
      if (!reg) return { functions: [] };
      if (reg.hostError !== undefined) return { error: reg.hostError };
      return { functions: this.lagged(site, reg.functions, reg.at, now) };
    }
    const phase = this.hostPhase(site, now);
    if (phase === 'down' || phase === 'starting') return { functions: placeholderFunctions(site) };
    if (phase === 'error') return { error: st.hostError as string };
    return { functions: this.lagged(site, st.functions, st.loadedAt, now) };
  }

  private lagged(site: Site, functions: FunctionInfo[], since: number, now: number): FunctionInfo[] {
    if (now >= since + this.timing(site).listLagMs) return functions;
    const placeholder = placeholderFunctions(site);
    if (placeholder.length > 0) return placeholder;
    return functions.slice(0, Math.min(1, functions.length - 1));
  }
}
