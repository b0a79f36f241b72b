/**
 * `properties.functionAppConfig` of a Flex Consumption site: validation for the seed, the default the sandbox
 * gives a Flex app seeded without one, and the typed view the deployment engine and the host read.
 *
 * Shape: spec `stable/2024-11-01` example CreateOrUpdateFunctionAppFlexConsumptionWithDetails.json and Core Tools
 * ArmWebsite.cs (azure-contract.md §A.1, §H) [SPEC/SRC].
 */

export const FLEX_AUTH_TYPES = [
  'StorageAccountConnectionString',
  'SystemAssignedIdentity',
  'UserAssignedIdentity',
] as const;
export type FlexAuthType = (typeof FLEX_AUTH_TYPES)[number];

export interface FlexDeploymentStorage {
  /** The container URL (`deployment.storage.value`). */
  url: string;
  auth: FlexAuthType;
  /** StorageAccountConnectionString: the name of the app setting that holds the connection string. */
  connectionStringName?: string;
  /** UserAssignedIdentity: the identity's resource id. */
  identityResourceId?: string;
}

type Obj = Record<string, unknown>;

function isObj(value: unknown): value is Obj {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function nonEmpty(value: unknown): value is string {
  return typeof value === 'string' && value !== '';
}

/** The first problem with a seeded functionAppConfig as `path: problem`, or undefined when it is usable. */
export function functionAppConfigProblem(raw: unknown): string | undefined {
  if (!isObj(raw)) return 'functionAppConfig: must be an object';
  const storage = isObj(raw.deployment) ? raw.deployment.storage : undefined;
  if (!isObj(storage))
    return 'functionAppConfig.deployment.storage: must be an object {type, value, authentication}';
  if (storage.type !== 'blobContainer')
    return 'functionAppConfig.deployment.storage.type: must be "blobContainer"';
  if (!nonEmpty(storage.value) || !/^https?:\/\/[^/]+\/.+/i.test(storage.value))
    return 'functionAppConfig.deployment.storage.value: must be the URL of a blob container';
  const auth = storage.authentication;
  const where = 'functionAppConfig.deployment.storage.authentication';
  if (!isObj(auth) || !FLEX_AUTH_TYPES.includes(auth.type as FlexAuthType))
    return `${where}.type: must be one of ${FLEX_AUTH_TYPES.join(', ')}`;
  if (auth.type === 'StorageAccountConnectionString' && !nonEmpty(auth.storageAccountConnectionStringName))
    return `${where}.storageAccountConnectionStringName: must name the app setting that holds the connection string`;
  if (auth.type === 'UserAssignedIdentity' && !nonEmpty(auth.userAssignedIdentityResourceId))
    return `${where}.userAssignedIdentityResourceId: must be the identity's resource id`;
  const runtime = raw.runtime;
  if (!isObj(runtime) || !nonEmpty(runtime.name) || !nonEmpty(runtime.version))
    return 'functionAppConfig.runtime: must be {name, version} strings, e.g. {"name": "node", "version": "20"}';
  if (raw.scaleAndConcurrency !== undefined && !isObj(raw.scaleAndConcurrency))
    return 'functionAppConfig.scaleAndConcurrency: must be an object';
  if (raw.siteUpdateStrategy !== undefined) {
    const type = isObj(raw.siteUpdateStrategy) ? raw.siteUpdateStrategy.type : undefined;
    // Learn "Site update strategies in Flex Consumption": Recreate (default) or RollingUpdate [DOC].
    if (type !== 'Recreate' && type !== 'RollingUpdate')
      return 'functionAppConfig.siteUpdateStrategy.type: must be "Recreate" or "RollingUpdate"';
  }
  return undefined;
}

/**
 * What a Flex app seeded without a functionAppConfig gets. Learn "Flex Consumption plan", Deployment: "By default,
 * the same storage account used to store internal host metadata (AzureWebJobsStorage) is also used as the
 * deployment container" [DOC]; here that is the sandbox's Azurite. Container `app-package-{name}` as the tools
 * name it (they append a short hash: `app-package-naturins-test-flex-88421dd`, vscode-azurefunctions#4494 log [OBS]).
 */
export function defaultFunctionAppConfig(
  name: string,
  linuxFxVersion: string,
  blobEndpoint: string,
): Record<string, unknown> {
  const [runtime, version] = (linuxFxVersion || 'Node|20').split('|');
  return {
    deployment: {
      storage: {
        type: 'blobContainer',
        value: `${blobEndpoint.replace(/\/+$/, '')}/app-package-${name}`,
        authentication: {
          type: 'SystemAssignedIdentity',
          userAssignedIdentityResourceId: null,
          storageAccountConnectionStringName: null,
        },
      },
    },
    runtime: { name: (runtime || 'node').toLowerCase(), version: version || '20' },
    scaleAndConcurrency: {
      alwaysReady: [],
      maximumInstanceCount: 100,
      instanceMemoryMB: 2048,
      triggers: null,
    },
    siteUpdateStrategy: { type: 'Recreate' },
  };
}

/** The typed view of a validated functionAppConfig. */
export function deploymentStorage(config: Record<string, unknown>): FlexDeploymentStorage {
  const storage = (config.deployment as Obj).storage as Obj;
  const auth = storage.authentication as Obj;
  const view: FlexDeploymentStorage = { url: String(storage.value), auth: auth.type as FlexAuthType };
  if (nonEmpty(auth.storageAccountConnectionStringName))
    view.connectionStringName = auth.storageAccountConnectionStringName;
  if (nonEmpty(auth.userAssignedIdentityResourceId))
    view.identityResourceId = auth.userAssignedIdentityResourceId;
  return view;
}

export function runtimeName(config: Record<string, unknown>): string {
  return String((config.runtime as Obj).name).toLowerCase();
}

export function siteUpdateStrategy(config: Record<string, unknown>): 'Recreate' | 'RollingUpdate' {
  const type = isObj(config.siteUpdateStrategy) ? config.siteUpdateStrategy.type : undefined;
  return type === 'RollingUpdate' ? 'RollingUpdate' : 'Recreate';
}
