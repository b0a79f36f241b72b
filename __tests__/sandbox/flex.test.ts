import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { type FunctionEnvelope, RestError, WebSiteManagementClient } from '@azure/arm-appservice';
import type { TokenCredential } from '@azure/identity';
import { BlobServiceClient, type ContainerClient } from '@azure/storage-blob';
import JSZip from 'jszip';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FLEX_DEFAULTS } from '../../sandbox/appservice/flex.js';
import { type AppServiceHandle, parseSeed, startAppService } from '../../sandbox/appservice/index.js';
import { AZURITE_ACCOUNT, AZURITE_KEY, type AzuriteHandle, startAzurite } from '../../sandbox/azurite.js';
import { ensureCerts } from '../../sandbox/certs.js';

/**
 * Flex Consumption fidelity: the OneDeploy /api/publish endpoint and its records, the platform-written
 * released-package.zip under each authentication type, the failures Azure reports, remote build, and the realistic
 * platform on a Flex site (recycle after a publish, WarmUp-only list lag, host errors, Kudu seeing settings late).
 * Driven with the ARM SDK, @azure/storage-blob and fetch, as azd, az cli, Core Tools and functions-action do.
 */

const TOKEN = 'flex-test-token';
const RG = 'rg-sandbox';
const MI = 'func-flex';
const CONNSTR = 'func-flex-connstr';
const UAMI = 'func-flex-uami';
const PY = 'func-flex-python';
const NO_ID = 'flex-no-identity';
const UAMI_ID =
  '/subscriptions/00000000-0000-4000-8000-000000000001/resourceGroups/rg-sandbox/providers/Microsoft.ManagedIdentity/userAssignedIdentities/id-deploy';
const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

interface Record_ {
  id: string;
  status: number;
  status_text: string;
  complete: boolean;
  active: boolean;
  remoteBuild: boolean;
  deployer: string;
  author: string;
  message: string;
  url: string;
  log_url: string;
  site_name: string;
  end_time: string | null;
  last_success_end_time: string | null;
  build_summary: { errors: string[]; warnings: string[] };
}
interface LogLine {
  message: string;
  type: number;
  log_time: string;
  details_url: null;
}

let azurite: AzuriteHandle;
let sandbox: AppServiceHandle;
let client: WebSiteManagementClient;
let blobs: BlobServiceClient;

function credential(): TokenCredential {
  return { getToken: async () => ({ token: TOKEN, expiresOnTimestamp: Date.now() + 3_600_000 }) };
}

beforeAll(async () => {
  const certs = ensureCerts(process.env.SANDBOX_CERT_DIR as string);
  azurite = await startAzurite({ certs });
  const text = readFileSync(
    fileURLToPath(new URL('../../sandbox/apps.example.json', import.meta.url)),
    'utf8',
  )
    .replaceAll('${AZURITE_CONNECTION_STRING}', azurite.connectionString)
    .replaceAll('${AZURITE_BLOB_ENDPOINT}', azurite.blobEndpoint);
  const example = JSON.parse(text) as { apps: unknown[] };
  const noIdentity = {
    name: NO_ID,
    resourceGroup: RG,
    os: 'linux',
    plan: { name: 'plan-flex-no-identity', sku: 'FC1' },
    settings: { AzureWebJobsStorage: azurite.connectionString },
    functionAppConfig: {
      deployment: {
        storage: {
          type: 'blobContainer',
          value: `${azurite.blobEndpoint}/app-package-${NO_ID}`,
          authentication: { type: 'SystemAssignedIdentity' },
        },
      },
      runtime: { name: 'node', version: '20' },
    },
  };
  sandbox = await startAppService({
    seed: parseSeed({ ...example, apps: [...example.apps, noIdentity] }),
    tls: { key: certs.key, cert: certs.cert, ca: certs.ca },
    verifyBearer: (token) => token === TOKEN,
    blob: { account: AZURITE_ACCOUNT, key: AZURITE_KEY, endpoint: azurite.blobEndpoint },
  });
  client = new WebSiteManagementClient(credential(), sandbox.subscriptionId, {
    endpoint: sandbox.armEndpoint,
    retryOptions: { maxRetries: 0 },
  });
  blobs = BlobServiceClient.fromConnectionString(azurite.connectionString);
  for (const app of [MI, CONNSTR, UAMI, PY, NO_ID]) {
    await flexControl(app, { deploymentDurationMs: 120, recycleAfterMs: null });
    // Short but not zero: the shape of each delay stays, and tests that are not about it settle through it.
    await platform(app, FAST);
  }
});

afterAll(async () => {
  await sandbox?.close();
  await azurite?.stop();
});

// ---- helpers ---------------------------------------------------------------------------------------------

async function zipOf(files: Record<string, string>): Promise<Buffer> {
  const zip = new JSZip();
  for (const [path, content] of Object.entries(files)) zip.file(path, content);
  return zip.generateAsync({ type: 'nodebuffer' });
}

function nodeApp(tag: string): Promise<Buffer> {
  return zipOf({
    'host.json': JSON.stringify({ version: '2.0' }),
    'HttpHello/function.json': JSON.stringify({
      bindings: [
        { type: 'httpTrigger', direction: 'in', name: 'req', authLevel: 'function', route: 'hello' },
        { type: 'http', direction: 'out', name: 'res' },
      ],
    }),
    'HttpHello/index.js': `module.exports = async () => ({ body: '${tag}' });`,
  });
}

function pythonApp(requirements: string): Promise<Buffer> {
  return zipOf({
    'host.json': JSON.stringify({ version: '2.0' }),
    'requirements.txt': requirements,
    'HttpPy/function.json': JSON.stringify({
      scriptFile: '__init__.py',
      bindings: [
        { type: 'httpTrigger', direction: 'in', name: 'req', authLevel: 'anonymous' },
        { type: 'http', direction: 'out', name: '$return' },
      ],
    }),
    'HttpPy/__init__.py': 'import azure.functions as func\ndef main(req): return func.HttpResponse("ok")\n',
  });
}

async function control(method: string, path: string, body?: unknown): Promise<Response> {
  return fetch(`${sandbox.controlUrl}${path}`, {
    method,
    ...(body === undefined
      ? {}
      : { body: JSON.stringify(body), headers: { 'Content-Type': 'application/json' } }),
  });
}

const FAST = { recycleMs: 60, kuduSettingsDelayMs: 60, listLagMs: 40 };

/** Per-site platform timings (null restores the sandbox default). */
async function platform(app: string, body: Record<string, number | null>): Promise<void> {
  expect((await control('POST', `/apps/${app}/platform`, body)).status).toBe(200);
}

interface AppView {
  hostState: string;
  hostErrors: string[];
  syncCount: number;
  restartCount: number;
  builds: Array<{ deploymentId: string; outcome: string; log: string[] }>;
}

/** Waits until the host runs (or has failed), the list is complete and Kudu sees the current settings. */
async function settle(app: string): Promise<AppView> {
  const res = await control('POST', `/apps/${app}/settle`, { timeoutMs: 15_000 });
  expect(res.status).toBe(200);
  return (await res.json()) as AppView;
}

function arm(app: string, path: string, method = 'GET'): Promise<Response> {
  const site = `/subscriptions/${sandbox.subscriptionId}/resourceGroups/${RG}/providers/Microsoft.Web/sites/${app}`;
  return fetch(`${sandbox.armEndpoint}${site}/${path}?api-version=2024-04-01`, {
    method,
    headers: { Authorization: `Bearer ${TOKEN}` },
  });
}

async function flexControl(app: string, body: Record<string, unknown>): Promise<Record<string, unknown>> {
  const res = await control('POST', `/apps/${app}/flex`, body);
  expect(res.status).toBe(200);
  return (await res.json()) as Record<string, unknown>;
}

function kudu(app: string, path: string, init: RequestInit = {}): Promise<Response> {
  return fetch(`${sandbox.kuduUrl(app)}${path}`, {
    ...init,
    headers: { Authorization: `Bearer ${TOKEN}`, ...(init.headers as Record<string, string> | undefined) },
  });
}

async function publish(
  app: string,
  zip: Buffer,
  query = 'RemoteBuild=false&Deployer=sandbox_test',
): Promise<Response> {
  return kudu(app, `/api/publish?${query}`, {
    method: 'POST',
    body: zip,
    headers: { 'Content-Type': 'application/zip' },
  });
}

/** POST /api/publish answered 202; returns the deployment id from the JSON-string body. */
async function started(app: string, zip: Buffer, query?: string): Promise<string> {
  const res = await publish(app, zip, query);
  expect(res.status).toBe(202);
  const id = (await res.json()) as string;
  expect(id).toMatch(GUID);
  expect(res.headers.get('location')).toBe(`${sandbox.kuduUrl(app)}/api/deployments/${id}`);
  return id;
}

async function until<T>(
  read: () => Promise<T>,
  ok: (v: T) => boolean,
  what: string,
  ms = 10_000,
): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await read();
    if (ok(value)) return value;
    if (Date.now() > deadline)
      throw new Error(`Timed out waiting for ${what}; last: ${JSON.stringify(value)}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

async function record(app: string, id: string): Promise<Record_> {
  const res = await kudu(app, `/api/deployments/${id}`);
  expect(res.status).toBe(200);
  return (await res.json()) as Record_;
}

/** Polls the record as azd does (200 while running and when done) until it is complete. */
async function finished(app: string, id: string): Promise<{ final: Record_; seen: number[] }> {
  const seen: number[] = [];
  const final = await until(
    async () => {
      const r = await record(app, id);
      if (seen.at(-1) !== r.status) seen.push(r.status);
      return r;
    },
    (r) => r.complete,
    `deployment ${id} on ${app}`,
  );
  return { final, seen };
}

async function deployLog(app: string, id: string): Promise<LogLine[]> {
  const res = await kudu(app, `/api/deployments/${id}/log`);
  expect(res.status).toBe(200);
  return (await res.json()) as LogLine[];
}

function container(app: string): ContainerClient {
  return blobs.getContainerClient(`app-package-${app}`);
}

async function releasedPackage(app: string): Promise<Buffer | undefined> {
  const blob = container(app).getBlobClient('released-package.zip');
  return (await blob.exists()) ? blob.downloadToBuffer() : undefined;
}

async function functionNames(app: string): Promise<string[]> {
  const out: FunctionEnvelope[] = [];
  for await (const fn of client.webApps.listFunctions(RG, app)) out.push(fn);
  return out.map((fn) => (fn.name ?? '').split('/').at(-1) as string);
}

async function setSettings(app: string, patch: Record<string, string | undefined>): Promise<void> {
  const current = await client.webApps.listApplicationSettings(RG, app);
  const next: Record<string, string> = { ...(current.properties ?? {}) };
  for (const [key, value] of Object.entries(patch)) {
    if (value === undefined) delete next[key];
    else next[key] = value;
  }
  await client.webApps.updateApplicationSettings(RG, app, { properties: next });
  await settle(app);
}

/** Deploys a known package and waits for success: a baseline the failure tests must leave in place. */
async function baseline(app: string, tag: string): Promise<Buffer> {
  const zip = await nodeApp(tag);
  const { final } = await finished(app, await started(app, zip));
  expect(final.status).toBe(4);
  expect(await releasedPackage(app)).toEqual(zip);
  return zip;
}

// ---- ARM -----------------------------------------------------------------------------------------------------

describe('ARM view of a Flex app', () => {
  it('site: FlexConsumption, functionapp,linux, functionAppConfig per authentication type; plan FC1', async () => {
    const site = await client.webApps.get(RG, MI);
    expect(site.sku).toBe('FlexConsumption');
    expect(site.kind).toBe('functionapp,linux');
    expect(site.functionAppConfig?.deployment?.storage).toMatchObject({
      type: 'blobContainer',
      value: `${azurite.blobEndpoint}/app-package-${MI}`,
      authentication: { type: 'SystemAssignedIdentity' },
    });
    expect(site.functionAppConfig?.runtime).toEqual({ name: 'node', version: '20' });
    expect(
      (await client.webApps.get(RG, CONNSTR)).functionAppConfig?.deployment?.storage?.authentication,
    ).toEqual({
      type: 'StorageAccountConnectionString',
      storageAccountConnectionStringName: 'DEPLOYMENT_STORAGE_CONNECTION_STRING',
    });
    expect(
      (await client.webApps.get(RG, UAMI)).functionAppConfig?.deployment?.storage?.authentication,
    ).toEqual({
      type: 'UserAssignedIdentity',
      userAssignedIdentityResourceId: UAMI_ID,
    });
    const plan = await client.appServicePlans.get(RG, 'plan-flex');
    expect(plan.sku).toMatchObject({ name: 'FC1', tier: 'FlexConsumption' });
  });

  it('app settings list and replace as on other apps; FUNCTIONS_WORKER_RUNTIME is refused', async () => {
    await setSettings(MI, { FLEX_MARKER: 'one' });
    expect((await client.webApps.listApplicationSettings(RG, MI)).properties?.FLEX_MARKER).toBe('one');
    const refused = await client.webApps
      .updateApplicationSettings(RG, MI, { properties: { FUNCTIONS_WORKER_RUNTIME: 'node' } })
      .catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(RestError);
    expect((refused as RestError).statusCode).toBe(400);
    expect((refused as RestError).message).toContain(
      'The following app setting (Site.SiteConfig.AppSettings.FUNCTIONS_WORKER_RUNTIME) for Flex Consumption sites is invalid',
    );
    expect((await client.webApps.listApplicationSettings(RG, MI)).properties?.FLEX_MARKER).toBe('one');
    await setSettings(MI, { FLEX_MARKER: undefined });
  });

  it('POST syncfunctiontriggers works (the SDK throws on the 200, as against Azure)', async () => {
    await settle(MI);
    const before = (await (await control('GET', `/apps/${MI}`)).json()) as { syncCount: number };
    const error = await client.webApps.syncFunctionTriggers(RG, MI).catch((e: unknown) => e);
    expect(error === undefined || (error as RestError).statusCode === 200).toBe(true);
    const after = (await (await control('GET', `/apps/${MI}`)).json()) as { syncCount: number };
    expect(after.syncCount).toBe(before.syncCount + 1);
  });
});

// ---- publish -----------------------------------------------------------------------------------------------

describe('POST /api/publish end to end', () => {
  it.each([
    [MI, 'SystemAssignedIdentity', 'Received Token using system assigned identity'],
    [
      CONNSTR,
      'StorageAccountConnectionString',
      "Using the connection string in app setting 'DEPLOYMENT_STORAGE_CONNECTION_STRING'.",
    ],
    [UAMI, 'UserAssignedIdentity', `Received Token using user assigned identity '${UAMI_ID}'`],
  ])(
    '%s (%s): 202 + id, record to status 4, released-package.zip written by the platform, functions live',
    async (app, _auth, authLine) => {
      const before = await settle(app);
      const zip = await nodeApp(app);
      // Long enough that the first poll lands before the first phase ends, whatever the machine's load.
      await flexControl(app, { deploymentDurationMs: 800 });
      const id = await started(app, zip);
      const { final, seen } = await finished(app, id);
      await flexControl(app, { deploymentDurationMs: 120 });
      expect(seen[0]).toBe(0);
      expect(seen.at(-1)).toBe(4);
      expect(final).toMatchObject({
        id,
        status: 4,
        status_text: '',
        complete: true,
        active: true,
        remoteBuild: false,
        deployer: 'sandbox_test',
        site_name: app,
        is_temp: false,
        build_summary: { errors: [], warnings: [] },
        url: `${sandbox.kuduUrl(app)}/api/deployments/${id}`,
        log_url: `${sandbox.kuduUrl(app)}/api/deployments/${id}/log`,
      });
      expect(final.end_time).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{7}Z$/);
      expect(final.last_success_end_time).toBe(final.end_time);
      expect(await releasedPackage(app)).toEqual(zip);
      const log = (await deployLog(app, id)).map((l) => l.message);
      expect(log).toEqual(
        expect.arrayContaining([
          'Starting deployment pipeline.',
          '[Kudu-ValidationStep] completed.',
          authLine,
          'Created blob name: released-package.zip',
          `Created blob uri: ${azurite.blobEndpoint}/app-package-${app}/released-package.zip`,
          'Deployment completed successfully.',
        ]),
      );
      // The platform synced triggers and restarted the instances itself; the host runs released-package.zip.
      const after = await settle(app);
      expect(after.syncCount).toBe(before.syncCount + 1);
      expect(after.restartCount).toBe(before.restartCount + 1);
      expect(after.hostState).toBe('Running');
      expect(await functionNames(app)).toEqual(['HttpHello']);
    },
  );

  it('query keys are case-insensitive, basic auth works where the app allows it, list and latest see the record', async () => {
    await flexControl(CONNSTR, { deploymentDurationMs: 800 });
    const user = await client.webApps.listPublishingCredentials(RG, CONNSTR);
    const basic = `Basic ${Buffer.from(`${user.publishingUserName}:${user.publishingPassword}`).toString('base64')}`;
    const res = await fetch(
      `${sandbox.kuduUrl(CONNSTR)}/api/publish?remotebuild=False&deployer=az_cli&isAsync=true`,
      {
        method: 'POST',
        body: await nodeApp('basic'),
        headers: { Authorization: basic, 'Content-Type': 'application/zip' },
      },
    );
    expect(res.status).toBe(202);
    const id = (await res.json()) as string;
    const running = await kudu(CONNSTR, '/api/deployments/latest');
    expect(running.status).toBe(202);
    expect(((await running.json()) as Record_).id).toBe(id);
    const { final } = await finished(CONNSTR, id);
    await flexControl(CONNSTR, { deploymentDurationMs: 120 });
    expect(final).toMatchObject({ deployer: 'az_cli', remoteBuild: false, status: 4 });
    const latest = await kudu(CONNSTR, '/api/deployments/latest');
    expect(latest.status).toBe(200);
    expect((await latest.json()) as Record_).toMatchObject({
      id,
      url: `${sandbox.kuduUrl(CONNSTR)}/api/deployments/latest`,
    });
    const list = (await (await kudu(CONNSTR, '/api/deployments')).json()) as Record_[];
    expect(list[0]?.id).toBe(id);
    expect(list.filter((r) => r.active)).toHaveLength(1);
  });

  it('409 while another deployment runs, whether a real one or one the control endpoint holds', async () => {
    await flexControl(MI, { deploymentDurationMs: 1_000 });
    const id = await started(MI, await nodeApp('first'));
    const second = await publish(MI, await nodeApp('second'));
    expect(second.status).toBe(409);
    await flexControl(MI, { deploymentDurationMs: 120 });
    expect((await finished(MI, id)).final.status).toBe(4);

    await flexControl(MI, { holdLockMs: 400 });
    expect((await publish(MI, await nodeApp('blocked'))).status).toBe(409);
    const held = (await (await kudu(MI, '/api/deployments/latest')).json()) as Record_;
    expect(held).toMatchObject({ deployer: 'Sandbox-Lock', complete: false });
    await finished(MI, held.id);
    expect((await publish(MI, await nodeApp('free'))).status).toBe(202);
    await until(
      async () => ((await (await kudu(MI, '/api/deployments/latest')).json()) as Record_).complete,
      (done) => done,
      'the deployment after the lock',
    );
  });

  it('the worker recycles after completion: record, log and latest answer 404 from then on', async () => {
    const never = await kudu(NO_ID, '/api/deployments/latest');
    expect(never.status).toBe(404);
    expect(await never.text()).toBe('Deployment latest not found.');
    // Records finished before the switch keep the setting they finished under: recycleAfterMs null.
    const older = ((await (await kudu(UAMI, '/api/deployments/latest')).json()) as Record_).id;
    await flexControl(UAMI, { recycleAfterMs: 300 });
    const id = await started(UAMI, await nodeApp('recycled'));
    const { final } = await finished(UAMI, id);
    expect(final.status).toBe(4);
    const gone = await until(
      () => kudu(UAMI, `/api/deployments/${id}`),
      (res) => res.status !== 200,
      'the recycle',
    );
    expect(gone.status).toBe(404);
    expect(await gone.text()).toBe(`Deployment ${id} not found.`);
    expect((await kudu(UAMI, `/api/deployments/${id}/log`)).status).toBe(404);
    const latest = await kudu(UAMI, '/api/deployments/latest');
    expect(latest.status).toBe(200);
    expect(((await latest.json()) as Record_).id).toBe(older);
    expect(
      ((await (await kudu(UAMI, '/api/deployments')).json()) as Record_[]).map((r) => r.id),
    ).not.toContain(id);
    // The package stays released: the recycle loses the record, not the deployment.
    await settle(UAMI);
    expect(await functionNames(UAMI)).toEqual(['HttpHello']);
    await flexControl(UAMI, { recycleAfterMs: null });
  });
});

// ---- failures ------------------------------------------------------------------------------------------------

describe('failed deployments leave the previous released-package.zip in place', () => {
  it.each([
    ['failed', 3, 'Build step exploded (test).'],
    ['conflict', 5, 'Deployment was cancelled because another deployment is in progress.'],
    ['cancelled', -1, 'Deployment was cancelled.'],
  ] as const)('nextOutcome %s ends in status %i with a log', async (outcome, status, message) => {
    const previous = await baseline(MI, `before-${outcome}`);
    await flexControl(
      MI,
      outcome === 'failed' ? { nextOutcome: outcome, message } : { nextOutcome: outcome },
    );
    const id = await started(MI, await nodeApp(`after-${outcome}`));
    const { final } = await finished(MI, id);
    expect(final).toMatchObject({ status, status_text: message, complete: true, active: false });
    expect(final.last_success_end_time).toBeNull();
    expect(await deployLog(MI, id)).toEqual(
      expect.arrayContaining([expect.objectContaining({ message, type: 2 })]),
    );
    expect(await releasedPackage(MI)).toEqual(previous);
    // The switch applies to one deployment only.
    expect((await finished(MI, await started(MI, await nodeApp('next')))).final.status).toBe(4);
  });

  it('nextOutcome partial: status 6, the package is live but the trigger sync failed', async () => {
    await baseline(MI, 'before-partial');
    await flexControl(MI, { nextOutcome: 'partial' });
    const zip = await nodeApp('partial');
    const id = await started(MI, zip);
    const { final } = await finished(MI, id);
    expect(final.status).toBe(6);
    expect(final.status_text).toContain('Function triggers synchronization failed');
    expect(await releasedPackage(MI)).toEqual(zip);
  });

  it.each([
    ['WEBSITE_RUN_FROM_PACKAGE', '1'],
    ['WEBSITE_RUN_FROM_ZIP', 'https://127.0.0.1/x.zip'],
  ])('%s present: status 3 "App setting … is not supported"', async (name, value) => {
    const previous = await baseline(MI, `before-${name}`);
    await setSettings(MI, { [name]: value });
    const id = await started(MI, await nodeApp(name));
    const { final } = await finished(MI, id);
    expect(final.status).toBe(3);
    expect(final.status_text).toMatch(new RegExp(`^App setting ${name} is not supported`));
    expect(await releasedPackage(MI)).toEqual(previous);
    await setSettings(MI, { [name]: undefined });
  });

  it('StorageAccountConnectionString: a missing app setting and a wrong key both fail the deployment', async () => {
    const previous = await baseline(CONNSTR, 'before-connstr');
    const good = (await client.webApps.listApplicationSettings(RG, CONNSTR)).properties
      ?.DEPLOYMENT_STORAGE_CONNECTION_STRING as string;
    await setSettings(CONNSTR, { DEPLOYMENT_STORAGE_CONNECTION_STRING: undefined });
    const missing = (await finished(CONNSTR, await started(CONNSTR, await nodeApp('missing')))).final;
    expect(missing.status).toBe(3);
    expect(missing.status_text).toMatch(
      /^InaccessibleStorageException: .*'DEPLOYMENT_STORAGE_CONNECTION_STRING'/,
    );

    const wrongKey = good.replace(/AccountKey=[^;]+/, `AccountKey=${Buffer.alloc(64, 7).toString('base64')}`);
    await setSettings(CONNSTR, { DEPLOYMENT_STORAGE_CONNECTION_STRING: wrongKey });
    try {
      const id = await started(CONNSTR, await nodeApp('wrong-key'));
      const refused = (await finished(CONNSTR, id)).final;
      expect(refused.status).toBe(3);
      expect(refused.status_text).toMatch(
        // Azure answers a bad signature with 403 AuthenticationFailed; Azurite, started with --oauth, with 400
        // InvalidAuthenticationInfo (its token authenticator rejects the SharedKey header after the key check fails).
        /^InaccessibleStorageException: Failed to access storage account for deployment: BlobUploadFailedException: Failed to upload blob to storage account: Response status code does not indicate success: 40[03] /,
      );
      expect((await deployLog(CONNSTR, id)).map((l) => l.message)).toEqual(
        expect.arrayContaining([
          expect.stringMatching(/^\[StorageAccessibleCheck\] Error while checking access/),
        ]),
      );
      expect(await releasedPackage(CONNSTR)).toEqual(previous);
    } finally {
      await setSettings(CONNSTR, { DEPLOYMENT_STORAGE_CONNECTION_STRING: good });
    }
  });

  it('an identity that is not assigned to the app gets no token: status 3', async () => {
    const id = await started(NO_ID, await nodeApp('no-identity'));
    const { final } = await finished(NO_ID, id);
    expect(final.status).toBe(3);
    expect(final.status_text).toContain('system assigned identity is not enabled');
    expect(await releasedPackage(NO_ID)).toBeUndefined();
  });

  it('a write the storage refuses at upload (a leased blob): BlobUploadFailedException, previous package kept', async () => {
    const previous = await baseline(UAMI, 'before-lease');
    const lease = container(UAMI).getBlobClient('released-package.zip').getBlobLeaseClient();
    await lease.acquireLease(-1);
    try {
      const id = await started(UAMI, await nodeApp('leased'));
      const { final } = await finished(UAMI, id);
      expect(final.status).toBe(3);
      expect(final.status_text).toMatch(
        /^BlobUploadFailedException: Failed to upload blob to storage account: Response status code does not indicate success: 412 /,
      );
      expect((await deployLog(UAMI, id)).map((l) => l.message)).toEqual(
        expect.arrayContaining([
          expect.stringMatching(/^Failed to upload blob package to storage account with Error: /),
        ]),
      );
    } finally {
      await lease.releaseLease();
    }
    expect(await releasedPackage(UAMI)).toEqual(previous);
  });

  it('a deleted deployment container: 404 (The specified container does not exist.)', async () => {
    await container(PY).deleteIfExists();
    try {
      const { final } = await finished(PY, await started(PY, await pythonApp('')));
      expect(final.status).toBe(3);
      expect(final.status_text).toContain(
        'Response status code does not indicate success: 404 (The specified container does not exist.).',
      );
    } finally {
      await container(PY).createIfNotExists();
    }
  });

  it('a body that is not a zip fails at extraction', async () => {
    const { final } = await finished(MI, await started(MI, Buffer.from('not a zip')));
    expect(final.status).toBe(3);
    expect(final.status_text).toMatch(/^Failed to extract the zip package/);
  });
});

// ---- remote build ------------------------------------------------------------------------------------------

describe('remote build (Python)', () => {
  const SITE = '.python_packages/lib/site-packages';

  it('RemoteBuild=true installs requirements.txt into .python_packages from the Oryx fixture index', async () => {
    const zip = await pythonApp('azure-functions\nRequests==2.32.0  # pinned\n');
    const id = await started(PY, zip, 'RemoteBuild=true&Deployer=az_cli');
    const { final } = await finished(PY, id);
    expect(final).toMatchObject({ status: 4, remoteBuild: true });
    const built = await JSZip.loadAsync((await releasedPackage(PY)) as Buffer);
    // sandbox/oryx-index: the import packages and their dist-info, as pip lays them out.
    expect(built.file(`${SITE}/azure/functions/__init__.py`)).not.toBeNull();
    expect(built.file(`${SITE}/requests/__init__.py`)).not.toBeNull();
    expect(built.file(`${SITE}/requests-2.32.3.dist-info/METADATA`)).not.toBeNull();
    expect(built.file('HttpPy/__init__.py')).not.toBeNull();
    const log = (await deployLog(PY, id)).map((l) => l.message);
    expect(log).toEqual(
      expect.arrayContaining([
        '[Kudu-OryxBuildStep] starting.',
        'Operation performed by Microsoft Oryx, https://github.com/Microsoft/Oryx',
        expect.stringMatching(/ Successfully installed azure-functions-1\.21\.3 Requests-2\.32\.3$/),
        '[Kudu-OryxBuildStep] completed.',
      ]),
    );
    const view = await settle(PY);
    expect(view.hostState).toBe('Running');
    expect(view.builds.at(-1)).toMatchObject({ deploymentId: id, outcome: 'succeeded' });
    expect(await functionNames(PY)).toEqual(['HttpPy']);
  });

  it('RemoteBuild=false releases the package as is: the host fails on the missing module, status Error', async () => {
    const zip = await pythonApp('azure-functions\nrequests\n');
    const { final } = await finished(PY, await started(PY, zip, 'RemoteBuild=false'));
    // The deployment does not load the app: it succeeds, and the host fails afterwards.
    expect(final).toMatchObject({ status: 4, remoteBuild: false });
    expect(await releasedPackage(PY)).toEqual(zip);
    const view = await settle(PY);
    expect(view.hostState).toBe('Error');
    expect(view.hostErrors[0]).toContain("ModuleNotFoundError: No module named 'requests'");
    const status = await arm(PY, 'hostruntime/admin/host/status');
    expect(status.status).toBe(200);
    expect((await status.json()) as { state: string; errors: string[] }).toMatchObject({
      state: 'Error',
      errors: [expect.stringContaining('ModuleNotFoundError')],
    });
    const listed = await client.webApps
      .listFunctions(RG, PY)
      .next()
      .catch((e: unknown) => e);
    expect((listed as RestError).statusCode).toBe(400);
    expect((await arm(PY, 'hostruntime/admin/host/synctriggers', 'POST')).status).toBe(400);
  });

  it("an unknown requirement fails the build with pip's words; the previous package stays", async () => {
    const previous = (await releasedPackage(PY)) as Buffer;
    const id = await started(PY, await pythonApp('azure-functions\nno-such-package\n'), 'remoteBuild=True');
    const { final } = await finished(PY, id);
    expect(final.status).toBe(3);
    expect(final.build_summary.errors).toEqual([
      'ERROR: Could not find a version that satisfies the requirement no-such-package (from versions: none)',
    ]);
    expect((await deployLog(PY, id)).map((l) => l.message)).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/ ERROR: No matching distribution found for no-such-package$/),
      ]),
    );
    expect(await releasedPackage(PY)).toEqual(previous);
    expect((await settle(PY)).builds.at(-1)).toMatchObject({ deploymentId: id, outcome: 'failed' });
  });

  it('SCM_DO_BUILD_DURING_DEPLOYMENT and ENABLE_ORYX_BUILD are ignored with a warning: no build without RemoteBuild', async () => {
    await setSettings(PY, { SCM_DO_BUILD_DURING_DEPLOYMENT: 'true', ENABLE_ORYX_BUILD: 'true' });
    const zip = await pythonApp('azure-functions\n');
    const id = await started(PY, zip, 'RemoteBuild=false');
    const { final } = await finished(PY, id);
    expect(final.status).toBe(4);
    expect(final.build_summary.warnings).toEqual([
      expect.stringMatching(/^App setting SCM_DO_BUILD_DURING_DEPLOYMENT is not used on Flex Consumption/),
      expect.stringMatching(/^App setting ENABLE_ORYX_BUILD is not used on Flex Consumption/),
    ]);
    expect((await deployLog(PY, id)).filter((l) => l.type === 1)).toHaveLength(2);
    expect(await releasedPackage(PY)).toEqual(zip);
    await setSettings(PY, { SCM_DO_BUILD_DURING_DEPLOYMENT: undefined, ENABLE_ORYX_BUILD: undefined });
  });
});

// ---- routes and the host ---------------------------------------------------------------------------------------

describe('Flex SCM routes and the host', () => {
  it('/api/zipdeploy and the unprefixed deployment routes answer 404', async () => {
    const zipdeploy = await kudu(MI, '/api/zipdeploy?isAsync=true', {
      method: 'POST',
      body: await nodeApp('zd'),
    });
    expect(zipdeploy.status).toBe(404);
    expect(await zipdeploy.text()).toBe('');
    expect((await kudu(MI, '/deployments')).status).toBe(404);
    const missing = await kudu(MI, '/api/deployments/00000000-0000-0000-0000-000000000000');
    expect(missing.status).toBe(404);
    expect(await missing.text()).toBe('Deployment 00000000-0000-0000-0000-000000000000 not found.');
  });

  it('a publish recycles the host: syncs answer 400 and the list shows only WarmUp until recycle and list lag pass', async () => {
    await settle(CONNSTR);
    await platform(CONNSTR, { recycleMs: 1_500, listLagMs: 700 });
    try {
      const { final } = await finished(CONNSTR, await started(CONNSTR, await nodeApp('warm')));
      expect(final.status).toBe(4);
      const completedAt = Date.now();
      // The record is complete while the instances restart on the new package.
      expect(await functionNames(CONNSTR)).toEqual(['WarmUp']);
      expect((await arm(CONNSTR, 'hostruntime/admin/host/synctriggers', 'POST')).status).toBe(400);
      const live = await until(
        () => functionNames(CONNSTR),
        (names) => names[0] !== 'WarmUp',
        'the real functions',
      );
      expect(live).toEqual(['HttpHello']);
      expect(Date.now() - completedAt).toBeGreaterThan(1_000);
      expect((await arm(CONNSTR, 'hostruntime/admin/host/synctriggers', 'POST')).status).toBe(200);
    } finally {
      await platform(CONNSTR, FAST);
    }
  });

  it('Kudu reads WEBSITE_RUN_FROM_PACKAGE late: a publish right after the change does not see it', async () => {
    await baseline(MI, 'before-late');
    await platform(MI, { kuduSettingsDelayMs: 60_000 });
    const current = (await client.webApps.listApplicationSettings(RG, MI)).properties ?? {};
    await client.webApps.updateApplicationSettings(RG, MI, {
      properties: { ...current, WEBSITE_RUN_FROM_PACKAGE: '1' },
    });
    try {
      const unseen = (await finished(MI, await started(MI, await nodeApp('unseen')))).final;
      expect(unseen.status).toBe(4);
      await platform(MI, FAST);
      await settle(MI);
      const seen = (await finished(MI, await started(MI, await nodeApp('seen')))).final;
      expect(seen.status).toBe(3);
      expect(seen.status_text).toMatch(/^App setting WEBSITE_RUN_FROM_PACKAGE is not supported/);
    } finally {
      await platform(MI, FAST);
      await setSettings(MI, { WEBSITE_RUN_FROM_PACKAGE: undefined });
    }
  });

  it('defaults: 600 ms per deployment, records recycle 1.5 s after completion', () => {
    expect(FLEX_DEFAULTS).toEqual({ deploymentDurationMs: 600, recycleAfterMs: 1_500 });
  });

  it('the control endpoint validates its input and knows only Flex apps', async () => {
    expect((await control('POST', `/apps/${MI}/flex`, { nextOutcome: 'exploded' })).status).toBe(400);
    expect((await control('POST', `/apps/${MI}/flex`, { deploymentDurationMs: -1 })).status).toBe(400);
    // The WarmUp window is the platform's list lag; the old knob is refused with a pointer to it.
    const moved = await control('POST', `/apps/${MI}/flex`, { warmupOnlyMs: 0 });
    expect(moved.status).toBe(400);
    expect(((await moved.json()) as { error: string }).error).toContain('listLagMs');
    expect((await control('POST', `/apps/func-win-ep/flex`, {})).status).toBe(400);
    const view = (await (await control('GET', `/apps/${MI}/flex`)).json()) as { deployments: unknown[] };
    expect(view.deployments.length).toBeGreaterThan(0);
  });
});
