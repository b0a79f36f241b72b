import { createReadStream, createWriteStream, statSync } from 'node:fs';
import { pipeline as streamPipeline } from 'node:stream/promises';
import type { TokenCredential } from '@azure/core-auth';
import {
  bearerTokenAuthenticationPolicy,
  createDefaultHttpClient,
  createHttpHeaders,
  createPipelineFromOptions,
  createPipelineRequest,
  type HttpClient,
  type Pipeline,
  type PipelineResponse,
  type RequestBodyType,
} from '@azure/core-rest-pipeline';
import { AzureError, VerificationError } from '../errors.js';
import type { Logger } from '../logger.js';
import { redactSas } from '../redact.js';
import { type Deadline, isTransient, parseRetryAfter, poll, statusOf } from '../retry.js';
import { azureError, type CallOptions, callAzure, HttpError, READ_TIMEOUT_MS } from './call.js';

export type KuduAuth =
  | { kind: 'bearer'; credential: TokenCredential; scope: string }
  | { kind: 'basic'; userName: string; password: string };

export interface KuduDeployment {
  id: string;
  status: number;
  statusText: string;
  complete: boolean;
  message: string;
}

export interface KuduApi {
  readonly origin: string;
  settings(): Promise<Record<string, string>>;
  /** Waits until Kudu sees every named setting as expected (undefined: absent); settings reach the SCM site late. */
  waitForSettings(expected: Readonly<Record<string, string | undefined>>): Promise<void>;
  /** Async zipdeploy: POST, then follow Location to a terminal state. Throws with the deployment log on failure. */
  zipDeploy(zipPath: string, message: string): Promise<KuduDeployment>;
  /**
   * Downloads the package an =1 app runs (`data/SitePackages/<packagename.txt>`) to `file`; returns its name, or
   * undefined when the app has none.
   */
  downloadSitePackage(file: string): Promise<string | undefined>;
  /** The name of the package an =1 app runs now (`packagename.txt`), or undefined. */
  sitePackageName(): Promise<string | undefined>;
  /**
   * Flex Consumption one-deploy: POST /api/publish, then follow /api/deployments/{id} to its end. Throws with the
   * deployment log on any end but success (4). `recycled` when the record vanished (the worker recycled) before
   * its end was seen: verification decides then.
   */
  publish(zipPath: string, options: { remoteBuild: boolean; message: string }): Promise<FlexDeployment>;
}

export interface FlexDeployment {
  id: string;
  status: number | undefined;
  statusText: string;
  recycled: boolean;
}

/** Flex deployment states (Core Tools DeployStatus.cs, azd): every end other than 4 is a failure. */
const FLEX_STATES: Record<number, string> = {
  [-1]: 'cancelled',
  0: 'pending',
  1: 'building',
  2: 'deploying',
  3: 'failed',
  4: 'succeeded',
  5: 'conflict',
  6: 'partially succeeded',
};
const FLEX_TERMINAL = new Set([-1, 3, 4, 5, 6]);

export interface KuduOptions {
  /** https://host[:port] of the SCM site. */
  origin: string;
  auth: KuduAuth;
  deadline: Deadline;
  logger: Logger;
  /** Poll interval floor for deployment status; Kudu asks for 30 s, which is too coarse for short deployments. */
  pollBaseMs?: number;
}

const RUN_FROM_URL_CONFLICT = /Run-From-Zip is set to a remote URL/i;
const LOCK_HELD = /deployment (is )?currently in progress|auto swap deployment currently ongoing/i;
const DEPLOYER = 'azure-functions-package-deploy';

/**
 * A poll's probe is bounded on its own, so one hung status request cannot eat the whole budget: 30 s, or a
 * third of what is left when that is less (then the next probe still has time).
 */
const perRequest = (signal: AbortSignal, deadline: Deadline) =>
  AbortSignal.any([
    signal,
    AbortSignal.timeout(Math.floor(Math.min(READ_TIMEOUT_MS, Math.max(2000, deadline.remaining() / 3)))),
  ]);

/** Basic auth for a publish profile or publishing credentials; the password was masked by whoever read it. */
function basicAuthPolicy(userName: string, password: string) {
  const value = `Basic ${Buffer.from(`${userName}:${password}`).toString('base64')}`;
  return {
    name: 'afpd-kudu-basic-auth',
    sendRequest: (
      request: Parameters<Pipeline['sendRequest']>[1],
      next: (r: typeof request) => Promise<PipelineResponse>,
    ) => {
      request.headers.set('authorization', value);
      return next(request);
    },
  };
}

/**
 * The Kudu (SCM) client. Requests go through the same core pipeline as ARM and Storage, so HTTPS_PROXY and
 * NO_PROXY are honoured on self-hosted runners; retries and the deadline belong to the one call wrapper.
 */
export function createKuduApi(options: KuduOptions): KuduApi {
  const origin = options.origin.replace(/\/+$/, '');
  const pollBaseMs = options.pollBaseMs ?? 1000;
  // No redirects followed: credentials go only to the SCM origin, whatever a Location header says.
  const pipeline = createPipelineFromOptions({
    retryOptions: { maxRetries: 0 },
    redirectOptions: { maxRetries: 0 },
  });
  pipeline.addPolicy(
    options.auth.kind === 'bearer'
      ? bearerTokenAuthenticationPolicy({ credential: options.auth.credential, scopes: options.auth.scope })
      : basicAuthPolicy(options.auth.userName, options.auth.password),
  );
  let httpClient: HttpClient | undefined;

  const base = (what: string, extra: Partial<CallOptions> = {}): CallOptions => ({
    service: 'Kudu',
    what,
    deadline: options.deadline,
    logger: options.logger,
    ...extra,
  });

  async function send(
    path: string,
    signal: AbortSignal,
    init: {
      method?: 'GET' | 'POST';
      body?: RequestBodyType;
      headers?: Record<string, string>;
      timeoutMs?: number;
    } = {},
  ): Promise<PipelineResponse> {
    const url = new URL(path, origin);
    if (url.origin !== new URL(origin).origin)
      throw new AzureError(`Kudu pointed at another origin: ${url.origin}`);
    httpClient ??= createDefaultHttpClient();
    const request = createPipelineRequest({
      url: url.toString(),
      method: init.method ?? 'GET',
      abortSignal: signal,
      headers: createHttpHeaders(init.headers ?? {}),
      ...(init.body !== undefined ? { body: init.body } : {}),
    });
    return pipeline.sendRequest(httpClient, request);
  }

  function failIfNotOk(response: PipelineResponse, what: string): void {
    if (response.status < 400) return;
    // The front end of an SCM site with access restrictions answers "403 Ip Forbidden" with an HTML page and
    // the refused address in x-ms-forbidden-ip.
    const forbiddenIp = response.headers.get('x-ms-forbidden-ip');
    const body = (response.bodyAsText ?? '')
      .replace(/<[^>]+>/g, ' ')
      .replace(/\s+/g, ' ')
      .trim();
    const text = redactSas(
      `${forbiddenIp !== undefined ? `Ip Forbidden (${forbiddenIp}) ` : ''}${body}`.slice(0, 300),
    );
    throw new HttpError(
      response.status,
      undefined,
      `${what}: HTTP ${response.status}${text ? ` ${text}` : ''}`,
      parseRetryAfter(response.headers.get('retry-after')),
    );
  }

  async function getJson<T>(path: string, signal: AbortSignal): Promise<T> {
    const response = await send(path, signal);
    failIfNotOk(response, `GET ${path}`);
    return JSON.parse(response.bodyAsText ?? 'null') as T;
  }

  async function deploymentLog(id: string): Promise<string[]> {
    try {
      const entries = await callAzure(
        (signal) =>
          getJson<{ message?: string; log_time?: string }[]>(
            `/api/deployments/${encodeURIComponent(id)}/log`,
            signal,
          ),
        base(`read the log of deployment ${id}`),
      );
      return entries.map((e) => redactSas(`${e.log_time ?? ''} ${e.message ?? ''}`.trim()));
    } catch {
      return [];
    }
  }

  /** After a POST whose answer never came: the deployment it started, if Kudu has one with our message. */
  async function startedBy(message: string): Promise<string | undefined> {
    const all = await callAzure(
      (signal) => getJson<{ id?: string; message?: string }[]>('/api/deployments', signal),
      base('list the Kudu deployments'),
    ).catch(() => []);
    const mine = all.find((d) => d.message === message && d.id);
    return mine?.id ? `/api/deployments/${encodeURIComponent(mine.id)}` : undefined;
  }

  return {
    origin,

    settings() {
      return callAzure(
        (signal) => getJson<Record<string, string>>('/api/settings', signal),
        base('read the app settings from Kudu'),
      );
    },

    async waitForSettings(expected) {
      let last = '';
      await poll(
        async (_attempt, signal) => {
          const seen = await getJson<Record<string, string>>(
            '/api/settings',
            perRequest(signal, options.deadline),
          );
          const behind = Object.entries(expected).filter(([name, value]) => seen[name] !== value);
          last = behind
            .map(
              ([name]) =>
                `${name}=${seen[name] === undefined ? '(absent)' : redactSas(seen[name] as string)}`,
            )
            .join(', ');
          return behind.length === 0 ? true : undefined;
        },
        {
          label: 'wait for Kudu to see the new settings',
          deadline: options.deadline,
          baseDelayMs: 250,
          maxDelayMs: 2000,
          describeLast: () => `Kudu still sees ${last}`,
        },
      ).catch((error: unknown) => {
        throw azureError('Kudu', 'see the new settings on the SCM site', error);
      });
    },

    sitePackageName() {
      return callAzure(async (signal) => {
        const response = await send('/api/vfs/data/SitePackages/packagename.txt', signal);
        if (response.status === 404) return undefined;
        failIfNotOk(response, 'GET packagename.txt');
        return (response.bodyAsText ?? '').trim() || undefined;
      }, base('read which package the app runs (data/SitePackages/packagename.txt)'));
    },

    async downloadSitePackage(file) {
      const name = await this.sitePackageName();
      if (!name) return undefined;
      await callAzure(
        async (signal) => {
          httpClient ??= createDefaultHttpClient();
          const request = createPipelineRequest({
            url: new URL(`/api/vfs/data/SitePackages/${encodeURIComponent(name)}`, origin).toString(),
            method: 'GET',
            abortSignal: signal,
            streamResponseStatusCodes: new Set([200]),
          });
          const response = await pipeline.sendRequest(httpClient, request);
          if (response.status !== 200 || !response.readableStreamBody) failIfNotOk(response, `GET ${name}`);
          await streamPipeline(response.readableStreamBody as NodeJS.ReadableStream, createWriteStream(file));
        },
        base(`copy data/SitePackages/${name}`, { timeoutMs: Math.max(30_000, options.deadline.remaining()) }),
      );
      return name;
    },

    async publish(zipPath, { remoteBuild, message }) {
      const query = new URLSearchParams({ RemoteBuild: String(remoteBuild), Deployer: DEPLOYER, message });
      const size = statSync(zipPath).size;
      let id: string | undefined;
      await callAzure(
        async (signal) => {
          let response: PipelineResponse;
          try {
            response = await send(`/api/publish?${query}`, signal, {
              method: 'POST',
              body: () => createReadStream(zipPath),
              headers: { 'content-type': 'application/zip', 'content-length': String(size) },
            });
          } catch (error) {
            // Unanswered: the platform may have started it; follow that one rather than publish twice.
            if (isTransient(error) && statusOf(error) === undefined) {
              const started = await startedBy(message);
              if (started) {
                id = decodeURIComponent(started.slice(started.lastIndexOf('/') + 1));
                return;
              }
            }
            throw error;
          }
          if (response.status === 404) {
            throw new AzureError('Kudu answered 404 to /api/publish: the app is not a Flex Consumption app', {
              statusCode: 404,
              fix: 'Check app-name; other plans deploy by zipdeploy or run-from-package (deploy-mode auto)',
            });
          }
          failIfNotOk(response, 'POST /api/publish');
          const body = (response.bodyAsText ?? '').trim();
          const location = response.headers.get('location');
          id =
            (body.startsWith('"') ? (JSON.parse(body) as string) : body) ||
            (location ? decodeURIComponent(location.slice(location.lastIndexOf('/') + 1)) : undefined);
          if (!id) throw new AzureError('Kudu accepted the publish without a deployment id');
        },
        base('start the one-deploy (POST /api/publish)', {
          timeoutMs: Math.max(1000, options.deadline.remaining()),
          baseDelayMs: 1000,
          // Another deployment running answers 409: retried until the deadline.
          isRetryable: (e) => statusOf(e) === 409 || isTransient(e),
        }),
      );
      const deploymentId = id as string;
      let seen = false;
      let last: { status: number; text: string } | undefined;
      const result = await poll(
        async (_attempt, signal) => {
          const response = await send(
            `/api/deployments/${encodeURIComponent(deploymentId)}`,
            perRequest(signal, options.deadline),
          );
          if (response.status === 404) {
            // Once seen, a 404 means the worker recycled and took the record with it.
            return seen ? { recycled: true } : undefined;
          }
          failIfNotOk(response, 'deployment status');
          seen = true;
          const raw = JSON.parse(response.bodyAsText ?? '{}') as { status?: number; status_text?: string };
          last = { status: raw.status ?? 0, text: raw.status_text ?? '' };
          return FLEX_TERMINAL.has(last.status) ? { recycled: false } : undefined;
        },
        {
          label: 'one-deploy',
          deadline: options.deadline,
          baseDelayMs: pollBaseMs,
          maxDelayMs: 5000,
          describeLast: () =>
            last
              ? `deployment ${deploymentId} ${FLEX_STATES[last.status] ?? `status ${last.status}`}${last.text ? `: ${last.text}` : ''}`
              : `deployment ${deploymentId} not visible yet`,
        },
      ).catch((error: unknown) => {
        throw azureError('Kudu', 'follow the one-deploy', error);
      });
      if (result.recycled) {
        options.logger.info(
          `The record of deployment ${deploymentId} went away before its end was seen (the worker recycled); verification decides.`,
        );
        return { id: deploymentId, status: last?.status, statusText: last?.text ?? '', recycled: true };
      }
      const end = last as { status: number; text: string };
      if (end.status !== 4) {
        const log = await deploymentLog(deploymentId);
        for (const line of log) options.logger.info(`kudu: ${line}`);
        throw new VerificationError(
          `Flex deployment ${deploymentId} ${FLEX_STATES[end.status] ?? `ended with status ${end.status}`}${end.text ? `: ${redactSas(end.text)}` : ''}${log.length ? `; last log line: ${log.at(-1)}` : ''}`,
          { fix: 'See the deployment log above' },
        );
      }
      return { id: deploymentId, status: 4, statusText: end.text, recycled: false };
    },

    async zipDeploy(zipPath, message) {
      const query = new URLSearchParams({ isAsync: 'true', deployer: DEPLOYER, message });
      const size = statSync(zipPath).size;
      let location = '/api/deployments/latest';
      await callAzure(
        async (signal) => {
          let response: PipelineResponse;
          try {
            response = await send(`/api/zipdeploy?${query}`, signal, {
              method: 'POST',
              body: () => createReadStream(zipPath),
              headers: {
                'content-type': 'application/zip',
                'content-length': String(size),
                'cache-control': 'no-cache',
              },
            });
          } catch (error) {
            // Unanswered: Kudu may have started it. Follow that one rather than start a second deployment.
            if (isTransient(error) && statusOf(error) === undefined) {
              const started = await startedBy(message);
              if (started) {
                location = started;
                return;
              }
            }
            throw error;
          }
          if (response.status === 409) {
            const text = response.bodyAsText ?? '';
            if (RUN_FROM_URL_CONFLICT.test(text)) {
              throw new AzureError(
                'Kudu refused zipdeploy (409): WEBSITE_RUN_FROM_PACKAGE is a remote URL on the SCM site',
                {
                  statusCode: 409,
                  fix: 'Let the action replace the setting (deploy-mode zipdeploy, on-conflict backup-and-replace) or use run-from-package',
                },
              );
            }
          }
          failIfNotOk(response, 'POST /api/zipdeploy');
          // A synchronous 200 (older Kudu) has finished already; its record is the latest.
          location =
            (response.status === 202 && response.headers.get('location')) || '/api/deployments/latest';
        },
        base('start the zipdeploy', {
          // The upload may take as long as the run allows; no shorter cap than the deadline.
          timeoutMs: Math.max(1000, options.deadline.remaining()),
          baseDelayMs: 1000,
          isRetryable: (e) => {
            const s = statusOf(e);
            // Another deployment holds the lock: retried until the deadline.
            return (s === 409 && LOCK_HELD.test((e as Error).message)) || isTransient(e);
          },
        }),
      );

      let last: KuduDeployment | undefined;
      const result = await poll(
        async (_attempt, signal) => {
          const response = await send(location, perRequest(signal, options.deadline));
          if (response.status === 404) return undefined;
          failIfNotOk(response, 'deployment status');
          const raw = JSON.parse(response.bodyAsText ?? '{}') as {
            id?: string;
            status?: number;
            status_text?: string;
            complete?: boolean;
            message?: string;
          };
          last = {
            id: raw.id ?? '',
            status: raw.status ?? -1,
            statusText: raw.status_text ?? '',
            complete: raw.complete === true,
            message: raw.message ?? '',
          };
          return last.status === 3 || last.status === 4 ? last : undefined;
        },
        {
          label: 'zipdeploy',
          deadline: options.deadline,
          baseDelayMs: pollBaseMs,
          maxDelayMs: 10_000,
          describeLast: () =>
            last
              ? `deployment ${last.id} status ${last.status} ${last.statusText}`
              : 'no deployment record yet',
        },
      ).catch((error: unknown) => {
        throw azureError('Kudu', 'follow the zipdeploy', error);
      });

      if (result.status === 3) {
        const log = await deploymentLog(result.id);
        for (const line of log) options.logger.info(`kudu: ${line}`);
        throw new VerificationError(
          `Kudu deployment ${result.id} failed${result.statusText ? `: ${result.statusText}` : ''}${log.length ? `; last log line: ${log.at(-1)}` : ''}`,
          { fix: 'See the deployment log above' },
        );
      }
      return result;
    },
  };
}
