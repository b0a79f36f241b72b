import { describe, expect, it } from 'vitest';
import {
  type AppState,
  applySettingsPatch,
  PlanError,
  type PlanInputs,
  packagesToDelete,
  planDeployment,
  RUN_FROM_PACKAGE,
  RUN_FROM_PACKAGE_MI,
} from '../../src/plan.js';

const URL_VALUE = 'https://acct.blob.core.windows.net/deployments/x.zip?sv=2024&se=2027-01-01&sp=r&sig=abc';
const base: PlanInputs = {
  deployMode: 'auto',
  onConflict: 'backup-and-replace',
  packageAccess: 'sas',
  managedIdentityResourceId: 'SystemAssigned',
  dryRun: false,
};
const app = (
  siteSku: string,
  os: 'linux' | 'windows',
  rfp?: string,
  extra: Record<string, string> = {},
): AppState => ({
  siteSku,
  kind: os === 'linux' ? 'functionapp,linux' : 'functionapp',
  settings: {
    FUNCTIONS_WORKER_RUNTIME: 'node',
    ...(rfp === undefined ? {} : { [RUN_FROM_PACKAGE]: rfp }),
    ...extra,
  },
});

describe('planDeployment: the auto mode table', () => {
  const rows: [string, AppState, 'zipdeploy' | 'run-from-package', boolean, string | undefined][] = [
    // hosting, state, mode, backup?, resulting WEBSITE_RUN_FROM_PACKAGE (url = new package URL)
    ['Linux Consumption, absent', app('Dynamic', 'linux'), 'run-from-package', false, 'url'],
    ['Linux Consumption, URL', app('Dynamic', 'linux', URL_VALUE), 'run-from-package', true, 'url'],
    ['Linux Consumption, 1', app('Dynamic', 'linux', '1'), 'run-from-package', false, 'url'],
    ['Windows Consumption, URL', app('Dynamic', 'windows', URL_VALUE), 'run-from-package', true, 'url'],
    ['Windows Consumption, absent', app('Dynamic', 'windows'), 'zipdeploy', false, '1'],
    ['Windows Consumption, 1', app('Dynamic', 'windows', '1'), 'zipdeploy', false, '1'],
    ['Windows EP, 0', app('ElasticPremium', 'windows', '0'), 'zipdeploy', false, '1'],
    ['Linux EP, URL', app('ElasticPremium', 'linux', URL_VALUE), 'run-from-package', true, 'url'],
    ['Linux EP, absent', app('ElasticPremium', 'linux'), 'zipdeploy', false, '1'],
    ['Linux Dedicated, 1', app('PremiumV3', 'linux', '1'), 'zipdeploy', false, '1'],
    ['Windows Dedicated, URL', app('Standard', 'windows', URL_VALUE), 'run-from-package', true, 'url'],
  ];
  it.each(rows)('%s', (_name, state, mode, backup, after) => {
    const plan = planDeployment(base, state);
    expect(plan.mode).toBe(mode);
    expect(plan.backup !== undefined).toBe(backup);
    expect(plan.conflict).toBe(false);
    const next = applySettingsPatch(state.settings, plan.patch, 'https://new/pkg.zip?sig=x');
    expect(next[RUN_FROM_PACKAGE]).toBe(after === 'url' ? 'https://new/pkg.zip?sig=x' : after);
    expect(next.FUNCTIONS_WORKER_RUNTIME).toBe('node');
    expect(plan.reasons.length).toBeGreaterThanOrEqual(2);
  });
});

describe('planDeployment: explicit modes and conflicts', () => {
  it('zipdeploy on a URL is the conflict: backup, URL replaced by 1, reason stated', () => {
    const plan = planDeployment(
      { ...base, deployMode: 'zipdeploy' },
      app('ElasticPremium', 'windows', URL_VALUE),
    );
    expect(plan).toMatchObject({ mode: 'zipdeploy', conflict: true });
    expect(plan.backup?.reason).toMatch(/package URL/);
    expect(plan.reasons.join(' ')).toMatch(/Conflict.*409/);
    expect(
      applySettingsPatch(app('ElasticPremium', 'windows', URL_VALUE).settings, plan.patch)[RUN_FROM_PACKAGE],
    ).toBe('1');
  });

  it('on-conflict fail refuses with the fix in the message', () => {
    expect(() =>
      planDeployment(
        { ...base, deployMode: 'zipdeploy', onConflict: 'fail' },
        app('Standard', 'linux', URL_VALUE),
      ),
    ).toThrow(/on-conflict is 'fail'.*backup-and-replace/);
  });

  it('on-conflict fail does not matter without a conflict', () => {
    expect(
      planDeployment({ ...base, deployMode: 'zipdeploy', onConflict: 'fail' }, app('Standard', 'linux', '1'))
        .mode,
    ).toBe('zipdeploy');
  });

  it('zipdeploy on Linux Consumption is refused', () => {
    expect(() => planDeployment({ ...base, deployMode: 'zipdeploy' }, app('Dynamic', 'linux'))).toThrow(
      PlanError,
    );
  });

  it('explicit run-from-package replaces 1 without a backup, and a URL with one', () => {
    const fromOne = planDeployment(
      { ...base, deployMode: 'run-from-package' },
      app('ElasticPremium', 'windows', '1'),
    );
    expect(fromOne).toMatchObject({ mode: 'run-from-package', backup: undefined });
    const fromUrl = planDeployment(
      { ...base, deployMode: 'run-from-package' },
      app('ElasticPremium', 'windows', URL_VALUE),
    );
    expect(fromUrl.backup).toBeDefined();
  });

  it('Flex Consumption is refused whatever the mode', () => {
    for (const deployMode of ['auto', 'zipdeploy', 'run-from-package'] as const) {
      expect(() => planDeployment({ ...base, deployMode }, app('FlexConsumption', 'linux'))).toThrow(
        /Flex Consumption/,
      );
    }
  });

  it('managed identity sets the identity setting; sas removes a stale one', () => {
    const mi = planDeployment(
      { ...base, packageAccess: 'managed-identity', managedIdentityResourceId: '/x/identity' },
      app('Dynamic', 'linux'),
    );
    expect(mi.patch.set[RUN_FROM_PACKAGE_MI]).toBe('/x/identity');
    const sas = planDeployment(
      base,
      app('Dynamic', 'linux', URL_VALUE, { [RUN_FROM_PACKAGE_MI]: 'SystemAssigned' }),
    );
    const next = applySettingsPatch(
      app('Dynamic', 'linux', URL_VALUE, { [RUN_FROM_PACKAGE_MI]: 'SystemAssigned' }).settings,
      sas.patch,
      'https://n',
    );
    expect(next[RUN_FROM_PACKAGE_MI]).toBeUndefined();
  });

  it('dry-run is carried and stated', () => {
    const plan = planDeployment({ ...base, dryRun: true }, app('Dynamic', 'linux'));
    expect(plan.dryRun).toBe(true);
    expect(plan.reasons.at(-1)).toMatch(/dry-run/);
  });
});

describe('applySettingsPatch', () => {
  it('keeps every other setting and needs the URL for a url patch', () => {
    const current = { A: '1', B: '2', [RUN_FROM_PACKAGE]: '1' };
    const next = applySettingsPatch(
      current,
      { runFromPackage: { kind: 'url' }, set: { C: '3' }, remove: ['B'] },
      'https://u',
    );
    expect(next).toEqual({ A: '1', C: '3', [RUN_FROM_PACKAGE]: 'https://u' });
    expect(current.B).toBe('2');
    expect(() =>
      applySettingsPatch(current, { runFromPackage: { kind: 'url' }, set: {}, remove: [] }),
    ).toThrow();
  });
});

describe('packagesToDelete (retention)', () => {
  const now = new Date('2026-11-21T00:00:00Z');
  const day = (n: number) => new Date(now.getTime() - n * 86_400_000);
  const pkgs = [
    { blobName: 'd5/app.zip', lastModified: day(1) },
    { blobName: 'd1/app.zip', lastModified: day(200) },
    { blobName: 'd4/app.zip', lastModified: day(10) },
    { blobName: 'd3/app.zip', lastModified: day(30) },
    { blobName: 'd2/app.zip', lastModified: day(100) },
  ];
  it.each([
    ['keep 10, 90 days: only what is older than 90 days', 10, 90, [], ['d2/app.zip', 'd1/app.zip']],
    ['keep 2, 365 days: beyond the 2 newest', 2, 365, [], ['d3/app.zip', 'd2/app.zip', 'd1/app.zip']],
    [
      'keep 1, the live package is old but protected',
      1,
      90,
      ['d1/app.zip'],
      ['d4/app.zip', 'd3/app.zip', 'd2/app.zip'],
    ],
    ['keep 10, 1000 days: nothing', 10, 1000, [], []],
  ] as const)('%s', (_n, keep, maxAgeDays, protect, expected) => {
    expect(packagesToDelete(pkgs, { keep, maxAgeDays, protect: [...protect], now })).toEqual(expected);
  });
});
