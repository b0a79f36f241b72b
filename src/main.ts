import { type RunContext, startRun } from './context.js';
import { guarded } from './guard.js';
import { type ActionIO, githubIO } from './io.js';
import { Journal } from './journal.js';
import type { Inspection, Package } from './model.js';
import { admitPackage, type Plan, planDeployment } from './plan.js';
import { publish } from './report.js';
import { type Applied, assemble, type Done, failureMessage, timed } from './result.js';
import { backUp } from './steps/backup.js';
import { connect } from './steps/connect.js';
import { inspect } from './steps/inspect.js';
import { preparePackage, startPackaging } from './steps/package.js';
import { record } from './steps/record.js';
import { restore } from './steps/restore.js';
import { retain } from './steps/retain.js';
import { runFromPackage } from './steps/run-from-package.js';
import { verify } from './steps/verify.js';
import { zipDeploy } from './steps/zipdeploy.js';
import { type Clients, clientsFor } from './wiring.js';

/**
 * The deploy, in order: inputs → connect → inspect → plan → package → back up → apply → verify → retain, then
 * the record and the report. Nothing is written before the backup is stored; every write is inside `guarded`,
 * whose failure restores the previous package on its own grace deadline and says what it did.
 */
export async function run(io: ActionIO = githubIO()): Promise<void> {
  const done: Done = { wrote: false, timingsMs: {} };
  const phase = timed(done.timingsMs);
  const keep = <K extends keyof Done>(key: K, value: Done[K]): NonNullable<Done[K]> => {
    done[key] = value;
    return value as NonNullable<Done[K]>;
  };
  try {
    const ctx = keep('context', startRun(io));
    const packaging = startPackaging(ctx, phase); // alongside connect and inspect, which it does not need
    const connection = keep('connection', await phase('connect', () => connect(ctx)));
    const inspection = keep('inspection', await phase('inspect', () => inspect(ctx, connection)));
    const plan = keep('plan', planDeployment(ctx.planInputs, inspection.app));
    for (const reason of plan.reasons) ctx.logger.info(`plan: ${reason}`);
    const clients = clientsFor(ctx, connection, inspection, plan);
    const pkg = keep('package', await preparePackage(ctx, packaging, clients.storage));
    admitPackage(plan, pkg);
    if (ctx.inputs.dryRun) return ctx.logger.info('dry-run: stopping before any change.');

    const backup = await phase('backup', () => backUp(ctx, { plan, inspection, ...clients }));
    done.backup = backup;
    const journal = new Journal();
    const applied = await guarded(
      () => restore(ctx, { arm: clients.arm, mode: plan.mode, inspection, journal, backup }),
      async () => {
        done.wrote = true;
        const applied = keep(
          'applied',
          await phase('apply', () => apply(ctx, clients, { plan, pkg, inspection, journal })),
        );
        const arm = clients.arm;
        if (arm) keep('verified', await phase('verify', () => verify(ctx, { arm, pkg })));
        return applied;
      },
    );
    if (clients.mode === 'run-from-package' && applied.mode === 'run-from-package')
      keep('retained', await retain(ctx, { ...clients, deployed: applied.blob.blobName, inspection }));
  } catch (error) {
    done.failure = error;
  } finally {
    if (done.wrote) done.record = await record(done);
    await publish(assemble(done), io);
  }
  if (done.failure) io.setFailed(failureMessage(done.failure));
}

/** The mode's writes: Kudu zipdeploy, or a stored package and the setting that points at it. */
async function apply(
  ctx: RunContext,
  clients: Clients,
  args: { plan: Plan; pkg: Package; inspection: Inspection; journal: Journal },
): Promise<Applied> {
  return clients.mode === 'zipdeploy'
    ? { mode: 'zipdeploy', ...(await zipDeploy(ctx, { ...args, ...clients })) }
    : { mode: 'run-from-package', ...(await runFromPackage(ctx, { ...args, ...clients })) };
}
