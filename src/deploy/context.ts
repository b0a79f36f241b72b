/** What the deploy steps share: the run's context, phases, settings writes, verification, rollback, the record. */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as core from '@actions/core';
import type { AppServiceApi, SiteRef } from '../azure/appservice.js';
import type { MaskedCliCredential } from '../azure/credentials.js';
import { parseConnectionString, type StorageApi, type StoredPackage } from '../azure/storage.js';
import {
  type ArtifactStore,
  artifactName,
  RECORD_SCHEMA,
  type RecordDocument,
  runInfo,
  type Target,
} from '../backup.js';
import { ActionError, AzureError, VerificationError, wrap } from '../errors.js';
import type { ActionInputs } from '../inputs.js';
import type { Logger } from '../logger.js';
import { buildPackage, type PackageResult } from '../package/index.js';
import { type Plan, RUN_FROM_PACKAGE, RUN_FROM_PACKAGE_MI } from '../plan.js';
import { redactSas, sasExpiry, sasSignatures, sha256Hex } from '../redact.js';
import type { DeployResult } from '../report.js';
import { type Deadline, poll } from '../retry.js';

const EXPIRY_WARNING_MS = 30 * 86_400_000;

/** Side effects the flow needs from outside Azure; replaced in tests of the flow's edges. */
export interface Services {
  artifacts: ArtifactStore;
  logger: Logger;
  now: () => Date;
}

export function maskValue(value: string | undefined): void {
  if (!value) return;
  for (const sig of sasSignatures(value)) core.setSecret(sig);
  const key = parseConnectionString(value)?.accountKey;
  if (key) {
    core.setSecret(key);
    core.setSecret(value);
  }
}

/** Times one phase into the result. */
export async function phase<T>(result: DeployResult, name: string, fn: () => Promise<T>): Promise<T> {
  const start = performance.now();
  try {
    return await fn();
  } finally {
    result.timingsMs[name] = Math.round(performance.now() - start);
  }
}

/** What is deployed: a package just built, or one found in storage (rollback-to, no local file). */
export type DeployPackage = Pick<PackageResult, 'size' | 'sha256' | 'fileCount' | 'functions'> & {
  path: string | undefined;
  stored?: StoredPackage;
};

export function localZip(pkg: DeployPackage): string {
  if (!pkg.path)
    throw new ActionError(
      'Internal: zipdeploy needs a package file; rollback-to deploys by run-from-package',
    );
  return pkg.path;
}

/** Builds and validates the package before anything is written: a package that does not validate changes nothing. */
export async function buildAppPackage(
  inputs: ActionInputs,
  result: DeployResult,
  logger: Logger,
): Promise<PackageResult> {
  const pkg = await phase(result, 'package', () =>
    buildPackage({
      source: inputs.packagePath,
      workspace: process.env.GITHUB_WORKSPACE ?? process.cwd(),
      outDir: mkdtempSync(join(process.env.RUNNER_TEMP ?? tmpdir(), 'afpd-package-')),
      exclude: inputs.exclude,
      compressionLevel: inputs.compressionLevel,
      ...(process.env.SOURCE_DATE_EPOCH ? { sourceDateEpoch: Number(process.env.SOURCE_DATE_EPOCH) } : {}),
      logger,
    }).catch((error: unknown) => {
      throw wrap(`build the package from '${inputs.packagePath}'`, error);
    }),
  );
  result.packageSha256 = pkg.sha256;
  result.packageSize = pkg.size;
  result.packageFileCount = pkg.fileCount;
  result.templatePath = pkg.templatePath;
  result.warnings.push(...pkg.warnings);
  return pkg;
}

export interface DeployContext {
  inputs: ActionInputs;
  result: DeployResult;
  services: Services;
  deadline: Deadline;
  arm: AppServiceApi;
  ref: SiteRef;
  target: Target;
  plan: Plan;
  pkg: DeployPackage;
  /** Settings as inspected. */
  settings: Record<string, string>;
  credential: MaskedCliCredential;
  armScope: string;
  siteScmHost: string | undefined;
  /** Set in run-from-package mode. */
  storage: StorageApi | undefined;
  /** Set once anything was written to the app (the point of no return). */
  wrote?: boolean;
}

/** Re-reads the settings and refuses to write over a change made since inspection (another deploy). */
export async function freshSettingsOrStop(c: DeployContext): Promise<Record<string, string>> {
  const fresh = await c.arm.listSettings(c.ref);
  for (const key of [RUN_FROM_PACKAGE, RUN_FROM_PACKAGE_MI]) {
    if (fresh[key] !== c.settings[key]) {
      throw new ActionError(
        `${key} changed on ${c.ref.name} since it was inspected (now ${fresh[key] === undefined ? 'absent' : `'${redactSas(fresh[key])}'`}); another deployment may be running. Nothing was written`,
        {
          fix: 'Re-run this deploy once the other deployment has finished (use a concurrency group to serialise deploys)',
        },
      );
    }
  }
  return fresh;
}

export async function writeSettings(c: DeployContext, settings: Record<string, string>): Promise<void> {
  c.wrote = true;
  await c.arm.putSettings(c.ref, settings);
}

export function warnIfExpiring(result: DeployResult, url: string | undefined, what: string, now: Date): void {
  const expiry = url ? sasExpiry(url) : undefined;
  if (!expiry) return;
  const left = expiry.getTime() - now.getTime();
  if (left < EXPIRY_WARNING_MS) {
    const message =
      left <= 0
        ? `${what} has a SAS that expired on ${expiry.toISOString()}: the app cannot load it on its next restart.`
        : `${what} has a SAS that expires on ${expiry.toISOString()} (in ${Math.ceil(left / 86_400_000)} days): the app cannot load it after that.`;
    result.warnings.push(message);
    core.warning(message);
  }
}

/** Waits until every function of the package is listed; restores the previous setting if it never happens. */
export async function verifyOrRollBack(c: DeployContext): Promise<void> {
  const { inputs, result, ref, pkg } = c;
  if (!inputs.verify) {
    result.functions = await c.arm.listFunctions(ref).catch(() => undefined);
    return;
  }
  let last = 'no answer yet';
  try {
    result.functions = await phase(result, 'verify', () =>
      poll(
        async () => {
          try {
            const listed = await c.arm.listFunctions(ref);
            const missing = pkg.functions.filter(
              (f) => !listed.some((l) => l.toLowerCase() === f.toLowerCase()),
            );
            last = missing.length
              ? `listed [${listed.join(', ')}], missing [${missing.join(', ')}]`
              : 'all listed';
            return missing.length === 0 && (listed.length > 0 || pkg.functions.length === 0)
              ? listed
              : undefined;
          } catch (error) {
            // A host that is still starting (or failing) answers 400 with its error; keep polling until the deadline.
            if (
              error instanceof AzureError &&
              error.statusCode !== undefined &&
              error.statusCode < 500 &&
              error.statusCode !== 400
            )
              throw error;
            last = redactSas((error as Error).message);
            return undefined;
          }
        },
        {
          label: 'verify',
          deadline: c.deadline,
          baseDelayMs: 1000,
          maxDelayMs: 10_000,
          describeLast: () => last,
        },
      ),
    );
    c.services.logger.info(`Verified: the platform lists ${result.functions.join(', ')}.`);
  } catch (error) {
    const failure = new VerificationError(
      `The functions of the package were not listed before the timeout; the platform said: ${last}`,
      {
        cause: error,
        fix: inputs.rollbackOnFailure
          ? 'The previous package setting was restored; fix the package and deploy again'
          : 'Fix the package and deploy again',
      },
    );
    await rollBack(c, failure);
    throw failure;
  }
}

/** Restores WEBSITE_RUN_FROM_PACKAGE (and its identity setting) as inspected, when allowed and something was written. */
export async function rollBack(c: DeployContext, cause: unknown): Promise<void> {
  if (!c.inputs.rollbackOnFailure || !c.wrote) return;
  const previous = c.settings[RUN_FROM_PACKAGE];
  try {
    // Runs even when the deadline has passed: retry() always makes the first attempt, so a timed-out deploy still rolls back.
    const fresh = await c.arm.listSettings(c.ref);
    const restored = { ...fresh };
    for (const key of [RUN_FROM_PACKAGE, RUN_FROM_PACKAGE_MI]) {
      const before = c.settings[key];
      if (before === undefined) delete restored[key];
      else restored[key] = before;
    }
    await c.arm.putSettings(c.ref, restored);
    if (c.plan.mode === 'run-from-package' && c.inputs.restart) await c.arm.restart(c.ref);
    c.result.rolledBack = true;
    core.warning(
      `Rolled back ${RUN_FROM_PACKAGE} on ${c.ref.name} to ${previous === undefined ? '(absent)' : redactSas(previous)} after: ${redactSas((cause as Error).message)}`,
    );
  } catch (error) {
    core.error(
      `Rollback failed; restore ${RUN_FROM_PACKAGE} from the backup artifact by hand: ${redactSas((error as Error).message)}`,
    );
  }
}

export async function storeRecord(
  c: DeployContext,
  outcome: RecordDocument['outcome'],
  afterValue: string | undefined,
): Promise<void> {
  const { result, target } = c;
  const before = c.settings[RUN_FROM_PACKAGE];
  const record: RecordDocument = {
    schema: RECORD_SCHEMA,
    app: target.app,
    resourceGroup: target.resourceGroup,
    subscriptionId: target.subscriptionId,
    slot: target.slot,
    deploymentId: result.deploymentId ?? '',
    mode: c.plan.mode,
    reasons: c.plan.reasons,
    package: {
      sha256: c.pkg.sha256,
      size: c.pkg.size,
      fileCount: c.pkg.fileCount,
      functions: c.pkg.functions,
      url: result.packageUrl,
      reused: result.packageReused,
    },
    setting: {
      beforeSha256: before === undefined ? undefined : sha256Hex(before),
      afterSha256: afterValue === undefined ? undefined : sha256Hex(afterValue),
      after: afterValue === undefined ? undefined : redactSas(afterValue),
    },
    sasExpiresAt: result.sasExpiresAt,
    kuduDeploymentId: result.kuduDeploymentId,
    functionsListed: result.functions ?? [],
    backupArtifact: result.backupArtifact?.name,
    outcome,
    error: result.error,
    timingsMs: result.timingsMs,
    run: runInfo(),
    time: c.services.now().toISOString(),
  };
  const name = artifactName('record', target, record.deploymentId);
  try {
    result.recordArtifact = await c.services.artifacts.storeJson(name, 'deployment-record.json', record);
  } catch (error) {
    core.warning(`Could not store the deployment record: ${(error as Error).message}`);
  }
}
