import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { StoredArtifact } from '../artifacts.js';
import type { AppServiceApi, SiteRef } from '../azure/appservice.js';
import type { KuduApi } from '../azure/kudu.js';
import type { StorageApi } from '../azure/storage.js';
import type { RunContext } from '../context.js';
import { messageOf } from '../errors.js';
import type { Journal } from '../journal.js';
import { type Inspection, type KeptRelease, RELEASED_PACKAGE } from '../model.js';
import { type Mode, RUN_FROM_PACKAGE } from '../plan.js';
import { redactSas } from '../redact.js';
import { Deadline } from '../retry.js';
import { changedPackageSettings, PACKAGE_SETTINGS } from '../settings.js';
import { sha256File } from '../store.js';

/** What a restore did, as the final message and the record tell it. */
export type RestoreOutcome =
  | 'nothing-changed'
  | 'restored'
  | 'restored-restart-refused'
  | 'not-restored'
  | 'not-attempted';

export interface Restoration {
  outcome: RestoreOutcome;
  /** One or two sentences for the final message, the summary and the record. */
  detail: string;
}

/** The restore's own budget: a deploy that timed out (its main trigger) still gets its restore. */
export const RESTORE_GRACE_MS = 120_000;

type Part =
  | { state: 'untouched' | 'restored'; detail: string }
  | { state: 'failed' | 'left'; detail: string };

/**
 * Puts back what this run changed: the package settings, and for an app that runs from =1 the package itself
 * (the copy kept before the zipdeploy, deployed again). Each is re-read first and compared: a write that was
 * refused or never applied is "nothing was changed"; one applied but unanswered is still undone; a change someone
 * else made since is left alone and said. Runs on its own grace deadline with the shared retry helper.
 */
export async function restore(
  ctx: RunContext,
  args: {
    /** ARM clients on a given deadline; undefined with a publish profile (settings were never written). */
    arm: { ref: SiteRef; on(deadline: Deadline): AppServiceApi } | undefined;
    /** Kudu on a given deadline, for an app whose package is restored by zipdeploy. */
    kuduOn: ((deadline: Deadline) => KuduApi) | undefined;
    mode: Mode;
    inspection: Inspection;
    journal: Journal;
    /** Where the previous value is kept, to name in "restore by hand". */
    backup: StoredArtifact | undefined;
    /** Flex: the package the app ran, kept before the publish, and where the platform keeps the one it runs. */
    kept: KeptRelease | undefined;
    release?: { api: StorageApi; container: string };
    graceMs?: number;
  },
): Promise<Restoration> {
  const grace = new Deadline(args.graceMs ?? RESTORE_GRACE_MS);
  const arm = args.arm ? { api: args.arm.on(grace), ref: args.arm.ref } : undefined;
  if (args.mode === 'one-deploy') return restoreRelease(ctx, args.kuduOn?.(grace), args);
  const settings = await restoreSettings(ctx, arm, args);
  const content =
    settings.state === 'failed' || settings.state === 'left'
      ? undefined
      : await restoreContent(
          ctx,
          args.kuduOn?.(grace),
          args.journal,
          args.inspection.settings[RUN_FROM_PACKAGE],
        );
  const parts = [settings, ...(content ? [content] : [])];
  const detail = parts.map((p) => p.detail).join(' ');
  if (parts.some((p) => p.state === 'failed')) return { outcome: 'not-restored', detail };
  if (parts.some((p) => p.state === 'left'))
    return { outcome: ctx.inputs.rollbackOnFailure ? 'not-restored' : 'not-attempted', detail };
  if (!parts.some((p) => p.state === 'restored')) return { outcome: 'nothing-changed', detail };
  if (arm && args.mode === 'run-from-package' && ctx.inputs.restart && settings.state === 'restored') {
    try {
      await arm.api.restart(arm.ref);
    } catch (error) {
      return {
        outcome: 'restored-restart-refused',
        detail: `${detail} But the restart was refused (${redactSas(messageOf(error))}): restart the app so it loads the previous package.`,
      };
    }
  }
  ctx.logger.warning(`Rolled back: ${detail}`);
  return { outcome: 'restored', detail };
}

async function restoreSettings(
  ctx: RunContext,
  arm: { api: AppServiceApi; ref: SiteRef } | undefined,
  args: { inspection: Inspection; journal: Journal; backup: StoredArtifact | undefined },
): Promise<Part> {
  const written = args.journal.settings;
  if (!arm || !written) return { state: 'untouched', detail: 'Nothing was changed in the app settings.' };
  const inspected = args.inspection.settings;
  const previous = inspected[RUN_FROM_PACKAGE];
  const byHand = args.backup
    ? `restore ${RUN_FROM_PACKAGE} by hand from the backup artifact '${args.backup.name}'`
    : `restore ${RUN_FROM_PACKAGE} by hand to ${previous === undefined ? '(absent: delete it)' : `'${redactSas(previous)}'`}`;
  let now: Record<string, string>;
  try {
    now = await arm.api.listSettings(arm.ref);
  } catch (error) {
    return {
      state: 'failed',
      detail: `Not restored: the app settings could not be read back (${redactSas(messageOf(error))}); ${byHand}.`,
    };
  }
  if (changedPackageSettings(inspected, now).length === 0) {
    return {
      state: 'untouched',
      detail: 'Nothing was changed in the app settings: the settings write did not take effect.',
    };
  }
  const ours = changedPackageSettings(written, now);
  if (ours.length > 0) {
    return {
      state: 'failed',
      detail: `Not restored: ${ours.join(' and ')} changed again after this run wrote it (another deployment?), so it was left as it is; check the app and ${byHand}.`,
    };
  }
  if (!ctx.inputs.rollbackOnFailure) {
    return {
      state: 'left',
      detail: `rollback-on-failure is off: the package settings were left as the failed deploy set them; ${byHand}.`,
    };
  }
  const restored = { ...now };
  for (const key of PACKAGE_SETTINGS) {
    const before = inspected[key];
    if (before === undefined) delete restored[key];
    else restored[key] = before;
  }
  try {
    await arm.api.putSettings(arm.ref, restored);
    const still = changedPackageSettings(inspected, await arm.api.listSettings(arm.ref));
    if (still.length > 0) throw new Error(`a fresh read still shows ${still.join(' and ')} changed`);
  } catch (error) {
    return { state: 'failed', detail: `Not restored (${redactSas(messageOf(error))}); ${byHand}.` };
  }
  return {
    state: 'restored',
    detail: `${RUN_FROM_PACKAGE} was restored to ${previous === undefined ? '(absent)' : redactSas(previous)} and verified by a fresh read.`,
  };
}

/**
 * The app's content, when this run sent Kudu a package: an =1 app whose package Kudu switched is given back the
 * copy kept before. Kudu's packagename.txt is re-read first: a deployment that failed left the package in place.
 */
async function restoreContent(
  ctx: RunContext,
  kudu: KuduApi | undefined,
  journal: Journal,
  previousSetting: string | undefined,
): Promise<Part | undefined> {
  const sent = journal.content;
  if (!sent) return undefined;
  const ranLocalPackage = previousSetting?.trim() === '1';
  // =1 mounts data/SitePackages over wwwroot, so the side Kudu did not write to is what runs once the settings
  // are back: a new zip in SitePackages is unused without =1, and a new wwwroot is hidden under =1.
  if ((sent === 'sitepackages') !== ranLocalPackage) {
    return {
      state: 'untouched',
      detail: `What Kudu received went to ${sent === 'sitepackages' ? 'data/SitePackages' : 'site/wwwroot'}, which the app does not run from once its settings are back.`,
    };
  }
  const kept = journal.previousPackage;
  if (sent === 'wwwroot' || !kept || !kudu) {
    return {
      state: 'failed',
      detail: `The files Kudu received (${sent === 'wwwroot' ? 'site/wwwroot' : 'a new zip in data/SitePackages'}) were not rolled back: redeploy the previous package by hand.`,
    };
  }
  try {
    if ((await kudu.sitePackageName()) === kept.name)
      return {
        state: 'untouched',
        detail: `The app still runs its previous package (data/SitePackages/${kept.name}).`,
      };
    if (!ctx.inputs.rollbackOnFailure) {
      return {
        state: 'left',
        detail: `rollback-on-failure is off: the app runs the failed package; its previous one was data/SitePackages/${kept.name}.`,
      };
    }
    await kudu.waitForSettings({ [RUN_FROM_PACKAGE]: '1' });
    const deployment = await kudu.zipDeploy(
      kept.file,
      `Restore of ${kept.name} after deployment ${ctx.deploymentId} failed (azure-functions-package-deploy)`,
    );
    return {
      state: 'restored',
      detail: `The previous package (data/SitePackages/${kept.name}) was deployed again by zipdeploy (Kudu deployment ${deployment.id}).`,
    };
  } catch (error) {
    return {
      state: 'failed',
      detail: `The previous package (data/SitePackages/${kept.name}) could not be deployed again (${redactSas(messageOf(error))}): redeploy it by hand.`,
    };
  }
}

/**
 * Flex: publishes the package the app ran before again (it was kept, already built), unless the platform still
 * runs it (a publish that failed leaves it in place). A package setting removed for Flex stays removed: the
 * platform does not support it, and its value is in the backup artifact.
 */
async function restoreRelease(
  ctx: RunContext,
  kudu: KuduApi | undefined,
  args: {
    journal: Journal;
    kept: KeptRelease | undefined;
    release?: { api: StorageApi; container: string };
  },
): Promise<Restoration> {
  const removed = args.journal.settings
    ? ' The settings removed for Flex stay removed (not supported there; the backup artifact holds their values).'
    : '';
  if (!args.journal.content)
    return { outcome: 'nothing-changed', detail: `Nothing was published.${removed}` };
  const kept = args.kept;
  if (!kept) {
    return {
      outcome: 'not-restored',
      detail: `The app had no released package before this run, so there is nothing to go back to: deploy a working package.${removed}`,
    };
  }
  try {
    if (args.release) {
      const file = join(mkdtempSync(join(ctx.env.RUNNER_TEMP ?? tmpdir(), 'afpd-check-')), RELEASED_PACKAGE);
      const now = await args.release.api
        .download(args.release.container, RELEASED_PACKAGE, file)
        .then(() => sha256File(file))
        .catch(() => undefined);
      if (now === kept.sha256)
        return {
          outcome: 'nothing-changed',
          detail: `The app still runs its previous package (sha256 ${kept.sha256}).${removed}`,
        };
    }
    if (!ctx.inputs.rollbackOnFailure) {
      return {
        outcome: 'not-attempted',
        detail: `rollback-on-failure is off: the app runs what the failed deploy published; its previous package is '${kept.blob.blobName}' (rollback-to it).${removed}`,
      };
    }
    if (!kudu) throw new Error('no Kudu client');
    const deployment = await kudu.publish(kept.file, {
      remoteBuild: false,
      message: `Restore of the previous package after deployment ${ctx.deploymentId} failed (azure-functions-package-deploy)`,
    });
    const detail = `The previous package (sha256 ${kept.sha256}, kept as '${kept.blob.blobName}') was published again (Flex deployment ${deployment.id}).${removed}`;
    ctx.logger.warning(`Rolled back: ${detail}`);
    return { outcome: 'restored', detail };
  } catch (error) {
    return {
      outcome: 'not-restored',
      detail: `The previous package could not be published again (${redactSas(messageOf(error))}): rollback-to its stored copy '${kept.blob.blobName}'.${removed}`,
    };
  }
}
