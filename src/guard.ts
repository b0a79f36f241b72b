import { ActionError, messageOf } from './errors.js';
import type { Restoration } from './steps/restore.js';

/** A deploy that failed after the point of no return, and what the restore did about it. */
export class GuardedFailure extends ActionError {
  constructor(
    readonly failure: unknown,
    readonly restoration: Restoration,
  ) {
    super(`${messageOf(failure).replace(/\.?\s*$/, '.')} ${restoration.detail}`, { cause: failure });
  }
}

/**
 * The point of no return. Every write to the app happens inside `step`; if it throws, `restore` runs (on its
 * own grace deadline) and the run fails with a message that says what the restore actually did.
 */
export async function guarded<T>(
  restore: (cause: unknown) => Promise<Restoration>,
  step: () => Promise<T>,
): Promise<T> {
  try {
    return await step();
  } catch (error) {
    throw new GuardedFailure(error, await restore(error));
  }
}
