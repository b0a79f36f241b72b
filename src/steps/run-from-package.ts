import type { AppServiceApi, SiteRef, SyncRoute } from '../azure/appservice.js';
import type { StorageApi, StoredBlob } from '../azure/storage.js';
import type { RunContext } from '../context.js';
import { messageOf } from '../errors.js';
import type { Journal } from '../journal.js';
import type { Logger } from '../logger.js';
import type { Inspection, Package } from '../model.js';
import { type Plan, RUN_FROM_PACKAGE } from '../plan.js';
import { redactSas, sasSignatures, stripQuery } from '../redact.js';
import { Deadline, retry, statusOf } from '../retry.js';
import { sasExpiryWarning, writePackageSettings } from '../settings.js';
import { type PackageStore, storePackage } from '../store.js';

export interface RunFromPackageResult {
  /** The stored package blob the app now runs from. */
  blob: StoredBlob;
  /** Upload skipped: the same package (sha256) was already stored for this app and slot. */
  reused: boolean;
  /** The new WEBSITE_RUN_FROM_PACKAGE value (a secret when it carries a SAS; masked). */
  setting: string;
  sasExpiresAt: string | undefined;
}

/**
 * Uploads the package (or reuses a stored one), points WEBSITE_RUN_FROM_PACKAGE at it with a read-only SAS or
 * for the app's identity, then restarts and syncs triggers. Every write here is inside the guarded section.
 */
export async function runFromPackage(
  ctx: RunContext,
  args: {
    plan: Plan;
    pkg: Package;
    inspection: Inspection;
    journal: Journal;
    arm: { api: AppServiceApi; ref: SiteRef };
    storage: StorageApi;
    store: PackageStore;
  },
): Promise<RunFromPackageResult> {
  const { pkg, storage } = args;
  const { inputs, logger } = ctx;
  const { ref } = args.arm;
  const container = inputs.storageContainer;

  const { blob, reused } = await storePackage(ctx, args.store, storage, ref, pkg);

  let setting: string;
  let sasExpiresAt: string | undefined;
  if (inputs.packageAccess === 'managed-identity') setting = stripQuery(blob.url);
  else {
    const now = ctx.now();
    // Whole seconds: the SAS `se` carries no more, and sas-expires-at must say what the URL says.
    const expiresOn = new Date(Math.floor((now.getTime() + inputs.sasExpiryMs) / 1000) * 1000);
    // A start a few minutes back absorbs clock skew between the runner and storage.
    setting = await storage.readSasUrl(
      container,
      blob.blobName,
      new Date(now.getTime() - 5 * 60_000),
      expiresOn,
    );
    for (const sig of sasSignatures(setting)) logger.mask(sig);
    sasExpiresAt = expiresOn.toISOString();
    const warning = sasExpiryWarning(setting, 'The new package URL', now);
    if (warning) logger.warning(warning);
  }

  await writePackageSettings({
    arm: args.arm.api,
    ref,
    inspected: args.inspection.settings,
    patch: args.plan.patch,
    packageUrl: setting,
    journal: args.journal,
  });
  logger.info(`${RUN_FROM_PACKAGE} now points at ${redactSas(setting)}.`);
  // The settings write recycles the host; the restart makes the new package load now, and a sync during the
  // recycle is refused (400), so the sync comes after it and is retried until the host answers.
  if (inputs.restart) await args.arm.api.restart(ref);
  if (inputs.syncTriggers) await syncTriggers(args.arm.api, ref, args.plan.syncRoute, ctx.deadline, logger);
  return { blob, reused, setting, sasExpiresAt };
}

/** How long a sync may keep being refused while the host recycles, within the run's deadline. */
const SYNC_BUDGET_MS = 60_000;

/**
 * Syncs triggers on the route that works for the plan. While the host recycles ARM answers 400 ("from host
 * runtime"), so 400 and 5xx are retried for a while; a sync that still fails is a warning: verification, which
 * asks the platform what it loaded, decides whether the deploy worked.
 */
export async function syncTriggers(
  arm: AppServiceApi,
  ref: SiteRef,
  route: SyncRoute,
  deadline: Deadline,
  logger: Logger,
): Promise<boolean> {
  // Half the time left at most: verification, which has the last word, needs the rest.
  const budget = new Deadline(Math.min(SYNC_BUDGET_MS, deadline.remaining() / 2));
  try {
    await retry(() => arm.syncTriggers(ref, route), {
      label: 'sync triggers',
      deadline: budget,
      baseDelayMs: 1000,
      maxDelayMs: 10_000,
      isRetryable: (e) => {
        const s = statusOf(e);
        return s === 400 || (s !== undefined && s >= 500);
      },
      onRetry: ({ delayMs, error }) =>
        logger.info(
          `Sync refused while the host starts (${messageOf(error).slice(0, 160)}); retrying in ${delayMs} ms`,
        ),
    });
    return true;
  } catch (error) {
    logger.warning(
      `Could not sync triggers (${route}): ${redactSas(messageOf(error)).replace(/\.+$/, '')}. Verification decides whether the deploy worked.`,
    );
    return false;
  }
}
