import {
  createDefaultHttpClient,
  createHttpHeaders,
  createPipelineFromOptions,
  createPipelineRequest,
  type HttpClient,
} from '@azure/core-rest-pipeline';
import type { Logger } from '../logger.js';
import { type Deadline, parseRetryAfter } from '../retry.js';
import { callAzure, HttpError } from './call.js';

/** What the Functions host says of itself (`GET /admin/host/status`). */
export interface HostStatus {
  /** `Running` once it has loaded the app; `Error` when it could not; `Default`/`Offline`/`Starting` before. */
  state: string;
  /** Load errors: a missing module, an invalid function.json, a package that could not be mounted. */
  errors: string[];
}

export interface FunctionsHostApi {
  status(): Promise<HostStatus>;
}

/**
 * The app's own Functions host, asked with the master key: the host status is how Core Tools and the az CLI
 * tell a host that runs from one that failed to load (azure-contract.md §H). One attempt per call: the caller
 * polls, and a 503 while the host restarts is an answer too.
 */
export function createFunctionsHostApi(options: {
  /** https://{defaultHostName} */
  origin: string;
  masterKey: string;
  deadline: Deadline;
  logger: Logger;
}): FunctionsHostApi {
  const pipeline = createPipelineFromOptions({
    retryOptions: { maxRetries: 0 },
    redirectOptions: { maxRetries: 0 },
  });
  let httpClient: HttpClient | undefined;
  return {
    status() {
      return callAzure(
        async (signal) => {
          httpClient ??= createDefaultHttpClient();
          const response = await pipeline.sendRequest(
            httpClient,
            createPipelineRequest({
              url: `${options.origin.replace(/\/+$/, '')}/admin/host/status`,
              method: 'GET',
              abortSignal: signal,
              headers: createHttpHeaders({
                'x-functions-key': options.masterKey,
                accept: 'application/json',
              }),
            }),
          );
          if (response.status === 503) return { state: 'Starting', errors: [] };
          if (response.status >= 400) {
            throw new HttpError(
              response.status,
              undefined,
              `host status: HTTP ${response.status} ${(response.bodyAsText ?? '').slice(0, 200)}`,
              parseRetryAfter(response.headers.get('retry-after')),
            );
          }
          const body = JSON.parse(response.bodyAsText ?? '{}') as { state?: unknown; errors?: unknown };
          return {
            state: typeof body.state === 'string' ? body.state : 'Unknown',
            errors: Array.isArray(body.errors) ? body.errors.map(String) : [],
          };
        },
        {
          service: 'Functions host',
          what: 'read the Functions host status',
          deadline: options.deadline,
          logger: options.logger,
          timeoutMs: 15_000,
          isRetryable: () => false,
        },
      );
    },
  };
}
