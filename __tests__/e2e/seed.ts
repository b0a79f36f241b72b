/** Apps for the end-to-end runs; each test uses its own app so tests do not see each other's state. */
const common = {
  resourceGroup: 'rg-e2e',
  location: 'East US',
  state: 'Running',
  basicAuthAllowed: true,
  identities: ['SystemAssigned'],
};
const nodeSettings = (extra: Record<string, string> = {}) => ({
  FUNCTIONS_WORKER_RUNTIME: 'node',
  FUNCTIONS_EXTENSION_VERSION: '~4',
  AzureWebJobsStorage: '${AZURITE_CONNECTION_STRING}',
  APPINSIGHTS_CONNECTION: 'InstrumentationKey=keep-me',
  ...extra,
});

export function seed(
  apps: Record<
    string,
    {
      os: 'windows' | 'linux';
      sku: string;
      settings?: Record<string, string>;
      slots?: string[];
      linuxFx?: string;
      /** Site kind when it is not the plain function app of its OS (container apps, web apps). */
      kind?: string;
      imageFunctions?: string[];
      identities?: string[];
      basicAuthAllowed?: boolean;
      /** Flex Consumption: how the platform reaches its deployment container, and the runtime. */
      flex?: {
        auth: 'StorageAccountConnectionString' | 'SystemAssignedIdentity' | 'UserAssignedIdentity';
        runtime?: string;
        connectionStringName?: string;
        identity?: string;
      };
    }
  >,
) {
  return {
    apps: Object.entries(apps).map(([name, a]) => ({
      ...common,
      name,
      os: a.os,
      plan: { name: `plan-${name}`, sku: a.sku },
      linuxFxVersion: a.os === 'linux' ? (a.linuxFx ?? 'Node|20') : '',
      ...(a.kind ? { kind: a.kind } : {}),
      ...(a.imageFunctions ? { imageFunctions: a.imageFunctions } : {}),
      ...(a.identities ? { identities: a.identities } : {}),
      ...(a.basicAuthAllowed !== undefined ? { basicAuthAllowed: a.basicAuthAllowed } : {}),
      ...(a.flex
        ? {
            functionAppConfig: {
              deployment: {
                storage: {
                  type: 'blobContainer',
                  value: `\${AZURITE_BLOB_ENDPOINT}/app-package-${name}`,
                  authentication: {
                    type: a.flex.auth,
                    ...(a.flex.connectionStringName
                      ? { storageAccountConnectionStringName: a.flex.connectionStringName }
                      : {}),
                    ...(a.flex.identity ? { userAssignedIdentityResourceId: a.flex.identity } : {}),
                  },
                },
              },
              runtime: {
                name: a.flex.runtime ?? 'node',
                version: a.flex.runtime === 'python' ? '3.11' : '20',
              },
              scaleAndConcurrency: { maximumInstanceCount: 100, instanceMemoryMB: 2048 },
            },
          }
        : {}),
      settings: a.settings ?? nodeSettings(),
      slots: (a.slots ?? []).map((slot) => ({ name: slot, settings: nodeSettings({ SLOT_ONLY: slot }) })),
    })),
  };
}

export { nodeSettings };
