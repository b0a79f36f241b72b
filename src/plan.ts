import type { SyncRoute } from './azure/appservice.js';
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
export type Mode = 'zipdeploy' | 'run-from-package';
export type Operation = 'deploy' | 'rollback-to';

/** What inspection found; everything the plan depends on. */
export interface AppState {
  /** undefined with a publish profile: Kudu alone, no ARM view of the site. */
  site: { kind: string; sku: string } | undefined;
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

const HOSTING_LABEL: Record<Hosting, string> = {
  consumption: 'Consumption',
  'elastic-premium': 'Elastic Premium',
  'flex-consumption': 'Flex Consumption',
  dedicated: 'Dedicated (App Service plan)',
};

/** Pure: chooses the operation, the mode and the settings change from the inputs and the inspected app. */
export function planDeployment(inputs: PlanInputs, app: AppState): Plan {
  const value = packageSetting(app.settings);
  const previousKind = classifyPrevious(value);
  const describePrevious =
    previousKind === 'absent'
      ? `${RUN_FROM_PACKAGE} is not set`
      : previousKind === 'url'
        ? `${RUN_FROM_PACKAGE} is a package URL`
        : `${RUN_FROM_PACKAGE} is '${value}'`;
  if (inputs.publishProfile || !app.site)
    return planWithPublishProfile(inputs, previousKind, describePrevious);

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
  if (hosting === 'flex-consumption') {
    throw new PlanError(
      `The app runs on Flex Consumption, which deploys through OneDeploy (/api/publish) and must not have ${RUN_FROM_PACKAGE}; this action does not deploy Flex apps yet`,
      { fix: "Deploy Flex apps with 'Azure/functions-action' or 'func azure functionapp publish'" },
    );
  }
  const linuxConsumption = hosting === 'consumption' && os === 'linux';
  const operation: Operation = inputs.rollbackTo ? 'rollback-to' : 'deploy';

  let mode: Mode;
  if (inputs.rollbackTo) {
    mode = 'run-from-package';
    reasons.push(
      `rollback-to '${redactSas(inputs.rollbackTo)}': the stored package is redeployed by run-from-package, without packaging.`,
    );
  } else if (inputs.deployMode === 'auto') {
    if (linuxConsumption) {
      mode = 'run-from-package';
      reasons.push(
        'deploy-mode auto: Linux Consumption supports only an external package URL (zipdeploy is not supported there), so run-from-package.',
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
        `Conflict: ${RUN_FROM_PACKAGE} is a URL, which makes Kudu refuse zipdeploy (409); on-conflict backup-and-replace: the URL is backed up as an artifact, then replaced by 1.`,
      );
      backup = { reason: `zipdeploy requested while ${RUN_FROM_PACKAGE} was a package URL (replaced by 1)` };
    }
    if (app.settings[RUN_FROM_PACKAGE]?.trim() !== '1') {
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
    storage = chooseStorage(inputs, app);
    reasons.push(describeStorage(storage));
    if (
      storage.kind === 'entra' &&
      inputs.packageAccess === 'sas' &&
      inputs.sasExpiryMs > USER_DELEGATION_SAS_LIMIT_MS
    ) {
      throw new PlanError(
        `The package storage is reached with Entra ID (${storage.from}), and a SAS signed that way (user delegation) lasts at most 7 days, but sas-expiry asks for ${Math.round(inputs.sasExpiryMs / 86_400_000)} days; the platform re-reads the package on every restart and scale-out, so the app would stop loading after a week`,
        {
          fix: 'Use package-access: managed-identity (no SAS; the app reads the package with its identity), or pass storage-connection-string so the SAS is signed with the account key, or set sas-expiry to 7d or less and rotate it',
        },
      );
    }
  }
  // The old name goes whenever the package setting is written, so only one setting says what the app runs.
  if (patch.runFromPackage.kind !== 'keep' && app.settings[RUN_FROM_ZIP] !== undefined)
    patch.remove.push(RUN_FROM_ZIP);
  if (inputs.dryRun) reasons.push('dry-run: nothing is changed.');

  // Microsoft: the ARM syncfunctiontriggers route "does not work for Linux Consumption"; the host-runtime one does
  // (microsoft/pipelines-appservice-lib#2; Azure/functions-action uses it there).
  const syncRoute: SyncRoute = linuxConsumption
    ? 'hostruntime/admin/host/synctriggers'
    : 'syncfunctiontriggers';
  return { operation, mode, hosting, os, reasons, conflict, backup, patch, storage, syncRoute };
}

function planWithPublishProfile(
  inputs: PlanInputs,
  previousKind: PreviousKind,
  describePrevious: string,
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

function describeStorage(s: StorageChoice): string {
  return s.kind === 'shared-key'
    ? `Packages are stored in account '${s.accountName}' with the account key from ${s.from === 'AzureWebJobsStorage' ? "the app's AzureWebJobsStorage" : 'storage-connection-string'}.`
    : `Packages are stored in account '${s.accountName}' (from ${s.from}) with Entra ID as the logged-in identity (needs Storage Blob Data Contributor).`;
}

/** What the plan needs to know of the package, once it is built or found. */
export interface PackageFacts {
  size: number;
}

/** A mounted package (run-from-package, by URL or =1) is at most 1 GB (Learn: deploy-run-package troubleshooting). */
export const MAX_MOUNTED_PACKAGE_BYTES = 1024 ** 3;

/** Pure: refuses a package the platform cannot take, before any write. */
export function admitPackage(plan: Plan, pkg: PackageFacts): void {
  if (pkg.size > MAX_MOUNTED_PACKAGE_BYTES) {
    throw new PlanError(
      `The package is ${(pkg.size / 1024 ** 3).toFixed(2)} GB; a package the app runs from (${plan.mode}) is at most 1 GB, and the platform cannot mount a larger one; nothing was changed`,
      {
        fix: 'Leave development dependencies and build output out of the package (.funcignore, exclude, npm ci --omit=dev)',
      },
    );
  }
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
