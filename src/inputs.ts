import { InputError } from './errors.js';
import { DEFAULT_COMPRESSION_LEVEL } from './package/index.js';

/** Input names as declared in action.yml. */
export const Inputs = {
  AppName: 'app-name',
  ResourceGroup: 'resource-group',
  SubscriptionId: 'subscription-id',
  SlotName: 'slot-name',
  Package: 'package',
  DeployMode: 'deploy-mode',
  OnConflict: 'on-conflict',
  PackageAccess: 'package-access',
  ManagedIdentityResourceId: 'managed-identity-resource-id',
  SasExpiry: 'sas-expiry',
  StorageAccount: 'storage-account',
  StorageConnectionString: 'storage-connection-string',
  StorageContainer: 'storage-container',
  DeploymentId: 'deployment-id',
  PublishProfile: 'publish-profile',
  Exclude: 'exclude',
  CompressionLevel: 'compression-level',
  Restart: 'restart',
  SyncTriggers: 'sync-triggers',
  Verify: 'verify',
  RollbackOnFailure: 'rollback-on-failure',
  RollbackTo: 'rollback-to',
  RetainPackages: 'retain-packages',
  RetainDays: 'retain-days',
  DryRun: 'dry-run',
  Timeout: 'timeout',
  ResourceManagerEndpoint: 'resource-manager-endpoint',
  RemoteBuild: 'remote-build',
  Operation: 'operation',
  RotateWithin: 'rotate-within',
  FailOnDrift: 'fail-on-drift',
  History: 'history',
} as const;

export type DeployMode = 'auto' | 'zipdeploy' | 'run-from-package';
export type OnConflict = 'backup-and-replace' | 'fail';
export type PackageAccess = 'sas' | 'managed-identity';
export type RemoteBuild = 'auto' | 'true' | 'false';
/** `deploy` (and rollback-to); `rotate-sas` re-signs the live package URL when due; `status` changes nothing. */
export type OperationInput = 'deploy' | 'rotate-sas' | 'status';

export interface PublishProfile {
  /** Kudu origin, e.g. https://app.scm.azurewebsites.net */
  scmUrl: string;
  userName: string;
  password: string;
  /** `msdeploySite`: `app`, or `app__slot` for a slot; empty when the profile does not say. */
  siteName: string;
}

/**
 * Pure: refuses a publish profile for another app or slot than app-name/slot-name (it would deploy that other
 * app and report success for this one). The site comes from `msdeploySite`, else from the SCM host name.
 */
export function checkProfileTarget(profile: PublishProfile, appName: string, slot: string | undefined): void {
  const expectedSite = (slot ? `${appName}__${slot}` : appName).toLowerCase();
  const expectedHost = (slot ? `${appName}-${slot}` : appName).toLowerCase();
  const host = new URL(profile.scmUrl).hostname.split('.')[0]?.toLowerCase();
  const matches = profile.siteName ? profile.siteName.toLowerCase() === expectedSite : host === expectedHost;
  if (!matches) {
    const names = profile.siteName
      ? `site '${profile.siteName}'`
      : `SCM host '${new URL(profile.scmUrl).hostname}'`;
    throw new InputError(
      `Input '${Inputs.PublishProfile}' is for ${names}, not for ${slot ? `slot '${slot}' of ` : ''}'${appName}' (${Inputs.AppName}${slot ? ` and ${Inputs.SlotName}` : ''}); nothing was changed`,
      {
        fix: `Download the publish profile of ${slot ? `the '${slot}' slot of ` : ''}'${appName}', or correct ${Inputs.AppName}/${Inputs.SlotName}`,
      },
    );
  }
}

export interface ActionInputs {
  operation: OperationInput;
  /** rotate-sas: rotate when the live SAS expires sooner than this (milliseconds); status: warn within it. */
  rotateWithinMs: number;
  /** status: exit non-zero when drift is found. */
  failOnDrift: boolean;
  /** status: how many stored deployments the history table lists. */
  history: number;
  /** Function App name. */
  appName: string;
  /** Resource group; undefined means "look the app up in the subscription". */
  resourceGroup: string | undefined;
  /** Subscription; undefined means "the logged-in az account". */
  subscriptionId: string | undefined;
  /** Slot; undefined means production. */
  slot: string | undefined;
  /** Path of the folder, zip or ARM template to deploy, as given (resolved against the workspace later). */
  packagePath: string;
  deployMode: DeployMode;
  onConflict: OnConflict;
  packageAccess: PackageAccess;
  /** `SystemAssigned` or a user-assigned identity resource id. */
  managedIdentityResourceId: string;
  /** SAS lifetime in milliseconds. */
  sasExpiryMs: number;
  storageAccount: string | undefined;
  storageConnectionString: string | undefined;
  storageContainer: string;
  deploymentId: string | undefined;
  publishProfile: PublishProfile | undefined;
  exclude: string[];
  compressionLevel: number;
  restart: boolean;
  syncTriggers: boolean;
  verify: boolean;
  rollbackOnFailure: boolean;
  /** A deployment id or package URL to redeploy, the way the app runs, without packaging. */
  rollbackTo: string | undefined;
  /** Build on the platform (Oryx): `auto` for a Python app whose requirements are not in the package. */
  remoteBuild: RemoteBuild;
  retainPackages: number;
  retainDays: number;
  dryRun: boolean;
  /** Bound on every wait, in milliseconds. */
  timeoutMs: number;
  resourceManagerEndpoint: string | undefined;
}

/** Reads one input; injected so tests can parse a plain object. */
export type InputReader = (name: string) => string;

export const MAX_SAS_EXPIRY_MS = 10 * 365.25 * 24 * 3600 * 1000;

const UNITS: Record<string, number> = {
  s: 1000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
  w: 7 * 86_400_000,
  y: 365.25 * 86_400_000,
};

/** Parses `90s`, `20m`, `12h`, `365d`, `2w`, `1y` (a bare number is seconds). */
export function parseDuration(value: string, input: string): number {
  const match = /^(\d+(?:\.\d+)?)\s*([smhdwy]?)$/i.exec(value.trim());
  if (!match?.[1]) {
    throw new InputError(`Input '${input}' has an invalid duration '${value}'`, {
      fix: 'Use a number followed by s, m, h, d, w or y, e.g. 20m or 365d',
    });
  }
  const unit = (match[2] || 's').toLowerCase();
  return Math.round(Number(match[1]) * (UNITS[unit] ?? 1000));
}

function choice<T extends string>(value: string, input: string, allowed: readonly T[], fallback: T): T {
  const v = value.trim().toLowerCase();
  if (v === '') return fallback;
  if ((allowed as readonly string[]).includes(v)) return v as T;
  throw new InputError(
    `Input '${input}' must be one of ${allowed.map((a) => `'${a}'`).join(', ')}, got '${value}'`,
    {
      fix: `Set '${input}' to one of the listed values`,
    },
  );
}

function bool(value: string, input: string, fallback: boolean): boolean {
  const v = value.trim().toLowerCase();
  if (v === '') return fallback;
  if (['true', 'yes', '1', 'on'].includes(v)) return true;
  if (['false', 'no', '0', 'off'].includes(v)) return false;
  throw new InputError(`Input '${input}' must be true or false, got '${value}'`, {
    fix: `Set '${input}' to true or false`,
  });
}

function int(value: string, input: string, fallback: number, min: number, max: number): number {
  const v = value.trim();
  if (v === '') return fallback;
  if (!/^\d+$/.test(v) || Number(v) < min || Number(v) > max) {
    throw new InputError(`Input '${input}' must be an integer from ${min} to ${max}, got '${value}'`, {
      fix: `Set '${input}' to a whole number in that range`,
    });
  }
  return Number(v);
}

function optional(value: string): string | undefined {
  const v = value.trim();
  return v === '' ? undefined : v;
}

const APP_NAME = /^[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,58}[a-zA-Z0-9])?$/;
const CONTAINER = /^[a-z0-9](?!.*--)[a-z0-9-]{1,61}[a-z0-9]$/;
const DEPLOYMENT_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/;
const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Reads `<publishProfile>` entries of the MSDeploy/ZipDeploy profile; only what Kudu basic auth needs. */
export function parsePublishProfile(xml: string): PublishProfile {
  const profiles = [...xml.matchAll(/<publishProfile\b([^>]*)\/?>/gi)].map((m) => m[1] ?? '');
  const attr = (attrs: string, name: string) => new RegExp(`\\b${name}="([^"]*)"`, 'i').exec(attrs)?.[1];
  const chosen = profiles.find((p) => /publishMethod="(ZipDeploy|MSDeploy)"/i.test(p)) ?? profiles[0];
  const userName = chosen && attr(chosen, 'userName');
  const password = chosen && attr(chosen, 'userPWD');
  const publishUrl = chosen && attr(chosen, 'publishUrl');
  if (!chosen || !userName || !password || !publishUrl) {
    throw new InputError(
      "Input 'publish-profile' is not a publish profile with userName, userPWD and publishUrl",
      {
        fix: "Paste the whole file downloaded with 'Get publish profile' into a secret and pass that secret",
      },
    );
  }
  const host = publishUrl
    .replace(/^https?:\/\//i, '')
    .replace(/\/.*$/, '')
    .replace(/:443$/, '');
  return {
    scmUrl: `https://${host}`,
    userName: decodeXml(userName),
    password: decodeXml(password),
    siteName: decodeXml(attr(chosen, 'msdeploySite') ?? ''),
  };
}

function decodeXml(s: string): string {
  return s
    .replace(/&quot;/g, '"')
    .replace(/&apos;/g, "'")
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&amp;/g, '&');
}

/** Parses and validates every input; throws InputError naming the input and the fix, before any network call. */
export function getInputs(read: InputReader): ActionInputs {
  const appName = read(Inputs.AppName).trim();
  if (!appName)
    throw new InputError(`Input '${Inputs.AppName}' is required`, { fix: 'Set it to the Function App name' });
  if (!APP_NAME.test(appName)) {
    throw new InputError(`Input '${Inputs.AppName}' is not a valid Function App name: '${appName}'`, {
      fix: 'Use the name only (letters, digits, hyphens), not the URL',
    });
  }
  const subscriptionId = optional(read(Inputs.SubscriptionId));
  if (subscriptionId && !GUID.test(subscriptionId)) {
    throw new InputError(
      `Input '${Inputs.SubscriptionId}' must be a subscription GUID, got '${subscriptionId}'`,
      {
        fix: 'Use the subscription id, not its name',
      },
    );
  }
  const slotRaw = optional(read(Inputs.SlotName));
  const slot = slotRaw && slotRaw.toLowerCase() !== 'production' ? slotRaw : undefined;

  const sasExpiryMs = parseDuration(read(Inputs.SasExpiry) || '365d', Inputs.SasExpiry);
  if (sasExpiryMs > MAX_SAS_EXPIRY_MS) {
    throw new InputError(`Input '${Inputs.SasExpiry}' exceeds 10 years`, {
      fix: "Use a shorter lifetime, or 'package-access: managed-identity' for a package URL that never expires",
    });
  }
  if (sasExpiryMs < 3_600_000) {
    throw new InputError(`Input '${Inputs.SasExpiry}' is shorter than 1 hour`, {
      fix: 'The platform fetches the package on every restart: give the SAS a lifetime of days, not minutes',
    });
  }
  const timeoutMs = parseDuration(read(Inputs.Timeout) || '20m', Inputs.Timeout);
  if (timeoutMs < 1000) {
    throw new InputError(`Input '${Inputs.Timeout}' must be at least 1s`, { fix: 'Use e.g. 20m' });
  }

  const storageContainer = (read(Inputs.StorageContainer) || 'deployments').trim();
  if (!CONTAINER.test(storageContainer)) {
    throw new InputError(
      `Input '${Inputs.StorageContainer}' is not a valid container name: '${storageContainer}'`,
      {
        fix: 'Use 3 to 63 lowercase letters, digits and single hyphens',
      },
    );
  }
  const deploymentId = optional(read(Inputs.DeploymentId));
  if (deploymentId && !DEPLOYMENT_ID.test(deploymentId)) {
    throw new InputError(
      `Input '${Inputs.DeploymentId}' may only contain letters, digits, '.', '_' and '-'`,
      {
        fix: 'It names a blob folder: use e.g. 20261121T101500Z-abc1234',
      },
    );
  }
  const profileXml = optional(read(Inputs.PublishProfile));
  const publishProfile = profileXml ? parsePublishProfile(profileXml) : undefined;
  if (publishProfile) checkProfileTarget(publishProfile, appName, slot);
  const deployMode = choice<DeployMode>(
    read(Inputs.DeployMode),
    Inputs.DeployMode,
    ['auto', 'zipdeploy', 'run-from-package'],
    'auto',
  );
  if (publishProfile && deployMode === 'run-from-package') {
    throw new InputError(
      `Input '${Inputs.PublishProfile}' allows zipdeploy only, but '${Inputs.DeployMode}' is run-from-package`,
      {
        fix: 'Log in with azure/login (ARM access) for run-from-package, or use deploy-mode: zipdeploy',
      },
    );
  }
  const rollbackTo = optional(read(Inputs.RollbackTo));
  if (rollbackTo && publishProfile) {
    throw new InputError(
      `Input '${Inputs.RollbackTo}' redeploys a package from the storage account, which needs ARM`,
      {
        fix: 'Use it with azure/login, not publish-profile',
      },
    );
  }
  if (rollbackTo && !DEPLOYMENT_ID.test(rollbackTo) && !/^https:\/\//i.test(rollbackTo)) {
    throw new InputError(`Input '${Inputs.RollbackTo}' must be a deployment id or an https package URL`, {
      fix: 'Use the deployment-id output of the run to go back to',
    });
  }
  const storageAccount = optional(read(Inputs.StorageAccount));
  if (storageAccount && !/^[a-z0-9]{3,24}$/.test(storageAccount) && !/^https:\/\//i.test(storageAccount)) {
    throw new InputError(
      `Input '${Inputs.StorageAccount}' must be an account name or an https blob endpoint, got '${storageAccount}'`,
      {
        fix: 'Use the account name (3 to 24 lowercase letters and digits)',
      },
    );
  }
  const rmEndpoint = optional(read(Inputs.ResourceManagerEndpoint));
  if (rmEndpoint && !/^https:\/\//i.test(rmEndpoint)) {
    throw new InputError(`Input '${Inputs.ResourceManagerEndpoint}' must be an https URL`, {
      fix: 'e.g. https://management.usgovcloudapi.net',
    });
  }

  const operation = choice<OperationInput>(
    read(Inputs.Operation),
    Inputs.Operation,
    ['deploy', 'rotate-sas', 'status'],
    'deploy',
  );
  if (operation !== 'deploy' && rollbackTo) {
    throw new InputError(`Input '${Inputs.RollbackTo}' belongs to operation deploy, not ${operation}`, {
      fix: `Remove ${Inputs.RollbackTo}, or set ${Inputs.Operation}: deploy`,
    });
  }
  if (operation !== 'deploy' && publishProfile) {
    throw new InputError(
      `Operation ${operation} reads the app through ARM, which a publish profile does not give`,
      {
        fix: 'Log in with azure/login instead of a publish profile',
      },
    );
  }
  const rotateWithinMs = parseDuration(read(Inputs.RotateWithin) || '30d', Inputs.RotateWithin);

  return {
    operation,
    rotateWithinMs,
    failOnDrift: bool(read(Inputs.FailOnDrift), Inputs.FailOnDrift, false),
    history: int(read(Inputs.History), Inputs.History, 10, 1, 100),
    appName,
    resourceGroup: optional(read(Inputs.ResourceGroup)),
    subscriptionId,
    slot,
    packagePath: optional(read(Inputs.Package)) ?? '.',
    deployMode,
    onConflict: choice<OnConflict>(
      read(Inputs.OnConflict),
      Inputs.OnConflict,
      ['backup-and-replace', 'fail'],
      'backup-and-replace',
    ),
    packageAccess: choice<PackageAccess>(
      read(Inputs.PackageAccess),
      Inputs.PackageAccess,
      ['sas', 'managed-identity'],
      'sas',
    ),
    managedIdentityResourceId: optional(read(Inputs.ManagedIdentityResourceId)) ?? 'SystemAssigned',
    sasExpiryMs,
    storageAccount,
    storageConnectionString: optional(read(Inputs.StorageConnectionString)),
    storageContainer,
    deploymentId,
    publishProfile,
    exclude: read(Inputs.Exclude)
      .split(/\r?\n/)
      .map((l) => l.trim())
      .filter((l) => l !== '' && !l.startsWith('#')),
    compressionLevel: int(
      read(Inputs.CompressionLevel),
      Inputs.CompressionLevel,
      DEFAULT_COMPRESSION_LEVEL,
      0,
      9,
    ),
    restart: bool(read(Inputs.Restart), Inputs.Restart, true),
    syncTriggers: bool(read(Inputs.SyncTriggers), Inputs.SyncTriggers, true),
    verify: bool(read(Inputs.Verify), Inputs.Verify, true),
    rollbackOnFailure: bool(read(Inputs.RollbackOnFailure), Inputs.RollbackOnFailure, true),
    rollbackTo,
    remoteBuild: choice<RemoteBuild>(
      read(Inputs.RemoteBuild),
      Inputs.RemoteBuild,
      ['auto', 'true', 'false'],
      'auto',
    ),
    retainPackages: int(read(Inputs.RetainPackages), Inputs.RetainPackages, 10, 1, 1000),
    retainDays: int(read(Inputs.RetainDays), Inputs.RetainDays, 90, 1, 36500),
    dryRun: bool(read(Inputs.DryRun), Inputs.DryRun, false),
    timeoutMs,
    resourceManagerEndpoint: rmEndpoint?.replace(/\/+$/, ''),
  };
}
