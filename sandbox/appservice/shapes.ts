import { createHash } from 'node:crypto';
import type { SandboxSeed } from './seed.js';
import {
  defaultHostName,
  type FunctionInfo,
  isLinux,
  label,
  publishingUserName,
  type Site,
  siteId,
  siteName,
} from './state.js';

/** ARM resource bodies, shaped as azure-contract.md §A describes. */

function stableUuid(text: string): string {
  const h = createHash('sha256').update(text).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-8${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

function type(site: Site, suffix = ''): string {
  return `Microsoft.Web/sites${site.slot === undefined ? '' : '/slots'}${suffix}`;
}

export function kind(site: Site): string {
  return site.app.kind ?? (isLinux(site) ? 'functionapp,linux' : 'functionapp');
}

export function planId(seed: SandboxSeed, site: Site): string {
  return `/subscriptions/${seed.subscriptionId}/resourceGroups/${site.app.resourceGroup}/providers/Microsoft.Web/serverfarms/${site.app.plan.name}`;
}

function identity(seed: SandboxSeed, site: Site): Record<string, unknown> | undefined {
  const system = site.app.identities.some((id) => id.toLowerCase() === 'systemassigned');
  const users = site.app.identities.filter((id) => id.toLowerCase() !== 'systemassigned');
  if (!system && users.length === 0) return undefined;
  return {
    type:
      system && users.length > 0
        ? 'SystemAssigned, UserAssigned'
        : system
          ? 'SystemAssigned'
          : 'UserAssigned',
    ...(system
      ? { principalId: stableUuid(`principal:${siteId(site, seed.subscriptionId)}`), tenantId: seed.tenantId }
      : {}),
    ...(users.length > 0
      ? {
          userAssignedIdentities: Object.fromEntries(
            users.map((id) => [
              id,
              { principalId: stableUuid(`principal:${id}`), clientId: stableUuid(`client:${id}`) },
            ]),
          ),
        }
      : {}),
  };
}

function linuxFx(site: Site): string {
  return isLinux(site) && site.app.plan.tier !== 'FlexConsumption' ? site.app.linuxFxVersion : '';
}

function functionAppConfig(site: Site): Record<string, unknown> | null {
  // Every Flex app has one: seeded, or the default the sandbox gives it at start (flex.ts withFlexDefaults).
  return site.app.plan.tier === 'FlexConsumption' ? (site.app.functionAppConfig ?? null) : null;
}

function sslState(name: string, hostType: 'Standard' | 'Repository'): Record<string, unknown> {
  return {
    name,
    sslState: 'Disabled',
    ipBasedSslResult: null,
    virtualIP: null,
    thumbprint: null,
    toUpdate: null,
    hostType,
  };
}

export function siteJson(seed: SandboxSeed, site: Site): Record<string, unknown> {
  const host = defaultHostName(site);
  const ident = identity(seed, site);
  return {
    id: siteId(site, seed.subscriptionId),
    name: siteName(site),
    type: type(site),
    kind: kind(site),
    location: site.app.location,
    tags: {},
    ...(ident ? { identity: ident } : {}),
    properties: {
      name: siteName(site),
      state: site.state,
      hostNames: [host],
      repositorySiteName: site.app.name,
      usageState: 'Normal',
      enabled: true,
      enabledHostNames: [host, site.kuduHost],
      availabilityState: 'Normal',
      hostNameSslStates: [sslState(host, 'Standard'), sslState(site.kuduHost, 'Repository')],
      serverFarmId: planId(seed, site),
      reserved: isLinux(site),
      isXenon: false,
      hyperV: false,
      siteConfig: {
        numberOfWorkers: 1,
        linuxFxVersion: linuxFx(site),
        windowsFxVersion: null,
        netFrameworkVersion: null,
        alwaysOn: null,
        appSettings: null,
        functionAppScaleLimit: null,
        minimumElasticInstanceCount: null,
      },
      functionAppConfig: functionAppConfig(site),
      deploymentId: label(site),
      slotName: site.slot ?? null,
      sku: site.app.plan.tier,
      scmSiteAlsoStopped: false,
      clientAffinityEnabled: false,
      clientCertEnabled: false,
      hostNamesDisabled: false,
      outboundIpAddresses: '127.0.0.1',
      possibleOutboundIpAddresses: '127.0.0.1',
      containerSize: site.app.plan.tier === 'Dynamic' ? 1536 : 0,
      dailyMemoryTimeQuota: 0,
      resourceGroup: site.app.resourceGroup,
      defaultHostName: host,
      httpsOnly: false,
      redundancyMode: 'None',
      publicNetworkAccess: null,
      storageAccountRequired: false,
      keyVaultReferenceIdentity: 'SystemAssigned',
    },
  };
}

export function planJson(seed: SandboxSeed, site: Site, numberOfSites: number): Record<string, unknown> {
  const { plan } = site.app;
  const linux = isLinux(site);
  const planKind =
    plan.tier === 'ElasticPremium'
      ? 'elastic'
      : plan.tier === 'Dynamic' || plan.tier === 'FlexConsumption'
        ? linux
          ? 'functionapp,linux'
          : 'functionapp'
        : linux
          ? 'linux'
          : 'app';
  const elastic = plan.tier === 'ElasticPremium';
  return {
    id: planId(seed, site),
    name: plan.name,
    type: 'Microsoft.Web/serverfarms',
    kind: planKind,
    location: site.app.location,
    tags: {},
    sku: {
      name: plan.sku,
      tier: plan.tier,
      size: plan.sku,
      family: plan.sku.replace(/\d/g, ''),
      capacity: plan.tier === 'Dynamic' || plan.tier === 'FlexConsumption' ? 0 : 1,
    },
    properties: {
      status: 'Ready',
      reserved: linux,
      isXenon: false,
      hyperV: false,
      numberOfSites,
      numberOfWorkers: plan.tier === 'Dynamic' ? 0 : 1,
      maximumElasticWorkerCount: elastic ? 20 : 1,
      elasticScaleEnabled: elastic,
      perSiteScaling: false,
      zoneRedundant: false,
      resourceGroup: site.app.resourceGroup,
      provisioningState: 'Succeeded',
    },
  };
}

export function appSettingsJson(seed: SandboxSeed, site: Site): Record<string, unknown> {
  return {
    id: `${siteId(site, seed.subscriptionId)}/config/appsettings`,
    name: 'appsettings',
    type: type(site, '/config'),
    location: site.app.location,
    kind: 'app',
    properties: { ...site.settings },
  };
}

export function webConfigJson(seed: SandboxSeed, site: Site): Record<string, unknown> {
  const dedicated = !['Dynamic', 'ElasticPremium', 'FlexConsumption'].includes(site.app.plan.tier);
  return {
    id: `${siteId(site, seed.subscriptionId)}/config/web`,
    name: 'web',
    type: type(site, '/config'),
    location: site.app.location,
    kind: 'app',
    properties: {
      numberOfWorkers: 1,
      netFrameworkVersion: 'v4.0',
      phpVersion: '',
      pythonVersion: '',
      nodeVersion: '',
      powerShellVersion: '',
      linuxFxVersion: linuxFx(site),
      windowsFxVersion: null,
      requestTracingEnabled: false,
      remoteDebuggingEnabled: false,
      httpLoggingEnabled: false,
      detailedErrorLoggingEnabled: false,
      publishingUsername: publishingUserName(site),
      scmType: 'None',
      use32BitWorkerProcess: !isLinux(site),
      webSocketsEnabled: false,
      alwaysOn: dedicated,
      managedPipelineMode: 'Integrated',
      loadBalancing: 'LeastRequests',
      autoHealEnabled: false,
      vnetRouteAllEnabled: false,
      http20Enabled: false,
      minTlsVersion: '1.2',
      scmMinTlsVersion: '1.2',
      ftpsState: 'FtpsOnly',
      functionAppScaleLimit: site.app.plan.tier === 'Dynamic' ? 200 : 0,
      minimumElasticInstanceCount: site.app.plan.tier === 'ElasticPremium' ? 1 : 0,
      functionsRuntimeScaleMonitoringEnabled: false,
    },
  };
}

export function publishingCredentialsJson(seed: SandboxSeed, site: Site): Record<string, unknown> {
  const user = publishingUserName(site);
  return {
    id: `${siteId(site, seed.subscriptionId)}/publishingcredentials/${user}`,
    name: siteName(site),
    type: type(site, '/publishingcredentials'),
    location: site.app.location,
    properties: {
      name: null,
      publishingUserName: user,
      publishingPassword: site.password,
      publishingPasswordHash: null,
      publishingPasswordHashSalt: null,
      metadata: null,
      isDeleted: false,
      scmUri: `https://${user}:${site.password}@${site.kuduHost}`,
    },
  };
}

export function scmPolicyJson(seed: SandboxSeed, site: Site): Record<string, unknown> {
  return {
    id: `${siteId(site, seed.subscriptionId)}/basicPublishingCredentialsPolicies/scm`,
    name: 'scm',
    type: type(site, '/basicPublishingCredentialsPolicies'),
    location: site.app.location,
    properties: { allow: site.app.basicAuthAllowed },
  };
}

export function functionJson(seed: SandboxSeed, site: Site, fn: FunctionInfo): Record<string, unknown> {
  const scm = `https://${site.kuduHost}`;
  const root = `${scm}/api/vfs/site/wwwroot/${fn.name}/`;
  return {
    id: `${siteId(site, seed.subscriptionId)}/functions/${fn.name}`,
    name: `${siteName(site)}/${fn.name}`,
    type: type(site, '/functions'),
    location: site.app.location,
    properties: {
      name: fn.name,
      function_app_id: null,
      script_root_path_href: root,
      script_href: `${root}index.js`,
      config_href: `${root}function.json`,
      test_data_href: `${scm}/api/vfs/data/Functions/sampledata/${fn.name}.dat`,
      secrets_file_href: `${scm}/api/vfs/data/Functions/secrets/${fn.name}.json`,
      href: `${scm}/api/functions/${fn.name}`,
      config: { bindings: fn.bindings },
      files: null,
      test_data: '',
      invoke_url_template:
        fn.httpRoute === undefined ? null : `https://${defaultHostName(site)}/${fn.httpRoute}`,
      language: fn.language,
      isDisabled: fn.isDisabled,
    },
  };
}

/** `POST {site}/host/default/listkeys`: the spec's HostKeys, as `webApps.listHostKeys` reads it [SPEC/SDK]. */
export function hostKeysJson(site: Site): Record<string, unknown> {
  return {
    masterKey: site.hostKeys.masterKey,
    functionKeys: { ...site.hostKeys.functionKeys },
    systemKeys: { ...site.hostKeys.systemKeys },
  };
}

/** `GET {site}/config/slotConfigNames`: SlotConfigNamesResource [SPEC]. */
export function slotConfigNamesJson(seed: SandboxSeed, site: Site): Record<string, unknown> {
  return {
    id: `${siteId(site, seed.subscriptionId)}/config/slotConfigNames`,
    name: 'slotConfigNames',
    type: 'Microsoft.Web/sites/config',
    location: site.app.location,
    properties: {
      appSettingNames: [...site.slotConfigNames.appSettingNames],
      connectionStringNames: [...site.slotConfigNames.connectionStringNames],
      azureStorageConfigNames: [...site.slotConfigNames.azureStorageConfigNames],
    },
  };
}

export function resourceJson(seed: SandboxSeed, site: Site): Record<string, unknown> {
  return {
    id: siteId(site, seed.subscriptionId),
    name: siteName(site),
    type: type(site),
    kind: kind(site),
    location: site.app.location,
  };
}
