import * as core from '@actions/core';
import { createAppServiceApi, type SiteRef } from './azure/appservice.js';
import { MaskedCliCredential, readAzContext, scopeFor } from './azure/credentials.js';
import {
  artifactName,
  backupDocument,
  createArtifactStore,
  type RecordDocument,
  runInfo,
  type Target,
} from './backup.js';
import {
  buildAppPackage,
  type DeployContext,
  type DeployPackage,
  maskValue,
  phase,
  type Services,
  storeRecord,
  warnIfExpiring,
} from './deploy/context.js';
import { locateStoredPackage, resolveStorage, runFromPackage } from './deploy/run-from-package.js';
import { deployWithPublishProfile, zipDeploy } from './deploy/zipdeploy.js';
import { ActionError, wrap } from './errors.js';
import { type ActionInputs, getInputs } from './inputs.js';
import type { Logger } from './logger.js';
import { planDeployment, RUN_FROM_PACKAGE, RUN_FROM_PACKAGE_MI } from './plan.js';
import { redactSas } from './redact.js';
import { type DeployResult, emptyResult, publish } from './report.js';
import { Deadline } from './retry.js';

const coreLogger: Logger = { info: core.info, warning: core.warning, debug: core.debug };

function defaultDeploymentId(now: Date, sha: string | undefined): string {
  const stamp = now
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d+Z$/, 'Z');
  return `${stamp}-${(sha ?? 'local').slice(0, 7)}`;
}

export async function run(services: Partial<Services> = {}): Promise<void> {
  const logger = services.logger ?? coreLogger;
  const now = services.now ?? (() => new Date());
  let result = emptyResult(core.getInput('app-name'));
  try {
    const inputs = getInputs((name) => core.getInput(name));
    // Secrets are masked before the first call that could print them.
    if (inputs.storageConnectionString) maskValue(inputs.storageConnectionString);
    if (inputs.publishProfile) core.setSecret(inputs.publishProfile.password);
    maskValue(inputs.rollbackTo);
    result = {
      ...emptyResult(inputs.appName),
      slot: inputs.slot,
      resourceGroup: inputs.resourceGroup,
      dryRun: inputs.dryRun,
    };
    const artifacts = services.artifacts ?? createArtifactStore();
    await deploy(inputs, result, { artifacts, logger, now });
  } catch (error) {
    const message = redactSas(error instanceof Error ? error.message : String(error));
    result.error = message;
    core.setFailed(message);
  } finally {
    await publish(result);
  }
}

async function deploy(inputs: ActionInputs, result: DeployResult, services: Services): Promise<void> {
  const { logger } = services;
  const deadline = new Deadline(inputs.timeoutMs);
  const deploymentId = inputs.deploymentId ?? defaultDeploymentId(services.now(), process.env.GITHUB_SHA);
  result.deploymentId = deploymentId;

  if (inputs.publishProfile) {
    await deployWithPublishProfile(inputs, result, services, deadline);
    return;
  }

  // Inspect.
  const { arm, ref, subscriptionId, credential, armScope } = await phase(result, 'connect', async () => {
    const az = await readAzContext(Math.min(60_000, deadline.remaining()));
    const subscriptionId = inputs.subscriptionId ?? az.subscriptionId;
    if (!subscriptionId) {
      throw new ActionError('No subscription: az has no default account', {
        fix: 'Set subscription-id or run azure/login first',
      });
    }
    const credential = new MaskedCliCredential(az.tenantId);
    const armScope = scopeFor(az.armAudience);
    const arm = createAppServiceApi({
      credential,
      subscriptionId,
      endpoint: inputs.resourceManagerEndpoint ?? az.resourceManagerEndpoint,
      scope: armScope,
      deadline,
      logger,
    });
    const resourceGroup = inputs.resourceGroup ?? (await arm.findResourceGroup(inputs.appName));
    const ref: SiteRef = { resourceGroup, name: inputs.appName, slot: inputs.slot };
    return { arm, ref, subscriptionId, credential, armScope };
  });
  result.resourceGroup = ref.resourceGroup;
  const target: Target = { app: ref.name, resourceGroup: ref.resourceGroup, subscriptionId, slot: ref.slot };

  const inspected = await phase(result, 'inspect', async () => {
    const site = await arm.getSite(ref);
    const [plan, settings] = await Promise.all([
      arm.getPlan(site.serverFarmId).catch(() => undefined),
      arm.listSettings(ref),
    ]);
    return { site, plan, settings };
  });
  for (const value of Object.values(inspected.settings)) maskValue(value);
  const { site, settings } = inspected;
  result.appUrl = site.defaultHostName ? `https://${site.defaultHostName}` : undefined;
  const previous = settings[RUN_FROM_PACKAGE];
  result.previousPackage = previous === undefined ? undefined : redactSas(previous);
  logger.info(
    `Inspected ${ref.name}${ref.slot ? `/${ref.slot}` : ''}: kind '${site.kind}', sku '${site.sku}', plan ${inspected.plan ? `${inspected.plan.name} (${inspected.plan.skuName})` : 'unknown'}, state ${site.state}, ${RUN_FROM_PACKAGE}=${result.previousPackage ?? '(absent)'}`,
  );
  warnIfExpiring(result, previous, 'The current package URL', services.now());

  // Plan.
  const plan = planDeployment(inputs.rollbackTo ? { ...inputs, deployMode: 'run-from-package' } : inputs, {
    siteSku: site.sku,
    kind: site.kind,
    settings,
  });
  if (inputs.rollbackTo) {
    plan.reasons.splice(
      1,
      1,
      `rollback-to '${redactSas(inputs.rollbackTo)}': the stored package is redeployed by run-from-package, without packaging.`,
    );
  }
  result.mode = plan.mode;
  result.hosting = plan.hosting;
  result.reasons = plan.reasons;
  for (const reason of plan.reasons) logger.info(`plan: ${reason}`);
  if (plan.conflict)
    core.notice(
      `Conflict detected on ${ref.name}: ${RUN_FROM_PACKAGE} is a package URL and zipdeploy was requested.`,
    );
  if (inputs.dryRun) {
    logger.info('dry-run: stopping before any change.');
    return;
  }

  const storage =
    plan.mode === 'run-from-package'
      ? resolveStorage(inputs, settings, credential, deadline, logger)
      : undefined;
  // rollback-to redeploys a package already in storage: nothing to build, nothing to upload.
  const pkg: DeployPackage =
    inputs.rollbackTo && storage
      ? await phase(result, 'locate', () => locateStoredPackage(inputs, ref, storage, result))
      : await buildAppPackage(inputs, result, logger);

  // Back up before any write; if it cannot be stored, stop with nothing changed.
  if (plan.backup && previous !== undefined) {
    const name = artifactName('backup', target, deploymentId);
    const companions: Record<string, string> = {};
    if (settings[RUN_FROM_PACKAGE_MI] !== undefined)
      companions[RUN_FROM_PACKAGE_MI] = settings[RUN_FROM_PACKAGE_MI];
    const document = backupDocument({
      target,
      previousValue: previous,
      companions,
      reason: plan.backup.reason,
      deploymentId,
      run: runInfo(),
      now: services.now(),
    });
    result.backupArtifact = await phase(result, 'backup', () =>
      services.artifacts.storeJson(name, 'backup.json', document),
    ).catch((error: unknown) => {
      throw wrap('back up the current package setting (nothing was changed)', error);
    });
    logger.info(
      `Backed up ${RUN_FROM_PACKAGE} as artifact '${name}' (id ${result.backupArtifact.id ?? 'unknown'}).`,
    );
  }

  const context: DeployContext = {
    inputs,
    result,
    services,
    deadline,
    arm,
    ref,
    target,
    plan,
    pkg,
    settings,
    credential,
    armScope,
    siteScmHost: site.scmHost,
    storage,
  };
  let outcome: RecordDocument['outcome'] = 'succeeded';
  let afterValue: string | undefined;
  try {
    afterValue = plan.mode === 'run-from-package' ? await runFromPackage(context) : await zipDeploy(context);
  } catch (error) {
    outcome = result.rolledBack ? 'rolled-back' : 'failed';
    result.error = redactSas((error as Error).message);
    throw error;
  } finally {
    if (context.wrote) await storeRecord(context, outcome, afterValue);
  }
}
