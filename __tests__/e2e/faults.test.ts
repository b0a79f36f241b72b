import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Sandbox } from '../../sandbox/index.js';
import { LAYOUT_MARKER, LAYOUT_SCHEMA } from '../../src/store.js';
import {
  appState,
  artifactDocuments,
  blobService,
  control,
  deploy,
  expectNoSecrets,
  functionAppZip,
  patchSettings,
  publishingCredentials,
  sasSignature,
  settledState,
  startE2ESandbox,
  storeLegacyPackage,
} from './helpers.js';
import { seed } from './seed.js';

/**
 * Requests that are never answered, refusals, and the wrong target, through dist/index.js: every run ends by its
 * timeout plus a margin, with outputs and a summary, says truthfully what happened, and restores what it changed.
 */

const PACKAGE = 'examples/hello-v3';
/** Process start, the restore on its own grace budget, the record: what a run may take beyond its timeout. */
const MARGIN_MS = 20_000;

let sb: Sandbox;
let legacyUrl: string;

const APPS = {
  'hang-site-get': { os: 'linux', sku: 'Y1' },
  'hang-settings-put': { os: 'windows', sku: 'EP1' },
  'hang-upload': { os: 'linux', sku: 'Y1' },
  'hang-status-poll': { os: 'windows', sku: 'EP1' },
  'artifacts-failing': { os: 'windows', sku: 'EP1' },
  'restart-refused': { os: 'linux', sku: 'Y1' },
  'restore-refused': { os: 'linux', sku: 'Y1' },
  'legacy-error': { os: 'windows', sku: 'EP1' },
  'right-app': { os: 'windows', sku: 'EP1' },
  'wrong-app': { os: 'windows', sku: 'EP1' },
  'plain-webapp': { os: 'windows', sku: 'S1', kind: 'app' },
  'two-accounts': { os: 'linux', sku: 'Y1' },
} as const;
const WITH_URL = ['hang-settings-put', 'artifacts-failing', 'restart-refused', 'restore-refused'];

beforeAll(async () => {
  sb = await startE2ESandbox(seed({ ...APPS }));
  legacyUrl = await storeLegacyPackage(
    sb,
    'faults-legacy.zip',
    await functionAppZip(['LegacyFn']),
    new Date(Date.now() + 200 * 86_400_000),
  );
  for (const app of WITH_URL) await patchSettings(sb, app, { WEBSITE_RUN_FROM_PACKAGE: legacyUrl });
  for (const app of Object.keys(APPS)) await settledState(sb, app);
});
afterEach(async () => {
  await control(sb, '/faults', 'DELETE');
  await fetch(`${sb.storage.controlUrl}/faults`, { method: 'DELETE' });
});
afterAll(async () => {
  await sb?.stop();
});

/** A run's duration, its exit and its surfaces: outputs and a summary must be there whatever happened. */
async function timedDeploy(inputs: Record<string, string>, timeoutS: number) {
  const started = Date.now();
  const run = await deploy(sb, { package: PACKAGE, timeout: `${timeoutS}s`, ...inputs });
  const elapsed = Date.now() - started;
  expect(elapsed, run.visibleLog).toBeLessThan(timeoutS * 1000 + MARGIN_MS);
  expect(run.summary).toMatch(/## Azure Functions deploy: /);
  return run;
}

describe('requests that are never answered end by the timeout', () => {
  it('the site GET: a clear error, nothing changed', async () => {
    const before = await appState(sb, 'hang-site-get');
    await control(sb, '/faults', 'POST', {
      route: 'arm.site.get',
      app: 'hang-site-get',
      hang: true,
      count: -1,
    });
    const run = await timedDeploy({ 'app-name': 'hang-site-get' }, 8);
    expect(run.code).not.toBe(0);
    expect(run.visibleLog).toMatch(
      /::error::Failed to get the site hang-site-get .*no answer before the timeout/,
    );
    expect(run.summary).toContain('❌ failed, nothing was changed');
    expect(run.outputs['deployment-id']).toMatch(/^\d{8}T\d{6}Z-a1b2c3d$/);
    expect((await appState(sb, 'hang-site-get')).settings).toEqual(before.settings);
  });

  it('a settings write applied but never answered: the previous URL is restored', async () => {
    await control(sb, '/faults', 'POST', {
      route: 'arm.appsettings.put',
      app: 'hang-settings-put',
      applyThenHang: true,
      count: 1,
    });
    const run = await timedDeploy({ 'app-name': 'hang-settings-put', 'deploy-mode': 'zipdeploy' }, 10);
    expect(run.code).not.toBe(0);
    expect(run.visibleLog).toMatch(
      /::error::.*WEBSITE_RUN_FROM_PACKAGE was restored to .*faults-legacy\.zip.* and verified by a fresh read/,
    );
    expect(run.summary).toContain('❌ failed, previous package restored');
    expect((await settledState(sb, 'hang-settings-put')).settings.WEBSITE_RUN_FROM_PACKAGE).toBe(legacyUrl);
    const record = (await artifactDocuments(sb)).get(run.outputs['record-artifact-name'] ?? '');
    expect(record).toMatchObject({ outcome: 'rolled-back' });
    await expectNoSecrets(sb, run, [sasSignature(legacyUrl)]);
  });

  it('a blob upload: a clear error, the app unchanged', async () => {
    const before = await appState(sb, 'hang-upload');
    // A container the action has written to before (its layout marker there), so the first PUT is the upload.
    const marker = Buffer.from(JSON.stringify({ schema: LAYOUT_SCHEMA }));
    const container = blobService(sb).getContainerClient('deployments');
    await container.createIfNotExists();
    await container.getBlockBlobClient(LAYOUT_MARKER).uploadData(marker);
    await fetch(`${sb.storage.controlUrl}/faults`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ route: 'blob.put', client: 'action', hang: true, count: -1 }),
    });
    const run = await timedDeploy({ 'app-name': 'hang-upload' }, 8);
    expect(run.code).not.toBe(0);
    expect(run.visibleLog).toMatch(
      /::error::Failed to upload the package to 'deployments\/.*no answer before the timeout/,
    );
    expect((await appState(sb, 'hang-upload')).settings).toEqual(before.settings);
  });

  it('one Kudu status poll that hangs does not eat the budget: it is cut and the next one goes on', async () => {
    await control(sb, '/faults', 'POST', {
      route: 'kudu.deployments.latest',
      app: 'hang-status-poll',
      hang: true,
      count: 1,
    });
    const run = await timedDeploy({ 'app-name': 'hang-status-poll' }, 30);
    expect(run.code, run.visibleLog).toBe(0);
    expect(run.outputs['kudu-deployment-id']).toMatch(/^[0-9a-f]{32}$/);
  });

  it("the artifact service failing: its client's retries are bounded by the timeout, nothing changed", async () => {
    const before = await appState(sb, 'artifacts-failing');
    await fetch(`${sb.env.SANDBOX_ARTIFACTS_CONTROL_URL}/faults`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ route: 'artifacts.twirp.CreateArtifact', status: 503, count: -1 }),
    });
    try {
      const run = await timedDeploy({ 'app-name': 'artifacts-failing', 'deploy-mode': 'zipdeploy' }, 8);
      expect(run.code).not.toBe(0);
      expect(run.visibleLog).toMatch(
        /::error::Failed to back up the current package setting \(nothing was changed\)/,
      );
      expect((await appState(sb, 'artifacts-failing')).settings).toEqual(before.settings);
    } finally {
      await fetch(`${sb.env.SANDBOX_ARTIFACTS_CONTROL_URL}/faults`, { method: 'DELETE' });
    }
  });
});

describe('what the run says is what happened', () => {
  const badIdentity =
    '/subscriptions/x/resourceGroups/rg/providers/Microsoft.ManagedIdentity/userAssignedIdentities/nope';

  it('restored, but the restart after it refused: says both', async () => {
    // The deploy's own restart passes; the restore's is refused.
    await control(sb, '/faults', 'POST', {
      route: 'arm.restart',
      app: 'restart-refused',
      skip: 1,
      status: 409,
      errorCode: 'Conflict',
      message: 'The site is being modified.',
      count: -1,
    });
    const run = await timedDeploy(
      {
        'app-name': 'restart-refused',
        'package-access': 'managed-identity',
        'managed-identity-resource-id': badIdentity,
      },
      10,
    );
    expect(run.code).not.toBe(0);
    expect(run.visibleLog).toMatch(
      /::error::.*WEBSITE_RUN_FROM_PACKAGE was restored to .* and verified by a fresh read\. But the restart was refused \(.*HTTP 409 Conflict\): The site is being modified\..*restart the app so it loads the previous package/,
    );
    expect(run.summary).toContain('previous setting restored but the restart was refused');
    expect((await settledState(sb, 'restart-refused')).settings.WEBSITE_RUN_FROM_PACKAGE).toBe(legacyUrl);
  });

  it('verification failed and the restore write refused too: not restored, restore by hand from the artifact', async () => {
    await control(sb, '/faults', 'POST', {
      route: 'arm.appsettings.put',
      app: 'restore-refused',
      skip: 1,
      status: 400,
      errorCode: 'BadRequest',
      message: 'Settings are locked.',
      count: -1,
    });
    const run = await timedDeploy(
      {
        'app-name': 'restore-refused',
        'package-access': 'managed-identity',
        'managed-identity-resource-id': badIdentity,
      },
      10,
    );
    expect(run.code).not.toBe(0);
    expect(run.visibleLog).not.toMatch(/was restored/);
    expect(run.visibleLog).toMatch(
      /::error::.*Not restored \(.*HTTP 400 BadRequest\): Settings are locked\.\); restore WEBSITE_RUN_FROM_PACKAGE by hand from the backup artifact 'afpd-backup-restore-refused-/,
    );
    expect(run.summary).toContain('❌ failed, NOT restored: restore by hand');
  });

  it("an ARM refusal in the legacy shape keeps the service's code and text", async () => {
    await control(sb, '/faults', 'POST', {
      route: 'arm.appsettings.put',
      app: 'legacy-error',
      status: 409,
      errorShape: 'legacy',
      errorCode: 'Conflict',
      message: 'Cannot modify this site because another operation is in progress.',
      count: 1,
    });
    const run = await timedDeploy({ 'app-name': 'legacy-error' }, 20);
    expect(run.code).not.toBe(0);
    expect(run.visibleLog).toMatch(
      /::error::Failed to update the app settings of legacy-error .*\(HTTP 409 Conflict\): Cannot modify this site because another operation is in progress\./,
    );
    expect(run.visibleLog).toMatch(
      /Nothing was changed in the app settings: the settings write did not take effect/,
    );
  });
});

describe('the wrong target is refused with nothing written', () => {
  it('a publish profile of another app', async () => {
    const before = await appState(sb, 'right-app');
    const { kuduUrl, password } = await publishingCredentials(sb, 'wrong-app');
    const profile = `<publishData><publishProfile profileName="wrong-app - Zip Deploy" publishMethod="ZipDeploy" publishUrl="${new URL(kuduUrl).host}" userName="$wrong-app" userPWD="${password}" msdeploySite="wrong-app" /></publishData>`;
    const wrongBefore = await appState(sb, 'wrong-app');
    const run = await timedDeploy({ 'app-name': 'right-app', 'publish-profile': profile }, 20);
    expect(run.code).not.toBe(0);
    expect(run.visibleLog).toMatch(
      /::error::Input 'publish-profile' is for site 'wrong-app', not for 'right-app'/,
    );
    expect((await appState(sb, 'right-app')).events.length).toBe(before.events.length);
    expect((await appState(sb, 'wrong-app')).events.length).toBe(wrongBefore.events.length);
    await expectNoSecrets(sb, run, [password]);
  });

  it('a plain web app', async () => {
    const before = await appState(sb, 'plain-webapp');
    const run = await timedDeploy({ 'app-name': 'plain-webapp' }, 20);
    expect(run.code).not.toBe(0);
    expect(run.visibleLog).toMatch(
      /::error::plain-webapp is not a Function App \(site kind 'app'\); nothing was changed/,
    );
    const after = await appState(sb, 'plain-webapp');
    expect(after.settings).toEqual(before.settings);
    expect(after.events.length).toBe(before.events.length);
  });

  it('storage-account that contradicts storage-connection-string', async () => {
    const before = await appState(sb, 'two-accounts');
    const run = await timedDeploy(
      {
        'app-name': 'two-accounts',
        'storage-account': 'anotheraccount',
        'storage-connection-string': sb.storage.connectionString,
      },
      20,
    );
    expect(run.code).not.toBe(0);
    expect(run.visibleLog).toMatch(
      /::error::Input 'storage-account' \(anotheraccount\) and input 'storage-connection-string' \(account devstoreaccount1\) name different storage accounts/,
    );
    expect(run.outputs['backup-artifact-name']).toBeUndefined();
    expect((await appState(sb, 'two-accounts')).events.length).toBe(before.events.length);
    await expectNoSecrets(sb, run, [sb.storage.connectionString]);
  });
});
