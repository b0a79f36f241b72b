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

/** Operations after the deploy, through dist/index.js: rotate-sas and status. */

const PACKAGE = 'examples/hello-v3';
const EXPECTED = ['HttpHello', 'TimerTick'];
const DAY = 86_400_000;

let sb: Sandbox;

beforeAll(async () => {
  sb = await startE2ESandbox(
    seed({
      'rotate-due': { os: 'linux', sku: 'Y1' },
      'rotate-fresh': { os: 'linux', sku: 'Y1' },
      'rotate-foreign': { os: 'linux', sku: 'Y1' },
      'rotate-mi': { os: 'linux', sku: 'Y1' },
      'status-app': { os: 'linux', sku: 'Y1' },
      'status-legacy': { os: 'linux', sku: 'Y1' },
    }),
  );
});
afterAll(async () => {
  await sb?.stop();
});

const expiryOf = (url: string | undefined) =>
  new Date(decodeURIComponent(/[?&]se=([^&]+)/.exec(url ?? '')?.[1] ?? '')).getTime();

describe('rotate-sas', () => {
  it('an expiring SAS is re-signed for the same blob, backed up, verified, nothing else changed', async () => {
    const first = await deploy(sb, { 'app-name': 'rotate-due', package: PACKAGE, 'deployment-id': 'rot-1' });
    expect(first.code, first.visibleLog).toBe(0);
    await control(sb, '/apps/rotate-due/age-sas', 'POST', { days: 5 });
    const before = await settledState(sb, 'rotate-due');
    const old = before.settings.WEBSITE_RUN_FROM_PACKAGE;
    const run = await deploy(sb, { 'app-name': 'rotate-due', operation: 'rotate-sas', 'sas-expiry': '180d' });
    expect(run.code, run.visibleLog).toBe(0);
    expect(run.outputs.rotated).toBe('true');
    expect(run.outputs['mode-reason']).toMatch(
      /within rotate-within \(30 days\): a fresh read-only HTTPS SAS is signed for the same blob/,
    );
    const after = await settledState(sb, 'rotate-due');
    const value = after.settings.WEBSITE_RUN_FROM_PACKAGE;
    expect(value?.split('?')[0]).toBe(old?.split('?')[0]);
    expect(expiryOf(value) - Date.now()).toBeGreaterThan(179 * DAY);
    expect(new Date(run.outputs['sas-expires-at'] ?? 0).getTime()).toBe(expiryOf(value));
    const { WEBSITE_RUN_FROM_PACKAGE: _a, ...restAfter } = after.settings;
    const { WEBSITE_RUN_FROM_PACKAGE: _b, ...restBefore } = before.settings;
    expect(restAfter).toEqual(restBefore);
    expect(functionNames(after)).toEqual(EXPECTED);
    const docs = await artifactDocuments(sb);
    const backup = docs.get(run.outputs['backup-artifact-name'] ?? '');
    expect(backup).toMatchObject({
      setting: 'WEBSITE_RUN_FROM_PACKAGE',
      blob: { name: 'rot-1/rotate-due.zip' },
    });
    expect(backup?.sasExpiresAt).toBe(new Date(expiryOf(old)).toISOString());
    expect(docs.get(run.outputs['record-artifact-name'] ?? '')).toMatchObject({
      operation: 'rotate-sas',
      outcome: 'succeeded',
    });
    expect(run.summary).toContain('🔁 SAS rotated');
    await expectNoSecrets(sb, run, [sasSignature(old), sasSignature(value)]);
  });

  it('a SAS that is not due: nothing changes, and it says when it will be', async () => {
    expect((await deploy(sb, { 'app-name': 'rotate-fresh', package: PACKAGE })).code).toBe(0);
    const before = await settledState(sb, 'rotate-fresh');
    const run = await deploy(sb, { 'app-name': 'rotate-fresh', operation: 'rotate-sas' });
    expect(run.code, run.visibleLog).toBe(0);
    expect(run.outputs.rotated).toBe('false');
    expect(new Date(run.outputs['sas-expires-at'] ?? 0).getTime()).toBe(
      expiryOf(before.settings.WEBSITE_RUN_FROM_PACKAGE),
    );
    expect(run.outputs['mode-reason']).toMatch(/beyond rotate-within \(30 days\): not due until /);
    const after = await appState(sb, 'rotate-fresh');
    expect(after.settings).toEqual(before.settings);
    expect(after.events.length).toBe(before.events.length);
    expect(run.outputs['record-artifact-name']).toBeUndefined();
  });

  it('a URL of another account is refused with the fix, nothing written', async () => {
    const foreign = `${sb.storage.blobEndpoint.replace(/\/devstoreaccount1$/, '')}/otheraccount/packages/app.zip?sv=2025-01-05&se=2026-12-05T00%3A00%3A00Z&sr=b&sp=r&sig=c2lnbmF0dXJl`;
    await patchSettings(sb, 'rotate-foreign', { WEBSITE_RUN_FROM_PACKAGE: foreign });
    const before = await settledState(sb, 'rotate-foreign');
    const run = await deploy(sb, { 'app-name': 'rotate-foreign', operation: 'rotate-sas' });
    expect(run.code).not.toBe(0);
    expect(run.visibleLog).toMatch(
      /::error::The live package URL points at account 'otheraccount', not at the account the action can sign for \('devstoreaccount1'\).*storage-connection-string/,
    );
    const after = await appState(sb, 'rotate-foreign');
    expect(after.settings).toEqual(before.settings);
    expect(after.events.length).toBe(before.events.length);
  });

  it('an app that reads its package with its managed identity: nothing to rotate, a success', async () => {
    expect(
      (await deploy(sb, { 'app-name': 'rotate-mi', package: PACKAGE, 'package-access': 'managed-identity' }))
        .code,
    ).toBe(0);
    const before = await settledState(sb, 'rotate-mi');
    const run = await deploy(sb, { 'app-name': 'rotate-mi', operation: 'rotate-sas' });
    expect(run.code, run.visibleLog).toBe(0);
    expect(run.outputs.rotated).toBe('false');
    expect(run.outputs['mode-reason']).toMatch(
      /reads its package with its managed identity .* nothing to rotate/,
    );
    expect((await appState(sb, 'rotate-mi')).settings).toEqual(before.settings);
  });
});

describe('status', () => {
  const status = (extra: Record<string, string> = {}) =>
    deploy(sb, { 'app-name': 'status-app', operation: 'status', ...extra });
  let liveBlob = '';

  it('none after a deploy, with the history table and the live one marked', async () => {
    expect(
      (await deploy(sb, { 'app-name': 'status-app', package: 'examples/hello-v4', 'deployment-id': 'st-1' }))
        .code,
    ).toBe(0);
    const second = await deploy(sb, { 'app-name': 'status-app', package: PACKAGE, 'deployment-id': 'st-2' });
    expect(second.code).toBe(0);
    liveBlob = 'st-2/status-app.zip';
    await settledState(sb, 'status-app');
    const before = await appState(sb, 'status-app');
    const run = await status();
    expect(run.code, run.visibleLog).toBe(0);
    expect(run.outputs.drift).toBe('none');
    expect(run.outputs['live-deployment-id']).toBe('st-2');
    expect(run.summary).toContain('✅ status: no drift');
    expect(run.summary).toMatch(/\| `st-2` \| .* \| ✅ live \|/);
    expect(run.summary).toMatch(/\| `st-1` \| .* \| {2}\|/);
    expect(run.summary).toMatch(/blob downloaded and hashed/);
    // Read-only: the app and the storage are as they were.
    const after = await appState(sb, 'status-app');
    expect(after.settings).toEqual(before.settings);
    expect(after.events.length).toBe(before.events.length);
    expect(run.outputs['record-artifact-name']).toBeUndefined();
  });

  it('sas-expiring for a short SAS', async () => {
    await control(sb, '/apps/status-app/age-sas', 'POST', { days: 5 });
    await settledState(sb, 'status-app');
    const run = await status();
    expect(run.outputs.drift).toBe('sas-expiring');
    expect(run.summary).toMatch(/\(4 days left\)|\(5 days left\)/);
  });

  it('content-mismatch after the blob is overwritten in place (its metadata kept)', async () => {
    const blob = blobService(sb).getContainerClient('deployments').getBlockBlobClient(liveBlob);
    const metadata = (await blob.getProperties()).metadata ?? {};
    const original = await blob.downloadToBuffer();
    await blob.uploadData(await functionAppZip(['Intruder']), { metadata });
    try {
      const run = await status();
      expect(run.outputs.drift).toBe('content-mismatch');
      expect(run.summary).toMatch(/does NOT match the record/);
      const failing = await status({ 'fail-on-drift': 'true' });
      expect(failing.code).not.toBe(0);
      expect(failing.visibleLog).toMatch(/::error::Drift: content-mismatch/);
      expect(failing.outputs.drift).toBe('content-mismatch');
      expect(failing.summary).toMatch(/does NOT match the record/);
    } finally {
      await blob.uploadData(original, { metadata });
    }
  });

  it('blob-missing after it is deleted', async () => {
    const blob = blobService(sb).getContainerClient('deployments').getBlockBlobClient(liveBlob);
    const metadata = (await blob.getProperties()).metadata ?? {};
    const original = await blob.downloadToBuffer();
    await blob.delete();
    try {
      const run = await status();
      expect(run.code).toBe(0);
      expect(run.outputs.drift).toBe('blob-missing');
    } finally {
      await blob.uploadData(original, { metadata });
    }
  });

  it('unknown-package for a URL the action never wrote', async () => {
    const legacy = await storeLegacyPackage(
      sb,
      'status-legacy.zip',
      await functionAppZip(['LegacyFn']),
      new Date(Date.now() + 200 * DAY),
    );
    await patchSettings(sb, 'status-legacy', { WEBSITE_RUN_FROM_PACKAGE: legacy });
    await settledState(sb, 'status-legacy');
    const run = await deploy(sb, { 'app-name': 'status-legacy', operation: 'status' });
    expect(run.code, run.visibleLog).toBe(0);
    expect(run.outputs.drift).toBe('unknown-package');
    expect(run.outputs['live-deployment-id']).toBeUndefined();
    await expectNoSecrets(sb, run, [sasSignature(legacy)]);
  });
});
