import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import type { SiteRef } from './azure/appservice.js';
import { MANIFEST_SCHEMA, manifestBlobName, packageBlobName } from './azure/layout.js';
import type { StorageApi, StoredBlob } from './azure/storage.js';
import type { RunContext } from './context.js';
import type { RunInfo } from './documents.js';
import { ActionError } from './errors.js';
import type { Logger } from './logger.js';
import type { Package } from './model.js';
import { statusOf } from './retry.js';

/**
 * The package store in `storage-container`:
 *   {deployment-id}/{app}[-{slot}].zip     a package, with metadata (sha256, app, slot, deploymentid, …)
 *   {deployment-id}/manifest.json          every app deployed under that id (matrix jobs share an id)
 *   _index/{app}[-{slot}].json             the app's packages, newest first: one read per deploy, whatever else
 *                                          the container holds (a listing costs ~0.6 s per 5,000 blobs)
 *   _index/_layout.json                    written once every package in the container is indexed
 * The manifest and the index are shared by parallel jobs, so every change to them is a read-merge-write with
 * If-Match on the ETag (If-None-Match: * to create), repeated on 412. Only plain blob operations: works with a
 * shared key and with Entra ID under Storage Blob Data Contributor.
 */

export const INDEX_SCHEMA = 'azure-functions-package-deploy/index@1';
export const MANIFEST_SCHEMA_V2 = 'azure-functions-package-deploy/manifest@2';

/** One stored package of the app, as the index keeps it. */
export interface IndexEntry {
  blob: string;
  sha256: string;
  size: number;
  deploymentId: string;
  /** ISO 8601 with milliseconds: retention orders by it, never by lastModified (one-second resolution). */
  deployedAt: string | undefined;
  commit: string | undefined;
  run: string | undefined;
  fileCount: number | undefined;
  functions: string[] | undefined;
  /** Flex: the sha256 of what the platform runs after publishing this package (a remote build changes it). */
  releasedSha256?: string | undefined;
  remoteBuild?: boolean | undefined;
  /** A copy of what a Flex app ran before a deploy, kept by the action. */
  kept?: boolean | undefined;
}

interface IndexDocument {
  schema: typeof INDEX_SCHEMA;
  app: string;
  slot: string | undefined;
  packages: IndexEntry[];
}

/** One app's entry in a deployment's manifest. */
export interface ManifestEntry {
  app: string;
  slot: string | undefined;
  resourceGroup: string | undefined;
  package: { blob: string; sha256: string; size: number; fileCount: number; functions: string[] };
  /** The package was already stored (under another deployment id): the entry points at that blob. */
  reused: boolean;
  run: RunInfo;
  time: string;
}

interface ManifestDocument {
  schema: typeof MANIFEST_SCHEMA_V2;
  deploymentId: string;
  entries: ManifestEntry[];
}

const MAX_MERGES = 20;

/**
 * In the container once every package of it is indexed (written after the one listing of a container from before
 * the index): an app without an index then has no packages.
 */
export const LAYOUT_MARKER = '_index/_layout.json';
export const LAYOUT_SCHEMA = 'azure-functions-package-deploy/layout@1';
/** Parallel index writes while a container from before the index is indexed. */
const MIGRATION_WRITERS = 8;

export function indexBlobName(app: string, slot: string | undefined): string {
  return `_index/${app}${slot ? `-${slot}` : ''}.json`.toLowerCase();
}

const sameApp = (
  a: { app: string; slot: string | undefined },
  b: { app: string; slot: string | undefined },
) =>
  a.app.toLowerCase() === b.app.toLowerCase() &&
  (a.slot ?? '').toLowerCase() === (b.slot ?? '').toLowerCase();

/**
 * Read-merge-write of a shared JSON document: `merge` gets the current value (undefined when absent) and returns
 * the new one (undefined: leave it, null: delete it); a concurrent writer's 412 makes it read and merge again.
 */
async function mergeJson<T>(
  storage: StorageApi,
  container: string,
  name: string,
  merge: (current: T | undefined) => T | undefined | null,
): Promise<T | undefined> {
  for (let attempt = 1; ; attempt++) {
    const current = await storage.getJson(container, name);
    const next = merge(current?.value as T | undefined);
    if (next === undefined) return current?.value as T | undefined;
    try {
      if (next === null) {
        if (current) await storage.delete(container, name);
        return undefined;
      }
      await storage.putJson(
        container,
        name,
        next,
        current ? { ifMatch: current.etag } : { ifNoneMatch: '*' },
      );
      return next;
    } catch (error) {
      const lostRace = statusOf(error) === 412 || statusOf(error) === 409;
      if (!lostRace || attempt >= MAX_MERGES) throw error;
    }
  }
}

/** A package of one app (and slot) in the store. */
export class PackageStore {
  private entries: IndexEntry[] | undefined;

  constructor(
    private readonly storage: StorageApi,
    private readonly container: string,
    private readonly ref: Pick<SiteRef, 'name' | 'slot' | 'resourceGroup'>,
    private readonly logger: Logger,
    /** `status`: reads only; a container from before the index is listed for this app and left as it is. */
    private readonly readOnly = false,
  ) {}

  get blobEndpoint(): string {
    return this.storage.blobEndpoint;
  }

  /** The app's packages, newest first; read once per run (an absent index is rebuilt once from a listing). */
  async packages(): Promise<IndexEntry[]> {
    if (!this.entries) {
      const found = await this.storage.getJson(this.container, indexBlobName(this.ref.name, this.ref.slot));
      this.entries = found ? (found.value as IndexDocument).packages : await this.rebuild();
    }
    return this.entries;
  }

  /**
   * An app without an index: since the container's layout marker was written, every package is in its app's
   * index, so there is nothing to find. A container from before the index is listed once, for every app in it:
   * each app's packages found by their metadata go into its index, then the marker is written, and no deploy
   * lists the container again.
   */
  private async rebuild(): Promise<IndexEntry[]> {
    if (await this.storage.getJson(this.container, LAYOUT_MARKER)) return [];
    const byIndex = new Map<string, { app: string; slot: string | undefined; entries: IndexEntry[] }>();
    for (const b of await this.storage.list(this.container)) {
      const { sha256, app, slot } = b.metadata;
      if (!sha256 || !app || !b.blobName.endsWith('.zip')) continue;
      const name = indexBlobName(app, slot);
      const group = byIndex.get(name) ?? { app, slot: slot || undefined, entries: [] };
      group.entries.push(entryOf(b));
      byIndex.set(name, group);
    }
    const mine = indexBlobName(this.ref.name, this.ref.slot);
    if (this.readOnly) return (byIndex.get(mine)?.entries ?? []).sort(newestFirst);
    let own: IndexEntry[] = [];
    const groups = [...byIndex.entries()];
    const migrate = async () => {
      for (let next = groups.pop(); next; next = groups.pop()) {
        const [name, { app, slot, entries }] = next;
        const merged = await mergeIndex(this.storage, this.container, { app, slot }, (current) =>
          mergeEntries(current, entries),
        );
        if (name === mine) own = merged;
      }
    };
    await Promise.all(Array.from({ length: MIGRATION_WRITERS }, migrate));
    if (byIndex.size)
      this.logger.info(
        `Indexed the packages of ${byIndex.size} app(s) stored before the package index existed (once per container).`,
      );
    await mergeJson(this.storage, this.container, LAYOUT_MARKER, (current) =>
      current ? undefined : { schema: LAYOUT_SCHEMA },
    );
    return own;
  }

  async findBySha(sha256: string): Promise<IndexEntry | undefined> {
    return (await this.packages()).find((e) => e.sha256 === sha256 || e.releasedSha256 === sha256);
  }

  async blob(entry: IndexEntry): Promise<StoredBlob> {
    const blob = await this.storage.get(this.container, entry.blob);
    if (!blob)
      throw new ActionError(`The stored package '${this.container}/${entry.blob}' is gone`, {
        fix: 'Deploy the package again (it is uploaded anew)',
      });
    return blob;
  }

  /** Adds or updates entries (by blob name) in the index. */
  async record(...entries: IndexEntry[]): Promise<void> {
    this.entries = await this.update((current) => mergeEntries(current, entries));
  }

  /** Deletes packages: the blobs, their index entries and their manifest entries (a manifest left empty goes). */
  async remove(blobs: string[]): Promise<void> {
    if (blobs.length === 0) return;
    const entries = (await this.packages()).filter((e) => blobs.includes(e.blob));
    for (const entry of entries) {
      await this.storage.delete(this.container, entry.blob).catch((error: unknown) => {
        if (statusOf(error) !== 404) throw error;
      });
    }
    this.entries = await this.update((current) => current.filter((e) => !blobs.includes(e.blob)));
    for (const deploymentId of new Set(entries.map((e) => e.deploymentId))) {
      await mergeJson<ManifestDocument>(
        this.storage,
        this.container,
        manifestBlobName(deploymentId),
        (current) => {
          if (!current || current.schema !== MANIFEST_SCHEMA_V2) return undefined;
          const left = current.entries.filter(
            (e) =>
              !(sameApp(e, { app: this.ref.name, slot: this.ref.slot }) && blobs.includes(e.package.blob)),
          );
          if (left.length === current.entries.length) return undefined;
          return left.length === 0 ? null : { ...current, entries: left };
        },
      );
    }
  }

  /** Adds this app's entry to the deployment's manifest, next to the other apps deployed under the same id. */
  async addToManifest(deploymentId: string, entry: ManifestEntry): Promise<void> {
    await mergeJson<ManifestDocument>(
      this.storage,
      this.container,
      manifestBlobName(deploymentId),
      (current) => ({
        schema: MANIFEST_SCHEMA_V2,
        deploymentId,
        entries: [
          ...(current?.schema === MANIFEST_SCHEMA_V2 ? current.entries : []).filter(
            (e) => !sameApp(e, entry),
          ),
          entry,
        ],
      }),
    );
  }

  /** This app's entry in a deployment's manifest (a single-app manifest of an earlier version counts too). */
  async manifestEntry(deploymentId: string): Promise<ManifestEntry | undefined> {
    const found = await this.storage.getJson(this.container, manifestBlobName(deploymentId));
    const doc = found?.value as
      | (ManifestDocument | (Omit<ManifestEntry, 'reused'> & { schema: string }))
      | undefined;
    if (!doc) return undefined;
    if (doc.schema === MANIFEST_SCHEMA_V2)
      return (doc as ManifestDocument).entries.find((e) =>
        sameApp(e, { app: this.ref.name, slot: this.ref.slot }),
      );
    const single = doc as Omit<ManifestEntry, 'reused'> & { schema: string };
    return single.schema === MANIFEST_SCHEMA && sameApp(single, { app: this.ref.name, slot: this.ref.slot })
      ? { ...single, reused: false }
      : undefined;
  }

  private update(change: (current: IndexEntry[]) => IndexEntry[]): Promise<IndexEntry[]> {
    return mergeIndex(this.storage, this.container, { app: this.ref.name, slot: this.ref.slot }, change);
  }
}

/** Read-merge-write of one app's index, newest first. */
function mergeIndex(
  storage: StorageApi,
  container: string,
  of: { app: string; slot: string | undefined },
  change: (current: IndexEntry[]) => IndexEntry[],
): Promise<IndexEntry[]> {
  return mergeJson<IndexDocument>(storage, container, indexBlobName(of.app, of.slot), (current) => ({
    schema: INDEX_SCHEMA,
    app: of.app,
    slot: of.slot,
    packages: change(current?.packages ?? []).sort(newestFirst),
  })).then((doc) => doc?.packages ?? []);
}

function mergeEntries(current: IndexEntry[], added: IndexEntry[]): IndexEntry[] {
  const names = new Set(added.map((e) => e.blob));
  return [...current.filter((e) => !names.has(e.blob)), ...added];
}

function newestFirst(a: IndexEntry, b: IndexEntry): number {
  return (b.deployedAt ?? '').localeCompare(a.deployedAt ?? '') || b.blob.localeCompare(a.blob);
}

/** An index entry from a blob's metadata (packages stored before the index). */
export function entryOf(b: StoredBlob): IndexEntry {
  const md = b.metadata;
  return {
    blob: b.blobName,
    sha256: md.sha256 ?? '',
    size: b.size,
    deploymentId: md.deploymentid ?? b.blobName.split('/')[0] ?? '',
    deployedAt: md.deployedat,
    commit: md.commit,
    run: md.run,
    fileCount: undefined,
    functions: undefined,
    ...(md.releasedsha256 ? { releasedSha256: md.releasedsha256 } : {}),
    ...(md.remotebuild ? { remoteBuild: md.remotebuild === 'true' } : {}),
    ...(md.kept ? { kept: true } : {}),
  };
}

/**
 * The package in the store: the stored one (rollback-to), one with the same sha256 (nothing uploaded), or a
 * fresh upload. Either way the deployment's manifest gets this app's entry, so `rollback-to <this id>` works.
 */
export async function storePackage(
  ctx: RunContext,
  store: PackageStore,
  storage: StorageApi,
  ref: SiteRef,
  pkg: Package,
  extraMetadata: Record<string, string> = {},
): Promise<{ blob: StoredBlob; reused: boolean; entry: IndexEntry }> {
  const container = ctx.inputs.storageContainer;
  let blob: StoredBlob;
  let reused = true;
  let entry: IndexEntry | undefined;
  if (pkg.kind !== 'built') blob = pkg.blob;
  else {
    entry = (await store.packages()).find((e) => e.sha256 === pkg.sha256 && !e.kept);
    if (entry) {
      ctx.logger.info(
        `A package with sha256 ${pkg.sha256} is already stored as '${entry.blob}': upload skipped.`,
      );
      blob = await store.blob(entry);
    } else {
      reused = false;
      blob = await storage.upload({
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
    }
  }
  entry = {
    ...(entry ?? entryOf(blob)),
    fileCount: pkg.fileCount,
    functions: pkg.functions,
    // A reused package is deployed again now: it counts as the newest for retention.
    deployedAt: ctx.now().toISOString(),
  };
  await store.record(entry);
  await store.addToManifest(ctx.deploymentId, {
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
    reused,
    run: ctx.run,
    time: ctx.now().toISOString(),
  });
  return { blob, reused, entry };
}

/** sha256 of a local file, streamed. */
export async function sha256File(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}
