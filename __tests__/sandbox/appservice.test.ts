import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { type FunctionEnvelope, RestError, WebSiteManagementClient } from '@azure/arm-appservice';
import type { TokenCredential } from '@azure/identity';
import { BlobSASPermissions, BlobServiceClient } from '@azure/storage-blob';
import JSZip from 'jszip';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  type AppServiceHandle,
  parseSeed,
  type SandboxSeed,
  startAppService,
} from '../../sandbox/appservice/index.js';
import { AZURITE_ACCOUNT, AZURITE_KEY, type AzuriteHandle, startAzurite } from '../../sandbox/azurite.js';
import { ensureCerts } from '../../sandbox/certs.js';

// ---- helpers -------------------------------------------------------------------------------------------

const TOKEN = 'sandbox-test-token';
const RG = 'rg-sandbox';
const EP = 'func-win-ep';
const WIN_Y1 = 'func-win-consumption';
const LINUX_Y1 = 'func-linux-consumption';
const LINUX_P1 = 'func-linux-dedicated';
const FLEX = 'func-flex';
const LEGACY = 'func-win-legacy-url';
const SYSTEM_MESSAGE = 'Encountered an error (ServiceUnavailable) from host runtime.';
const FAST = { recycleMs: 150, kuduSettingsDelayMs: 150, listLagMs: 80 };

function credential(token = TOKEN): TokenCredential {
  return { getToken: async () => ({ token, expiresOnTimestamp: Date.now() + 3_600_000 }) };
}

function placeholder(name: string): string {
  return `\${${name}}`;
}

/** The example seed with its placeholders substituted, as the sandbox CLI does. */
function exampleSeed(azurite: AzuriteHandle): SandboxSeed {
  const text = readFileSync(
    fileURLToPath(new URL('../../sandbox/apps.example.json', import.meta.url)),
    'utf8',
  )
    .replaceAll(placeholder('AZURITE_CONNECTION_STRING'), azurite.connectionString)
    .replaceAll(placeholder('AZURITE_BLOB_ENDPOINT'), azurite.blobEndpoint);
  return parseSeed(JSON.parse(text));
}

async function zipOf(files: Record<string, string>): Promise<Buffer> {
  const zip = new JSZip();
  for (const [path, content] of Object.entries(files)) zip.file(path, content);
  return zip.generateAsync({ type: 'nodebuffer' });
}

/** Classic (function.json) package: an HTTP function with a custom route and a timer. */
function classicApp(tag = 'v1'): Promise<Buffer> {
  return zipOf({
    'host.json': JSON.stringify({ version: '2.0' }),
    'HttpHello/function.json': JSON.stringify({
      bindings: [
        {
          type: 'httpTrigger',
          direction: 'in',
          name: 'req',
          authLevel: 'function',
          methods: ['get'],
          route: 'hello',
        },
        { type: 'http', direction: 'out', name: 'res' },
      ],
    }),
    'HttpHello/index.js': `module.exports = async () => ({ body: '${tag}' });`,
    'TimerTick/function.json': JSON.stringify({
      bindings: [{ type: 'timerTrigger', direction: 'in', name: 'myTimer', schedule: '0 */5 * * * *' }],
    }),
    'TimerTick/index.js': 'module.exports = async () => {};',
  });
}

/** Node v4 programming-model package whose package.json `main` is a glob. */
function v4App(): Promise<Buffer> {
  return zipOf({
    'host.json': JSON.stringify({ version: '2.0' }),
    'package.json': JSON.stringify({ name: 'app', main: 'src/functions/*.js' }),
    'src/functions/hello.js':
      "const { app } = require('@azure/functions');\napp.http('helloV4', { methods: ['GET'], handler: async () => ({ body: 'hi' }) });\n",
    'src/functions/queue.js':
      "const { app } = require('@azure/functions');\napp.storageQueue( \"onQueue\", { queueName: 'q', connection: 'AzureWebJobsStorage', handler: async () => {} });\n",
    'src/lib/not-main.js': "app.http('ignored', {});",
  });
}

async function until<T>(
  read: () => Promise<T>,
  ok: (value: T) => boolean,
  what: string,
  timeoutMs = 15_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await read();
    if (ok(value)) return value;
    if (Date.now() > deadline)
      throw new Error(`Timed out waiting for ${what}; last value: ${JSON.stringify(value)}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

function basic(user: string, password: string): string {
  return `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
}

async function rejection(promise: Promise<unknown>): Promise<RestError> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof RestError) return error;
    throw error;
  }
  throw new Error('expected the call to fail');
}

async function collect(iterator: AsyncIterable<FunctionEnvelope>): Promise<FunctionEnvelope[]> {
  const out: FunctionEnvelope[] = [];
  for await (const item of iterator) out.push(item);
  return out;
}

// ---- fixture ---------------------------------------------------------------------------------------------

let azurite: AzuriteHandle;
let sandbox: AppServiceHandle;
let client: WebSiteManagementClient;
let releases: BlobServiceClient;
const passwords = new Map<string, string>();

beforeAll(async () => {
  const certs = ensureCerts(process.env.SANDBOX_CERT_DIR as string);
  azurite = await startAzurite({ certs });
  sandbox = await startAppService({
    seed: exampleSeed(azurite),
    tls: { key: certs.key, cert: certs.cert, ca: certs.ca },
    verifyBearer: (token) => token === TOKEN,
    blob: { account: AZURITE_ACCOUNT, key: AZURITE_KEY },
  });
  client = new WebSiteManagementClient(credential(), sandbox.subscriptionId, {
    endpoint: sandbox.armEndpoint,
    retryOptions: { maxRetries: 0 },
  });
  releases = BlobServiceClient.fromConnectionString(azurite.connectionString);
  await releases.getContainerClient('function-releases').createIfNotExists();
  // The recycle, Kudu's settings delay and the list lag keep their shape here but are compressed further than the
  // defaults; platform-realism.test.ts holds them at their defaults.
  await control('POST', '/config', FAST);
});

afterAll(async () => {
  await sandbox?.close();
  await azurite?.stop();
});

afterEach(async () => {
  await fetch(`${sandbox.controlUrl}/faults`, { method: 'DELETE' });
  await control('POST', '/config', { syncTriggersStatus: 200 });
});

async function control(method: string, path: string, body?: unknown): Promise<Response> {
  return fetch(`${sandbox.controlUrl}${path}`, {
    method,
    ...(body === undefined
      ? {}
      : { body: JSON.stringify(body), headers: { 'Content-Type': 'application/json' } }),
  });
}

/** The fields of GET /_sandbox/apps/{name} the tests read. */
interface AppStateJson {
  settings: Record<string, string>;
  state: string;
  restartCount: number;
  syncCount: number;
  events: Array<{ type: string; detail?: string }>;
  deployments: Array<Record<string, unknown>>;
  sitePackages: string[];
  packageName: string | null;
  packageSource: string | null;
  wwwroot: boolean;
  functions: Array<{ name: string; trigger: string | null }>;
  hostError: string | null;
}

async function appState(app: string, slot?: string): Promise<AppStateJson> {
  const res = await control('GET', `/apps/${app}${slot ? `?slot=${slot}` : ''}`);
  expect(res.status).toBe(200);
  return (await res.json()) as AppStateJson;
}

/** Waits out the recycle, the list lag and Kudu's settings delay (bounded by the control endpoint). */
async function settle(app: string, slot?: string): Promise<AppStateJson> {
  const res = await control('POST', `/apps/${app}/settle${slot ? `?slot=${slot}` : ''}`, {
    timeoutMs: 10_000,
  });
  expect(res.status).toBe(200);
  return (await res.json()) as AppStateJson;
}

/** A restart makes the host load the package and register its triggers (on Linux Consumption, the ARM list). */
async function restartAndSettle(app: string): Promise<void> {
  await client.webApps.restart(rgOf(app), app);
  await settle(app);
}

async function passwordOf(app: string, slot?: string): Promise<string> {
  const key = `${app}/${slot ?? ''}`;
  if (!passwords.has(key)) {
    const user = slot
      ? await client.webApps.listPublishingCredentialsSlot(rgOf(app), app, slot)
      : await client.webApps.listPublishingCredentials(rgOf(app), app);
    passwords.set(key, user.publishingPassword as string);
  }
  return passwords.get(key) as string;
}

/** A Kudu request with the app's basic credentials (or the given Authorization). */
async function kudu(
  app: string,
  path: string,
  init: RequestInit & { slot?: string; auth?: string } = {},
): Promise<Response> {
  const { slot, auth, ...rest } = init;
  const user = slot ? `$${app}__${slot}` : `$${app}`;
  const authorization = auth ?? basic(user, await passwordOf(app, slot));
  return fetch(`${sandbox.kuduUrl(app, slot)}${path}`, {
    ...rest,
    headers: { Authorization: authorization, ...(rest.headers as Record<string, string> | undefined) },
  });
}

function arm(path: string, init: RequestInit = {}, token = TOKEN): Promise<Response> {
  return fetch(`${sandbox.armEndpoint}${path}`, {
    ...init,
    headers: { Authorization: `Bearer ${token}`, ...(init.headers as Record<string, string> | undefined) },
  });
}

function rgOf(app: string): string {
  return app === LEGACY ? 'rg-legacy' : RG;
}

/** The host error of GET functions, read raw: the SDK pager keeps only "Pagination failed with … 400". */
async function functionsError(app: string): Promise<{ status: number; message: string }> {
  const res = await arm(`${sitePath(app)}/functions?api-version=2024-11-01`);
  const body = (await res.json()) as { error?: { message?: string } };
  return { status: res.status, message: body.error?.message ?? '' };
}

function sitePath(app: string, rg = rgOf(app)): string {
  return `/subscriptions/${sandbox.subscriptionId}/resourceGroups/${rg}/providers/Microsoft.Web/sites/${app}`;
}

async function setSettings(app: string, patch: Record<string, string | undefined>): Promise<void> {
  const current = await client.webApps.listApplicationSettings(rgOf(app), app);
  const next: Record<string, string> = { ...(current.properties ?? {}) };
  for (const [key, value] of Object.entries(patch)) {
    if (value === undefined) delete next[key];
    else next[key] = value;
  }
  await client.webApps.updateApplicationSettings(rgOf(app), app, { properties: next });
}

async function uploadRelease(
  name: string,
  bytes: Buffer,
): Promise<{ plain: string; sas: string; expired: string }> {
  const blob = releases.getContainerClient('function-releases').getBlockBlobClient(name);
  await blob.uploadData(bytes);
  const now = Date.now();
  const permissions = BlobSASPermissions.parse('r');
  return {
    plain: blob.url,
    sas: await blob.generateSasUrl({
      permissions,
      startsOn: new Date(now - 300_000),
      expiresOn: new Date(now + 86_400_000),
    }),
    expired: await blob.generateSasUrl({
      permissions,
      startsOn: new Date(now - 7_200_000),
      expiresOn: new Date(now - 3_600_000),
    }),
  };
}

// ---- ARM ----------------------------------------------------------------------------------------------

describe('ARM sites and plans', () => {
  it('GET site has the A.1 shape with the Kudu host as the Repository host', async () => {
    const site = await client.webApps.get(RG, EP);
    const kuduHost = new URL(sandbox.kuduUrl(EP)).host;
    expect(site.id).toBe(sitePath(EP));
    expect(site.name).toBe(EP);
    expect(site.type).toBe('Microsoft.Web/sites');
    expect(site.kind).toBe('functionapp');
    expect(site.location).toBe('East US');
    expect(site.sku).toBe('ElasticPremium');
    expect(site.reserved).toBe(false);
    expect(site.state).toBe('Running');
    const host = new URL(sandbox.hostUrl(EP)).host;
    expect(site.defaultHostName).toBe(host);
    expect(site.hostNames).toEqual([host]);
    expect(site.hostNameSslStates?.find((s: { hostType?: string }) => s.hostType === 'Standard')?.name).toBe(
      host,
    );
    expect(site.enabledHostNames).toContain(kuduHost);
    expect(
      site.hostNameSslStates?.find((s: { hostType?: string }) => s.hostType === 'Repository')?.name,
    ).toBe(kuduHost);
    expect(site.serverFarmId).toBe(
      `/subscriptions/${sandbox.subscriptionId}/resourceGroups/${RG}/providers/Microsoft.Web/serverfarms/plan-win-ep`,
    );
    expect(site.identity?.type).toBe('SystemAssigned, UserAssigned');
    expect(site.functionAppConfig).toBeFalsy();
  });

  it('a Linux Consumption site is reserved, Dynamic, kind functionapp,linux', async () => {
    const site = await client.webApps.get(RG, LINUX_Y1);
    expect(site.kind).toBe('functionapp,linux');
    expect(site.reserved).toBe(true);
    expect(site.sku).toBe('Dynamic');
  });

  it('a Flex Consumption site carries functionAppConfig and an empty linuxFxVersion', async () => {
    const site = await client.webApps.get(RG, FLEX);
    expect(site.sku).toBe('FlexConsumption');
    expect(site.kind).toBe('functionapp,linux');
    const config = site.functionAppConfig;
    expect(config?.deployment?.storage?.type).toBe('blobContainer');
    expect(config?.deployment?.storage?.value).toBe(`${azurite.blobEndpoint}/app-package-func-flex`);
    expect(config?.runtime).toEqual({ name: 'node', version: '20' });
    const web = await client.webApps.getConfiguration(RG, FLEX);
    expect(web.linuxFxVersion).toBe('');
  });

  it('GET serverfarm gives the plan SKU and tier', async () => {
    const ep = await client.appServicePlans.get(RG, 'plan-win-ep');
    expect(ep.sku).toMatchObject({ name: 'EP1', tier: 'ElasticPremium' });
    expect(ep.kind).toBe('elastic');
    const p1 = await client.appServicePlans.get(RG, 'plan-linux-p1v3');
    expect(p1.sku).toMatchObject({ name: 'P1v3', tier: 'PremiumV3' });
    expect(p1.reserved).toBe(true);
    const y1 = await client.appServicePlans.get(RG, 'plan-win-y1');
    expect(y1.sku?.tier).toBe('Dynamic');
    const missing = await rejection(client.appServicePlans.get(RG, 'nope'));
    expect(missing.statusCode).toBe(404);
  });

  it('unknown site, resource group and subscription are ARM 404s', async () => {
    const site = await rejection(client.webApps.get(RG, 'no-such-app'));
    expect(site.statusCode).toBe(404);
    expect(site.code).toBe('ResourceNotFound');
    expect(site.message).toContain("'Microsoft.Web/sites/no-such-app'");
    const rg = await rejection(client.webApps.get('rg-nope', EP));
    expect(rg.code).toBe('ResourceGroupNotFound');
    const other = new WebSiteManagementClient(credential(), '11111111-0000-4000-8000-000000000000', {
      endpoint: sandbox.armEndpoint,
      retryOptions: { maxRetries: 0 },
    });
    expect((await rejection(other.webApps.get(RG, EP))).code).toBe('SubscriptionNotFound');
  });

  it('GET config/web and the basic-auth policy', async () => {
    const web = await client.webApps.getConfiguration(RG, LINUX_P1);
    expect(web.linuxFxVersion).toBe('Node|20');
    expect(web.scmType).toBe('None');
    expect((await client.webApps.getConfiguration(RG, EP)).linuxFxVersion).toBe('');
    expect((await client.webApps.getScmAllowed(RG, EP)).allow).toBe(true);
    expect((await client.webApps.getScmAllowed(RG, LINUX_P1)).allow).toBe(false);
  });

  it('publishing credentials answer 200 with a 60-char password and an scmUri pointing at Kudu', async () => {
    const user = await client.webApps.listPublishingCredentials(RG, EP);
    expect(user.publishingUserName).toBe(`$${EP}`);
    expect(user.publishingPassword).toMatch(/^[A-Za-z0-9]{60}$/);
    expect(user.scmUri).toBe(
      `https://$${EP}:${user.publishingPassword}@${new URL(sandbox.kuduUrl(EP)).host}`,
    );
    const again = await client.webApps.listPublishingCredentials(RG, EP);
    expect(again.publishingPassword).toBe(user.publishingPassword);
    const scm = new URL(user.scmUri as string);
    const res = await fetch(`${scm.origin}/api/settings`, {
      headers: { Authorization: basic(decodeURIComponent(scm.username), decodeURIComponent(scm.password)) },
    });
    expect(res.status).toBe(200);
  });

  it('resource lookup by name parses the filter case-insensitively', async () => {
    const filter = encodeURIComponent(
      `resourceType EQ 'Microsoft.Web/Sites' AND name EQ '${FLEX.toUpperCase()}'`,
    );
    const res = await arm(
      `/subscriptions/${sandbox.subscriptionId}/resources?$filter=${filter}&api-version=2021-04-01`,
    );
    expect(res.status).toBe(200);
    const body = (await res.json()) as { value: Array<Record<string, unknown>> };
    expect(body.value).toEqual([
      {
        id: sitePath(FLEX),
        name: FLEX,
        kind: 'functionapp,linux',
        type: 'Microsoft.Web/sites',
        location: 'East US',
      },
    ]);
    const none = await arm(
      `/subscriptions/${sandbox.subscriptionId}/resources?$filter=${encodeURIComponent("resourceType eq 'Microsoft.Web/sites' and name eq 'zzz'")}&api-version=2021-04-01`,
    );
    expect(((await none.json()) as { value: unknown[] }).value).toEqual([]);
  });
});

describe('ARM protocol rules', () => {
  it('refuses a missing or invalid bearer with an ARM 401 and always sends the request ids', async () => {
    const res = await fetch(`${sandbox.armEndpoint}${sitePath(EP)}?api-version=2024-11-01`);
    expect(res.status).toBe(401);
    expect(res.headers.get('content-type')).toBe('application/json; charset=utf-8');
    expect(res.headers.get('x-ms-request-id')).toMatch(/^[0-9a-f-]{36}$/);
    expect(res.headers.get('x-ms-correlation-request-id')).toMatch(/^[0-9a-f-]{36}$/);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe('AuthenticationFailed');
    const bad = new WebSiteManagementClient(credential('wrong'), sandbox.subscriptionId, {
      endpoint: sandbox.armEndpoint,
      retryOptions: { maxRetries: 0 },
    });
    const error = await rejection(bad.webApps.get(RG, EP));
    expect(error.statusCode).toBe(401);
    expect(error.code).toBe('AuthenticationFailed');
  });

  it('requires api-version but accepts any value', async () => {
    const missing = await arm(sitePath(EP));
    expect(missing.status).toBe(400);
    expect(((await missing.json()) as { error: { code: string } }).error.code).toBe(
      'MissingApiVersionParameter',
    );
    expect((await arm(`${sitePath(EP)}?api-version=2015-08-01`)).status).toBe(200);
    expect((await arm(`${sitePath(EP)}?api-version=1999-01-01-preview`)).status).toBe(200);
  });

  it('matches paths case-insensitively and collapses repeated slashes', async () => {
    const path = `/subscriptions/${sandbox.subscriptionId}/resourcegroups/RG-SANDBOX/providers/microsoft.web/sites/${EP.toUpperCase()}//config/AppSettings/list?api-version=2015-08-01`;
    const res = await arm(path, { method: 'POST' });
    expect(res.status).toBe(200);
    const body = (await res.json()) as { name: string; properties: Record<string, string> };
    expect(body.name).toBe('appsettings');
    expect(body.properties.FUNCTIONS_WORKER_RUNTIME).toBe('node');
    const creds = await arm(`/${sitePath(EP)}/config/PublishingCredentials/list?api-version=2015-08-01`, {
      method: 'POST',
    });
    expect(creds.status).toBe(200);
  });

  it('answers an unknown route with an ARM 404 and echoes the correlation id', async () => {
    const res = await arm(`${sitePath(EP)}/nonsense?api-version=2024-11-01`, {
      headers: { 'x-ms-correlation-request-id': 'corr-1' },
    });
    expect(res.status).toBe(404);
    expect(res.headers.get('x-ms-correlation-request-id')).toBe('corr-1');
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe('NotFound');
  });
});

describe('ARM app settings, restart and sync', () => {
  it('PUT app settings is a full replace: an omitted key is deleted everywhere', async () => {
    const before = await client.webApps.listApplicationSettings(RG, LINUX_P1);
    expect(before.properties?.AzureWebJobsStorage).toBe(azurite.connectionString);
    const next: Record<string, string> = { ...(before.properties ?? {}), EXTRA: 'x' };
    delete next.FUNCTIONS_EXTENSION_VERSION;
    const echoed = await client.webApps.updateApplicationSettings(RG, LINUX_P1, { properties: next });
    expect(echoed.properties).toEqual(next);
    const after = await client.webApps.listApplicationSettings(RG, LINUX_P1);
    expect(after.properties).toEqual(next);
    expect(after.properties?.FUNCTIONS_EXTENSION_VERSION).toBeUndefined();
    // Kudu learns of the change late, so read it as the tools do: poll until it shows.
    const scm = await until(
      async () =>
        (await (await kudu(LINUX_P1, '/api/settings', { auth: `Bearer ${TOKEN}` })).json()) as Record<
          string,
          string
        >,
      (settings) => settings.EXTRA === 'x',
      'Kudu to see the new settings',
    );
    expect(scm.FUNCTIONS_EXTENSION_VERSION).toBeUndefined();
    const state = await appState(LINUX_P1);
    expect(state.events.some((e: { type: string }) => e.type === 'settings-put')).toBe(true);
  });

  it('restart answers 200 and is counted', async () => {
    const before = (await appState(WIN_Y1)).restartCount as number;
    await client.webApps.restart(RG, WIN_Y1);
    await client.webApps.restart(RG, WIN_Y1, { softRestart: true, synchronous: false });
    expect((await appState(WIN_Y1)).restartCount).toBe(before + 2);
  });

  it('syncFunctionTriggers answers 200 (SDK throws RestError 200) until switched to 204', async () => {
    const before = (await settle(WIN_Y1)).syncCount as number;
    const error = await rejection(client.webApps.syncFunctionTriggers(RG, WIN_Y1));
    expect(error.statusCode).toBe(200);
    expect((await control('POST', '/config', { syncTriggersStatus: 204 })).status).toBe(200);
    await expect(client.webApps.syncFunctionTriggers(RG, WIN_Y1)).resolves.toBeUndefined();
    await expect(client.webApps.syncFunctions(RG, WIN_Y1)).resolves.toBeUndefined();
    const hostruntime = await arm(
      `${sitePath(WIN_Y1)}/hostruntime/admin/host/synctriggers?api-version=2015-08-01`,
      {
        method: 'POST',
      },
    );
    expect(hostruntime.status).toBe(200);
    expect(await hostruntime.json()).toEqual({ status: 'success' });
    expect((await appState(WIN_Y1)).syncCount).toBe(before + 4);
  });

  it('every sync route answers 400 while the site is Stopped', async () => {
    await control('POST', `/apps/${WIN_Y1}/state`, { state: 'Stopped' });
    try {
      expect((await client.webApps.get(RG, WIN_Y1)).state).toBe('Stopped');
      const error = await rejection(client.webApps.syncFunctionTriggers(RG, WIN_Y1));
      expect(error.statusCode).toBe(400);
      expect(error.message).toBe(SYSTEM_MESSAGE);
      expect((await rejection(client.webApps.syncFunctions(RG, WIN_Y1))).statusCode).toBe(400);
      const raw = await arm(
        `${sitePath(WIN_Y1)}/hostruntime/admin/host/synctriggers?api-version=2015-08-01`,
        { method: 'POST' },
      );
      expect(raw.status).toBe(400);
    } finally {
      await control('POST', `/apps/${WIN_Y1}/state`, { state: 'Running' });
    }
  });

  it('settings changed behind the action are what ARM lists next', async () => {
    const current = await client.webApps.listApplicationSettings(RG, FLEX);
    const changed = { ...(current.properties ?? {}), CONCURRENT: 'yes' };
    expect((await control('PUT', `/apps/${FLEX}/settings`, changed)).status).toBe(200);
    expect((await client.webApps.listApplicationSettings(RG, FLEX)).properties?.CONCURRENT).toBe('yes');
    expect((await control('PUT', `/apps/${FLEX}/settings`, { bad: 1 })).status).toBe(400);
  });
});

describe('slots', () => {
  it('a slot has its own site, settings, credentials and Kudu', async () => {
    const slot = await client.webApps.getSlot(RG, EP, 'staging');
    expect(slot.name).toBe(`${EP}/staging`);
    expect(slot.type).toBe('Microsoft.Web/sites/slots');
    expect(slot.defaultHostName).toBe(new URL(sandbox.hostUrl(EP, 'staging')).host);
    expect(slot.defaultHostName).not.toBe(new URL(sandbox.hostUrl(EP)).host);
    expect(slot.id).toBe(`${sitePath(EP)}/slots/staging`);
    const kuduHost = new URL(sandbox.kuduUrl(EP, 'staging')).host;
    expect(kuduHost).not.toBe(new URL(sandbox.kuduUrl(EP)).host);
    expect(
      slot.hostNameSslStates?.find((s: { hostType?: string }) => s.hostType === 'Repository')?.name,
    ).toBe(kuduHost);

    const settings = await client.webApps.listApplicationSettingsSlot(RG, EP, 'staging');
    expect(settings.properties?.WEBSITE_RUN_FROM_PACKAGE).toBeUndefined();
    await client.webApps.updateApplicationSettingsSlot(RG, EP, 'staging', {
      properties: { ...(settings.properties ?? {}), SLOT_ONLY: '1' },
    });
    expect((await client.webApps.listApplicationSettingsSlot(RG, EP, 'staging')).properties?.SLOT_ONLY).toBe(
      '1',
    );
    expect((await client.webApps.listApplicationSettings(RG, EP)).properties?.SLOT_ONLY).toBeUndefined();

    const user = await client.webApps.listPublishingCredentialsSlot(RG, EP, 'staging');
    expect(user.publishingUserName).toBe(`$${EP}__staging`);
    expect(user.scmUri).toContain(`@${kuduHost}`);

    await client.webApps.restartSlot(RG, EP, 'staging');
    expect((await settle(EP, 'staging')).restartCount).toBe(1);
    expect((await rejection(client.webApps.syncFunctionTriggersSlot(RG, EP, 'staging'))).statusCode).toBe(
      200,
    );
    expect((await client.webApps.getScmAllowedSlot(RG, EP, 'staging')).allow).toBe(true);
    expect((await client.webApps.getConfigurationSlot(RG, EP, 'staging')).name).toBe('web');
    expect((await rejection(client.webApps.getSlot(RG, EP, 'nope'))).statusCode).toBe(404);
  });

  it('zipdeploy to a slot lists its functions through the slot functions route', async () => {
    const res = await kudu(EP, '/api/zipdeploy', {
      slot: 'staging',
      method: 'POST',
      body: await classicApp('slot'),
    });
    expect(res.status).toBe(200);
    await settle(EP, 'staging');
    const functions = await collect(client.webApps.listInstanceFunctionsSlot(RG, EP, 'staging'));
    expect(functions.map((f) => f.name).sort()).toEqual([
      `${EP}/staging/HttpHello`,
      `${EP}/staging/TimerTick`,
    ]);
    expect((await appState(EP, 'staging')).wwwroot).toBe(true);
    expect((await appState(EP)).wwwroot).toBe(false);
  });
});

// ---- Kudu ---------------------------------------------------------------------------------------------

describe('Kudu auth', () => {
  it('needs Basic publishing credentials or a valid Bearer', async () => {
    expect((await fetch(`${sandbox.kuduUrl(EP)}/api/deployments`)).status).toBe(401);
    expect((await kudu(EP, '/api/deployments', { auth: basic(`$${EP}`, 'wrong') })).status).toBe(401);
    expect((await kudu(EP, '/api/deployments', { auth: 'Bearer wrong' })).status).toBe(401);
    expect((await kudu(EP, '/api/deployments', { auth: `Bearer ${TOKEN}` })).status).toBe(200);
    expect((await kudu(EP, '/api/deployments')).status).toBe(200);
  });

  it('refuses Basic when the basic-auth policy is off', async () => {
    expect((await kudu(LINUX_P1, '/api/settings')).status).toBe(401);
    expect((await kudu(LINUX_P1, '/api/settings', { auth: `Bearer ${TOKEN}` })).status).toBe(200);
  });
});

describe('Kudu zipdeploy', () => {
  it('refuses with 409 while WEBSITE_RUN_FROM_PACKAGE is a URL (Windows and KuduLite texts)', async () => {
    const win = await kudu(LEGACY, '/api/zipdeploy?isAsync=true', {
      method: 'POST',
      body: await classicApp(),
    });
    expect(win.status).toBe(409);
    expect(win.headers.get('content-type')).toMatch(/^text\/plain/);
    expect(await win.text()).toBe(
      'Run-From-Zip is set to a remote URL using WEBSITE_USE_ZIP app setting. Deployment is not supported in this configuration.',
    );
    const bearer = `Bearer ${TOKEN}`;
    await setSettings(LINUX_P1, { WEBSITE_RUN_FROM_ZIP: 'HTTPS://127.0.0.1:1/x.zip' });
    await settle(LINUX_P1);
    try {
      const linux = await kudu(LINUX_P1, '/zipdeploy', {
        method: 'PUT',
        body: await classicApp(),
        auth: bearer,
      });
      expect(linux.status).toBe(409);
      expect(await linux.text()).toBe(
        'Run-From-Zip is set to a remote URL using WEBSITE_RUN_FROM_PACKAGE or WEBSITE_USE_ZIP app setting. Deployment is not supported in this configuration.',
      );
    } finally {
      await setSettings(LINUX_P1, { WEBSITE_RUN_FROM_ZIP: undefined });
      await settle(LINUX_P1);
    }
    expect((await appState(LEGACY)).deployments).toEqual([]);
  });

  it('async: temp record before 202 + Location, latest 202 then 200, temp id then a 32-hex id', async () => {
    await control('POST', `/apps/${WIN_Y1}/kudu`, { deploymentDurationMs: 1600 });
    try {
      const res = await kudu(WIN_Y1, '/api/zipdeploy?IsAsync=true&Deployer=GITHUB_ZIP_DEPLOY&author=ci', {
        method: 'POST',
        body: await classicApp('async'),
        headers: { 'Content-Type': 'application/octet-stream' },
      });
      expect(res.status).toBe(202);
      expect(await res.text()).toBe('');
      expect(res.headers.get('retry-after')).toBe('30');
      const location = res.headers.get('location') as string;
      expect(location).toMatch(
        new RegExp(
          `^${sandbox.kuduUrl(WIN_Y1)}/api/deployments/latest\\?deployer=GITHUB_ZIP_DEPLOY&time=\\d{4}-\\d{2}-\\d{2}_\\d{2}-\\d{2}-\\d{2}Z$`,
        ),
      );

      const first = await kudu(WIN_Y1, new URL(location).pathname + new URL(location).search);
      expect(first.status).toBe(202);
      expect(first.headers.get('retry-after')).toBe('30');
      const temp = (await first.json()) as Record<string, unknown>;
      expect(temp).toMatchObject({
        status: 0,
        status_text: 'Receiving changes.',
        is_temp: true,
        complete: false,
        end_time: null,
        author: 'N/A',
        message: 'N/A',
      });
      expect(temp.id).toMatch(/^temp-[0-9a-f]{8}$/);
      expect(temp.url).toBe(`${sandbox.kuduUrl(WIN_Y1)}/api/deployments/latest`);

      const busy = await kudu(WIN_Y1, '/api/zipdeploy', { method: 'POST', body: await classicApp() });
      expect(busy.status).toBe(409);
      expect(await busy.text()).toBe(
        'There is a deployment currently in progress. Please try again when it completes.',
      );

      const building = await until(
        async () => (await (await kudu(WIN_Y1, '/api/deployments/latest')).json()) as Record<string, unknown>,
        (r) => /^[0-9a-f]{32}$/.test(String(r.id)),
        'the real deployment record',
      );
      expect(building).toMatchObject({
        status: 1,
        is_temp: false,
        complete: false,
        deployer: 'GITHUB_ZIP_DEPLOY',
        author: 'ci',
      });
      expect(building.status_text).toBe(`Building and Deploying '${building.id}'.`);

      const done = await until(
        () => kudu(WIN_Y1, '/api/deployments/latest'),
        (r) => r.status === 200,
        'the deployment to finish',
      );
      const result = (await done.json()) as Record<string, unknown>;
      expect(result).toMatchObject({
        id: building.id,
        status: 4,
        complete: true,
        active: true,
        provisioningState: 'Succeeded',
      });
      expect(result.end_time).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{7}Z$/);
      expect(result.last_success_end_time).toBe(result.end_time);

      const byId = await kudu(WIN_Y1, `/api/deployments/${building.id}`);
      expect(((await byId.json()) as { id: string }).id).toBe(building.id);
      const log = (await (await kudu(WIN_Y1, `/deployments/${building.id}/log`)).json()) as Array<
        Record<string, unknown>
      >;
      expect(log.at(-1)).toMatchObject({ message: 'Deployment successful.', type: 0 });
      const list = (await (await kudu(WIN_Y1, '/deployments')).json()) as Array<{ id: string }>;
      expect(list[0]?.id).toBe(building.id);
    } finally {
      await control('POST', `/apps/${WIN_Y1}/kudu`, { deploymentDurationMs: 300 });
    }
  });

  it('RFP=1: writes data/SitePackages/{yyyyMMddHHmmss}.zip and packagename.txt, keeps 5, restarts and syncs', async () => {
    await control('POST', `/apps/${WIN_Y1}/kudu`, { deploymentDurationMs: 0 });
    const before = await appState(WIN_Y1);
    let last: Buffer = Buffer.alloc(0);
    for (let i = 0; i < 7; i++) {
      last = await classicApp(`rfp-${i}`);
      const res = await kudu(WIN_Y1, '/api/zipdeploy', { method: 'POST', body: last });
      expect(res.status).toBe(200);
    }
    await control('POST', `/apps/${WIN_Y1}/kudu`, { deploymentDurationMs: 300 });
    await settle(WIN_Y1);
    const listing = (await (await kudu(WIN_Y1, '/api/vfs/data/SitePackages/')).json()) as Array<{
      name: string;
      size: number;
    }>;
    const zips = listing.map((f) => f.name).filter((n) => n.endsWith('.zip'));
    expect(zips).toHaveLength(5);
    for (const name of zips) expect(name).toMatch(/^\d{14}\.zip$/);
    expect(new Set(zips).size).toBe(5);
    const packageName = await (await kudu(WIN_Y1, '/api/vfs/data/SitePackages/packagename.txt')).text();
    expect(packageName).toBe([...zips].sort().at(-1));
    const bytes = Buffer.from(
      await (await kudu(WIN_Y1, `/api/vfs/data/SitePackages/${packageName}`)).arrayBuffer(),
    );
    expect(bytes.equals(last)).toBe(true);
    const after = await appState(WIN_Y1);
    expect(after.restartCount).toBe(before.restartCount + 7);
    expect(after.syncCount).toBe(before.syncCount + 7);
    expect(after.packageName).toBe(packageName);
    expect(after.wwwroot).toBe(false);
    expect(after.packageSource).toBe(`data/SitePackages/${packageName}`);
    const functions = await collect(client.webApps.listFunctions(RG, WIN_Y1));
    const hello = functions.find((f) => f.name === `${WIN_Y1}/HttpHello`);
    expect(hello?.invokeUrlTemplate).toBe(`${sandbox.hostUrl(WIN_Y1)}/api/hello`);
  });

  it('without RFP the zip goes to wwwroot and the v4 model is indexed from package.json main', async () => {
    const res = await kudu(LINUX_P1, '/api/zipdeploy?isAsync=true', {
      method: 'POST',
      body: await v4App(),
      auth: `Bearer ${TOKEN}`,
    });
    expect(res.status).toBe(202);
    expect(res.headers.get('retry-after')).toBeNull();
    expect(res.headers.get('location')).toContain('deployer=Push-Deployer');
    await until(
      () => kudu(LINUX_P1, '/api/deployments/latest', { auth: `Bearer ${TOKEN}` }),
      (r) => r.status === 200,
      'deployment',
    );
    await settle(LINUX_P1);
    const functions = await collect(client.webApps.listFunctions(RG, LINUX_P1));
    expect(functions.map((f) => f.name).sort()).toEqual([`${LINUX_P1}/helloV4`, `${LINUX_P1}/onQueue`]);
    const queue = functions.find((f) => f.name === `${LINUX_P1}/onQueue`);
    expect(queue?.config).toMatchObject({ bindings: [{ type: 'queueTrigger', direction: 'in' }] });
    expect(queue?.invokeUrlTemplate).toBeNull();
    const state = await appState(LINUX_P1);
    expect(state.wwwroot).toBe(true);
    expect(state.sitePackages).toEqual([]);
  });

  it('a body that is not a zip fails the deployment with a log entry (sync: 500)', async () => {
    const res = await kudu(EP, '/api/zipdeploy?isAsync=true', { method: 'POST', body: 'not a zip' });
    expect(res.status).toBe(202);
    const done = await until(
      () => kudu(EP, '/api/deployments/latest'),
      (r) => r.status === 200,
      'the failed deployment',
    );
    const record = (await done.json()) as Record<string, unknown>;
    expect(record).toMatchObject({ status: 3, complete: true, provisioningState: 'Failed', active: false });
    const log = (await (await kudu(EP, `/api/deployments/${record.id}/log`)).json()) as Array<{
      message: string;
      type: number;
    }>;
    expect(log.some((e) => e.type === 2 && e.message.includes('not a valid zip'))).toBe(true);
    const sync = await kudu(EP, '/api/zipdeploy', { method: 'POST', body: 'still not a zip' });
    expect(sync.status).toBe(500);
    expect((await appState(EP)).sitePackages).toEqual([]);
  });

  it('control: failNextDeployment fails one deployment; lockHeldMs answers 409 until it clears', async () => {
    await control('POST', `/apps/${EP}/kudu`, { failNextDeployment: 'Simulated build failure' });
    const failed = await kudu(EP, '/api/zipdeploy', { method: 'POST', body: await classicApp() });
    expect(failed.status).toBe(500);
    expect(await failed.text()).toBe('Simulated build failure');

    expect((await control('POST', `/apps/${EP}/kudu`, { lockHeldMs: 400 })).status).toBe(200);
    const blocked = await kudu(EP, '/api/zipdeploy?isAsync=true', {
      method: 'POST',
      body: await classicApp(),
    });
    expect(blocked.status).toBe(409);
    expect((await kudu(EP, '/api/deployments/latest')).status).toBe(202);
    const ok = await until(
      async () =>
        (await kudu(EP, '/api/zipdeploy', { method: 'POST', body: await classicApp('after-lock') })).status,
      (status) => status === 200,
      'the lock to clear',
    );
    expect(ok).toBe(200);
    const state = await settle(EP);
    expect(state.sitePackages).toHaveLength(1);
    expect(state.functions.map((f: { name: string }) => f.name)).toEqual(['HttpHello', 'TimerTick']);
  });

  it('deployment 404s (Windows object, KuduLite string) and PUT /api/deployments/{id}', async () => {
    const win = await kudu(LEGACY, '/api/deployments/nope');
    expect(win.status).toBe(404);
    expect(await win.json()).toEqual({ Message: "Deployment 'nope' not found." });
    const latest = await kudu(LEGACY, '/api/deployments/latest');
    expect(latest.status).toBe(404);
    expect(await latest.json()).toEqual({ Message: "Deployment 'latest' not found." });
    const linux = await kudu(LINUX_Y1, '/api/deployments/nope');
    expect(linux.status).toBe(404);
    expect(await linux.json()).toBe("Deployment 'nope' not found.");

    const put = await kudu(LEGACY, '/api/deployments/abc123', {
      method: 'PUT',
      body: JSON.stringify({
        id: 'abc123',
        active: true,
        status: 4,
        message: 'Deployed by CI',
        author: 'ci',
        deployer: 'GITHUB',
      }),
      headers: { 'Content-Type': 'application/json' },
    });
    expect(put.status).toBe(200);
    expect(await put.json()).toMatchObject({
      id: 'abc123',
      status: 4,
      complete: true,
      active: true,
      deployer: 'GITHUB',
    });
    expect((await kudu(LEGACY, '/api/deployments/latest')).status).toBe(200);
  });

  it('/api/settings GET/POST/DELETE write the settings ARM sees', async () => {
    const before = (await (await kudu(EP, '/api/settings')).json()) as Record<string, string>;
    expect(before.FUNCTIONS_WORKER_RUNTIME).toBe('node');
    const post = await kudu(EP, '/api/settings', {
      method: 'POST',
      body: JSON.stringify({ FROM_KUDU: 'k' }),
      headers: { 'Content-Type': 'application/json' },
    });
    expect(post.status).toBe(204);
    expect((await client.webApps.listApplicationSettings(RG, EP)).properties?.FROM_KUDU).toBe('k');
    expect((await kudu(EP, '/settings/FROM_KUDU', { method: 'DELETE' })).status).toBe(204);
    expect((await client.webApps.listApplicationSettings(RG, EP)).properties?.FROM_KUDU).toBeUndefined();
  });
});

// ---- platform -----------------------------------------------------------------------------------------

describe('Functions platform', () => {
  it('lists the functions of a read-only SAS URL package after restart', async () => {
    const urls = await uploadRelease('20250101000000-sas.zip', await classicApp('sas'));
    expect(new URL(urls.sas).searchParams.get('sp')).toBe('r');
    await setSettings(LINUX_Y1, { WEBSITE_RUN_FROM_PACKAGE: urls.sas });
    await restartAndSettle(LINUX_Y1);
    const functions = await collect(client.webApps.listFunctions(RG, LINUX_Y1));
    expect(functions.map((f) => f.name).sort()).toEqual([`${LINUX_Y1}/HttpHello`, `${LINUX_Y1}/TimerTick`]);
    const hello = functions.find((f) => f.name === `${LINUX_Y1}/HttpHello`) as FunctionEnvelope;
    expect(hello.id).toBe(`${sitePath(LINUX_Y1)}/functions/HttpHello`);
    expect(hello.type).toBe('Microsoft.Web/sites/functions');
    expect(hello.invokeUrlTemplate).toBe(`${sandbox.hostUrl(LINUX_Y1)}/api/hello`);
    expect(hello.language).toBe('node');
    expect(hello.isDisabled).toBe(false);
    expect(hello.config).toMatchObject({
      bindings: [{ type: 'httpTrigger', route: 'hello' }, { type: 'http' }],
    });
    const raw = await arm(`${sitePath(LINUX_Y1)}/functions?api-version=2024-11-01`);
    const body = (await raw.json()) as {
      nextLink: unknown;
      value: Array<{ properties: Record<string, unknown> }>;
    };
    expect(body.nextLink).toBeNull();
    expect(body.value[0]?.properties).toHaveProperty('invoke_url_template');
    expect(body.value[0]?.properties).toHaveProperty('script_root_path_href');
  });

  it('an expired SAS gives no functions and a 400 host error that never shows the signature', async () => {
    const urls = await uploadRelease('20250101000000-expired.zip', await classicApp('expired'));
    const sig = new URL(urls.expired).searchParams.get('sig') as string;
    await setSettings(LINUX_Y1, { WEBSITE_RUN_FROM_PACKAGE: urls.expired });
    await restartAndSettle(LINUX_Y1);
    expect((await rejection(collect(client.webApps.listFunctions(RG, LINUX_Y1)))).statusCode).toBe(400);
    const error = await functionsError(LINUX_Y1);
    expect(error.status).toBe(400);
    expect(error.message.startsWith(`${SYSTEM_MESSAGE} Host error: package`)).toBe(true);
    expect(error.message).toContain('Host error: package');
    expect(error.message).toContain('403 AuthorizationFailure');
    expect(error.message).toContain('(SAS redacted)');
    expect(error.message).not.toContain(sig);
    expect(error.message).not.toContain(encodeURIComponent(sig));
    const state = await appState(LINUX_Y1);
    expect(state.functions).toEqual([]);
    expect(state.hostError).toContain('403');
    expect(JSON.stringify(state.events)).not.toContain(sig);
  });

  it('reads a plain URL with the managed identity only when the identity is assigned', async () => {
    const urls = await uploadRelease('20250101000000-mi.zip', await v4App());
    await setSettings(LINUX_Y1, {
      WEBSITE_RUN_FROM_PACKAGE: urls.plain,
      WEBSITE_RUN_FROM_PACKAGE_BLOB_MI_RESOURCE_ID: undefined,
    });
    await restartAndSettle(LINUX_Y1);
    expect((await functionsError(LINUX_Y1)).message).toMatch(/returned 40[13]/);

    await setSettings(LINUX_Y1, { WEBSITE_RUN_FROM_PACKAGE_BLOB_MI_RESOURCE_ID: 'SystemAssigned' });
    await restartAndSettle(LINUX_Y1);
    const functions = await collect(client.webApps.listFunctions(RG, LINUX_Y1));
    expect(functions.map((f) => f.name).sort()).toEqual([`${LINUX_Y1}/helloV4`, `${LINUX_Y1}/onQueue`]);

    const foreign =
      '/subscriptions/x/resourceGroups/y/providers/Microsoft.ManagedIdentity/userAssignedIdentities/not-mine';
    await setSettings(LINUX_Y1, { WEBSITE_RUN_FROM_PACKAGE_BLOB_MI_RESOURCE_ID: foreign });
    await restartAndSettle(LINUX_Y1);
    expect((await functionsError(LINUX_Y1)).message).toContain('is not assigned to the app');
    await setSettings(LINUX_Y1, { WEBSITE_RUN_FROM_PACKAGE_BLOB_MI_RESOURCE_ID: undefined });
  });

  it('refuses non-loopback hosts, and reports a package without host.json or not a zip', async () => {
    await setSettings(LINUX_Y1, {
      WEBSITE_RUN_FROM_PACKAGE: 'https://example.com/pkg.zip?sv=1&sig=SECRETSIG',
    });
    await restartAndSettle(LINUX_Y1);
    const remote = await functionsError(LINUX_Y1);
    expect(remote.message).toContain('only fetches from 127.0.0.1');
    expect(remote.message).not.toContain('SECRETSIG');

    const noHost = await uploadRelease('nohost.zip', await zipOf({ 'Fn/function.json': '{"bindings":[]}' }));
    await setSettings(LINUX_Y1, { WEBSITE_RUN_FROM_PACKAGE: noHost.sas });
    await restartAndSettle(LINUX_Y1);
    expect((await functionsError(LINUX_Y1)).message).toContain('host.json was not found');

    const broken = await uploadRelease('broken.zip', Buffer.from('PK but not really a zip'));
    await setSettings(LINUX_Y1, { WEBSITE_RUN_FROM_PACKAGE: broken.sas });
    await restartAndSettle(LINUX_Y1);
    const error = await functionsError(LINUX_Y1);
    expect(error.message).toContain('is not a valid zip');
    expect(error.message).not.toContain(new URL(broken.sas).searchParams.get('sig') as string);
  });

  it('an app with no package runs with zero functions and no error', async () => {
    expect(await collect(client.webApps.listFunctions(RG, FLEX))).toEqual([]);
  });
});

// ---- faults -----------------------------------------------------------------------------------------------

describe('faults', () => {
  it('a 429 with Retry-After on one route, for one request', async () => {
    const res = await control('POST', '/faults', {
      route: 'arm.site.get',
      app: EP,
      status: 429,
      retryAfter: 7,
    });
    expect(res.status).toBe(200);
    expect((await res.json()) as { id: string }).toHaveProperty('id');
    expect((await client.webApps.get(RG, WIN_Y1)).name).toBe(WIN_Y1);
    const error = await rejection(client.webApps.get(RG, EP));
    expect(error.statusCode).toBe(429);
    expect(error.code).toBe('TooManyRequests');
    expect(error.response?.headers.get('retry-after')).toBe('7');
    expect(error.response?.headers.get('x-ms-request-id')).toBeTruthy();
    expect((await client.webApps.get(RG, EP)).name).toBe(EP);
  });

  it('the SDK retry policy rides out a 503 with Retry-After', async () => {
    await control('POST', '/faults', { route: 'arm.appsettings.*', status: 503, retryAfter: 0, count: 2 });
    const retrying = new WebSiteManagementClient(credential(), sandbox.subscriptionId, {
      endpoint: sandbox.armEndpoint,
    });
    const settings = await retrying.webApps.listApplicationSettings(RG, EP);
    expect(settings.properties?.FUNCTIONS_WORKER_RUNTIME).toBe('node');
    expect(await (await control('GET', '/faults')).json()).toEqual([]);
  });

  it('Kudu faults: status text, connection reset, delay; count -1 until cleared', async () => {
    await control('POST', '/faults', { route: 'kudu.zipdeploy', status: 503, retryAfter: 5 });
    const res = await kudu(EP, '/api/zipdeploy', { method: 'POST', body: await classicApp() });
    expect(res.status).toBe(503);
    expect(res.headers.get('retry-after')).toBe('5');
    expect(await res.text()).toContain('HTTP 503');

    await control('POST', '/faults', { route: 'kudu.deployments.latest', reset: true, count: -1 });
    await expect(kudu(EP, '/api/deployments/latest')).rejects.toThrow();
    await expect(kudu(EP, '/api/deployments/latest')).rejects.toThrow();
    await fetch(`${sandbox.controlUrl}/faults`, { method: 'DELETE' });
    expect((await kudu(EP, '/api/deployments/latest')).status).toBeLessThan(500);

    await control('POST', '/faults', { route: '*', app: EP, delayMs: 250 });
    const started = Date.now();
    expect((await kudu(EP, '/api/settings')).status).toBe(200);
    expect(Date.now() - started).toBeGreaterThanOrEqual(240);
  });

  it('rejects a fault that names no route', async () => {
    const res = await control('POST', '/faults', { route: 'arm.nothing', status: 500 });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: string }).error).toContain('matches no route');
  });
});

describe('control', () => {
  it('describes the sandbox and an app', async () => {
    const index = (await (await control('GET', '')).json()) as {
      subscriptionId: string;
      faultRoutes: string[];
      apps: Array<Record<string, unknown>>;
    };
    expect(index.subscriptionId).toBe(sandbox.subscriptionId);
    expect(index.faultRoutes).toContain('kudu.zipdeploy');
    expect(index.apps).toContainEqual({
      name: EP,
      slot: 'staging',
      kuduUrl: sandbox.kuduUrl(EP, 'staging'),
      hostUrl: sandbox.hostUrl(EP, 'staging'),
    });
    const state = await appState(EP);
    for (const key of [
      'settings',
      'state',
      'restartCount',
      'syncCount',
      'events',
      'deployments',
      'sitePackages',
      'wwwroot',
      'functions',
      'hostError',
    ]) {
      expect(state).toHaveProperty(key);
    }
    expect((await control('GET', '/apps/nope')).status).toBe(404);
    expect(() => sandbox.kuduUrl('nope')).toThrow(/no app 'nope'/);
  });
});
