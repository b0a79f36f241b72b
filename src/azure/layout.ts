import { stripQuery } from '../redact.js';

/**
 * The storage layout, in one place:
 *   {container}/{deployment-id}/{app}[-{slot}].zip    a package
 *   {container}/{deployment-id}/manifest.json         what was deployed under that id
 * and how a package URL is read back into account, container and blob name.
 */

export const MANIFEST_SCHEMA = 'azure-functions-package-deploy/manifest@1';

export function packageBlobName(deploymentId: string, app: string, slot: string | undefined): string {
  return `${deploymentId}/${app}${slot ? `-${slot}` : ''}.zip`;
}

export function manifestBlobName(deploymentId: string): string {
  return `${deploymentId}/manifest.json`;
}

/** The deployment id a package blob is stored under (its first path segment). */
export function deploymentIdOf(blobName: string): string | undefined {
  const at = blobName.indexOf('/');
  return at > 0 ? blobName.slice(0, at) : undefined;
}

export interface BlobLocation {
  /** The blob URL without its query (and so without any SAS). */
  url: string;
  /** https://account.blob.core.windows.net, or the path-style endpoint of an emulator. */
  endpoint: string;
  account: string;
  container: string;
  name: string;
}

// Emulators and IP-addressed endpoints carry the account as the first path segment.
const PATH_STYLE_HOST = /^(?:\d+\.\d+\.\d+\.\d+|localhost|\[[0-9a-f:]+\])$/i;

/** Reads a blob URL (SAS ignored); undefined when the value is not a URL of a blob in a container. */
export function parseBlobUrl(value: string | undefined): BlobLocation | undefined {
  if (!value || !/^https?:\/\//i.test(value.trim())) return undefined;
  let url: URL;
  try {
    url = new URL(stripQuery(value.trim()));
  } catch {
    return undefined;
  }
  const segments = url.pathname.split('/').filter(Boolean).map(decodeURIComponent);
  const pathStyle = PATH_STYLE_HOST.test(url.hostname);
  const account = pathStyle ? segments.shift() : url.hostname.split('.')[0];
  const container = segments.shift();
  if (!account || !container || segments.length === 0) return undefined;
  return {
    url: url.toString(),
    endpoint: pathStyle ? `${url.origin}/${account}` : url.origin,
    account,
    container,
    name: segments.join('/'),
  };
}

/** The blob name of a package URL when it is in this account's container, else undefined. */
export function blobNameIn(
  value: string | undefined,
  endpoint: string,
  container: string,
): string | undefined {
  const location = parseBlobUrl(value);
  if (!location || location.container !== container) return undefined;
  return location.endpoint.toLowerCase() === endpoint.replace(/\/+$/, '').toLowerCase()
    ? location.name
    : undefined;
}

export interface AccountAddress {
  accountName: string;
  blobEndpoint: string;
}

/** Parses a storage connection string; the key is returned for SAS signing and must be masked by the caller. */
export function parseConnectionString(
  value: string | undefined,
): (AccountAddress & { accountKey: string }) | undefined {
  if (!value) return undefined;
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

/** The blob endpoint of an account given by name (in the cloud's storage suffix) or by its endpoint URL. */
export function accountAddress(account: string, storageSuffix: string): AccountAddress {
  if (/^https:\/\//i.test(account)) {
    const url = new URL(account);
    const path = url.pathname.replace(/\/+$/, '');
    // Path-style endpoints (emulators, custom domains) carry the account as the first path segment.
    const accountName = path ? path.slice(1).split('/')[0]! : url.hostname.split('.')[0]!;
    return { blobEndpoint: `${url.origin}${path}`, accountName };
  }
  return { blobEndpoint: `https://${account}.blob.${storageSuffix}`, accountName: account };
}

/** Where the package storage is and how it is reached; the key itself stays out of it (the plan's decision). */
export type StorageChoice =
  | {
      kind: 'shared-key';
      from: 'storage-connection-string' | 'AzureWebJobsStorage';
      accountName: string;
      blobEndpoint: string;
      /** The app setting holding the connection string, when it is not AzureWebJobsStorage. */
      setting?: string;
    }
  | { kind: 'entra'; from: string; accountName: string; blobEndpoint: string };
