import { describe, expect, it } from 'vitest';
import { PlanError } from '../../src/errors.js';
import {
  type AppState,
  chooseStorage,
  classifyHosting,
  classifyPrevious,
  isContainerApp,
  MAX_MOUNTED_PACKAGE_BYTES,
  MAX_ZIP_DEPLOY_BYTES,
  type PackageFacts,
  type Plan,
  type PlanInputs,
  planDeployment,
  USER_DELEGATION_SAS_LIMIT_MS,
} from '../../src/plan.js';

// Whole plans for the main cases (every reason, the patch, the storage), and the exact words of each refusal.

const URL_VALUE = 'https://acct.blob.core.windows.net/deployments/x.zip?sv=2024&se=2027-01-01&sp=r&sig=abc';
const KEY_CS =
  'DefaultEndpointsProtocol=https;AccountName=appstore;AccountKey=a2V5;EndpointSuffix=core.windows.net';
const RFP = 'WEBSITE_RUN_FROM_PACKAGE';
const ZIP = 'WEBSITE_RUN_FROM_ZIP';
const MI = 'WEBSITE_RUN_FROM_PACKAGE_BLOB_MI_RESOURCE_ID';
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
  remoteBuild: 'auto',
  dryRun: false,
  publishProfile: false,
};
const site = (sku: string, os: 'linux' | 'windows') => ({
  sku,
  kind: os === 'linux' ? 'functionapp,linux' : 'functionapp',
  linuxFxVersion: '',
});
const app = (sku: string, os: 'linux' | 'windows', settings: Record<string, string> = {}): AppState => ({
  site: site(sku, os),
  settings: { FUNCTIONS_WORKER_RUNTIME: 'python', AzureWebJobsStorage: KEY_CS, ...settings },
  storageSuffix: 'core.windows.net',
});
/** An app whose storage is reached with Entra ID (no connection string). */
const identityApp = (
  sku: string,
  os: 'linux' | 'windows',
  settings: Record<string, string> = {},
): AppState => ({
  site: site(sku, os),
  settings: {
    FUNCTIONS_WORKER_RUNTIME: 'python',
    AzureWebJobsStorage__blobServiceUri: 'https://idstore.blob.core.windows.net',
    ...settings,
  },
  storageSuffix: 'core.windows.net',
});
const built = (extra: Partial<PackageFacts> = {}): PackageFacts => ({
  size: 1000,
  pythonNeedsBuild: false,
  stored: false,
  ...extra,
});
const APP_KEY_STORAGE = {
  kind: 'shared-key',
  from: 'AzureWebJobsStorage',
  accountName: 'appstore',
  blobEndpoint: 'https://appstore.blob.core.windows.net',
} as const;
const SAS_REASON = 'package-access sas: the URL carries a read-only SAS limited to HTTPS.';
const APP_KEY_REASON =
  "Packages are stored in account 'appstore' with the account key from the app's AzureWebJobsStorage.";
const BUILD_AUTO =
  'remote-build auto (a Python app with requirements.txt and no .python_packages, as Core Tools decides)';

function planError(f: () => unknown): PlanError {
  let caught: unknown;
  try {
    f();
  } catch (e) {
    caught = e;
  }
  expect(caught).toBeInstanceOf(PlanError);
  return caught as PlanError;
}

describe('whole plans', () => {
  it.each<[string, PlanInputs, AppState, PackageFacts | undefined, Plan]>([
    [
      'Windows Elastic Premium, not set, auto: zipdeploy, =1 set',
      base,
      app('ElasticPremium', 'windows'),
      built(),
      {
        operation: 'deploy',
        mode: 'zipdeploy',
        hosting: 'elastic-premium',
        os: 'windows',
        reasons: [
          "The app runs on Windows Elastic Premium (site sku 'ElasticPremium', kind 'functionapp').",
          'deploy-mode auto: WEBSITE_RUN_FROM_PACKAGE is not set; Kudu zipdeploy with WEBSITE_RUN_FROM_PACKAGE=1 is what the platform recommends here.',
          'WEBSITE_RUN_FROM_PACKAGE will be set to 1 so Kudu stores the zip in data/SitePackages and the app runs from it.',
        ],
        conflict: false,
        backup: undefined,
        patch: { runFromPackage: { kind: 'value', value: '1' }, set: {}, remove: [] },
        storage: undefined,
        syncRoute: 'syncfunctiontriggers',
        remoteBuild: false,
        release: undefined,
        rotation: undefined,
      },
    ],
    [
      'Linux Consumption, not set, auto: run-from-package with the app key',
      base,
      app('Dynamic', 'linux'),
      built(),
      {
        operation: 'deploy',
        mode: 'run-from-package',
        hosting: 'consumption',
        os: 'linux',
        reasons: [
          "The app runs on Linux Consumption (site sku 'Dynamic', kind 'functionapp,linux').",
          'deploy-mode auto: Linux Consumption supports only an external package URL (zipdeploy is not supported there), so run-from-package.',
          SAS_REASON,
          APP_KEY_REASON,
        ],
        conflict: false,
        backup: undefined,
        patch: { runFromPackage: { kind: 'url' }, set: {}, remove: [] },
        storage: APP_KEY_STORAGE,
        syncRoute: 'hostruntime/admin/host/synctriggers',
        remoteBuild: false,
        release: undefined,
        rotation: undefined,
      },
    ],
    [
      'Windows Dedicated, a URL, explicit run-from-package: backed up, no conflict',
      { ...base, deployMode: 'run-from-package' },
      app('Standard', 'windows', { [RFP]: URL_VALUE }),
      undefined,
      {
        operation: 'deploy',
        mode: 'run-from-package',
        hosting: 'dedicated',
        os: 'windows',
        reasons: [
          "The app runs on Windows Dedicated (App Service plan) (site sku 'Standard', kind 'functionapp').",
          'deploy-mode run-from-package was requested.',
          'The previous package URL is backed up as an artifact before it is replaced.',
          SAS_REASON,
          APP_KEY_REASON,
        ],
        conflict: false,
        backup: { reason: 'WEBSITE_RUN_FROM_PACKAGE package URL replaced by a new package' },
        patch: { runFromPackage: { kind: 'url' }, set: {}, remove: [] },
        storage: APP_KEY_STORAGE,
        syncRoute: 'syncfunctiontriggers',
        remoteBuild: false,
        release: undefined,
        rotation: undefined,
      },
    ],
    [
      'Windows Elastic Premium, a URL, zipdeploy: the conflict, URL replaced by 1',
      { ...base, deployMode: 'zipdeploy' },
      app('ElasticPremium', 'windows', { [RFP]: URL_VALUE }),
      undefined,
      {
        operation: 'deploy',
        mode: 'zipdeploy',
        hosting: 'elastic-premium',
        os: 'windows',
        reasons: [
          "The app runs on Windows Elastic Premium (site sku 'ElasticPremium', kind 'functionapp').",
          'deploy-mode zipdeploy was requested.',
          'Conflict: WEBSITE_RUN_FROM_PACKAGE is a URL, which makes Kudu refuse zipdeploy (409); on-conflict backup-and-replace: the URL is backed up as an artifact, then replaced by 1.',
        ],
        conflict: true,
        backup: {
          reason: 'zipdeploy requested while WEBSITE_RUN_FROM_PACKAGE was a package URL (replaced by 1)',
        },
        patch: { runFromPackage: { kind: 'value', value: '1' }, set: {}, remove: [] },
        storage: undefined,
        syncRoute: 'syncfunctiontriggers',
        remoteBuild: false,
        release: undefined,
        rotation: undefined,
      },
    ],
    [
      'Linux Dedicated, a URL, a Python app to build: zipdeploy with build, URL removed',
      base,
      app('PremiumV3', 'linux', { [RFP]: URL_VALUE }),
      built({ pythonNeedsBuild: true }),
      {
        operation: 'deploy',
        mode: 'zipdeploy',
        hosting: 'dedicated',
        os: 'linux',
        reasons: [
          "The app runs on Linux Dedicated (App Service plan) (site sku 'PremiumV3', kind 'functionapp,linux').",
          `deploy-mode auto: WEBSITE_RUN_FROM_PACKAGE is a package URL, but ${BUILD_AUTO} needs Kudu's build, which a package URL cannot have: zipdeploy with remote build.`,
          'Conflict: WEBSITE_RUN_FROM_PACKAGE is a URL, which makes Kudu refuse zipdeploy (409); on-conflict backup-and-replace: the URL is backed up as an artifact, then removed.',
          `${BUILD_AUTO}: Kudu builds the app (Oryx) during zipdeploy; WEBSITE_RUN_FROM_PACKAGE=1 would make it skip the build on Linux, so it is removed, and SCM_DO_BUILD_DURING_DEPLOYMENT and ENABLE_ORYX_BUILD are set to true.`,
        ],
        conflict: true,
        backup: {
          reason:
            'zipdeploy requested while WEBSITE_RUN_FROM_PACKAGE was a package URL (removed for a remote build)',
        },
        patch: {
          runFromPackage: { kind: 'keep' },
          set: { SCM_DO_BUILD_DURING_DEPLOYMENT: 'true', ENABLE_ORYX_BUILD: 'true' },
          remove: [RFP],
        },
        storage: undefined,
        syncRoute: 'syncfunctiontriggers',
        remoteBuild: true,
        release: undefined,
        rotation: undefined,
      },
    ],
    [
      'Linux Elastic Premium, not set, remote-build true: the build switches, nothing to remove',
      { ...base, remoteBuild: 'true', dryRun: true },
      app('ElasticPremium', 'linux'),
      built(),
      {
        operation: 'deploy',
        mode: 'zipdeploy',
        hosting: 'elastic-premium',
        os: 'linux',
        reasons: [
          "The app runs on Linux Elastic Premium (site sku 'ElasticPremium', kind 'functionapp,linux').",
          'deploy-mode auto: WEBSITE_RUN_FROM_PACKAGE is not set; Kudu zipdeploy with WEBSITE_RUN_FROM_PACKAGE=1 is what the platform recommends here.',
          'remote-build true: Kudu builds the app (Oryx) during zipdeploy; WEBSITE_RUN_FROM_PACKAGE=1 would make it skip the build on Linux, so it is removed, and SCM_DO_BUILD_DURING_DEPLOYMENT and ENABLE_ORYX_BUILD are set to true.',
          'dry-run: nothing is changed.',
        ],
        conflict: false,
        backup: undefined,
        patch: {
          runFromPackage: { kind: 'keep' },
          set: { SCM_DO_BUILD_DURING_DEPLOYMENT: 'true', ENABLE_ORYX_BUILD: 'true' },
          remove: [],
        },
        storage: undefined,
        syncRoute: 'syncfunctiontriggers',
        remoteBuild: true,
        release: undefined,
        rotation: undefined,
      },
    ],
    [
      'rollback-to on an =1 app with identity-based storage: zipdeploy of the kept copy, a long SAS is fine',
      { ...base, rollbackTo: 'release-1' },
      identityApp('ElasticPremium', 'windows', { [RFP]: ' 1 ' }),
      built({ stored: true, pythonNeedsBuild: true }),
      {
        operation: 'rollback-to',
        mode: 'zipdeploy',
        hosting: 'elastic-premium',
        os: 'windows',
        reasons: [
          "The app runs on Windows Elastic Premium (site sku 'ElasticPremium', kind 'functionapp').",
          "rollback-to 'release-1': the stored package is redeployed without packaging, the way the app runs.",
          "deploy-mode auto: WEBSITE_RUN_FROM_PACKAGE is ' 1 '; Kudu zipdeploy with WEBSITE_RUN_FROM_PACKAGE=1 is what the platform recommends here.",
          'WEBSITE_RUN_FROM_PACKAGE=1 is kept.',
          "Packages are stored in account 'idstore' (from the app's AzureWebJobsStorage__blobServiceUri) with Entra ID as the logged-in identity (needs Storage Blob Data Contributor).",
        ],
        conflict: false,
        backup: undefined,
        patch: { runFromPackage: { kind: 'keep' }, set: {}, remove: [] },
        storage: {
          kind: 'entra',
          from: "the app's AzureWebJobsStorage__blobServiceUri",
          accountName: 'idstore',
          blobEndpoint: 'https://idstore.blob.core.windows.net',
        },
        syncRoute: 'syncfunctiontriggers',
        remoteBuild: false,
        release: undefined,
        rotation: undefined,
      },
    ],
    [
      'Windows Consumption, off, explicit run-from-package with managed identity',
      {
        ...base,
        deployMode: 'run-from-package',
        packageAccess: 'managed-identity',
        managedIdentityResourceId: '/id/x',
        storageAccount: 'other',
      },
      app('Dynamic', 'windows', { [RFP]: '0', [MI]: 'SystemAssigned', [ZIP]: '0' }),
      built(),
      {
        operation: 'deploy',
        mode: 'run-from-package',
        hosting: 'consumption',
        os: 'windows',
        reasons: [
          "The app runs on Windows Consumption (site sku 'Dynamic', kind 'functionapp').",
          'deploy-mode run-from-package was requested.',
          "WEBSITE_RUN_FROM_PACKAGE='0' is replaced by the package URL.",
          "package-access managed-identity: a plain blob URL, read by the identity '/id/x' (needs Storage Blob Data Reader).",
          "Packages are stored in account 'other' (from storage-account 'other') with Entra ID as the logged-in identity (needs Storage Blob Data Contributor).",
        ],
        conflict: false,
        backup: undefined,
        patch: { runFromPackage: { kind: 'url' }, set: { [MI]: '/id/x' }, remove: [ZIP] },
        storage: {
          kind: 'entra',
          from: "storage-account 'other'",
          accountName: 'other',
          blobEndpoint: 'https://other.blob.core.windows.net',
        },
        syncRoute: 'syncfunctiontriggers',
        remoteBuild: false,
        release: undefined,
        rotation: undefined,
      },
    ],
  ])('%s', (_name, inputs, state, pkg, plan) => {
    expect(planDeployment(inputs, state, pkg)).toEqual(plan);
  });
});

describe('the old name WEBSITE_RUN_FROM_ZIP goes only when the package setting is written', () => {
  it.each<[string, PlanInputs, AppState, PackageFacts | undefined, string[]]>([
    ['=1 kept: stays', base, app('ElasticPremium', 'windows', { [RFP]: '1', [ZIP]: 'z' }), undefined, []],
    ['set to 1: goes', base, app('ElasticPremium', 'windows', { [ZIP]: '0' }), undefined, [ZIP]],
    ['replaced by a URL: goes', base, app('Dynamic', 'linux', { [ZIP]: '1' }), undefined, [ZIP]],
    [
      'removed for a build: goes after the new name',
      base,
      app('ElasticPremium', 'linux', { [RFP]: '1', [ZIP]: '1' }),
      built({ pythonNeedsBuild: true }),
      [RFP, ZIP],
    ],
    [
      'a build without either name: nothing to remove',
      base,
      app('ElasticPremium', 'linux'),
      built({ pythonNeedsBuild: true }),
      [],
    ],
  ])('%s', (_name, inputs, state, pkg, remove) => {
    expect(planDeployment(inputs, state, pkg).patch.remove).toEqual(remove);
  });

  it('a SAS plan removes a stale identity setting, and only when it is there', () => {
    expect(planDeployment(base, app('Dynamic', 'linux', { [MI]: 'SystemAssigned' })).patch.remove).toEqual([
      MI,
    ]);
    expect(planDeployment(base, app('Dynamic', 'linux')).patch.remove).toEqual([]);
  });
});

describe('the exact words of each refusal', () => {
  it.each<[string, PlanInputs, AppState, PackageFacts | undefined, string]>([
    [
      'not a Function App',
      base,
      { ...app('Standard', 'windows'), site: { sku: 'Standard', kind: 'app,linux', linuxFxVersion: '' } },
      undefined,
      "app is not a Function App (site kind 'app,linux'); nothing was changed. Check app-name: this action deploys Function Apps (kind 'functionapp…'); deploy web apps with azure/webapps-deploy",
    ],
    [
      'a container app with its image',
      base,
      {
        ...app('ElasticPremium', 'linux'),
        site: { sku: 'ElasticPremium', kind: 'functionapp,linux', linuxFxVersion: 'DOCKER|repo/app:1' },
      },
      undefined,
      "app runs a container image (kind 'functionapp,linux', linuxFxVersion 'DOCKER|repo/app:1'), which a zip package cannot change; nothing was changed. Build and push the image, then update the app with azure/functions-container-action or az functionapp config container set",
    ],
    [
      'a container app without an image',
      base,
      {
        ...app('ElasticPremium', 'linux'),
        site: { sku: 'ElasticPremium', kind: 'functionapp,linux,container', linuxFxVersion: '' },
      },
      undefined,
      "app runs a container image (kind 'functionapp,linux,container'), which a zip package cannot change; nothing was changed. Build and push the image, then update the app with azure/functions-container-action or az functionapp config container set",
    ],
    [
      'an explicit mode on Flex Consumption',
      { ...base, deployMode: 'zipdeploy' },
      app('FlexConsumption', 'linux'),
      undefined,
      'deploy-mode zipdeploy does not exist on Flex Consumption, which deploys only through OneDeploy (/api/publish; /api/zipdeploy answers 404 there). Use deploy-mode auto',
    ],
    [
      'Flex Consumption without its deployment storage',
      base,
      app('FlexConsumption', 'linux'),
      undefined,
      'The Flex Consumption site has no functionAppConfig.deployment.storage. Set the deployment storage of the app (portal: Deployment settings), then deploy again',
    ],
    [
      'remote-build true on Windows',
      { ...base, remoteBuild: 'true' },
      app('ElasticPremium', 'windows'),
      built(),
      'remote-build true: remote build (Oryx) runs on Linux only, and the app runs on Windows; nothing was changed. Build the app in the workflow before this step and set remote-build: false',
    ],
    [
      'a build on a URL app on Windows (whatever the mode would be)',
      base,
      app('ElasticPremium', 'windows', { [RFP]: URL_VALUE }),
      built({ pythonNeedsBuild: true }),
      `${BUILD_AUTO}: remote build (Oryx) runs on Linux only, and the app runs on Windows; nothing was changed. Build the app in the workflow before this step and set remote-build: false`,
    ],
    [
      'a build on Linux Consumption',
      base,
      app('Dynamic', 'linux'),
      built({ pythonNeedsBuild: true }),
      `${BUILD_AUTO}, but the app runs from a package URL (Linux Consumption), which the platform mounts as it is: nothing builds it, and its functions would fail to import their packages; nothing was changed. Install the requirements into the package before this step (pip install -r requirements.txt --target .python_packages/lib/site-packages), or move the app to Flex Consumption, which builds remotely`,
    ],
    [
      'a mounted package over 1 GB',
      base,
      app('Dynamic', 'linux'),
      built({ size: 1.5 * MAX_MOUNTED_PACKAGE_BYTES }),
      'The package is 1.50 GB; a package the app runs from (a package URL) is at most 1 GB, and the platform cannot mount a larger one; nothing was changed. Leave development dependencies, tests and build caches out of the package (.funcignore, exclude, npm ci --omit=dev)',
    ],
    [
      'an =1 package over 1 GB',
      base,
      app('ElasticPremium', 'windows'),
      built({ size: MAX_MOUNTED_PACKAGE_BYTES + 1 }),
      'The package is 1.00 GB; a package the app runs from (WEBSITE_RUN_FROM_PACKAGE=1) is at most 1 GB, and the platform cannot mount a larger one; nothing was changed. Leave development dependencies, tests and build caches out of the package (.funcignore, exclude, npm ci --omit=dev)',
    ],
    [
      'a zip to build over 2 GB',
      base,
      app('ElasticPremium', 'linux'),
      built({ size: 1.25 * MAX_ZIP_DEPLOY_BYTES, pythonNeedsBuild: true }),
      'The package is 2.50 GB; a zip deploy is at most 2 GB (larger ones fail with unclear errors); nothing was changed. Leave development dependencies, tests and build caches out of the package (.funcignore, exclude, npm ci --omit=dev)',
    ],
    [
      'a user-delegation SAS longer than 7 days',
      { ...base, sasExpiryMs: 8 * 86_400_000 },
      identityApp('Dynamic', 'linux'),
      undefined,
      "The package storage is reached with Entra ID (the app's AzureWebJobsStorage__blobServiceUri), and a SAS signed that way (user delegation) lasts at most 7 days, but sas-expiry asks for 8 days; the platform re-reads the package on every restart and scale-out, so the app would stop loading after a week. Use package-access: managed-identity (no SAS; the app reads the package with its identity), or pass storage-connection-string so the SAS is signed with the account key, or set sas-expiry to 7d or less and rotate it",
    ],
  ])('%s', (_name, inputs, state, pkg, message) => {
    expect(planError(() => planDeployment(inputs, state, pkg)).message).toBe(message);
  });

  it('the user-delegation limit is 7 days to the millisecond', () => {
    expect(USER_DELEGATION_SAS_LIMIT_MS).toBe(604_800_000);
    const state = identityApp('Dynamic', 'linux');
    expect(planDeployment({ ...base, sasExpiryMs: USER_DELEGATION_SAS_LIMIT_MS }, state).mode).toBe(
      'run-from-package',
    );
    planError(() => planDeployment({ ...base, sasExpiryMs: USER_DELEGATION_SAS_LIMIT_MS + 1 }, state));
  });

  it('the size limits include their bound', () => {
    expect(MAX_MOUNTED_PACKAGE_BYTES).toBe(1_073_741_824);
    expect(MAX_ZIP_DEPLOY_BYTES).toBe(2_147_483_648);
    const build = built({ size: MAX_ZIP_DEPLOY_BYTES, pythonNeedsBuild: true });
    expect(planDeployment(base, app('ElasticPremium', 'linux'), build).remoteBuild).toBe(true);
    planError(() =>
      planDeployment(base, app('ElasticPremium', 'linux'), { ...build, size: MAX_ZIP_DEPLOY_BYTES + 1 }),
    );
  });
});

describe('with a publish profile', () => {
  const profile = { ...base, publishProfile: true };
  const kuduOnly = (settings: Record<string, string> = {}): AppState => ({
    site: undefined,
    settings,
    storageSuffix: 'core.windows.net',
  });

  it('is the same plan whether or not ARM could see the site', () => {
    const expected: Plan = {
      operation: 'deploy',
      mode: 'zipdeploy',
      hosting: undefined,
      os: undefined,
      reasons: [
        'publish-profile given: Kudu zipdeploy with basic auth, without ARM (settings cannot be changed).',
        'WEBSITE_RUN_FROM_PACKAGE is not set; it is left as it is.',
        'The package has a requirements.txt but no .python_packages, and a publish profile cannot turn on remote build: functions that import those packages will fail to load.',
        'dry-run: nothing is changed.',
      ],
      conflict: false,
      backup: undefined,
      patch: { runFromPackage: { kind: 'keep' }, set: {}, remove: [] },
      storage: undefined,
      syncRoute: 'syncfunctiontriggers',
      remoteBuild: false,
      release: undefined,
      rotation: undefined,
    };
    const pkg = built({ pythonNeedsBuild: true });
    expect(planDeployment({ ...profile, dryRun: true }, kuduOnly(), pkg)).toEqual(expected);
    expect(planDeployment({ ...profile, dryRun: true }, app('Dynamic', 'linux'), pkg)).toEqual(expected);
    expect(planDeployment({ ...base, dryRun: true }, kuduOnly(), pkg)).toEqual(expected);
  });

  it('says nothing of a build or a dry run that is not there', () => {
    expect(planDeployment(profile, kuduOnly({ [RFP]: '0' }), built()).reasons).toEqual([
      'publish-profile given: Kudu zipdeploy with basic auth, without ARM (settings cannot be changed).',
      "WEBSITE_RUN_FROM_PACKAGE is '0'; it is left as it is.",
    ]);
  });

  it.each<[string, PlanInputs, AppState, PackageFacts | undefined, string]>([
    [
      'a URL setting',
      profile,
      kuduOnly({ [RFP]: URL_VALUE }),
      undefined,
      'Conflict: WEBSITE_RUN_FROM_PACKAGE points at a package URL, which makes Kudu refuse zipdeploy (409), and a publish profile cannot change app settings. Log in with azure/login instead of a publish profile so the setting can be backed up and replaced, or remove the setting',
    ],
    [
      'remote-build true',
      { ...profile, remoteBuild: 'true' },
      kuduOnly(),
      undefined,
      'remote-build true needs app settings changed, which a publish profile cannot do. Log in with azure/login instead of a publish profile, or build the app in the workflow and set remote-build: false',
    ],
    [
      'a package over 1 GB',
      profile,
      kuduOnly(),
      built({ size: MAX_MOUNTED_PACKAGE_BYTES + 1 }),
      'The package is 1.00 GB; a package the app runs from (WEBSITE_RUN_FROM_PACKAGE=1) is at most 1 GB, and the platform cannot mount a larger one; nothing was changed. Leave development dependencies, tests and build caches out of the package (.funcignore, exclude, npm ci --omit=dev)',
    ],
  ])('refuses %s', (_name, inputs, state, pkg, message) => {
    expect(planError(() => planDeployment(inputs, state, pkg)).message).toBe(message);
  });
});

describe('chooseStorage', () => {
  const settings = (s: Record<string, string>) => ({ settings: s, storageSuffix: 'core.windows.net' });
  const none = { storageAccount: undefined, storageConnectionString: undefined };

  it('storage-account and a connection string for the same account, in another case: the connection string', () => {
    expect(
      chooseStorage(
        { storageAccount: 'appstore', storageConnectionString: KEY_CS.replace('appstore', 'AppStore') },
        settings({}),
      ),
    ).toEqual({
      kind: 'shared-key',
      from: 'storage-connection-string',
      accountName: 'AppStore',
      blobEndpoint: 'https://AppStore.blob.core.windows.net',
    });
  });

  it("storage-account and the app's key for the same account, in another case: the app's key", () => {
    expect(
      chooseStorage(
        { ...none, storageAccount: 'appstore' },
        settings({ AzureWebJobsStorage: KEY_CS.replace('appstore', 'AppStore') }),
      ),
    ).toMatchObject({ kind: 'shared-key', from: 'AzureWebJobsStorage', accountName: 'AppStore' });
  });

  it.each([
    [
      'the blob service URI',
      {
        AzureWebJobsStorage__blobServiceUri: 'https://uri.blob.core.windows.net',
        AzureWebJobsStorage__accountName: 'name',
      },
      {
        kind: 'entra',
        from: "the app's AzureWebJobsStorage__blobServiceUri",
        accountName: 'uri',
        blobEndpoint: 'https://uri.blob.core.windows.net',
      },
    ],
    [
      'the account name',
      { AzureWebJobsStorage__accountName: 'namestore' },
      {
        kind: 'entra',
        from: "the app's AzureWebJobsStorage__accountName",
        accountName: 'namestore',
        blobEndpoint: 'https://namestore.blob.core.windows.net',
      },
    ],
  ])("the app's identity-based setting: %s", (_name, s, expected) => {
    expect(chooseStorage(none, settings(s))).toEqual(expected);
  });

  it('names the source of the key in the plan', () => {
    const plan = planDeployment(
      { ...base, storageConnectionString: KEY_CS.replace('appstore', 'given') },
      app('Dynamic', 'linux'),
    );
    expect(plan.reasons.at(-1)).toBe(
      "Packages are stored in account 'given' with the account key from storage-connection-string.",
    );
  });

  it.each([
    [
      'a connection string without a key',
      { storageAccount: undefined, storageConnectionString: 'AccountName=x' },
      "Input 'storage-connection-string' has no AccountName and AccountKey. Copy the connection string from the storage account's Access keys page",
    ],
    [
      'two different accounts',
      { storageAccount: 'other', storageConnectionString: KEY_CS },
      "Input 'storage-account' (other) and input 'storage-connection-string' (account appstore) name different storage accounts; nothing was changed. Pass only one of them, or a connection string for the account named by storage-account",
    ],
    [
      'no storage at all',
      none,
      'No storage account for run-from-package: the app has no AzureWebJobsStorage connection string or identity-based setting. Set storage-account (with Storage Blob Data Contributor for the deploying identity) or storage-connection-string',
    ],
  ])('refuses %s', (_name, inputs, message) => {
    expect(planError(() => chooseStorage(inputs, settings({}))).message).toBe(message);
  });
});

describe('classifiers', () => {
  it.each([
    ['Dynamic', 'consumption'],
    ['dynamic', 'consumption'],
    ['DynamicV2', 'consumption'],
    ['ElasticPremium', 'elastic-premium'],
    ['ELASTICPREMIUM', 'elastic-premium'],
    ['ElasticPremiumV2', 'elastic-premium'],
    ['FlexConsumption', 'flex-consumption'],
    ['FlexConsumptionV2', 'flex-consumption'],
    ['Standard', 'dedicated'],
    ['PremiumV3', 'dedicated'],
    ['WorkflowStandard', 'dedicated'],
    ['', 'dedicated'],
  ])('sku %j is %s', (sku, hosting) => {
    expect(classifyHosting(sku)).toBe(hosting);
  });

  it.each([
    ['http://x/app.zip', 'url'],
    ['HTTPS://X/app.zip', 'url'],
    ['  https://x/app.zip', 'url'],
    ['see https://x/app.zip', 'other'],
    ['ftp://x/app.zip', 'other'],
    [' 1 ', 'local-package'],
    [' 0 ', 'off'],
    ['   ', 'off'],
    ['true', 'other'],
  ] as const)('setting %j is %s', (value, kind) => {
    expect(classifyPrevious(value)).toBe(kind);
  });

  it.each([
    ['functionapp,linux', '', false],
    ['functionapp,linux', 'PYTHON|3.11', false],
    ['functionapp,linux', 'DOCKER|repo/app:1', true],
    ['functionapp,linux', ' docker|repo/app:1', true],
    ['functionapp,linux,container', '', true],
    ['FunctionApp,Linux,Container', '', true],
    ['functionapp,linux,kubernetes', '', true],
    ['functionapp', '', false],
  ])('kind %j with linuxFxVersion %j is a container app: %s', (kind, linuxFxVersion, container) => {
    expect(isContainerApp({ kind, linuxFxVersion })).toBe(container);
  });
});
