import { randomBytes, randomUUID } from 'node:crypto';
import JSZip from 'jszip';
import type { Timers } from './http.js';
import { oryxBuild } from './oryx.js';
import { PACKAGE_NAME_FILE, type Platform } from './platform.js';
import {
  type BuildRecord,
  type Deployment,
  type DeployResult,
  isContainerApp,
  isLinux,
  isTrueLike,
  kuduTime,
  type LogEntry,
  label,
  recordEvent,
  runFromPackageIn,
  type Site,
  settingIn,
} from './state.js';

/** Kudu's SCM_MAX_ZIP_PACKAGE_COUNT default. */
export const MAX_SITE_PACKAGES = 5;

export interface DeployDeps {
  platform: Platform;
  timers: Timers;
}

export interface DeployRequest {
  body: Buffer;
  deployer: string;
  author: string | undefined;
  authorEmail: string | undefined;
  message: string | undefined;
  /** The app settings as Kudu saw them when the request arrived (they reach Kudu late: Platform.kuduSettings). */
  settings?: Record<string, string>;
}

let sequence = 0;

export function defaultDeployer(site: Site): string {
  return isLinux(site) ? 'Push-Deployer' : 'ZipDeploy';
}

/** A deployment that has not finished holds Kudu's deployment lock. */
export function lockHeld(site: Site): boolean {
  return site.deployments.some((d) => !d.result.complete);
}

function record(site: Site, id: string, req: Omit<DeployRequest, 'body'>, temp: boolean): Deployment {
  const now = kuduTime();
  const result: DeployResult = {
    id,
    status: temp ? 0 : 1,
    status_text: temp ? 'Receiving changes.' : `Building and Deploying '${id}'.`,
    // Kudu's temporary record knows nothing of the request yet.
    author_email: temp ? 'N/A' : (req.authorEmail ?? 'N/A'),
    author: temp ? 'N/A' : (req.author ?? 'N/A'),
    deployer: req.deployer,
    message: temp ? 'N/A' : (req.message ?? 'Created via a push deployment'),
    progress: '',
    received_time: now,
    start_time: now,
    end_time: null,
    last_success_end_time: null,
    complete: false,
    active: false,
    is_temp: temp,
    is_readonly: true,
    site_name: label(site),
    provisioningState: 'InProgress',
  };
  return { result, log: [], seq: ++sequence };
}

function log(dep: Deployment, message: string, type: LogEntry['type'] = 0): void {
  dep.log.push({ log_time: kuduTime(), id: randomUUID(), message, type });
}

function newId(): string {
  return randomBytes(16).toString('hex');
}

function markSuccess(site: Site, dep: Deployment): void {
  const end = kuduTime();
  for (const other of site.deployments) other.result.active = false;
  Object.assign(dep.result, {
    status: 4,
    status_text: '',
    progress: '',
    complete: true,
    active: true,
    end_time: end,
    last_success_end_time: end,
    provisioningState: 'Succeeded',
  } satisfies Partial<DeployResult>);
  log(dep, 'Deployment successful.');
}

function markFailed(dep: Deployment, reason: string): void {
  Object.assign(dep.result, {
    status: 3,
    status_text: reason,
    progress: '',
    complete: true,
    end_time: kuduTime(),
    provisioningState: 'Failed',
  } satisfies Partial<DeployResult>);
  log(dep, reason, 2);
}

/** UTC yyyyMMddHHmmss, the name Kudu gives a run-from-package zip. */
function stamp(date: Date): string {
  return date.toISOString().replace(/[-:T]/g, '').slice(0, 14);
}

function writeSitePackage(site: Site, body: Buffer): string {
  // Two deployments in the same second must not overwrite each other, and the new zip must sort last (the purge
  // keeps the newest names): take the next second after the newest existing zip when the clock has not passed it.
  const newest = [...site.sitePackages.keys()]
    .filter((n) => /^\d{14}\.zip$/.test(n))
    .sort()
    .at(-1);
  let when = new Date();
  if (newest !== undefined && `${stamp(when)}.zip` <= newest) {
    const [, y, mo, d, h, mi, se] = /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})/.exec(
      newest,
    ) as RegExpExecArray;
    when = new Date(Date.UTC(Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(se) + 1));
  }
  const name = `${stamp(when)}.zip`;
  site.sitePackages.set(name, { bytes: body, mtime: new Date() });
  const zips = [...site.sitePackages.keys()].filter((n) => n.toLowerCase().endsWith('.zip')).sort();
  for (const old of zips.slice(0, Math.max(0, zips.length - MAX_SITE_PACKAGES)))
    site.sitePackages.delete(old);
  return name;
}

const MAX_BUILDS = 10;

export function keepBuild(site: Site, build: BuildRecord): void {
  site.builds.push(build);
  if (site.builds.length > MAX_BUILDS) site.builds.splice(0, site.builds.length - MAX_BUILDS);
}

/**
 * KuduLite's builder choice (SiteBuilderFactory.CreateBuilder): with WEBSITE_RUN_FROM_PACKAGE=1 the run-from-zip
 * builder is taken before SCM_DO_BUILD_DURING_DEPLOYMENT is read, so no build runs [SRC]; Learn: run from package
 * is "incompatible with SCM_DO_BUILD_DURING_DEPLOYMENT=true; build step ignored" [DOC]. Otherwise a Linux app with
 * the setting true gets an Oryx build. Windows Kudu has no Oryx (and no Python) [INF: its own deployment script is
 * not modelled]. Returns the content to deploy, or a failure reason.
 */
async function remoteBuild(
  site: Site,
  dep: Deployment,
  body: Buffer,
  settings: Record<string, string>,
): Promise<{ content: Buffer } | { failure: string }> {
  if (!isLinux(site) || !isTrueLike(settingIn(settings, 'SCM_DO_BUILD_DURING_DEPLOYMENT')))
    return { content: body };
  const lines: string[] = [];
  const say = (line: string) => {
    lines.push(line);
    log(dep, line);
  };
  const record = (outcome: BuildRecord['outcome']) =>
    keepBuild(site, { deploymentId: dep.result.id, time: kuduTime(), outcome, log: lines });
  if (runFromPackageIn(settings)?.trim() === '1') {
    // The trace KuduLite writes when it ignores the setting (DeploymentManager) [SRC azure-contract.md B.5].
    say('Run from package. Ignore remote build.');
    record('skipped');
    return { content: body };
  }
  const runtime = (settingIn(settings, 'FUNCTIONS_WORKER_RUNTIME') ?? '').toLowerCase();
  const version = /\|(.+)$/.exec(site.app.linuxFxVersion)?.[1] ?? (runtime === 'python' ? '3.11' : '20');
  const platform = runtime === 'python' ? 'python' : runtime === 'node' ? 'nodejs' : runtime;
  say('Repository path is /tmp/zipdeploy/extracted');
  say('Running oryx build...');
  say(
    `Command: oryx build /tmp/zipdeploy/extracted -o /home/site/wwwroot --platform ${platform} --platform-version ${version}${runtime === 'python' ? ' -p packagedir=.python_packages/lib/site-packages' : ''}`,
  );
  try {
    const content = await oryxBuild(body, runtime, say);
    record('succeeded');
    return { content };
  } catch (error) {
    record('failed');
    return { failure: (error as Error).message };
  }
}

/** Applies the package; returns a failure reason, or undefined on success. */
async function apply(
  deps: DeployDeps,
  site: Site,
  dep: Deployment,
  body: Buffer,
  settings: Record<string, string>,
): Promise<string | undefined> {
  const injected = site.kudu.failNextDeployment;
  if (injected !== undefined) {
    site.kudu.failNextDeployment = undefined;
    return injected;
  }
  try {
    await JSZip.loadAsync(body);
  } catch (error) {
    return `Deployment Failed. Error: the uploaded content is not a valid zip file (${(error as Error).message}).`;
  }
  const built = await remoteBuild(site, dep, body, settings);
  if ('failure' in built) return built.failure;
  const content = built.content;
  if (runFromPackageIn(settings)?.trim() === '1') {
    const name = writeSitePackage(site, content);
    log(dep, `Writing the artifact to data/SitePackages/${name} (run from package).`);
    site.sitePackages.set(PACKAGE_NAME_FILE, { bytes: Buffer.from(name, 'utf8'), mtime: new Date() });
    recordEvent(site, 'zipdeploy', `data/SitePackages/${name}`);
    site.restartCount += 1;
    recordEvent(site, 'restart', 'after zipdeploy');
  } else {
    log(
      dep,
      'Cleaning up temp folders from previous zip deployments and extracting pushed zip file to site/wwwroot.',
    );
    site.wwwroot = { bytes: content, mtime: new Date() };
    recordEvent(site, 'zipdeploy', 'site/wwwroot');
  }
  // The container keeps running its image: the deployment succeeds all the same [INF; see Platform.compute].
  if (isContainerApp(site))
    recordEvent(site, 'zipdeploy', 'content written; the site runs its container image');
  site.syncCount += 1;
  recordEvent(site, 'sync', 'after zipdeploy');
  log(dep, 'Syncing triggers.');
  // The host restarts on the new content (after =1, Kudu restarts the site; wwwroot changes restart it too), and
  // Kudu syncs triggers itself once it is back (it waits for the restart: azure-functions-host#10078 log) [OBS].
  void deps.platform.reload(site, 'zipdeploy', { register: true });
  return undefined;
}

async function build(
  deps: DeployDeps,
  site: Site,
  dep: Deployment,
  req: DeployRequest,
  durationMs: number,
): Promise<void> {
  log(dep, `Received ${req.body.length} bytes.`);
  await deps.timers.sleep(durationMs);
  const failure = await apply(deps, site, dep, req.body, req.settings ?? site.settings);
  if (failure === undefined) markSuccess(site, dep);
  else markFailed(dep, failure);
}

/**
 * isAsync=true: the temp record exists when this returns (Kudu creates it before answering 202);
 * half the duration later it becomes the real record, which completes after the other half.
 */
export function deployAsync(deps: DeployDeps, site: Site, req: DeployRequest): Deployment {
  const temp = record(site, `temp-${randomBytes(4).toString('hex')}`, req, true);
  site.deployments.push(temp);
  const half = Math.floor(site.kudu.deploymentDurationMs / 2);
  void (async () => {
    await deps.timers.sleep(half);
    const real = record(site, newId(), req, false);
    real.seq = temp.seq;
    site.deployments.splice(site.deployments.indexOf(temp), 1, real);
    await build(deps, site, real, req, site.kudu.deploymentDurationMs - half);
  })();
  return temp;
}

export async function deploySync(deps: DeployDeps, site: Site, req: DeployRequest): Promise<Deployment> {
  const dep = record(site, newId(), req, false);
  site.deployments.push(dep);
  await build(deps, site, dep, req, site.kudu.deploymentDurationMs);
  return dep;
}

/** Simulates another client's deployment holding the lock for `ms`. */
export function holdLock(deps: DeployDeps, site: Site, ms: number): void {
  const dep = record(
    site,
    newId(),
    { deployer: 'Sandbox-Lock', author: undefined, authorEmail: undefined, message: 'Concurrent deployment' },
    false,
  );
  site.deployments.push(dep);
  log(dep, `Holding the deployment lock for ${ms} ms.`);
  void deps.timers.sleep(ms).then(() => markSuccess(site, dep));
}

/** Records a deployment written by a client (PUT /api/deployments/{id}). */
export function putDeployment(site: Site, id: string, body: Record<string, unknown>): Deployment {
  let dep = site.deployments.find((d) => d.result.id === id);
  if (!dep) {
    dep = record(
      site,
      id,
      { deployer: 'N/A', author: undefined, authorEmail: undefined, message: undefined },
      false,
    );
    site.deployments.push(dep);
  }
  const r = dep.result;
  if (typeof body.status === 'number') r.status = body.status;
  if (typeof body.message === 'string') r.message = body.message;
  if (typeof body.author === 'string') r.author = body.author;
  if (typeof body.deployer === 'string') r.deployer = body.deployer;
  if (typeof body.active === 'boolean') {
    if (body.active) for (const other of site.deployments) other.result.active = false;
    r.active = body.active;
  }
  if (r.status === 3 || r.status === 4) {
    r.complete = true;
    r.end_time ??= kuduTime();
    r.provisioningState = r.status === 4 ? 'Succeeded' : 'Failed';
    if (r.status === 4) r.last_success_end_time = r.end_time;
  }
  if (typeof body.details === 'string' || typeof body.message === 'string')
    log(dep, String(body.details ?? body.message));
  return dep;
}

export function newestFirst(site: Site): Deployment[] {
  return [...site.deployments].sort((a, b) => b.seq - a.seq);
}

/** DeployResult on the wire; `url`/`log_url` echo the path the client asked through (`latest` or the id). */
export function renderDeployment(
  dep: Deployment,
  base: string,
  pathId = dep.result.id,
): Record<string, unknown> {
  return {
    ...dep.result,
    url: `${base}/api/deployments/${pathId}`,
    log_url: `${base}/api/deployments/${pathId}/log`,
  };
}

export function renderLog(dep: Deployment): Array<Record<string, unknown>> {
  return dep.log.map((entry) => ({ ...entry, details_url: null }));
}
