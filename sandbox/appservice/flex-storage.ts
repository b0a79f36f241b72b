import {
  ContainerClient,
  RestError,
  type StoragePipelineOptions,
  StorageSharedKeyCredential,
} from '@azure/storage-blob';
import { PLATFORM_USER_AGENT } from '../storage-front.js';
import { deploymentStorage, type FlexDeploymentStorage } from './flex-config.js';
import { type Site, settingIn } from './state.js';

/**
 * The platform side of a Flex Consumption deployment container: the package is `released-package.zip` in the
 * container of `functionAppConfig.deployment.storage`, written by the platform, never by the client
 * (vscode-azurefunctions#4494 log: "Created blob name: released-package.zip", "Created blob uri:
 * https://…/app-package-…/released-package.zip" [OBS]; Learn functions-infrastructure-as-code, Flex pivot,
 * "Deployment package" [DOC]).
 */
export const RELEASED_PACKAGE = 'released-package.zip';

const TIMEOUT_MS = 15_000;
const LOOPBACK = new Set(['127.0.0.1', 'localhost', '[::1]']);

export interface BlobAccess {
  ca: string;
  /** The sandbox's Azurite account: what a managed identity's token amounts to here. */
  blob: { account: string; key: string };
  signal: AbortSignal;
}

/** A storage problem, worded as the Flex deployment log words it. */
export class FlexStorageError extends Error {}

export interface ContainerAccess {
  client: ContainerClient;
  /** Log lines about how the platform authenticated. */
  log: string[];
  storage: FlexDeploymentStorage;
}

function connectionStringPart(value: string, key: string): string | undefined {
  for (const part of value.split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim().toLowerCase() === key.toLowerCase())
      return part.slice(eq + 1).trim();
  }
  return undefined;
}

/**
 * Resolves the credential the configured authentication gives the platform. Identities are checked against the
 * app's assigned identities (the seed's `identities`), as the platform's read of WEBSITE_RUN_FROM_PACKAGE with
 * WEBSITE_RUN_FROM_PACKAGE_BLOB_MI_RESOURCE_ID is in platform.ts; the token is then the sandbox's Azurite key.
 * `settings`: the app settings as the reader sees them (the deployment worker's lag behind the host's).
 */
export function containerAccess(
  site: Site,
  access: BlobAccess,
  settings: Record<string, string>,
): ContainerAccess {
  const config = site.app.functionAppConfig;
  if (!config) throw new FlexStorageError('The app has no functionAppConfig.deployment.storage.');
  const storage = deploymentStorage(config);
  let url: URL;
  try {
    url = new URL(storage.url);
  } catch {
    throw new FlexStorageError(`'${storage.url}' is not a valid container URL.`);
  }
  if (!LOOPBACK.has(url.hostname)) {
    // The resolver's text when a deployment storage account is gone, observed in a Flex deployment log:
    // "BlobUploadFailedException: Name or service not known (….blob.core.windows.net:443)" [OBS, public notes
    // quoting `az functionapp deployment source config-zip`]. The sandbox resolves nothing but loopback.
    throw new FlexStorageError(`Name or service not known (${url.hostname}:${url.port || '443'})`);
  }
  const log: string[] = [];
  let credential: StorageSharedKeyCredential;
  if (storage.auth === 'StorageAccountConnectionString') {
    const name = storage.connectionStringName as string;
    const value = settingIn(settings, name);
    if (value === undefined || value.trim() === '')
      // [INF] wording: the sources show the deployment fails; they do not quote this case.
      throw new FlexStorageError(
        `The app setting '${name}' named by storageAccountConnectionStringName does not exist or is empty.`,
      );
    const account = connectionStringPart(value, 'AccountName');
    const key = connectionStringPart(value, 'AccountKey');
    if (!account || !key)
      throw new FlexStorageError(
        `The connection string in app setting '${name}' has no AccountName/AccountKey.`,
      );
    credential = new StorageSharedKeyCredential(account, key);
    log.push(`Using the connection string in app setting '${name}'.`);
  } else if (storage.auth === 'SystemAssignedIdentity') {
    if (!site.app.identities.some((id) => id.toLowerCase() === 'systemassigned'))
      throw new FlexStorageError(
        'The system assigned identity is not enabled on the app; no token was received.',
      );
    credential = new StorageSharedKeyCredential(access.blob.account, access.blob.key);
    // Core Tools log of a Flex deployment (azure-functions-core-tools#4346) [OBS].
    log.push('Received Token using system assigned identity');
  } else {
    const id = storage.identityResourceId as string;
    if (!site.app.identities.some((assigned) => assigned.toLowerCase() === id.toLowerCase()))
      throw new FlexStorageError(
        `The user assigned identity '${id}' is not assigned to the app; no token was received.`,
      );
    credential = new StorageSharedKeyCredential(access.blob.account, access.blob.key);
    log.push(`Received Token using user assigned identity '${id}'`);
  }
  return { client: containerClient(url, credential, access.ca), log, storage };
}

function containerClient(url: URL, credential: StorageSharedKeyCredential, ca: string): ContainerClient {
  // tlsOptions is honoured by the core pipeline the storage client builds, though its option type omits it.
  const options: StoragePipelineOptions & { tlsOptions: { ca: string } } = {
    retryOptions: { maxTries: 1, tryTimeoutInMs: TIMEOUT_MS },
    keepAliveOptions: { enable: false },
    tlsOptions: { ca },
    // The storage front door tells the platform from the action by this prefix (its firewall lets the platform in).
    userAgentOptions: { userAgentPrefix: PLATFORM_USER_AGENT },
  };
  return new ContainerClient(`${url.origin}${url.pathname}`, credential, options);
}

/**
 * "Response status code does not indicate success: 403 (This request is not authorized to perform this
 * operation.)." is how the Flex log quotes a storage refusal (azure-functions-core-tools#4346; a 404 with "(The
 * specified container does not exist.)" in public deployment notes) [OBS].
 */
export function storageFailure(error: unknown): FlexStorageError {
  if (error instanceof FlexStorageError) return error;
  if (error instanceof RestError && error.statusCode !== undefined) {
    // A HEAD (getProperties, the first step of a download) carries no body: the reason is only in the header.
    const reason = (error.message.split('\n')[0] ?? '').trim() || errorCode(error) || 'no reason given';
    return new FlexStorageError(
      `Response status code does not indicate success: ${error.statusCode} (${reason}).`,
    );
  }
  const e = error as NodeJS.ErrnoException;
  return new FlexStorageError(`${e.code ?? 'Error'}: ${e.message ?? String(error)}`);
}

function errorCode(error: RestError): string | undefined {
  return error.code ?? error.response?.headers.get('x-ms-error-code') ?? undefined;
}

/** The package the host runs, or undefined when the platform never released one. */
export async function readReleasedPackage(site: Site, access: BlobAccess): Promise<Buffer | undefined> {
  const { client } = containerAccess(site, access, site.settings);
  try {
    return await client.getBlockBlobClient(RELEASED_PACKAGE).downloadToBuffer(0, undefined, {
      abortSignal: access.signal,
    });
  } catch (error) {
    if (error instanceof RestError && error.statusCode === 404 && errorCode(error) === 'BlobNotFound')
      return undefined;
    throw storageFailure(error);
  }
}

/** Creates the deployment container, as `az functionapp create` and the portal do when they create a Flex app. */
export async function createDeploymentContainer(site: Site, access: BlobAccess): Promise<void> {
  const config = site.app.functionAppConfig;
  if (!config) return;
  let url: URL;
  try {
    url = new URL(deploymentStorage(config).url);
  } catch {
    return;
  }
  if (!LOOPBACK.has(url.hostname)) return;
  // The account owner creates it, whatever the app later authenticates with.
  const owner = new StorageSharedKeyCredential(access.blob.account, access.blob.key);
  await containerClient(url, owner, access.ca).createIfNotExists({ abortSignal: access.signal });
}
