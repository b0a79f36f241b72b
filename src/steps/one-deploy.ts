import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AppServiceApi, SiteRef } from '../azure/appservice.js';
import type { KuduApi } from '../azure/kudu.js';
import type { StorageApi, StoredBlob } from '../azure/storage.js';
import type { RunContext } from '../context.js';
import type { AzureError } from '../errors.js';
import type { Journal } from '../journal.js';
import { type Inspection, type KeptRelease, type Package, RELEASED_PACKAGE } from '../model.js';
import type { Plan } from '../plan.js';
import { PACKAGE_SETTINGS, writePackageSettings } from '../settings.js';
import { type PackageStore, sha256File, storePackage } from '../store.js';

export interface OneDeployResult {
  /** The package in the store (what rollback-to and retention see). */
  blob: StoredBlob;
  reused: boolean;
  /** Nothing published: the app already runs this package. */
  unchanged: boolean;
  kuduDeploymentId: string | undefined;
  /** No package setting on Flex. */
  setting: undefined;
}

/**
 * Flex Consumption: stores the package (as on other plans, for rollback-to, reuse and retention), removes what
 * the plan removes (a package setting, the Kudu build switches) and waits until Kudu sees it (the publish is
 * validated against Kudu's view of the settings), then publishes and follows the deployment. A package the app
 * already runs is not published again.
 */
export async function oneDeploy(
  ctx: RunContext,
  args: {
    plan: Plan;
    pkg: Package;
    inspection: Inspection;
    journal: Journal;
    kudu: KuduApi;
    arm: { api: AppServiceApi; ref: SiteRef };
    storage: StorageApi;
    store: PackageStore;
    release: { api: StorageApi; container: string };
    kept: KeptRelease | undefined;
  },
): Promise<OneDeployResult> {
  const { plan, pkg, journal, kudu, kept } = args;
  const { ref } = args.arm;
  const { blob, reused, entry } = await storePackage(ctx, args.store, args.storage, ref, pkg);
  const live = kept?.sha256;
  const changes = plan.patch.remove.length > 0;
  // The same package, published the same way: as it is (the platform runs exactly it), or built remotely last time
  // into what the platform runs now.
  const sameBuild = (entry.remoteBuild ?? false) === plan.remoteBuild;
  const unchanged =
    live !== undefined &&
    ((!plan.remoteBuild && live === pkg.sha256) || (sameBuild && live === entry.releasedSha256));
  if (unchanged && !changes) {
    ctx.logger.info(
      `The app already runs this package (${RELEASED_PACKAGE} sha256 ${live}): nothing is published.`,
    );
    return { blob, reused: true, unchanged: true, kuduDeploymentId: undefined, setting: undefined };
  }
  if (changes) {
    const written = await writePackageSettings({
      arm: args.arm.api,
      ref,
      inspected: args.inspection.settings,
      patch: plan.patch,
      journal,
    });
    ctx.logger.info(`Removed ${plan.patch.remove.join(', ')} (not supported on Flex Consumption).`);
    await kudu.waitForSettings(Object.fromEntries(PACKAGE_SETTINGS.map((k) => [k, written[k]])));
  }
  const file = pkg.kind === 'stored' ? await fetch(ctx, args.storage, blob) : pkg.path;
  // A stored package is published as it was the first time: rebuilt if it was built remotely then.
  const remoteBuild = pkg.kind === 'stored' ? (entry.remoteBuild ?? false) : plan.remoteBuild;
  journal.contentSent('release');
  const deployment = await kudu.publish(file, {
    remoteBuild,
    message: `Deployment ${ctx.deploymentId} by azure-functions-package-deploy`,
  });
  if (deployment.status === 4) ctx.logger.info(`Flex deployment ${deployment.id} succeeded.`);
  // What the platform runs after a remote build is not what was sent: remember it, so an unchanged rerun is known.
  const released = remoteBuild ? await releasedSha(ctx, args.release) : pkg.sha256;
  if (released) await args.store.record({ ...entry, releasedSha256: released, remoteBuild });
  return { blob, reused, unchanged: false, kuduDeploymentId: deployment.id, setting: undefined };
}

async function fetch(ctx: RunContext, storage: StorageApi, blob: StoredBlob): Promise<string> {
  const file = join(mkdtempSync(join(ctx.env.RUNNER_TEMP ?? tmpdir(), 'afpd-republish-')), 'package.zip');
  await storage.download(ctx.inputs.storageContainer, blob.blobName, file);
  return file;
}

async function releasedSha(
  ctx: RunContext,
  release: { api: StorageApi; container: string },
): Promise<string | undefined> {
  const file = join(mkdtempSync(join(ctx.env.RUNNER_TEMP ?? tmpdir(), 'afpd-released-')), RELEASED_PACKAGE);
  try {
    await release.api.download(release.container, RELEASED_PACKAGE, file);
    return await sha256File(file);
  } catch (error) {
    ctx.logger.debug(`Could not read back ${RELEASED_PACKAGE}: ${(error as AzureError).message}`);
    return undefined;
  }
}
