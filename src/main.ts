import { apply } from './apply.js';
import { logPlan, startRun } from './context.js';
import { guarded } from './guard.js';
import { type ActionIO, githubIO } from './io.js';
import { Journal } from './journal.js';
import { planFor } from './plan-operations.js';
import { publish } from './report.js';
import { assemble, type Done, failureMessage, stepsOf } from './result.js';
import { backUp } from './steps/backup.js';
import { connect } from './steps/connect.js';
import { inspect } from './steps/inspect.js';
import { keepRelease } from './steps/keep-release.js';
import { factsOf, findLivePackage, preparePackage, startPackaging } from './steps/package.js';
import { record } from './steps/record.js';
import { restore } from './steps/restore.js';
import { retain } from './steps/retain.js';
import { checkStatus, refuseDrift } from './steps/status.js';
import { verify } from './steps/verify.js';
import { clientsFor, openStore, statusClients } from './wiring.js';

/**
 * The deploy, in order: inputs → connect → inspect → plan → package → back up → apply → verify → retain, then
 * the record and the report. Nothing is written before the backup is stored; every write is inside `guarded`,
 * whose failure restores what the run changed, on its own grace deadline, and says what it did. `rotate-sas` runs
 * the same steps with the live package; `status` only inspects and checks.
 */
export async function run(io: ActionIO = githubIO()): Promise<void> {
  const done: Done = { wrote: false, timingsMs: {} };
  const { phase, step } = stepsOf(done);
  try {
    const ctx = startRun(io);
    done.context = ctx;
    const { operation } = ctx.inputs;
    const packaging = operation === 'deploy' ? startPackaging(ctx, phase) : undefined; // alongside connect
    const connection = await step('connect', 'connection', () => connect(ctx));
    const inspection = await step('inspect', 'inspection', () => inspect(ctx, connection));
    const inputs = { ...ctx.planInputs, rotateWithinMs: ctx.inputs.rotateWithinMs };
    // What cannot work stops here, before the package is awaited; the package then settles the rest.
    const early = planFor(operation, inputs, inspection.app, ctx.now());
    done.plan = early;
    if (operation === 'status') {
      const clients = statusClients(ctx, connection, inspection, logPlan(ctx, early));
      const found = await step('status', 'status', () => checkStatus(ctx, clients));
      if (ctx.inputs.failOnDrift) refuseDrift(found);
      return;
    }
    const { rotation } = early;
    if (rotation && rotation.state !== 'due') return void logPlan(ctx, early);
    const stored = early.storage && openStore(ctx, early.storage, inspection, connection);
    const pkg = await step('locate', 'package', () =>
      rotation && stored
        ? findLivePackage(ctx, stored, rotation)
        : preparePackage(ctx, packaging, stored, early.mode),
    );
    done.plan = rotation ? early : planFor(operation, inputs, inspection.app, ctx.now(), factsOf(pkg));
    const plan = logPlan(ctx, done.plan);
    const clients = clientsFor(ctx, connection, inspection, plan);
    if (ctx.inputs.dryRun) return ctx.logger.info('dry-run: stopping before any change.');

    // Flex: the package the app runs now is kept before anything changes, and the backup names it.
    const kept =
      clients.mode === 'one-deploy' ? await step('keep', 'kept', () => keepRelease(ctx, clients)) : undefined;
    const backup = await step('backup', 'backup', () => backUp(ctx, { plan, inspection, kept, ...clients }));
    const journal = new Journal();
    const applied = await guarded(
      () => restore(ctx, { ...clients, mode: plan.mode, inspection, journal, backup, kept }),
      async () => {
        done.wrote = true;
        const applied = await step('apply', 'applied', () =>
          apply(ctx, clients, { plan, pkg, inspection, journal, kept }),
        );
        const arm = clients.arm;
        const hostName = inspection.site?.defaultHostName;
        if (arm) await step('verify', 'verified', () => verify(ctx, { arm, pkg, hostName }));
        return applied;
      },
    );
    await step('retain', 'retained', () => retain(ctx, { ...clients, plan, applied, kept, inspection }));
  } catch (error) {
    done.failure = error;
  } finally {
    if (done.wrote) done.record = await record(done);
    await publish(assemble(done), io);
  }
  if (done.failure) io.setFailed(failureMessage(done.failure));
}
