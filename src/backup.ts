import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DefaultArtifactClient } from '@actions/artifact';
import { ActionError } from './errors.js';
import type { Mode } from './plan.js';
import { RUN_FROM_PACKAGE } from './plan.js';
import { redactSas, sasExpiry, sha256Hex, stripQuery } from './redact.js';

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

export function runInfo(env: NodeJS.ProcessEnv = process.env): RunInfo {
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

export interface Target {
  app: string;
  resourceGroup: string | undefined;
  subscriptionId: string | undefined;
  slot: string | undefined;
}

export interface BackupDocument {
  schema: typeof BACKUP_SCHEMA;
  app: string;
  resourceGroup: string | undefined;
  subscriptionId: string | undefined;
  slot: string | undefined;
  setting: string;
  /** The previous value with the SAS signature replaced by REDACTED. */
  previousValue: string;
  /** sha256 of the full previous value, so an auditor holding the value can prove it is the one replaced. */
  previousValueSha256: string;
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

/** Pure: the backup document for a replaced or removed WEBSITE_RUN_FROM_PACKAGE. No secret survives it. */
export function backupDocument(args: {
  target: Target;
  previousValue: string;
  companions: Record<string, string>;
  reason: string;
  deploymentId: string;
  run: RunInfo;
  now: Date;
}): BackupDocument {
  const value = args.previousValue;
  let blob: BackupDocument['blob'];
  if (/^https?:\/\//i.test(value)) {
    const url = new URL(stripQuery(value));
    const segments = url.pathname.split('/').filter(Boolean);
    // Path-style (emulator) URLs carry the account as the first segment.
    const pathStyle = /^\d+\.\d+\.\d+\.\d+$|^localhost$/i.test(url.hostname);
    const account = pathStyle ? segments.shift() : url.hostname.split('.')[0];
    blob = {
      url: url.toString(),
      account,
      container: segments[0],
      name: segments.length > 1 ? decodeURIComponent(segments.slice(1).join('/')) : undefined,
    };
  }
  return {
    schema: BACKUP_SCHEMA,
    app: args.target.app,
    resourceGroup: args.target.resourceGroup,
    subscriptionId: args.target.subscriptionId,
    slot: args.target.slot,
    setting: RUN_FROM_PACKAGE,
    previousValue: redactSas(value),
    previousValueSha256: sha256Hex(value),
    blob,
    sasExpiresAt: sasExpiry(value)?.toISOString(),
    companions: args.companions,
    reason: args.reason,
    deploymentId: args.deploymentId,
    run: args.run,
    time: args.now.toISOString(),
  };
}

export interface RecordDocument {
  schema: typeof RECORD_SCHEMA;
  app: string;
  resourceGroup: string | undefined;
  subscriptionId: string | undefined;
  slot: string | undefined;
  deploymentId: string;
  mode: Mode;
  reasons: string[];
  package: {
    sha256: string;
    size: number;
    fileCount: number;
    functions: string[];
    url: string | undefined;
    reused: boolean;
  };
  setting: { beforeSha256: string | undefined; afterSha256: string | undefined; after: string | undefined };
  sasExpiresAt: string | undefined;
  kuduDeploymentId: string | undefined;
  functionsListed: string[];
  backupArtifact: string | undefined;
  outcome: 'succeeded' | 'failed' | 'rolled-back';
  error: string | undefined;
  timingsMs: Record<string, number>;
  run: RunInfo;
  time: string;
}

export interface StoredArtifact {
  name: string;
  id: number | undefined;
}

/** Where backup and record documents go; the GitHub artifact service in the action. */
export interface ArtifactStore {
  storeJson(name: string, fileName: string, document: unknown): Promise<StoredArtifact>;
}

export class ArtifactError extends ActionError {}

export function createArtifactStore(retentionDays = 90): ArtifactStore {
  const client = new DefaultArtifactClient();
  return {
    async storeJson(name, fileName, document) {
      const dir = mkdtempSync(join(tmpdir(), 'afpd-artifact-'));
      try {
        const file = join(dir, fileName);
        writeFileSync(file, `${JSON.stringify(document, null, 2)}\n`);
        const result = await client.uploadArtifact(name, [file], dir, { retentionDays });
        return { name, id: result.id };
      } catch (error) {
        throw new ArtifactError(`Failed to store the artifact '${name}': ${(error as Error).message}`, {
          cause: error,
          fix: 'The artifact service must be reachable (this runs inside GitHub Actions with ACTIONS_RUNTIME_TOKEN); nothing was changed on the app',
        });
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  };
}

/** Artifact names are unique per run; the deployment id keeps several deploys in one run apart. */
export function artifactName(kind: 'backup' | 'record', target: Target, deploymentId: string): string {
  return `afpd-${kind}-${target.app}${target.slot ? `-${target.slot}` : ''}-${deploymentId}`.replace(
    /[^A-Za-z0-9._-]/g,
    '-',
  );
}
