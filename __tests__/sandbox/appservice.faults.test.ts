import { RestError, WebSiteManagementClient } from '@azure/arm-appservice';
import type { TokenCredential } from '@azure/identity';
import JSZip from 'jszip';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type AppServiceHandle, parseSeed, startAppService } from '../../sandbox/appservice/index.js';
import { ensureCerts, type SandboxCerts } from '../../sandbox/certs.js';

/**
 * The fault kinds the action must survive on ARM and Kudu: a request accepted and never answered, a write
 * applied but never acknowledged, a refusal carrying the service's own code and text, and an SCM site behind
 * access restrictions.
 */

const TOKEN = 'sandbox-fault-token';
const RG = 'rg-faults';
const APP = 'func-faults';
const SEED = {
  apps: [
    {
      name: APP,
      resourceGroup: RG,
      location: 'East US',
      os: 'windows',
      plan: { name: 'plan-faults', sku: 'EP1' },
      settings: { FUNCTIONS_WORKER_RUNTIME: 'node', WEBSITE_RUN_FROM_PACKAGE: '1' },
    },
  ],
};

let certs: SandboxCerts;
let sandbox: AppServiceHandle;
let client: WebSiteManagementClient;

function credential(): TokenCredential {
  return { getToken: async () => ({ token: TOKEN, expiresOnTimestamp: Date.now() + 3_600_000 }) };
}

async function start(): Promise<AppServiceHandle> {
  return startAppService({
    seed: parseSeed(SEED),
    tls: { key: certs.key, cert: certs.cert, ca: certs.ca },
    verifyBearer: (token) => token === TOKEN,
    blob: { account: 'unused', key: Buffer.from('unused').toString('base64') },
  });
}

async function control(method: string, path: string, body?: unknown, base = sandbox): Promise<Response> {
  return fetch(`${base.controlUrl}${path}`, {
    method,
    ...(body === undefined
      ? {}
      : { body: JSON.stringify(body), headers: { 'content-type': 'application/json' } }),
  });
}

async function fault(spec: Record<string, unknown>, base = sandbox): Promise<void> {
  const res = await control('POST', '/faults', spec, base);
  expect(res.status, await res.clone().text()).toBe(200);
}

function kudu(path: string, init: RequestInit = {}): Promise<Response> {
  return fetch(`${sandbox.kuduUrl(APP)}${path}`, {
    ...init,
    headers: { authorization: `Bearer ${TOKEN}`, ...(init.headers as Record<string, string> | undefined) },
  });
}

async function packageZip(): Promise<Buffer> {
  const zip = new JSZip();
  zip.file('host.json', '{"version":"2.0"}');
  zip.file('Hello/function.json', JSON.stringify({ bindings: [{ type: 'httpTrigger', name: 'req' }] }));
  return zip.generateAsync({ type: 'nodebuffer' });
}

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error('expected the call to fail');
}

async function deployments(): Promise<Array<{ id: string; status: number; complete: boolean }>> {
  return (await (await kudu('/api/deployments')).json()) as Array<{
    id: string;
    status: number;
    complete: boolean;
  }>;
}

beforeAll(async () => {
  certs = ensureCerts(process.env.SANDBOX_CERT_DIR as string);
  sandbox = await start();
  client = new WebSiteManagementClient(credential(), sandbox.subscriptionId, {
    endpoint: sandbox.armEndpoint,
    retryOptions: { maxRetries: 0 },
  });
});

afterAll(async () => {
  await sandbox?.close();
});

afterEach(async () => {
  await control('DELETE', '/faults');
  await control('POST', `/apps/${APP}/kudu`, { ipRestricted: false });
});

describe('ARM: accepted and never answered', () => {
  it('hang: the SDK call is bounded only by its own abort signal; the next call is answered', async () => {
    await fault({ route: 'arm.site.get', hang: true });
    const started = Date.now();
    const error = await rejection(client.webApps.get(RG, APP, { abortSignal: AbortSignal.timeout(300) }));
    expect((error as Error).name).toBe('AbortError');
    expect(Date.now() - started).toBeGreaterThanOrEqual(290);
    expect((await client.webApps.get(RG, APP)).name).toBe(APP);
  });

  it('hang on a write: the body is read, nothing is applied', async () => {
    await fault({ route: 'arm.appsettings.put', hang: true });
    const before = (await client.webApps.listApplicationSettings(RG, APP)).properties;
    const error = await rejection(
      client.webApps.updateApplicationSettings(
        RG,
        APP,
        { properties: { ...before, HUNG: 'yes' } },
        { abortSignal: AbortSignal.timeout(300) },
      ),
    );
    expect((error as Error).name).toBe('AbortError');
    expect((await client.webApps.listApplicationSettings(RG, APP)).properties).toEqual(before);
  });

  it('applyThenHang: PUT app settings replaces the settings, but the answer never comes', async () => {
    await fault({ route: 'arm.appsettings.put', app: APP, applyThenHang: true });
    const before = (await client.webApps.listApplicationSettings(RG, APP)).properties ?? {};
    const next = { ...before, APPLIED: 'but-unacknowledged' };
    const error = await rejection(
      client.webApps.updateApplicationSettings(
        RG,
        APP,
        { properties: next },
        { abortSignal: AbortSignal.timeout(400) },
      ),
    );
    expect((error as Error).name).toBe('AbortError');
    // A fresh read shows the write took effect.
    expect((await client.webApps.listApplicationSettings(RG, APP)).properties).toEqual(next);
    const state = (await (await control('GET', `/apps/${APP}`)).json()) as {
      events: Array<{ type: string }>;
    };
    expect(state.events.map((e) => e.type)).toContain('settings-put');
  });
});

describe('ARM: refusals with the service code and message', () => {
  it('errorCode and message in the ARM shape reach the SDK error', async () => {
    const message = "The parameter 'properties' has an invalid value.";
    await fault({ route: 'arm.appsettings.list', status: 400, errorCode: 'BadRequest', message });
    const error = await rejection(client.webApps.listApplicationSettings(RG, APP));
    expect(error).toBeInstanceOf(RestError);
    expect(error).toMatchObject({ statusCode: 400, code: 'BadRequest', message });
  });

  it('the legacy capitalised shape: on the wire as the RP sends it, which the SDK cannot read', async () => {
    const message = 'Cannot modify this site because another operation is in progress.';
    await fault({
      route: 'arm.appsettings.put',
      status: 409,
      errorCode: 'Conflict',
      message,
      errorShape: 'legacy',
      count: 2,
    });
    // arm-appservice 19 reads only `error.code`/`error.message`: the text is lost to a generic message, so a
    // client that must report it has to read the body itself.
    const error = (await rejection(
      client.webApps.updateApplicationSettings(RG, APP, { properties: { A: 'b' } }),
    )) as RestError;
    expect(error.statusCode).toBe(409);
    expect(error.message).toBe('Unexpected status code: 409');
    const res = await fetch(
      `${sandbox.armEndpoint}/subscriptions/${sandbox.subscriptionId}/resourceGroups/${RG}/providers/Microsoft.Web/sites/${APP}/config/appsettings?api-version=2024-11-01`,
      {
        method: 'PUT',
        headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
        body: JSON.stringify({ properties: { A: 'b' } }),
      },
    );
    expect(res.status).toBe(409);
    expect(res.headers.get('x-ms-correlation-request-id')).toBeTruthy();
    expect(await res.json()).toEqual({
      Code: 'Conflict',
      Message: message,
      Target: null,
      Details: [
        { Message: message },
        { Code: 'Conflict' },
        { ErrorEntity: { MessageTemplate: message, Parameters: [], Code: 'Conflict', Message: message } },
      ],
      Innererror: null,
    });
  });

  it('a custom body, content type and reason phrase', async () => {
    await fault({
      route: 'arm.site.get',
      status: 502,
      statusText: 'Front End Gateway Error',
      body: '<html><body>The gateway did not receive a response</body></html>',
      contentType: 'text/html',
    });
    const res = await fetch(
      `${sandbox.armEndpoint}/subscriptions/${sandbox.subscriptionId}/resourceGroups/${RG}/providers/Microsoft.Web/sites/${APP}?api-version=2024-11-01`,
      { headers: { authorization: `Bearer ${TOKEN}` } },
    );
    expect(res.status).toBe(502);
    expect(res.statusText).toBe('Front End Gateway Error');
    expect(res.headers.get('content-type')).toBe('text/html');
    expect(await res.text()).toContain('did not receive a response');
  });

  it('rejects faults that cannot apply', async () => {
    for (const spec of [
      { route: 'arm.site.get', status: 500, hang: true },
      { route: 'arm.site.get', applyThenHang: true, reset: true },
      { route: 'arm.site.get', status: 400, errorShape: 'xml' },
      { route: 'arm.site.get', message: 'no status' },
      { route: 'arm.site.get', body: '{}', status: 500, contentType: '' },
    ]) {
      expect((await control('POST', '/faults', spec)).status, JSON.stringify(spec)).toBe(400);
    }
  });
});

describe('Kudu: accepted and never answered', () => {
  it('hang on zipdeploy: the upload is read, no deployment starts', async () => {
    const before = (await deployments()).length;
    await fault({ route: 'kudu.zipdeploy', hang: true });
    const error = await rejection(
      kudu('/api/zipdeploy?isAsync=true', {
        method: 'POST',
        body: await packageZip(),
        signal: AbortSignal.timeout(300),
      }),
    );
    expect((error as Error).name).toBe('TimeoutError');
    expect((await deployments()).length).toBe(before);
  });

  it('applyThenHang on zipdeploy: the deployment runs and lands, the 202 never comes', async () => {
    const before = (await deployments()).length;
    await fault({ route: 'kudu.zipdeploy', applyThenHang: true });
    const error = await rejection(
      kudu('/api/zipdeploy?isAsync=true', {
        method: 'POST',
        body: await packageZip(),
        signal: AbortSignal.timeout(400),
      }),
    );
    expect((error as Error).name).toBe('TimeoutError');
    const deadline = Date.now() + 10_000;
    let all = await deployments();
    while (!(all.length > before && all[0]?.complete) && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 50));
      all = await deployments();
    }
    expect(all.length).toBe(before + 1);
    expect(all[0]).toMatchObject({ status: 4, complete: true });
    const state = (await (await control('GET', `/apps/${APP}`)).json()) as { sitePackages: string[] };
    expect(state.sitePackages.length).toBeGreaterThan(0);
  });

  it('a fault message becomes the Kudu text body, with its reason phrase', async () => {
    await fault({
      route: 'kudu.settings.get',
      status: 503,
      statusText: 'Site Starting',
      message: 'Service is starting.',
      retryAfter: 1,
    });
    const res = await kudu('/api/settings');
    expect(res.status).toBe(503);
    expect(res.statusText).toBe('Site Starting');
    expect(res.headers.get('retry-after')).toBe('1');
    expect(await res.text()).toBe('Service is starting.');
  });
});

describe('Kudu: SCM access restrictions', () => {
  it('every Kudu request answers 403 "Ip Forbidden", before auth; ARM is unaffected', async () => {
    const set = await control('POST', `/apps/${APP}/kudu`, { ipRestricted: true });
    expect(await set.json()).toMatchObject({ ipRestricted: true });
    for (const [path, init] of [
      ['/api/settings', {}],
      ['/api/zipdeploy', { method: 'POST', body: 'x' }],
      ['/api/deployments/latest', {}],
    ] as const) {
      const res = await kudu(path, init);
      expect(res.status, path).toBe(403);
      expect(res.statusText).toBe('Ip Forbidden');
      expect(res.headers.get('content-type')).toBe('text/html');
      expect(res.headers.get('x-ms-forbidden-ip')).toBe('127.0.0.1');
      expect(await res.text()).toContain('The web app you have attempted to reach has blocked your access.');
    }
    // Without credentials too: the front end refuses before Kudu's 401.
    expect((await fetch(`${sandbox.kuduUrl(APP)}/api/settings`)).status).toBe(403);
    expect((await client.webApps.get(RG, APP)).name).toBe(APP);
    const state = (await (await control('GET', `/apps/${APP}`)).json()) as {
      kudu: { ipRestricted: boolean };
    };
    expect(state.kudu.ipRestricted).toBe(true);
    await control('POST', `/apps/${APP}/kudu`, { ipRestricted: false });
    expect((await kudu('/api/settings')).status).toBe(200);
    expect((await control('POST', `/apps/${APP}/kudu`, { ipRestricted: 'on' })).status).toBe(400);
  });
});

describe('closing', () => {
  it('ends hung and delayed requests promptly and leaves no timer behind', async () => {
    const timersBefore = process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
    const other = await start();
    await fault({ route: 'arm.site.get', hang: true }, other);
    await fault({ route: 'kudu.settings.get', delayMs: 600_000 }, other);
    await fault({ route: 'arm.appsettings.list', applyThenHang: true }, other);
    const outcome = (p: Promise<Response>) =>
      p.then(
        () => 'answered',
        () => 'failed',
      );
    const site = `${other.armEndpoint}/subscriptions/${other.subscriptionId}/resourceGroups/${RG}/providers/Microsoft.Web/sites/${APP}`;
    const auth = { authorization: `Bearer ${TOKEN}` };
    const pending = [
      outcome(fetch(`${site}?api-version=2024-11-01`, { headers: auth })),
      outcome(
        fetch(`${site}/config/appsettings/list?api-version=2024-11-01`, { method: 'POST', headers: auth }),
      ),
      outcome(fetch(`${other.kuduUrl(APP)}/api/settings`, { headers: auth })),
    ];
    await new Promise((r) => setTimeout(r, 150));
    const started = Date.now();
    await other.close();
    expect(await Promise.all(pending)).toEqual(['failed', 'failed', 'failed']);
    // Promptly, not after a client's own timeout (tens of seconds), however loaded the machine.
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length).toBeLessThanOrEqual(
      timersBefore,
    );
  });
});
