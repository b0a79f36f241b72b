import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { SiteRef } from '../azure/appservice.js';
import { packageBlobName } from '../azure/layout.js';
import type { StorageApi } from '../azure/storage.js';
import type { RunContext } from '../context.js';
import { type KeptRelease, RELEASED_PACKAGE } from '../model.js';
import { entryOf, type PackageStore, sha256File } from '../store.js';

/**
 * Copies the package a Flex app runs (`released-package.zip` in its deployment container) into the package
 * store before anything is written, so the previous code stays restorable and the backup can name it. A package
 * the store already holds (the last deploy's own) is not copied twice.
 */
export async function keepRelease(
  ctx: RunContext,
  args: {
    release: { api: StorageApi; container: string };
    storage: StorageApi;
    store: PackageStore;
    arm: { ref: SiteRef };
  },
): Promise<KeptRelease | undefined> {
  const { ref } = args.arm;
  const current = await args.release.api.get(args.release.container, RELEASED_PACKAGE);
  if (!current) {
    ctx.logger.info(`The Flex app has no ${RELEASED_PACKAGE} yet: nothing to keep.`);
    return undefined;
  }
  const file = join(mkdtempSync(join(ctx.env.RUNNER_TEMP ?? tmpdir(), 'afpd-release-')), RELEASED_PACKAGE);
  await args.release.api.download(args.release.container, RELEASED_PACKAGE, file);
  const sha256 = await sha256File(file);
  const known = await args.store.findBySha(sha256);
  let blob = known && (await args.store.blob(known).catch(() => undefined));
  if (!blob) {
    blob = await args.storage.upload({
      container: ctx.inputs.storageContainer,
      blobName: packageBlobName(ctx.deploymentId, ref.name, undefined).replace(/\.zip$/, '.previous.zip'),
      file,
      metadata: {
        sha256,
        releasedsha256: sha256,
        app: ref.name,
        deploymentid: ctx.deploymentId,
        kept: 'true',
      },
    });
    await args.store.record({ ...entryOf(blob), kept: true, releasedSha256: sha256 });
  }
  ctx.logger.info(
    `Kept the package the app runs now (${RELEASED_PACKAGE}, sha256 ${sha256}) as '${blob.blobName}'.`,
  );
  return { file, sha256, blob };
}
