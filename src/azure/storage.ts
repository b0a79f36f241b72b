import { statSync } from 'node:fs';
import type { TokenCredential } from '@azure/core-auth';
import {
  BlobSASPermissions,
  BlobServiceClient,
  type ContainerClient,
  generateBlobSASQueryParameters,
  SASProtocol,
  StorageSharedKeyCredential,
} from '@azure/storage-blob';
import { AzureError } from '../errors.js';
import type { Logger } from '../logger.js';
import { packagesToDelete } from '../plan.js';
import { type Deadline, retry } from '../retry.js';

/** How the action reaches the storage account. */
export type StorageAccess =
  | { kind: 'shared-key'; blobEndpoint: string; accountName: string; accountKey: string }
  | { kind: 'entra'; blobEndpoint: string; accountName: string; credential: TokenCredential };

export interface ConnectionStringParts {
  accountName: string;
  accountKey: string;
  blobEndpoint: string;
}

/** Parses a storage connection string; the key is returned for SAS signing and must be masked by the caller. */
export function parseConnectionString(value: string): ConnectionStringParts | undefined {
  const parts = new Map<string, string>();
  for (const piece of value.split(';')) {
    const i = piece.indexOf('=');
    if (i > 0) parts.set(piece.slice(0, i).trim().toLowerCase(), piece.slice(i + 1).trim());
  }
  const accountName = parts.get('accountname');
  const accountKey = parts.get('accountkey');
  if (!accountName || !accountKey) return undefined;
  const protocol = parts.get('defaultendpointsprotocol') ?? 'https';
  const suffix = parts.get('endpointsuffix') ?? 'core.windows.net';
  const blobEndpoint = (parts.get('blobendpoint') ?? `${protocol}://${accountName}.blob.${suffix}`).replace(
    /\/+$/,
    '',
  );
  return { accountName, accountKey, blobEndpoint };
}

/** The blob endpoint of an account given by name or URL. */
export function blobEndpointOf(account: string): { blobEndpoint: string; accountName: string } {
  if (/^https:\/\//i.test(account)) {
    const url = new URL(account);
    const path = url.pathname.replace(/\/+$/, '');
    // Path-style endpoints (emulators, custom domains) carry the account as the first path segment.
    const accountName = path ? path.slice(1).split('/')[0]! : url.hostname.split('.')[0]!;
    return { blobEndpoint: `${url.origin}${path}`, accountName };
  }
  return { blobEndpoint: `https://${account}.blob.core.windows.net`, accountName: account };
}

export interface StoredPackage {
  blobName: string;
  size: number;
  /** Plain blob URL, no SAS. */
  url: string;
  sha256: string;
  lastModified: Date;
}

export interface StorageApi {
  readonly accountName: string;
  /** A package of this app already stored with the same sha256, if any. */
  findPackage(
    container: string,
    app: string,
    slot: string | undefined,
    sha256: string,
  ): Promise<StoredPackage | undefined>;
  uploadPackage(args: {
    container: string;
    blobName: string;
    file: string;
    metadata: Record<string, string>;
  }): Promise<StoredPackage>;
  putJson(container: string, blobName: string, value: unknown): Promise<void>;
  /** A stored package by name (its sha256 from metadata), or undefined. */
  getPackage(container: string, blobName: string): Promise<StoredPackage | undefined>;
  /** A stored JSON document, or undefined when absent. */
  getJson(container: string, blobName: string): Promise<unknown>;
  /** A read-only, HTTPS-only SAS URL valid until `expiresOn`. */
  readSasUrl(container: string, blobName: string, expiresOn: Date): Promise<string>;
  /** Deletes old packages of this app, keeping `keep` newest and anything younger than `maxAgeDays`, never `protect`. */
  prune(args: {
    container: string;
    app: string;
    slot: string | undefined;
    keep: number;
    maxAgeDays: number;
    protect: string[];
  }): Promise<string[]>;
}

const ENTRA_SAS_LIMIT_MS = 7 * 24 * 3600 * 1000;

export function createStorageApi(access: StorageAccess, deadline: Deadline, logger: Logger): StorageApi {
  const service =
    access.kind === 'shared-key'
      ? new BlobServiceClient(
          access.blobEndpoint,
          new StorageSharedKeyCredential(access.accountName, access.accountKey),
          {
            retryOptions: { maxTries: 1 },
          },
        )
      : new BlobServiceClient(access.blobEndpoint, access.credential, { retryOptions: { maxTries: 1 } });

  const call = <T>(what: string, fn: () => Promise<T>): Promise<T> =>
    retry(fn, {
      label: what,
      deadline,
      onRetry: ({ delayMs, error }) =>
        logger.info(`Retrying '${what}' in ${delayMs} ms: ${(error as Error).message?.split('\n')[0]}`),
    }).catch((error: unknown) => {
      const status = (error as { statusCode?: number }).statusCode;
      const fix =
        status === 403
          ? access.kind === 'entra'
            ? "Grant the deploying identity 'Storage Blob Data Contributor' on the account, or pass storage-connection-string"
            : 'Check that the storage key is current (rotate the storage-connection-string secret)'
          : status === 404
            ? 'Check storage-account'
            : undefined;
      throw new AzureError(
        `Failed to ${what}${status ? ` (HTTP ${status})` : ''}: ${(error as Error).message?.split('\n')[0]}`,
        {
          cause: error,
          ...(status !== undefined ? { statusCode: status } : {}),
          ...(fix ? { fix } : {}),
        },
      );
    });

  const containers = new Map<string, ContainerClient>();
  async function container(name: string): Promise<ContainerClient> {
    let client = containers.get(name);
    if (!client) {
      const c = service.getContainerClient(name);
      // Private container: the package is reachable only with a SAS or an identity.
      await call(`create the container '${name}'`, () => c.createIfNotExists());
      containers.set(name, c);
      client = c;
    }
    return client;
  }

  async function listAppPackages(
    containerName: string,
    app: string,
    slot: string | undefined,
  ): Promise<StoredPackage[]> {
    const c = await container(containerName);
    return call(`list the packages in '${containerName}'`, async () => {
      const found: StoredPackage[] = [];
      for await (const blob of c.listBlobsFlat({ includeMetadata: true })) {
        const md = blob.metadata ?? {};
        if (md.app?.toLowerCase() !== app.toLowerCase() || (md.slot ?? '') !== (slot ?? '') || !md.sha256)
          continue;
        found.push({
          blobName: blob.name,
          url: c.getBlobClient(blob.name).url,
          sha256: md.sha256,
          size: blob.properties.contentLength ?? 0,
          lastModified: blob.properties.lastModified,
        });
      }
      return found.sort((a, b) => b.lastModified.getTime() - a.lastModified.getTime());
    });
  }

  return {
    accountName: access.accountName,

    async findPackage(containerName, app, slot, sha256) {
      return (await listAppPackages(containerName, app, slot)).find((p) => p.sha256 === sha256);
    },

    async uploadPackage({ container: containerName, blobName, file, metadata }) {
      const c = await container(containerName);
      const blob = c.getBlockBlobClient(blobName);
      const result = await call(`upload the package to '${containerName}/${blobName}'`, () =>
        blob.uploadFile(file, {
          blockSize: 8 * 1024 * 1024,
          concurrency: 4,
          blobHTTPHeaders: { blobContentType: 'application/zip' },
          metadata,
        }),
      );
      return {
        blobName,
        url: blob.url,
        sha256: metadata.sha256 ?? '',
        size: statSync(file).size,
        lastModified: result.lastModified ?? new Date(),
      };
    },

    async putJson(containerName, blobName, value) {
      const c = await container(containerName);
      const body = `${JSON.stringify(value, null, 2)}\n`;
      await call(`write '${containerName}/${blobName}'`, () =>
        c.getBlockBlobClient(blobName).upload(body, Buffer.byteLength(body), {
          blobHTTPHeaders: { blobContentType: 'application/json' },
        }),
      );
    },

    async getPackage(containerName, blobName) {
      const blob = service.getContainerClient(containerName).getBlobClient(blobName);
      const props = await call(`read '${containerName}/${blobName}'`, () =>
        blob.getProperties().catch((error: unknown) => {
          if ((error as { statusCode?: number }).statusCode === 404) return undefined;
          throw error;
        }),
      );
      if (!props) return undefined;
      return {
        blobName,
        url: blob.url,
        sha256: props.metadata?.sha256 ?? '',
        size: props.contentLength ?? 0,
        lastModified: props.lastModified ?? new Date(0),
      };
    },

    async getJson(containerName, blobName) {
      const blob = service.getContainerClient(containerName).getBlobClient(blobName);
      const bytes = await call(`read '${containerName}/${blobName}'`, () =>
        blob.downloadToBuffer().catch((error: unknown) => {
          if ((error as { statusCode?: number }).statusCode === 404) return undefined;
          throw error;
        }),
      );
      return bytes ? (JSON.parse(bytes.toString('utf8')) as unknown) : undefined;
    },

    async readSasUrl(containerName, blobName, expiresOn) {
      const blob = service.getContainerClient(containerName).getBlobClient(blobName);
      const startsOn = new Date(Date.now() - 5 * 60_000);
      const values = {
        containerName,
        blobName,
        permissions: BlobSASPermissions.parse('r'),
        protocol: SASProtocol.Https,
        startsOn,
        expiresOn,
      };
      if (access.kind === 'shared-key') {
        const credential = new StorageSharedKeyCredential(access.accountName, access.accountKey);
        return `${blob.url}?${generateBlobSASQueryParameters(values, credential).toString()}`;
      }
      if (expiresOn.getTime() - Date.now() > ENTRA_SAS_LIMIT_MS) {
        throw new AzureError(
          'A SAS signed with Entra ID (user delegation) lasts at most 7 days, shorter than sas-expiry',
          {
            fix: 'Use package-access: managed-identity (no SAS), pass storage-connection-string, or set sas-expiry to 7d or less',
          },
        );
      }
      const key = await call('get a user delegation key', () =>
        service.getUserDelegationKey(startsOn, expiresOn),
      );
      return `${blob.url}?${generateBlobSASQueryParameters(values, key, access.accountName).toString()}`;
    },

    async prune({ container: containerName, app, slot, keep, maxAgeDays, protect }) {
      const packages = await listAppPackages(containerName, app, slot);
      const doomed = packagesToDelete(packages, { keep, maxAgeDays, protect, now: new Date() });
      const c = await container(containerName);
      for (const name of doomed) {
        await call(`delete the old package '${name}'`, () =>
          c.deleteBlob(name, { deleteSnapshots: 'include' }),
        );
      }
      return doomed;
    },
  };
}
