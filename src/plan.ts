import { ActionError } from './errors.js';
import type { DeployMode, OnConflict, PackageAccess } from './inputs.js';

export const RUN_FROM_PACKAGE = 'WEBSITE_RUN_FROM_PACKAGE';
export const RUN_FROM_PACKAGE_MI = 'WEBSITE_RUN_FROM_PACKAGE_BLOB_MI_RESOURCE_ID';

export type Hosting = 'consumption' | 'elastic-premium' | 'flex-consumption' | 'dedicated';
export type Mode = 'zipdeploy' | 'run-from-package';

/** What inspection found; everything the plan depends on. */
export interface AppState {
  /** `properties.sku` of the site: Dynamic, ElasticPremium, FlexConsumption, Standard, … */
  siteSku: string;
  /** Site `kind`, e.g. `functionapp,linux`. */
  kind: string;
  settings: Readonly<Record<string, string>>;
}

/** The inputs the plan depends on. */
export interface PlanInputs {
  deployMode: DeployMode;
  onConflict: OnConflict;
  packageAccess: PackageAccess;
  managedIdentityResourceId: string;
  dryRun: boolean;
}

export type PreviousKind = 'url' | 'local-package' | 'off' | 'absent' | 'other';

/** How WEBSITE_RUN_FROM_PACKAGE and its companions change; applied to a fresh read of the settings. */
export interface SettingsPatch {
  /** `url` means "the new package URL", known only after upload. */
  runFromPackage: { kind: 'url' } | { kind: 'value'; value: string } | { kind: 'keep' };
  set: Record<string, string>;
  remove: string[];
}

export interface Plan {
  mode: Mode;
  hosting: Hosting;
  os: 'linux' | 'windows';
  /** Every decision, in order, as a sentence. */
  reasons: string[];
  previous: { kind: PreviousKind; value: string | undefined };
  /** Zipdeploy requested while the setting is a URL. */
  conflict: boolean;
  /** Set when a setting is replaced or removed: the backup must be stored before any write. */
  backup: { reason: string } | undefined;
  patch: SettingsPatch;
  dryRun: boolean;
}

/** A plan that cannot be carried out (Flex, a refused conflict, zipdeploy on Linux Consumption). */
export class PlanError extends ActionError {}

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

const HOSTING_LABEL: Record<Hosting, string> = {
  consumption: 'Consumption',
  'elastic-premium': 'Elastic Premium',
  'flex-consumption': 'Flex Consumption',
  dedicated: 'Dedicated (App Service plan)',
};

/** Pure: chooses the mode and the settings change from the inputs and the inspected app. */
export function planDeployment(inputs: PlanInputs, app: AppState): Plan {
  const hosting = classifyHosting(app.siteSku);
  const os = app.kind.toLowerCase().includes('linux') ? 'linux' : 'windows';
  const value = app.settings[RUN_FROM_PACKAGE];
  const previousKind = classifyPrevious(value);
  const where = `${os === 'linux' ? 'Linux' : 'Windows'} ${HOSTING_LABEL[hosting]}`;
  const reasons: string[] = [`The app runs on ${where} (site sku '${app.siteSku}', kind '${app.kind}').`];
  const describePrevious =
    previousKind === 'absent'
      ? `${RUN_FROM_PACKAGE} is not set`
      : previousKind === 'url'
        ? `${RUN_FROM_PACKAGE} is a package URL`
        : `${RUN_FROM_PACKAGE} is '${value}'`;

  if (hosting === 'flex-consumption') {
    throw new PlanError(
      `The app runs on Flex Consumption, which deploys through OneDeploy (/api/publish) and must not have ${RUN_FROM_PACKAGE}; this action does not deploy Flex apps yet`,
      { fix: "Deploy Flex apps with 'Azure/functions-action' or 'func azure functionapp publish'" },
    );
  }
  const linuxConsumption = hosting === 'consumption' && os === 'linux';

  let mode: Mode;
  if (inputs.deployMode === 'auto') {
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
    if (value?.trim() !== '1') {
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
  if (inputs.dryRun) reasons.push('dry-run: nothing is changed.');

  return {
    mode,
    hosting,
    os,
    reasons,
    previous: { kind: previousKind, value },
    conflict,
    backup,
    patch,
    dryRun: inputs.dryRun,
  };
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
    if (!packageUrl) throw new ActionError('Internal: the settings patch needs the package URL');
    next[RUN_FROM_PACKAGE] = packageUrl;
  }
  return next;
}

/** A stored package as retention sees it. */
export interface RetainedPackage {
  blobName: string;
  lastModified: Date;
}

/**
 * Pure: which packages of an app to delete. The `keep` newest stay, and nothing younger than `maxAgeDays`
 * beyond them; a protected package (the live one, the one just deployed, the previous one) always stays.
 */
export function packagesToDelete(
  packages: readonly RetainedPackage[],
  options: { keep: number; maxAgeDays: number; protect: readonly string[]; now: Date },
): string[] {
  const cutoff = options.now.getTime() - options.maxAgeDays * 86_400_000;
  const protectedNames = new Set(options.protect);
  return [...packages]
    .sort((a, b) => b.lastModified.getTime() - a.lastModified.getTime())
    .filter(
      (p, index) =>
        !protectedNames.has(p.blobName) && (index >= options.keep || p.lastModified.getTime() < cutoff),
    )
    .map((p) => p.blobName);
}
