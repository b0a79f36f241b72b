import type { AppServiceApi, SiteRef } from '../azure/appservice.js';
import { blobNameIn } from '../azure/layout.js';
import type { StorageApi } from '../azure/storage.js';
import type { RunContext } from '../context.js';
import { messageOf } from '../errors.js';
import type { Inspection } from '../model.js';
import { packageSetting } from '../plan.js';
import { redactSas } from '../redact.js';
import { packagesToDelete } from '../retention.js';

/**
 * Deletes the app's old packages: the flow lists, the pure rule decides, the client deletes. Never the package
 * just deployed or the one the app ran before. A failed cleanup is only a warning: the deploy already worked.
 */
export async function retain(
  ctx: RunContext,
  args: {
    storage: StorageApi;
    arm: { api: AppServiceApi; ref: SiteRef };
    deployed: string[];
    inspection: Inspection;
    /** Flex Consumption has no slots. */
    slots: boolean;
  },
): Promise<string[]> {
  const { name: app, slot } = args.arm.ref;
  const container = ctx.inputs.storageContainer;
  const inContainer = (value: string | undefined) => blobNameIn(value, args.storage.blobEndpoint, container);
  const previous = inContainer(packageSetting(args.inspection.settings));
  try {
    // A swap moves WEBSITE_RUN_FROM_PACKAGE with the content: production may run a package deployed to a slot,
    // so what any slot of the app (or production) runs stays.
    const live = await referencedByApp(args.arm.api, args.arm.ref, args.slots);
    const blobs = await args.storage.list(container);
    const mine = blobs.filter(
      (b) =>
        b.metadata.sha256 &&
        b.metadata.app?.toLowerCase() === app.toLowerCase() &&
        (b.metadata.slot ?? '') === (slot ?? ''),
    );
    const doomed = packagesToDelete(
      mine.map((b) => {
        const at = b.metadata.deployedat ? new Date(b.metadata.deployedat) : undefined;
        return { blobName: b.blobName, deployedAt: at && !Number.isNaN(at.getTime()) ? at : undefined };
      }),
      {
        keep: ctx.inputs.retainPackages,
        maxAgeDays: ctx.inputs.retainDays,
        protect: [
          ...args.deployed,
          ...(previous ? [previous] : []),
          ...live.flatMap((v) => inContainer(v) ?? []),
        ],
        now: ctx.now(),
      },
    );
    for (const name of doomed) await args.storage.delete(container, name);
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
