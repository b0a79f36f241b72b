import { describe, expect, it } from 'vitest';
import { PlanError } from '../../src/errors.js';
import type { AppState } from '../../src/plan.js';
import { type OperationPlanInputs, planRotation, planStatus } from '../../src/plan-operations.js';

const NOW = new Date('2026-12-01T00:00:00Z');
const DAY = 86_400_000;
const KEY_CS =
  'DefaultEndpointsProtocol=https;AccountName=appstore;AccountKey=a2V5;EndpointSuffix=core.windows.net';
const inputs: OperationPlanInputs = {
  appName: 'app',
  slot: undefined,
  deployMode: 'auto',
  onConflict: 'backup-and-replace',
  packageAccess: 'sas',
  managedIdentityResourceId: 'SystemAssigned',
  sasExpiryMs: 365 * DAY,
  rollbackTo: undefined,
  storageAccount: undefined,
  storageConnectionString: undefined,
  remoteBuild: 'auto',
  dryRun: false,
  publishProfile: false,
  rotateWithinMs: 30 * DAY,
};
const sasUrl = (daysLeft: number, extra = '') =>
  `https://appstore.blob.core.windows.net/deployments/d1/app.zip?sv=2025-05-05&se=${encodeURIComponent(new Date(NOW.getTime() + daysLeft * DAY).toISOString())}&sr=b&sp=r&spr=https${extra}&sig=c2ln`;
const app = (settings: Record<string, string>, sku = 'Dynamic', kind = 'functionapp,linux'): AppState => ({
  site: { sku, kind, linuxFxVersion: '' },
  settings: { AzureWebJobsStorage: KEY_CS, ...settings },
  storageSuffix: 'core.windows.net',
});

describe('planRotation', () => {
  it.each([
    [
      '29 days left: due',
      29,
      'due',
      /within rotate-within \(30 days\): a fresh read-only HTTPS SAS is signed for the same blob/,
    ],
    ['expired: due', -3, 'due', /expired on 2026-11-28T00:00:00.000Z/],
    [
      '31 days left: not due, with when',
      31,
      'not-due',
      /beyond rotate-within \(30 days\): not due until 2026-12-02T00:00:00.000Z/,
    ],
  ] as const)('%s', (_name, days, state, reason) => {
    const plan = planRotation(inputs, app({ WEBSITE_RUN_FROM_PACKAGE: sasUrl(days) }), NOW);
    expect(plan.operation).toBe('rotate-sas');
    expect(plan.rotation).toMatchObject({ state, blob: 'd1/app.zip', container: 'deployments' });
    expect(plan.reasons.join(' ')).toMatch(reason);
    expect(plan.backup !== undefined).toBe(state === 'due');
    expect(plan.patch.runFromPackage.kind).toBe(state === 'due' ? 'url' : 'keep');
  });

  it('rotate-within sets the boundary', () => {
    const plan = planRotation(
      { ...inputs, rotateWithinMs: 60 * DAY },
      app({ WEBSITE_RUN_FROM_PACKAGE: sasUrl(45) }),
      NOW,
    );
    expect(plan.rotation?.state).toBe('due');
  });

  it.each([
    ['=1', { WEBSITE_RUN_FROM_PACKAGE: '1' }, 'Dynamic', /is '1', not a package URL, so there is no SAS/],
    ['absent', {}, 'Dynamic', /is not set, not a package URL/],
    [
      'an identity-read URL',
      {
        WEBSITE_RUN_FROM_PACKAGE: 'https://appstore.blob.core.windows.net/deployments/d1/app.zip',
        WEBSITE_RUN_FROM_PACKAGE_BLOB_MI_RESOURCE_ID: 'SystemAssigned',
      },
      'Dynamic',
      /reads its package with its managed identity .* which never expires/,
    ],
    ['Flex', {}, 'FlexConsumption', /Flex Consumption runs its released package/],
  ] as const)('nothing to rotate: %s, said and not an error', (_name, settings, sku, reason) => {
    const plan = planRotation(inputs, app({ ...settings }, sku), NOW);
    expect(plan.rotation?.state).toBe('nothing-to-rotate');
    expect(plan.reasons.at(-1)).toMatch(reason);
    expect(plan.reasons.at(-1)).toMatch(/nothing to rotate\.$/);
  });

  it.each([
    [
      'a user-delegation SAS',
      app({ WEBSITE_RUN_FROM_PACKAGE: sasUrl(3, '&skoid=abc&sktid=def') }),
      /user-delegation SAS .* cannot be re-signed/,
    ],
    [
      'another account',
      app({ WEBSITE_RUN_FROM_PACKAGE: sasUrl(3).replace('https://appstore.', 'https://elsewhere.') }),
      /points at account 'elsewhere', not at the account the action can sign for \('appstore'\)/,
    ],
  ])('refused: %s', (_name, state, message) => {
    expect(() => planRotation(inputs, state, NOW)).toThrow(PlanError);
    expect(() => planRotation(inputs, state, NOW)).toThrow(message);
  });

  it('refused without a key (Entra ID only)', () => {
    const state = app({ WEBSITE_RUN_FROM_PACKAGE: sasUrl(3) });
    const { AzureWebJobsStorage: _drop, ...settings } = state.settings;
    expect(() =>
      planRotation(
        inputs,
        { ...state, settings: { ...settings, AzureWebJobsStorage__accountName: 'appstore' } },
        NOW,
      ),
    ).toThrow(/reached with Entra ID, which signs only user-delegation SASs .* a key is needed/);
  });
});

describe('planStatus', () => {
  it('is read-only and says so; a missing store is stated, not an error', () => {
    const plan = planStatus(inputs, app({}));
    expect(plan).toMatchObject({
      operation: 'status',
      backup: undefined,
      patch: { runFromPackage: { kind: 'keep' } },
    });
    expect(plan.reasons[1]).toBe(
      'status: a read-only check of what the app runs against what was deployed; nothing is written.',
    );
    const state = app({});
    const { AzureWebJobsStorage: _drop, ...settings } = state.settings;
    expect(planStatus(inputs, { ...state, settings }).reasons.at(-1)).toMatch(
      /The package store cannot be read .* the history is not shown/,
    );
  });
});
