import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DefaultArtifactClient } from '@actions/artifact';
import { WebSiteManagementClient } from '@azure/arm-appservice';
import type { TokenCredential } from '@azure/identity';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AppServiceRequestCounters } from '../../sandbox/appservice/index.js';
import type { ArtifactRequestCounters } from '../../sandbox/artifacts/index.js';
import { functionAppZip, storeLegacyPackage } from '../../sandbox/fixtures.js';
import { type Sandbox, startSandbox } from '../../sandbox/index.js';
import type { RequestCounters } from '../../sandbox/storage-front.js';
import { mintToken } from '../../sandbox/tokens.js';

/**
 * The request counters of the fake App Service and the fake artifact service (what `npm run bench:e2e` reports
 * per deploy): every request a client makes is counted by route, refused ones included; the platform's own
 * package fetches are counted apart, and agree with what the storage front door saw from the platform.
 */

const RG = 'rg-counters';
const APP = 'counted-app';

let sb: Sandbox;
let work: string;
const savedEnv = new Map<string, string | undefined>();

function setEnv(key: string, value: string | undefined): void {
  if (!savedEnv.has(key)) savedEnv.set(key, process.env[key]);
  if (value === undefined) delete process.env[key];
  else process.env[key] = value;
}

const armToken = () => mintToken({ audience: 'https://management.azure.com/', tenantId: sb.tenantId });

async function call(base: string, method: string, path: string, body?: unknown): Promise<Response> {
  return fetch(`${base}${path}`, {
    method,
    ...(body === undefined
      ? {}
      : { body: JSON.stringify(body), headers: { 'content-type': 'application/json' } }),
  });
}

beforeAll(async () => {
  const settings = {
    FUNCTIONS_WORKER_RUNTIME: 'node',
    FUNCTIONS_EXTENSION_VERSION: '~4',
    AzureWebJobsStorage: '${AZURITE_CONNECTION_STRING}',
  };
  sb = await startSandbox({
    seed: {
      apps: [
        {
          name: APP,
          resourceGroup: RG,
          location: 'East US',
          os: 'windows',
          plan: { name: 'plan-counted', sku: 'EP1' },
          settings,
        },
      ],
    },
    certDir: process.env.SANDBOX_CERT_DIR as string,
  });
  work = mkdtempSync(join(tmpdir(), 'afpd-counters-'));
});

afterAll(async () => {
  for (const [key, value] of savedEnv) {
    if (value === undefined) delete process.env[key];
    else process.env[key] = value;
  }
  await sb?.stop();
  if (work) rmSync(work, { recursive: true, force: true });
});

describe('fake App Service request counters (/_sandbox/requests)', () => {
  it('counts ARM, Kudu and host requests by route, refused and unmatched ones too, and resets', async () => {
    const control = sb.appService.controlUrl;
    expect((await call(control, 'DELETE', '/requests')).status).toBe(204);
    const credential: TokenCredential = {
      getToken: async () => ({ token: armToken(), expiresOnTimestamp: Date.now() + 3600_000 }),
    };
    const client = new WebSiteManagementClient(credential, sb.subscriptionId, {
      endpoint: sb.appService.armEndpoint,
      retryOptions: { maxRetries: 0 },
    });
    await client.webApps.get(RG, APP);
    await client.webApps.listApplicationSettings(RG, APP);
    const site = `${sb.appService.armEndpoint}/subscriptions/${sb.subscriptionId}/resourceGroups/${RG}/providers/Microsoft.Web/sites/${APP}`;
    // No token: refused, still a request to that route.
    expect((await fetch(`${site}?api-version=2024-11-01`)).status).toBe(401);
    expect(
      (
        await fetch(`${site}/nothing-here?api-version=2024-11-01`, {
          headers: { authorization: `Bearer ${armToken()}` },
        })
      ).status,
    ).toBe(404);
    const kudu = sb.appService.kuduUrl(APP);
    const auth = { authorization: `Bearer ${armToken()}` };
    expect((await fetch(`${kudu}/api/settings`, { headers: auth })).status).toBe(200);
    expect((await fetch(`${kudu}/api/nothing-here`, { headers: auth })).status).toBe(404);
    // Refused by the SCM site's access restriction before Kudu sees it: counted all the same.
    await call(control, 'POST', `/apps/${APP}/kudu`, { ipRestricted: true });
    expect((await fetch(`${kudu}/api/settings`, { headers: auth })).status).toBe(403);
    await call(control, 'POST', `/apps/${APP}/kudu`, { ipRestricted: false });
    const host = sb.appService.hostUrl(APP);
    await (await fetch(`${host}/`)).text();
    expect((await fetch(`${host}/nothing-here`)).status).toBe(404);

    const counters = (await (await call(control, 'GET', '/requests')).json()) as AppServiceRequestCounters;
    expect(counters).toEqual({
      total: 9,
      byFront: { arm: 4, kudu: 3, host: 2 },
      byRoute: {
        'arm.site.get': 2,
        'arm.appsettings.list': 1,
        'arm.other': 1,
        'kudu.settings.get': 2,
        'kudu.other': 1,
        'host.root': 1,
        'host.other': 1,
      },
      platform: { packageFetches: 0 },
    });
    // The control endpoint's own requests are not counted; its index shows the same counters.
    const index = (await (await call(control, 'GET', '')).json()) as { requests: AppServiceRequestCounters };
    expect(index.requests).toEqual(counters);

    expect((await call(control, 'DELETE', '/requests')).status).toBe(204);
    expect(await (await call(control, 'GET', '/requests')).json()).toEqual({
      total: 0,
      byFront: { arm: 0, kudu: 0, host: 0 },
      byRoute: {},
      platform: { packageFetches: 0 },
    });
  });

  it("counts the platform's package fetches apart, as the storage front door sees them", async () => {
    const control = sb.appService.controlUrl;
    const url = await storeLegacyPackage(
      sb.storage.connectionString,
      'counted.zip',
      await functionAppZip(['Counted']),
      new Date(Date.now() + 3600_000),
    );
    const view = (await (await call(control, 'GET', `/apps/${APP}`)).json()) as {
      settings: Record<string, string>;
    };
    await call(control, 'DELETE', '/requests');
    await call(sb.env.SANDBOX_STORAGE_CONTROL_URL as string, 'DELETE', '/requests');
    await call(control, 'PUT', `/apps/${APP}/settings`, { ...view.settings, WEBSITE_RUN_FROM_PACKAGE: url });
    const settled = await call(control, 'POST', `/apps/${APP}/settle`, { timeoutMs: 15_000 });
    expect(settled.status).toBe(200);
    expect(
      ((await settled.json()) as { functions: { name: string }[] }).functions.map((f) => f.name),
    ).toEqual(['Counted']);
    const counters = (await (await call(control, 'GET', '/requests')).json()) as AppServiceRequestCounters;
    const storage = (await (
      await call(sb.env.SANDBOX_STORAGE_CONTROL_URL as string, 'GET', '/requests')
    ).json()) as RequestCounters;
    expect(counters.total).toBe(0);
    expect(counters.platform.packageFetches).toBeGreaterThanOrEqual(1);
    expect(storage.byClient).toEqual({ action: 0, platform: counters.platform.packageFetches });
  });
});

describe('fake artifact service request counters (/_sandbox/requests)', () => {
  it('counts Twirp methods and the blob upload by route, its own storage calls apart, and resets', async () => {
    const control = sb.env.SANDBOX_ARTIFACTS_CONTROL_URL as string;
    setEnv('ACTIONS_RUNTIME_TOKEN', sb.env.ACTIONS_RUNTIME_TOKEN);
    setEnv('ACTIONS_RESULTS_URL', sb.env.ACTIONS_RESULTS_URL);
    setEnv('GITHUB_WORKSPACE', work);
    setEnv('GITHUB_SERVER_URL', undefined);
    expect((await call(control, 'DELETE', '/requests')).status).toBe(204);
    const file = join(work, 'record.json');
    writeFileSync(file, '{"counted":true}');
    await new DefaultArtifactClient().uploadArtifact('counted', [file], work);
    const unknown = await fetch(
      `${sb.env.ACTIONS_RESULTS_URL}/twirp/github.actions.results.api.v1.ArtifactService/NoSuchMethod`,
      { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' },
    );
    expect(unknown.status).toBe(404);

    const counters = (await (await call(control, 'GET', '/requests')).json()) as ArtifactRequestCounters;
    const { 'artifacts.blob.upload': uploads, ...rest } = counters.byRoute;
    expect(rest).toEqual({
      'artifacts.twirp.CreateArtifact': 1,
      'artifacts.twirp.FinalizeArtifact': 1,
      'artifacts.twirp.other': 1,
    });
    // The client uploads in blocks (Put Block, Put Block List) or in one Put Blob.
    expect(uploads).toBeGreaterThanOrEqual(1);
    expect(counters.total).toBe(3 + (uploads ?? 0));
    expect(counters.service).toEqual({ blobRequests: 1 });

    expect((await call(control, 'DELETE', '/requests')).status).toBe(204);
    expect(await (await call(control, 'GET', '/requests')).json()).toEqual({
      total: 0,
      byRoute: {},
      service: { blobRequests: 0 },
    });
  });
});
