import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DefaultArtifactClient } from '@actions/artifact';
import { ActionError, messageOf } from './errors.js';

export interface StoredArtifact {
  name: string;
  id: number | undefined;
}

/** Where backup and record documents go: the GitHub artifact service in the action, a recorder in tests. */
export interface ArtifactStore {
  /** Bounded by `signal`: the client's own retries (tens of seconds) must not outlive the run's deadline. */
  storeJson(name: string, fileName: string, document: unknown, signal: AbortSignal): Promise<StoredArtifact>;
}

export class ArtifactError extends ActionError {}

/** Artifacts are unique per run; the deployment id keeps several deploys in one run apart. */
export function artifactName(
  kind: 'backup' | 'record',
  target: { app: string; slot: string | undefined },
  deploymentId: string,
): string {
  return `afpd-${kind}-${target.app}${target.slot ? `-${target.slot}` : ''}-${deploymentId}`.replace(
    /[^A-Za-z0-9._-]/g,
    '-',
  );
}

export function createArtifactStore(retentionDays = 90): ArtifactStore {
  const client = new DefaultArtifactClient();
  return {
    async storeJson(name, fileName, document, signal) {
      const dir = mkdtempSync(join(tmpdir(), 'afpd-artifact-'));
      try {
        const file = join(dir, fileName);
        writeFileSync(file, `${JSON.stringify(document, null, 2)}\n`);
        // The client takes no abort signal: stop waiting for it at the deadline (the process exits after the run).
        const aborted = new Promise<never>((_, reject) => {
          if (signal.aborted) reject(new Error('the run timed out before the artifact service answered'));
          signal.addEventListener(
            'abort',
            () => reject(new Error('the run timed out before the artifact service answered')),
            { once: true },
          );
        });
        const result = await Promise.race([
          client.uploadArtifact(name, [file], dir, { retentionDays }),
          aborted,
        ]);
        return { name, id: result.id };
      } catch (error) {
        throw new ArtifactError(`Failed to store the artifact '${name}': ${messageOf(error)}`, {
          cause: error,
          fix: 'The artifact service must be reachable (this runs inside GitHub Actions with ACTIONS_RUNTIME_TOKEN)',
        });
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  };
}
