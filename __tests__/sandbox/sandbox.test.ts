import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DefaultArtifactClient } from '@actions/artifact';
import { BlobServiceClient, RestError } from '@azure/storage-blob';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { functionAppZip, storeLegacyPackage } from '../../sandbox/fixtures.js';
import { EXAMPLE_APPS, readSeedFile, type Sandbox, startSandbox } from '../../sandbox/index.js';
import type { RequestCounters } from '../../sandbox/storage-front.js';
import { mintToken } from '../../sandbox/tokens.js';

/**
 * The whole sandbox as `npm run sandbox` starts it: every blob URL it hands out goes through the storage front
 * door (so the account's rules reach the action and the platform alike), and nothing it does, or the clients
 * driving it do, leaves loopback.
 */

const APP = 'func-win-ep';
const RG = 'rg-sandbox';

let sb: Sandbox;
let work: string;
let childLog: string;
/** Every TCP connection this worker opens while the sandbox runs. */
const connections: string[] = [];
const originalConnect = net.Socket.prototype.connect;
const savedEnv = new Map<string, string | undefined>();

function setEnv(key: string, value: string | undefined): void {
  if (!savedEnv.has(key)) savedEnv.set(key, process.env[key]);
  if (value === undefined) delete process.env[key];
  else process.env[key] = value;
}

function target(first: unknown): string {
  const options = Array.isArray(first) ? first[0] : first;
  if (typeof options === 'object' && options !== null) {
    const o = options as { host?: string; port?: number; path?: string };
    return o.path ?? `${o.host ?? 'localhost'}:${o.port}`;
  }
  return `localhost:${String(options)}`;
}

async function storageControl(method: string, path: string, body?: unknown): Promise<Response> {
  return fetch(`${sb.env.SANDBOX_STORAGE_CONTROL_URL}${path}`, {
    method,
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
}

async function appState(): Promise<{
  settings: Record<string, string>;
  functions: { name: string }[];
  hostError: string | null;
  loadCount: number;
}> {
  return (await (await fetch(`${sb.env.SANDBOX_CONTROL_URL}/apps/${APP}`)).json()) as never;
}

/** Restarts the app through ARM and waits (bounded) for the platform's next package load. */
async function restartAndLoad(): Promise<Awaited<ReturnType<typeof appState>>> {
  const before = (await appState()).loadCount;
  const token = mintToken({ audience: 'https://management.azure.com/', tenantId: sb.tenantId });
  const res = await fetch(
    `${sb.env.SANDBOX_ARM_ENDPOINT}/subscriptions/${sb.subscriptionId}/resourceGroups/${RG}/providers/Microsoft.Web/sites/${APP}/restart?api-version=2024-11-01`,
    { method: 'POST', headers: { authorization: `Bearer ${token}` } },
  );
  expect(res.status).toBe(200);
  const deadline = Date.now() + 15_000;
  for (;;) {
    const state = await appState();
    if (state.loadCount > before) return state;
    if (Date.now() > deadline) throw new Error('the platform did not reload the package');
    await new Promise((r) => setTimeout(r, 25));
  }
}

async function pointAppAt(url: string): Promise<void> {
  const current = await appState();
  const res = await fetch(`${sb.env.SANDBOX_CONTROL_URL}/apps/${APP}/settings`, {
    method: 'PUT',
    body: JSON.stringify({ ...current.settings, WEBSITE_RUN_FROM_PACKAGE: url }),
  });
  expect(res.status).toBe(200);
}

beforeAll(async () => {
  net.Socket.prototype.connect = function (this: net.Socket, ...args: unknown[]) {
    connections.push(target(args[0]));
    return (originalConnect as (...a: unknown[]) => net.Socket).apply(this, args);
  } as typeof net.Socket.prototype.connect;
  work = mkdtempSync(join(tmpdir(), 'afpd-sandbox-test-'));
  childLog = join(work, 'child-connects.log');
  // Loaded into Azurite (a child process): records every connection it opens.
  const guard = join(work, 'connect-guard.cjs');
  writeFileSync(
    guard,
    `const net = require('node:net'); const fs = require('node:fs'); const c = net.Socket.prototype.connect;
net.Socket.prototype.connect = function (...a) { fs.appendFileSync(${JSON.stringify(childLog)}, JSON.stringify(a[0]) + '\\n'); return c.apply(this, a); };`,
  );
  setEnv('NODE_OPTIONS', `${process.env.NODE_OPTIONS ?? ''} --require ${guard}`.trim());
  sb = await startSandbox({
    seed: readSeedFile(EXAMPLE_APPS),
    certDir: process.env.SANDBOX_CERT_DIR as string,
  });
  setEnv('NODE_OPTIONS', savedEnv.get('NODE_OPTIONS'));
});

afterAll(async () => {
  net.Socket.prototype.connect = originalConnect;
  await sb?.stop();
  for (const [key, value] of savedEnv) {
    if (value === undefined) delete process.env[key];
    else process.env[key] = value;
  }
  if (work) rmSync(work, { recursive: true, force: true });
});

describe('startSandbox: the storage front door', () => {
  it('every handed-out blob URL and connection string is the front door, not Azurite', async () => {
    const front = new URL(sb.env.SANDBOX_BLOB_ENDPOINT as string);
    expect(front.origin).toBe(sb.storage.origin);
    expect(front.port).not.toBe(String(sb.azurite.port));
    expect(sb.env.SANDBOX_STORAGE_CONNECTION_STRING).toContain(`BlobEndpoint=${sb.storage.blobEndpoint};`);
    expect(sb.env.SANDBOX_STORAGE_CONTROL_URL).toBe(`${sb.storage.origin}/_sandbox`);
    // The seed placeholders: AzureWebJobsStorage, a legacy package URL and Flex's deployment container.
    expect((await appState()).settings.AzureWebJobsStorage).toContain(
      `BlobEndpoint=${sb.storage.blobEndpoint};`,
    );
    const everything = JSON.stringify(await (await fetch(`${sb.env.SANDBOX_CONTROL_URL}/apps`)).json());
    expect(everything).not.toContain(`127.0.0.1:${sb.azurite.port}`);
    const token = mintToken({ audience: 'https://management.azure.com/', tenantId: sb.tenantId });
    const flex = (await (
      await fetch(
        `${sb.env.SANDBOX_ARM_ENDPOINT}/subscriptions/${sb.subscriptionId}/resourceGroups/${RG}/providers/Microsoft.Web/sites/func-flex?api-version=2024-11-01`,
        { headers: { authorization: `Bearer ${token}` } },
      )
    ).json()) as { properties: { functionAppConfig: { deployment: { storage: { value: string } } } } };
    expect(flex.properties.functionAppConfig.deployment.storage.value).toBe(
      `${sb.storage.blobEndpoint}/app-package-func-flex`,
    );
  });

  it('the platform fetches the package through the front door, counted as the platform', async () => {
    await storageControl('DELETE', '/requests');
    const url = await storeLegacyPackage(
      sb.env.SANDBOX_STORAGE_CONNECTION_STRING as string,
      'through-front.zip',
      await functionAppZip(['ViaFront']),
      new Date(Date.now() + 3600_000),
    );
    expect(new URL(url).origin).toBe(sb.storage.origin);
    await pointAppAt(url);
    const state = await restartAndLoad();
    expect(state.hostError).toBeNull();
    expect(state.functions.map((f) => f.name)).toEqual(['ViaFront']);
    const counters = (await (await storageControl('GET', '/requests')).json()) as RequestCounters;
    expect(counters.byRoute['blob.get']?.platform).toBeGreaterThanOrEqual(1);
    expect(counters.byRoute['blob.put']?.action).toBe(1);
    expect(sb.storage.counters()).toEqual(counters);
  });

  it('a firewall refuses the action but lets the platform in, until blockPlatform breaks the package fetch', async () => {
    const url = await storeLegacyPackage(
      sb.env.SANDBOX_STORAGE_CONNECTION_STRING as string,
      'firewalled.zip',
      await functionAppZip(['Firewalled']),
      new Date(Date.now() + 3600_000),
    );
    await pointAppAt(url);
    expect((await storageControl('POST', '/account', { firewall: true })).status).toBe(200);
    try {
      const asAction = BlobServiceClient.fromConnectionString(
        sb.env.SANDBOX_STORAGE_CONNECTION_STRING as string,
        {
          retryOptions: { maxTries: 1 },
        },
      );
      const refused = await asAction
        .getContainerClient('legacy')
        .getBlockBlobClient('from-runner.zip')
        .upload('x', 1)
        .then(
          () => undefined,
          (error: unknown) => error,
        );
      expect(refused).toBeInstanceOf(RestError);
      expect(refused).toMatchObject({ statusCode: 403, code: 'AuthorizationFailure' });
      const allowed = await restartAndLoad();
      expect(allowed.hostError).toBeNull();
      expect(allowed.functions.map((f) => f.name)).toEqual(['Firewalled']);
      expect((await storageControl('POST', '/account', { blockPlatform: true })).status).toBe(200);
      const blocked = await restartAndLoad();
      expect(blocked.functions).toEqual([]);
      expect(blocked.hostError).toMatch(/returned 403 AuthorizationFailure/);
      // Azurite itself (backstage) is untouched by the account's rules.
      const direct = BlobServiceClient.fromConnectionString(sb.azurite.connectionString);
      expect(await direct.getContainerClient('legacy').getBlobClient('firewalled.zip').exists()).toBe(true);
    } finally {
      await storageControl('POST', '/account', { firewall: false, blockPlatform: false });
    }
  });
});

describe('startSandbox: Flex Consumption behind the front door', () => {
  const FLEX = 'func-flex';
  const token = () => mintToken({ audience: 'https://management.azure.com/', tenantId: sb.tenantId });

  /** POST /api/publish, then polls the record (bounded) until it is complete. */
  async function publish(tag: string): Promise<{ status: number; status_text: string }> {
    const kudu = sb.appService.kuduUrl(FLEX);
    const res = await fetch(`${kudu}/api/publish?RemoteBuild=false`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token()}`, 'content-type': 'application/zip' },
      body: await functionAppZip([tag]),
    });
    expect(res.status).toBe(202);
    const id = (await res.json()) as string;
    const deadline = Date.now() + 15_000;
    for (;;) {
      const record = (await (
        await fetch(`${kudu}/api/deployments/${id}`, { headers: { authorization: `Bearer ${token()}` } })
      ).json()) as { status: number; status_text: string; complete: boolean };
      if (record.complete) return record;
      if (Date.now() > deadline) throw new Error(`deployment ${id} did not complete`);
      await new Promise((r) => setTimeout(r, 25));
    }
  }

  async function released(): Promise<Buffer> {
    // Backstage, past the account's rules: what the container holds.
    const direct = BlobServiceClient.fromConnectionString(sb.azurite.connectionString);
    return direct
      .getContainerClient(`app-package-${FLEX}`)
      .getBlobClient('released-package.zip')
      .downloadToBuffer();
  }

  it('the platform writes released-package.zip through the front door, counted as the platform', async () => {
    const flexControl = `${sb.env.SANDBOX_CONTROL_URL}/apps/${FLEX}/flex`;
    const set = await fetch(flexControl, {
      method: 'POST',
      body: JSON.stringify({ deploymentDurationMs: 120 }),
    });
    expect(set.status).toBe(200);
    await storageControl('DELETE', '/requests');
    expect((await publish('ViaFrontFlex')).status).toBe(4);
    const counters = (await (await storageControl('GET', '/requests')).json()) as RequestCounters;
    expect(counters.byRoute['blob.put']).toEqual({ action: 0, platform: 1 });
  });

  it('a firewall lets the platform write, until blockPlatform fails the publish and keeps the previous package', async () => {
    expect((await storageControl('POST', '/account', { firewall: true })).status).toBe(200);
    try {
      expect((await publish('Firewalled')).status).toBe(4);
      const previous = await released();
      expect((await storageControl('POST', '/account', { blockPlatform: true })).status).toBe(200);
      const refused = await publish('Blocked');
      expect(refused.status).toBe(3);
      expect(refused.status_text).toMatch(
        /^InaccessibleStorageException: .*403 \(This request is not authorized to perform this operation\.\)/,
      );
      expect(await released()).toEqual(previous);
    } finally {
      await storageControl('POST', '/account', { firewall: false, blockPlatform: false });
    }
  });
});

describe('startSandbox: loopback only', () => {
  it('ARM, Kudu, storage (with a server-side copy), and artifacts: no connection leaves 127.0.0.1', async () => {
    const token = mintToken({ audience: 'https://management.azure.com/', tenantId: sb.tenantId });
    const deploy = await fetch(`${sb.appService.kuduUrl('func-linux-dedicated')}/api/zipdeploy`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}` },
      body: await functionAppZip(['Zipped']),
    });
    expect(deploy.status).toBe(200);
    const service = BlobServiceClient.fromConnectionString(
      sb.env.SANDBOX_STORAGE_CONNECTION_STRING as string,
    );
    const source = await storeLegacyPackage(
      sb.env.SANDBOX_STORAGE_CONNECTION_STRING as string,
      'copy-source.zip',
      await functionAppZip(['Copied']),
      new Date(Date.now() + 3600_000),
    );
    // Copy Blob from a SAS source makes Azurite request the source itself: the child process connects too.
    const copy = service.getContainerClient('legacy').getBlockBlobClient('copy-target.zip');
    await (await copy.beginCopyFromURL(source)).pollUntilDone();

    for (const key of [
      'ACTIONS_RUNTIME_TOKEN',
      'ACTIONS_RESULTS_URL',
      'GITHUB_WORKSPACE',
      'GITHUB_SERVER_URL',
    ]) {
      setEnv(key, key === 'GITHUB_SERVER_URL' ? undefined : key === 'GITHUB_WORKSPACE' ? work : sb.env[key]);
    }
    const file = join(work, 'record.json');
    writeFileSync(file, '{"ok":true}');
    const artifact = new DefaultArtifactClient();
    const uploaded = await artifact.uploadArtifact('loopback', [file], work);
    await artifact.downloadArtifact(uploaded.id as number, { path: join(work, 'download') });
    expect(readFileSync(join(work, 'download', 'record.json'), 'utf8')).toBe('{"ok":true}');

    expect(connections.length).toBeGreaterThan(0);
    expect(connections.filter((c) => !/^(127\.0\.0\.1|localhost|::1):\d+$/.test(c))).toEqual([]);
    expect(existsSync(childLog)).toBe(true);
    const childTargets = readFileSync(childLog, 'utf8')
      .trim()
      .split('\n')
      .map((line) => target(JSON.parse(line)));
    expect(childTargets.length).toBeGreaterThan(0);
    expect(childTargets.filter((c) => !/^(127\.0\.0\.1|localhost|::1):\d+$/.test(c))).toEqual([]);
  });
});

describe('the control endpoint ages a SAS', () => {
  it('re-signs the package URL for the same blob with a near expiry, still readable', async () => {
    const url = await storeLegacyPackage(
      sb.storage.connectionString,
      'aged.zip',
      await functionAppZip(['AgedFn']),
      new Date(Date.now() + 300 * 86_400_000),
    );
    const control = `${sb.env.SANDBOX_CONTROL_URL}/apps/${APP}`;
    await fetch(`${control}/settings`, {
      method: 'PUT',
      body: JSON.stringify({ ...(await appState()).settings, WEBSITE_RUN_FROM_PACKAGE: url }),
    });
    expect(
      (await fetch(`${control}/age-sas`, { method: 'POST', body: JSON.stringify({ days: 5 }) })).status,
    ).toBe(200);
    const aged = (await appState()).settings.WEBSITE_RUN_FROM_PACKAGE as string;
    expect(aged.split('?')[0]).toBe(url.split('?')[0]);
    const expiry = new Date(decodeURIComponent(/[?&]se=([^&]+)/.exec(aged)?.[1] ?? ''));
    expect(Math.round((expiry.getTime() - Date.now()) / 86_400_000)).toBe(5);
    expect((await fetch(aged)).status).toBe(200);
    expect((await fetch(`${control}/age-sas`, { method: 'POST', body: '{}' })).status).toBe(400);
  });
});
