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
  publishingCredentials,
  sasSignature,
  settledState,
  startE2ESandbox,
  storeLegacyPackage,
} from './helpers.js';
import { nodeSettings, seed } from './seed.js';

const PACKAGE = 'examples/hello-v3';
const EXPECTED = ['HttpHello', 'TimerTick'];

let sb: Sandbox;
let legacyUrl: string;

beforeAll(async () => {
  sb = await startE2ESandbox(
    seed({
      'win-ep-conflict': { os: 'windows', sku: 'EP1' },
      'lin-ded-conflict-fail': { os: 'linux', sku: 'P1v3' },
      'lin-cons': { os: 'linux', sku: 'Y1' },
      'win-cons': { os: 'windows', sku: 'Y1' },
      'lin-ep': { os: 'linux', sku: 'EP2', settings: nodeSettings({ WEBSITE_RUN_FROM_PACKAGE: '1' }) },
      'win-ded-url': { os: 'windows', sku: 'S1' },
      'win-ep-slot': { os: 'windows', sku: 'EP1', slots: ['staging'] },
      'lin-cons-rollback': { os: 'linux', sku: 'Y1' },
      'lin-cons-retain': { os: 'linux', sku: 'Y1' },
      'lin-flex': { os: 'linux', sku: 'FC1' },
      'win-ep-basic': { os: 'windows', sku: 'EP1' },
      'win-ep-calls': {
        os: 'windows',
        sku: 'EP1',
        settings: nodeSettings({ WEBSITE_RUN_FROM_PACKAGE: '1' }),
      },
      'lin-cons-calls': { os: 'linux', sku: 'Y1' },
    }),
  );
  legacyUrl = await storeLegacyPackage(
    sb,
    'legacy.zip',
    await functionAppZip(['LegacyFn']),
    new Date(Date.now() + 200 * 86_400_000),
  );
  for (const app of ['win-ep-conflict', 'lin-ded-conflict-fail', 'win-ded-url']) {
    await patchSettings(sb, app, { WEBSITE_RUN_FROM_PACKAGE: legacyUrl });
  }
});
afterAll(async () => {
  await sb?.stop();
});

describe('the seed conflict', () => {
  it('zipdeploy on an app whose setting is a URL: backs it up, replaces it, deploys, functions live', async () => {
    const before = await appState(sb, 'win-ep-conflict');
    const run = await deploy(sb, {
      'app-name': 'win-ep-conflict',
      package: PACKAGE,
      'deploy-mode': 'zipdeploy',
    });
    expect(run.code, run.visibleLog).toBe(0);
    expect(run.outputs.mode).toBe('zipdeploy');
    expect(run.outputs['mode-reason']).toMatch(/Conflict/);
    expect(run.outputs['previous-package']).toContain('sig=REDACTED');
    expect(run.outputs['kudu-deployment-id']).toMatch(/^[0-9a-f]{32}$/);
    expect(JSON.parse(run.outputs.functions ?? '[]')).toEqual(EXPECTED);

    const after = await settledState(sb, 'win-ep-conflict');
    expect(after.settings.WEBSITE_RUN_FROM_PACKAGE).toBe('1');
    const { WEBSITE_RUN_FROM_PACKAGE: _a, ...othersAfter } = after.settings;
    const { WEBSITE_RUN_FROM_PACKAGE: _b, ...othersBefore } = before.settings;
    expect(othersAfter).toEqual(othersBefore);
    expect(functionNames(after)).toEqual(EXPECTED);

    const docs = await artifactDocuments(sb);
    const backup = docs.get(run.outputs['backup-artifact-name'] ?? '');
    expect(backup).toMatchObject({
      schema: 'azure-functions-package-deploy/backup@1',
      app: 'win-ep-conflict',
      setting: 'WEBSITE_RUN_FROM_PACKAGE',
      blob: { container: 'legacy', name: 'legacy.zip' },
    });
    expect(String(backup?.previousValue)).toContain('sig=REDACTED');
    expect(run.outputs['backup-artifact-id']).toMatch(/^\d+$/);
    const record = docs.get(run.outputs['record-artifact-name'] ?? '');
    expect(record).toMatchObject({ outcome: 'succeeded', mode: 'zipdeploy', functionsListed: EXPECTED });
    expect(run.summary).toMatch(/Conflict/);
    expect(run.masked).toContain(sasSignature(legacyUrl));
    await expectNoSecrets(sb, run, [sasSignature(legacyUrl)]);
  });

  it('on-conflict fail stops before any change, with the fix in the message', async () => {
    const before = await appState(sb, 'lin-ded-conflict-fail');
    const run = await deploy(sb, {
      'app-name': 'lin-ded-conflict-fail',
      package: PACKAGE,
      'deploy-mode': 'zipdeploy',
      'on-conflict': 'fail',
    });
    expect(run.code).not.toBe(0);
    expect(run.visibleLog).toMatch(/::error::.*on-conflict is 'fail'.*backup-and-replace/);
    const after = await appState(sb, 'lin-ded-conflict-fail');
    expect(after.settings).toEqual(before.settings);
    expect(after.events.length).toBe(before.events.length);
    await expectNoSecrets(sb, run, [sasSignature(legacyUrl)]);
  });
});

describe('modes across OS and plans', () => {
  it('Linux Consumption: run-from-package with a read-only SAS URL, synced, restarted, verified', async () => {
    const run = await deploy(sb, { 'app-name': 'lin-cons', package: PACKAGE, 'sas-expiry': '30d' });
    expect(run.code, run.visibleLog).toBe(0);
    expect(run.outputs.mode).toBe('run-from-package');
    expect(run.outputs['package-url']).toMatch(/\/deployments\/.+\/lin-cons\.zip$/);
    expect(run.outputs['package-url']).not.toContain('?');
    expect(run.outputs['package-sha256']).toMatch(/^[0-9a-f]{64}$/);
    expect(run.outputs['package-reused']).toBe('false');
    const after = await settledState(sb, 'lin-cons');
    const value = after.settings.WEBSITE_RUN_FROM_PACKAGE ?? '';
    expect(value).toMatch(/sp=r/);
    expect(value).toMatch(/spr=https/);
    expect(new Date(run.outputs['sas-expires-at'] ?? 0).getTime()).toBeGreaterThan(
      Date.now() + 29 * 86_400_000,
    );
    expect(after.settings.APPINSIGHTS_CONNECTION).toBe('InstrumentationKey=keep-me');
    expect(functionNames(after)).toEqual(EXPECTED);
    expect(run.outputs['backup-artifact-name']).toBeUndefined();
    expect(run.masked).toContain(sasSignature(value));
    await expectNoSecrets(sb, run, [sasSignature(value)]);
  });

  it('Windows Consumption: auto picks zipdeploy and sets WEBSITE_RUN_FROM_PACKAGE=1', async () => {
    const run = await deploy(sb, { 'app-name': 'win-cons', package: PACKAGE });
    expect(run.code, run.visibleLog).toBe(0);
    expect(run.outputs.mode).toBe('zipdeploy');
    const after = await settledState(sb, 'win-cons');
    expect(after.settings.WEBSITE_RUN_FROM_PACKAGE).toBe('1');
    expect(after.settings.AzureWebJobsStorage).toBeDefined();
    expect(functionNames(after)).toEqual(EXPECTED);
    await expectNoSecrets(sb, run, []);
  });

  it('Linux Elastic Premium with =1: zipdeploy keeps the setting', async () => {
    const run = await deploy(sb, { 'app-name': 'lin-ep', package: PACKAGE });
    expect(run.code, run.visibleLog).toBe(0);
    expect(run.outputs.mode).toBe('zipdeploy');
    expect(run.outputs['mode-reason']).toMatch(/=1 is kept/);
    expect(functionNames(await settledState(sb, 'lin-ep'))).toEqual(EXPECTED);
  });

  it('Windows Dedicated with a URL: auto keeps run-from-package and backs the old URL up', async () => {
    const run = await deploy(sb, { 'app-name': 'win-ded-url', package: PACKAGE });
    expect(run.code, run.visibleLog).toBe(0);
    expect(run.outputs.mode).toBe('run-from-package');
    expect(run.outputs['backup-artifact-name']).toMatch(/^afpd-backup-win-ded-url-/);
    const after = await settledState(sb, 'win-ded-url');
    expect(after.settings.WEBSITE_RUN_FROM_PACKAGE).not.toBe(legacyUrl);
    expect(functionNames(after)).toEqual(EXPECTED);
    await expectNoSecrets(sb, run, [
      sasSignature(legacyUrl),
      sasSignature(after.settings.WEBSITE_RUN_FROM_PACKAGE),
    ]);
  });

  it('a slot: deploys to the slot only', async () => {
    const prodBefore = await appState(sb, 'win-ep-slot');
    // The storage-connection-string input (a secret) takes precedence over the app's AzureWebJobsStorage.
    const run = await deploy(sb, {
      'app-name': 'win-ep-slot',
      'slot-name': 'staging',
      package: PACKAGE,
      'deploy-mode': 'run-from-package',
      'storage-connection-string': sb.storage.connectionString,
    });
    expect(run.masked).toContain(sb.storage.connectionString);
    expect(run.code, run.visibleLog).toBe(0);
    expect(run.outputs['package-url']).toMatch(/win-ep-slot-staging\.zip$/);
    const slot = await appState(sb, 'win-ep-slot', 'staging');
    expect(slot.settings.WEBSITE_RUN_FROM_PACKAGE).toMatch(/^https:/);
    expect(slot.settings.SLOT_ONLY).toBe('staging');
    expect(functionNames(slot)).toEqual(EXPECTED);
    expect((await appState(sb, 'win-ep-slot')).settings).toEqual(prodBefore.settings);
    await expectNoSecrets(sb, run, [
      sb.storage.connectionString,
      sasSignature(slot.settings.WEBSITE_RUN_FROM_PACKAGE),
    ]);
  });
});

describe('rollback-to (the workflow_dispatch path)', () => {
  it('redeploys a stored deployment by id, without packaging, backing up the current URL', async () => {
    const v3 = await deploy(sb, {
      'app-name': 'lin-cons-rollback',
      package: PACKAGE,
      'deployment-id': 'release-1',
    });
    expect(v3.code, v3.visibleLog).toBe(0);
    const v4 = await deploy(sb, {
      'app-name': 'lin-cons-rollback',
      package: 'examples/hello-v4',
      'deployment-id': 'release-2',
    });
    expect(v4.code, v4.visibleLog).toBe(0);
    expect(functionNames(await settledState(sb, 'lin-cons-rollback'))).not.toEqual(EXPECTED);

    const back = await deploy(sb, {
      'app-name': 'lin-cons-rollback',
      'rollback-to': 'release-1',
      'deployment-id': 'rollback-1',
    });
    expect(back.code, back.visibleLog).toBe(0);
    expect(back.outputs['mode-reason']).toMatch(/rollback-to 'release-1'/);
    expect(back.outputs['package-sha256']).toBe(v3.outputs['package-sha256']);
    expect(back.outputs['package-url']).toBe(v3.outputs['package-url']);
    expect(back.outputs['backup-artifact-name']).toMatch(/^afpd-backup-lin-cons-rollback-rollback-1$/);
    expect(back.summary).not.toMatch(/\| package \|/);
    expect(functionNames(await settledState(sb, 'lin-cons-rollback'))).toEqual(EXPECTED);
  });

  it('an unknown deployment id stops before any change', async () => {
    const before = await appState(sb, 'lin-cons-rollback');
    const run = await deploy(sb, { 'app-name': 'lin-cons-rollback', 'rollback-to': 'no-such-release' });
    expect(run.code).not.toBe(0);
    expect(run.visibleLog).toMatch(
      /No stored package 'deployments\/no-such-release\/lin-cons-rollback\.zip'/,
    );
    expect((await appState(sb, 'lin-cons-rollback')).settings).toEqual(before.settings);
  });
});

describe('more paths', () => {
  it('retention keeps the newest packages of the app and never the live or previous one', async () => {
    const names: string[] = [];
    for (const [i, epoch] of ['1700000000', '1700000100', '1700000200'].entries()) {
      const run = await deploy(
        sb,
        {
          'app-name': 'lin-cons-retain',
          package: PACKAGE,
          'deployment-id': `keep-${i}`,
          'retain-packages': '2',
        },
        { SOURCE_DATE_EPOCH: epoch },
      );
      expect(run.code, run.visibleLog).toBe(0);
      names.push(run.outputs['package-url']?.split('/deployments/')[1] ?? '');
    }
    const stored: string[] = [];
    for await (const b of blobService(sb).getContainerClient('deployments').listBlobsFlat()) {
      if (b.name.endsWith('/lin-cons-retain.zip')) stored.push(b.name);
    }
    expect(stored.sort()).toEqual([names[1], names[2]].sort());
    expect(functionNames(await settledState(sb, 'lin-cons-retain'))).toEqual(EXPECTED);
  });

  it('a publish profile of a Flex app: the 404 from /api/zipdeploy is explained, nothing changes', async () => {
    const before = await appState(sb, 'lin-flex');
    const { kuduUrl, password } = await publishingCredentials(sb, 'lin-flex');
    const profile = `<publishData><publishProfile profileName="lin-flex - Zip Deploy" publishMethod="ZipDeploy" publishUrl="${new URL(kuduUrl).host}" userName="$lin-flex" userPWD="${password}" msdeploySite="lin-flex" /></publishData>`;
    const run = await deploy(sb, { 'app-name': 'lin-flex', package: PACKAGE, 'publish-profile': profile });
    expect(run.code).not.toBe(0);
    expect(run.visibleLog).toMatch(
      /::error::.*\(HTTP 404\).*the app is most likely on Flex Consumption, which deploys through \/api\/publish\. Log in with azure\/login/,
    );
    expect((await appState(sb, 'lin-flex')).settings).toEqual(before.settings);
    await expectNoSecrets(sb, run, [password]);
  });

  it('Kudu refusing the bearer token: zipdeploy falls back to the publishing credentials (basic auth allowed)', async () => {
    await control(sb, '/faults', 'POST', {
      route: 'kudu.zipdeploy',
      app: 'win-ep-basic',
      status: 401,
      count: 1,
    });
    const run = await deploy(sb, { 'app-name': 'win-ep-basic', package: PACKAGE });
    expect(run.code, run.visibleLog).toBe(0);
    expect(run.visibleLog).toMatch(/retrying with the publishing credentials/);
    const { password } = await publishingCredentials(sb, 'win-ep-basic');
    expect(run.masked).toContain(password);
    expect(functionNames(await settledState(sb, 'win-ep-basic'))).toEqual(EXPECTED);
    await expectNoSecrets(sb, run, [password]);
  });
});

describe('the calls a deploy makes', () => {
  const counted = async (app: string, inputs: Record<string, string> = {}) => {
    await settledState(sb, app);
    await control(sb, '/requests', 'DELETE');
    const run = await deploy(sb, { 'app-name': app, package: PACKAGE, ...inputs });
    expect(run.code, run.visibleLog).toBe(0);
    return (await control<{ byRoute: Record<string, number> }>(sb, '/requests')).byRoute;
  };

  it('zipdeploy on Windows: the lookup said Windows, so no config/web read; 8 ARM and Kudu calls besides polling', async () => {
    const calls = await counted('win-ep-calls');
    expect(calls['arm.config.web']).toBeUndefined();
    const once = ['arm.functions', 'kudu.deployments.latest'];
    const made = Object.entries(calls)
      .filter(([route]) => route.startsWith('arm.') || route.startsWith('kudu.'))
      .reduce((n, [route, count]) => n + (once.includes(route) ? 1 : count), 0);
    expect(made).toBeLessThanOrEqual(8);
  });

  it('run-from-package, first deploy on Linux: config/web is read; nothing to delete, so no slot listing', async () => {
    const calls = await counted('lin-cons-calls');
    expect(calls['arm.config.web']).toBe(1);
    expect(calls['arm.slots']).toBeUndefined();
    const once = ['arm.functions', 'arm.sync.hostruntime'];
    const made = Object.entries(calls)
      .filter(([route]) => route.startsWith('arm.'))
      .reduce((n, [route, count]) => n + (once.includes(route) ? 1 : count), 0);
    expect(made).toBeLessThanOrEqual(10);
  });
});
