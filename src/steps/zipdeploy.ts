import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AppServiceApi, SiteRef } from '../azure/appservice.js';
import type { KuduApi } from '../azure/kudu.js';
import type { RunContext } from '../context.js';
import { AzureError, messageOf } from '../errors.js';
import type { Journal } from '../journal.js';
import type { Inspection, Package } from '../model.js';
import { type Plan, RUN_FROM_PACKAGE } from '../plan.js';
import { redactSas } from '../redact.js';
import { statusOf } from '../retry.js';
import { PACKAGE_SETTINGS, writePackageSettings } from '../settings.js';

export interface ZipDeployResult {
  kuduDeploymentId: string;
  /** WEBSITE_RUN_FROM_PACKAGE after the deploy. */
  setting: string | undefined;
}

/**
 * Makes the settings what Kudu needs (a URL there makes it refuse with 409), waits until Kudu sees them (it reads
 * settings from its own worker, late), then zipdeploys and follows the deployment to its end. An app that runs
 * from =1 has its current package copied first, so a failed deploy can be undone by deploying that copy again.
 * Without ARM (a publish profile) the settings are left as they are. A 401 from Kudu with ARM access falls back
 * to the publishing credentials when the app allows basic auth.
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
  const { plan, kudu, pkg, journal } = args;
  const { logger } = ctx;
  const inspected = args.inspection.settings;
  if (pkg.kind === 'stored') throw new AzureError('Internal: zipdeploy needs a local package file');
  if (inspected[RUN_FROM_PACKAGE]?.trim() === '1') await keepCurrentPackage(ctx, kudu, journal);
  let setting = inspected[RUN_FROM_PACKAGE];
  const patch = plan.patch;
  const changes =
    patch.runFromPackage.kind !== 'keep' || patch.remove.length > 0 || Object.keys(patch.set).length > 0;
  if (changes && args.arm) {
    const written = await writePackageSettings({
      arm: args.arm.api,
      ref: args.arm.ref,
      inspected,
      patch,
      journal,
    });
    setting = written[RUN_FROM_PACKAGE];
    logger.info(`${RUN_FROM_PACKAGE} set to '${setting ?? '(removed)'}'.`);
    await kudu.waitForSettings(Object.fromEntries(PACKAGE_SETTINGS.map((k) => [k, written[k]])));
  }
  const message = `Deployment ${ctx.deploymentId} by azure-functions-package-deploy`;
  journal.contentSent(!plan.remoteBuild && setting?.trim() === '1' ? 'sitepackages' : 'wwwroot');
  let deployment: Awaited<ReturnType<KuduApi['zipDeploy']>>;
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

/** The package the app runs now (data/SitePackages), kept locally so that a restore can deploy it again. */
async function keepCurrentPackage(ctx: RunContext, kudu: KuduApi, journal: Journal): Promise<void> {
  const file = join(mkdtempSync(join(ctx.env.RUNNER_TEMP ?? tmpdir(), 'afpd-previous-')), 'previous.zip');
  try {
    const name = await kudu.downloadSitePackage(file);
    if (name) {
      journal.previousPackageKept(name, file);
      ctx.logger.info(
        `Kept a copy of the package the app runs now (data/SitePackages/${name}), for a restore.`,
      );
    }
  } catch (error) {
    ctx.logger.warning(
      `Could not copy the package the app runs now (${redactSas(messageOf(error))}); a failed deploy could not be undone by redeploying it.`,
    );
  }
}
