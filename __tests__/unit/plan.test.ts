import { describe, expect, it } from 'vitest';
import { PlanError } from '../../src/errors.js';
import {
  type AppState,
  admitPackage,
  applySettingsPatch,
  chooseStorage,
  classifyPrevious,
  MAX_MOUNTED_PACKAGE_BYTES,
  type PlanInputs,
  packageSetting,
  planDeployment,
  RUN_FROM_PACKAGE,
  RUN_FROM_PACKAGE_MI,
  RUN_FROM_ZIP,
} from '../../src/plan.js';

const URL_VALUE = 'https://acct.blob.core.windows.net/deployments/x.zip?sv=2024&se=2027-01-01&sp=r&sig=abc';
const KEY_CS =
  'DefaultEndpointsProtocol=https;AccountName=appstore;AccountKey=a2V5;EndpointSuffix=core.windows.net';
const base: PlanInputs = {
  appName: 'app',
  slot: undefined,
  deployMode: 'auto',
  onConflict: 'backup-and-replace',
  packageAccess: 'sas',
  managedIdentityResourceId: 'SystemAssigned',
  sasExpiryMs: 365 * 86_400_000,
  rollbackTo: undefined,
  storageAccount: undefined,
  storageConnectionString: undefined,
  dryRun: false,
  publishProfile: false,
};
const app = (
  siteSku: string,
  os: 'linux' | 'windows',
  rfp?: string,
  extra: Record<string, string> = {},
): AppState => ({
  site: { sku: siteSku, kind: os === 'linux' ? 'functionapp,linux' : 'functionapp' },
  settings: {
    FUNCTIONS_WORKER_RUNTIME: 'node',
    AzureWebJobsStorage: KEY_CS,
    ...(rfp === undefined ? {} : { [RUN_FROM_PACKAGE]: rfp }),
    ...extra,
  },
  storageSuffix: 'core.windows.net',
});

describe('planDeployment: the auto mode table', () => {
  // hosting and setting → mode, backup?, resulting WEBSITE_RUN_FROM_PACKAGE (url = the new package URL), the
  // reason that decides the mode.
  const rows: [string, AppState, 'zipdeploy' | 'run-from-package', boolean, string, RegExp][] = [
    [
      'Linux Consumption, absent',
      app('Dynamic', 'linux'),
      'run-from-package',
      false,
      'url',
      /Linux Consumption supports only an external package URL/,
    ],
    [
      'Linux Consumption, URL',
      app('Dynamic', 'linux', URL_VALUE),
      'run-from-package',
      true,
      'url',
      /Linux Consumption supports only/,
    ],
    [
      'Linux Consumption, 1',
      app('Dynamic', 'linux', '1'),
      'run-from-package',
      false,
      'url',
      /Linux Consumption supports only/,
    ],
    [
      'Windows Consumption, URL',
      app('Dynamic', 'windows', URL_VALUE),
      'run-from-package',
      true,
      'url',
      /is a package URL; keeping the app's chosen model/,
    ],
    [
      'Windows Consumption, absent',
      app('Dynamic', 'windows'),
      'zipdeploy',
      false,
      '1',
      /is not set; Kudu zipdeploy/,
    ],
    [
      'Windows Consumption, 1',
      app('Dynamic', 'windows', '1'),
      'zipdeploy',
      false,
      '1',
      /is '1'; Kudu zipdeploy/,
    ],
    [
      'Windows EP, 0',
      app('ElasticPremium', 'windows', '0'),
      'zipdeploy',
      false,
      '1',
      /is '0'; Kudu zipdeploy/,
    ],
    [
      'Linux EP, URL',
      app('ElasticPremium', 'linux', URL_VALUE),
      'run-from-package',
      true,
      'url',
      /keeping the app's chosen model/,
    ],
    [
      'Linux EP, absent',
      app('ElasticPremium', 'linux'),
      'zipdeploy',
      false,
      '1',
      /is not set; Kudu zipdeploy/,
    ],
    ['Linux Dedicated, 1', app('PremiumV3', 'linux', '1'), 'zipdeploy', false, '1', /is '1'; Kudu zipdeploy/],
    [
      'Windows Dedicated, URL',
      app('Standard', 'windows', URL_VALUE),
      'run-from-package',
      true,
      'url',
      /keeping the app's chosen model/,
    ],
  ];
  it.each(rows)('%s', (_name, state, mode, backup, after, decisive) => {
    const plan = planDeployment(base, state);
    expect(plan.mode).toBe(mode);
    expect(plan.backup !== undefined).toBe(backup);
    expect(plan.reasons[1]).toMatch(decisive);
    const next = applySettingsPatch(state.settings, plan.patch, 'https://new/pkg.zip?sig=x');
    expect(next[RUN_FROM_PACKAGE]).toBe(after === 'url' ? 'https://new/pkg.zip?sig=x' : after);
    expect(next.FUNCTIONS_WORKER_RUNTIME).toBe('node');
    expect(next.AzureWebJobsStorage).toBe(KEY_CS);
    expect(plan.storage !== undefined).toBe(mode === 'run-from-package');
  });

  it('names the hosting first, and uses the host-runtime sync route on Linux Consumption only', () => {
    const linux = planDeployment(base, app('Dynamic', 'linux'));
    expect(linux.reasons[0]).toBe(
      "The app runs on Linux Consumption (site sku 'Dynamic', kind 'functionapp,linux').",
    );
    expect(linux.syncRoute).toBe('hostruntime/admin/host/synctriggers');
    expect(planDeployment(base, app('Dynamic', 'windows', URL_VALUE)).syncRoute).toBe('syncfunctiontriggers');
    expect(planDeployment(base, app('ElasticPremium', 'linux', URL_VALUE)).syncRoute).toBe(
      'syncfunctiontriggers',
    );
  });
});

describe('planDeployment: explicit modes and conflicts', () => {
  it('zipdeploy on a URL is the conflict: backup, URL replaced by 1, reason stated', () => {
    const state = app('ElasticPremium', 'windows', URL_VALUE);
    const plan = planDeployment({ ...base, deployMode: 'zipdeploy' }, state);
    expect(plan).toMatchObject({ mode: 'zipdeploy', conflict: true });
    expect(plan.backup?.reason).toBe(
      'zipdeploy requested while WEBSITE_RUN_FROM_PACKAGE was a package URL (replaced by 1)',
    );
    expect(plan.reasons).toContain(
      'Conflict: WEBSITE_RUN_FROM_PACKAGE is a URL, which makes Kudu refuse zipdeploy (409); on-conflict backup-and-replace: the URL is backed up as an artifact, then replaced by 1.',
    );
    expect(applySettingsPatch(state.settings, plan.patch)[RUN_FROM_PACKAGE]).toBe('1');
  });

  it('the conflict through the old name WEBSITE_RUN_FROM_ZIP: detected, backed up, the old name removed', () => {
    const state = app('ElasticPremium', 'windows', '', { [RUN_FROM_ZIP]: URL_VALUE });
    const plan = planDeployment({ ...base, deployMode: 'zipdeploy' }, state);
    expect(plan.conflict).toBe(true);
    expect(plan.backup).toBeDefined();
    const next = applySettingsPatch(state.settings, plan.patch);
    expect(next[RUN_FROM_PACKAGE]).toBe('1');
    expect(next[RUN_FROM_ZIP]).toBeUndefined();
  });

  it('on-conflict fail refuses with the fix in the message', () => {
    expect(() =>
      planDeployment(
        { ...base, deployMode: 'zipdeploy', onConflict: 'fail' },
        app('Standard', 'linux', URL_VALUE),
      ),
    ).toThrow(/on-conflict is 'fail'.*Set on-conflict: backup-and-replace/);
  });

  it('on-conflict fail does not matter without a conflict, and =1 is kept with its reason', () => {
    const plan = planDeployment(
      { ...base, deployMode: 'zipdeploy', onConflict: 'fail' },
      app('Standard', 'linux', '1'),
    );
    expect(plan).toMatchObject({ mode: 'zipdeploy', conflict: false, backup: undefined });
    expect(plan.reasons).toEqual([
      "The app runs on Linux Dedicated (App Service plan) (site sku 'Standard', kind 'functionapp,linux').",
      'deploy-mode zipdeploy was requested.',
      'WEBSITE_RUN_FROM_PACKAGE=1 is kept.',
    ]);
    expect(plan.patch.runFromPackage).toEqual({ kind: 'keep' });
  });

  it('zipdeploy on Linux Consumption is refused', () => {
    expect(() => planDeployment({ ...base, deployMode: 'zipdeploy' }, app('Dynamic', 'linux'))).toThrow(
      /zipdeploy is not supported on Linux Consumption\. Use deploy-mode 'run-from-package' or 'auto'/,
    );
  });

  it('explicit run-from-package replaces 0 without a backup, and a URL with one', () => {
    const fromZero = planDeployment(
      { ...base, deployMode: 'run-from-package' },
      app('ElasticPremium', 'windows', '0'),
    );
    expect(fromZero).toMatchObject({ mode: 'run-from-package', backup: undefined });
    expect(fromZero.reasons).toContain("WEBSITE_RUN_FROM_PACKAGE='0' is replaced by the package URL.");
    const fromUrl = planDeployment(
      { ...base, deployMode: 'run-from-package' },
      app('ElasticPremium', 'windows', URL_VALUE),
    );
    expect(fromUrl.backup?.reason).toBe('WEBSITE_RUN_FROM_PACKAGE package URL replaced by a new package');
  });

  it('Flex Consumption is refused whatever the mode', () => {
    for (const deployMode of ['auto', 'zipdeploy', 'run-from-package'] as const) {
      expect(() => planDeployment({ ...base, deployMode }, app('FlexConsumption', 'linux'))).toThrow(
        /Flex Consumption/,
      );
    }
  });

  it('a site that is not a Function App is refused before any write', () => {
    const web: AppState = { ...app('Standard', 'windows'), site: { sku: 'Standard', kind: 'app' } };
    expect(() => planDeployment(base, web)).toThrow(PlanError);
    expect(() => planDeployment(base, web)).toThrow(/is not a Function App \(site kind 'app'\)/);
  });

  it('managed identity sets the identity setting; sas removes a stale one', () => {
    const mi = planDeployment(
      { ...base, packageAccess: 'managed-identity', managedIdentityResourceId: '/x/identity' },
      app('Dynamic', 'linux'),
    );
    expect(mi.patch.set[RUN_FROM_PACKAGE_MI]).toBe('/x/identity');
    expect(mi.reasons).toContain(
      "package-access managed-identity: a plain blob URL, read by the identity '/x/identity' (needs Storage Blob Data Reader).",
    );
    const stale = app('Dynamic', 'linux', URL_VALUE, { [RUN_FROM_PACKAGE_MI]: 'SystemAssigned' });
    const sas = planDeployment(base, stale);
    expect(sas.reasons).toContain(
      `${RUN_FROM_PACKAGE_MI} is removed so the platform reads the package with the SAS.`,
    );
    expect(applySettingsPatch(stale.settings, sas.patch, 'https://n')[RUN_FROM_PACKAGE_MI]).toBeUndefined();
  });

  it('dry-run is stated as the last reason', () => {
    expect(planDeployment({ ...base, dryRun: true }, app('Dynamic', 'linux')).reasons.at(-1)).toBe(
      'dry-run: nothing is changed.',
    );
    expect(planDeployment(base, app('Dynamic', 'linux')).reasons.join(' ')).not.toMatch(/dry-run/);
  });

  it('rollback-to redeploys by run-from-package, with its own reason, whatever deploy-mode says', () => {
    const plan = planDeployment({ ...base, rollbackTo: 'release-1' }, app('ElasticPremium', 'windows', '0'));
    expect(plan).toMatchObject({ operation: 'rollback-to', mode: 'run-from-package' });
    expect(plan.reasons[1]).toBe(
      "rollback-to 'release-1': the stored package is redeployed by run-from-package, without packaging.",
    );
    expect(planDeployment(base, app('ElasticPremium', 'windows', '0')).operation).toBe('deploy');
  });
});

describe('planDeployment: a publish profile', () => {
  const profile = { ...base, publishProfile: true };
  const kuduOnly = (rfp?: string): AppState => ({ ...app('Dynamic', 'windows', rfp), site: undefined });
  it('zipdeploy through Kudu, settings left as they are', () => {
    const plan = planDeployment(profile, kuduOnly('1'));
    expect(plan).toMatchObject({
      mode: 'zipdeploy',
      hosting: undefined,
      backup: undefined,
      storage: undefined,
    });
    expect(plan.patch).toEqual({ runFromPackage: { kind: 'keep' }, set: {}, remove: [] });
    expect(plan.reasons).toEqual([
      'publish-profile given: Kudu zipdeploy with basic auth, without ARM (settings cannot be changed).',
      "WEBSITE_RUN_FROM_PACKAGE is '1'; it is left as it is.",
    ]);
  });
  it('a URL setting cannot be replaced without ARM: refused', () => {
    expect(() => planDeployment(profile, kuduOnly(URL_VALUE))).toThrow(
      /publish profile cannot change app settings/,
    );
  });
});

describe('planDeployment: storage and the SAS lifetime', () => {
  const identity = (extra: Record<string, string> = {}) => {
    const state = app('Dynamic', 'linux', undefined, extra);
    const { AzureWebJobsStorage: _drop, ...settings } = state.settings;
    return {
      ...state,
      settings: { ...settings, AzureWebJobsStorage__blobServiceUri: 'https://idstore.blob.core.windows.net' },
    };
  };

  it('identity-based storage with a SAS longer than 7 days is refused, with the fixes', () => {
    expect(() => planDeployment(base, identity())).toThrow(PlanError);
    expect(() => planDeployment(base, identity())).toThrow(
      /user delegation\) lasts at most 7 days, but sas-expiry asks for 365 days.*package-access: managed-identity.*storage-connection-string.*sas-expiry to 7d or less/,
    );
  });

  it('identity-based storage works with a 7-day SAS, or with managed identity', () => {
    expect(planDeployment({ ...base, sasExpiryMs: 7 * 86_400_000 }, identity()).storage).toMatchObject({
      kind: 'entra',
      accountName: 'idstore',
    });
    const mi = planDeployment({ ...base, packageAccess: 'managed-identity' }, identity());
    expect(mi.reasons).toContain(
      "Packages are stored in account 'idstore' (from the app's AzureWebJobsStorage__blobServiceUri) with Entra ID as the logged-in identity (needs Storage Blob Data Contributor).",
    );
  });

  it.each([
    [
      'the input connection string first',
      { storageConnectionString: KEY_CS.replace('appstore', 'given') },
      {},
      { kind: 'shared-key', from: 'storage-connection-string', accountName: 'given' },
    ],
    [
      "the app's AzureWebJobsStorage next",
      {},
      {},
      { kind: 'shared-key', from: 'AzureWebJobsStorage', accountName: 'appstore' },
    ],
    [
      'storage-account wins over the key of another account',
      { storageAccount: 'other' },
      {},
      { kind: 'entra', accountName: 'other', blobEndpoint: 'https://other.blob.core.windows.net' },
    ],
    [
      'storage-account with the matching app key uses the key',
      { storageAccount: 'appstore' },
      {},
      { kind: 'shared-key', from: 'AzureWebJobsStorage' },
    ],
    [
      'a sovereign cloud suffix',
      { storageAccount: 'gov' },
      { storageSuffix: 'core.usgovcloudapi.net' },
      { blobEndpoint: 'https://gov.blob.core.usgovcloudapi.net' },
    ],
  ] as const)('chooseStorage: %s', (_name, inputs, appExtra, expected) => {
    const state = { ...app('Dynamic', 'linux'), ...appExtra };
    expect(
      chooseStorage({ storageAccount: undefined, storageConnectionString: undefined, ...inputs }, state),
    ).toMatchObject(expected);
  });

  it('storage-account that contradicts storage-connection-string is refused, naming both', () => {
    expect(() =>
      chooseStorage({ storageAccount: 'other', storageConnectionString: KEY_CS }, app('Dynamic', 'linux')),
    ).toThrow(
      /'storage-account' \(other\) and input 'storage-connection-string' \(account appstore\) name different storage accounts/,
    );
  });

  it('no storage at all is refused with the fix', () => {
    const state = app('Dynamic', 'linux');
    const { AzureWebJobsStorage: _drop, ...settings } = state.settings;
    expect(() => planDeployment(base, { ...state, settings })).toThrow(
      /No storage account for run-from-package.*Set storage-account/,
    );
  });

  it('a connection string without a key is refused', () => {
    expect(() =>
      chooseStorage(
        { storageAccount: undefined, storageConnectionString: 'AccountName=x' },
        app('Dynamic', 'linux'),
      ),
    ).toThrow(/has no AccountName and AccountKey/);
  });
});

describe('admitPackage', () => {
  const plan = planDeployment(base, app('Dynamic', 'linux'));
  it('takes a package up to 1 GB and refuses a larger one before any write', () => {
    expect(() => admitPackage(plan, { size: MAX_MOUNTED_PACKAGE_BYTES })).not.toThrow();
    expect(() => admitPackage(plan, { size: MAX_MOUNTED_PACKAGE_BYTES + 1 })).toThrow(
      /at most 1 GB.*nothing was changed/,
    );
  });
});

describe('settings helpers', () => {
  it.each([
    [undefined, 'absent'],
    [' https://x/y.zip ', 'url'],
    ['1', 'local-package'],
    ['0', 'off'],
    ['', 'off'],
    ['yes', 'other'],
  ] as const)('classifyPrevious(%j) is %s', (value, kind) => {
    expect(classifyPrevious(value)).toBe(kind);
  });

  it('packageSetting falls back to WEBSITE_RUN_FROM_ZIP only when WEBSITE_RUN_FROM_PACKAGE is absent or empty', () => {
    expect(packageSetting({ [RUN_FROM_ZIP]: 'z' })).toBe('z');
    expect(packageSetting({ [RUN_FROM_PACKAGE]: ' ', [RUN_FROM_ZIP]: 'z' })).toBe('z');
    expect(packageSetting({ [RUN_FROM_PACKAGE]: '1', [RUN_FROM_ZIP]: 'z' })).toBe('1');
    expect(packageSetting({})).toBeUndefined();
  });

  it('applySettingsPatch keeps every other setting and needs the URL for a url patch', () => {
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
    ).toThrow(/needs the package URL/);
  });
});
