/**
 * Typed errors. Each layer wraps the cause with `Failed to <verb> <thing>: <cause>` (see `wrap`), and the
 * innermost error carries the fix, so the single failure boundary prints one message that says what to do.
 * No message may contain a secret: callers pass redacted values only.
 */
export class ActionError extends Error {
  /** What the user should do about it; appended to the message once, at the innermost error. */
  readonly fix: string | undefined;

  constructor(message: string, options: { cause?: unknown; fix?: string } = {}) {
    super(
      options.fix ? `${message.replace(/\.?\s*$/, '.')} ${options.fix}` : message,
      options.cause === undefined ? {} : { cause: options.cause },
    );
    this.name = new.target.name;
    this.fix = options.fix;
  }
}

/** An input is missing or invalid; thrown before any network call. */
export class InputError extends ActionError {}

/** A combination of inputs and app state that cannot work; thrown by the plan, before any write. */
export class PlanError extends ActionError {}

/** The package could not be built or is not a valid function app. */
export class PackageError extends ActionError {}

export type Service = 'ARM' | 'Kudu' | 'Storage' | 'Functions host' | 'az';

/** Azure (ARM, Kudu, Blob) answered with an error or not at all. */
export class AzureError extends ActionError {
  readonly statusCode: number | undefined;
  /** The service's own error code (ARM `error.code`, storage `x-ms-error-code`), when it sent one. */
  readonly code: string | undefined;
  constructor(
    message: string,
    options: {
      cause?: unknown;
      fix?: string;
      statusCode?: number | undefined;
      code?: string | undefined;
    } = {},
  ) {
    const { statusCode, code, ...rest } = options;
    super(message, rest);
    this.statusCode = statusCode;
    this.code = code;
  }
}

/** What the app runs is not what was deployed (status, rotate-sas): the short code is an output. */
export class DriftError extends ActionError {
  constructor(
    readonly drift: string,
    message: string,
    fix: string,
  ) {
    super(message, { fix });
  }
}

/** The deployment ran but the app did not come up as expected (functions missing, deployment failed). */
export class VerificationError extends ActionError {}

/** Adds context as the error travels up, keeping its type: `Failed to <what>: <cause message>`. */
export function wrap(what: string, error: unknown): Error {
  const message = `Failed to ${what}: ${error instanceof Error ? error.message : String(error)}`;
  if (error instanceof AzureError) {
    return new AzureError(message, { cause: error, statusCode: error.statusCode, code: error.code });
  }
  if (error instanceof ActionError) {
    const Ctor = error.constructor as new (m: string, o: { cause?: unknown }) => ActionError;
    return new Ctor(message, { cause: error });
  }
  return new ActionError(message, { cause: error });
}

export function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
