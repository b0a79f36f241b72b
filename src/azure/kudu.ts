import { openAsBlob } from 'node:fs';
import type { TokenCredential } from '@azure/core-auth';
import { AzureError, VerificationError } from '../errors.js';
import type { Logger } from '../logger.js';
import { redactSas } from '../redact.js';
import { type Deadline, parseRetryAfter, poll, retry } from '../retry.js';

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
  /** Waits until Kudu sees `WEBSITE_RUN_FROM_PACKAGE` as expected (settings reach the SCM site with a delay). */
  waitForSetting(name: string, expected: string | undefined): Promise<void>;
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

class HttpStatusError extends Error {
  constructor(
    readonly statusCode: number,
    message: string,
    readonly retryAfterMs?: number,
  ) {
    super(message);
  }
}

export function createKuduApi(options: KuduOptions): KuduApi {
  const origin = options.origin.replace(/\/+$/, '');
  const pollBaseMs = options.pollBaseMs ?? 1000;

  async function authorization(): Promise<string> {
    if (options.auth.kind === 'basic') {
      return `Basic ${Buffer.from(`${options.auth.userName}:${options.auth.password}`).toString('base64')}`;
    }
    const token = await options.auth.credential.getToken(options.auth.scope);
    if (!token) throw new AzureError('No token for Kudu', { fix: 'Run azure/login before this step' });
    return `Bearer ${token.token}`;
  }

  async function request(path: string, init: RequestInit = {}): Promise<Response> {
    const url = new URL(path, origin);
    // Credentials go only to the SCM origin, whatever a Location header says.
    if (url.origin !== new URL(origin).origin)
      throw new AzureError(`Kudu redirected to another origin: ${url.origin}`);
    const headers = new Headers(init.headers);
    headers.set('authorization', await authorization());
    const signal = AbortSignal.timeout(Math.max(1000, Math.min(options.deadline.remaining(), 300_000)));
    return fetch(url, { ...init, headers, signal });
  }

  async function failIfNotOk(response: Response, what: string): Promise<void> {
    if (response.ok) return;
    const text = redactSas((await response.text().catch(() => '')).slice(0, 500));
    throw new HttpStatusError(
      response.status,
      `${what}: HTTP ${response.status} ${text}`,
      parseRetryAfter(response.headers.get('retry-after')),
    );
  }

  const toAzure = (what: string) => (error: unknown) => {
    if (error instanceof AzureError || error instanceof VerificationError) throw error;
    const status = (error as { statusCode?: number }).statusCode;
    const fix =
      status === 401 || status === 403
        ? 'Kudu refused the credentials: with basic auth disabled on the SCM site, log in with azure/login (bearer); with a publish profile, download a fresh one'
        : undefined;
    throw new AzureError(`Failed to ${what}: ${(error as Error).message}`, {
      cause: error,
      ...(status !== undefined ? { statusCode: status } : {}),
      ...(fix ? { fix } : {}),
    });
  };

  async function deploymentLog(id: string): Promise<string[]> {
    try {
      const response = await request(`/api/deployments/${encodeURIComponent(id)}/log`);
      if (!response.ok) return [];
      const entries = (await response.json()) as { message?: string; log_time?: string }[];
      return entries.map((e) => redactSas(`${e.log_time ?? ''} ${e.message ?? ''}`.trim()));
    } catch {
      return [];
    }
  }

  return {
    origin,

    async settings() {
      return retry(
        async () => {
          const response = await request('/api/settings');
          await failIfNotOk(response, 'GET /api/settings');
          return (await response.json()) as Record<string, string>;
        },
        { label: 'read Kudu settings', deadline: options.deadline },
      ).catch(toAzure('read the app settings from Kudu'));
    },

    async waitForSetting(name, expected) {
      let seen: string | undefined;
      await poll(
        async () => {
          const response = await request('/api/settings');
          await failIfNotOk(response, 'GET /api/settings');
          const settings = (await response.json()) as Record<string, string>;
          seen = settings[name];
          return seen === expected ? true : undefined;
        },
        {
          label: `wait for Kudu to see the new ${name}`,
          deadline: options.deadline,
          baseDelayMs: 500,
          maxDelayMs: 5000,
          describeLast: () => `Kudu still sees ${name}=${seen === undefined ? '(absent)' : redactSas(seen)}`,
        },
      ).catch(toAzure(`see the new ${name} on the SCM site`));
    },

    async zipDeploy(zipPath, message) {
      const query = new URLSearchParams({
        isAsync: 'true',
        deployer: 'azure-functions-package-deploy',
        message,
      });
      const location = await retry(
        async () => {
          const body = await openAsBlob(zipPath);
          const response = await request(`/api/zipdeploy?${query}`, {
            method: 'POST',
            body,
            headers: { 'content-type': 'application/zip', 'cache-control': 'no-cache' },
          });
          if (response.status === 409) {
            const text = await response.text();
            if (RUN_FROM_URL_CONFLICT.test(text)) {
              throw new AzureError(
                'Kudu refused zipdeploy (409): WEBSITE_RUN_FROM_PACKAGE is a remote URL on the SCM site',
                {
                  fix: 'Let the action replace the setting (deploy-mode zipdeploy, on-conflict backup-and-replace) or use run-from-package',
                },
              );
            }
            // Another deployment holds the lock: retried until the deadline.
            throw new HttpStatusError(
              409,
              `zipdeploy: HTTP 409 ${text.slice(0, 200)}`,
              parseRetryAfter(response.headers.get('retry-after')),
            );
          }
          await failIfNotOk(response, 'POST /api/zipdeploy');
          if (response.status === 200) return undefined;
          return response.headers.get('location') ?? '/api/deployments/latest';
        },
        {
          label: 'zipdeploy',
          deadline: options.deadline,
          baseDelayMs: 1000,
          isRetryable: (e) => {
            const s = (e as { statusCode?: number }).statusCode;
            return (
              (s === 409 && LOCK_HELD.test((e as Error).message)) ||
              s === 429 ||
              (s !== undefined && s >= 500) ||
              e instanceof TypeError
            );
          },
          onRetry: ({ delayMs, error }) =>
            options.logger.info(
              `zipdeploy: ${(error as Error).message.slice(0, 160)}; retrying in ${delayMs} ms`,
            ),
        },
      ).catch(toAzure('start the zipdeploy'));

      let last: KuduDeployment | undefined;
      const result = await poll(
        async () => {
          const response = await request(location ?? '/api/deployments/latest');
          if (response.status === 404) return undefined;
          if (response.status !== 200 && response.status !== 202)
            await failIfNotOk(response, 'deployment status');
          const raw = (await response.json()) as {
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
      ).catch(toAzure('follow the zipdeploy'));

      if (result.status === 3) {
        const log = await deploymentLog(result.id);
        for (const line of log) options.logger.info(`kudu: ${line}`);
        throw new VerificationError(
          `Kudu deployment ${result.id} failed${result.statusText ? `: ${result.statusText}` : ''}${log.length ? `; last log line: ${log.at(-1)}` : ''}`,
          { fix: 'See the deployment log above; the app keeps running its previous package' },
        );
      }
      return result;
    },
  };
}
