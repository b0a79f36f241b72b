import { artifactName, type StoredArtifact } from '../artifacts.js';
import type { RunContext } from '../context.js';
import { backupDocument, type Target } from '../documents.js';
import { wrap } from '../errors.js';
import type { Inspection, KeptRelease } from '../model.js';
import { type Plan, RUN_FROM_PACKAGE, RUN_FROM_PACKAGE_MI, RUN_FROM_ZIP } from '../plan.js';

/**
 * Stores the package setting the plan is about to replace, before any write. If it cannot be stored, the run
 * stops here with nothing changed.
 */
export async function backUp(
  ctx: RunContext,
  args: { plan: Plan; inspection: Inspection; target: Target; kept: KeptRelease | undefined },
): Promise<StoredArtifact | undefined> {
  const { plan, kept } = args;
  const { settings } = args.inspection;
  if (!plan.backup && !kept) return undefined;
  // The value in force may sit under the old name when WEBSITE_RUN_FROM_PACKAGE is empty.
  const setting =
    settings[RUN_FROM_PACKAGE] === undefined || settings[RUN_FROM_PACKAGE]?.trim() === ''
      ? RUN_FROM_ZIP
      : RUN_FROM_PACKAGE;
  const previousValue = plan.backup ? settings[setting] : undefined;
  if (previousValue === undefined && !kept) return undefined;
  const companions: Record<string, string> = {};
  const identity = settings[RUN_FROM_PACKAGE_MI];
  if (identity !== undefined) companions[RUN_FROM_PACKAGE_MI] = identity;
  const name = artifactName('backup', args.target, ctx.deploymentId);
  const document = backupDocument({
    target: args.target,
    setting,
    previousValue,
    previousPackage: kept && { blob: kept.blob.blobName, url: kept.blob.url, sha256: kept.sha256 },
    companions,
    reason: [
      plan.backup?.reason,
      kept && 'the package the Flex app ran (released-package.zip) is kept before the publish',
    ]
      .filter(Boolean)
      .join('; '),
    deploymentId: ctx.deploymentId,
    run: ctx.run,
    now: ctx.now(),
  });
  const stored = await ctx.artifacts
    .storeJson(name, 'backup.json', document, ctx.deadline.signal)
    .catch((error: unknown) => {
      throw wrap('back up the current package setting (nothing was changed)', error);
    });
  ctx.logger.info(
    `Backed up ${[previousValue !== undefined && setting, kept && 'the released package reference'].filter(Boolean).join(' and ')} as artifact '${name}' (id ${stored.id ?? 'unknown'}).`,
  );
  return stored;
}
