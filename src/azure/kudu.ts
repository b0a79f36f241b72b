import { createReadStream, statSync } from 'node:fs';
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
}

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

/** A poll's probe: bounded on its own, so one hung status request cannot eat the whole budget. */
const perRequest = (signal: AbortSignal) => AbortSignal.any([signal, AbortSignal.timeout(READ_TIMEOUT_MS)]);

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
    const text = redactSas((response.bodyAsText ?? '').replace(/\s+/g, ' ').trim().slice(0, 300));
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
          const seen = await getJson<Record<string, string>>('/api/settings', perRequest(signal));
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
          const response = await send(location, perRequest(signal));
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
