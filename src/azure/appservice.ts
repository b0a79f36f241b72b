import { WebSiteManagementClient } from '@azure/arm-appservice';
import type { TokenCredential } from '@azure/core-auth';
import {
  createDefaultHttpClient,
  createHttpHeaders,
  createPipelineRequest,
  type HttpClient,
  type PipelinePolicy,
} from '@azure/core-rest-pipeline';
import { AzureError } from '../errors.js';
import type { Logger } from '../logger.js';
import { type Deadline, parseRetryAfter } from '../retry.js';
import { type CallOptions, callAzure, HttpError, writeAzure } from './call.js';

/** An app or one of its slots, in a subscription. */
export interface SiteRef {
  subscriptionId: string;
  resourceGroup: string;
  name: string;
  slot: string | undefined;
}

export function describeSite(ref: SiteRef): string {
  return `${ref.name}${ref.slot ? `/${ref.slot}` : ''} in resource group '${ref.resourceGroup}'`;
}

export interface SiteInfo {
  /** Site `kind`, e.g. `functionapp,linux`. */
  kind: string;
  /** `properties.sku`: Dynamic, ElasticPremium, FlexConsumption, Standard, … */
  sku: string;
  state: string;
  defaultHostName: string;
  /** Host (and port) of the Kudu site, from the Repository host name entry. */
  scmHost: string | undefined;
  /** Flex Consumption: where the platform keeps the released package, and the runtime. */
  flex: FlexConfig | undefined;
}

/** `properties.functionAppConfig` of a Flex Consumption site, as far as a deploy needs it. */
export interface FlexConfig {
  /** `deployment.storage.value`: the container the platform writes released-package.zip into. */
  containerUrl: string;
  /** `deployment.storage.authentication.type`. */
  auth: string;
  /** StorageAccountConnectionString: the app setting that holds the connection string. */
  connectionStringSetting: string | undefined;
  runtime: string | undefined;
}

/** The routes that sync function triggers; which one works depends on the plan (see plan.ts). */
export type SyncRoute = 'syncfunctiontriggers' | 'hostruntime/admin/host/synctriggers';

/** The ARM operations the deploy needs, with retries, per-request timeouts and context; one instance per run. */
export interface AppServiceApi {
  /** The resource group of the app named so in the subscription, and its kind as the resource list gives it. */
  findResourceGroup(name: string): Promise<{ resourceGroup: string; kind: string | undefined }>;
  getSite(ref: SiteRef): Promise<SiteInfo>;
  /** `config/web`: the image or stack the app runs (`DOCKER|…`, `Python|3.11`, empty on Windows and Flex). */
  linuxFxVersion(ref: SiteRef): Promise<string>;
  listSettings(ref: SiteRef): Promise<Record<string, string>>;
  /** Full replace: the given set becomes the app's whole set. A write left unanswered is confirmed by a re-read. */
  putSettings(ref: SiteRef, settings: Record<string, string>): Promise<void>;
  basicAuthAllowed(ref: SiteRef): Promise<boolean>;
  publishingCredentials(ref: SiteRef): Promise<{ userName: string; password: string }>;
  restart(ref: SiteRef): Promise<void>;
  syncTriggers(ref: SiteRef, route: SyncRoute): Promise<void>;
  listFunctions(ref: SiteRef): Promise<string[]>;
  /** The slot names of an app (production excluded). */
  listSlots(ref: SiteRef): Promise<string[]>;
  /** The host's master key (a secret: masked here), for the host status. */
  masterKey(ref: SiteRef): Promise<string>;
}

export interface AppServiceOptions {
  credential: TokenCredential;
  subscriptionId: string;
  endpoint: string;
  /** Token scope for ARM in this cloud. */
  scope: string;
  deadline: Deadline;
  logger: Logger;
}

/** The version the raw calls use; the SDK's methods use their own default. */
const ARM_API_VERSION = '2024-11-01';
const WRITE_TIMEOUT_MS = 60_000;

/** The code and message of an ARM error body in either shape (`{error:{code,message}}` or the legacy `{Code,Message}`). */
export function armErrorOf(text: string): { code: string | undefined; message: string | undefined } {
  try {
    const body = JSON.parse(text) as {
      error?: { message?: string; code?: string };
      Message?: string;
      Code?: string;
      message?: string;
    };
    return {
      code: body.error?.code ?? body.Code,
      message: body.error?.message ?? body.Message ?? body.message,
    };
  } catch {
    return { code: undefined, message: text ? text.slice(0, 300) : undefined };
  }
}

/**
 * Every ARM answer of 400 or more becomes an HttpError carrying the service's code and message, whatever the
 * body's shape: the SDK's own errors keep only `error.message` and lose the legacy `{Code, Message}` text.
 */
const keepErrorText: PipelinePolicy = {
  name: 'afpd-keep-arm-error-text',
  async sendRequest(request, next) {
    const response = await next(request);
    if (response.status < 400) return response;
    const { code, message } = armErrorOf(response.bodyAsText ?? '');
    throw new HttpError(
      response.status,
      code,
      message ?? `HTTP ${response.status}`,
      parseRetryAfter(response.headers.get('retry-after')),
    );
  },
};

export function createAppServiceApi(options: AppServiceOptions): AppServiceApi {
  const { logger } = options;
  const client = new WebSiteManagementClient(options.credential, options.subscriptionId, {
    endpoint: options.endpoint,
    credentials: { scopes: [options.scope] },
    // The one retry helper (retry.ts) owns retries and the deadline.
    retryOptions: { maxRetries: 0 },
  });
  client.pipeline.addPolicy(keepErrorText);
  const web = client.webApps;
  let httpClient: HttpClient | undefined;
  const sitePath = (ref: SiteRef) =>
    `/subscriptions/${options.subscriptionId}/resourceGroups/${encodeURIComponent(ref.resourceGroup)}/providers/Microsoft.Web/sites/${encodeURIComponent(ref.name)}${ref.slot ? `/slots/${encodeURIComponent(ref.slot)}` : ''}`;
  const base = (what: string, timeoutMs?: number): CallOptions => ({
    service: 'ARM',
    what,
    deadline: options.deadline,
    logger: options.logger,
    ...(timeoutMs ? { timeoutMs } : {}),
  });

  /**
   * A request through the SDK's pipeline (auth, TLS, proxy, user agent) for the routes where the SDK's own
   * method misreads the service: sync triggers answers 200 where the spec says 204, and a failing function
   * listing loses the host's error text.
   */
  async function raw(method: 'GET' | 'POST', path: string, signal: AbortSignal): Promise<unknown> {
    httpClient ??= createDefaultHttpClient();
    // A nextLink is absolute and carries its own api-version; it must stay on the ARM origin the token is for.
    const url = /^https:\/\//i.test(path)
      ? path
      : `${options.endpoint}${path}${path.includes('?') ? '&' : '?'}api-version=${ARM_API_VERSION}`;
    if (new URL(url).origin !== new URL(options.endpoint).origin)
      throw new AzureError(`ARM returned a link to another origin: ${new URL(url).origin}`);
    const request = createPipelineRequest({
      url,
      method,
      abortSignal: signal,
      headers: createHttpHeaders({ accept: 'application/json' }),
    });
    const response = await client.pipeline.sendRequest(httpClient, request);
    const text = response.bodyAsText ?? '';
    return text ? (JSON.parse(text) as unknown) : undefined;
  }

  const listSettings = async (ref: SiteRef, signal?: AbortSignal) => {
    const opts = signal ? { abortSignal: signal } : {};
    const result = ref.slot
      ? await web.listApplicationSettingsSlot(ref.resourceGroup, ref.name, ref.slot, opts)
      : await web.listApplicationSettings(ref.resourceGroup, ref.name, opts);
    return { ...(result.properties ?? {}) };
  };

  return {
    async findResourceGroup(name) {
      const filter = `resourceType eq 'Microsoft.Web/sites' and name eq '${name}'`;
      const body = (await callAzure(
        (signal) =>
          raw(
            'GET',
            `/subscriptions/${options.subscriptionId}/resources?$filter=${encodeURIComponent(filter)}`,
            signal,
          ),
        base(`find the resource group of '${name}'`),
      )) as { value?: { id?: string; name?: string; kind?: string }[] };
      const matches = (body.value ?? []).filter((r) => r.name?.toLowerCase() === name.toLowerCase() && r.id);
      const groups = [
        ...new Set(matches.map((r) => /\/resourceGroups\/([^/]+)/i.exec(r.id ?? '')?.[1]).filter(Boolean)),
      ];
      if (groups.length === 0) {
        throw new AzureError(
          `Function App '${name}' was not found in subscription ${options.subscriptionId}`,
          { fix: 'Check app-name and subscription-id, or set resource-group' },
        );
      }
      if (groups.length > 1) {
        throw new AzureError(
          `Function App '${name}' exists in several resource groups (${groups.join(', ')})`,
          { fix: 'Set resource-group' },
        );
      }
      return { resourceGroup: groups[0] as string, kind: matches[0]?.kind };
    },

    async getSite(ref) {
      const site = await callAzure(
        (abortSignal) =>
          ref.slot
            ? web.getSlot(ref.resourceGroup, ref.name, ref.slot, { abortSignal })
            : web.get(ref.resourceGroup, ref.name, { abortSignal }),
        base(`get the site ${describeSite(ref)}`),
      );
      const repository = site.hostNameSslStates?.find(
        (h) => h.hostType?.toLowerCase() === 'repository',
      )?.name;
      const storage = site.functionAppConfig?.deployment?.storage;
      return {
        kind: site.kind ?? '',
        sku: site.sku ?? '',
        state: site.state ?? 'Unknown',
        defaultHostName: site.defaultHostName ?? '',
        scmHost: repository ?? site.enabledHostNames?.find((h) => h.includes('.scm.')),
        flex: storage?.value
          ? {
              containerUrl: storage.value.replace(/\/+$/, ''),
              auth: storage.authentication?.type ?? 'SystemAssignedIdentity',
              connectionStringSetting:
                storage.authentication?.storageAccountConnectionStringName || undefined,
              runtime: site.functionAppConfig?.runtime?.name ?? undefined,
            }
          : undefined,
      };
    },

    async linuxFxVersion(ref) {
      const config = await callAzure(
        (abortSignal) =>
          ref.slot
            ? web.getConfigurationSlot(ref.resourceGroup, ref.name, ref.slot, { abortSignal })
            : web.getConfiguration(ref.resourceGroup, ref.name, { abortSignal }),
        base(`read the configuration of ${describeSite(ref)}`),
      );
      return config.linuxFxVersion ?? '';
    },

    listSettings(ref) {
      return callAzure(
        (signal) => listSettings(ref, signal),
        base(`list the app settings of ${describeSite(ref)}`),
      );
    },

    async putSettings(ref, settings) {
      await writeAzure(
        (abortSignal) =>
          ref.slot
            ? web.updateApplicationSettingsSlot(
                ref.resourceGroup,
                ref.name,
                ref.slot,
                { properties: settings },
                { abortSignal },
              )
            : web.updateApplicationSettings(
                ref.resourceGroup,
                ref.name,
                { properties: settings },
                { abortSignal },
              ),
        {
          ...base(`update the app settings of ${describeSite(ref)}`, WRITE_TIMEOUT_MS),
          confirm: async (signal) => sameSettings(await listSettings(ref, signal), settings),
        },
      );
    },

    async basicAuthAllowed(ref) {
      try {
        const policy = await callAzure(
          (abortSignal) =>
            ref.slot
              ? web.getScmAllowedSlot(ref.resourceGroup, ref.name, ref.slot, { abortSignal })
              : web.getScmAllowed(ref.resourceGroup, ref.name, { abortSignal }),
          base(`read the SCM basic-auth policy of ${describeSite(ref)}`),
        );
        return policy.allow === true;
      } catch {
        // Unknown means "use a bearer token", which works whatever the policy is.
        return false;
      }
    },

    async publishingCredentials(ref) {
      const user = await callAzure(
        async (abortSignal) =>
          ref.slot
            ? await web.listPublishingCredentialsSlot(ref.resourceGroup, ref.name, ref.slot, { abortSignal })
            : await web.listPublishingCredentials(ref.resourceGroup, ref.name, { abortSignal }),
        base(`list the publishing credentials of ${describeSite(ref)}`),
      );
      if (!user.publishingUserName || !user.publishingPassword) {
        throw new AzureError(`The publishing credentials of ${describeSite(ref)} are empty`, {
          fix: 'Use Entra ID (bearer) for Kudu',
        });
      }
      return { userName: user.publishingUserName, password: user.publishingPassword };
    },

    async restart(ref) {
      await callAzure(
        (abortSignal) =>
          ref.slot
            ? web.restartSlot(ref.resourceGroup, ref.name, ref.slot, { abortSignal })
            : web.restart(ref.resourceGroup, ref.name, { abortSignal }),
        base(`restart ${describeSite(ref)}`, WRITE_TIMEOUT_MS),
      );
    },

    async syncTriggers(ref, route) {
      await callAzure(
        (signal) => raw('POST', `${sitePath(ref)}/${route}`, signal),
        base(`sync the triggers of ${describeSite(ref)}`, WRITE_TIMEOUT_MS),
      );
    },

    async listSlots(ref) {
      return callAzure(
        async (abortSignal) => {
          const names: string[] = [];
          for await (const slot of web.listSlots(ref.resourceGroup, ref.name, { abortSignal })) {
            const name = slot.name?.split('/').pop();
            if (name) names.push(name);
          }
          return names;
        },
        base(`list the slots of ${ref.name}`),
      );
    },

    async masterKey(ref) {
      const keys = await callAzure(
        (abortSignal) =>
          ref.slot
            ? web.listHostKeysSlot(ref.resourceGroup, ref.name, ref.slot, { abortSignal })
            : web.listHostKeys(ref.resourceGroup, ref.name, { abortSignal }),
        base(`list the host keys of ${describeSite(ref)}`),
      );
      if (!keys.masterKey) throw new AzureError(`The host of ${describeSite(ref)} has no master key`);
      logger.mask(keys.masterKey);
      return keys.masterKey;
    },

    async listFunctions(ref) {
      return callAzure(
        async (signal) => {
          const names: string[] = [];
          let next: string | undefined = `${sitePath(ref)}/functions`;
          for (let page = 0; next && page < 50; page++) {
            const body = (await raw('GET', next, signal)) as {
              value?: { name?: string; properties?: { name?: string } }[];
              nextLink?: string | null;
            };
            for (const fn of body.value ?? []) {
              const name = fn.properties?.name ?? fn.name?.split('/').pop();
              if (name) names.push(name);
            }
            next = body.nextLink ?? undefined;
          }
          return names.sort();
        },
        base(`list the functions of ${describeSite(ref)}`),
      );
    },
  };
}

/** Whether two settings sets are the same (order of keys aside). */
export function sameSettings(
  a: Readonly<Record<string, string>>,
  b: Readonly<Record<string, string>>,
): boolean {
  const keys = Object.keys(a);
  return keys.length === Object.keys(b).length && keys.every((k) => Object.hasOwn(b, k) && a[k] === b[k]);
}
