import { type RunContext, startRun } from './context.js';
import { ActionError } from './errors.js';
import { guarded } from './guard.js';
import { type ActionIO, githubIO } from './io.js';
import { Journal } from './journal.js';
import type { Inspection, KeptRelease, Package } from './model.js';
import { type Plan, planDeployment } from './plan.js';
import { planRotation, planStatus } from './plan-operations.js';
import { publish } from './report.js';
import { type Applied, assemble, type Done, failureMessage, timed } from './result.js';
import { backUp } from './steps/backup.js';
import { connect } from './steps/connect.js';
import { inspect } from './steps/inspect.js';
import { keepRelease } from './steps/keep-release.js';
import { oneDeploy } from './steps/one-deploy.js';
import { factsOf, findLivePackage, preparePackage, startPackaging } from './steps/package.js';
import { record } from './steps/record.js';
import { restore } from './steps/restore.js';
import { retain } from './steps/retain.js';
import { runFromPackage } from './steps/run-from-package.js';
import { checkStatus } from './steps/status.js';
import { verify } from './steps/verify.js';
import { zipDeploy } from './steps/zipdeploy.js';
import { type Clients, clientsFor, openStore, statusClients } from './wiring.js';

/**
 * The deploy, in order: inputs → connect → inspect → plan → package → back up → apply → verify → retain, then
 * the record and the report. Nothing is written before the backup is stored; every write is inside `guarded`,
 * whose failure restores the previous package on its own grace deadline and says what it did. `rotate-sas` runs
 * the same steps with the live package; `status` only inspects and checks.
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
    const { operation } = ctx.inputs;
    const packaging = operation === 'deploy' ? startPackaging(ctx, phase) : undefined; // alongside connect
    const connection = keep('connection', await phase('connect', () => connect(ctx)));
    const inspection = keep('inspection', await phase('inspect', () => inspect(ctx, connection)));
    const inputs = { ...ctx.planInputs, rotateWithinMs: ctx.inputs.rotateWithinMs };
    if (operation === 'status' && connection.kind === 'arm') {
      const plan = logged(ctx, keep('plan', planStatus(inputs, inspection.app)));
      const report = keep(
        'status',
        await phase('status', () => checkStatus(ctx, statusClients(ctx, connection, inspection, plan))),
      );
      if (ctx.inputs.failOnDrift && report.drift !== 'none')
        throw new ActionError(`Drift: ${report.drift}. ${report.findings.join(' ')}`, {
          fix: 'See the status summary',
        });
      return;
    }
    // What cannot work stops here, before the package is even awaited; the package then settles the rest.
    const early = keep(
      'plan',
      operation === 'rotate-sas'
        ? planRotation(inputs, inspection.app, ctx.now())
        : planDeployment(inputs, inspection.app),
    );
    const rotation = early.rotation;
    if (rotation && rotation.state !== 'due') return void logged(ctx, early);
    const stored =
      early.storage && connection.kind === 'arm'
        ? openStore(ctx, early.storage, inspection, connection)
        : undefined;
    const pkg = keep(
      'package',
      rotation && stored
        ? await findLivePackage(ctx, stored, rotation)
        : await preparePackage(ctx, packaging, stored, early.mode),
    );
    const plan = logged(
      ctx,
      keep('plan', rotation ? early : planDeployment(inputs, inspection.app, factsOf(pkg))),
    );
    const clients = clientsFor(ctx, connection, inspection, plan);
    if (ctx.inputs.dryRun) return ctx.logger.info('dry-run: stopping before any change.');

    // Flex: the package the app runs now is kept before anything changes, and the backup names it.
    const kept =
      clients.mode === 'one-deploy'
        ? keep('kept', await phase('keep', () => keepRelease(ctx, clients)))
        : undefined;
    const backup = keep(
      'backup',
      await phase('backup', () => backUp(ctx, { plan, inspection, kept, ...clients })),
    );
    const journal = new Journal();
    const applied = await guarded(
      () =>
        restore(ctx, {
          ...clients,
          kuduOn: 'kuduOn' in clients ? clients.kuduOn : undefined,
          mode: plan.mode,
          inspection,
          journal,
          backup,
          kept,
        }),
      async () => {
        done.wrote = true;
        const applied = keep(
          'applied',
          await phase('apply', () => apply(ctx, clients, { plan, pkg, inspection, journal, kept })),
        );
        const arm = clients.arm;
        if (arm)
          keep(
            'verified',
            await phase('verify', () =>
              verify(ctx, { arm, pkg, hostName: inspection.site?.defaultHostName }),
            ),
          );
        return applied;
      },
    );
    if (clients.mode !== 'zipdeploy' && applied.mode !== 'zipdeploy' && plan.operation !== 'rotate-sas') {
      const deployed = [applied.blob.blobName, ...(kept ? [kept.blob.blobName] : [])];
      keep(
        'retained',
        await retain(ctx, { ...clients, deployed, inspection, slots: plan.mode !== 'one-deploy' }),
      );
    }
  } catch (error) {
    done.failure = error;
  } finally {
    if (done.wrote) done.record = await record(done);
    await publish(assemble(done), io);
  }
  if (done.failure) io.setFailed(failureMessage(done.failure));
}

function logged(ctx: RunContext, plan: Plan): Plan {
  for (const reason of plan.reasons) ctx.logger.info(`plan: ${reason}`);
  return plan;
}

/** The mode's writes: Kudu zipdeploy, a Flex publish, or a stored package and the setting that points at it. */
async function apply(
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
