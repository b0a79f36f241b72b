import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import type { SiteRef } from './azure/appservice.js';
import { MANIFEST_SCHEMA, manifestBlobName, packageBlobName } from './azure/layout.js';
import type { StorageApi, StoredBlob } from './azure/storage.js';
import type { RunContext } from './context.js';
import type { Package } from './model.js';

/**
 * The action's package store: `{container}/{deployment-id}/{app}[-{slot}].zip` with its metadata, and the
 * deployment's manifest. Shared by every mode that keeps its packages (run-from-package, one-deploy).
 */

/** A stored package of this app and slot with the same content, if there is one. */
export async function findReusable(
  storage: StorageApi,
  container: string,
  ref: Pick<SiteRef, 'name' | 'slot'>,
  sha256: string,
): Promise<StoredBlob | undefined> {
  const blobs = await storage.list(container);
  return blobs.find(
    (b) =>
      b.metadata.sha256 === sha256 &&
      b.metadata.app?.toLowerCase() === ref.name.toLowerCase() &&
      (b.metadata.slot ?? '') === (ref.slot ?? ''),
  );
}

/**
 * The package in the store: the stored one (rollback-to), one with the same sha256 (nothing uploaded), or a
 * fresh upload with its manifest.
 */
export async function storePackage(
  ctx: RunContext,
  storage: StorageApi,
  ref: SiteRef,
  pkg: Package,
  extraMetadata: Record<string, string> = {},
): Promise<{ blob: StoredBlob; reused: boolean }> {
  if (pkg.kind !== 'built') return { blob: pkg.blob, reused: true };
  const container = ctx.inputs.storageContainer;
  const existing = await findReusable(storage, container, ref, pkg.sha256);
  if (existing) {
    ctx.logger.info(
      `A package with sha256 ${pkg.sha256} is already stored as '${existing.blobName}': upload skipped.`,
    );
    return { blob: existing, reused: true };
  }
  const blob = await storage.upload({
    container,
    blobName: packageBlobName(ctx.deploymentId, ref.name, ref.slot),
    file: pkg.path,
    metadata: {
      sha256: pkg.sha256,
      app: ref.name,
      ...(ref.slot ? { slot: ref.slot } : {}),
      deploymentid: ctx.deploymentId,
      deployedat: ctx.now().toISOString(),
      ...(ctx.run.sha ? { commit: ctx.run.sha } : {}),
      ...(ctx.run.id ? { run: `${ctx.run.id}.${ctx.run.attempt ?? '1'}` } : {}),
      ...extraMetadata,
    },
  });
  await storage.putJson(container, manifestBlobName(ctx.deploymentId), {
    schema: MANIFEST_SCHEMA,
    deploymentId: ctx.deploymentId,
    app: ref.name,
    slot: ref.slot,
    resourceGroup: ref.resourceGroup,
    package: {
      blob: blob.blobName,
      sha256: pkg.sha256,
      size: pkg.size,
      fileCount: pkg.fileCount,
      functions: pkg.functions,
    },
    run: ctx.run,
    time: ctx.now().toISOString(),
  });
  return { blob, reused: false };
}

/** sha256 of a local file, streamed. */
export async function sha256File(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}
