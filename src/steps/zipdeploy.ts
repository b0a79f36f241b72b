import type { AppServiceApi, SiteRef } from '../azure/appservice.js';
import type { KuduApi } from '../azure/kudu.js';
import type { RunContext } from '../context.js';
import { AzureError } from '../errors.js';
import type { Journal } from '../journal.js';
import type { Inspection, Package } from '../model.js';
import { type Plan, RUN_FROM_PACKAGE } from '../plan.js';
import { statusOf } from '../retry.js';
import { PACKAGE_SETTINGS, writePackageSettings } from '../settings.js';

export interface ZipDeployResult {
  kuduDeploymentId: string;
  /** WEBSITE_RUN_FROM_PACKAGE after the deploy. */
  setting: string | undefined;
}

/**
 * Makes the settings what Kudu needs (a URL there makes it refuse with 409), waits until Kudu sees them (it reads
 * settings from its own worker, late), then zipdeploys and follows the deployment to its end. Without ARM (a
 * publish profile) the settings are left as they are. A 401 from Kudu with ARM access falls back to the
 * publishing credentials when the app allows basic auth.
 */
export async function zipDeploy(
  ctx: RunContext,
  args: {
    plan: Plan;
    pkg: Package;
    inspection: Inspection;
    journal: Journal;
    kudu: KuduApi;
    /** With ARM access; undefined with a publish profile. */
    arm: { api: AppServiceApi; ref: SiteRef; basicAuthKudu(): Promise<KuduApi | undefined> } | undefined;
  },
): Promise<ZipDeployResult> {
  const { plan, kudu, pkg } = args;
  const { logger } = ctx;
  const inspected = args.inspection.settings;
  if (pkg.kind !== 'built') throw new AzureError('Internal: zipdeploy needs a package file');
  let setting = inspected[RUN_FROM_PACKAGE];
  const patch = plan.patch;
  const changes =
    patch.runFromPackage.kind !== 'keep' || patch.remove.length > 0 || Object.keys(patch.set).length > 0;
  if (changes && args.arm) {
    setting = await writePackageSettings({
      arm: args.arm.api,
      ref: args.arm.ref,
      inspected,
      patch,
      journal: args.journal,
    });
    logger.info(`${RUN_FROM_PACKAGE} set to '${setting ?? '(removed)'}'.`);
    const fresh = await args.arm.api.listSettings(args.arm.ref);
    await kudu.waitForSettings(Object.fromEntries(PACKAGE_SETTINGS.map((k) => [k, fresh[k]])));
  }
  const message = `Deployment ${ctx.deploymentId} by azure-functions-package-deploy`;
  let deployment: Awaited<ReturnType<KuduApi['zipDeploy']>>;
  args.journal.contentSent(
    setting?.trim() === '1' ? 'a new zip in data/SitePackages' : 'files extracted to site/wwwroot',
  );
  try {
    deployment = await kudu.zipDeploy(pkg.path, message);
  } catch (error) {
    const basic = statusOf(error) === 401 && args.arm ? await args.arm.basicAuthKudu() : undefined;
    if (!basic) throw error;
    logger.info(
      'Kudu refused the bearer token; retrying with the publishing credentials (basic auth is allowed).',
    );
    deployment = await basic.zipDeploy(pkg.path, message);
  }
  if (!deployment.id) throw new AzureError('Kudu answered the zipdeploy without a deployment id');
  logger.info(`Kudu deployment ${deployment.id} succeeded.`);
  return { kuduDeploymentId: deployment.id, setting };
}
