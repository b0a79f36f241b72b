import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import JSZip from 'jszip';
import type { Context } from './context.js';
import { keepBuild } from './deploy.js';
import { HostError } from './discover.js';
import type { RouteName } from './faults.js';
import {
  defaultFunctionAppConfig,
  deploymentStorage,
  runtimeName,
  siteUpdateStrategy,
} from './flex-config.js';
import {
  type BlobAccess,
  type ContainerAccess,
  containerAccess,
  createDeploymentContainer,
  RELEASED_PACKAGE,
  readReleasedPackage,
  storageFailure,
} from './flex-storage.js';
import { drain, queryValue, readBody, readJson, send, sendJson, sendText } from './http.js';
import { oryxBuild } from './oryx.js';
import type { SandboxSeed } from './seed.js';
import {
  type BuildRecord,
  kuduTime,
  type LogEntry,
  label,
  recordEvent,
  type Site,
  settingIn,
} from './state.js';

/**
 * Flex Consumption: the OneDeploy `/api/publish` endpoint and its deployment records, the platform's write of
 * `released-package.zip`, the host's read of it, and the switches under `/_sandbox/apps/{app}/flex`.
 *
 * The clients this is shaped after: azd `pkg/azsdk/funcapp_host_client.go` (FuncAppHostClient), azure-cli
 * `custom.py` (`enable_zip_deploy_flex`, `_check_zip_deployment_status_flex`), Core Tools
 * `PublishFunctionAppAction.PerformFlexDeployment` and `KuduLiteDeploymentHelpers.WaitForFlexDeployment`,
 * Azure/functions-action `azure-app-kudu-service.ts` (`oneDeployFlex`) [SRC].
 */

export interface FlexConfig {
  /** From the 202 to the terminal status; split in four phases (validate, build, upload, sync). */
  deploymentDurationMs: number;
  /** How long a finished record stays readable before the deployment worker recycles; null: never. */
  recycleAfterMs: number | null;
}

export const FLEX_DEFAULTS: Readonly<FlexConfig> = {
  deploymentDurationMs: 600,
  // vscode-azuretools#1739: the service team asks for 1 s polling because "the deployment id gets recycled before
  // we ever pick it up" [ISSUE]. 1.5 s lets a 1 s poller (azd, az cli) see the terminal record and makes a 5 s
  // poller (functions-action) meet the 404.
  recycleAfterMs: 1500,
};

/** Outcomes the control endpoint can force on the next deployment (statuses of azure-contract.md §B.3). */
const OUTCOMES = { failed: 3, conflict: 5, partial: 6, cancelled: -1 } as const;
type Outcome = keyof typeof OUTCOMES;

/** A Flex deployment record as GET /api/deployments/{id} serialises it (azd PublishResponse) [SRC]. */
interface FlexDeployResult {
  id: string;
  status: number;
  status_text: string;
  author_email: string;
  author: string;
  deployer: string;
  remoteBuild: boolean;
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
  build_summary: { errors: string[]; warnings: string[] };
}

interface FlexDeployment {
  result: FlexDeployResult;
  log: LogEntry[];
  seq: number;
  /** The deployment worker that held the record has recycled: every read of it answers 404. */
  recycled: boolean;
}

interface FlexState {
  config: FlexConfig;
  deployments: FlexDeployment[];
  next: { outcome: Outcome; message: string | undefined } | undefined;
}

const states = new WeakMap<Site, FlexState>();
let sequence = 0;

export function isFlex(site: Site): boolean {
  return site.app.plan.tier === 'FlexConsumption';
}

function flexState(site: Site): FlexState {
  let state = states.get(site);
  if (!state) {
    state = { config: { ...FLEX_DEFAULTS }, deployments: [], next: undefined };
    states.set(site, state);
  }
  return state;
}

// ---- start-up ---------------------------------------------------------------------------------------------

/** The seed with a functionAppConfig for every Flex app seeded without one (see defaultFunctionAppConfig). */
export function withFlexDefaults(seed: SandboxSeed, blobEndpoint: string | undefined): SandboxSeed {
  return {
    ...seed,
    apps: seed.apps.map((app) =>
      app.plan.tier !== 'FlexConsumption' || app.functionAppConfig
        ? app
        : {
            ...app,
            // Without the sandbox's blob endpoint the container is unreachable, and deployments say so.
            functionAppConfig: defaultFunctionAppConfig(
              app.name,
              app.linuxFxVersion,
              blobEndpoint ?? `https://${app.name}.blob.sandbox.invalid`,
            ),
          },
    ),
  };
}

/**
 * Creates each Flex app's deployment container. Best effort: a container the sandbox cannot create is reported by
 * the first deployment, as Azure reports a deleted one ("404 (The specified container does not exist.)").
 */
export async function prepareFlexSites(sites: Site[], access: BlobAccess): Promise<void> {
  await Promise.all(
    sites.filter(isFlex).map((site) => createDeploymentContainer(site, access).catch(() => undefined)),
  );
}

// ---- hooks for the platform and ARM ------------------------------------------------------------------------

/** Flex apps take their language from functionAppConfig.runtime.name; FUNCTIONS_WORKER_RUNTIME is not used. */
export function flexRuntime(site: Site): string | undefined {
  return isFlex(site) && site.app.functionAppConfig ? runtimeName(site.app.functionAppConfig) : undefined;
}

/** The package a Flex host loads: released-package.zip, read with the configured authentication. */
export async function flexPackage(
  site: Site,
  access: BlobAccess,
): Promise<{ bytes: Buffer; where: string } | undefined> {
  if (!site.app.functionAppConfig) return undefined;
  const where = `${deploymentStorage(site.app.functionAppConfig).url.replace(/\/+$/, '')}/${RELEASED_PACKAGE}`;
  try {
    const bytes = await readReleasedPackage(site, access);
    return bytes === undefined ? undefined : { bytes, where };
  } catch (error) {
    throw new HostError(`deployment package ${where} could not be read: ${storageFailure(error).message}`);
  }
}

/**
 * ARM refuses FUNCTIONS_WORKER_RUNTIME on a Flex site: "The following app setting
 * (Site.SiteConfig.AppSettings.FUNCTIONS_WORKER_RUNTIME) for Flex Consumption sites is invalid…"
 * (vscode-azurefunctions#4142, azure-functions-core-tools#4645 [ISSUE]; the wording follows the verbatim
 * site-config form in azure-functions-host#10643 [ISSUE]). Other deprecated settings are accepted and ignored
 * (Azure/terraform-azurerm-avm-res-web-site#380 [ISSUE]).
 */
export function flexSettingsRefusal(site: Site, settings: Record<string, string>): string | undefined {
  if (!isFlex(site)) return undefined;
  const key = Object.keys(settings).find((k) => k.toLowerCase() === 'functions_worker_runtime');
  if (key === undefined) return undefined;
  return `The following app setting (Site.SiteConfig.AppSettings.${key}) for Flex Consumption sites is invalid. Please remove or rename it before retrying.`;
}

// ---- the deployment engine ---------------------------------------------------------------------------------

function log(dep: FlexDeployment, message: string, type: LogEntry['type'] = 0): void {
  dep.log.push({ log_time: kuduTime(), id: randomUUID(), message, type });
}

function newRecord(site: Site, init: Partial<FlexDeployResult>): FlexDeployment {
  const now = kuduTime();
  const result: FlexDeployResult = {
    // Flex ids are dashed GUIDs: "GET …/api/deployments/8ad0b7ed-7bd8-4fa0-8677-e38dcfb79a1a … 404" (azd#4439) [OBS].
    id: randomUUID(),
    status: 0,
    status_text: '',
    author_email: 'N/A',
    author: 'N/A',
    // Kudu's OneDeploy records say "OneDeploy" when the client names no deployer [OBS §B.4]; Flex [INF].
    deployer: 'OneDeploy',
    remoteBuild: false,
    message: 'OneDeploy',
    progress: '',
    received_time: now,
    start_time: now,
    end_time: null,
    last_success_end_time: null,
    complete: false,
    active: false,
    is_temp: false,
    is_readonly: true,
    site_name: label(site),
    build_summary: { errors: [], warnings: [] },
    ...init,
  };
  const dep: FlexDeployment = { result, log: [], seq: ++sequence, recycled: false };
  flexState(site).deployments.push(dep);
  return dep;
}

function lockHeld(site: Site): boolean {
  return flexState(site).deployments.some((d) => !d.result.complete);
}

function finish(ctx: Context, site: Site, dep: FlexDeployment, status: number, reason = ''): void {
  const end = kuduTime();
  Object.assign(dep.result, { status, status_text: reason, progress: '', complete: true, end_time: end });
  if (status === 4) {
    for (const other of flexState(site).deployments) other.result.active = false;
    Object.assign(dep.result, { active: true, last_success_end_time: end });
    log(dep, 'Deployment completed successfully.');
  } else if (reason !== '') {
    log(dep, reason, status === 6 ? 1 : 2);
  }
  const { recycleAfterMs } = flexState(site).config;
  // azd FuncAppHostClient: "It's possible to observe a 404 response after the deployment is complete … due to the
  // deployment worker being recycled" [SRC]; Core Tools PR #3404 review: "the kudu instance will get recycled and
  // there might be no way for customers to access the logs" [ISSUE]. So once gone, gone: record and log 404.
  if (recycleAfterMs !== null)
    void ctx.timers.sleep(recycleAfterMs).then(() => {
      dep.recycled = true;
    });
}

function setPhase(dep: FlexDeployment, status: 1 | 2, progress: string): void {
  Object.assign(dep.result, { status, progress });
}

const IGNORED_BUILD_SETTINGS = ['SCM_DO_BUILD_DURING_DEPLOYMENT', 'ENABLE_ORYX_BUILD'];
const PACKAGE_SETTINGS = ['WEBSITE_RUN_FROM_PACKAGE', 'WEBSITE_RUN_FROM_ZIP'];
const STORAGE_CHECK =
  '[StorageAccessibleCheck] Error while checking access to storage account using Kudu.Legion.Core.Storage.BlobContainerStorage';

/**
 * Validation: the package settings, the build settings, and whether the platform can reach its container.
 * Returns the access to upload with, or undefined when the deployment has been finished as failed.
 */
async function validate(
  ctx: Context,
  site: Site,
  dep: FlexDeployment,
  next: FlexState['next'],
): Promise<ContainerAccess | undefined> {
  // Step names as a Flex deployment log prints them (functions-action#275: "[Kudu-ValidationStep] starting.",
  // "[Kudu-ExtractZipStep] …", "[Kudu-OryxBuildStep] starting."; functions-action#267: "[AppSettingValidation]",
  // "[DeploymentStorageValidation]") [ISSUE].
  log(dep, '[Kudu-ValidationStep] starting.');
  if (next?.outcome === 'conflict') {
    // Status 5: "cancelled, another deployment in progress" (Core Tools DeployStatus.Conflict, azd) [SRC].
    finish(
      ctx,
      site,
      dep,
      5,
      next.message ?? 'Deployment was cancelled because another deployment is in progress.',
    );
    return undefined;
  }
  // The deployment worker reads the app settings as Kudu does, late (Platform.kuduSettings); a client must wait
  // until Kudu's /api/settings shows a change before it publishes against it (azure-contract.md A.3) [SRC].
  const settings = ctx.platform.kuduSettings(site);
  const packageSetting = PACKAGE_SETTINGS.find((name) => settingIn(settings, name) !== undefined);
  if (packageSetting !== undefined) {
    // azure-functions-vs-build-sdk#656 / azure-functions-dotnet-worker#2688 quote the status as "Failed: App
    // setting WEBSITE_RUN_FROM_PACKAGE is not supported..." [ISSUE]; the sentence's end is not public [INF].
    finish(
      ctx,
      site,
      dep,
      3,
      `App setting ${packageSetting} is not supported for Flex Consumption apps. Remove it and deploy again.`,
    );
    return undefined;
  }
  for (const name of IGNORED_BUILD_SETTINGS) {
    if (settingIn(settings, name) === undefined) continue;
    // Learn "Flex Consumption plan", Deployment: "there is no longer the need for app settings to influence
    // deployment behavior" [DOC]; the build follows the RemoteBuild parameter. Ignored with a warning [INF]: no
    // source shows these settings failing a deployment.
    const warning = `App setting ${name} is not used on Flex Consumption and was ignored; remote build follows the RemoteBuild parameter of /api/publish.`;
    dep.result.build_summary.warnings.push(warning);
    log(dep, warning, 1);
  }
  let access: ContainerAccess;
  try {
    access = containerAccess(site, ctx.blobAccess, settings);
    for (const line of access.log) log(dep, line);
    // A GET, not a HEAD: storage refusals of a GET carry the message the log quotes.
    await access.client
      .listBlobsFlat({ abortSignal: ctx.blobAccess.signal })
      .byPage({ maxPageSize: 1 })
      .next();
  } catch (error) {
    // The check's words in a failing deployment (public notes quoting the Flex log): "[StorageAccessibleCheck] Error
    // while checking access … BlobUploadFailedException: Failed to upload blob to storage account: Response status
    // code does not indicate success: 403 (…)" then "InaccessibleStorageException: Failed to access storage account
    // for deployment" [OBS]. The sandbox checks with a listing of the container [INF].
    const why = `BlobUploadFailedException: Failed to upload blob to storage account: ${storageFailure(error).message}`;
    log(dep, `${STORAGE_CHECK}: ${why}`, 2);
    finish(
      ctx,
      site,
      dep,
      3,
      `InaccessibleStorageException: Failed to access storage account for deployment: ${why}`,
    );
    return undefined;
  }
  log(dep, '[Kudu-ValidationStep] completed.');
  return access;
}

/** Extraction, content validation and, with RemoteBuild=true, the Oryx build; the package to upload or undefined. */
async function build(
  ctx: Context,
  site: Site,
  dep: FlexDeployment,
  zip: Buffer,
  next: FlexState['next'],
): Promise<Buffer | undefined> {
  setPhase(dep, 1, 'Building.');
  log(dep, '[Kudu-ExtractZipStep] starting.');
  try {
    await JSZip.loadAsync(zip);
  } catch (error) {
    finish(ctx, site, dep, 3, `Failed to extract the zip package: ${(error as Error).message}`);
    return undefined;
  }
  log(dep, '[Kudu-ExtractZipStep] completed.');
  log(dep, '[Kudu-ContentValidationStep] starting.');
  log(dep, '[Kudu-ContentValidationStep] completed.');
  let built = zip;
  if (dep.result.remoteBuild) {
    log(dep, '[Kudu-PreBuildValidationStep] starting.');
    log(dep, '[Kudu-PreBuildValidationStep] completed.');
    log(dep, '[Kudu-OryxBuildStep] starting.');
    // The same Oryx stand-in as a Linux zipdeploy build (oryx.ts), for the runtime of functionAppConfig; its
    // output goes to the deployment log and, as for Kudu builds, to the app view's `builds`.
    const lines: string[] = [];
    const record = (outcome: BuildRecord['outcome']) =>
      keepBuild(site, { deploymentId: dep.result.id, time: kuduTime(), outcome, log: lines });
    try {
      built = await oryxBuild(zip, flexRuntime(site) ?? 'node', (line) => {
        lines.push(line);
        log(dep, line);
      });
    } catch (error) {
      record('failed');
      const message = (error as Error).message;
      dep.result.build_summary.errors.push(message);
      finish(ctx, site, dep, 3, `Remote build failed: ${message}`);
      return undefined;
    }
    record('succeeded');
    log(dep, '[Kudu-OryxBuildStep] completed.');
  }
  if (next?.outcome === 'failed') {
    finish(ctx, site, dep, 3, next.message ?? 'Deployment failed (forced by the sandbox control endpoint).');
    return undefined;
  }
  return built;
}

/** Writes released-package.zip; false when the write failed and the deployment was finished as failed. */
async function upload(
  ctx: Context,
  site: Site,
  dep: FlexDeployment,
  access: ContainerAccess,
  pkg: Buffer,
): Promise<boolean> {
  setPhase(dep, 2, 'Deploying.');
  const blob = access.client.getBlockBlobClient(RELEASED_PACKAGE);
  // The log of a successful upload (vscode-azurefunctions#4494, where the step still printed as
  // "[UploadPackageStep]"; later logs prefix every step with "Kudu-") [OBS].
  log(dep, `Created zip file with artifacts as /home/site/artifacts/${dep.result.id}.zip.`);
  log(dep, '[Kudu-UploadPackageStep] starting.');
  log(dep, 'Using Kudu.Legion.Core.Storage.BlobContainerStorage');
  log(dep, `Created blob name: ${RELEASED_PACKAGE}`);
  log(dep, `Created blob uri: ${blob.url}`);
  for (const line of access.log) log(dep, line);
  try {
    // One Put Blob: a refused write changes nothing, so the previous released-package.zip stays.
    await blob.uploadData(pkg, {
      blobHTTPHeaders: { blobContentType: 'application/zip' },
      abortSignal: ctx.blobAccess.signal,
    });
  } catch (error) {
    // azure-functions-core-tools#4346 log: "Failed to upload blob package to storage account with Error: Response
    // status code does not indicate success: 403 (…)" [ISSUE]; functions-action#390, public notes:
    // "BlobUploadFailedException" [ISSUE/OBS].
    const why = storageFailure(error).message;
    log(dep, `Failed to upload blob package to storage account with Error: ${why}`, 2);
    finish(ctx, site, dep, 3, `BlobUploadFailedException: Failed to upload blob to storage account: ${why}`);
    return false;
  }
  log(dep, '[Kudu-UploadPackageStep] completed.');
  recordEvent(site, 'publish', blob.url);
  return true;
}

async function run(ctx: Context, site: Site, dep: FlexDeployment, zip: Buffer): Promise<void> {
  const state = flexState(site);
  const next = state.next;
  state.next = undefined;
  const phase = Math.floor(state.config.deploymentDurationMs / 4);
  await ctx.timers.sleep(phase);
  const access = await validate(ctx, site, dep, next);
  if (!access) return;
  const pkg = await build(ctx, site, dep, zip, next);
  if (!pkg) return;
  await ctx.timers.sleep(phase);
  if (next?.outcome === 'cancelled') {
    finish(ctx, site, dep, -1, next.message ?? 'Deployment was cancelled.');
    return;
  }
  if (!(await upload(ctx, site, dep, access, pkg))) return;
  await ctx.timers.sleep(phase);
  // Learn "Site update strategies in Flex Consumption": Recreate "restarts all running instances after replacing
  // your code" [DOC]; RollingUpdate replaces them in batches, also a restart from the host's point of view.
  site.restartCount += 1;
  recordEvent(
    site,
    'restart',
    `Flex ${siteUpdateStrategy(site.app.functionAppConfig ?? {})} after deployment`,
  );
  // The recycle (host down, sync 400, then the list lagging with WarmUp only: functions-action#373,
  // azure-functions-host#10169 [ISSUE]) is the platform's, timed by recycleMs and listLagMs like any other site's.
  // Registering: the platform syncs the new triggers itself (below).
  void ctx.platform.reload(site, 'Flex deployment', { register: true });
  if (next?.outcome === 'partial') {
    // The package is live but the platform's trigger sync failed; the log line is the one Azure prints in that case
    // (Azure/Azure-Functions#2666) [ISSUE]. Mapping it to PartialSuccess (6) is [INF].
    finish(
      ctx,
      site,
      dep,
      6,
      next.message ??
        'Function triggers synchronization failed due to Response status code does not indicate success: 500 (Internal Server Error).',
    );
    return;
  }
  // The platform syncs triggers itself; Core Tools waits 60 s "so that Kudu finishes the sync trigger" [SRC].
  site.syncCount += 1;
  recordEvent(site, 'sync', 'after Flex deployment');
  log(dep, 'Syncing triggers.');
  await ctx.timers.sleep(state.config.deploymentDurationMs - 3 * phase);
  finish(ctx, site, dep, 4);
}

// ---- Kudu routes ---------------------------------------------------------------------------------------------

function render(dep: FlexDeployment, base: string, pathId = dep.result.id): Record<string, unknown> {
  return {
    ...dep.result,
    url: `${base}/api/deployments/${pathId}`,
    log_url: `${base}/api/deployments/${pathId}/log`,
  };
}

function renderLog(dep: FlexDeployment): Array<Record<string, unknown>> {
  return dep.log.map((entry) => ({ ...entry, details_url: null }));
}

function visible(site: Site): FlexDeployment[] {
  return flexState(site)
    .deployments.filter((d) => !d.recycled)
    .sort((a, b) => b.seq - a.seq);
}

function notFound(res: ServerResponse, id: string): void {
  // azd#4439 quotes the body of this 404: "Deployment 8ad0b7ed-… not found." [ISSUE].
  sendText(res, 404, `Deployment ${id} not found.`);
}

async function publish(
  ctx: Context,
  site: Site,
  req: IncomingMessage,
  res: ServerResponse,
  query: URLSearchParams,
  base: string,
): Promise<void> {
  const body = await readBody(req);
  if (lockHeld(site)) {
    // az cli on a 409: "There may be an ongoing deployment" [SRC custom.py]; the body's words are Kudu's [INF].
    sendText(res, 409, 'There is a deployment currently in progress. Please try again when it completes.');
    return;
  }
  const remoteBuild = /^true$/i.test(queryValue(query, 'RemoteBuild')?.trim() ?? '');
  const init: Partial<FlexDeployResult> = { remoteBuild };
  const deployer = queryValue(query, 'Deployer');
  if (deployer) init.deployer = deployer;
  const author = queryValue(query, 'author');
  if (author) init.author = author;
  const authorEmail = queryValue(query, 'authorEmail');
  if (authorEmail) init.author_email = authorEmail;
  const message = queryValue(query, 'message');
  if (message) init.message = message;
  const dep = newRecord(site, init);
  log(dep, 'Starting deployment pipeline.');
  log(
    dep,
    `[Kudu-SourcePackageUriDownloadStep] Skipping download. Zip package is present at /tmp/zipdeploy/${dep.result.id}.zip`,
  );
  void run(ctx, site, dep, body).catch((error: unknown) => {
    if (!dep.result.complete) finish(ctx, site, dep, 3, `Deployment failed: ${(error as Error).message}`);
  });
  // 202 with the id as a JSON string: azd json.Unmarshal's the body into a string, functions-action uses
  // response.body as the id [SRC]; the Location is what azd then polls [SRC azd, OBS azure-contract.md §H].
  sendJson(res, 202, dep.result.id, { Location: `${base}/api/deployments/${dep.result.id}` });
}

function latest(site: Site, req: IncomingMessage, res: ServerResponse, base: string): void {
  const all = visible(site);
  const pending = all.find((d) => !d.result.complete);
  if (pending) {
    // az cli's Flex poll reads a 202 from latest as "in progress" and a later 404 as "finished" [SRC custom.py].
    sendJson(res, 202, render(pending, base, 'latest'), {
      Location: `${base}${req.url ?? '/api/deployments/latest'}`,
    });
    return;
  }
  const done = all.reduce<FlexDeployment | undefined>(
    (best, d) => (best === undefined || (d.result.end_time ?? '') > (best.result.end_time ?? '') ? d : best),
    undefined,
  );
  if (done) sendJson(res, 200, render(done, base, 'latest'));
  else notFound(res, 'latest');
}

interface KuduTarget {
  /** Lower-cased path segments after the optional `api` prefix, and the same as sent. */
  s: string[];
  r: string[];
  api: boolean;
  method: string;
  base: string;
  query: URLSearchParams;
}

/** The Flex routes of a Flex site's SCM host; undefined for a path the generic Kudu routes serve. */
export function flexKuduRoute(
  ctx: Context,
  site: Site,
  req: IncomingMessage,
  res: ServerResponse,
  t: KuduTarget,
): { name: RouteName; run: () => Promise<void> } | undefined {
  const is = (...parts: string[]) =>
    t.s.length === parts.length && parts.every((p, i) => p === '*' || p === t.s[i]);
  const deployments = t.s[0] === 'deployments' && t.s.length <= 3 && t.method === 'GET';
  if (!(is('publish') && (t.method === 'POST' || t.method === 'PUT')) && !deployments) return undefined;
  if (!t.api) {
    // Core Tools switches to the `/api/...` deployment routes for Flex only (KuduLiteDeploymentHelpers: "if
    // (functionApp.IsFlex) deploymentUrl = api/deployments") [SRC]: the legacy unprefixed routes are absent [INF].
    return {
      name: is('publish') ? 'kudu.publish' : 'kudu.deployments.list',
      run: async () => {
        await drain(req);
        send(res, 404, undefined);
      },
    };
  }
  if (is('publish'))
    return { name: 'kudu.publish', run: () => publish(ctx, site, req, res, t.query, t.base) };
  if (is('deployments'))
    return {
      name: 'kudu.deployments.list',
      // Core Tools reads the newest record of this list to find the deployment id [SRC KuduLiteDeploymentHelpers].
      run: async () =>
        sendJson(
          res,
          200,
          visible(site).map((d) => render(d, t.base)),
        ),
    };
  if (is('deployments', 'latest'))
    return { name: 'kudu.deployments.latest', run: async () => latest(site, req, res, t.base) };
  const id = t.r[1] as string;
  const find = () => visible(site).find((d) => d.result.id.toLowerCase() === id.toLowerCase());
  if (is('deployments', '*'))
    return {
      name: 'kudu.deployments.get',
      // 200 whether running or done: "Server always returns status code of OK-200 whether the deployment is
      // in-progress or complete" (azd) [SRC].
      run: async () => {
        const dep = find();
        if (dep) sendJson(res, 200, render(dep, t.base));
        else notFound(res, id);
      },
    };
  if (is('deployments', '*', 'log'))
    return {
      name: 'kudu.deployments.log',
      run: async () => {
        const dep = find();
        if (dep) sendJson(res, 200, renderLog(dep));
        else notFound(res, id);
      },
    };
  return undefined;
}

// ---- control ---------------------------------------------------------------------------------------------------

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function msOrError(value: unknown, name: string): number | string | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > 600_000)
    return `${name} must be an integer from 0 to 600000`;
  return value;
}

function controlView(site: Site): Record<string, unknown> {
  const state = flexState(site);
  const base = `https://${site.kuduHost}`;
  return {
    app: label(site),
    ...state.config,
    nextOutcome: state.next?.outcome ?? null,
    functionAppConfig: site.app.functionAppConfig ?? null,
    deployments: [...state.deployments]
      .sort((a, b) => b.seq - a.seq)
      .map((d) => ({ ...render(d, base), recycled: d.recycled, log: renderLog(d) })),
  };
}

const CONTROL_FIELDS = ['deploymentDurationMs', 'recycleAfterMs', 'holdLockMs', 'nextOutcome', 'message'];
// warmupOnlyMs was this endpoint's own WarmUp window; the platform's list lag is that window now, and a caller still
// setting it learns where the knob is instead of being silently ignored.
const WARMUP_MOVED =
  "The WarmUp-only window after a Flex deployment is the platform's: set listLagMs (and recycleMs) with POST /_sandbox/apps/{app}/platform";

/** GET/POST /_sandbox/apps/{app}/flex. */
export async function flexControl(
  ctx: Context,
  site: Site,
  req: IncomingMessage,
  res: ServerResponse,
  method: string,
): Promise<void> {
  if (!isFlex(site)) {
    await drain(req);
    sendJson(res, 400, { error: `'${label(site)}' is not a Flex Consumption app` });
    return;
  }
  if (method === 'GET') {
    sendJson(res, 200, controlView(site));
    return;
  }
  if (method !== 'POST') {
    await drain(req);
    sendJson(res, 405, { error: 'GET or POST' });
    return;
  }
  const body = await readJson(req);
  if (!isObject(body)) {
    sendJson(res, 400, { error: 'body must be a JSON object' });
    return;
  }
  const unknown = Object.keys(body).filter((key) => !CONTROL_FIELDS.includes(key));
  if (unknown.length > 0)
    return sendJson(res, 400, {
      error: `unknown field(s) ${unknown.join(', ')}; known: ${CONTROL_FIELDS.join(', ')}${
        unknown.includes('warmupOnlyMs') ? `. ${WARMUP_MOVED}` : ''
      }`,
    });
  const duration = msOrError(body.deploymentDurationMs, 'deploymentDurationMs');
  const hold = msOrError(body.holdLockMs, 'holdLockMs');
  const recycle = body.recycleAfterMs === null ? null : msOrError(body.recycleAfterMs, 'recycleAfterMs');
  for (const value of [duration, hold, recycle])
    if (typeof value === 'string') return sendJson(res, 400, { error: value });
  const outcome = body.nextOutcome;
  if (outcome !== undefined && (typeof outcome !== 'string' || !(outcome in OUTCOMES)))
    return sendJson(res, 400, { error: `nextOutcome must be one of ${Object.keys(OUTCOMES).join(', ')}` });
  if (body.message !== undefined && (typeof body.message !== 'string' || body.message === ''))
    return sendJson(res, 400, { error: 'message must be a non-empty string' });
  const state = flexState(site);
  if (typeof duration === 'number') state.config.deploymentDurationMs = duration;
  if (recycle !== undefined) state.config.recycleAfterMs = recycle as number | null;
  if (outcome !== undefined)
    state.next = { outcome: outcome as Outcome, message: body.message as string | undefined };
  if (typeof hold === 'number' && hold > 0) {
    // Another client's deployment: it holds the lock, then ends without touching the container.
    const other = newRecord(site, { status: 1, deployer: 'Sandbox-Lock', message: 'Concurrent deployment' });
    log(other, `Holding the deployment lock for ${hold} ms.`);
    void ctx.timers.sleep(hold).then(() => finish(ctx, site, other, 4));
  }
  sendJson(res, 200, controlView(site));
}
