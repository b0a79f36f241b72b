import * as core from '@actions/core';
import type { SiteRef } from '../azure/appservice.js';
import type { MaskedCliCredential } from '../azure/credentials.js';
import {
  blobEndpointOf,
  createStorageApi,
  parseConnectionString,
  type StorageAccess,
  type StorageApi,
} from '../azure/storage.js';
import { runInfo } from '../backup.js';
import { ActionError } from '../errors.js';
import type { ActionInputs } from '../inputs.js';
import type { Logger } from '../logger.js';
import { applySettingsPatch, RUN_FROM_PACKAGE } from '../plan.js';
import { redactSas, sasSignatures, stripQuery } from '../redact.js';
import type { DeployResult } from '../report.js';
import type { Deadline } from '../retry.js';
import {
  type DeployContext,
  type DeployPackage,
  freshSettingsOrStop,
  phase,
  rollBack,
  verifyOrRollBack,
  warnIfExpiring,
  writeSettings,
} from './context.js';

/** Chooses how to reach the package storage; no network call, so it runs before the backup. */
export function resolveStorage(
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

/** The blob name inside `container` of a package URL (SAS ignored), or undefined when it is elsewhere. */
function blobNameIn(url: string | undefined, container: string): string | undefined {
  if (!url || !/^https?:\/\//i.test(url)) return undefined;
  const path = decodeURIComponent(new URL(stripQuery(url)).pathname);
  const marker = `/${container}/`;
  const at = path.indexOf(marker);
  return at === -1 ? undefined : path.slice(at + marker.length);
}

/** Finds the package named by rollback-to (a deployment id, or a blob URL in the package container). */
export async function locateStoredPackage(
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
    const name = blobNameIn(target, container);
    if (!name) {
      throw new ActionError(
        `rollback-to '${redactSas(target)}' is not a blob in the container '${container}'`,
        {
          fix: 'Pass a deployment id (the deployment-id output of an earlier run) or a package-url output',
        },
      );
    }
    blobName = name;
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

export async function runFromPackage(c: DeployContext): Promise<string> {
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
    const previousBlob = blobNameIn(c.settings[RUN_FROM_PACKAGE], container);
    const pruned = await storage.prune({
      container,
      app: ref.name,
      slot: ref.slot,
      keep: inputs.retainPackages,
      maxAgeDays: inputs.retainDays,
      protect: previousBlob ? [stored.blobName, previousBlob] : [stored.blobName],
    });
    if (pruned.length)
      c.services.logger.info(`Deleted ${pruned.length} old package(s): ${pruned.join(', ')}`);
  } catch (error) {
    core.warning(`Could not clean old packages: ${redactSas((error as Error).message)}`);
  }
  return settingValue;
}
