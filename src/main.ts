import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as core from '@actions/core';
import { type AppServiceApi, createAppServiceApi, type SiteRef } from './azure/appservice.js';
import { MaskedCliCredential, readAzContext, scopeFor } from './azure/credentials.js';
import { createKuduApi, type KuduApi, type KuduAuth } from './azure/kudu.js';
import {
  blobEndpointOf,
  createStorageApi,
  parseConnectionString,
  type StorageAccess,
  type StorageApi,
  type StoredPackage,
} from './azure/storage.js';
import {
  type ArtifactStore,
  artifactName,
  backupDocument,
  createArtifactStore,
  RECORD_SCHEMA,
  type RecordDocument,
  runInfo,
  type Target,
} from './backup.js';
import { ActionError, AzureError, VerificationError, wrap } from './errors.js';
import { type ActionInputs, getInputs } from './inputs.js';
import type { Logger } from './logger.js';
import { buildPackage, type PackageResult } from './package/index.js';
import {
  applySettingsPatch,
  type Plan,
  planDeployment,
  RUN_FROM_PACKAGE,
  RUN_FROM_PACKAGE_MI,
} from './plan.js';
import { redactSas, sasExpiry, sasSignatures, sha256Hex, stripQuery } from './redact.js';
import { type DeployResult, emptyResult, publish } from './report.js';
import { Deadline, poll } from './retry.js';

const coreLogger: Logger = { info: core.info, warning: core.warning, debug: core.debug };
const EXPIRY_WARNING_MS = 30 * 86_400_000;

/** Side effects the flow needs from outside Azure; replaced in tests of the flow's edges. */
export interface Services {
  artifacts: ArtifactStore;
  logger: Logger;
  now: () => Date;
}

function defaultDeploymentId(now: Date, sha: string | undefined): string {
  const stamp = now
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d+Z$/, 'Z');
  return `${stamp}-${(sha ?? 'local').slice(0, 7)}`;
}

function maskValue(value: string | undefined): void {
  if (!value) return;
  for (const sig of sasSignatures(value)) core.setSecret(sig);
  const key = parseConnectionString(value)?.accountKey;
  if (key) {
    core.setSecret(key);
    core.setSecret(value);
  }
}

/** Times one phase into the result. */
async function phase<T>(result: DeployResult, name: string, fn: () => Promise<T>): Promise<T> {
  const start = performance.now();
  try {
    return await fn();
  } finally {
    result.timingsMs[name] = Math.round(performance.now() - start);
  }
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

/** What is deployed: a package just built, or one found in storage (rollback-to, no local file). */
type DeployPackage = Pick<PackageResult, 'size' | 'sha256' | 'fileCount' | 'functions'> & {
  path: string | undefined;
  stored?: StoredPackage;
};

function localZip(pkg: DeployPackage): string {
  if (!pkg.path)
    throw new ActionError(
      'Internal: zipdeploy needs a package file; rollback-to deploys by run-from-package',
    );
  return pkg.path;
}

/** Finds the package named by rollback-to (a deployment id, or a blob URL in the package container). */
async function locateStoredPackage(
  inputs: ActionInputs,
  ref: SiteRef,
  storage: StorageApi,
  result: DeployResult,
): Promise<DeployPackage> {
  const target = inputs.rollbackTo ?? '';
  const container = inputs.storageContainer;
  let blobName: string;
  let deploymentId: string | undefined;
  if (/^https:\/\//i.test(target)) {
    const path = decodeURIComponent(new URL(stripQuery(target)).pathname);
    const marker = `/${container}/`;
    if (!path.includes(marker)) {
      throw new ActionError(
        `rollback-to '${redactSas(target)}' is not a blob in the container '${container}'`,
        {
          fix: 'Pass a deployment id (the deployment-id output of an earlier run) or a package-url output',
        },
      );
    }
    blobName = path.slice(path.indexOf(marker) + marker.length);
    deploymentId = blobName.split('/')[0];
  } else {
    deploymentId = target;
    blobName = `${target}/${ref.name}${ref.slot ? `-${ref.slot}` : ''}.zip`;
  }
  const stored = await storage.getPackage(container, blobName);
  if (!stored) {
    throw new ActionError(`No stored package '${container}/${blobName}' to roll back to`, {
      fix: `List the deployment ids under '${container}/' (one folder per deployment), or check storage-account and slot-name`,
    });
  }
  const manifest = deploymentId
    ? ((await storage.getJson(container, `${deploymentId}/manifest.json`)) as
        | { package?: { fileCount?: number; functions?: string[] } }
        | undefined)
    : undefined;
  result.packageSha256 = stored.sha256;
  result.packageSize = stored.size;
  result.packageReused = true;
  const functions = manifest?.package?.functions ?? [];
  return {
    path: undefined,
    size: stored.size,
    sha256: stored.sha256,
    fileCount: manifest?.package?.fileCount ?? 0,
    functions,
    stored,
  };
}

/** Builds and validates the package before anything is written: a package that does not validate changes nothing. */
async function buildAppPackage(
  inputs: ActionInputs,
  result: DeployResult,
  logger: Logger,
): Promise<PackageResult> {
  const pkg = await phase(result, 'package', () =>
    buildPackage({
      source: inputs.packagePath,
      workspace: process.env.GITHUB_WORKSPACE ?? process.cwd(),
      outDir: mkdtempSync(join(process.env.RUNNER_TEMP ?? tmpdir(), 'afpd-package-')),
      exclude: inputs.exclude,
      compressionLevel: inputs.compressionLevel,
      ...(process.env.SOURCE_DATE_EPOCH ? { sourceDateEpoch: Number(process.env.SOURCE_DATE_EPOCH) } : {}),
      logger,
    }).catch((error: unknown) => {
      throw wrap(`build the package from '${inputs.packagePath}'`, error);
    }),
  );
  result.packageSha256 = pkg.sha256;
  result.packageSize = pkg.size;
  result.packageFileCount = pkg.fileCount;
  result.templatePath = pkg.templatePath;
  result.warnings.push(...pkg.warnings);
  return pkg;
}

interface DeployContext {
  inputs: ActionInputs;
  result: DeployResult;
  services: Services;
  deadline: Deadline;
  arm: AppServiceApi;
  ref: SiteRef;
  target: Target;
  plan: Plan;
  pkg: DeployPackage;
  /** Settings as inspected. */
  settings: Record<string, string>;
  credential: MaskedCliCredential;
  armScope: string;
  siteScmHost: string | undefined;
  /** Set in run-from-package mode. */
  storage: StorageApi | undefined;
  /** Set once anything was written to the app (the point of no return). */
  wrote?: boolean;
}

/** Re-reads the settings and refuses to write over a change made since inspection (another deploy). */
async function freshSettingsOrStop(c: DeployContext): Promise<Record<string, string>> {
  const fresh = await c.arm.listSettings(c.ref);
  for (const key of [RUN_FROM_PACKAGE, RUN_FROM_PACKAGE_MI]) {
    if (fresh[key] !== c.settings[key]) {
      throw new ActionError(
        `${key} changed on ${c.ref.name} since it was inspected (now ${fresh[key] === undefined ? 'absent' : `'${redactSas(fresh[key])}'`}); another deployment may be running. Nothing was written`,
        {
          fix: 'Re-run this deploy once the other deployment has finished (use a concurrency group to serialise deploys)',
        },
      );
    }
  }
  return fresh;
}

async function writeSettings(c: DeployContext, settings: Record<string, string>): Promise<void> {
  c.wrote = true;
  await c.arm.putSettings(c.ref, settings);
}

function warnIfExpiring(result: DeployResult, url: string | undefined, what: string, now: Date): void {
  const expiry = url ? sasExpiry(url) : undefined;
  if (!expiry) return;
  const left = expiry.getTime() - now.getTime();
  if (left < EXPIRY_WARNING_MS) {
    const message =
      left <= 0
        ? `${what} has a SAS that expired on ${expiry.toISOString()}: the app cannot load it on its next restart.`
        : `${what} has a SAS that expires on ${expiry.toISOString()} (in ${Math.ceil(left / 86_400_000)} days): the app cannot load it after that.`;
    result.warnings.push(message);
    core.warning(message);
  }
}

/** Chooses how to reach the package storage; no network call, so it runs before the backup. */
function resolveStorage(
  inputs: ActionInputs,
  settings: Record<string, string>,
  credential: MaskedCliCredential,
  deadline: Deadline,
  logger: Logger,
): StorageApi {
  let access: StorageAccess | undefined;
  const fromInput = inputs.storageConnectionString
    ? parseConnectionString(inputs.storageConnectionString)
    : undefined;
  if (inputs.storageConnectionString && !fromInput) {
    throw new ActionError("Input 'storage-connection-string' has no AccountName and AccountKey", {
      fix: "Copy the connection string from the storage account's Access keys page",
    });
  }
  const fromApp = settings.AzureWebJobsStorage
    ? parseConnectionString(settings.AzureWebJobsStorage)
    : undefined;
  const wanted = inputs.storageAccount ? blobEndpointOf(inputs.storageAccount) : undefined;
  for (const cs of [fromInput, fromApp]) {
    if (cs && (!wanted || wanted.accountName.toLowerCase() === cs.accountName.toLowerCase())) {
      core.setSecret(cs.accountKey);
      access = { kind: 'shared-key', ...cs };
      break;
    }
  }
  if (!access) {
    const endpoint =
      wanted ??
      (settings.AzureWebJobsStorage__blobServiceUri
        ? blobEndpointOf(settings.AzureWebJobsStorage__blobServiceUri)
        : undefined) ??
      (settings.AzureWebJobsStorage__accountName
        ? blobEndpointOf(settings.AzureWebJobsStorage__accountName)
        : undefined);
    if (!endpoint) {
      throw new ActionError(
        `No storage account for run-from-package: the app has no AzureWebJobsStorage connection string or identity-based setting`,
        {
          fix: 'Set storage-account (with Storage Blob Data Contributor for the deploying identity) or storage-connection-string',
        },
      );
    }
    access = { kind: 'entra', ...endpoint, credential };
  }
  return createStorageApi(access, deadline, logger);
}

async function runFromPackage(c: DeployContext): Promise<string> {
  const { inputs, result, ref, pkg } = c;
  const storage = c.storage!;
  const blobName = `${result.deploymentId}/${ref.name}${ref.slot ? `-${ref.slot}` : ''}.zip`;
  const container = inputs.storageContainer;

  const stored = await phase(result, 'upload', async () => {
    const existing = pkg.stored ?? (await storage.findPackage(container, ref.name, ref.slot, pkg.sha256));
    if (existing) {
      c.services.logger.info(
        `A package with sha256 ${pkg.sha256} is already stored as '${existing.blobName}': upload skipped.`,
      );
      result.packageReused = true;
      return existing;
    }
    const run = runInfo();
    const uploaded = await storage.uploadPackage({
      container,
      blobName,
      file: pkg.path ?? '',
      metadata: {
        sha256: pkg.sha256,
        app: ref.name,
        ...(ref.slot ? { slot: ref.slot } : {}),
        deploymentid: result.deploymentId ?? '',
        ...(run.sha ? { commit: run.sha } : {}),
        ...(run.id ? { run: `${run.id}.${run.attempt ?? '1'}` } : {}),
      },
    });
    await storage.putJson(container, `${result.deploymentId}/manifest.json`, {
      schema: 'azure-functions-package-deploy/manifest@1',
      deploymentId: result.deploymentId,
      app: ref.name,
      slot: ref.slot,
      resourceGroup: ref.resourceGroup,
      package: {
        blob: uploaded.blobName,
        sha256: pkg.sha256,
        size: pkg.size,
        fileCount: pkg.fileCount,
        functions: pkg.functions,
      },
      run,
      time: c.services.now().toISOString(),
    });
    return uploaded;
  });
  result.packageUrl = stripQuery(stored.url);

  let settingValue: string;
  if (inputs.packageAccess === 'managed-identity') {
    settingValue = stored.url;
  } else {
    const expiresOn = new Date(c.services.now().getTime() + inputs.sasExpiryMs);
    settingValue = await storage.readSasUrl(container, stored.blobName, expiresOn);
    for (const sig of sasSignatures(settingValue)) core.setSecret(sig);
    result.sasExpiresAt = expiresOn.toISOString();
    warnIfExpiring(result, settingValue, 'The new package URL', c.services.now());
  }
  result.newPackage = redactSas(settingValue);

  await phase(result, 'switch', async () => {
    const fresh = await freshSettingsOrStop(c);
    await writeSettings(c, applySettingsPatch(fresh, c.plan.patch, settingValue));
    c.services.logger.info(`${RUN_FROM_PACKAGE} now points at ${result.newPackage}.`);
    if (inputs.syncTriggers) await c.arm.syncTriggers(ref);
    if (inputs.restart) await c.arm.restart(ref);
  }).catch(async (error: unknown) => {
    await rollBack(c, error);
    throw error;
  });

  await verifyOrRollBack(c);

  try {
    const previousBlob = c.settings[RUN_FROM_PACKAGE] ? stripQuery(c.settings[RUN_FROM_PACKAGE]) : '';
    const pruned = await storage.prune({
      container,
      app: ref.name,
      slot: ref.slot,
      keep: inputs.retainPackages,
      maxAgeDays: inputs.retainDays,
      protect: [
        stored.blobName,
        ...(previousBlob.includes(`/${container}/`)
          ? [decodeURIComponent(previousBlob.split(`/${container}/`)[1] ?? '')]
          : []),
      ],
    });
    if (pruned.length)
      c.services.logger.info(`Deleted ${pruned.length} old package(s): ${pruned.join(', ')}`);
  } catch (error) {
    core.warning(`Could not clean old packages: ${redactSas((error as Error).message)}`);
  }
  return settingValue;
}

async function zipDeploy(c: DeployContext): Promise<string | undefined> {
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

/** Waits until every function of the package is listed; restores the previous setting if it never happens. */
async function verifyOrRollBack(c: DeployContext): Promise<void> {
  const { inputs, result, ref, pkg } = c;
  if (!inputs.verify) {
    result.functions = await c.arm.listFunctions(ref).catch(() => undefined);
    return;
  }
  let last = 'no answer yet';
  try {
    result.functions = await phase(result, 'verify', () =>
      poll(
        async () => {
          try {
            const listed = await c.arm.listFunctions(ref);
            const missing = pkg.functions.filter(
              (f) => !listed.some((l) => l.toLowerCase() === f.toLowerCase()),
            );
            last = missing.length
              ? `listed [${listed.join(', ')}], missing [${missing.join(', ')}]`
              : 'all listed';
            return missing.length === 0 && (listed.length > 0 || pkg.functions.length === 0)
              ? listed
              : undefined;
          } catch (error) {
            // A host that is still starting (or failing) answers 400 with its error; keep polling until the deadline.
            if (
              error instanceof AzureError &&
              error.statusCode !== undefined &&
              error.statusCode < 500 &&
              error.statusCode !== 400
            )
              throw error;
            last = redactSas((error as Error).message);
            return undefined;
          }
        },
        {
          label: 'verify',
          deadline: c.deadline,
          baseDelayMs: 1000,
          maxDelayMs: 10_000,
          describeLast: () => last,
        },
      ),
    );
    c.services.logger.info(`Verified: the platform lists ${result.functions.join(', ')}.`);
  } catch (error) {
    const failure = new VerificationError(
      `The functions of the package were not listed before the timeout; the platform said: ${last}`,
      {
        cause: error,
        fix: inputs.rollbackOnFailure
          ? 'The previous package setting was restored; fix the package and deploy again'
          : 'Fix the package and deploy again',
      },
    );
    await rollBack(c, failure);
    throw failure;
  }
}

/** Restores WEBSITE_RUN_FROM_PACKAGE (and its identity setting) as inspected, when allowed and something was written. */
async function rollBack(c: DeployContext, cause: unknown): Promise<void> {
  if (!c.inputs.rollbackOnFailure || !c.wrote) return;
  const previous = c.settings[RUN_FROM_PACKAGE];
  try {
    // A rollback must get its own time: the deploy's deadline may be what just ran out.
    const fresh = await c.arm.listSettings(c.ref);
    const restored = { ...fresh };
    for (const key of [RUN_FROM_PACKAGE, RUN_FROM_PACKAGE_MI]) {
      const before = c.settings[key];
      if (before === undefined) delete restored[key];
      else restored[key] = before;
    }
    await c.arm.putSettings(c.ref, restored);
    if (c.plan.mode === 'run-from-package' && c.inputs.restart) await c.arm.restart(c.ref);
    c.result.rolledBack = true;
    core.warning(
      `Rolled back ${RUN_FROM_PACKAGE} on ${c.ref.name} to ${previous === undefined ? '(absent)' : redactSas(previous)} after: ${redactSas((cause as Error).message)}`,
    );
  } catch (error) {
    core.error(
      `Rollback failed; restore ${RUN_FROM_PACKAGE} from the backup artifact by hand: ${redactSas((error as Error).message)}`,
    );
  }
}

async function storeRecord(
  c: DeployContext,
  outcome: RecordDocument['outcome'],
  afterValue: string | undefined,
): Promise<void> {
  const { result, target } = c;
  const before = c.settings[RUN_FROM_PACKAGE];
  const record: RecordDocument = {
    schema: RECORD_SCHEMA,
    app: target.app,
    resourceGroup: target.resourceGroup,
    subscriptionId: target.subscriptionId,
    slot: target.slot,
    deploymentId: result.deploymentId ?? '',
    mode: c.plan.mode,
    reasons: c.plan.reasons,
    package: {
      sha256: c.pkg.sha256,
      size: c.pkg.size,
      fileCount: c.pkg.fileCount,
      functions: c.pkg.functions,
      url: result.packageUrl,
      reused: result.packageReused,
    },
    setting: {
      beforeSha256: before === undefined ? undefined : sha256Hex(before),
      afterSha256: afterValue === undefined ? undefined : sha256Hex(afterValue),
      after: afterValue === undefined ? undefined : redactSas(afterValue),
    },
    sasExpiresAt: result.sasExpiresAt,
    kuduDeploymentId: result.kuduDeploymentId,
    functionsListed: result.functions ?? [],
    backupArtifact: result.backupArtifact?.name,
    outcome,
    error: result.error,
    timingsMs: result.timingsMs,
    run: runInfo(),
    time: c.services.now().toISOString(),
  };
  const name = artifactName('record', target, record.deploymentId);
  try {
    result.recordArtifact = await c.services.artifacts.storeJson(name, 'deployment-record.json', record);
  } catch (error) {
    core.warning(`Could not store the deployment record: ${(error as Error).message}`);
  }
}

/** zipdeploy with the publish profile's basic credentials: no ARM, so no settings change and no function listing. */
async function deployWithPublishProfile(
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
