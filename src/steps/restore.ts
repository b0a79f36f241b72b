import type { StoredArtifact } from '../artifacts.js';
import type { AppServiceApi, SiteRef } from '../azure/appservice.js';
import type { RunContext } from '../context.js';
import { messageOf } from '../errors.js';
import type { Journal } from '../journal.js';
import type { Inspection } from '../model.js';
import { type Mode, RUN_FROM_PACKAGE } from '../plan.js';
import { redactSas } from '../redact.js';
import { Deadline } from '../retry.js';
import { changedPackageSettings, PACKAGE_SETTINGS } from '../settings.js';

/** What a restore did, as the final message and the record tell it. */
export type RestoreOutcome =
  | 'nothing-changed'
  | 'restored'
  | 'restored-restart-refused'
  | 'not-restored'
  | 'not-attempted';

export interface Restoration {
  outcome: RestoreOutcome;
  /** One sentence for the final message, the summary and the record. */
  detail: string;
}

/** The restore's own budget: a deploy that timed out (its main trigger) still gets its restore. */
export const RESTORE_GRACE_MS = 120_000;

/**
 * Puts back what this run changed. It re-reads first and compares: a write that was refused or never applied
 * is "nothing was changed"; one applied but unanswered is still undone; a change someone else made since is
 * left alone and said. Runs on its own grace deadline with the shared retry helper.
 */
export async function restore(
  ctx: RunContext,
  args: {
    /** ARM clients on a given deadline; undefined with a publish profile (settings were never written). */
    arm: { ref: SiteRef; on(deadline: Deadline): AppServiceApi } | undefined;
    mode: Mode;
    inspection: Inspection;
    journal: Journal;
    /** Where the previous value is kept, to name in "restore by hand". */
    backup: StoredArtifact | undefined;
    graceMs?: number;
  },
): Promise<Restoration> {
  const { journal } = args;
  const content = journal.content
    ? ` The files Kudu received (${journal.content}) were not rolled back: redeploy the previous package to undo them.`
    : '';
  const written = journal.settings;
  if (!args.arm || !written) {
    return { outcome: 'nothing-changed', detail: `Nothing was changed in the app settings.${content}` };
  }
  const { ref } = args.arm;
  const inspected = args.inspection.settings;
  const previous = inspected[RUN_FROM_PACKAGE];
  const byHand = args.backup
    ? `restore ${RUN_FROM_PACKAGE} by hand from the backup artifact '${args.backup.name}'`
    : `restore ${RUN_FROM_PACKAGE} by hand to ${previous === undefined ? '(absent: delete it)' : `'${redactSas(previous)}'`}`;
  const arm = args.arm.on(new Deadline(args.graceMs ?? RESTORE_GRACE_MS));
  let now: Record<string, string>;
  try {
    now = await arm.listSettings(ref);
  } catch (error) {
    return {
      outcome: 'not-restored',
      detail: `Not restored: the app settings could not be read back (${redactSas(messageOf(error))}); ${byHand}.`,
    };
  }
  if (changedPackageSettings(inspected, now).length === 0) {
    return {
      outcome: 'nothing-changed',
      detail: `Nothing was changed: the settings write did not take effect, the package settings are as inspected.${content}`,
    };
  }
  const ours = changedPackageSettings(written, now);
  if (ours.length > 0) {
    return {
      outcome: 'not-restored',
      detail: `Not restored: ${ours.join(' and ')} changed again after this run wrote it (another deployment?), so it was left as it is; check the app and ${byHand}.`,
    };
  }
  if (!ctx.inputs.rollbackOnFailure) {
    return {
      outcome: 'not-attempted',
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
    await arm.putSettings(ref, restored);
    const still = changedPackageSettings(inspected, await arm.listSettings(ref));
    if (still.length > 0) throw new Error(`a fresh read still shows ${still.join(' and ')} changed`);
  } catch (error) {
    return { outcome: 'not-restored', detail: `Not restored (${redactSas(messageOf(error))}); ${byHand}.` };
  }
  const what = `${RUN_FROM_PACKAGE} was restored to ${previous === undefined ? '(absent)' : redactSas(previous)} and verified by a fresh read`;
  if (args.mode === 'run-from-package' && ctx.inputs.restart) {
    try {
      await arm.restart(ref);
    } catch (error) {
      return {
        outcome: 'restored-restart-refused',
        detail: `${what}, but the restart was refused (${redactSas(messageOf(error))}): restart the app so it loads the previous package.`,
      };
    }
  }
  ctx.logger.warning(`Rolled back: ${what}.`);
  return { outcome: 'restored', detail: `${what}.${content}` };
}
