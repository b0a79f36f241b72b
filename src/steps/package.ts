import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { deploymentIdOf, packageBlobName, parseBlobUrl } from '../azure/layout.js';
import type { StorageApi } from '../azure/storage.js';
import type { RunContext } from '../context.js';
import { ActionError, DriftError, PlanError, wrap } from '../errors.js';
import type { ActionInputs } from '../inputs.js';
import type { Logger } from '../logger.js';
import type { BuiltPackage, Package, StoredPackage } from '../model.js';
import { buildPackage } from '../package/index.js';
import { redactSas } from '../redact.js';
import type { ManifestEntry, PackageStore } from '../store.js';

/** Builds and validates the package; a package that does not validate stops the run before any write. */
export async function buildAppPackage(
  inputs: Pick<ActionInputs, 'packagePath' | 'exclude' | 'compressionLevel'>,
  env: NodeJS.ProcessEnv,
  logger: Logger,
): Promise<BuiltPackage> {
  const pkg = await buildPackage({
    source: inputs.packagePath,
    workspace: env.GITHUB_WORKSPACE ?? process.cwd(),
    outDir: mkdtempSync(join(env.RUNNER_TEMP ?? tmpdir(), 'afpd-package-')),
    exclude: inputs.exclude,
    compressionLevel: inputs.compressionLevel,
    ...(env.SOURCE_DATE_EPOCH ? { sourceDateEpoch: Number(env.SOURCE_DATE_EPOCH) } : {}),
    logger,
  }).catch((error: unknown) => {
    throw wrap(`build the package from '${inputs.packagePath}'`, error);
  });
  return {
    kind: 'built',
    path: pkg.path,
    sha256: pkg.sha256,
    size: pkg.size,
    fileCount: pkg.fileCount,
    functions: pkg.functions,
    templatePath: pkg.templatePath,
    warnings: pkg.warnings,
    pythonNeedsBuild: pkg.pythonNeedsBuild,
  };
}

/** Finds the package named by rollback-to: a deployment id (its manifest entry for this app), or a blob URL. */
export async function findStoredPackage(args: {
  rollbackTo: string;
  app: string;
  slot: string | undefined;
  store: PackageStore;
  storage: StorageApi;
  container: string;
}): Promise<StoredPackage> {
  const { rollbackTo, store, storage, container } = args;
  let blobName: string;
  let entry: ManifestEntry | undefined;
  if (/^https:\/\//i.test(rollbackTo)) {
    const location = parseBlobUrl(rollbackTo);
    const inOurs =
      location?.container === container &&
      location.endpoint.toLowerCase() === storage.blobEndpoint.replace(/\/+$/, '').toLowerCase();
    if (!location || !inOurs) {
      throw new ActionError(
        `rollback-to '${redactSas(rollbackTo)}' is not a blob in the container '${container}' of ${storage.blobEndpoint}`,
        { fix: 'Pass a deployment id (the deployment-id output of an earlier run) or a package-url output' },
      );
    }
    blobName = location.name;
    entry = await store.manifestEntry(deploymentIdOf(blobName) ?? '');
  } else {
    // A reused package was recorded under the deployment id too: the manifest entry points at its blob.
    entry = await store.manifestEntry(rollbackTo);
    blobName = entry?.package.blob ?? packageBlobName(rollbackTo, args.app, args.slot);
  }
  const blob = await storage.get(container, blobName);
  if (!blob) {
    throw new ActionError(`No stored package '${container}/${blobName}' to roll back to`, {
      fix: `Run the action with operation: status to list the app's stored deployments, or check storage-account and slot-name`,
    });
  }
  return {
    kind: 'stored',
    blob,
    deploymentId: deploymentIdOf(blobName) ?? rollbackTo,
    sha256: blob.metadata.sha256 ?? entry?.package.sha256 ?? '',
    size: blob.size,
    fileCount: entry?.package.fileCount ?? 0,
    functions: entry?.package.functions ?? [],
  };
}

/**
 * Starts building at once, alongside connect and inspect, which it does not need; undefined for rollback-to,
 * which builds nothing. A package that fails validation still stops the run before any write: it is awaited
 * before the backup.
 */
export function startPackaging(
  ctx: RunContext,
  timed: <T>(phase: string, fn: () => Promise<T>) => Promise<T>,
): Promise<BuiltPackage> | undefined {
  if (ctx.inputs.rollbackTo) return undefined;
  const building = timed('package', () => buildAppPackage(ctx.inputs, ctx.env, ctx.logger));
  // Handled where it is awaited; this only keeps an early failure from being reported as unhandled meanwhile.
  building.catch(() => undefined);
  return building;
}

/**
 * The package to deploy: the one being built, or (rollback-to) the stored one it names, fetched into a local zip
 * when it is to be zip-deployed.
 */
export async function preparePackage(
  ctx: RunContext,
  packaging: Promise<BuiltPackage> | undefined,
  stored: { store: PackageStore; storage: StorageApi } | undefined,
  mode: 'zipdeploy' | 'run-from-package' | 'one-deploy',
): Promise<Package> {
  if (packaging) return packaging;
  const { rollbackTo, appName, slot, storageContainer } = ctx.inputs;
  if (!rollbackTo || !stored) throw new PlanError('Internal: rollback-to needs the package storage');
  const { storage } = stored;
  const pkg = await findStoredPackage({
    rollbackTo,
    app: appName,
    slot,
    ...stored,
    container: storageContainer,
  });
  if (mode !== 'zipdeploy') return pkg;
  const path = join(mkdtempSync(join(ctx.env.RUNNER_TEMP ?? tmpdir(), 'afpd-rollback-')), 'package.zip');
  await storage.download(storageContainer, pkg.blob.blobName, path);
  ctx.logger.info(`Fetched the stored package '${pkg.blob.blobName}' to zip-deploy it.`);
  return { ...pkg, kind: 'fetched', path };
}

/** What the plan needs to know of a package. */
export function factsOf(pkg: Package): { size: number; pythonNeedsBuild: boolean; stored: boolean } {
  return {
    size: pkg.size,
    pythonNeedsBuild: pkg.kind === 'built' && pkg.pythonNeedsBuild,
    stored: pkg.kind !== 'built',
  };
}

/** The stored package behind the live URL, checked against its record (rotate-sas never rotates to another). */
export async function findLivePackage(
  ctx: RunContext,
  live: { store: PackageStore; storage: StorageApi },
  rotation: { blob: string | undefined; container: string | undefined },
): Promise<StoredPackage> {
  const container = ctx.inputs.storageContainer;
  const entry =
    rotation.blob && rotation.container === container
      ? (await live.store.packages()).find((e) => e.blob === rotation.blob)
      : undefined;
  if (!entry || !rotation.blob) {
    throw new DriftError(
      'unknown-package',
      `The live package URL points at '${rotation.container ?? '?'}/${rotation.blob ?? '?'}', which is not one of this action's stored deployments of the app, so rotating it could serve another package; nothing was changed`,
      'Deploy the app once with this action (its URL is then one it knows), or re-sign that URL yourself',
    );
  }
  const blob = await live.storage.get(container, entry.blob);
  if (!blob) {
    throw new DriftError(
      'blob-missing',
      `The blob the package URL points at ('${entry.blob}') does not exist; nothing was changed`,
      'Deploy again (or rollback-to a stored deployment)',
    );
  }
  if (blob.metadata.sha256 !== entry.sha256) {
    throw new DriftError(
      'content-mismatch',
      `The blob '${entry.blob}' says sha256 ${blob.metadata.sha256 ?? '(none)'}, but deployment ${entry.deploymentId} recorded ${entry.sha256}: it is not the package that was deployed; nothing was changed`,
      'Run operation status to see what the app runs, then deploy again',
    );
  }
  return {
    kind: 'stored',
    blob,
    deploymentId: entry.deploymentId,
    sha256: entry.sha256,
    size: blob.size,
    fileCount: entry.fileCount ?? 0,
    functions: entry.functions ?? [],
  };
}
