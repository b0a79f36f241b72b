import { artifactName, type StoredArtifact } from '../artifacts.js';
import { messageOf } from '../errors.js';
import { type Done, recordOf } from '../result.js';
import { Deadline } from '../retry.js';

/** Storing the record gets its own short budget: it runs after failures too, when the run's may be spent. */
const RECORD_GRACE_MS = 60_000;

/**
 * Stores the deployment record of a run that may have changed the app, failed and rolled-back runs included.
 * A failure to store it is a warning: the deploy's outcome does not change.
 */
export async function record(done: Done): Promise<StoredArtifact | undefined> {
  const ctx = done.context;
  if (!ctx) return undefined;
  try {
    const document = recordOf(done);
    const name = artifactName('record', { app: document.app, slot: document.slot }, document.deploymentId);
    return await ctx.artifacts.storeJson(
      name,
      'deployment-record.json',
      document,
      new Deadline(RECORD_GRACE_MS).signal,
    );
  } catch (error) {
    ctx.logger.warning(`Could not store the deployment record: ${messageOf(error)}`);
    return undefined;
  }
}
