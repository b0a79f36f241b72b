import type { StoredArtifact } from './artifacts.js';
import type { RunContext } from './context.js';
import { type Outcome, RECORD_SCHEMA, type RecordDocument, type Target } from './documents.js';
import { ActionError, DriftError, messageOf } from './errors.js';
import { GuardedFailure } from './guard.js';
import { type Connection, type Inspection, type KeptRelease, type Package, targetOf } from './model.js';
import { type Plan, packageSetting, RUN_FROM_PACKAGE } from './plan.js';
import { redactSas, sha256Hex, stripQuery } from './redact.js';
import { sasExpiryWarning } from './settings.js';
import type { OneDeployResult } from './steps/one-deploy.js';
import type { Restoration } from './steps/restore.js';
import type { RunFromPackageResult } from './steps/run-from-package.js';
import type { StatusReport } from './steps/status.js';
import type { Verified } from './steps/verify.js';
import type { ZipDeployResult } from './steps/zipdeploy.js';

export type Applied =
  | ({ mode: 'run-from-package' } & RunFromPackageResult)
  | ({ mode: 'zipdeploy' } & ZipDeployResult)
  | ({ mode: 'one-deploy' } & OneDeployResult);

/** What each step returned, filled in by main.ts as they finish; the only input of the report and the record. */
export interface Done {
  context?: RunContext;
  connection?: Connection;
  inspection?: Inspection;
  plan?: Plan;
  package?: Package;
  kept?: KeptRelease | undefined;
  backup?: StoredArtifact | undefined;
  applied?: Applied;
  verified?: Verified;
  status?: StatusReport;
  retained?: string[];
  record?: StoredArtifact | undefined;
  failure?: unknown;
  /** Set when the guarded section began: the run may have changed the app, so it keeps a record. */
  wrote: boolean;
  timingsMs: Record<string, number>;
}

/** Times a phase into the record's timings. */
export function timed(timings: Record<string, number>) {
  return <T>(name: string, fn: () => Promise<T>): Promise<T> => {
    const start = performance.now();
    const result = fn();
    const end = () => {
      timings[name] = Math.round(performance.now() - start);
    };
    result.then(end, end);
    return result;
  };
}

/**
 * A run's step runner: each step is timed, and what it returned is kept in `done` for the record and the report.
 * `phase` times work that is not a step of its own (the packaging that starts alongside connect).
 */
export function stepsOf(done: Done) {
  const phase = timed(done.timingsMs);
  const step = async <K extends keyof Done>(name: string, key: K, fn: () => Promise<Done[K]>) => {
    done[key] = await phase(name, fn);
    return done[key] as NonNullable<Done[K]>;
  };
  return { phase, step };
}

/** Everything outputs and the job summary show; all of it already redacted. */
export interface RunResult {
  app: string;
  slot: string | undefined;
  resourceGroup: string | undefined;
  status: 'succeeded' | 'failed' | 'dry-run';
  restoration: Restoration | undefined;
  mode: string | undefined;
  hosting: string | undefined;
  reasons: string[];
  deploymentId: string | undefined;
  previousPackage: string | undefined;
  newPackage: string | undefined;
  packageUrl: string | undefined;
  packageSha256: string | undefined;
  packageSize: number | undefined;
  packageFileCount: number | undefined;
  packageReused: boolean | undefined;
  templatePath: string | undefined;
  sasExpiresAt: string | undefined;
  kuduDeploymentId: string | undefined;
  /** What the platform listed; undefined when it was not asked. */
  functions: string[] | undefined;
  backupArtifact: StoredArtifact | undefined;
  recordArtifact: StoredArtifact | undefined;
  appUrl: string | undefined;
  warnings: string[];
  timingsMs: Record<string, number>;
  error: string | undefined;
  operation: string | undefined;
  /** rotate-sas: whether the SAS was re-signed. */
  rotated: boolean | undefined;
  /** status (and a rotate-sas stopped by drift): the short drift code. */
  drift: string | undefined;
  check: StatusReport | undefined;
}

export function restorationOf(failure: unknown): Restoration | undefined {
  return failure instanceof GuardedFailure ? failure.restoration : undefined;
}

export function outcomeOf(done: Done): Outcome {
  if (!done.failure) return 'succeeded';
  const outcome = restorationOf(done.failure)?.outcome;
  return outcome === 'restored' || outcome === 'restored-restart-refused' ? 'rolled-back' : 'failed';
}

/** The one message of a failed run: redacted, with what to do, and what the restore did. */
export function failureMessage(failure: unknown): string {
  return redactSas(messageOf(failure));
}

function newPackageOf(applied: Applied | undefined): string | undefined {
  if (!applied) return undefined;
  if (applied.mode === 'run-from-package') return redactSas(applied.setting);
  if (applied.mode === 'one-deploy')
    return applied.unchanged ? 'released-package.zip (unchanged: nothing published)' : 'released-package.zip';
  return applied.setting?.trim() === '1' ? `data/SitePackages (${RUN_FROM_PACKAGE}=1)` : 'site/wwwroot';
}

/** Warnings worth repeating in the summary: a SAS near expiry, package warnings. */
function warningsOf(done: Done): string[] {
  const now = done.context?.now() ?? new Date();
  const warnings = done.package?.kind === 'built' ? [...done.package.warnings] : [];
  const current = done.inspection ? packageSetting(done.inspection.settings) : undefined;
  for (const [value, what] of [
    [current, 'The current package URL'],
    [done.applied?.mode === 'run-from-package' ? done.applied.setting : undefined, 'The new package URL'],
  ] as const) {
    const warning = sasExpiryWarning(value, what, now);
    if (warning) warnings.push(warning);
  }
  return warnings;
}

/** Pure: the report's view of the run, assembled once from what the steps returned. */
export function assemble(done: Done): RunResult {
  const ctx = done.context;
  const target: Target | undefined = done.connection ? targetOf(done.connection) : undefined;
  const pkg = done.package;
  const applied = done.applied;
  const current = done.inspection ? packageSetting(done.inspection.settings) : undefined;
  const host = done.inspection?.site?.defaultHostName;
  return {
    app: target?.app ?? ctx?.inputs.appName ?? '',
    slot: target?.slot ?? ctx?.inputs.slot,
    resourceGroup: target?.resourceGroup ?? ctx?.inputs.resourceGroup,
    status: done.failure ? 'failed' : ctx?.inputs.dryRun ? 'dry-run' : 'succeeded',
    restoration: restorationOf(done.failure),
    mode: done.plan?.operation === 'status' ? undefined : done.plan?.mode,
    hosting: done.plan?.hosting,
    reasons: done.plan?.reasons ?? [],
    deploymentId: ctx?.deploymentId,
    previousPackage: current === undefined ? undefined : redactSas(current),
    newPackage: newPackageOf(applied),
    packageUrl: applied && applied.mode !== 'zipdeploy' ? stripQuery(applied.blob.url) : undefined,
    packageSha256: pkg?.sha256,
    packageSize: pkg?.size,
    packageFileCount: pkg?.fileCount,
    packageReused: applied && applied.mode !== 'zipdeploy' ? applied.reused : undefined,
    templatePath: pkg?.kind === 'built' ? pkg.templatePath : undefined,
    sasExpiresAt:
      (applied?.mode === 'run-from-package' ? applied.sasExpiresAt : undefined) ??
      done.plan?.rotation?.expiresAt ??
      done.status?.sas?.expiresAt,
    kuduDeploymentId: applied && applied.mode !== 'run-from-package' ? applied.kuduDeploymentId : undefined,
    functions: done.verified?.functions,
    backupArtifact: done.backup,
    recordArtifact: done.record,
    appUrl: host ? `https://${host}` : undefined,
    warnings: warningsOf(done),
    timingsMs: done.timingsMs,
    error: done.failure ? failureMessage(done.failure) : undefined,
    operation: done.plan?.operation ?? ctx?.inputs.operation,
    rotated: done.plan?.operation === 'rotate-sas' ? done.verified !== undefined : undefined,
    drift: done.failure instanceof DriftError ? done.failure.drift : done.status?.drift,
    check: done.status,
  };
}

/** Pure: the deployment record of a run that may have changed the app. */
export function recordOf(done: Done): RecordDocument {
  const ctx = done.context;
  const plan = done.plan;
  if (!ctx || !plan || !done.connection || !done.package || !done.inspection)
    throw new ActionError('Internal: a record needs the plan, the package and the inspection');
  const view = assemble(done);
  const before = packageSetting(done.inspection.settings);
  const after = done.applied?.setting;
  return {
    schema: RECORD_SCHEMA,
    ...targetOf(done.connection),
    deploymentId: ctx.deploymentId,
    operation: plan.operation,
    mode: plan.mode,
    reasons: plan.reasons,
    package: {
      sha256: done.package.sha256,
      size: done.package.size,
      fileCount: done.package.fileCount,
      functionsInPackage: done.package.functions,
      url: view.packageUrl,
      reused: view.packageReused ?? false,
    },
    setting: {
      beforeSha256: before === undefined ? undefined : sha256Hex(before),
      afterSha256: after === undefined ? undefined : sha256Hex(after),
      after: after === undefined ? undefined : redactSas(after),
    },
    sasExpiresAt: view.sasExpiresAt,
    kuduDeploymentId: view.kuduDeploymentId,
    functionsListed: view.functions ?? [],
    backupArtifact: done.backup?.name,
    outcome: outcomeOf(done),
    restore: view.restoration?.detail,
    error: view.error,
    timingsMs: done.timingsMs,
    run: ctx.run,
    time: ctx.now().toISOString(),
  };
}
