import type { AppServiceApi, SiteRef } from '../azure/appservice.js';
import { blobNameIn } from '../azure/layout.js';
import type { RunContext } from '../context.js';
import { messageOf } from '../errors.js';
import type { Inspection, KeptRelease } from '../model.js';
import { type Plan, packageSetting } from '../plan.js';
import { redactSas } from '../redact.js';
import type { Applied } from '../result.js';
import { packagesToDelete } from '../retention.js';
import type { PackageStore } from '../store.js';

/**
 * Deletes the app's old packages: the flow lists, the pure rule decides, the client deletes. Never the package
 * just deployed or the one the app ran before. A failed cleanup is only a warning: the deploy already worked.
 */
export async function retain(
  ctx: RunContext,
  args: {
    plan: Plan;
    store: PackageStore | undefined;
    arm: { api: AppServiceApi; ref: SiteRef } | undefined;
    /** What the apply step did: the stored package the app runs now, when the mode keeps packages. */
    applied: Applied;
    kept: KeptRelease | undefined;
    inspection: Inspection;
  },
): Promise<string[]> {
  // Zipdeploy keeps no packages in the store, and a rotation deploys nothing new.
  if (!args.store || !args.arm || args.applied.mode === 'zipdeploy' || args.plan.operation === 'rotate-sas')
    return [];
  const deployed = [args.applied.blob.blobName, ...(args.kept ? [args.kept.blob.blobName] : [])];
  const store = args.store;
  const arm = args.arm;
  const container = ctx.inputs.storageContainer;
  const inContainer = (value: string | undefined) => blobNameIn(value, store.blobEndpoint, container);
  const previous = inContainer(packageSetting(args.inspection.settings));
  try {
    // The same index read that found a reusable package: no listing of the container.
    const mine = (await store.packages()).map((e) => {
      const at = e.deployedAt ? new Date(e.deployedAt) : undefined;
      return { blobName: e.blob, deployedAt: at && !Number.isNaN(at.getTime()) ? at : undefined };
    });
    const rule = (protect: string[]) =>
      packagesToDelete(mine, {
        keep: ctx.inputs.retainPackages,
        maxAgeDays: ctx.inputs.retainDays,
        protect: [...deployed, ...(previous ? [previous] : []), ...protect],
        now: ctx.now(),
      });
    // A swap moves WEBSITE_RUN_FROM_PACKAGE with the content: production may run a package deployed to a slot,
    // so what any slot of the app (or production) runs stays. Asked only when something could go.
    const doomed = rule([]).length
      ? rule(
          (await referencedByApp(arm.api, arm.ref, args.plan.mode !== 'one-deploy')).flatMap(
            (v) => inContainer(v) ?? [],
          ),
        )
      : [];
    await store.remove(doomed);
    if (doomed.length) ctx.logger.info(`Deleted ${doomed.length} old package(s): ${doomed.join(', ')}`);
    return doomed;
  } catch (error) {
    ctx.logger.warning(`Could not clean old packages: ${redactSas(messageOf(error))}`);
    return [];
  }
}

/** The package setting of production and of every slot of the app. */
async function referencedByApp(
  arm: AppServiceApi,
  ref: SiteRef,
  withSlots: boolean,
): Promise<(string | undefined)[]> {
  const slots = withSlots ? await arm.listSlots({ ...ref, slot: undefined }) : [];
  const sites = [undefined, ...slots].filter((s) => s !== ref.slot);
  const settings = await Promise.all(sites.map((s) => arm.listSettings({ ...ref, slot: s })));
  return settings.map((s) => packageSetting(s));
}
