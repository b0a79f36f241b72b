import { execFile } from 'node:child_process';
import type { AccessToken, GetTokenOptions, TokenCredential } from '@azure/core-auth';
import { AzureCliCredential } from '@azure/identity';
import { AzureError } from '../errors.js';
import type { Logger } from '../logger.js';

export const PUBLIC_ARM_ENDPOINT = 'https://management.azure.com';
export const PUBLIC_ARM_AUDIENCE = 'https://management.core.windows.net/';
export const PUBLIC_STORAGE_SUFFIX = 'core.windows.net';

/** What `az` (after azure/login) says about the account and the cloud. */
export interface AzContext {
  subscriptionId: string | undefined;
  tenantId: string | undefined;
  resourceManagerEndpoint: string;
  /** Token audience of ARM in that cloud (`activeDirectoryResourceId`), kept verbatim. */
  armAudience: string;
  /** `suffixes.storageEndpoint` of the cloud: `core.windows.net`, `core.usgovcloudapi.net`, … */
  storageSuffix: string;
}

function az(args: string[], timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(
      'az',
      [...args, '--output', 'json'],
      { timeout: timeoutMs, shell: process.platform === 'win32', maxBuffer: 4 * 1024 * 1024 },
      (error, stdout, stderr) => {
        if (error) {
          const missing = (error as NodeJS.ErrnoException).code === 'ENOENT';
          reject(
            new AzureError(
              `'az ${args.join(' ')}' failed: ${missing ? 'az is not installed' : stderr.trim() || error.message}`,
              {
                fix: 'Run azure/login before this step (or pass publish-profile for zipdeploy without ARM)',
              },
            ),
          );
          return;
        }
        resolve(stdout);
      },
    );
  });
}

/**
 * Reads the subscription and the cloud's endpoints from the Azure CLI. Both commands start at once (each `az`
 * start costs 0.5 to 3 s on a runner); an older az without `cloud show` means public Azure.
 */
export async function readAzContext(timeoutMs: number, logger: Logger): Promise<AzContext> {
  const [account, cloud] = await Promise.all([
    az(['account', 'show'], timeoutMs).then((out) => JSON.parse(out) as { id?: string; tenantId?: string }),
    az(['cloud', 'show'], timeoutMs)
      .then(
        (out) =>
          JSON.parse(out) as {
            endpoints?: { resourceManager?: string; activeDirectoryResourceId?: string };
            suffixes?: { storageEndpoint?: string };
          },
      )
      .catch((error: unknown) => {
        logger.debug(`az cloud show failed, using public Azure: ${(error as Error).message}`);
        return undefined;
      }),
  ]);
  return {
    subscriptionId: account.id,
    tenantId: account.tenantId,
    resourceManagerEndpoint: cloud?.endpoints?.resourceManager?.replace(/\/+$/, '') ?? PUBLIC_ARM_ENDPOINT,
    armAudience: cloud?.endpoints?.activeDirectoryResourceId ?? PUBLIC_ARM_AUDIENCE,
    storageSuffix: cloud?.suffixes?.storageEndpoint?.replace(/^\.+/, '') ?? PUBLIC_STORAGE_SUFFIX,
  };
}

/**
 * The scope for an audience, kept verbatim: `https://management.core.windows.net/` →
 * `https://management.core.windows.net//.default`; ARM expects the trailing slash in the token's `aud`.
 */
export function scopeFor(audience: string): string {
  return `${audience}/.default`;
}

/** Tokens are reused until this close to expiry. */
const REFRESH_MARGIN_MS = 5 * 60_000;

/**
 * The Azure CLI credential, picked explicitly (never a chain that probes the instance metadata address), with
 * one `az account get-access-token` per scope per run: AzureCliCredential does not cache, and every request of
 * the ARM, Kudu and Storage clients asks for a token. Each token is masked before anything can print it.
 */
export class CachedCliCredential implements TokenCredential {
  private readonly inner: TokenCredential;
  private readonly tokens = new Map<string, Promise<AccessToken | null>>();

  constructor(
    tenantId: string | undefined,
    private readonly logger: Logger,
    inner?: TokenCredential,
  ) {
    this.inner = inner ?? new AzureCliCredential(tenantId ? { tenantId } : {});
  }

  async getToken(scopes: string | string[], options?: GetTokenOptions): Promise<AccessToken | null> {
    const key = [scopes].flat().join(' ');
    const cached = this.tokens.get(key);
    if (cached) {
      const token = await cached.catch(() => null);
      if (token && token.expiresOnTimestamp - Date.now() > REFRESH_MARGIN_MS) return token;
    }
    // One fetch serves every request for the scope, so no single caller's abort signal may cancel it.
    const { abortSignal: _own, ...shared } = options ?? {};
    const fresh = this.inner.getToken(scopes, shared).then((token) => {
      if (token?.token) this.logger.mask(token.token);
      return token;
    });
    this.tokens.set(key, fresh);
    fresh.catch(() => this.tokens.delete(key));
    return fresh;
  }
}
