import type { AppServiceApi, SiteRef } from '../azure/appservice.js';
import type { RunContext } from '../context.js';
import { VerificationError } from '../errors.js';
import type { Package } from '../model.js';
import { redactSas } from '../redact.js';
import { poll, statusOf } from '../retry.js';

export interface Verified {
  /** What the platform lists: the only source of the `functions` output. */
  functions: string[];
}

/**
 * Waits until the platform lists every function the package holds (and at least one). A host still starting
 * answers 400 with its error, or an empty or partial list: polled until the deadline. A failure throws; the
 * guarded section around the deploy restores the previous package.
 */
export async function verify(
  ctx: RunContext,
  args: { arm: { api: AppServiceApi; ref: SiteRef }; pkg: Package },
): Promise<Verified> {
  const expected = args.pkg.functions;
  let last = 'no answer yet';
  try {
    const functions = await poll(
      async () => {
        let listed: string[];
        try {
          listed = await args.arm.api.listFunctions(args.arm.ref);
        } catch (error) {
          const status = statusOf(error);
          if (status !== undefined && status < 500 && status !== 400) throw error;
          last = redactSas((error as Error).message);
          return undefined;
        }
        const missing = expected.filter((f) => !listed.some((l) => l.toLowerCase() === f.toLowerCase()));
        last = `listed [${listed.join(', ')}]${missing.length ? `, missing [${missing.join(', ')}]` : ''}`;
        return missing.length === 0 && listed.length > 0 ? listed : undefined;
      },
      {
        label: 'verify',
        deadline: ctx.deadline,
        baseDelayMs: 1000,
        maxDelayMs: 10_000,
        describeLast: () => last,
      },
    );
    ctx.logger.info(`Verified: the platform lists ${functions.join(', ')}.`);
    return { functions };
  } catch (error) {
    throw new VerificationError(
      `The functions of the package were not listed before the timeout; the platform said: ${last}`,
      { cause: error, fix: 'Fix the package and deploy again' },
    );
  }
}
