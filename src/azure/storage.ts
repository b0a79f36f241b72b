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
import type { Logger } from '../logger.js';
import { type Deadline, isTransient, statusOf } from '../retry.js';
import { type CallOptions, callAzure } from './call.js';

/** How the action reaches the storage account; the key (a secret) was masked by whoever read it. */
export type StorageAccess =
  | { kind: 'shared-key'; blobEndpoint: string; accountName: string; accountKey: string }
  | { kind: 'entra'; blobEndpoint: string; accountName: string; credential: TokenCredential };

/** A blob as the flow sees it: where it is and what its metadata says. */
export interface StoredBlob {
  blobName: string;
  /** Plain blob URL, no SAS. */
  url: string;
  size: number;
  metadata: Record<string, string>;
}

export interface StorageApi {
  readonly blobEndpoint: string;
  /** Every blob under `prefix` (with metadata); the caller decides what they are. */
  list(container: string, prefix?: string): Promise<StoredBlob[]>;
  upload(args: {
    container: string;
    blobName: string;
    file: string;
    metadata: Record<string, string>;
  }): Promise<StoredBlob>;
  /**
   * Writes a JSON document. `ifMatch` writes only over that version, `ifNoneMatch: '*'` only when there is none:
   * a lost race answers 412, which the caller re-reads and merges.
   */
  putJson(
    container: string,
    blobName: string,
    value: unknown,
    condition?: { ifMatch: string } | { ifNoneMatch: '*' },
  ): Promise<void>;
  /** A blob's properties and metadata, or undefined when it does not exist. */
  get(container: string, blobName: string): Promise<StoredBlob | undefined>;
  /** A stored JSON document and its ETag, or undefined when absent. */
  getJson(container: string, blobName: string): Promise<{ value: unknown; etag: string } | undefined>;
  /** A read-only, HTTPS-only SAS URL valid from `startsOn` until `expiresOn`. */
  readSasUrl(container: string, blobName: string, startsOn: Date, expiresOn: Date): Promise<string>;
  delete(container: string, blobName: string): Promise<void>;
  /** Downloads a blob to a local file (a stored package that is to be zip-deployed). */
  download(container: string, blobName: string, file: string): Promise<void>;
  /** Replaces a blob's metadata. */
  setMetadata(container: string, blobName: string, metadata: Record<string, string>): Promise<void>;
}

export function createStorageApi(access: StorageAccess, deadline: Deadline, logger: Logger): StorageApi {
  const service =
    access.kind === 'shared-key'
      ? new BlobServiceClient(
          access.blobEndpoint,
          new StorageSharedKeyCredential(access.accountName, access.accountKey),
          { retryOptions: { maxTries: 1 } },
        )
      : new BlobServiceClient(access.blobEndpoint, access.credential, { retryOptions: { maxTries: 1 } });

  const base = (what: string, timeoutMs?: number): CallOptions => ({
    service: 'Storage',
    what,
    deadline,
    logger,
    ...(timeoutMs ? { timeoutMs } : {}),
  });

  const containers = new Map<string, Promise<ContainerClient>>();
  function container(name: string): Promise<ContainerClient> {
    let client = containers.get(name);
    if (!client) {
      const c = service.getContainerClient(name);
      // Private container: the package is reachable only with a SAS or an identity.
      client = callAzure(
        (abortSignal) => c.createIfNotExists({ abortSignal }),
        base(`create the container '${name}'`),
      ).then(() => c);
      client.catch(() => containers.delete(name));
      containers.set(name, client);
    }
    return client;
  }

  const absentOn404 = <T>(promise: Promise<T>): Promise<T | undefined> =>
    promise.catch((error: unknown) => {
      if (statusOf(error) === 404) return undefined;
      throw error;
    });

  return {
    blobEndpoint: access.blobEndpoint,

    async list(containerName, prefix) {
      const c = await container(containerName);
      return callAzure(
        async (abortSignal) => {
          const found: StoredBlob[] = [];
          for await (const blob of c.listBlobsFlat({
            includeMetadata: true,
            abortSignal,
            ...(prefix ? { prefix } : {}),
          })) {
            found.push({
              blobName: blob.name,
              url: c.getBlobClient(blob.name).url,
              size: blob.properties.contentLength ?? 0,
              metadata: blob.metadata ?? {},
            });
          }
          return found;
        },
        base(`list the blobs in '${containerName}'`),
      );
    },

    async upload({ container: containerName, blobName, file, metadata }) {
      const c = await container(containerName);
      const blob = c.getBlockBlobClient(blobName);
      await callAzure(
        (abortSignal) =>
          blob.uploadFile(file, {
            blockSize: 8 * 1024 * 1024,
            concurrency: 4,
            blobHTTPHeaders: { blobContentType: 'application/zip' },
            metadata,
            abortSignal,
          }),
        // An upload takes as long as its size needs, within the run's deadline.
        base(`upload the package to '${containerName}/${blobName}'`, Math.max(30_000, deadline.remaining())),
      );
      return { blobName, url: blob.url, size: statSync(file).size, metadata };
    },

    async putJson(containerName, blobName, value, condition) {
      const c = await container(containerName);
      const body = `${JSON.stringify(value, null, 2)}\n`;
      await callAzure(
        (abortSignal) =>
          c.getBlockBlobClient(blobName).upload(body, Buffer.byteLength(body), {
            blobHTTPHeaders: { blobContentType: 'application/json' },
            abortSignal,
            ...(condition ? { conditions: condition } : {}),
          }),
        // A conditional write is not retried here: a 412 means "read again and merge", the caller's business.
        {
          ...base(`write '${containerName}/${blobName}'`),
          ...(condition ? { isRetryable: (e) => statusOf(e) !== 412 && isTransient(e) } : {}),
        },
      );
    },

    async get(containerName, blobName) {
      const blob = service.getContainerClient(containerName).getBlobClient(blobName);
      const props = await callAzure(
        (abortSignal) => absentOn404(blob.getProperties({ abortSignal })),
        base(`read '${containerName}/${blobName}'`),
      );
      if (!props) return undefined;
      return { blobName, url: blob.url, size: props.contentLength ?? 0, metadata: props.metadata ?? {} };
    },

    async getJson(containerName, blobName) {
      const blob = service.getContainerClient(containerName).getBlobClient(blobName);
      return callAzure(
        (abortSignal) =>
          absentOn404(
            blob.download(0, undefined, { abortSignal }).then(async (response) => {
              const chunks: Buffer[] = [];
              for await (const chunk of response.readableStreamBody ?? []) chunks.push(chunk as Buffer);
              return {
                value: JSON.parse(Buffer.concat(chunks).toString('utf8')) as unknown,
                etag: response.etag ?? '',
              };
            }),
          ),
        base(`read '${containerName}/${blobName}'`),
      );
    },

    async readSasUrl(containerName, blobName, startsOn, expiresOn) {
      const blob = service.getContainerClient(containerName).getBlobClient(blobName);
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
      const key = await callAzure(
        (abortSignal) => service.getUserDelegationKey(startsOn, expiresOn, { abortSignal }),
        base('get a user delegation key'),
      );
      return `${blob.url}?${generateBlobSASQueryParameters(values, key, access.accountName).toString()}`;
    },

    async download(containerName, blobName, file) {
      const blob = service.getContainerClient(containerName).getBlobClient(blobName);
      await callAzure(
        (abortSignal) => blob.downloadToFile(file, 0, undefined, { abortSignal }),
        base(`download '${containerName}/${blobName}'`, Math.max(30_000, deadline.remaining())),
      );
    },

    async setMetadata(containerName, blobName, metadata) {
      const blob = service.getContainerClient(containerName).getBlobClient(blobName);
      await callAzure(
        (abortSignal) => blob.setMetadata(metadata, { abortSignal }),
        base(`set the metadata of '${containerName}/${blobName}'`),
      );
    },

    async delete(containerName, blobName) {
      const c = await container(containerName);
      await callAzure(
        (abortSignal) => c.deleteBlob(blobName, { deleteSnapshots: 'include', abortSignal }),
        base(`delete '${containerName}/${blobName}'`),
      );
    },
  };
}
