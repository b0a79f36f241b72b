import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type AppServiceHandle, parseSeed, startAppService } from './appservice/index.js';
import { type ArtifactServiceHandle, startArtifactService } from './artifacts/index.js';
import { AZURITE_ACCOUNT, AZURITE_KEY, type AzuriteHandle, startAzurite } from './azurite.js';
import { ensureCerts, type SandboxCerts, trustInThisProcess } from './certs.js';
import { type StorageFrontHandle, startStorageFront } from './storage-front.js';
import { DEFAULT_SUBSCRIPTION_ID, DEFAULT_TENANT_ID, verifyArmToken } from './tokens.js';

const here = dirname(fileURLToPath(import.meta.url));
export const AZ_SHIM_DIR = join(here, 'az-shim');
export const EXAMPLE_APPS = join(here, 'apps.example.json');

export interface Sandbox {
  /** Every variable a client needs, in the order printed by `npm run sandbox`. */
  env: Record<string, string>;
  certs: SandboxCerts;
  /** Azurite itself, for the sandbox's own backstage use (and tests that must bypass the account's rules). */
  azurite: AzuriteHandle;
  /** The storage account as everyone else sees it: the front door every handed-out blob URL points at. */
  storage: StorageFrontHandle;
  appService: AppServiceHandle;
  artifacts: ArtifactServiceHandle;
  subscriptionId: string;
  tenantId: string;
  stop(): Promise<void>;
}

export interface SandboxOptions {
  /**
   * Seed JSON text or an already-parsed seed object, with `${AZURITE_CONNECTION_STRING}` / `${AZURITE_BLOB_ENDPOINT}`
   * placeholders; both are replaced by the storage front door's values, so the apps use the account through it.
   */
  seed: string | unknown;
  /** Where the CA lives; a fresh temporary directory when omitted. */
  certDir?: string;
}

/** Replaces `${NAME}` placeholders in every string of the seed. */
function substitute(value: unknown, vars: Record<string, string>): unknown {
  if (typeof value === 'string')
    return value.replace(/\$\{([A-Z_]+)\}/g, (m, name: string) => vars[name] ?? m);
  if (Array.isArray(value)) return value.map((v) => substitute(v, vars));
  if (value && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, substitute(v, vars)]));
  }
  return value;
}

export function readSeedFile(file: string): unknown {
  return JSON.parse(readFileSync(file, 'utf8'));
}

/**
 * Starts Azurite behind the storage front door, the fake App Service, the fake artifact service and the az shim
 * config; all on loopback.
 */
export async function startSandbox(options: SandboxOptions): Promise<Sandbox> {
  const ownsCertDir = !options.certDir;
  const certDir = options.certDir ?? mkdtempSync(join(tmpdir(), 'afpd-sandbox-'));
  const certs = ensureCerts(certDir);
  trustInThisProcess(certs);
  const stops: (() => Promise<void>)[] = [];
  const stop = async () => {
    for (const s of stops.reverse()) await s().catch(() => undefined);
    stops.length = 0;
  };
  try {
    const azurite = await startAzurite({ certs });
    stops.push(() => azurite.stop());
    const storage = await startStorageFront({
      tls: { key: certs.key, cert: certs.cert, ca: certs.ca },
      upstream: azurite.connectionString,
    });
    stops.push(() => storage.close());
    const raw = typeof options.seed === 'string' ? (JSON.parse(options.seed) as unknown) : options.seed;
    const seed = parseSeed(
      substitute(raw, {
        AZURITE_CONNECTION_STRING: storage.connectionString,
        AZURITE_BLOB_ENDPOINT: storage.blobEndpoint,
      }),
    );
    const subscriptionId = seed.subscriptionId ?? DEFAULT_SUBSCRIPTION_ID;
    const tenantId = seed.tenantId ?? DEFAULT_TENANT_ID;
    const appService = await startAppService({
      seed,
      tls: { key: certs.key, cert: certs.cert, ca: certs.ca },
      verifyBearer: (token) => verifyArmToken(token, tenantId),
      blob: { account: AZURITE_ACCOUNT, key: AZURITE_KEY, endpoint: storage.blobEndpoint },
    });
    stops.push(() => appService.close());
    // The artifact service belongs to GitHub, not to the user's account: it talks to Azurite directly and hands
    // out URLs of its own blob front door.
    const artifacts = await startArtifactService({
      tls: { key: certs.key, cert: certs.cert, ca: certs.ca },
      azurite: { connectionString: azurite.connectionString },
    });
    stops.push(() => artifacts.close());

    const stateDir = mkdtempSync(join(tmpdir(), 'afpd-az-'));
    stops.push(async () => rmSync(stateDir, { recursive: true, force: true }));
    if (ownsCertDir) stops.push(async () => rmSync(certDir, { recursive: true, force: true }));
    const azConfig = join(stateDir, 'az-config.json');
    writeFileSync(
      azConfig,
      JSON.stringify({
        subscriptionId,
        tenantId,
        subscriptionName: 'sandbox',
        user: { name: 'deployer@sandbox.invalid', type: 'user' },
        resourceManagerEndpoint: `${appService.armEndpoint}/`,
      }),
    );
    const env: Record<string, string> = {
      SANDBOX_ARM_ENDPOINT: appService.armEndpoint,
      SANDBOX_CONTROL_URL: appService.controlUrl,
      SANDBOX_SUBSCRIPTION_ID: subscriptionId,
      NODE_EXTRA_CA_CERTS: certs.caFile,
      AZ_SANDBOX_CONFIG: azConfig,
      PATH: `${AZ_SHIM_DIR}${delimiter}${process.env.PATH ?? ''}`,
      ACTIONS_RUNTIME_TOKEN: artifacts.runtimeToken,
      ACTIONS_RESULTS_URL: artifacts.resultsUrl,
      SANDBOX_ARTIFACTS_CONTROL_URL: `${artifacts.resultsUrl}/_sandbox`,
      SANDBOX_STORAGE_CONTROL_URL: storage.controlUrl,
      SANDBOX_BLOB_ENDPOINT: storage.blobEndpoint,
      SANDBOX_STORAGE_CONNECTION_STRING: storage.connectionString,
    };
    return { env, certs, azurite, storage, appService, artifacts, subscriptionId, tenantId, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}
