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
    | 'load-failed';
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

export interface PlatformState {
  /** Undefined until the first load is asked for: nothing is fetched at start-up. */
  loading: Promise<void> | undefined;
  loadCount: number;
  functions: FunctionInfo[];
  hostError: string | undefined;
  /** Where the last load read from, for the control endpoint. */
  source: string | undefined;
}

export interface KuduConfig {
  failNextDeployment: string | undefined;
  deploymentDurationMs: number;
}

export interface Site {
  app: AppSeed;
  slot: string | undefined;
  settings: Record<string, string>;
  state: RunState;
  password: string;
  /** 127.0.0.1:PORT of this site's Kudu server, set once it listens. */
  kuduHost: string;
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
}

export const DEFAULT_DEPLOYMENT_MS = 300;

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
    restartCount: 0,
    syncCount: 0,
    events: [],
    deployments: [],
    sitePackages: new Map(),
    wwwroot: undefined,
    platform: { loading: undefined, loadCount: 0, functions: [], hostError: undefined, source: undefined },
    kudu: { failNextDeployment: undefined, deploymentDurationMs: DEFAULT_DEPLOYMENT_MS },
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

export function defaultHostName(site: Site): string {
  return `${label(site)}.azurewebsites.sandbox`;
}

export function publishingUserName(site: Site): string {
  return site.slot === undefined ? `$${site.app.name}` : `$${site.app.name}__${site.slot}`;
}

export function isLinux(site: Site): boolean {
  return site.app.os === 'linux';
}

/** App settings are environment variables: the platform reads them case-insensitively. */
export function getSetting(site: Site, name: string): string | undefined {
  const key = Object.keys(site.settings).find((k) => k.toLowerCase() === name.toLowerCase());
  return key === undefined ? undefined : site.settings[key];
}

/** WEBSITE_RUN_FROM_PACKAGE, or its old name WEBSITE_RUN_FROM_ZIP. */
export function runFromPackage(site: Site): string | undefined {
  return getSetting(site, 'WEBSITE_RUN_FROM_PACKAGE') ?? getSetting(site, 'WEBSITE_RUN_FROM_ZIP');
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
