import type { RunContext } from './context.js';
import type { Journal } from './journal.js';
import type { Inspection, KeptRelease, Package } from './model.js';
import type { Plan } from './plan.js';
import type { Applied } from './result.js';
import { oneDeploy } from './steps/one-deploy.js';
import { runFromPackage } from './steps/run-from-package.js';
import { zipDeploy } from './steps/zipdeploy.js';
import type { Clients } from './wiring.js';

/** The mode's writes: Kudu zipdeploy, a Flex publish, or a stored package and the setting that points at it. */
export async function apply(
  ctx: RunContext,
  clients: Clients,
  args: { plan: Plan; pkg: Package; inspection: Inspection; journal: Journal; kept: KeptRelease | undefined },
): Promise<Applied> {
  switch (clients.mode) {
    case 'zipdeploy':
      return { mode: 'zipdeploy', ...(await zipDeploy(ctx, { ...args, ...clients })) };
    case 'run-from-package':
      return { mode: 'run-from-package', ...(await runFromPackage(ctx, { ...args, ...clients })) };
    case 'one-deploy':
      return { mode: 'one-deploy', ...(await oneDeploy(ctx, { ...args, ...clients })) };
  }
}
