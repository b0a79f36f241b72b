import type { FlexConfig, SyncRoute } from './azure/appservice.js';
import { accountAddress, parseConnectionString, type StorageChoice } from './azure/layout.js';
import { PlanError } from './errors.js';
import type { ActionInputs } from './inputs.js';
import { redactSas } from './redact.js';

export type { StorageChoice };

export const RUN_FROM_PACKAGE = 'WEBSITE_RUN_FROM_PACKAGE';
/** The old name; the platform reads it when WEBSITE_RUN_FROM_PACKAGE is absent or empty. */
export const RUN_FROM_ZIP = 'WEBSITE_RUN_FROM_ZIP';
export const RUN_FROM_PACKAGE_MI = 'WEBSITE_RUN_FROM_PACKAGE_BLOB_MI_RESOURCE_ID';
/** A user-delegation SAS (signed with Entra ID) lasts at most 7 days. */
export const USER_DELEGATION_SAS_LIMIT_MS = 7 * 86_400_000;

export type Hosting = 'consumption' | 'elastic-premium' | 'flex-consumption' | 'dedicated';
export type Os = 'linux' | 'windows';
export type Mode = 'zipdeploy' | 'run-from-package' | 'one-deploy';
export type Operation = 'deploy' | 'rollback-to' | 'rotate-sas' | 'status';

/** What inspection found; everything the plan depends on. */
export interface AppState {
  /** undefined with a publish profile: Kudu alone, no ARM view of the site. */
  site: { kind: string; sku: string; linuxFxVersion: string; flex?: FlexConfig | undefined } | undefined;
  settings: Readonly<Record<string, string>>;
  /** The cloud's storage endpoint suffix (`core.windows.net`, …), for an account given by name. */
  storageSuffix: string;
}

/** The inputs the plan depends on. */
export type PlanInputs = Pick<
  ActionInputs,
  | 'appName'
  | 'slot'
  | 'deployMode'
  | 'onConflict'
  | 'packageAccess'
  | 'managedIdentityResourceId'
  | 'sasExpiryMs'
  | 'rollbackTo'
  | 'storageAccount'
  | 'storageConnectionString'
  | 'remoteBuild'
  | 'dryRun'
> & { publishProfile: boolean };

export type PreviousKind = 'url' | 'local-package' | 'off' | 'absent' | 'other';

/** How WEBSITE_RUN_FROM_PACKAGE and its companions change; applied to a fresh read of the settings. */
export interface SettingsPatch {
  /** `url` means "the new package URL", known only after upload. */
  runFromPackage: { kind: 'url' } | { kind: 'value'; value: string } | { kind: 'keep' };
  set: Record<string, string>;
  remove: string[];
}

export interface Plan {
  operation: Operation;
  mode: Mode;
  /** undefined with a publish profile (no ARM view of the site). */
  hosting: Hosting | undefined;
  os: Os | undefined;
  /** Every decision, in order, as a sentence. */
  reasons: string[];
  /** Zipdeploy requested while the setting is a URL. */
  conflict: boolean;
  /** Set when a setting is replaced or removed: the backup must be stored before any write. */
  backup: { reason: string } | undefined;
  patch: SettingsPatch;
  /** run-from-package only. */
  storage: StorageChoice | undefined;
  /** The sync-triggers route that works on this plan. */
  syncRoute: SyncRoute;
  /** Kudu builds the app (Oryx) during the zipdeploy, or the Flex platform does (RemoteBuild=true). */
  remoteBuild: boolean;
  /** one-deploy: the platform's deployment container, whose released-package.zip is kept before a publish. */
  release: { choice: StorageChoice; container: string } | undefined;
  /** rotate-sas: whether the live SAS is due, and for which blob. */
  rotation: Rotation | undefined;
}

export interface Rotation {
  state: 'due' | 'not-due' | 'nothing-to-rotate';
  /** The live SAS's expiry, when it has one. */
  expiresAt: string | undefined;
  /** The blob the live URL points at (in the account the action signs for), and its container. */
  blob: string | undefined;
  container: string | undefined;
}

export function classifyHosting(siteSku: string): Hosting {
  const sku = siteSku.toLowerCase();
  if (sku.startsWith('dynamic')) return 'consumption';
  if (sku.startsWith('elasticpremium')) return 'elastic-premium';
  if (sku.startsWith('flexconsumption')) return 'flex-consumption';
  return 'dedicated';
}

export function classifyPrevious(value: string | undefined): PreviousKind {
  if (value === undefined) return 'absent';
  const v = value.trim();
  if (/^https?:\/\//i.test(v)) return 'url';
  if (v === '1') return 'local-package';
  if (v === '0' || v === '') return 'off';
  return 'other';
}

/** The package setting in force: WEBSITE_RUN_FROM_PACKAGE, or the old WEBSITE_RUN_FROM_ZIP when it is absent or empty. */
export function packageSetting(settings: Readonly<Record<string, string>>): string | undefined {
  const current = settings[RUN_FROM_PACKAGE];
  return current === undefined || current.trim() === '' ? (settings[RUN_FROM_ZIP] ?? current) : current;
}

export const HOSTING_LABEL: Record<Hosting, string> = {
  consumption: 'Consumption',
  'elastic-premium': 'Elastic Premium',
  'flex-consumption': 'Flex Consumption',
  dedicated: 'Dedicated (App Service plan)',
};

/** Remote build switches, as Core Tools and az set them for a Linux build (KuduLite / Oryx). */
export const SCM_DO_BUILD = 'SCM_DO_BUILD_DURING_DEPLOYMENT';
export const ENABLE_ORYX_BUILD = 'ENABLE_ORYX_BUILD';

/** What the plan needs to know of the package, once it is built or found. */
export interface PackageFacts {
  size: number;
  /** A Python app whose requirements.txt names packages it does not carry in .python_packages. */
  pythonNeedsBuild: boolean;
  /** A package already in storage (rollback-to): it is deployed as it was built. */
  stored: boolean;
}

/** A mounted package (run-from-package, by URL or =1) is at most 1 GB (Learn: deploy-run-package troubleshooting). */
export const MAX_MOUNTED_PACKAGE_BYTES = 1024 ** 3;
/** Zip deploys above 2 GB fail with unclear errors (azure-cli#26635). */
export const MAX_ZIP_DEPLOY_BYTES = 2 * 1024 ** 3;

const GB = 1024 ** 3;

/** Container and Kubernetes-hosted apps run an image, not a zip (Core Tools Site.IsKubeApp, IsLinuxFxVersionUsingCustomImage). */
export function isContainerApp(site: { kind: string; linuxFxVersion: string }): boolean {
  const kind = site.kind.toLowerCase();
  return (
    kind.includes('container') || kind.includes('kubernetes') || /^docker\|/i.test(site.linuxFxVersion.trim())
  );
}

/**
 * Pure: chooses the operation, the mode and the settings change from the inputs and the inspected app. Called
 * once without `pkg`, before the package is awaited, so that what cannot work stops at once; and once with it,
 * for the decisions the package settles (remote build, size).
 */
export function planDeployment(inputs: PlanInputs, app: AppState, pkg?: PackageFacts): Plan {
  const value = packageSetting(app.settings);
  const previousKind = classifyPrevious(value);
  const describePrevious =
    previousKind === 'absent'
      ? `${RUN_FROM_PACKAGE} is not set`
      : previousKind === 'url'
        ? `${RUN_FROM_PACKAGE} is a package URL`
        : `${RUN_FROM_PACKAGE} is '${value}'`;
  if (inputs.publishProfile || !app.site)
    return planWithPublishProfile(inputs, previousKind, describePrevious, pkg);

  const { kind, sku } = app.site;
  const hosting = classifyHosting(sku);
  const os: Os = kind.toLowerCase().includes('linux') ? 'linux' : 'windows';
  const reasons: string[] = [
    `The app runs on ${os === 'linux' ? 'Linux' : 'Windows'} ${HOSTING_LABEL[hosting]} (site sku '${sku}', kind '${kind}').`,
  ];
  if (!kind.toLowerCase().includes('functionapp')) {
    throw new PlanError(
      `${inputs.appName} is not a Function App (site kind '${kind}'); nothing was changed`,
      {
        fix: "Check app-name: this action deploys Function Apps (kind 'functionapp…'); deploy web apps with azure/webapps-deploy",
      },
    );
  }
  if (isContainerApp(app.site)) {
    throw new PlanError(
      `${inputs.appName} runs a container image (kind '${kind}'${app.site.linuxFxVersion ? `, linuxFxVersion '${app.site.linuxFxVersion}'` : ''}), which a zip package cannot change; nothing was changed`,
      {
        fix: 'Build and push the image, then update the app with azure/functions-container-action or az functionapp config container set',
      },
    );
  }
  if (hosting === 'flex-consumption') return planFlex(inputs, app, reasons, pkg);
  const linuxConsumption = hosting === 'consumption' && os === 'linux';
  const operation: Operation = inputs.rollbackTo ? 'rollback-to' : 'deploy';
  const wantsBuild =
    pkg !== undefined &&
    !pkg.stored &&
    (inputs.remoteBuild === 'true' || (inputs.remoteBuild === 'auto' && pkg.pythonNeedsBuild));
  const buildWhy =
    inputs.remoteBuild === 'true'
      ? 'remote-build true'
      : 'remote-build auto (a Python app with requirements.txt and no .python_packages, as Core Tools decides)';

  if (inputs.rollbackTo) {
    reasons.push(
      `rollback-to '${redactSas(inputs.rollbackTo)}': the stored package is redeployed without packaging, the way the app runs.`,
    );
  }
  let mode: Mode;
  if (inputs.deployMode === 'auto') {
    if (linuxConsumption) {
      mode = 'run-from-package';
      reasons.push(
        'deploy-mode auto: Linux Consumption supports only an external package URL (zipdeploy is not supported there), so run-from-package.',
      );
    } else if (previousKind === 'url' && wantsBuild && os === 'linux') {
      mode = 'zipdeploy';
      reasons.push(
        `deploy-mode auto: ${describePrevious}, but ${buildWhy} needs Kudu's build, which a package URL cannot have: zipdeploy with remote build.`,
      );
    } else if (previousKind === 'url') {
      mode = 'run-from-package';
      reasons.push(
        `deploy-mode auto: ${describePrevious}; keeping the app's chosen model, so run-from-package with a new package URL (no conflict).`,
      );
    } else {
      mode = 'zipdeploy';
      reasons.push(
        `deploy-mode auto: ${describePrevious}; Kudu zipdeploy with ${RUN_FROM_PACKAGE}=1 is what the platform recommends here.`,
      );
    }
  } else if (inputs.deployMode === 'zipdeploy') {
    if (linuxConsumption) {
      throw new PlanError('deploy-mode zipdeploy is not supported on Linux Consumption', {
        fix: "Use deploy-mode 'run-from-package' or 'auto'",
      });
    }
    mode = 'zipdeploy';
    reasons.push('deploy-mode zipdeploy was requested.');
  } else {
    mode = 'run-from-package';
    reasons.push('deploy-mode run-from-package was requested.');
  }
  if (mode === 'run-from-package' && previousKind === 'local-package' && !linuxConsumption) {
    throw new PlanError(
      `${inputs.appName} runs from a local package (${RUN_FROM_PACKAGE}=1), and an app that runs a local package cannot be switched to a package URL (Learn: "can't be migrated to run from a remote ZIP package"); nothing was changed`,
      {
        fix: "Use deploy-mode 'auto' or 'zipdeploy' for this app, or create a new app to run from a package URL",
      },
    );
  }
  if (wantsBuild && os === 'windows') {
    throw new PlanError(
      `${buildWhy}: remote build (Oryx) runs on Linux only, and the app runs on Windows; nothing was changed`,
      {
        fix: 'Build the app in the workflow before this step and set remote-build: false',
      },
    );
  }
  if (wantsBuild && mode === 'run-from-package') {
    throw new PlanError(
      `${buildWhy}, but the app runs from a package URL (${linuxConsumption ? 'Linux Consumption' : 'run-from-package'}), which the platform mounts as it is: nothing builds it, and its functions would fail to import their packages; nothing was changed`,
      {
        fix: 'Install the requirements into the package before this step (pip install -r requirements.txt --target .python_packages/lib/site-packages), or move the app to Flex Consumption, which builds remotely',
      },
    );
  }

  const conflict = mode === 'zipdeploy' && previousKind === 'url';
  let backup: Plan['backup'];
  const patch: SettingsPatch = { runFromPackage: { kind: 'keep' }, set: {}, remove: [] };
  let storage: StorageChoice | undefined;

  if (mode === 'zipdeploy') {
    if (conflict) {
      if (inputs.onConflict === 'fail') {
        throw new PlanError(
          `Conflict: zipdeploy was requested but ${RUN_FROM_PACKAGE} points at a package URL, and Kudu refuses zipdeploy (409) while it does; on-conflict is 'fail'`,
          {
            fix: 'Set on-conflict: backup-and-replace to back the URL up as an artifact and replace it, or deploy-mode: auto to keep run-from-package',
          },
        );
      }
      reasons.push(
        `Conflict: ${RUN_FROM_PACKAGE} is a URL, which makes Kudu refuse zipdeploy (409); on-conflict backup-and-replace: the URL is backed up as an artifact, then ${wantsBuild ? 'removed' : 'replaced by 1'}.`,
      );
      backup = {
        reason: `zipdeploy requested while ${RUN_FROM_PACKAGE} was a package URL (${wantsBuild ? 'removed for a remote build' : 'replaced by 1'})`,
      };
    }
    if (wantsBuild) {
      if (app.settings[RUN_FROM_PACKAGE] !== undefined) patch.remove.push(RUN_FROM_PACKAGE);
      patch.set[SCM_DO_BUILD] = 'true';
      patch.set[ENABLE_ORYX_BUILD] = 'true';
      reasons.push(
        `${buildWhy}: Kudu builds the app (Oryx) during zipdeploy; ${RUN_FROM_PACKAGE}=1 would make it skip the build on Linux, so it is removed, and ${SCM_DO_BUILD} and ${ENABLE_ORYX_BUILD} are set to true.`,
      );
    } else if (app.settings[RUN_FROM_PACKAGE]?.trim() !== '1') {
      patch.runFromPackage = { kind: 'value', value: '1' };
      if (!conflict)
        reasons.push(
          `${RUN_FROM_PACKAGE} will be set to 1 so Kudu stores the zip in data/SitePackages and the app runs from it.`,
        );
    } else {
      reasons.push(`${RUN_FROM_PACKAGE}=1 is kept.`);
    }
  } else {
    patch.runFromPackage = { kind: 'url' };
    if (previousKind === 'url') {
      backup = { reason: `${RUN_FROM_PACKAGE} package URL replaced by a new package` };
      reasons.push('The previous package URL is backed up as an artifact before it is replaced.');
    } else if (previousKind !== 'absent') {
      reasons.push(`${RUN_FROM_PACKAGE}='${value}' is replaced by the package URL.`);
    }
    if (inputs.packageAccess === 'managed-identity') {
      patch.set[RUN_FROM_PACKAGE_MI] = inputs.managedIdentityResourceId;
      reasons.push(
        `package-access managed-identity: a plain blob URL, read by the identity '${inputs.managedIdentityResourceId}' (needs Storage Blob Data Reader).`,
      );
    } else {
      reasons.push('package-access sas: the URL carries a read-only SAS limited to HTTPS.');
      if (app.settings[RUN_FROM_PACKAGE_MI] !== undefined) {
        patch.remove.push(RUN_FROM_PACKAGE_MI);
        reasons.push(`${RUN_FROM_PACKAGE_MI} is removed so the platform reads the package with the SAS.`);
      }
    }
  }
  if (mode === 'run-from-package' || inputs.rollbackTo) {
    storage = chooseStorage(inputs, app);
    reasons.push(describeStorage(storage));
    if (
      mode === 'run-from-package' &&
      storage.kind === 'entra' &&
      inputs.packageAccess === 'sas' &&
      inputs.sasExpiryMs > USER_DELEGATION_SAS_LIMIT_MS
    ) {
      throw new PlanError(
        `The package storage is reached with Entra ID (${storage.from}), and a SAS signed that way (user delegation) lasts at most 7 days, but sas-expiry asks for ${formatDays(inputs.sasExpiryMs)}; the platform re-reads the package on every restart and scale-out, so the app would stop loading after a week`,
        {
          fix: 'Use package-access: managed-identity (no SAS; the app reads the package with its identity), or pass storage-connection-string so the SAS is signed with the account key, or set sas-expiry to 7d or less and rotate it',
        },
      );
    }
  }
  if (pkg?.pythonNeedsBuild && !wantsBuild && !pkg.stored) {
    reasons.push(
      'remote-build false: the package has a requirements.txt but no .python_packages; functions that import those packages will fail to load.',
    );
  }
  // The old name goes whenever the package setting is written, so only one setting says what the app runs.
  if ((patch.runFromPackage.kind !== 'keep' || wantsBuild) && app.settings[RUN_FROM_ZIP] !== undefined)
    patch.remove.push(RUN_FROM_ZIP);
  if (pkg) admitSize(mode, wantsBuild, pkg.size);
  if (inputs.dryRun) reasons.push('dry-run: nothing is changed.');

  // Microsoft: the ARM syncfunctiontriggers route "does not work for Linux Consumption"; the host-runtime one does
  // (microsoft/pipelines-appservice-lib#2; Azure/functions-action uses it there).
  const syncRoute: SyncRoute = linuxConsumption
    ? 'hostruntime/admin/host/synctriggers'
    : 'syncfunctiontriggers';
  return {
    operation,
    mode,
    hosting,
    os,
    reasons,
    conflict,
    backup,
    patch,
    storage,
    syncRoute,
    remoteBuild: wantsBuild,
    release: undefined,
    rotation: undefined,
  };
}

/**
 * Flex Consumption: one-deploy (`/api/publish`). The platform writes the package into its own deployment
 * container; a package setting makes the deployment fail ("App setting WEBSITE_RUN_FROM_PACKAGE is not
 * supported…", azure-functions-dotnet-worker#2688), so one is the conflict here: backed up and removed. Remote build
 * is the publish's `RemoteBuild=true`; the Kudu build switches must not be set. No slots.
 */
function planFlex(inputs: PlanInputs, app: AppState, reasons: string[], pkg: PackageFacts | undefined): Plan {
  const flex = app.site?.flex;
  if (inputs.slot) throw flexHasNoSlots(inputs.slot);
  if (inputs.deployMode !== 'auto') {
    throw new PlanError(
      `deploy-mode ${inputs.deployMode} does not exist on Flex Consumption, which deploys only through OneDeploy (/api/publish; /api/zipdeploy answers 404 there)`,
      { fix: 'Use deploy-mode auto' },
    );
  }
  if (!flex) {
    throw new PlanError('The Flex Consumption site has no functionAppConfig.deployment.storage', {
      fix: 'Set the deployment storage of the app (portal: Deployment settings), then deploy again',
    });
  }
  if (inputs.rollbackTo) {
    reasons.push(
      `rollback-to '${redactSas(inputs.rollbackTo)}': the stored package is published again without packaging.`,
    );
  }
  reasons.push(
    'Flex Consumption: one-deploy (POST /api/publish); the platform writes released-package.zip into its deployment container, and the one there now is kept in the package container first.',
  );
  const patch: SettingsPatch = { runFromPackage: { kind: 'keep' }, set: {}, remove: [] };
  let backup: Plan['backup'];
  const present = [RUN_FROM_PACKAGE, RUN_FROM_ZIP].filter((k) => app.settings[k] !== undefined);
  const conflict = present.length > 0;
  if (conflict) {
    if (inputs.onConflict === 'fail') {
      throw new PlanError(
        `Conflict: ${present.join(' and ')} is set, which Flex Consumption does not support (a publish with it present ends failed); on-conflict is 'fail'; nothing was changed`,
        {
          fix: 'Set on-conflict: backup-and-replace to back it up as an artifact and remove it, or remove the setting',
        },
      );
    }
    patch.remove.push(...present);
    if (app.settings[RUN_FROM_PACKAGE_MI] !== undefined) patch.remove.push(RUN_FROM_PACKAGE_MI);
    if (classifyPrevious(packageSetting(app.settings)) === 'url')
      backup = { reason: `${present.join(' and ')} removed: not supported on Flex Consumption` };
    reasons.push(
      `Conflict: ${present.join(' and ')} is set, which Flex Consumption does not support (the publish would fail); on-conflict backup-and-replace: ${backup ? 'the URL is backed up as an artifact, then ' : ''}removed, every other setting kept.`,
    );
  }
  const buildSwitches = [SCM_DO_BUILD, ENABLE_ORYX_BUILD].filter((k) => app.settings[k] !== undefined);
  if (buildSwitches.length) {
    patch.remove.push(...buildSwitches);
    reasons.push(
      `${buildSwitches.join(' and ')} must not be set on Flex Consumption (remote build is the publish's RemoteBuild): removed.`,
    );
  }
  const wantsBuild =
    pkg !== undefined &&
    !pkg.stored &&
    (inputs.remoteBuild === 'true' || (inputs.remoteBuild === 'auto' && pkg.pythonNeedsBuild));
  if (pkg && !pkg.stored) {
    reasons.push(
      wantsBuild
        ? `${inputs.remoteBuild === 'true' ? 'remote-build true' : 'remote-build auto (a Python app with requirements.txt and no .python_packages)'}: published with RemoteBuild=true, so the platform builds it.`
        : 'Published with RemoteBuild=false: the package runs as it is.',
    );
  }
  const storage = chooseStorage(inputs, app);
  reasons.push(describeStorage(storage));
  const release = flexRelease(flex, app);
  if (pkg) admitSize('zipdeploy', true, pkg.size);
  if (inputs.dryRun) reasons.push('dry-run: nothing is changed.');
  return {
    operation: inputs.rollbackTo ? 'rollback-to' : 'deploy',
    mode: 'one-deploy',
    hosting: 'flex-consumption',
    os: 'linux',
    reasons,
    conflict,
    backup,
    patch,
    storage,
    syncRoute: 'syncfunctiontriggers',
    remoteBuild: wantsBuild,
    release,
    rotation: undefined,
  };
}

/** A lifetime in days as a person reads it: `365 days`, `7.5 days`. */
function formatDays(ms: number): string {
  const days = ms / 86_400_000;
  return `${Number.isInteger(days) ? days : days.toFixed(2).replace(/0+$/, '')} days`;
}

/** Flex Consumption has no deployment slots (Learn: functions-deployment-slots). */
export function flexHasNoSlots(slot: string): PlanError {
  return new PlanError(
    `Flex Consumption apps have no deployment slots (slot-name '${slot}'); nothing was changed`,
    {
      fix: 'Remove slot-name; to try a release first, deploy it to a second Flex app',
    },
  );
}

/** How the action reads the platform's deployment container: the connection string the app names, or Entra ID. */
export function flexRelease(flex: FlexConfig, app: AppState): Plan['release'] {
  const url = flex.containerUrl;
  const slash = url.lastIndexOf('/');
  const container = url.slice(slash + 1);
  if (flex.auth === 'StorageAccountConnectionString') {
    const name = flex.connectionStringSetting;
    const parts = parseConnectionString(name ? app.settings[name] : undefined);
    if (!parts) {
      throw new PlanError(
        `The Flex deployment storage is reached with the connection string in app setting '${name ?? '(none)'}', which is missing or has no key, so the platform could not write the package either; nothing was changed`,
        { fix: 'Set that app setting to the storage account connection string' },
      );
    }
    return {
      container,
      choice: {
        kind: 'shared-key',
        from: 'AzureWebJobsStorage',
        accountName: parts.accountName,
        blobEndpoint: parts.blobEndpoint,
        ...(name ? { setting: name } : {}),
      },
    };
  }
  return {
    container,
    choice: {
      kind: 'entra',
      from: 'the deployment storage',
      ...accountAddress(url.slice(0, slash), app.storageSuffix),
    },
  };
}

/** Pure: refuses a package the platform cannot take, before any write. */
function admitSize(mode: Mode, remoteBuild: boolean, size: number): void {
  const mounted = mode === 'run-from-package' || !remoteBuild;
  const limit = mounted ? MAX_MOUNTED_PACKAGE_BYTES : MAX_ZIP_DEPLOY_BYTES;
  if (size <= limit) return;
  throw new PlanError(
    `The package is ${(size / GB).toFixed(2)} GB; ${mounted ? `a package the app runs from (${mode === 'zipdeploy' ? `${RUN_FROM_PACKAGE}=1` : 'a package URL'}) is at most 1 GB, and the platform cannot mount a larger one` : 'a zip deploy is at most 2 GB (larger ones fail with unclear errors)'}; nothing was changed`,
    {
      fix: 'Leave development dependencies, tests and build caches out of the package (.funcignore, exclude, npm ci --omit=dev)',
    },
  );
}

function planWithPublishProfile(
  inputs: PlanInputs,
  previousKind: PreviousKind,
  describePrevious: string,
  pkg: PackageFacts | undefined,
): Plan {
  const reasons = [
    'publish-profile given: Kudu zipdeploy with basic auth, without ARM (settings cannot be changed).',
  ];
  if (previousKind === 'url') {
    throw new PlanError(
      `Conflict: ${RUN_FROM_PACKAGE} points at a package URL, which makes Kudu refuse zipdeploy (409), and a publish profile cannot change app settings`,
      {
        fix: 'Log in with azure/login instead of a publish profile so the setting can be backed up and replaced, or remove the setting',
      },
    );
  }
  reasons.push(`${describePrevious}; it is left as it is.`);
  if (inputs.remoteBuild === 'true') {
    throw new PlanError('remote-build true needs app settings changed, which a publish profile cannot do', {
      fix: 'Log in with azure/login instead of a publish profile, or build the app in the workflow and set remote-build: false',
    });
  }
  if (pkg?.pythonNeedsBuild) {
    reasons.push(
      'The package has a requirements.txt but no .python_packages, and a publish profile cannot turn on remote build: functions that import those packages will fail to load.',
    );
  }
  if (pkg) admitSize('zipdeploy', false, pkg.size);
  if (inputs.dryRun) reasons.push('dry-run: nothing is changed.');
  return {
    operation: 'deploy',
    mode: 'zipdeploy',
    hosting: undefined,
    os: undefined,
    reasons,
    conflict: false,
    backup: undefined,
    patch: { runFromPackage: { kind: 'keep' }, set: {}, remove: [] },
    storage: undefined,
    syncRoute: 'syncfunctiontriggers',
    remoteBuild: false,
    release: undefined,
    rotation: undefined,
  };
}

/**
 * Pure: where the packages go and how the action signs in there. In order: storage-connection-string, the app's
 * AzureWebJobsStorage connection string, then Entra ID against storage-account or the app's identity-based
 * AzureWebJobsStorage__blobServiceUri / __accountName. An explicit storage-account wins over the app's key for
 * another account; contradicting inputs are refused, naming both.
 */
export function chooseStorage(
  inputs: Pick<PlanInputs, 'storageAccount' | 'storageConnectionString'>,
  app: Pick<AppState, 'settings' | 'storageSuffix'>,
): StorageChoice {
  const wanted = inputs.storageAccount ? accountAddress(inputs.storageAccount, app.storageSuffix) : undefined;
  const given = parseConnectionString(inputs.storageConnectionString);
  if (inputs.storageConnectionString && !given) {
    throw new PlanError("Input 'storage-connection-string' has no AccountName and AccountKey", {
      fix: "Copy the connection string from the storage account's Access keys page",
    });
  }
  if (given && wanted && given.accountName.toLowerCase() !== wanted.accountName.toLowerCase()) {
    throw new PlanError(
      `Input 'storage-account' (${wanted.accountName}) and input 'storage-connection-string' (account ${given.accountName}) name different storage accounts; nothing was changed`,
      { fix: 'Pass only one of them, or a connection string for the account named by storage-account' },
    );
  }
  if (given)
    return {
      kind: 'shared-key',
      from: 'storage-connection-string',
      accountName: given.accountName,
      blobEndpoint: given.blobEndpoint,
    };
  const fromApp = parseConnectionString(app.settings.AzureWebJobsStorage);
  if (fromApp && (!wanted || wanted.accountName.toLowerCase() === fromApp.accountName.toLowerCase()))
    return {
      kind: 'shared-key',
      from: 'AzureWebJobsStorage',
      accountName: fromApp.accountName,
      blobEndpoint: fromApp.blobEndpoint,
    };
  if (wanted) return { kind: 'entra', from: `storage-account '${wanted.accountName}'`, ...wanted };
  for (const name of ['AzureWebJobsStorage__blobServiceUri', 'AzureWebJobsStorage__accountName']) {
    const setting = app.settings[name];
    if (setting)
      return { kind: 'entra', from: `the app's ${name}`, ...accountAddress(setting, app.storageSuffix) };
  }
  throw new PlanError(
    'No storage account for run-from-package: the app has no AzureWebJobsStorage connection string or identity-based setting',
    {
      fix: 'Set storage-account (with Storage Blob Data Contributor for the deploying identity) or storage-connection-string',
    },
  );
}

export function describeStorage(s: StorageChoice): string {
  return s.kind === 'shared-key'
    ? `Packages are stored in account '${s.accountName}' with the account key from ${s.from === 'AzureWebJobsStorage' ? "the app's AzureWebJobsStorage" : 'storage-connection-string'}.`
    : `Packages are stored in account '${s.accountName}' (from ${s.from}) with Entra ID as the logged-in identity (needs Storage Blob Data Contributor).`;
}

/** Pure: the full settings to PUT (ARM replaces the whole set), from a fresh read and the plan's patch. */
export function applySettingsPatch(
  current: Readonly<Record<string, string>>,
  patch: SettingsPatch,
  packageUrl?: string,
): Record<string, string> {
  const next: Record<string, string> = { ...current };
  for (const key of patch.remove) delete next[key];
  Object.assign(next, patch.set);
  if (patch.runFromPackage.kind === 'value') next[RUN_FROM_PACKAGE] = patch.runFromPackage.value;
  if (patch.runFromPackage.kind === 'url') {
    if (!packageUrl) throw new PlanError('Internal: the settings patch needs the package URL');
    next[RUN_FROM_PACKAGE] = packageUrl;
  }
  return next;
}
