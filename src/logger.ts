/**
 * What the steps log and mask through: the runner's commands in the action (io.ts), a recorder in tests.
 * Steps never call @actions/core themselves.
 */
export interface Logger {
  info(message: string): void;
  warning(message: string): void;
  /** A notice annotation: something the user should see that is not a problem. */
  notice(message: string): void;
  debug(message: string): void;
  /** Asks the runner to mask a secret in every later log line; call it before the secret can be printed. */
  mask(secret: string): void;
}
