import { createServer } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Sandbox } from '../../sandbox/index.js';
import {
  appState,
  settledState,
  artifactDocuments,
  blobService,
  control,
  deploy,
  expectNoSecrets,
  functionAppZip,
  functionNames,
  patchSettings,
  publishingCredentials,
  sasSignature,
  startE2ESandbox,
  storeLegacyPackage,
} from './helpers.js';
import { nodeSettings, seed } from './seed.js';

const PACKAGE = 'examples/hello-v3';
const EXPECTED = ['HttpHello', 'TimerTick'];

let sb: Sandbox;
let legacyUrl: string;

const identitySettings = (extra: Record<string, string> = {}) => {
  const { AzureWebJobsStorage: _drop, ...rest } = nodeSettings();
  return { ...rest, AzureWebJobsStorage__blobServiceUri: '${AZURITE_BLOB_ENDPOINT}', ...extra };
};

beforeAll(async () => {
  sb = await startE2ESandbox(
    seed({
      'lin-cons-reuse': { os: 'linux', sku: 'Y1' },
      'lin-cons-mi': { os: 'linux', sku: 'Y1', settings: identitySettings() },
      'lin-cons-badmi': { os: 'linux', sku: 'Y1' },
      'win-ep-dry': { os: 'windows', sku: 'EP1' },
      'win-ep-race': { os: 'windows', sku: 'EP1' },
      'win-ep-lock': { os: 'windows', sku: 'EP1' },
      'win-ep-kudufail': { os: 'windows', sku: 'EP1' },
      'win-ep-noartifacts': { os: 'windows', sku: 'EP1' },
      'lin-cons-throttled': { os: 'linux', sku: 'Y1' },
      'lin-cons-broken': { os: 'linux', sku: 'Y1' },
      'win-ep-profile': {
        os: 'windows',
        sku: 'EP1',
        settings: nodeSettings({ WEBSITE_RUN_FROM_PACKAGE: '1' }),
      },
    }),
  );
  legacyUrl = await storeLegacyPackage(
    sb,
    'legacy.zip',
    await functionAppZip(['LegacyFn']),
    new Date(Date.now() + 20 * 86_400_000),
  );
  for (const app of [
    'lin-cons-badmi',
    'win-ep-dry',
    'win-ep-race',
    'win-ep-kudufail',
    'win-ep-noartifacts',
  ]) {
    await patchSettings(sb, app, { WEBSITE_RUN_FROM_PACKAGE: legacyUrl });
  }
});
afterAll(async () => {
  await sb?.stop();
});

describe('safety', () => {
  it('an unchanged package is not uploaded twice', async () => {
    const first = await deploy(sb, { 'app-name': 'lin-cons-reuse', package: PACKAGE });
    expect(first.code, first.visibleLog).toBe(0);
    const second = await deploy(sb, { 'app-name': 'lin-cons-reuse', package: PACKAGE });
    expect(second.code, second.visibleLog).toBe(0);
    expect(second.outputs['package-reused']).toBe('true');
    expect(second.outputs['package-sha256']).toBe(first.outputs['package-sha256']);
    expect(second.outputs['package-url']).toBe(first.outputs['package-url']);
    const blobs: string[] = [];
    for await (const b of blobService(sb).getContainerClient('deployments').listBlobsFlat()) {
      if (b.name.endsWith('lin-cons-reuse.zip')) blobs.push(b.name);
    }
    expect(blobs).toHaveLength(1);
    expect(functionNames(await settledState(sb, 'lin-cons-reuse'))).toEqual(EXPECTED);
  });

  it('managed identity: plain URL plus the identity setting, uploaded with Entra ID', async () => {
    const run = await deploy(sb, {
      'app-name': 'lin-cons-mi',
      package: PACKAGE,
      'package-access': 'managed-identity',
    });
    expect(run.code, run.visibleLog).toBe(0);
    const after = await settledState(sb, 'lin-cons-mi');
    expect(after.settings.WEBSITE_RUN_FROM_PACKAGE).toBe(run.outputs['package-url']);
    expect(after.settings.WEBSITE_RUN_FROM_PACKAGE).not.toContain('?');
    expect(after.settings.WEBSITE_RUN_FROM_PACKAGE_BLOB_MI_RESOURCE_ID).toBe('SystemAssigned');
    expect(run.outputs['sas-expires-at']).toBeUndefined();
    expect(functionNames(after)).toEqual(EXPECTED);
    await expectNoSecrets(sb, run, []);
  });

  it('dry-run inspects and plans, changes nothing', async () => {
    const before = await appState(sb, 'win-ep-dry');
    const run = await deploy(sb, {
      'app-name': 'win-ep-dry',
      package: PACKAGE,
      'deploy-mode': 'zipdeploy',
      'dry-run': 'true',
    });
    expect(run.code, run.visibleLog).toBe(0);
    expect(run.outputs.mode).toBe('zipdeploy');
    expect(run.outputs['mode-reason']).toMatch(/Conflict.*dry-run/s);
    expect(run.summary).toContain('dry run, nothing changed');
    const after = await appState(sb, 'win-ep-dry');
    expect(after.settings).toEqual(before.settings);
    expect(after.events).toEqual(before.events);
    expect([...(await artifactDocuments(sb)).keys()].some((n) => n.includes('win-ep-dry'))).toBe(false);
  });

  it('verification failing (the platform cannot read the package) restores the previous setting', async () => {
    const before = await appState(sb, 'lin-cons-badmi');
    const run = await deploy(sb, {
      'app-name': 'lin-cons-badmi',
      package: PACKAGE,
      'package-access': 'managed-identity',
      'managed-identity-resource-id':
        '/subscriptions/x/resourceGroups/rg/providers/Microsoft.ManagedIdentity/userAssignedIdentities/not-assigned',
      timeout: '8s',
    });
    expect(run.code).not.toBe(0);
    expect(run.visibleLog).toMatch(/not listed before the timeout; the platform said: .*not-assigned/);
    expect(run.visibleLog).toMatch(
      /Rolled back: WEBSITE_RUN_FROM_PACKAGE was restored to .* and verified by a fresh read/,
    );
    const after = await settledState(sb, 'lin-cons-badmi');
    expect(after.settings).toEqual(before.settings);
    expect(functionNames(after)).toEqual(['LegacyFn']);
    const record = (await artifactDocuments(sb)).get(run.outputs['record-artifact-name'] ?? '');
    expect(record).toMatchObject({ outcome: 'rolled-back' });
    await expectNoSecrets(sb, run, [sasSignature(legacyUrl)]);
  });

  it('a Kudu deployment that fails prints its log and restores the URL', async () => {
    await control(sb, '/apps/win-ep-kudufail/kudu', 'POST', {
      failNextDeployment: 'npm ERR! build step exploded',
    });
    const run = await deploy(sb, {
      'app-name': 'win-ep-kudufail',
      package: PACKAGE,
      'deploy-mode': 'zipdeploy',
    });
    expect(run.code).not.toBe(0);
    expect(run.visibleLog).toContain('build step exploded');
    // The URL put back expires within 30 days: said as a warning annotation.
    expect(run.visibleLog).toMatch(
      /::warning::The current package URL has a SAS that expires on .* \(in 2\d days\)/,
    );
    const after = await appState(sb, 'win-ep-kudufail');
    expect(after.settings.WEBSITE_RUN_FROM_PACKAGE).toBe(legacyUrl);
    expect(run.outputs['backup-artifact-name']).toBeDefined();
  });

  it('a setting changed by someone else between inspection and write: stop without writing', async () => {
    const other = `${legacyUrl.split('?')[0]}-other.zip`;
    const current = (await appState(sb, 'win-ep-race')).settings;
    await control(sb, '/faults', 'POST', {
      route: 'arm.appsettings.list',
      app: 'win-ep-race',
      skip: 1,
      count: 1,
      setSettings: { ...current, WEBSITE_RUN_FROM_PACKAGE: other },
    });
    const run = await deploy(sb, { 'app-name': 'win-ep-race', package: PACKAGE, 'deploy-mode': 'zipdeploy' });
    expect(run.code).not.toBe(0);
    expect(run.visibleLog).toMatch(/changed on win-ep-race since it was inspected.*Nothing was written/);
    const after = await appState(sb, 'win-ep-race');
    expect(after.settings.WEBSITE_RUN_FROM_PACKAGE).toBe(other);
    expect(after.events.filter((e) => /settings-put|zipdeploy/.test(JSON.stringify(e)))).toEqual([]);
  });

  it('a 409 deployment lock that clears: zipdeploy is retried and succeeds', async () => {
    // Another deployment holds Kudu's lock for the first two attempts (Kudu's own 409 text), whenever they come.
    await control(sb, '/faults', 'POST', {
      route: 'kudu.zipdeploy',
      app: 'win-ep-lock',
      status: 409,
      message: 'There is a deployment currently in progress. Please try again when it completes.',
      count: 2,
    });
    const run = await deploy(sb, { 'app-name': 'win-ep-lock', package: PACKAGE });
    expect(run.code, run.visibleLog).toBe(0);
    expect(run.visibleLog).toMatch(
      /Retrying 'start the zipdeploy' in \d+ ms \(attempt 1: .*HTTP 409 There is a deployment currently in progress/,
    );
    expect(functionNames(await settledState(sb, 'win-ep-lock'))).toEqual(EXPECTED);
  });

  it('the artifact service down: the backup cannot be stored, nothing changes', async () => {
    const closedPort = await new Promise<number>((resolve) => {
      const server = createServer();
      server.listen(0, '127.0.0.1', () => {
        const { port } = server.address() as { port: number };
        server.close(() => resolve(port));
      });
    });
    const before = await appState(sb, 'win-ep-noartifacts');
    const run = await deploy(
      sb,
      { 'app-name': 'win-ep-noartifacts', package: PACKAGE, 'deploy-mode': 'zipdeploy' },
      { ACTIONS_RESULTS_URL: `https://127.0.0.1:${closedPort}` },
    );
    expect(run.code).not.toBe(0);
    expect(run.visibleLog).toMatch(/Failed to back up the current package setting \(nothing was changed\)/);
    const after = await appState(sb, 'win-ep-noartifacts');
    expect(after.settings).toEqual(before.settings);
    expect(after.events).toEqual(before.events);
  }, 90_000);

  it('throttled ARM calls (429 with Retry-After) are retried and the deploy completes', async () => {
    await control(sb, '/faults', 'POST', {
      route: 'arm.appsettings.put',
      app: 'lin-cons-throttled',
      status: 429,
      retryAfter: 1,
      count: 2,
    });
    const run = await deploy(sb, { 'app-name': 'lin-cons-throttled', package: PACKAGE });
    expect(run.code, run.visibleLog).toBe(0);
    expect(run.visibleLog).toMatch(/Retrying 'update the app settings of lin-cons-throttled.*' in \d+ ms/);
    expect(functionNames(await settledState(sb, 'lin-cons-throttled'))).toEqual(EXPECTED);
  });

  it('a publish profile deploys by zipdeploy with basic auth, without ARM, and never shows the password', async () => {
    const { kuduUrl, password } = await publishingCredentials(sb, 'win-ep-profile');
    const host = new URL(kuduUrl).host;
    const profile = `<publishData><publishProfile profileName="win-ep-profile - Zip Deploy" publishMethod="ZipDeploy" publishUrl="${host}" userName="$win-ep-profile" userPWD="${password}" msdeploySite="win-ep-profile" /></publishData>`;
    const run = await deploy(
      sb,
      { 'app-name': 'win-ep-profile', package: PACKAGE, 'publish-profile': profile },
      { AZ_SANDBOX_CONFIG: '/nonexistent' },
    );
    expect(run.code, run.visibleLog).toBe(0);
    expect(run.outputs.mode).toBe('zipdeploy');
    expect(run.outputs['kudu-deployment-id']).toMatch(/^[0-9a-f]{32}$/);
    expect(run.masked).toContain(password);
    expect(functionNames(await settledState(sb, 'win-ep-profile'))).toEqual(EXPECTED);
    await expectNoSecrets(sb, run, [password]);
  });

  it('a broken package (a stored blob corrupted under the same sha256 label) fails verification and is rolled back', async () => {
    // The first deploy stores the package; then its bytes are corrupted in place, keeping length and metadata.
    const first = await deploy(sb, { 'app-name': 'lin-cons-broken', package: PACKAGE });
    expect(first.code, first.visibleLog).toBe(0);
    const before = await appState(sb, 'lin-cons-broken');
    const blobName = (first.outputs['package-url'] ?? '').split('/deployments/')[1] ?? '';
    const blob = blobService(sb)
      .getContainerClient('deployments')
      .getBlockBlobClient(decodeURIComponent(blobName));
    const props = await blob.getProperties();
    await blob.uploadData(Buffer.alloc(props.contentLength ?? 0, 0x42), {
      metadata: props.metadata ?? {},
      blobHTTPHeaders: { blobContentType: 'application/zip' },
    });
    await patchSettings(sb, 'lin-cons-broken', {
      WEBSITE_RUN_FROM_PACKAGE: before.settings.WEBSITE_RUN_FROM_PACKAGE ?? '',
      KEEP: 'me',
    });
    const good = (await appState(sb, 'lin-cons-broken')).settings;

    const run = await deploy(sb, {
      'app-name': 'lin-cons-broken',
      package: PACKAGE,
      'deploy-mode': 'run-from-package',
      timeout: '8s',
    });
    expect(run.code).not.toBe(0);
    expect(run.visibleLog).toMatch(/platform said: .*not a valid zip/);
    const after = await appState(sb, 'lin-cons-broken');
    expect(after.settings).toEqual(good);
    expect(run.outputs['package-reused']).toBe('true');
  });
});
