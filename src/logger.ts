/** What the flow logs through; core's functions in the action, a recorder in tests. */
export interface Logger {
  info(message: string): void;
  warning(message: string): void;
  debug(message: string): void;
}
