import { parseBlobUrl } from './azure/layout.js';
import type { Mode, Operation } from './plan.js';
import { redactSas, sasExpiry, sha256Hex } from './redact.js';

/** The JSON documents read during audits: the backup, the deployment record. Pure builders; no secret survives them. */

export const BACKUP_SCHEMA = 'azure-functions-package-deploy/backup@1';
export const RECORD_SCHEMA = 'azure-functions-package-deploy/record@1';

/** The workflow run, read from the runner's environment. */
export interface RunInfo {
  id: string | undefined;
  attempt: string | undefined;
  workflow: string | undefined;
  repository: string | undefined;
  sha: string | undefined;
  actor: string | undefined;
  event: string | undefined;
}

export function runInfo(env: NodeJS.ProcessEnv): RunInfo {
  return {
    id: env.GITHUB_RUN_ID,
    attempt: env.GITHUB_RUN_ATTEMPT,
    workflow: env.GITHUB_WORKFLOW,
    repository: env.GITHUB_REPOSITORY,
    sha: env.GITHUB_SHA,
    actor: env.GITHUB_ACTOR,
    event: env.GITHUB_EVENT_NAME,
  };
}

/** Who was deployed to; resource group and subscription are unknown with a publish profile alone. */
export interface Target {
  app: string;
  resourceGroup: string | undefined;
  subscriptionId: string | undefined;
  slot: string | undefined;
}

export interface BackupDocument extends Target {
  schema: typeof BACKUP_SCHEMA;
  /** The setting that held the value: WEBSITE_RUN_FROM_PACKAGE, or the old WEBSITE_RUN_FROM_ZIP; none when only a package was kept. */
  setting: string | undefined;
  /** The previous value with the SAS signature replaced by REDACTED. */
  previousValue: string | undefined;
  /** sha256 of the full previous value, so an auditor holding the value can prove it is the one replaced. */
  previousValueSha256: string | undefined;
  /** Flex: the package the app ran (released-package.zip), kept in the package store before the publish. */
  previousPackage: { blob: string; url: string; sha256: string } | undefined;
  blob:
    | { url: string; account: string | undefined; container: string | undefined; name: string | undefined }
    | undefined;
  sasExpiresAt: string | undefined;
  /** Other settings that travel with it (e.g. the managed identity used to read the package). */
  companions: Record<string, string>;
  reason: string;
  deploymentId: string;
  run: RunInfo;
  time: string;
}

export function backupDocument(args: {
  target: Target;
  setting: string | undefined;
  previousValue: string | undefined;
  previousPackage?: { blob: string; url: string; sha256: string } | undefined;
  companions: Record<string, string>;
  reason: string;
  deploymentId: string;
  run: RunInfo;
  now: Date;
}): BackupDocument {
  const value = args.previousValue;
  const blob = parseBlobUrl(value);
  return {
    schema: BACKUP_SCHEMA,
    ...args.target,
    setting: value === undefined ? undefined : args.setting,
    previousValue: value === undefined ? undefined : redactSas(value),
    previousValueSha256: value === undefined ? undefined : sha256Hex(value),
    previousPackage: args.previousPackage,
    blob: blob
      ? { url: blob.url, account: blob.account, container: blob.container, name: blob.name }
      : undefined,
    sasExpiresAt: value === undefined ? undefined : sasExpiry(value)?.toISOString(),
    companions: Object.fromEntries(Object.entries(args.companions).map(([k, v]) => [k, redactSas(v)])),
    reason: args.reason,
    deploymentId: args.deploymentId,
    run: args.run,
    time: args.now.toISOString(),
  };
}

export type Outcome = 'succeeded' | 'failed' | 'rolled-back';

export interface RecordDocument extends Target {
  schema: typeof RECORD_SCHEMA;
  deploymentId: string;
  operation: Operation;
  mode: Mode;
  reasons: string[];
  package: {
    sha256: string;
    size: number;
    fileCount: number;
    /** The function names found in the package (what verification expects); not what the platform listed. */
    functionsInPackage: string[];
    url: string | undefined;
    reused: boolean;
  };
  setting: { beforeSha256: string | undefined; afterSha256: string | undefined; after: string | undefined };
  sasExpiresAt: string | undefined;
  kuduDeploymentId: string | undefined;
  /** What the platform listed after the deploy; empty when it was not asked (publish profile, verify off). */
  functionsListed: string[];
  backupArtifact: string | undefined;
  outcome: Outcome;
  /** What the restore did, when the deploy failed after its first write. */
  restore: string | undefined;
  error: string | undefined;
  timingsMs: Record<string, number>;
  run: RunInfo;
  time: string;
}
