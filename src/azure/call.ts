import { AzureError, messageOf, type Service } from '../errors.js';
import type { Logger } from '../logger.js';
import { redactSas } from '../redact.js';
import { type Deadline, DeadlineError, isAbort, isTransient, retry, statusOf } from '../retry.js';

/**
 * The one wrapper around every Azure request (ARM, Kudu, Storage, the Functions host): a per-attempt abort
 * signal (its own timeout and the run's deadline), retries through the one retry helper, a log line per retry,
 * and a typed AzureError that keeps the service's status, code and message and adds what to do about it.
 */
export interface CallOptions {
  service: Service;
  /** `<verb> <thing>`, e.g. "update the app settings of app in resource group 'rg'". */
  what: string;
  deadline: Deadline;
  logger: Logger;
  /** Per-attempt bound, sized for the request: seconds for a read, longer for an upload. Never past the deadline. */
  timeoutMs?: number;
  isRetryable?: (error: unknown) => boolean;
  baseDelayMs?: number;
}

export interface WriteOptions extends CallOptions {
  /**
   * When an attempt ends without a clear answer (cut short, reset, 5xx), asks the service whether the write
   * took effect. True ends the write as a success; false lets it be retried or fail.
   */
  confirm: (signal: AbortSignal) => Promise<boolean>;
}

export const READ_TIMEOUT_MS = 30_000;

/** What the service said, from any of the shapes the clients throw. */
export interface Failure {
  status: number | undefined;
  code: string | undefined;
  message: string;
}

/** A service error as thrown by our own HTTP code (Kudu, raw ARM, host status). */
export class HttpError extends Error {
  constructor(
    readonly statusCode: number,
    readonly code: string | undefined,
    message: string,
    readonly retryAfterMs?: number,
  ) {
    super(message);
    this.name = 'HttpError';
  }
}

export function failureOf(error: unknown): Failure {
  if (error instanceof DeadlineError && error.lastError !== undefined) {
    const inner = failureOf(error.lastError);
    return { ...inner, message: `no answer before the timeout (last: ${inner.message})` };
  }
  const status = statusOf(error);
  const e = error as { code?: unknown; details?: { errorCode?: unknown } } | undefined;
  const code =
    typeof e?.details?.errorCode === 'string'
      ? e.details.errorCode
      : typeof e?.code === 'string' && !/^[A-Z_]+$/.test(e.code)
        ? e.code
        : undefined;
  let message = messageOf(error).split('\n')[0] ?? '';
  if (isAbort(error)) message = 'the request was not answered in time';
  return { status, code, message: redactSas(message) };
}

/** The service's answer in a few words, then what to do: the causes a 401/403/404 really has on each service. */
export function hintFor(service: Service, f: Failure): string | undefined {
  const { status, code, message } = f;
  if (service === 'Storage') {
    if (code === 'AuthorizationFailure')
      return "The storage account's firewall refuses this runner: allow its IP range (or run on a self-hosted runner inside the account's network) under Networking, or use a storage account without a firewall for packages";
    if (code === 'KeyBasedAuthenticationNotPermitted')
      return 'The storage account has shared keys disabled: remove storage-connection-string (and the key from AzureWebJobsStorage) so the action signs in with Entra ID, grant the deploying identity Storage Blob Data Contributor, and prefer package-access: managed-identity';
    if (code === 'AuthorizationPermissionMismatch' || code === 'AuthorizationPermissionDenied')
      return "Grant the deploying identity 'Storage Blob Data Contributor' on the storage account (role assignments take a few minutes to apply)";
    if (status === 403)
      return 'Check that the storage key is current (rotate the storage-connection-string secret) or that the identity has Storage Blob Data Contributor';
    if (status === 404 && code === 'ContainerNotFound') return 'Check storage-container';
    return undefined;
  }
  if (service === 'Kudu') {
    if (status === 404 && /zipdeploy/i.test(message))
      return 'Kudu has no /api/zipdeploy here: the app is most likely on Flex Consumption, which deploys through /api/publish. Log in with azure/login instead of a publish profile, and this action deploys it by one-deploy';
    if (status === 403 && /ip forbidden/i.test(message))
      return 'The SCM (Kudu) site has access restrictions that refuse this runner: allow its IP range under Networking > Access restrictions (SCM site), or use deploy-mode run-from-package, which does not need Kudu';
    if (status === 401 || status === 403)
      return 'Kudu refused the credentials: log in with azure/login (bearer token, needs Website Contributor on the app); with a publish profile, download a fresh one or enable SCM basic auth publishing credentials';
    return undefined;
  }
  if (service === 'ARM') {
    if (status === 401) return 'The ARM token was refused: run azure/login before this step';
    if (status === 403)
      return "The identity lacks permission: grant it 'Website Contributor' (or Contributor) on the Function App";
    if (status === 404) return 'Check app-name, resource-group, slot-name and subscription-id';
    return undefined;
  }
  return undefined;
}

/** Turns a failure into the AzureError a user reads: operation, HTTP status and code, the service's words, the fix. */
export function azureError(service: Service, what: string, error: unknown): AzureError {
  if (error instanceof AzureError) return error;
  const f = failureOf(error);
  const status = f.status !== undefined ? ` (HTTP ${f.status}${f.code ? ` ${f.code}` : ''})` : '';
  return new AzureError(`Failed to ${what}${status}: ${f.message}`, {
    cause: error,
    statusCode: f.status,
    code: f.code,
    ...(hintFor(service, f) ? { fix: hintFor(service, f) as string } : {}),
  });
}

/** Whether an attempt's outcome is unknown: it may have reached the service and taken effect. */
function outcomeUnknown(error: unknown): boolean {
  const status = statusOf(error);
  return status === undefined ? isTransient(error) : status >= 500;
}

export function callAzure<T>(fn: (signal: AbortSignal) => Promise<T>, o: CallOptions): Promise<T> {
  return run(fn, o, undefined) as Promise<T>;
}

/** A write whose outcome may be unknown (applied but not answered): a fresh read decides whether it took effect. */
export async function writeAzure(
  fn: (signal: AbortSignal) => Promise<unknown>,
  o: WriteOptions,
): Promise<void> {
  await run(fn, o, o.confirm);
}

async function run<T>(
  fn: (signal: AbortSignal) => Promise<T>,
  o: CallOptions,
  confirm: WriteOptions['confirm'] | undefined,
): Promise<T | undefined> {
  const isRetryable = o.isRetryable ?? isTransient;
  try {
    return await retry(
      async (_attempt, deadlineSignal) => {
        const perRequest = AbortSignal.timeout(Math.floor(Math.max(1, o.timeoutMs ?? READ_TIMEOUT_MS)));
        const signal = AbortSignal.any([deadlineSignal, perRequest]);
        try {
          return await fn(signal);
        } catch (error) {
          if (confirm && outcomeUnknown(error)) {
            // Ask on a fresh signal: the one that cut the write short may be the deadline itself.
            const took = await confirm(AbortSignal.timeout(READ_TIMEOUT_MS)).catch(
              (confirmError: unknown) => {
                o.logger.debug(`Could not check whether '${o.what}' took effect: ${messageOf(confirmError)}`);
                return false;
              },
            );
            if (took) {
              o.logger.info(`'${o.what}' was not answered, but a fresh read shows it took effect.`);
              return undefined;
            }
          }
          throw error;
        }
      },
      {
        label: o.what,
        deadline: o.deadline,
        isRetryable,
        ...(o.baseDelayMs !== undefined ? { baseDelayMs: o.baseDelayMs } : {}),
        onRetry: ({ attempt, delayMs, error }) => {
          const f = failureOf(error);
          const status = f.status !== undefined ? `HTTP ${f.status}${f.code ? ` ${f.code}` : ''}: ` : '';
          o.logger.info(`Retrying '${o.what}' in ${delayMs} ms (attempt ${attempt}: ${status}${f.message})`);
        },
      },
    );
  } catch (error) {
    throw azureError(o.service, o.what, error);
  }
}
