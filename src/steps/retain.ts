import type { SiteRef } from '../azure/appservice.js';
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
  args: { storage: StorageApi; arm: { ref: SiteRef }; deployed: string[]; inspection: Inspection },
): Promise<string[]> {
  const { name: app, slot } = args.arm.ref;
  const container = ctx.inputs.storageContainer;
  const previous = blobNameIn(packageSetting(args.inspection.settings), args.storage.blobEndpoint, container);
  try {
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
        protect: previous ? [...args.deployed, previous] : args.deployed,
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
