import type { Faults } from './faults.js';
import type { BlobAccess } from './flex-storage.js';
import type { Timers } from './http.js';
import type { Platform } from './platform.js';
import type { RequestCounts } from './requests.js';
import type { SandboxSeed } from './seed.js';
import type { Site } from './state.js';

/** Sandbox-wide knobs (POST /_sandbox/config). Timings are Azure's, compressed from tens of seconds to about one. */
export interface SandboxConfig {
  syncTriggersStatus: 200 | 204;
  /** How long the host is down after a settings change, a restart, a deployment or a swap. */
  recycleMs: number;
  /** How long Kudu (the SCM site) keeps seeing the previous app settings after a change. */
  kuduSettingsDelayMs: number;
  /** How long after the host has loaded its package the ARM function list still shows only part of it. */
  listLagMs: number;
  /** Largest run-from-package URL package the platform mounts (Learn: 1 GB). */
  maxRunFromPackageBytes: number;
  /** Largest zipdeploy request body Kudu accepts (azure-cli#26635: 2 GB). */
  maxZipDeployBytes: number;
}

export const DEFAULT_CONFIG: SandboxConfig = {
  syncTriggersStatus: 200,
  recycleMs: 1000,
  kuduSettingsDelayMs: 1000,
  listLagMs: 700,
  maxRunFromPackageBytes: 1024 ** 3,
  maxZipDeployBytes: 2 * 1024 ** 3,
};

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
  config: SandboxConfig;
  /** Requests to ARM, Kudu and the hosts, and the platform's own package fetches (GET /_sandbox/requests). */
  requests: RequestCounts;
}
