import * as core from '@actions/core';
import { createKuduApi, type KuduApi, type KuduAuth } from '../azure/kudu.js';
import { ActionError, AzureError } from '../errors.js';
import type { ActionInputs } from '../inputs.js';
import { applySettingsPatch, RUN_FROM_PACKAGE } from '../plan.js';
import { redactSas } from '../redact.js';
import type { DeployResult } from '../report.js';
import type { Deadline } from '../retry.js';
import {
  buildAppPackage,
  type DeployContext,
  freshSettingsOrStop,
  localZip,
  maskValue,
  phase,
  rollBack,
  type Services,
  verifyOrRollBack,
  writeSettings,
} from './context.js';

export async function zipDeploy(c: DeployContext): Promise<string | undefined> {
  const { result, ref, plan } = c;
  if (!c.siteScmHost) {
    throw new AzureError(`The site ${ref.name} has no SCM (Kudu) host name`, {
      fix: 'zipdeploy needs the SCM site; use run-from-package',
    });
  }
  const kudu = createKuduApi({
    origin: `https://${c.siteScmHost}`,
    auth: { kind: 'bearer', credential: c.credential, scope: c.armScope },
    deadline: c.deadline,
    logger: c.services.logger,
  });
  let after = c.settings[RUN_FROM_PACKAGE];
  if (
    plan.patch.runFromPackage.kind !== 'keep' ||
    plan.patch.remove.length ||
    Object.keys(plan.patch.set).length
  ) {
    await phase(result, 'switch', async () => {
      const fresh = await freshSettingsOrStop(c);
      const next = applySettingsPatch(fresh, plan.patch);
      await writeSettings(c, next);
      after = next[RUN_FROM_PACKAGE];
      c.services.logger.info(`${RUN_FROM_PACKAGE} set to '${after ?? '(removed)'}'.`);
      await kudu.waitForSetting(RUN_FROM_PACKAGE, after);
    }).catch(async (error: unknown) => {
      await rollBack(c, error);
      throw error;
    });
  }
  result.newPackage = after === '1' ? 'data/SitePackages (WEBSITE_RUN_FROM_PACKAGE=1)' : 'site/wwwroot';
  const deployment = await phase(result, 'zipdeploy', async () => {
    c.wrote = true;
    try {
      return await kudu.zipDeploy(
        localZip(c.pkg),
        `Deployment ${result.deploymentId} by azure-functions-package-deploy`,
      );
    } catch (error) {
      if ((error as AzureError).statusCode === 401 && (await c.arm.basicAuthAllowed(ref))) {
        c.services.logger.info(
          'Kudu refused the bearer token; retrying with the publishing credentials (basic auth is allowed).',
        );
        const creds = await c.arm.publishingCredentials(ref);
        core.setSecret(creds.password);
        const basic: KuduAuth = { kind: 'basic', userName: creds.userName, password: creds.password };
        return createKuduApi({
          origin: kudu.origin,
          auth: basic,
          deadline: c.deadline,
          logger: c.services.logger,
        }).zipDeploy(localZip(c.pkg), `Deployment ${result.deploymentId} by azure-functions-package-deploy`);
      }
      throw error;
    }
  }).catch(async (error: unknown) => {
    await rollBack(c, error);
    throw error;
  });
  result.kuduDeploymentId = deployment.id;
  c.services.logger.info(`Kudu deployment ${deployment.id} succeeded.`);
  await verifyOrRollBack(c);
  return after;
}

/** zipdeploy with the publish profile's basic credentials: no ARM, so no settings change and no function listing. */
export async function deployWithPublishProfile(
  inputs: ActionInputs,
  result: DeployResult,
  services: Services,
  deadline: Deadline,
): Promise<void> {
  const profile = inputs.publishProfile!;
  const kudu: KuduApi = createKuduApi({
    origin: profile.scmUrl,
    auth: { kind: 'basic', userName: profile.userName, password: profile.password },
    deadline,
    logger: services.logger,
  });
  result.mode = 'zipdeploy';
  const settings = await phase(result, 'inspect', () => kudu.settings());
  for (const value of Object.values(settings)) maskValue(value);
  const previous = settings[RUN_FROM_PACKAGE];
  result.previousPackage = previous === undefined ? undefined : redactSas(previous);
  result.reasons = ['publish-profile given: Kudu zipdeploy with basic auth, without ARM.'];
  if (previous && /^https?:\/\//i.test(previous)) {
    throw new ActionError(
      `Conflict: ${RUN_FROM_PACKAGE} points at a package URL, which makes Kudu refuse zipdeploy (409), and a publish profile cannot change app settings`,
      {
        fix: 'Log in with azure/login instead of a publish profile so the setting can be backed up and replaced, or remove the setting',
      },
    );
  }
  if (inputs.dryRun) return;
  const pkg = await buildAppPackage(inputs, result, services.logger);
  const deployment = await phase(result, 'zipdeploy', () =>
    kudu.zipDeploy(pkg.path, `Deployment ${result.deploymentId}`),
  );
  result.kuduDeploymentId = deployment.id;
  result.functions = pkg.functions;
}
