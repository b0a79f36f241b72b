import type { Faults } from './faults.js';
import type { BlobAccess } from './flex-storage.js';
import type { Timers } from './http.js';
import type { Platform } from './platform.js';
import type { SandboxSeed } from './seed.js';
import type { Site } from './state.js';

/** What every handler of the sandbox shares. */
export interface Context {
  seed: SandboxSeed;
  sites: Site[];
  verifyBearer: (token: string) => boolean;
  faults: Faults;
  timers: Timers;
  platform: Platform;
  /** How the platform reaches blob storage (deployment containers, packages). */
  blobAccess: BlobAccess;
  config: { syncTriggersStatus: 200 | 204 };
}
