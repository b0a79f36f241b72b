import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type FunctionEnvelope, RestError, WebSiteManagementClient } from '@azure/arm-appservice';
import type { TokenCredential } from '@azure/identity';
import { BlobSASPermissions, BlobServiceClient } from '@azure/storage-blob';
import JSZip from 'jszip';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type AppServiceHandle,
  oryxBuild,
  parseSeed,
  startAppService,
} from '../../sandbox/appservice/index.js';
import { AZURITE_ACCOUNT, AZURITE_KEY, type AzuriteHandle, startAzurite } from '../../sandbox/azurite.js';
import { ensureCerts } from '../../sandbox/certs.js';

// Each behaviour of the fake platform that makes it as hard as Azure, driven by the real SDK or plain fetch.
// Apps whose test is about timing run with the sandbox defaults (recycle 1 s, Kudu delay 1 s, list lag 0.7 s);
// the others get shorter per-app timings through the control endpoint.

const TOKEN = 'realism-token';
const RG = 'rg-real';
const SYSTEM_MESSAGE = 'Encountered an error (ServiceUnavailable) from host runtime.';
const EP_APP = 'rz-win-ep';
const DED = 'rz-win-s1';
const LY1 = 'rz-linux-y1';
const PY = 'rz-linux-py';
const NODE = 'rz-linux-node';
const NODE_BUILD = 'rz-linux-node-build';
const CONT = 'rz-container';
const LEGACY = 'rz-win-legacy-zip';
const MIG = 'rz-win-migrate';
const DOTNET = 'rz-win-dotnet';
const FAST = { recycleMs: 120, kuduSettingsDelayMs: 120, listLagMs: 60 };
const EXAMPLES = fileURLToPath(new URL('../../examples/', import.meta.url));

let azurite: AzuriteHandle;
let sandbox: AppServiceHandle;
let client: WebSiteManagementClient;
let releases: BlobServiceClient;
let legacyUrl: string;

function credential(): TokenCredential {
  return { getToken: async () => ({ token: TOKEN, expiresOnTimestamp: Date.now() + 3_600_000 }) };
}

async function zipOf(files: Record<string, string>): Promise<Buffer> {
  const zip = new JSZip();
  for (const [path, content] of Object.entries(files)) zip.file(path, content);
  return zip.generateAsync({ type: 'nodebuffer' });
}

async function zipDir(dir: string): Promise<Buffer> {
  const zip = new JSZip();
  const walk = (d: string) => {
    for (const name of readdirSync(d)) {
      const path = join(d, name);
      if (statSync(path).isDirectory()) walk(path);
      else zip.file(relative(dir, path).split('\\').join('/'), readFileSync(path));
    }
  };
  walk(dir);
  return zip.generateAsync({ type: 'nodebuffer' });
}

function classicApp(host: Record<string, unknown> = { version: '2.0' }): Promise<Buffer> {
  const http = (route: string) =>
    JSON.stringify({
      bindings: [
        { type: 'httpTrigger', direction: 'in', name: 'req', authLevel: 'function', route },
        { type: 'http', direction: 'out', name: 'res' },
      ],
    });
  return zipOf({
    'host.json': JSON.stringify(host),
    'HttpHello/function.json': http('hello'),
    'HttpHello/index.js': 'module.exports = async () => ({ body: "hi" });',
    'HttpWorld/function.json': http('world'),
    'HttpWorld/index.js': 'module.exports = async () => ({ body: "world" });',
  });
}

function v4App(): Promise<Buffer> {
  return zipOf({
    'host.json': JSON.stringify({ version: '2.0' }),
    'package.json': JSON.stringify({ name: 'v4', main: 'index.js' }),
    'index.js':
      "const { app } = require('@azure/functions');\napp.http('fromV4', { handler: async () => ({}) });\n",
  });
}

async function until<T>(read: () => Promise<T>, ok: (v: T) => boolean, what: string, timeoutMs = 15_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await read();
    if (ok(value)) return value;
    if (Date.now() > deadline)
      throw new Error(`Timed out waiting for ${what}; last: ${JSON.stringify(value)}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
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

async function names(app: string, slot?: string): Promise<string[]> {
  const out: FunctionEnvelope[] = [];
  const pages = slot
    ? client.webApps.listInstanceFunctionsSlot(RG, app, slot)
    : client.webApps.listFunctions(RG, app);
  for await (const fn of pages) out.push(fn);
  return out.map((f) => String(f.name).split('/').at(-1) as string).sort();
}

function control(method: string, path: string, body?: unknown): Promise<Response> {
  return fetch(`${sandbox.controlUrl}${path}`, {
    method,
    ...(body === undefined
      ? {}
      : { body: JSON.stringify(body), headers: { 'Content-Type': 'application/json' } }),
  });
}

interface View {
  settings: Record<string, string>;
  hostState: string;
  hostErrors: string[];
  recyclingUntil: string | null;
  loadCount: number;
  packageSource: string | null;
  sitePackages: string[];
  wwwroot: boolean;
  ranFromLocalPackage: boolean;
  functions: Array<{ name: string; trigger: string | null; invokeRoute: string | null }>;
  registeredFunctions: Array<{ name: string }> | null;
  events: Array<{ type: string; detail?: string }>;
  builds: Array<{ outcome: string; log: string[] }>;
  hostKeys: { masterKey: string };
  timing: {
    recycleMs: number;
    kuduSettingsDelayMs: number;
    listLagMs: number;
    overrides: Record<string, number>;
  };
  kudu: { settings: Record<string, string>; seesCurrentSettings: boolean };
}

async function view(app: string, slot?: string): Promise<View> {
  const res = await control('GET', `/apps/${app}${slot ? `?slot=${slot}` : ''}`);
  expect(res.status).toBe(200);
  return (await res.json()) as View;
}

async function settle(app: string, slot?: string): Promise<View> {
  const res = await control('POST', `/apps/${app}/settle${slot ? `?slot=${slot}` : ''}`, {
    timeoutMs: 15_000,
  });
  expect(res.status).toBe(200);
  return (await res.json()) as View;
}

function sitePath(app: string, slot?: string): string {
  const base = `/subscriptions/${sandbox.subscriptionId}/resourceGroups/${RG}/providers/Microsoft.Web/sites/${app}`;
  return slot ? `${base}/slots/${slot}` : base;
}

function arm(path: string, init: RequestInit = {}): Promise<Response> {
  return fetch(`${sandbox.armEndpoint}${path}`, {
    ...init,
    headers: {
      Authorization: `Bearer ${TOKEN}`,
      'Content-Type': 'application/json',
      ...(init.headers as Record<string, string>),
    },
  });
}

function kudu(app: string, path: string, init: RequestInit = {}, slot?: string): Promise<Response> {
  return fetch(`${sandbox.kuduUrl(app, slot)}${path}`, {
    ...init,
    headers: { Authorization: `Bearer ${TOKEN}`, ...(init.headers as Record<string, string>) },
  });
}

async function kuduSettings(app: string): Promise<Record<string, string>> {
  return (await (await kudu(app, '/api/settings')).json()) as Record<string, string>;
}

/** Read-modify-write of the app settings, as every client does. */
async function setSettings(
  app: string,
  patch: Record<string, string | undefined>,
  slot?: string,
): Promise<void> {
  const current = slot
    ? await client.webApps.listApplicationSettingsSlot(RG, app, slot)
    : await client.webApps.listApplicationSettings(RG, app);
  const next: Record<string, string> = { ...(current.properties ?? {}) };
  for (const [key, value] of Object.entries(patch)) {
    if (value === undefined) delete next[key];
    else next[key] = value;
  }
  if (slot) await client.webApps.updateApplicationSettingsSlot(RG, app, slot, { properties: next });
  else await client.webApps.updateApplicationSettings(RG, app, { properties: next });
}

/** Changes settings and waits until Kudu sees them, as Core Tools and functions-action do. */
async function setSettingsForKudu(app: string, patch: Record<string, string | undefined>): Promise<void> {
  await setSettings(app, patch);
  await until(
    () => kuduSettings(app),
    (s) => Object.entries(patch).every(([k, v]) => s[k] === v),
    'Kudu to see the settings',
  );
}

async function zipdeploy(app: string, body: Buffer, slot?: string): Promise<Response> {
  return kudu(app, '/api/zipdeploy', { method: 'POST', body }, slot);
}

async function latestLog(app: string): Promise<{ status: number; status_text: string; log: string[] }> {
  const latest = (await (await kudu(app, '/api/deployments/latest')).json()) as {
    id: string;
    status: number;
    status_text: string;
  };
  const log = (await (await kudu(app, `/api/deployments/${latest.id}/log`)).json()) as Array<{
    message: string;
  }>;
  return { status: latest.status, status_text: latest.status_text, log: log.map((e) => e.message) };
}

async function hostStatus(app: string, key?: string, slot?: string): Promise<Response> {
  return fetch(`${sandbox.hostUrl(app, slot)}/admin/host/status`, {
    headers: key === undefined ? {} : { 'x-functions-key': key },
  });
}

async function uploadRelease(name: string, bytes: Buffer): Promise<string> {
  const blob = releases.getContainerClient('function-releases').getBlockBlobClient(name);
  await blob.uploadData(bytes);
  return blob.generateSasUrl({
    permissions: BlobSASPermissions.parse('r'),
    startsOn: new Date(Date.now() - 300_000),
    expiresOn: new Date(Date.now() + 86_400_000),
  });
}

beforeAll(async () => {
  const certs = ensureCerts(process.env.SANDBOX_CERT_DIR as string);
  azurite = await startAzurite({ certs });
  releases = BlobServiceClient.fromConnectionString(azurite.connectionString);
  await releases.getContainerClient('function-releases').createIfNotExists();
  legacyUrl = await uploadRelease('legacy.zip', await classicApp());
  const node = (extra: Record<string, string> = {}) => ({
    FUNCTIONS_WORKER_RUNTIME: 'node',
    FUNCTIONS_EXTENSION_VERSION: '~4',
    AzureWebJobsStorage: azurite.connectionString,
    ...extra,
  });
  const app = (name: string, os: string, sku: string, settings: Record<string, string>, more = {}) => ({
    name,
    resourceGroup: RG,
    os,
    plan: { name: `plan-${name}`, sku },
    identities: ['SystemAssigned'],
    settings,
    ...(os === 'linux' ? { linuxFxVersion: 'Node|20' } : {}),
    ...more,
  });
  const seed = parseSeed({
    apps: [
      app(EP_APP, 'windows', 'EP1', node({ WEBSITE_RUN_FROM_PACKAGE: '1' }), {
        slots: [{ name: 'staging', settings: node() }],
      }),
      app(DED, 'windows', 'S1', node()),
      app(LY1, 'linux', 'Y1', node()),
      app(PY, 'linux', 'P1v3', node({ FUNCTIONS_WORKER_RUNTIME: 'python' }), {
        linuxFxVersion: 'Python|3.11',
      }),
      app(NODE, 'linux', 'P1v3', node()),
      app(NODE_BUILD, 'linux', 'P1v3', node()),
      app(CONT, 'linux', 'P1v3', node(), {
        kind: 'functionapp,linux,container',
        linuxFxVersion: 'DOCKER|contoso.azurecr.io/orders:1.4',
        imageFunctions: ['FromImage'],
      }),
      app(LEGACY, 'windows', 'S1', node({ WEBSITE_RUN_FROM_PACKAGE: '', WEBSITE_RUN_FROM_ZIP: legacyUrl })),
      app(MIG, 'windows', 'EP1', node({ WEBSITE_RUN_FROM_PACKAGE: '1' })),
      app(DOTNET, 'windows', 'S1', node({ FUNCTIONS_WORKER_RUNTIME: 'dotnet-isolated' })),
    ],
  });
  sandbox = await startAppService({
    seed,
    tls: { key: certs.key, cert: certs.cert, ca: certs.ca },
    verifyBearer: (token) => token === TOKEN,
    blob: { account: AZURITE_ACCOUNT, key: AZURITE_KEY },
  });
  client = new WebSiteManagementClient(credential(), sandbox.subscriptionId, {
    endpoint: sandbox.armEndpoint,
    retryOptions: { maxRetries: 0 },
  });
  for (const [name, slot] of [
    [PY],
    [NODE_BUILD],
    [CONT],
    [LEGACY],
    [MIG],
    [DOTNET],
    [LY1],
    [EP_APP, 'staging'],
  ] as Array<[string, string?]>) {
    const res = await control('POST', `/apps/${name}/platform${slot ? `?slot=${slot}` : ''}`, FAST);
    expect(res.status).toBe(200);
  }
  // The ordering tests on NODE need Kudu's delay to outlast a request or two, not a full second.
  await control('POST', `/apps/${NODE}/platform`, {
    recycleMs: 200,
    kuduSettingsDelayMs: 500,
    listLagMs: 60,
  });
  const kuduPaths = seed.apps.flatMap((a) => [
    `/apps/${a.name}/kudu`,
    ...a.slots.map((s) => `/apps/${a.name}/kudu?slot=${s.name}`),
  ]);
  for (const path of kuduPaths)
    expect((await control('POST', path, { deploymentDurationMs: 40 })).status).toBe(200);
});

afterAll(async () => {
  await sandbox?.close();
  await azurite?.stop();
});

describe('control knobs', () => {
  it('documents the defaults, validates changes and takes per-app overrides (null restores the default)', async () => {
    const index = (await (await control('GET', '')).json()) as { config: Record<string, number> };
    expect(index.config).toEqual({
      syncTriggersStatus: 200,
      recycleMs: 1000,
      kuduSettingsDelayMs: 1000,
      listLagMs: 700,
      maxRunFromPackageBytes: 1024 ** 3,
      maxZipDeployBytes: 2 * 1024 ** 3,
    });
    expect((await control('POST', '/config', { recycleMs: -1 })).status).toBe(400);
    expect((await control('POST', '/config', { maxZipDeployBytes: 0 })).status).toBe(400);
    const set = await control('POST', `/apps/${DED}/platform`, { listLagMs: 5 });
    expect(await set.json()).toMatchObject({ recycleMs: 1000, listLagMs: 5, overrides: { listLagMs: 5 } });
    const cleared = await control('POST', `/apps/${DED}/platform`, { listLagMs: null });
    expect(await cleared.json()).toMatchObject({ listLagMs: 700, overrides: {} });
  });
});

describe('host recycle', () => {
  it('a settings PUT takes the host down: syncs answer 400, the list shows WarmUp, status 503 then Starting', async () => {
    const { masterKey } = (await view(EP_APP)).hostKeys;
    expect((await hostStatus(EP_APP, masterKey)).status).toBe(200);
    const started = Date.now();
    await setSettings(EP_APP, { MARK: 'recycle' });
    // Asked at once, well inside the first half of the 1 s recycle.
    const down = await hostStatus(EP_APP, masterKey);
    expect(down.status).toBe(503);
    const viaArm = await arm(`${sitePath(EP_APP)}/hostruntime/admin/host/status?api-version=2022-03-01`);
    expect(viaArm.status).toBe(400);
    const sync = await rejection(client.webApps.syncFunctionTriggers(RG, EP_APP));
    expect(sync.statusCode).toBe(400);
    expect(sync.message).toBe(SYSTEM_MESSAGE);
    expect((await rejection(client.webApps.syncFunctions(RG, EP_APP))).statusCode).toBe(400);
    const hostruntime = await arm(
      `${sitePath(EP_APP)}/hostruntime/admin/host/synctriggers?api-version=2015-08-01`,
      {
        method: 'POST',
      },
    );
    expect(hostruntime.status).toBe(400);
    expect(await names(EP_APP)).toEqual(['WarmUp']);
    const during = await view(EP_APP);
    expect(['Restarting', 'Starting']).toContain(during.hostState);
    expect(Date.parse(during.recyclingUntil as string)).toBeGreaterThanOrEqual(started + 1000);

    const states = new Set<string>();
    await until(
      async () => {
        const res = await hostStatus(EP_APP, masterKey);
        const state =
          res.status === 200 ? ((await res.json()) as { state: string }).state : `HTTP ${res.status}`;
        states.add(state);
        if (state === 'Starting') {
          const page = await fetch(`${sandbox.hostUrl(EP_APP)}/`);
          states.add(`page ${page.status} ${await page.text()}`);
        }
        return state;
      },
      (state) => state === 'Running',
      'the host to run again',
    );
    expect(states.has('Starting')).toBe(true);
    expect(states.has('page 503 Function host is not running.')).toBe(true);
    expect(Date.now() - started).toBeGreaterThanOrEqual(950);
    // Back up: the sync reaches the host (and the SDK throws on the 200 real Azure sends).
    expect((await rejection(client.webApps.syncFunctionTriggers(RG, EP_APP))).statusCode).toBe(200);
  });

  it('a change during a recycle extends it, and only one load follows', async () => {
    const before = (await settle(DED)).loadCount;
    await setSettings(DED, { MARK: 'a' });
    const first = Date.parse((await view(DED)).recyclingUntil as string);
    await setSettings(DED, { MARK: 'b' });
    const second = Date.parse((await view(DED)).recyclingUntil as string);
    expect(second).toBeGreaterThan(first);
    const after = await settle(DED);
    expect(after.loadCount).toBe(before + 1);
    expect(after.settings.MARK).toBe('b');
  });

  it('an ARM restart recycles too; a per-app recycleMs shortens it', async () => {
    await control('POST', `/apps/${DED}/platform`, { recycleMs: 300 });
    try {
      await settle(DED);
      const before = Date.now();
      await client.webApps.restart(RG, DED);
      const after = Date.now();
      expect((await rejection(client.webApps.syncFunctions(RG, DED))).statusCode).toBe(400);
      // The recycle began while the restart was in flight and lasts the per-app 300 ms, however slow the machine.
      const downUntil = Date.parse((await view(DED)).recyclingUntil as string);
      expect(downUntil).toBeGreaterThanOrEqual(before + 300 - 5);
      expect(downUntil).toBeLessThanOrEqual(after + 300 + 5);
    } finally {
      await control('POST', `/apps/${DED}/platform`, { recycleMs: null });
    }
  });
});

describe('the function list lags behind the load', () => {
  it('a Dedicated app lists a strict subset first, then every function', async () => {
    // A lag long enough to be seen on a loaded machine; its length is not what this test measures.
    await control('POST', `/apps/${DED}/platform`, { listLagMs: 3000 });
    const deployed = await zipdeploy(DED, await classicApp());
    expect(deployed.status).toBe(200);
    await until(
      () => view(DED),
      (v) => v.hostState === 'Running',
      'the host to load the package',
    );
    expect(await names(DED)).toEqual(['HttpHello']);
    await until(
      () => names(DED),
      (n) => n.length === 2,
      'the full list',
    );
    expect(await names(DED)).toEqual(['HttpHello', 'HttpWorld']);
    await control('POST', `/apps/${DED}/platform`, { listLagMs: null });
  });

  it('an Elastic Premium app shows the placeholder WarmUp until the list catches up', async () => {
    await control('POST', `/apps/${EP_APP}/platform`, { listLagMs: 3000 });
    expect((await zipdeploy(EP_APP, await classicApp())).status).toBe(200);
    await until(
      () => view(EP_APP),
      (v) => v.hostState === 'Running',
      'the host to load the package',
    );
    expect(await names(EP_APP)).toEqual(['WarmUp']);
    await until(
      () => names(EP_APP),
      (n) => n.join() === 'HttpHello,HttpWorld',
      'the full list',
    );
    await control('POST', `/apps/${EP_APP}/platform`, { listLagMs: null });
  });
});

describe('Kudu sees settings late', () => {
  it('GET /api/settings shows a change only after kuduSettingsDelayMs', async () => {
    await control('POST', `/apps/${DED}/platform`, { kuduSettingsDelayMs: 3000 });
    await settle(DED);
    const changed = Date.now();
    await setSettings(DED, { LATE: 'yes' });
    expect((await kuduSettings(DED)).LATE).toBeUndefined();
    expect((await view(DED)).kudu.seesCurrentSettings).toBe(false);
    await until(
      () => kuduSettings(DED),
      (s) => s.LATE === 'yes',
      'Kudu to see the change',
    );
    expect(Date.now() - changed).toBeGreaterThanOrEqual(2950);
    await control('POST', `/apps/${DED}/platform`, { kuduSettingsDelayMs: null });
  });

  it("zipdeploy's 409 check still sees the old settings: a URL set just now does not stop a deployment", async () => {
    await settle(DED);
    await setSettings(DED, { WEBSITE_RUN_FROM_PACKAGE: legacyUrl });
    expect((await zipdeploy(DED, await classicApp())).status).toBe(200);
    await until(
      async () => (await zipdeploy(DED, await classicApp())).status,
      (status) => status === 409,
      'Kudu to refuse',
    );
    await setSettings(DED, { WEBSITE_RUN_FROM_PACKAGE: undefined });
    await settle(DED);
  });

  it('the =1 decision still sees the old settings: the zip lands in wwwroot and the app runs nothing', async () => {
    await settle(NODE);
    await setSettings(NODE, { WEBSITE_RUN_FROM_PACKAGE: '1' });
    expect((await zipdeploy(NODE, await classicApp())).status).toBe(200);
    const early = await settle(NODE);
    expect(early.wwwroot).toBe(true);
    expect(early.sitePackages).toEqual([]);
    expect(early.functions).toEqual([]);
    expect(early.hostState).toBe('Running');
    // Once Kudu sees =1 the same deployment goes to data/SitePackages and the host runs it.
    expect((await zipdeploy(NODE, await classicApp())).status).toBe(200);
    const late = await settle(NODE);
    expect(late.sitePackages).toHaveLength(1);
    expect(late.packageSource).toBe(`data/SitePackages/${late.sitePackages[0]}`);
    expect(late.functions.map((f) => f.name)).toEqual(['HttpHello', 'HttpWorld']);
  });
});

describe('WEBSITE_RUN_FROM_ZIP, the old name', () => {
  it('counts when WEBSITE_RUN_FROM_PACKAGE is empty: Kudu 409, the platform mounts its URL, =1 writes SitePackages', async () => {
    const refused = await zipdeploy(LEGACY, await classicApp());
    expect(refused.status).toBe(409);
    expect(await refused.text()).toBe(
      'Run-From-Zip is set to a remote URL using WEBSITE_USE_ZIP app setting. Deployment is not supported in this configuration.',
    );
    const mounted = await settle(LEGACY);
    expect(mounted.packageSource).toContain('/function-releases/legacy.zip');
    expect(mounted.functions.map((f) => f.name)).toEqual(['HttpHello', 'HttpWorld']);

    await setSettingsForKudu(LEGACY, { WEBSITE_RUN_FROM_ZIP: '1' });
    expect((await zipdeploy(LEGACY, await v4App())).status).toBe(200);
    const local = await settle(LEGACY);
    expect(local.sitePackages).toHaveLength(1);
    expect(local.functions.map((f) => f.name)).toEqual(['fromV4']);
  });
});

describe('host keys and the host status API', () => {
  it('listHostKeys gives the master key; /admin/host/status needs it and answers the HostStatus shape', async () => {
    expect(
      (
        await zipdeploy(
          DED,
          await classicApp({
            version: '2.0',
            extensionBundle: { id: 'Microsoft.Azure.Functions.ExtensionBundle', version: '[4.*, 5.0.0)' },
          }),
        )
      ).status,
    ).toBe(200);
    await settle(DED);
    const keys = await client.webApps.listHostKeys(RG, DED);
    expect(keys.masterKey).toMatch(/^[A-Za-z0-9+/]{54}==$/);
    expect(Object.keys(keys.functionKeys ?? {})).toEqual(['default']);
    expect(keys.systemKeys).toEqual({});
    const camel = await arm(`${sitePath(DED)}/host/default/listKeys?api-version=2022-03-01`, {
      method: 'POST',
    });
    expect(((await camel.json()) as { masterKey: string }).masterKey).toBe(keys.masterKey);
    const slotKeys = await client.webApps.listHostKeysSlot(RG, EP_APP, 'staging');
    expect(slotKeys.masterKey).not.toBe((await client.webApps.listHostKeys(RG, EP_APP)).masterKey);

    expect((await hostStatus(DED)).status).toBe(401);
    expect((await hostStatus(DED, 'wrong')).status).toBe(401);
    expect((await hostStatus(DED, keys.functionKeys?.default as string)).status).toBe(401);
    const ok = await hostStatus(DED, keys.masterKey);
    expect(ok.status).toBe(200);
    const status = (await ok.json()) as Record<string, unknown>;
    expect(status).toMatchObject({
      id: DED,
      state: 'Running',
      functionAppContentEditingState: 'Allowed',
      extensionBundle: { id: 'Microsoft.Azure.Functions.ExtensionBundle' },
    });
    for (const key of ['version', 'versionDetails', 'platformVersion', 'instanceId', 'computerName'])
      expect(typeof status[key]).toBe('string');
    expect(typeof status.processUptime).toBe('number');
    expect(status).not.toHaveProperty('errors');
    const byCode = await fetch(
      `${sandbox.hostUrl(DED)}/admin/host/status?code=${encodeURIComponent(keys.masterKey as string)}`,
    );
    expect(byCode.status).toBe(200);
    const page = await fetch(`${sandbox.hostUrl(DED)}/`);
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('Your Functions 4.0 app is up and running');

    const site = await client.webApps.get(RG, DED);
    expect(`https://${site.defaultHostName}`).toBe(sandbox.hostUrl(DED));
    // The same status through ARM, without a key.
    const viaArm = await arm(`${sitePath(DED)}/hostruntime/admin/host/status?api-version=2022-03-01`);
    expect(viaArm.status).toBe(200);
    expect(await viaArm.json()).toMatchObject({ id: DED, state: 'Running' });
  });
});

describe('remote build', () => {
  it('Linux + SCM_DO_BUILD_DURING_DEPLOYMENT=true runs Oryx: requirements land in .python_packages', async () => {
    await setSettingsForKudu(PY, { SCM_DO_BUILD_DURING_DEPLOYMENT: 'true' });
    expect((await zipdeploy(PY, await zipDir(join(EXAMPLES, 'python-v2')))).status).toBe(200);
    const { status, log } = await latestLog(PY);
    expect(status).toBe(4);
    expect(log).toContain('Running oryx build...');
    expect(log).toContain('Running pip install...');
    expect(
      log.some(
        (l) =>
          l.startsWith('Command: oryx build /tmp/zipdeploy/extracted') &&
          l.includes('--platform python --platform-version 3.11'),
      ),
    ).toBe(true);
    expect(log.some((l) => l.endsWith('Successfully installed azure-functions-1.21.3 requests-2.32.3'))).toBe(
      true,
    );
    const v = await settle(PY);
    expect(v.hostState).toBe('Running');
    expect(v.builds.at(-1)?.outcome).toBe('succeeded');
    expect(v.functions).toEqual([
      { name: 'hello', trigger: 'httpTrigger', invokeRoute: 'api/hello', isDisabled: false },
      { name: 'Tick', trigger: 'timerTrigger', invokeRoute: null, isDisabled: false },
      { name: 'on_work_item', trigger: 'queueTrigger', invokeRoute: null, isDisabled: false },
    ]);
  });

  it('a requirement no index has fails the deployment with pip wording', async () => {
    const res = await zipdeploy(
      PY,
      await zipOf({
        'host.json': '{"version":"2.0"}',
        'function_app.py': '',
        'requirements.txt': 'nosuchpkg==1.0\n',
      }),
    );
    expect(res.status).toBe(500);
    const { status, status_text, log } = await latestLog(PY);
    expect(status).toBe(3);
    const line =
      'ERROR: Could not find a version that satisfies the requirement nosuchpkg (from versions: none)';
    expect(status_text).toBe(line);
    expect(log.some((l) => l.endsWith(line))).toBe(true);
  });

  it('=1 skips the build; the Python host then fails with ModuleNotFoundError in its status and the list', async () => {
    await setSettingsForKudu(PY, { WEBSITE_RUN_FROM_PACKAGE: '1' });
    expect((await zipdeploy(PY, await zipDir(join(EXAMPLES, 'python-v2')))).status).toBe(200);
    expect((await latestLog(PY)).log).toContain('Run from package. Ignore remote build.');
    const v = await settle(PY);
    expect(v.builds.at(-1)?.outcome).toBe('skipped');
    expect(v.hostState).toBe('Error');
    expect(v.hostErrors[0]).toContain("ModuleNotFoundError: No module named 'requests'");
    const status = (await (await hostStatus(PY, v.hostKeys.masterKey)).json()) as {
      state: string;
      errors: string[];
    };
    expect(status.state).toBe('Error');
    expect(status.errors[0]).toContain("No module named 'requests'");
    const listing = await arm(`${sitePath(PY)}/functions?api-version=2024-11-01`);
    expect(listing.status).toBe(400);
    expect(((await listing.json()) as { error: { message: string } }).error.message).toContain(
      'ModuleNotFoundError',
    );
    // A locally built package (its own .python_packages) runs under =1.
    const vendored = await zipOf({
      'host.json': '{"version":"2.0"}',
      'requirements.txt': 'Requests>=2\n',
      '.python_packages/lib/site-packages/requests/__init__.py': '',
      'main.py':
        'import azure.functions as func\napp = func.FunctionApp()\n\n@app.route()\ndef ping(req):\n    return None\n',
    });
    await setSettingsForKudu(PY, { PYTHON_SCRIPT_FILE_NAME: 'main.py' });
    expect((await zipdeploy(PY, vendored)).status).toBe(200);
    const fixed = await settle(PY);
    expect(fixed.hostState).toBe('Running');
    expect(fixed.functions.map((f) => f.invokeRoute)).toEqual(['api/ping']);
  });

  it('Node: dependencies go to node_modules; an unknown one fails with npm 404; Windows never builds', async () => {
    await setSettingsForKudu(NODE_BUILD, { SCM_DO_BUILD_DURING_DEPLOYMENT: 'true' });
    const app = (deps: Record<string, string>) =>
      zipOf({
        'host.json': '{"version":"2.0"}',
        'package.json': JSON.stringify({ name: 'b', main: 'index.js', dependencies: deps }),
        'index.js': "require('@azure/functions').app.http('built', {});",
      });
    expect((await zipdeploy(NODE_BUILD, await app({ '@azure/functions': '^4.0.0' }))).status).toBe(200);
    const built = await latestLog(NODE_BUILD);
    expect(built.log).toContain("Running 'npm install --unsafe-perm'...");
    expect(built.log).toContain('added 1 package in 1s');
    expect(
      (await zipdeploy(NODE_BUILD, await app({ 'left-pad': '1.3.0', 'no-such-dep': '^1.0.0' }))).status,
    ).toBe(500);
    const failed = await latestLog(NODE_BUILD);
    expect(failed.status_text).toBe(
      'npm ERR! 404 Not Found - GET https://registry.npmjs.org/no-such-dep - Not found',
    );

    await setSettingsForKudu(DOTNET, { SCM_DO_BUILD_DURING_DEPLOYMENT: 'true' });
    expect((await zipdeploy(DOTNET, await zipDir(join(EXAMPLES, 'dotnet-isolated')))).status).toBe(200);
    expect((await latestLog(DOTNET)).log.some((l) => l.includes('oryx'))).toBe(false);
  });

  it('oryxBuild: normalised names, comments and options skipped; other runtimes come back unchanged', async () => {
    const input = await zipOf({
      'function_app.py': '',
      'requirements.txt':
        '# pinned\n\n-r other.txt\nPython_Dateutil>=2.8 ; python_version > "3"\nrequests[socks]~=2.31\n',
    });
    const lines: string[] = [];
    const output = await oryxBuild(input, 'python', (line) => lines.push(line));
    const zip = await JSZip.loadAsync(output);
    expect(zip.file('.python_packages/lib/site-packages/dateutil/__init__.py')).not.toBeNull();
    expect(zip.file('.python_packages/lib/site-packages/requests/__init__.py')).not.toBeNull();
    expect(lines.some((l) => l.endsWith('Collecting Python_Dateutil'))).toBe(true);
    expect(await oryxBuild(input, 'java', () => undefined)).toBe(input);
    const node = await oryxBuild(
      await zipOf({ 'package.json': JSON.stringify({ dependencies: { '@azure/functions': '^4' } }) }),
      'node',
      () => undefined,
    );
    expect((await JSZip.loadAsync(node)).file('node_modules/@azure/functions/package.json')).not.toBeNull();
    await expect(oryxBuild(input, 'node', () => undefined)).rejects.toThrow(/platform 'nodejs'/);
  });
});

describe('function discovery', () => {
  it('.NET isolated apps are indexed from functions.metadata', async () => {
    await settle(DOTNET);
    const envelopes: FunctionEnvelope[] = [];
    for await (const fn of client.webApps.listFunctions(RG, DOTNET)) envelopes.push(fn);
    const hello = envelopes.find((f) => f.name === `${DOTNET}/HttpHello`);
    expect(hello?.language).toBe('dotnet-isolated');
    expect(hello?.invokeUrlTemplate).toBe(`${sandbox.hostUrl(DOTNET)}/api/hello`);
    expect(envelopes.map((f) => f.name).sort()).toEqual([`${DOTNET}/HttpHello`, `${DOTNET}/NightlyCleanup`]);
  });
});

describe('=1 cannot become a URL', () => {
  it('a site that ran from data/SitePackages fails to load from a URL; its SitePackages stay readable', async () => {
    const zip = await classicApp();
    await setSettingsForKudu(MIG, { MARK: 'ready' });
    expect((await zipdeploy(MIG, zip)).status).toBe(200);
    const local = await settle(MIG);
    expect(local.ranFromLocalPackage).toBe(true);
    expect(local.hostState).toBe('Running');

    await setSettings(MIG, { WEBSITE_RUN_FROM_PACKAGE: legacyUrl });
    const broken = await settle(MIG);
    expect(broken.hostState).toBe('Error');
    expect(broken.hostErrors[0]).toContain('cannot be migrated to run from a remote ZIP package');

    const listing = (await (await kudu(MIG, '/api/vfs/data/SitePackages/')).json()) as Array<{
      name: string;
    }>;
    const name = await (await kudu(MIG, '/api/vfs/data/SitePackages/packagename.txt')).text();
    expect(listing.map((e) => e.name)).toContain(name);
    const bytes = Buffer.from(await (await kudu(MIG, `/api/vfs/data/SitePackages/${name}`)).arrayBuffer());
    expect(bytes.equals(zip)).toBe(true);

    await setSettings(MIG, { WEBSITE_RUN_FROM_PACKAGE: '1' });
    expect((await settle(MIG)).hostState).toBe('Running');
  });
});

describe('slots and swap', () => {
  it('lists slots and keeps slot settings sticky through slotConfigNames', async () => {
    const slots: string[] = [];
    for await (const s of client.webApps.listSlots(RG, EP_APP)) slots.push(String(s.name));
    expect(slots).toEqual([`${EP_APP}/staging`]);
    const initial = await client.webApps.listSlotConfigurationNames(RG, EP_APP);
    expect(initial.appSettingNames).toEqual([]);
    const updated = await client.webApps.updateSlotConfigurationNames(RG, EP_APP, {
      appSettingNames: ['STICKY'],
    });
    expect(updated.appSettingNames).toEqual(['STICKY']);
    expect((await client.webApps.listSlotConfigurationNames(RG, EP_APP)).appSettingNames).toEqual(['STICKY']);
  });

  it('a swap exchanges non-sticky settings (WEBSITE_RUN_FROM_PACKAGE too) and content, and recycles both', async () => {
    await control('POST', `/apps/${EP_APP}/platform`, FAST);
    await setSettings(EP_APP, { STICKY: 'prod', MARK: 'prod' });
    await setSettings(EP_APP, { STICKY: 'stage', MARK: 'stage' }, 'staging');
    await settle(EP_APP);
    await settle(EP_APP, 'staging');
    expect((await zipdeploy(EP_APP, await classicApp())).status).toBe(200);
    expect((await zipdeploy(EP_APP, await v4App(), 'staging')).status).toBe(200);
    await settle(EP_APP);
    await settle(EP_APP, 'staging');

    await client.webApps.beginSwapSlotAndWait(
      RG,
      EP_APP,
      'staging',
      { targetSlot: 'production', preserveVnet: true },
      { updateIntervalInMs: 20 },
    );
    const production = await settle(EP_APP);
    const staging = await settle(EP_APP, 'staging');
    expect(production.settings).toMatchObject({ STICKY: 'prod', MARK: 'stage' });
    expect(production.settings.WEBSITE_RUN_FROM_PACKAGE).toBeUndefined();
    expect(staging.settings).toMatchObject({ STICKY: 'stage', MARK: 'prod', WEBSITE_RUN_FROM_PACKAGE: '1' });
    expect(production.functions.map((f) => f.name)).toEqual(['fromV4']);
    expect(staging.functions.map((f) => f.name)).toEqual(['HttpHello', 'HttpWorld']);
    for (const v of [production, staging]) expect(v.events.some((e) => e.type === 'swap')).toBe(true);
    expect(await names(EP_APP)).toEqual(['fromV4']);

    // Raw: 202 with a Location that answers 202 until both sites are back, then 200 (a longer recycle makes the
    // 202 observable).
    await control('POST', `/apps/${EP_APP}/platform`, { recycleMs: 800 });
    const res = await arm(`${sitePath(EP_APP)}/slotsswap?api-version=2024-11-01`, {
      method: 'POST',
      body: JSON.stringify({ targetSlot: 'staging' }),
    });
    expect(res.status).toBe(202);
    const location = res.headers.get('location') as string;
    expect((await arm(new URL(location).pathname + new URL(location).search)).status).toBe(202);
    await until(
      async () => (await arm(new URL(location).pathname + new URL(location).search)).status,
      (s) => s === 200,
      'the swap to complete',
    );
    expect((await view(EP_APP)).settings.MARK).toBe('prod');
    await control('POST', `/apps/${EP_APP}/platform`, FAST);

    const viaControl = await control('POST', `/apps/${EP_APP}/swap?slot=staging`);
    expect(viaControl.status).toBe(200);
    expect((await view(EP_APP)).settings.MARK).toBe('stage');
    const noTarget = await arm(`${sitePath(EP_APP)}/slotsswap?api-version=2024-11-01`, {
      method: 'POST',
      body: '{}',
    });
    expect(noTarget.status).toBe(400);
    const unknown = await arm(`${sitePath(EP_APP)}/slotsswap?api-version=2024-11-01`, {
      method: 'POST',
      body: JSON.stringify({ targetSlot: 'nope' }),
    });
    expect(unknown.status).toBe(404);
  });
});

describe('Linux Consumption trigger sync', () => {
  it('ARM syncfunctiontriggers is accepted but registers nothing; the host-runtime route does', async () => {
    const first = await uploadRelease('y1-first.zip', await classicApp());
    await setSettings(LY1, { WEBSITE_RUN_FROM_PACKAGE: first });
    await settle(LY1);
    expect((await rejection(client.webApps.syncFunctionTriggers(RG, LY1))).statusCode).toBe(200);
    expect((await settle(LY1)).hostState).toBe('Running');
    expect(await names(LY1)).toEqual([]);

    const hostruntime = await arm(
      `${sitePath(LY1)}/hostruntime/admin/host/synctriggers?api-version=2015-08-01`,
      {
        method: 'POST',
      },
    );
    expect(hostruntime.status).toBe(200);
    await settle(LY1);
    expect(await names(LY1)).toEqual(['HttpHello', 'HttpWorld']);

    // A new package: the host loads it, but the ARM list keeps the old triggers until an effective sync.
    await setSettings(LY1, { WEBSITE_RUN_FROM_PACKAGE: await uploadRelease('y1-second.zip', await v4App()) });
    await settle(LY1);
    expect((await rejection(client.webApps.syncFunctionTriggers(RG, LY1))).statusCode).toBe(200);
    const stale = await settle(LY1);
    expect(stale.functions.map((f) => f.name)).toEqual(['fromV4']);
    expect(await names(LY1)).toEqual(['HttpHello', 'HttpWorld']);
    await client.webApps.syncFunctions(RG, LY1);
    await settle(LY1);
    expect(await names(LY1)).toEqual(['fromV4']);
  });
});

describe('container apps', () => {
  it('ARM shows the kind and image; a zipdeploy succeeds but the host keeps running the image', async () => {
    const site = await client.webApps.get(RG, CONT);
    expect(site.kind).toBe('functionapp,linux,container');
    expect((await client.webApps.getConfiguration(RG, CONT)).linuxFxVersion).toBe(
      'DOCKER|contoso.azurecr.io/orders:1.4',
    );
    expect((await zipdeploy(CONT, await classicApp())).status).toBe(200);
    expect((await latestLog(CONT)).status).toBe(4);
    const v = await settle(CONT);
    expect(v.hostState).toBe('Running');
    expect(v.packageSource).toBe('image DOCKER|contoso.azurecr.io/orders:1.4');
    expect(await names(CONT)).toEqual(['FromImage']);
  });
});

describe('size limits', () => {
  it('a run-from-package URL over maxRunFromPackageBytes is not mounted', async () => {
    await control('POST', '/config', { maxRunFromPackageBytes: 200 });
    try {
      await setSettings(DOTNET, { WEBSITE_RUN_FROM_PACKAGE: legacyUrl });
      const big = await settle(DOTNET);
      expect(big.hostState).toBe('Error');
      expect(big.hostErrors[0]).toMatch(
        /is \d+ bytes, more than the 200 bytes a run-from-package ZIP may be/,
      );
    } finally {
      await control('POST', '/config', { maxRunFromPackageBytes: 1024 ** 3 });
      await setSettings(DOTNET, { WEBSITE_RUN_FROM_PACKAGE: undefined });
    }
  });

  it('a zipdeploy body over maxZipDeployBytes fails unclearly: 500 on Windows, a dropped connection on Linux', async () => {
    await control('POST', '/config', { maxZipDeployBytes: 100 });
    try {
      const win = await zipdeploy(DOTNET, await classicApp());
      expect(win.status).toBe(500);
      expect(await win.json()).toMatchObject({ ExceptionMessage: 'Maximum request length exceeded.' });
      await expect(zipdeploy(NODE, await classicApp())).rejects.toThrow();
    } finally {
      await control('POST', '/config', { maxZipDeployBytes: 2 * 1024 ** 3 });
    }
  });
});
