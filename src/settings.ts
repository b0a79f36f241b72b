import type { AppServiceApi, SiteRef } from './azure/appservice.js';
import { parseConnectionString } from './azure/layout.js';
import { ActionError } from './errors.js';
import type { Logger } from './logger.js';
import {
  applySettingsPatch,
  RUN_FROM_PACKAGE,
  RUN_FROM_PACKAGE_MI,
  RUN_FROM_ZIP,
  type SettingsPatch,
} from './plan.js';
import { redactSas, sasExpiry, sasSignatures } from './redact.js';

/** The settings that say which package the app runs; a deploy changes these and nothing else. */
export const PACKAGE_SETTINGS = [RUN_FROM_PACKAGE, RUN_FROM_ZIP, RUN_FROM_PACKAGE_MI] as const;

/** The package settings that differ between two reads (names only: values may be secrets). */
export function changedPackageSettings(
  before: Readonly<Record<string, string>>,
  now: Readonly<Record<string, string>>,
): string[] {
  return PACKAGE_SETTINGS.filter((key) => before[key] !== now[key]);
}

/** Masks what a setting value carries that is secret: SAS signatures, account keys, whole connection strings. */
export function maskSettingValue(value: string | undefined, logger: Logger): void {
  if (!value) return;
  for (const sig of sasSignatures(value)) logger.mask(sig);
  const key = parseConnectionString(value)?.accountKey;
  if (key) {
    logger.mask(key);
    logger.mask(value);
  }
}

/**
 * Applies the plan's patch on top of a fresh read: ARM replaces the whole set, so everything else is kept as it
 * is now. Refuses to write over a change made since inspection (another deploy): nothing is written then.
 * Returns the value of WEBSITE_RUN_FROM_PACKAGE after the write.
 */
export async function writePackageSettings(args: {
  arm: AppServiceApi;
  ref: SiteRef;
  inspected: Readonly<Record<string, string>>;
  patch: SettingsPatch;
  packageUrl?: string;
  journal: { settingsWritten(settings: Readonly<Record<string, string>>): void };
}): Promise<string | undefined> {
  const fresh = await args.arm.listSettings(args.ref);
  const changed = changedPackageSettings(args.inspected, fresh);
  if (changed.length > 0) {
    const now = changed.map(
      (k) => `${k}=${fresh[k] === undefined ? '(absent)' : `'${redactSas(fresh[k])}'`}`,
    );
    throw new ActionError(
      `${changed.join(' and ')} changed on ${args.ref.name} since it was inspected (now ${now.join(', ')}); another deployment may be running. Nothing was written`,
      {
        fix: 'Re-run this deploy once the other deployment has finished (use a concurrency group to serialise deploys)',
      },
    );
  }
  const next = applySettingsPatch(fresh, args.patch, args.packageUrl);
  args.journal.settingsWritten(next);
  await args.arm.putSettings(args.ref, next);
  return next[RUN_FROM_PACKAGE];
}

/** A SAS this close to expiry is worth a warning: the platform re-reads the package on every restart. */
export const SAS_WARNING_MS = 30 * 86_400_000;

/** Pure: the warning for a package URL whose SAS has expired or expires within 30 days, if any. */
export function sasExpiryWarning(url: string | undefined, what: string, now: Date): string | undefined {
  const expiry = url ? sasExpiry(url) : undefined;
  if (!expiry) return undefined;
  const left = expiry.getTime() - now.getTime();
  if (left >= SAS_WARNING_MS) return undefined;
  return left <= 0
    ? `${what} has a SAS that expired on ${expiry.toISOString()}: the app cannot load it on its next restart.`
    : `${what} has a SAS that expires on ${expiry.toISOString()} (in ${Math.ceil(left / 86_400_000)} days): the app cannot load it after that.`;
}
