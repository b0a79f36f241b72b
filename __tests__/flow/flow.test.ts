import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Sandbox } from '../../sandbox/index.js';
import {
  type AppView,
  appState,
  artifactDocuments,
  blobService,
  control,
  functionAppZip,
  functionNames,
  patchSettings,
  settledState,
  startE2ESandbox,
  storeLegacyPackage,
} from '../e2e/helpers.js';
import { nodeSettings, seed } from '../e2e/seed.js';
import { type FlowRun, runFlow, useSandboxEnvironment } from './harness.js';

/**
 * The flow table: src/main.ts run in this process against the sandbox (real SDKs, the az shim, the artifact
 * client), one app per row. The dist/ smoke tests in __tests__/e2e run the bundle as the runner does.
 */

const PACKAGE = 'examples/hello-v3';
const EXPECTED = ['HttpHello', 'TimerTick'];

type Spec = Parameters<typeof seed>[0][string];
const identityStorage = () => {
  const { AzureWebJobsStorage: _drop, ...rest } = nodeSettings();
  return { ...rest, AzureWebJobsStorage__blobServiceUri: '${AZURITE_BLOB_ENDPOINT}' };
};

const APPS: Record<string, Spec & { legacyUrl?: true }> = {
  'flow-conflict': { os: 'windows', sku: 'EP1', legacyUrl: true },
  'flow-conflict-fail': { os: 'linux', sku: 'P1v3', legacyUrl: true },
  'flow-lin-cons': { os: 'linux', sku: 'Y1' },
  'flow-win-cons': { os: 'windows', sku: 'Y1' },
  'flow-keep-one': { os: 'linux', sku: 'EP2', settings: nodeSettings({ WEBSITE_RUN_FROM_PACKAGE: '1' }) },
  'flow-url-kept': { os: 'windows', sku: 'S1', legacyUrl: true },
  'flow-slot': { os: 'windows', sku: 'EP1', slots: ['staging'] },
  'flow-flex': { os: 'linux', sku: 'FC1', settings: { AzureWebJobsStorage: '${AZURITE_CONNECTION_STRING}' } },
  'flow-webapp': { os: 'windows', sku: 'S1', kind: 'app' },
  'flow-profile-other': { os: 'windows', sku: 'EP1' },
  'flow-contradiction': { os: 'linux', sku: 'Y1' },
  'flow-identity-sas': { os: 'linux', sku: 'Y1', settings: identityStorage() },
  'flow-verify-throttled': { os: 'linux', sku: 'Y1', legacyUrl: true },
  'flow-put-refused': { os: 'windows', sku: 'EP1', legacyUrl: true },
  'flow-put-unanswered': { os: 'windows', sku: 'EP1', legacyUrl: true },
  'flow-dry': { os: 'windows', sku: 'EP1', legacyUrl: true },
  'flow-retain': { os: 'linux', sku: 'Y1' },
  'flow-rollback-to': { os: 'linux', sku: 'Y1' },
};

let sb: Sandbox;
let legacyUrl: string;

beforeAll(async () => {
  sb = await startE2ESandbox(seed(APPS));
  useSandboxEnvironment(sb);
  legacyUrl = await storeLegacyPackage(
    sb,
    'flow-legacy.zip',
    await functionAppZip(['LegacyFn']),
    new Date(Date.now() + 200 * 86_400_000),
  );
  for (const [app, spec] of Object.entries(APPS))
    if (spec.legacyUrl) await patchSettings(sb, app, { WEBSITE_RUN_FROM_PACKAGE: legacyUrl });
  // The seeded settings change recycled every host: start the rows from settled apps.
  for (const app of Object.keys(APPS)) await settledState(sb, app);
});
afterAll(async () => {
  await sb?.stop();
});

/** The profile of another app: what a copy-paste mistake in a workflow looks like. */
const otherProfile = () =>
  `<publishData><publishProfile profileName="flow-conflict - Zip Deploy" publishMethod="ZipDeploy" publishUrl="${sb.appService.kuduUrl('flow-conflict').replace('https://', '')}" userName="$flow-conflict" userPWD="not-checked" msdeploySite="flow-conflict" /></publishData>`;

interface Row {
  app: string;
  inputs?: Record<string, string>;
  setup?: () => Promise<void>;
  /** A failure message pattern; a success when absent. */
  failure?: RegExp;
  outputs?: Record<string, string | RegExp>;
  /** Settings and the app's history untouched: the run stopped before any write. */
  unchanged?: true;
  /** WEBSITE_RUN_FROM_PACKAGE after the run: 'legacy' is the seeded URL. */
  setting?: string | RegExp;
  functions?: string[];
  outcome?: 'succeeded' | 'failed' | 'rolled-back';
  backup?: boolean;
}

const rows: [string, Row][] = [
  [
    'the conflict: URL backed up, replaced by 1, zipdeploy, verified',
    {
      app: 'flow-conflict',
      inputs: { 'deploy-mode': 'zipdeploy' },
      outputs: {
        mode: 'zipdeploy',
        'mode-reason': /Conflict: WEBSITE_RUN_FROM_PACKAGE is a URL/,
        functions: JSON.stringify(EXPECTED),
      },
      setting: '1',
      functions: EXPECTED,
      outcome: 'succeeded',
      backup: true,
    },
  ],
  [
    'on-conflict fail: stopped before any change, with the fix',
    {
      app: 'flow-conflict-fail',
      inputs: { 'deploy-mode': 'zipdeploy', 'on-conflict': 'fail' },
      failure: /on-conflict is 'fail'\. Set on-conflict: backup-and-replace/,
      unchanged: true,
    },
  ],
  [
    'Linux Consumption: run-from-package with a read-only SAS, verified',
    {
      app: 'flow-lin-cons',
      outputs: {
        mode: 'run-from-package',
        'package-url': /\/deployments\/.+\/flow-lin-cons\.zip$/,
        'package-reused': 'false',
      },
      setting: /sp=r.*sig=/,
      functions: EXPECTED,
      outcome: 'succeeded',
      backup: false,
    },
  ],
  [
    'Windows Consumption: auto zipdeploy sets =1',
    {
      app: 'flow-win-cons',
      outputs: { mode: 'zipdeploy' },
      setting: '1',
      functions: EXPECTED,
      outcome: 'succeeded',
    },
  ],
  [
    '=1 is kept on Linux Elastic Premium',
    {
      app: 'flow-keep-one',
      outputs: { 'mode-reason': /WEBSITE_RUN_FROM_PACKAGE=1 is kept/ },
      setting: '1',
      functions: EXPECTED,
    },
  ],
  [
    'a URL keeps run-from-package, the old URL backed up',
    {
      app: 'flow-url-kept',
      outputs: { mode: 'run-from-package' },
      setting: /^https:.*flow-url-kept\.zip\?/,
      backup: true,
      functions: EXPECTED,
    },
  ],
  [
    'a slot of a Flex app is refused before any change (Flex has no slots)',
    {
      app: 'flow-flex',
      inputs: { 'slot-name': 'staging' },
      failure: /Flex Consumption apps have no deployment slots \(slot-name 'staging'\); nothing was changed/,
      unchanged: true,
    },
  ],
  [
    'a plain web app (kind without functionapp) is refused before any change',
    {
      app: 'flow-webapp',
      failure: /flow-webapp is not a Function App \(site kind 'app'\); nothing was changed/,
      unchanged: true,
    },
  ],
  [
    'a publish profile of another app is refused before any change',
    {
      app: 'flow-profile-other',
      inputs: {},
      setup: async () => {},
      failure: /is for site 'flow-conflict', not for 'flow-profile-other'.*nothing was changed/,
      unchanged: true,
    },
  ],
  [
    'storage-account contradicting storage-connection-string is refused, naming both',
    {
      app: 'flow-contradiction',
      inputs: { 'storage-account': 'someotheraccount' },
      failure:
        /'storage-account' \(someotheraccount\) and input 'storage-connection-string' \(account devstoreaccount1\) name different storage accounts/,
      unchanged: true,
      backup: false,
    },
  ],
  [
    'identity-based storage with a 365-day SAS is refused before packaging is used, upload or backup',
    {
      app: 'flow-identity-sas',
      failure: /lasts at most 7 days, but sas-expiry asks for 365 days.*package-access: managed-identity/,
      unchanged: true,
      backup: false,
    },
  ],
  [
    'a settings write refused (400): the run says nothing was changed',
    {
      app: 'flow-put-refused',
      inputs: { 'deploy-mode': 'zipdeploy' },
      setup: () =>
        control(sb, '/faults', 'POST', {
          route: 'arm.appsettings.put',
          app: 'flow-put-refused',
          status: 400,
          errorCode: 'BadRequest',
          message: 'The parameter properties has an invalid value.',
          count: 1,
        }).then(() => undefined),
      failure:
        /\(HTTP 400 BadRequest\): The parameter properties has an invalid value\..*Nothing was changed in the app settings: the settings write did not take effect/,
      setting: 'legacy',
      outcome: 'failed',
      backup: true,
    },
  ],
  [
    'dry-run: inspects and plans, changes nothing',
    {
      app: 'flow-dry',
      inputs: { 'deploy-mode': 'zipdeploy', 'dry-run': 'true' },
      outputs: { 'mode-reason': /Conflict.*dry-run/s },
      unchanged: true,
      backup: false,
    },
  ],
];

function inputsFor(row: Row): Record<string, string> {
  const inputs: Record<string, string> = { 'app-name': row.app, package: PACKAGE, ...row.inputs };
  if (row.app === 'flow-profile-other') inputs['publish-profile'] = otherProfile();
  if (row.app === 'flow-contradiction') inputs['storage-connection-string'] = sb.storage.connectionString;
  return inputs;
}

async function check(row: Row, run: FlowRun, before: AppView): Promise<void> {
  if (row.failure) {
    expect(run.failed, run.log.join('\n')).toMatch(row.failure);
  } else {
    expect(run.failed, run.log.join('\n')).toBeUndefined();
  }
  for (const [name, value] of Object.entries(row.outputs ?? {})) {
    if (typeof value === 'string') expect(run.outputs[name], name).toBe(value);
    else expect(run.outputs[name], name).toMatch(value);
  }
  if (row.unchanged) {
    const after = await appState(sb, row.app);
    expect(after.settings).toEqual(before.settings);
    expect(after.events.length).toBe(before.events.length);
  }
  if (row.setting !== undefined || row.functions) {
    const after = await settledState(sb, row.app);
    const value = after.settings.WEBSITE_RUN_FROM_PACKAGE;
    if (row.setting === 'legacy') expect(value).toBe(legacyUrl);
    else if (typeof row.setting === 'string') expect(value).toBe(row.setting);
    else if (row.setting) expect(value).toMatch(row.setting);
    if (row.functions) expect(functionNames(after)).toEqual(row.functions);
    // Nothing else the app had is lost.
    expect(after.settings.APPINSIGHTS_CONNECTION ?? 'InstrumentationKey=keep-me').toBe(
      'InstrumentationKey=keep-me',
    );
  }
  const docs = await artifactDocuments(sb);
  if (row.backup !== undefined) expect(run.outputs['backup-artifact-name'] !== undefined).toBe(row.backup);
  if (row.backup) {
    const backup = docs.get(run.outputs['backup-artifact-name'] ?? '');
    expect(backup).toMatchObject({ schema: 'azure-functions-package-deploy/backup@1', app: row.app });
    expect(String(backup?.previousValue)).toMatch(/sig=REDACTED/);
  }
  if (row.outcome)
    expect(docs.get(run.outputs['record-artifact-name'] ?? '')).toMatchObject({ outcome: row.outcome });
  // No surface shows a SAS signature.
  const surfaces = [JSON.stringify(run.outputs), run.summary, run.log.join('\n'), run.failed ?? ''].join(
    '\n',
  );
  expect(surfaces).not.toMatch(/sig=(?!REDACTED)[A-Za-z0-9%]/);
}

describe('the flow table (src/ in process)', () => {
  it.each(rows)('%s', async (_name, row) => {
    await row.setup?.();
    const before = await appState(sb, row.app);
    const run = await runFlow(inputsFor(row));
    await check(row, run, before);
  });

  it('identity storage refused: nothing was uploaded', async () => {
    const names: string[] = [];
    for await (const b of blobService(sb).getContainerClient('deployments').listBlobsFlat())
      if (b.name.includes('flow-identity-sas')) names.push(b.name);
    expect(names).toEqual([]);
  });

  it('verification times out and the first restore write is throttled: the previous setting is still restored', async () => {
    // The deploy's own write goes through; the restore's (the second PUT) is throttled once with Retry-After.
    await control(sb, '/faults', 'POST', {
      route: 'arm.appsettings.put',
      app: 'flow-verify-throttled',
      skip: 1,
      status: 429,
      retryAfter: 1,
      count: 1,
    });
    const run = await runFlow({
      'app-name': 'flow-verify-throttled',
      package: PACKAGE,
      'package-access': 'managed-identity',
      'managed-identity-resource-id':
        '/subscriptions/x/resourceGroups/rg/providers/Microsoft.ManagedIdentity/userAssignedIdentities/not-assigned',
      timeout: '6s',
    });
    expect(run.failed).toMatch(
      /were not listed before the timeout.*WEBSITE_RUN_FROM_PACKAGE was restored to .* and verified by a fresh read\./,
    );
    expect(run.log.join('\n')).toMatch(
      /Retrying 'update the app settings of flow-verify-throttled.*HTTP 429/,
    );
    const after = await settledState(sb, 'flow-verify-throttled');
    expect(after.settings.WEBSITE_RUN_FROM_PACKAGE).toBe(legacyUrl);
    expect(after.settings.WEBSITE_RUN_FROM_PACKAGE_BLOB_MI_RESOURCE_ID).toBeUndefined();
    expect(functionNames(after)).toEqual(['LegacyFn']);
    const record = (await artifactDocuments(sb)).get(run.outputs['record-artifact-name'] ?? '');
    expect(record).toMatchObject({ outcome: 'rolled-back', restore: expect.stringMatching(/was restored/) });
    expect(run.summary).toContain('❌ failed, previous package restored');
  });

  it('a settings write applied but never answered: cut at the timeout, then restored', async () => {
    await control(sb, '/faults', 'POST', {
      route: 'arm.appsettings.put',
      app: 'flow-put-unanswered',
      applyThenHang: true,
      count: 1,
    });
    const started = Date.now();
    const run = await runFlow({
      'app-name': 'flow-put-unanswered',
      package: PACKAGE,
      'deploy-mode': 'zipdeploy',
      timeout: '5s',
    });
    expect(Date.now() - started).toBeLessThan(5000 + 30_000);
    expect(run.failed).toMatch(
      /WEBSITE_RUN_FROM_PACKAGE was restored to .*flow-legacy\.zip.*sig=REDACTED.* and verified by a fresh read/,
    );
    expect((await settledState(sb, 'flow-put-unanswered')).settings.WEBSITE_RUN_FROM_PACKAGE).toBe(legacyUrl);
  });

  it('retention never deletes the package the app ran before, even beyond retain-packages', async () => {
    const first = await runFlow({
      'app-name': 'flow-retain',
      package: PACKAGE,
      'deployment-id': 'keep-a',
      'retain-packages': '1',
    });
    expect(first.failed).toBeUndefined();
    const second = await runFlow({
      'app-name': 'flow-retain',
      package: 'examples/hello-v4',
      'deployment-id': 'keep-b',
      'retain-packages': '1',
    });
    expect(second.failed).toBeUndefined();
    const third = await runFlow(
      { 'app-name': 'flow-retain', package: PACKAGE, 'deployment-id': 'keep-c', 'retain-packages': '1' },
      { SOURCE_DATE_EPOCH: '1700000000' },
    );
    expect(third.failed).toBeUndefined();
    const stored: string[] = [];
    for await (const b of blobService(sb).getContainerClient('deployments').listBlobsFlat())
      if (b.name.endsWith('/flow-retain.zip')) stored.push(b.name);
    // keep-c is live; keep-b was live before it (protected); keep-a is beyond the newest one: deleted.
    expect(stored.sort()).toEqual(['keep-b/flow-retain.zip', 'keep-c/flow-retain.zip']);
  });

  it('rollback-to redeploys a stored deployment and states it as the plan', async () => {
    expect(
      (await runFlow({ 'app-name': 'flow-rollback-to', package: PACKAGE, 'deployment-id': 'r1' })).failed,
    ).toBeUndefined();
    expect(
      (await runFlow({ 'app-name': 'flow-rollback-to', package: 'examples/hello-v4', 'deployment-id': 'r2' }))
        .failed,
    ).toBeUndefined();
    const back = await runFlow({
      'app-name': 'flow-rollback-to',
      'rollback-to': 'r1',
      'deployment-id': 'r3',
    });
    expect(back.failed).toBeUndefined();
    expect(back.outputs['mode-reason']).toMatch(
      /^The app runs on Linux Consumption.* rollback-to 'r1': the stored package is redeployed/,
    );
    expect(back.outputs['package-url']).toMatch(/\/r1\/flow-rollback-to\.zip$/);
    expect(functionNames(await settledState(sb, 'flow-rollback-to'))).toEqual(EXPECTED);
    const record = (await artifactDocuments(sb)).get(back.outputs['record-artifact-name'] ?? '');
    expect(record).toMatchObject({
      operation: 'rollback-to',
      outcome: 'succeeded',
      functionsListed: EXPECTED,
    });
  });
});
