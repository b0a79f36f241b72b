import { randomBytes } from 'node:crypto';
import type { AppSeed, SandboxSeed } from './seed.js';

export type RunState = 'Running' | 'Stopped';

export interface SiteEvent {
  time: string;
  type:
    | 'restart'
    | 'sync'
    | 'settings-put'
    | 'settings-changed'
    | 'zipdeploy'
    | 'publish'
    | 'state'
    | 'load-ok'
    | 'load-failed'
    | 'recycle'
    | 'swap'
    | 'build';
  detail?: string;
}

/** A Kudu DeployResult as serialised on the wire, minus the URL fields that depend on the request. */
export interface DeployResult {
  id: string;
  status: number;
  status_text: string;
  author_email: string;
  author: string;
  deployer: string;
  message: string;
  progress: string;
  received_time: string;
  start_time: string;
  end_time: string | null;
  last_success_end_time: string | null;
  complete: boolean;
  active: boolean;
  is_temp: boolean;
  is_readonly: boolean;
  site_name: string;
  provisioningState: 'InProgress' | 'Failed' | 'Succeeded';
}

export interface LogEntry {
  log_time: string;
  id: string;
  message: string;
  type: 0 | 1 | 2;
}

export interface Deployment {
  result: DeployResult;
  log: LogEntry[];
  /** Insertion order: "newest first" must not depend on clock resolution. */
  seq: number;
}

/** A remote build (or its skipping), for the control endpoint. */
export interface BuildRecord {
  deploymentId: string;
  time: string;
  outcome: 'succeeded' | 'failed' | 'skipped';
  log: string[];
}

export interface VfsFile {
  bytes: Buffer;
  mtime: Date;
}

export interface FunctionInfo {
  name: string;
  bindings: Array<Record<string, unknown>>;
  language: string;
  isDisabled: boolean;
  /** HTTP route relative to the host, e.g. "api/hello"; undefined for non-HTTP triggers. */
  httpRoute?: string;
}

/** What the scale controller knows of an app's triggers: on Linux Consumption the ARM function list shows this. */
export interface Registration {
  functions: FunctionInfo[];
  hostError: string | undefined;
  /** Epoch ms; the list lags behind it like a fresh load. */
  at: number;
}

export interface PlatformState {
  /** Undefined until the first load is asked for: nothing is fetched at start-up. */
  loading: Promise<void> | undefined;
  loadCount: number;
  functions: FunctionInfo[];
  hostError: string | undefined;
  /** Where the last load read from, for the control endpoint. */
  source: string | undefined;
  /** Epoch ms the current recycle began and ends (0 when none); a recycle during a recycle pushes the end out. */
  recycleStartedAt: number;
  recycleUntil: number;
  /** False from a recycle until the load that follows it has finished. */
  ready: boolean;
  /** Epoch ms the last load finished: the host's process start, and where the list lag counts from. */
  loadedAt: number;
  /** The next load registers its triggers (a restart or Kudu's own sync after a deployment). */
  registerOnLoad: boolean;
  registered: Registration | undefined;
  /** Once the site has run from data/SitePackages it can no longer switch to a package URL. */
  ranFromLocalPackage: boolean;
  instanceId: string;
  /** host.json extensionBundle of the loaded package, reported by the host status. */
  extensionBundle: { id: string; version: string } | undefined;
}

export interface HostKeys {
  masterKey: string;
  functionKeys: Record<string, string>;
  systemKeys: Record<string, string>;
}

/** Per-site overrides of the sandbox-wide timings (POST /_sandbox/apps/{app}/platform). */
export interface TimingOverrides {
  recycleMs?: number;
  kuduSettingsDelayMs?: number;
  listLagMs?: number;
}

export interface SettingsSnapshot {
  /** Epoch ms the settings took this value. */
  at: number;
  settings: Record<string, string>;
}

export interface SlotConfigNames {
  appSettingNames: string[];
  connectionStringNames: string[];
  azureStorageConfigNames: string[];
}

export interface KuduConfig {
  failNextDeployment: string | undefined;
  deploymentDurationMs: number;
  /** SCM access restrictions exclude the caller: every Kudu request answers 403 "Ip Forbidden". */
  ipRestricted: boolean;
}

export interface Site {
  app: AppSeed;
  slot: string | undefined;
  settings: Record<string, string>;
  state: RunState;
  password: string;
  /** 127.0.0.1:PORT of this site's Kudu server, set once it listens. */
  kuduHost: string;
  /** 127.0.0.1:PORT of this site's Functions host (its default host name), set once it listens. */
  hostHost: string;
  hostKeys: HostKeys;
  /** Every value the settings have had, oldest first: Kudu reads them through a delay. */
  settingsLog: SettingsSnapshot[];
  timing: TimingOverrides;
  /** Production only: the settings that stay with their slot in a swap. */
  slotConfigNames: SlotConfigNames;
  restartCount: number;
  syncCount: number;
  events: SiteEvent[];
  deployments: Deployment[];
  /** data/SitePackages: the run-from-package zips plus packagename.txt. */
  sitePackages: Map<string, VfsFile>;
  /** The last zip "extracted" to site/wwwroot (kept whole: the platform reads it like a package). */
  wwwroot: VfsFile | undefined;
  platform: PlatformState;
  kudu: KuduConfig;
  /** The last remote builds, newest last. */
  builds: BuildRecord[];
}

export const DEFAULT_DEPLOYMENT_MS = 300;

/** A function key as the host generates it: 40 random bytes, base64 (56 characters ending in '='). */
export function functionKey(): string {
  return randomBytes(40).toString('base64');
}

function password(): string {
  // Real publishing passwords are 60 alphanumeric characters.
  const alphabet = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';
  return [...randomBytes(60)].map((b) => alphabet[b % alphabet.length]).join('');
}

function newSite(
  app: AppSeed,
  slot: string | undefined,
  settings: Record<string, string>,
  state: RunState,
): Site {
  return {
    app,
    slot,
    settings: { ...settings },
    state,
    password: password(),
    kuduHost: '',
    hostHost: '',
    hostKeys: { masterKey: functionKey(), functionKeys: { default: functionKey() }, systemKeys: {} },
    settingsLog: [{ at: 0, settings: { ...settings } }],
    timing: {},
    slotConfigNames: { appSettingNames: [], connectionStringNames: [], azureStorageConfigNames: [] },
    restartCount: 0,
    syncCount: 0,
    events: [],
    deployments: [],
    sitePackages: new Map(),
    wwwroot: undefined,
    platform: {
      loading: undefined,
      loadCount: 0,
      functions: [],
      hostError: undefined,
      source: undefined,
      recycleStartedAt: 0,
      recycleUntil: 0,
      ready: true,
      loadedAt: 0,
      registerOnLoad: false,
      registered: undefined,
      ranFromLocalPackage: false,
      instanceId: randomBytes(32).toString('hex'),
      extensionBundle: undefined,
    },
    kudu: { failNextDeployment: undefined, deploymentDurationMs: DEFAULT_DEPLOYMENT_MS, ipRestricted: false },
    builds: [],
  };
}

export function createSites(seed: SandboxSeed): Site[] {
  return seed.apps.flatMap((app) => [
    newSite(app, undefined, app.settings, app.state),
    ...app.slots.map((slot) => newSite(app, slot.name, slot.settings, slot.state)),
  ]);
}

export function findSite(sites: Site[], name: string, slot?: string): Site | undefined {
  const wantedSlot = slot?.toLowerCase();
  return sites.find(
    (site) =>
      site.app.name.toLowerCase() === name.toLowerCase() &&
      (wantedSlot === undefined || wantedSlot === 'production'
        ? site.slot === undefined
        : site.slot?.toLowerCase() === wantedSlot),
  );
}

/** ARM resource id of the site or slot. */
export function siteId(site: Site, subscriptionId: string): string {
  const base = `/subscriptions/${subscriptionId}/resourceGroups/${site.app.resourceGroup}/providers/Microsoft.Web/sites/${site.app.name}`;
  return site.slot === undefined ? base : `${base}/slots/${site.slot}`;
}

export function siteName(site: Site): string {
  return site.slot === undefined ? site.app.name : `${site.app.name}/${site.slot}`;
}

export function label(site: Site): string {
  return site.slot === undefined ? site.app.name : `${site.app.name}-${site.slot}`;
}

/** The site's Functions host, which answers on loopback: `127.0.0.1:PORT`. */
export function defaultHostName(site: Site): string {
  return site.hostHost;
}

export function publishingUserName(site: Site): string {
  return site.slot === undefined ? `$${site.app.name}` : `$${site.app.name}__${site.slot}`;
}

export function isLinux(site: Site): boolean {
  return site.app.os === 'linux';
}

/** App settings are environment variables: the platform reads them case-insensitively. */
export function settingIn(settings: Record<string, string>, name: string): string | undefined {
  const key = Object.keys(settings).find((k) => k.toLowerCase() === name.toLowerCase());
  return key === undefined ? undefined : settings[key];
}

export function getSetting(site: Site, name: string): string | undefined {
  return settingIn(site.settings, name);
}

/**
 * WEBSITE_RUN_FROM_PACKAGE, or its old name WEBSITE_RUN_FROM_ZIP when the new one is absent or empty.
 * Kudu DeploymentSettingsExtension.GetFromFromZipAppSettingValue: String.IsNullOrEmpty(RunFromZip) falls back to
 * RunFromZipOld [SRC]; the platform's mount follows the same rule [INF].
 */
export function runFromPackageIn(settings: Record<string, string>): string | undefined {
  const value = settingIn(settings, 'WEBSITE_RUN_FROM_PACKAGE');
  return value === undefined || value === '' ? settingIn(settings, 'WEBSITE_RUN_FROM_ZIP') : value;
}

export function runFromPackage(site: Site): string | undefined {
  return runFromPackageIn(site.settings);
}

/** SCM_DO_BUILD_DURING_DEPLOYMENT and the like: Kudu's StringUtils.IsTrueLike ("true" or "1") [SRC]. */
export function isTrueLike(value: string | undefined): boolean {
  return value !== undefined && /^(true|1)$/i.test(value.trim());
}

export function isLinuxConsumption(site: Site): boolean {
  return isLinux(site) && site.app.plan.tier === 'Dynamic';
}

/**
 * An app that runs its own image: kind says container/kubernetes, or linuxFxVersion names a custom image.
 * Core Tools PublishHelper.IsLinuxFxVersionUsingCustomImage: `DOCKER|` and not one of the Functions base images;
 * Site.IsKubeApp: kind contains "kubernetes" [SRC].
 */
export function isContainerApp(site: Site): boolean {
  const kind = (site.app.kind ?? '').toLowerCase();
  const fx = site.app.linuxFxVersion.toLowerCase();
  const customImage = fx.startsWith('docker|') && !fx.includes('mcr.microsoft.com/azure-functions/');
  return kind.includes('container') || kind.includes('kubernetes') || customImage;
}

const MAX_EVENTS = 500;

export function recordEvent(site: Site, type: SiteEvent['type'], detail?: string): void {
  site.events.push(
    detail === undefined ? { time: kuduTime(), type } : { time: kuduTime(), type, detail: redactSas(detail) },
  );
  if (site.events.length > MAX_EVENTS) site.events.splice(0, site.events.length - MAX_EVENTS);
}

/** ISO 8601 UTC with 7 fractional digits, as Kudu's Newtonsoft serialisation writes DateTime. */
export function kuduTime(date?: Date): string {
  if (date) return date.toISOString().replace(/\.(\d{3})Z$/, '.$10000Z');
  const now = performance.timeOrigin + performance.now();
  const ms = Math.floor(now);
  const ticks = String(Math.floor((now - ms) * 10_000)).padStart(4, '0');
  return new Date(ms).toISOString().replace(/Z$/, `${ticks}Z`);
}

/** Never echo a SAS signature: it is a bearer secret for the blob. */
export function redactSas(text: string): string {
  // Also catches a URL nested in another query string, where `&` and `=` arrive percent-encoded.
  return text.replace(/((?<![A-Za-z])sig(?:=|%3D))(?:%(?!26)[0-9a-f]{2}|[^&\s'"#%])*/gi, '$1REDACTED');
}
