import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Sandbox } from '../../sandbox/index.js';
import {
  appState,
  artifactDocuments,
  blobService,
  control,
  deploy,
  expectNoSecrets,
  functionAppZip,
  functionNames,
  patchSettings,
  sasSignature,
  settledState,
  startE2ESandbox,
  storeLegacyPackage,
} from './helpers.js';
import { seed } from './seed.js';

/** Flex Consumption through dist/index.js: one-deploy, the package setting as the conflict, history and rollback. */

const PACKAGE = 'examples/hello-v3';
const EXPECTED = ['HttpHello', 'TimerTick'];
const UAMI =
  '/subscriptions/00000000-0000-4000-8000-000000000001/resourceGroups/rg-e2e/providers/Microsoft.ManagedIdentity/userAssignedIdentities/deployer';

/** Flex apps have no FUNCTIONS_WORKER_RUNTIME (ARM refuses it there): the runtime is in functionAppConfig. */
const flexSettings = (extra: Record<string, string> = {}) => ({
  AzureWebJobsStorage: '${AZURITE_CONNECTION_STRING}',
  APPINSIGHTS_CONNECTION: 'InstrumentationKey=keep-me',
  ...extra,
});

let sb: Sandbox;
let legacyUrl: string;

beforeAll(async () => {
  sb = await startE2ESandbox(
    seed({
      'flex-system': {
        os: 'linux',
        sku: 'FC1',
        settings: flexSettings(),
        flex: { auth: 'SystemAssignedIdentity' },
      },
      'flex-connstr': {
        os: 'linux',
        sku: 'FC1',
        identities: [],
        settings: flexSettings({ DEPLOYMENT_STORAGE: '${AZURITE_CONNECTION_STRING}' }),
        flex: { auth: 'StorageAccountConnectionString', connectionStringName: 'DEPLOYMENT_STORAGE' },
      },
      'flex-uami': {
        os: 'linux',
        sku: 'FC1',
        identities: [UAMI],
        settings: flexSettings(),
        flex: { auth: 'UserAssignedIdentity', identity: UAMI },
      },
      'flex-conflict': {
        os: 'linux',
        sku: 'FC1',
        settings: flexSettings(),
        flex: { auth: 'SystemAssignedIdentity' },
      },
      'flex-conflict-fail': {
        os: 'linux',
        sku: 'FC1',
        settings: flexSettings(),
        flex: { auth: 'SystemAssignedIdentity' },
      },
      'flex-history': {
        os: 'linux',
        sku: 'FC1',
        settings: flexSettings(),
        flex: { auth: 'SystemAssignedIdentity' },
      },
      'flex-python': {
        os: 'linux',
        sku: 'FC1',
        settings: flexSettings(),
        flex: { auth: 'SystemAssignedIdentity', runtime: 'python' },
      },
    }),
  );
  legacyUrl = await storeLegacyPackage(
    sb,
    'flex-legacy.zip',
    await functionAppZip(['LegacyFn']),
    new Date(Date.now() + 200 * 86_400_000),
  );
  for (const app of ['flex-conflict', 'flex-conflict-fail'])
    await patchSettings(sb, app, { WEBSITE_RUN_FROM_PACKAGE: legacyUrl });
});
afterAll(async () => {
  await sb?.stop();
});

/** The released-package.zip of an app, as the platform keeps it. */
async function released(app: string): Promise<Buffer | undefined> {
  const blob = blobService(sb).getContainerClient(`app-package-${app}`).getBlobClient('released-package.zip');
  return (await blob.exists()) ? blob.downloadToBuffer() : undefined;
}

async function storedPackages(app: string): Promise<string[]> {
  const names: string[] = [];
  for await (const b of blobService(sb)
    .getContainerClient('deployments')
    .listBlobsFlat({ includeMetadata: true }))
    if (b.metadata?.app === app) names.push(b.name);
  return names.sort();
}

describe('Flex Consumption: one-deploy', () => {
  it.each([
    ['system-assigned identity', 'flex-system'],
    ['a connection-string setting', 'flex-connstr'],
    ['a user-assigned identity', 'flex-uami'],
  ])('deploys by /api/publish and verifies (deployment storage reached with %s)', async (_auth, app) => {
    const run = await deploy(sb, { 'app-name': app, package: PACKAGE, 'deployment-id': `${app}-1` });
    expect(run.code, run.visibleLog).toBe(0);
    expect(run.outputs.mode).toBe('one-deploy');
    expect(run.outputs['mode-reason']).toMatch(/Flex Consumption: one-deploy \(POST \/api\/publish\)/);
    expect(run.outputs['kudu-deployment-id']).toMatch(/^[0-9a-f-]{36}$/);
    expect(JSON.parse(run.outputs.functions ?? '[]')).toEqual(EXPECTED);
    expect(run.outputs['package-url']).toMatch(new RegExp(`/deployments/${app}-1/${app}\\.zip$`));
    expect(await released(app)).toBeDefined();
    expect(functionNames(await settledState(sb, app))).toEqual(EXPECTED);
    const record = (await artifactDocuments(sb)).get(run.outputs['record-artifact-name'] ?? '');
    expect(record).toMatchObject({ mode: 'one-deploy', outcome: 'succeeded', functionsListed: EXPECTED });
    await expectNoSecrets(sb, run, []);
  });

  it('WEBSITE_RUN_FROM_PACKAGE on a Flex app: backed up, removed, published, every other setting intact', async () => {
    const before = await appState(sb, 'flex-conflict');
    const run = await deploy(sb, { 'app-name': 'flex-conflict', package: PACKAGE });
    expect(run.code, run.visibleLog).toBe(0);
    expect(run.outputs['mode-reason']).toMatch(
      /Conflict: WEBSITE_RUN_FROM_PACKAGE is set, which Flex Consumption does not support/,
    );
    const after = await settledState(sb, 'flex-conflict');
    const { WEBSITE_RUN_FROM_PACKAGE: removed, ...rest } = before.settings;
    expect(removed).toBe(legacyUrl);
    expect(after.settings).toEqual(rest);
    expect(functionNames(after)).toEqual(EXPECTED);
    const backup = (await artifactDocuments(sb)).get(run.outputs['backup-artifact-name'] ?? '');
    expect(backup).toMatchObject({
      setting: 'WEBSITE_RUN_FROM_PACKAGE',
      blob: { container: 'legacy', name: 'flex-legacy.zip' },
    });
    await expectNoSecrets(sb, run, [sasSignature(legacyUrl)]);
  });

  it('on-conflict fail on a Flex app with the setting: nothing changes', async () => {
    const before = await appState(sb, 'flex-conflict-fail');
    const run = await deploy(sb, {
      'app-name': 'flex-conflict-fail',
      package: PACKAGE,
      'on-conflict': 'fail',
    });
    expect(run.code).not.toBe(0);
    expect(run.visibleLog).toMatch(
      /::error::Conflict: WEBSITE_RUN_FROM_PACKAGE is set.*on-conflict is 'fail'/,
    );
    const after = await appState(sb, 'flex-conflict-fail');
    expect(after.settings).toEqual(before.settings);
    expect(after.events.length).toBe(before.events.length);
    expect(await released('flex-conflict-fail')).toBeUndefined();
  });
});

describe('Flex Consumption: history, failures and rollback', () => {
  let first: Buffer | undefined;

  it('a first deploy, then a rerun of the same package: neither published nor uploaded again', async () => {
    const run = await deploy(sb, { 'app-name': 'flex-history', package: PACKAGE, 'deployment-id': 'h1' });
    expect(run.code, run.visibleLog).toBe(0);
    first = await released('flex-history');
    const deployments = (await control<{ deployments: unknown[] }>(sb, '/apps/flex-history/flex')).deployments
      .length;
    const again = await deploy(sb, { 'app-name': 'flex-history', package: PACKAGE, 'deployment-id': 'h2' });
    expect(again.code, again.visibleLog).toBe(0);
    expect(again.outputs['package-reused']).toBe('true');
    expect(again.visibleLog).toMatch(/The app already runs this package .*nothing is published/);
    expect(
      (await control<{ deployments: unknown[] }>(sb, '/apps/flex-history/flex')).deployments.length,
    ).toBe(deployments);
    expect(await storedPackages('flex-history')).toEqual(['h1/flex-history.zip']);
  });

  it('a failed Flex deployment (status 3): its log in the error, the app left on its previous package', async () => {
    await control(sb, '/apps/flex-history/flex', 'POST', {
      nextOutcome: 'failed',
      message: 'npm ERR! the build exploded',
    });
    const run = await deploy(sb, {
      'app-name': 'flex-history',
      package: 'examples/hello-v4',
      'deployment-id': 'h3',
    });
    expect(run.code).not.toBe(0);
    expect(run.visibleLog).toMatch(
      /::error::Flex deployment .* failed: npm ERR! the build exploded.*last log line/,
    );
    expect(run.visibleLog).toMatch(/The app still runs its previous package/);
    expect((await released('flex-history'))?.equals(first as Buffer)).toBe(true);
    expect(functionNames(await settledState(sb, 'flex-history'))).toEqual(EXPECTED);
  });

  it('rollback-to on Flex publishes a stored deployment again', async () => {
    const v4 = await deploy(sb, {
      'app-name': 'flex-history',
      package: 'examples/hello-v4',
      'deployment-id': 'h5',
    });
    expect(v4.code, v4.visibleLog).toBe(0);
    expect(functionNames(await settledState(sb, 'flex-history'))).not.toEqual(EXPECTED);
    const back = await deploy(sb, { 'app-name': 'flex-history', 'rollback-to': 'h1', 'deployment-id': 'h6' });
    expect(back.code, back.visibleLog).toBe(0);
    expect(back.outputs['mode-reason']).toMatch(/rollback-to 'h1': the stored package is published again/);
    expect(functionNames(await settledState(sb, 'flex-history'))).toEqual(EXPECTED);
  });

  it('a Python Flex app with remote-build auto is built by the platform and loads', async () => {
    const run = await deploy(sb, { 'app-name': 'flex-python', package: 'examples/python-v2' });
    expect(run.code, run.visibleLog).toBe(0);
    expect(run.outputs['mode-reason']).toMatch(/remote-build auto .*published with RemoteBuild=true/);
    const after = await settledState(sb, 'flex-python');
    expect(functionNames(after)).toEqual(['Tick', 'hello', 'on_work_item']);
    expect(JSON.stringify(after.builds)).toMatch(/requests/);
  });
  it('a verification failure on Flex publishes the previous package again', async () => {
    const good = await deploy(sb, {
      'app-name': 'flex-python',
      package: 'examples/python-v2',
      'deployment-id': 'p1',
    });
    expect(good.code, good.visibleLog).toBe(0);
    // The same Python app published as it is (no remote build): the host fails to import its modules.
    const run = await deploy(sb, {
      'app-name': 'flex-python',
      package: 'examples/python-v2',
      'remote-build': 'false',
      'deployment-id': 'p2',
      timeout: '12s',
    });
    expect(run.code).not.toBe(0);
    expect(run.visibleLog).toMatch(
      /::error::The functions of the package were not listed .*ModuleNotFoundError/,
    );
    expect(run.visibleLog).toMatch(
      /The previous package \(sha256 [0-9a-f]{64}, kept as '[^']+'\) was published again/,
    );
    const record = (await artifactDocuments(sb)).get(run.outputs['record-artifact-name'] ?? '');
    expect(record).toMatchObject({ outcome: 'rolled-back' });
    expect(functionNames(await settledState(sb, 'flex-python'))).toEqual(['Tick', 'hello', 'on_work_item']);
  });
});
