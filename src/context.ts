import type { ArtifactStore } from './artifacts.js';
import { type RunInfo, runInfo } from './documents.js';
import { type ActionInputs, getInputs } from './inputs.js';
import type { ActionIO } from './io.js';
import type { Logger } from './logger.js';
import type { Plan, PlanInputs } from './plan.js';
import { Deadline } from './retry.js';
import { maskSettingValue } from './settings.js';

/** What every step may read; built once from the inputs, never changed. */
export interface RunContext {
  readonly inputs: ActionInputs;
  readonly planInputs: PlanInputs;
  /** Names the blob folder, the artifacts and the Kudu deployment message. */
  readonly deploymentId: string;
  /** The run's bound (`timeout`); every request and wait stops at it. */
  readonly deadline: Deadline;
  readonly logger: Logger;
  readonly now: () => Date;
  /** GITHUB_WORKSPACE, RUNNER_TEMP, SOURCE_DATE_EPOCH. */
  readonly env: NodeJS.ProcessEnv;
  readonly run: RunInfo;
  readonly artifacts: ArtifactStore;
}

/** `<UTC yyyyMMddTHHmmssZ>-<short sha>`: sortable, and readable in a blob listing. */
export function defaultDeploymentId(now: Date, sha: string | undefined): string {
  const stamp = now
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d+Z$/, 'Z');
  return `${stamp}-${(sha ?? 'local').slice(0, 7)}`;
}

/** Parses and validates the inputs (before any network call) and masks the secrets among them before first use. */
export function startRun(io: ActionIO): RunContext {
  const inputs = getInputs((name) => io.getInput(name));
  maskSettingValue(inputs.storageConnectionString, io.logger);
  if (inputs.publishProfile) io.logger.mask(inputs.publishProfile.password);
  maskSettingValue(inputs.rollbackTo, io.logger);
  return {
    inputs,
    planInputs: { ...inputs, publishProfile: inputs.publishProfile !== undefined },
    deploymentId: inputs.deploymentId ?? defaultDeploymentId(io.now(), io.env.GITHUB_SHA),
    deadline: new Deadline(inputs.timeoutMs),
    logger: io.logger,
    now: () => io.now(),
    env: io.env,
    run: runInfo(io.env),
    artifacts: io.artifacts,
  };
}

/** The plan's reasons go to the log as they are decided; a conflict is also a notice. */
export function logPlan(ctx: RunContext, plan: Plan): Plan {
  for (const reason of plan.reasons) ctx.logger.info(`plan: ${reason}`);
  if (plan.conflict)
    ctx.logger.notice(`Conflict: ${plan.reasons.find((r) => r.startsWith('Conflict:')) ?? ''}`);
  return plan;
}
