import { WebSiteManagementClient } from '@azure/arm-appservice';
import type { TokenCredential } from '@azure/core-auth';
import {
  createDefaultHttpClient,
  createHttpHeaders,
  createPipelineRequest,
  type HttpClient,
} from '@azure/core-rest-pipeline';
import { AzureError } from '../errors.js';
import type { Logger } from '../logger.js';
import { redactSas } from '../redact.js';
import { type Deadline, retry, statusOf } from '../retry.js';

/** An app or one of its slots. */
export interface SiteRef {
  resourceGroup: string;
  name: string;
  slot: string | undefined;
}

export interface SiteInfo {
  id: string;
  kind: string;
  /** `properties.sku`: Dynamic, ElasticPremium, FlexConsumption, Standard, … */
  sku: string;
  state: string;
  reserved: boolean;
  defaultHostName: string;
  /** Host (and port) of the Kudu site, from the Repository host name entry. */
  scmHost: string | undefined;
  serverFarmId: string;
  location: string;
}

export interface PlanInfo {
  name: string;
  skuName: string;
  tier: string;
}

/** The ARM operations the deploy needs, with retries and context; one instance per run. */
export interface AppServiceApi {
  findResourceGroup(name: string): Promise<string>;
  getSite(ref: SiteRef): Promise<SiteInfo>;
  getPlan(serverFarmId: string): Promise<PlanInfo | undefined>;
  listSettings(ref: SiteRef): Promise<Record<string, string>>;
  /** Full replace: the given set becomes the app's whole set. */
  putSettings(ref: SiteRef, settings: Record<string, string>): Promise<void>;
  basicAuthAllowed(ref: SiteRef): Promise<boolean>;
  publishingCredentials(ref: SiteRef): Promise<{ userName: string; password: string }>;
  restart(ref: SiteRef): Promise<void>;
  syncTriggers(ref: SiteRef): Promise<void>;
  listFunctions(ref: SiteRef): Promise<string[]>;
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

/** The message of an ARM error body in either shape (`{error:{message}}` or the legacy `{Message}`). */
function armErrorMessage(text: string): string | undefined {
  try {
    const body = JSON.parse(text) as {
      error?: { message?: string; code?: string };
      Message?: string;
      Code?: string;
    };
    const message = body.error?.message ?? body.Message;
    const code = body.error?.code ?? body.Code;
    return message ? `${code ? `${code}: ` : ''}${message}` : undefined;
  } catch {
    return text ? text.slice(0, 300) : undefined;
  }
}

const describe = (ref: SiteRef) =>
  `${ref.name}${ref.slot ? `/${ref.slot}` : ''} in resource group '${ref.resourceGroup}'`;

/** Turns an SDK error into an AzureError with the operation, the status, a redacted message and what to do. */
function azureError(what: string, error: unknown): AzureError {
  const status = statusOf(error);
  const message = redactSas(error instanceof Error ? error.message : String(error));
  const fixes: Record<number, string> = {
    401: 'The ARM token was refused: run azure/login before this step',
    403: "The identity lacks permission: grant it 'Website Contributor' (or Contributor) on the Function App",
    404: 'Check app-name, resource-group, slot-name and subscription-id',
  };
  const options: { cause: unknown; statusCode?: number; fix?: string } = { cause: error };
  if (status !== undefined) options.statusCode = status;
  const fix = status !== undefined ? fixes[status] : undefined;
  if (fix) options.fix = fix;
  return new AzureError(`Failed to ${what}${status ? ` (HTTP ${status})` : ''}: ${message}`, options);
}

export function createAppServiceApi(options: AppServiceOptions): AppServiceApi {
  const client = new WebSiteManagementClient(options.credential, options.subscriptionId, {
    endpoint: options.endpoint,
    credentials: { scopes: [options.scope] },
    // The one retry helper (retry.ts) owns retries and the deadline.
    retryOptions: { maxRetries: 0 },
  });
  const web = client.webApps;
  let httpClient: HttpClient | undefined;
  const sitePath = (ref: SiteRef) =>
    `/subscriptions/${options.subscriptionId}/resourceGroups/${encodeURIComponent(ref.resourceGroup)}/providers/Microsoft.Web/sites/${encodeURIComponent(ref.name)}${ref.slot ? `/slots/${encodeURIComponent(ref.slot)}` : ''}`;

  /**
   * A request through the SDK's pipeline (auth, TLS, user agent) for the routes where the SDK's own method
   * misreads the service: sync triggers answers 200 where the spec says 204, and a failing function listing
   * loses the host's error text. Throws with the ARM error message for any status outside `ok`.
   */
  async function raw(method: 'GET' | 'POST', path: string, ok: number[]): Promise<unknown> {
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
      headers: createHttpHeaders({ accept: 'application/json' }),
    });
    const response = await client.pipeline.sendRequest(httpClient, request);
    const text = response.bodyAsText ?? '';
    if (!ok.includes(response.status)) {
      throw Object.assign(new Error(armErrorMessage(text) ?? `HTTP ${response.status}`), {
        statusCode: response.status,
        response: { headers: { get: (n: string) => response.headers.get(n) } },
      });
    }
    return text ? (JSON.parse(text) as unknown) : undefined;
  }

  const call = <T>(what: string, fn: () => Promise<T>): Promise<T> =>
    retry(fn, {
      label: what,
      deadline: options.deadline,
      onRetry: ({ attempt, delayMs, error }) =>
        options.logger.info(
          `Retrying '${what}' in ${delayMs} ms (attempt ${attempt}: ${redactSas(String((error as Error)?.message ?? error))})`,
        ),
    }).catch((error: unknown) => {
      throw azureError(what, error);
    });

  return {
    async findResourceGroup(name) {
      const filter = `resourceType eq 'Microsoft.Web/sites' and name eq '${name}'`;
      const body = (await call(`find the resource group of '${name}'`, () =>
        raw(
          'GET',
          `/subscriptions/${options.subscriptionId}/resources?$filter=${encodeURIComponent(filter)}`,
          [200],
        ),
      )) as { value?: { id?: string; name?: string }[] };
      const matches = (body.value ?? []).filter((r) => r.name?.toLowerCase() === name.toLowerCase() && r.id);
      const groups = [
        ...new Set(matches.map((r) => /\/resourceGroups\/([^/]+)/i.exec(r.id ?? '')?.[1]).filter(Boolean)),
      ];
      if (groups.length === 0) {
        throw new AzureError(
          `Function App '${name}' was not found in subscription ${options.subscriptionId}`,
          {
            fix: 'Check app-name and subscription-id, or set resource-group',
          },
        );
      }
      if (groups.length > 1) {
        throw new AzureError(
          `Function App '${name}' exists in several resource groups (${groups.join(', ')})`,
          {
            fix: 'Set resource-group',
          },
        );
      }
      return groups[0] as string;
    },

    async getSite(ref) {
      const site = await call(`get the site ${describe(ref)}`, () =>
        ref.slot ? web.getSlot(ref.resourceGroup, ref.name, ref.slot) : web.get(ref.resourceGroup, ref.name),
      );
      const repository = site.hostNameSslStates?.find(
        (h) => h.hostType?.toLowerCase() === 'repository',
      )?.name;
      const scmHost = repository ?? site.enabledHostNames?.find((h) => h.includes('.scm.'));
      return {
        id: site.id ?? '',
        kind: site.kind ?? '',
        sku: site.sku ?? '',
        state: site.state ?? 'Unknown',
        reserved: site.reserved ?? false,
        defaultHostName: site.defaultHostName ?? '',
        scmHost,
        serverFarmId: site.serverFarmId ?? '',
        location: site.location ?? '',
      };
    },

    async getPlan(serverFarmId) {
      const match = /\/resourceGroups\/([^/]+)\/providers\/Microsoft\.Web\/serverfarms\/([^/]+)/i.exec(
        serverFarmId,
      );
      if (!match?.[1] || !match[2]) return undefined;
      const [, rg, name] = match;
      const plan = await call(`get the plan '${name}'`, () => client.appServicePlans.get(rg, name));
      return { name, skuName: plan.sku?.name ?? '', tier: plan.sku?.tier ?? '' };
    },

    async listSettings(ref) {
      const result = await call(`list the app settings of ${describe(ref)}`, () =>
        ref.slot
          ? web.listApplicationSettingsSlot(ref.resourceGroup, ref.name, ref.slot)
          : web.listApplicationSettings(ref.resourceGroup, ref.name),
      );
      return { ...(result.properties ?? {}) };
    },

    async putSettings(ref, settings) {
      await call(`update the app settings of ${describe(ref)}`, () =>
        ref.slot
          ? web.updateApplicationSettingsSlot(ref.resourceGroup, ref.name, ref.slot, { properties: settings })
          : web.updateApplicationSettings(ref.resourceGroup, ref.name, { properties: settings }),
      );
    },

    async basicAuthAllowed(ref) {
      try {
        const policy = await call(`read the SCM basic-auth policy of ${describe(ref)}`, () =>
          ref.slot
            ? web.getScmAllowedSlot(ref.resourceGroup, ref.name, ref.slot)
            : web.getScmAllowed(ref.resourceGroup, ref.name),
        );
        return policy.allow === true;
      } catch {
        // Unknown means "use a bearer token", which works whatever the policy is.
        return false;
      }
    },

    async publishingCredentials(ref) {
      const user = await call(`list the publishing credentials of ${describe(ref)}`, async () =>
        ref.slot
          ? await web.listPublishingCredentialsSlot(ref.resourceGroup, ref.name, ref.slot)
          : await web.listPublishingCredentials(ref.resourceGroup, ref.name),
      );
      if (!user.publishingUserName || !user.publishingPassword) {
        throw new AzureError(`The publishing credentials of ${describe(ref)} are empty`, {
          fix: 'Use Entra ID (bearer) for Kudu',
        });
      }
      return { userName: user.publishingUserName, password: user.publishingPassword };
    },

    async restart(ref) {
      await call(`restart ${describe(ref)}`, () =>
        ref.slot
          ? web.restartSlot(ref.resourceGroup, ref.name, ref.slot)
          : web.restart(ref.resourceGroup, ref.name),
      );
    },

    async syncTriggers(ref) {
      await call(`sync the triggers of ${describe(ref)}`, () =>
        raw('POST', `${sitePath(ref)}/syncfunctiontriggers`, [200, 204]),
      );
    },

    async listFunctions(ref) {
      return call(`list the functions of ${describe(ref)}`, async () => {
        const names: string[] = [];
        let next: string | undefined = `${sitePath(ref)}/functions`;
        for (let page = 0; next && page < 50; page++) {
          const body = (await raw('GET', next, [200])) as {
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
      });
    },
  };
}
