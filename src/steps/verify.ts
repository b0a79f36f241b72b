import type { AppServiceApi, SiteRef } from '../azure/appservice.js';
import { createFunctionsHostApi, type FunctionsHostApi, type HostStatus } from '../azure/functions-host.js';
import type { RunContext } from '../context.js';
import { messageOf, VerificationError } from '../errors.js';
import type { Package } from '../model.js';
import { redactSas } from '../redact.js';
import { poll, statusOf } from '../retry.js';

export interface Verified {
  /** What the platform lists: the only source of the `functions` output. */
  functions: string[];
  /** The host's own word, when it could be asked. */
  hostState: string | undefined;
}

/** The placeholder a warming host lists before the app's own functions (Premium, Flex, Consumption). */
const PLACEHOLDER = 'warmup';

/** Pure: whether what the platform lists is the package's functions (or, names unknown, at least one real one). */
export function listedAsExpected(
  listed: readonly string[],
  expected: readonly string[],
): string[] | undefined {
  const lower = new Set(listed.map((l) => l.toLowerCase()));
  if (expected.length > 0) {
    const missing = expected.filter((f) => !lower.has(f.toLowerCase()));
    return missing.length === 0 ? [] : missing;
  }
  return listed.some((l) => l.toLowerCase() !== PLACEHOLDER) ? [] : undefined;
}

/**
 * Waits until the host says it runs without load errors and the platform lists every function the package
 * holds (names unknown, as for a Python v2 app whose decorators could not be read: at least one besides WarmUp).
 * A host still recycling answers 503, 400, an empty or WarmUp-only list: polled until the deadline. A host that
 * reports load errors fails with them in the message. The guarded section around the deploy restores.
 */
export async function verify(
  ctx: RunContext,
  args: { arm: { api: AppServiceApi; ref: SiteRef }; pkg: Package; hostName: string | undefined },
): Promise<Verified> {
  const expected = args.pkg.functions;
  const host = await hostClient(ctx, args);
  let last = 'no answer yet';
  let hostSaid: HostStatus | undefined;
  let hostReachable = host !== undefined;
  try {
    const result = await poll(
      async () => {
        if (host && hostReachable) {
          try {
            hostSaid = await host.status();
          } catch (error) {
            const status = statusOf(error);
            if (status !== undefined && status >= 500) hostSaid = { state: 'Starting', errors: [] };
            else {
              // Private endpoints, IP rules or app authentication can keep a runner off the app's own host: the
              // platform's list decides then.
              hostReachable = false;
              ctx.logger.warning(
                `The Functions host could not be asked (${redactSas(messageOf(error))}); verifying with the platform's function list only.`,
              );
            }
          }
        }
        let listed: string[];
        try {
          listed = await args.arm.api.listFunctions(args.arm.ref);
        } catch (error) {
          const status = statusOf(error);
          if (status !== undefined && status < 500 && status !== 400) throw error;
          last = `${describeHost(hostSaid)}${redactSas(messageOf(error))}`;
          return undefined;
        }
        const missing = listedAsExpected(listed, expected);
        last = `${describeHost(hostSaid)}listed [${listed.join(', ')}]${missing?.length ? `, missing [${missing.join(', ')}]` : ''}`;
        const hostRuns = !hostReachable || (hostSaid?.state === 'Running' && hostSaid.errors.length === 0);
        return missing?.length === 0 && hostRuns ? listed : undefined;
      },
      {
        label: 'verify',
        deadline: ctx.deadline,
        baseDelayMs: 1000,
        maxDelayMs: 10_000,
        describeLast: () => last,
      },
    );
    ctx.logger.info(`Verified: the host runs and the platform lists ${result.join(', ')}.`);
    return { functions: result, hostState: hostSaid?.state };
  } catch (error) {
    throw new VerificationError(
      `The functions of the package were not listed before the timeout; the platform said: ${last}`,
      { cause: error, fix: 'Fix the package and deploy again' },
    );
  }
}

function describeHost(status: HostStatus | undefined): string {
  if (!status) return '';
  const errors = status.errors.length ? ` with load errors: ${status.errors.map(redactSas).join('; ')}` : '';
  return `host ${status.state}${errors}; `;
}

async function hostClient(
  ctx: RunContext,
  args: { arm: { api: AppServiceApi; ref: SiteRef }; hostName: string | undefined },
): Promise<FunctionsHostApi | undefined> {
  if (!args.hostName) return undefined;
  try {
    const masterKey = await args.arm.api.masterKey(args.arm.ref);
    return createFunctionsHostApi({
      origin: `https://${args.hostName}`,
      masterKey,
      deadline: ctx.deadline,
      logger: ctx.logger,
    });
  } catch (error) {
    ctx.logger.warning(
      `Could not read the host keys (${redactSas(messageOf(error))}); verifying with the platform's function list only.`,
    );
    return undefined;
  }
}
