import type { SyncRoute } from './azure/appservice.js';
import { parseBlobUrl } from './azure/layout.js';
import { PlanError } from './errors.js';
import {
  type AppState,
  chooseStorage,
  classifyHosting,
  classifyPrevious,
  describeStorage,
  flexRelease,
  HOSTING_LABEL,
  isContainerApp,
  type PackageFacts,
  type Plan,
  type PlanInputs,
  packageSetting,
  planDeployment,
  RUN_FROM_PACKAGE,
  RUN_FROM_PACKAGE_MI,
  type SettingsPatch,
} from './plan.js';
import { redactSas, sasExpiry } from './redact.js';

/** Pure: the plans of the operations that are not a deploy: `rotate-sas` and `status`. */

export type OperationPlanInputs = PlanInputs & { rotateWithinMs: number };

const DAY = 86_400_000;
const KEEP: SettingsPatch = { runFromPackage: { kind: 'keep' }, set: {}, remove: [] };

function hostingReason(app: AppState): { reason: string; linuxConsumption: boolean; flex: boolean } {
  const site = app.site;
  if (!site) return { reason: 'No ARM view of the site.', linuxConsumption: false, flex: false };
  const hosting = classifyHosting(site.sku);
  const linux = site.kind.toLowerCase().includes('linux');
  return {
    reason: `The app runs on ${linux ? 'Linux' : 'Windows'} ${HOSTING_LABEL[hosting]} (site sku '${site.sku}', kind '${site.kind}').`,
    linuxConsumption: hosting === 'consumption' && linux,
    flex: hosting === 'flex-consumption',
  };
}

function base(operation: 'rotate-sas' | 'status', app: AppState, reasons: string[]): Plan {
  const site = app.site;
  const hosting = site ? classifyHosting(site.sku) : undefined;
  const linuxConsumption = hosting === 'consumption' && site?.kind.toLowerCase().includes('linux');
  const syncRoute: SyncRoute = linuxConsumption
    ? 'hostruntime/admin/host/synctriggers'
    : 'syncfunctiontriggers';
  return {
    operation,
    mode: 'run-from-package',
    hosting,
    os: site?.kind.toLowerCase().includes('linux') ? 'linux' : 'windows',
    reasons,
    conflict: false,
    backup: undefined,
    patch: KEEP,
    storage: undefined,
    syncRoute,
    remoteBuild: false,
    release: undefined,
    rotation: undefined,
  };
}

/**
 * rotate-sas: re-signs the live package URL when its SAS expires within `rotate-within`, for the same blob, with
 * a fresh read-only HTTPS SAS of `sas-expiry`. Nothing to rotate (no URL, an identity-read URL, Flex) is said and
 * is a success; a URL the action cannot sign (user delegation, another account, no key) is refused with the fix.
 */
export function planRotation(inputs: OperationPlanInputs, app: AppState, now: Date): Plan {
  const { reason, flex } = hostingReason(app);
  const reasons = [reason];
  if (app.site && !app.site.kind.toLowerCase().includes('functionapp'))
    throw new PlanError(`${inputs.appName} is not a Function App (site kind '${app.site.kind}')`, {
      fix: 'Check app-name',
    });
  const value = packageSetting(app.settings);
  const nothing = (why: string): Plan => {
    reasons.push(`rotate-sas: ${why}: nothing to rotate.`);
    return {
      ...base('rotate-sas', app, reasons),
      rotation: { state: 'nothing-to-rotate', expiresAt: undefined, blob: undefined, container: undefined },
    };
  };
  if (flex) return nothing('Flex Consumption runs its released package, with no package URL');
  if (app.site && isContainerApp(app.site)) return nothing('the app runs a container image');
  if (classifyPrevious(value) !== 'url')
    return nothing(
      `${RUN_FROM_PACKAGE} is ${value === undefined ? 'not set' : `'${value}'`}, not a package URL, so there is no SAS`,
    );
  const url = value as string;
  const query = new URL(url.trim()).searchParams;
  if (!query.has('sig')) {
    return nothing(
      app.settings[RUN_FROM_PACKAGE_MI] !== undefined
        ? `the app reads its package with its managed identity (${RUN_FROM_PACKAGE_MI}), which never expires`
        : 'the package URL carries no SAS',
    );
  }
  if (query.has('skoid')) {
    throw new PlanError(
      'The live package URL carries a user-delegation SAS (signed with Entra ID, at most 7 days), which cannot be re-signed for longer; nothing was changed',
      {
        fix: 'Deploy again with package-access: managed-identity (no SAS to expire), or with storage-connection-string so the SAS is signed with the account key',
      },
    );
  }
  const storage = chooseStorage(inputs, app);
  const location = parseBlobUrl(url);
  if (!location || location.endpoint.toLowerCase() !== storage.blobEndpoint.toLowerCase()) {
    throw new PlanError(
      `The live package URL points at ${location ? `account '${location.account}'` : 'something that is not a blob'}, not at the account the action can sign for ('${storage.accountName}'); nothing was changed`,
      { fix: 'Pass storage-connection-string (or storage-account) of the account the URL points at' },
    );
  }
  if (storage.kind !== 'shared-key') {
    throw new PlanError(
      `The package storage '${storage.accountName}' is reached with Entra ID, which signs only user-delegation SASs (at most 7 days); a key is needed to re-sign the URL; nothing was changed`,
      { fix: 'Pass storage-connection-string, or deploy again with package-access: managed-identity' },
    );
  }
  reasons.push(describeStorage(storage));
  const expires = sasExpiry(url);
  const left = expires ? expires.getTime() - now.getTime() : -1;
  const within = Math.round(inputs.rotateWithinMs / DAY);
  if (expires && left >= inputs.rotateWithinMs) {
    reasons.push(
      `rotate-sas: the SAS expires on ${expires.toISOString()} (in ${Math.floor(left / DAY)} days), beyond rotate-within (${within} days): not due until ${new Date(expires.getTime() - inputs.rotateWithinMs).toISOString()}.`,
    );
    return {
      ...base('rotate-sas', app, reasons),
      storage,
      rotation: {
        state: 'not-due',
        expiresAt: expires.toISOString(),
        blob: location.name,
        container: location.container,
      },
    };
  }
  reasons.push(
    expires && left > 0
      ? `rotate-sas: the SAS expires on ${expires.toISOString()} (in ${Math.ceil(left / DAY)} days), within rotate-within (${within} days): a fresh read-only HTTPS SAS is signed for the same blob.`
      : `rotate-sas: the SAS ${expires ? `expired on ${expires.toISOString()}` : 'has no expiry the action can read'}: a fresh read-only HTTPS SAS is signed for the same blob.`,
  );
  reasons.push('The URL with the old SAS is backed up as an artifact before it is replaced.');
  if (inputs.dryRun) reasons.push('dry-run: nothing is changed.');
  return {
    ...base('rotate-sas', app, reasons),
    backup: { reason: `SAS rotation: ${RUN_FROM_PACKAGE} re-signed for the same blob '${location.name}'` },
    patch: { runFromPackage: { kind: 'url' }, set: {}, remove: [] },
    storage,
    rotation: {
      state: 'due',
      expiresAt: expires?.toISOString(),
      blob: location.name,
      container: location.container,
    },
  };
}

/** status: read-only; the storage is read where the action can reach it, for the live package and the history. */
export function planStatus(inputs: OperationPlanInputs, app: AppState): Plan {
  const { reason, flex } = hostingReason(app);
  const reasons = [
    reason,
    'status: a read-only check of what the app runs against what was deployed; nothing is written.',
  ];
  let storage: Plan['storage'];
  try {
    storage = chooseStorage(inputs, app);
    reasons.push(describeStorage(storage).replace('Packages are stored', 'Stored packages are read'));
  } catch (error) {
    reasons.push(
      `The package store cannot be read (${redactSas((error as Error).message.split('.')[0] ?? '')}): the history is not shown.`,
    );
  }
  const plan = { ...base('status', app, reasons), storage };
  const config = app.site?.flex;
  if (!flex || !config) return plan;
  let release: Plan['release'];
  try {
    release = flexRelease(config, app);
  } catch {
    reasons.push('The Flex deployment storage cannot be read: what the app runs is not checked.');
  }
  return { ...plan, mode: 'one-deploy', release };
}

/**
 * Pure: the plan of the run's operation. Without `pkg` it is the early plan (what cannot work stops before the
 * package is awaited); with it, the deploy's final one. A rotation is decided without a package.
 */
export function planFor(
  operation: 'deploy' | 'rotate-sas' | 'status',
  inputs: OperationPlanInputs,
  app: AppState,
  now: Date,
  pkg?: PackageFacts,
): Plan {
  if (operation === 'status') return planStatus(inputs, app);
  if (operation === 'rotate-sas') return planRotation(inputs, app, now);
  return planDeployment(inputs, app, pkg);
}
