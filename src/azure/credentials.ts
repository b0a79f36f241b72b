import { execFile } from 'node:child_process';
import * as core from '@actions/core';
import type { AccessToken, GetTokenOptions, TokenCredential } from '@azure/core-auth';
import { AzureCliCredential } from '@azure/identity';
import { AzureError } from '../errors.js';

export const PUBLIC_ARM_ENDPOINT = 'https://management.azure.com';
export const PUBLIC_ARM_AUDIENCE = 'https://management.core.windows.net/';

/** What `az` (after azure/login) says about the account and the cloud. */
export interface AzContext {
  subscriptionId: string | undefined;
  tenantId: string | undefined;
  resourceManagerEndpoint: string;
  /** Token audience of ARM in that cloud (`activeDirectoryResourceId`). */
  armAudience: string;
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

/** Reads the subscription and the cloud's endpoints from the Azure CLI; tolerant of an older az without `cloud show`. */
export async function readAzContext(timeoutMs: number): Promise<AzContext> {
  const account = JSON.parse(await az(['account', 'show'], timeoutMs)) as { id?: string; tenantId?: string };
  let resourceManagerEndpoint = PUBLIC_ARM_ENDPOINT;
  let armAudience = PUBLIC_ARM_AUDIENCE;
  try {
    const cloud = JSON.parse(await az(['cloud', 'show'], timeoutMs)) as {
      endpoints?: { resourceManager?: string; activeDirectoryResourceId?: string };
    };
    if (cloud.endpoints?.resourceManager)
      resourceManagerEndpoint = cloud.endpoints.resourceManager.replace(/\/+$/, '');
    if (cloud.endpoints?.activeDirectoryResourceId) armAudience = cloud.endpoints.activeDirectoryResourceId;
  } catch (error) {
    core.debug(`az cloud show failed, using public Azure: ${(error as Error).message}`);
  }
  return { subscriptionId: account.id, tenantId: account.tenantId, resourceManagerEndpoint, armAudience };
}

/** The scope for an audience: `https://management.core.windows.net/` → `https://management.core.windows.net//.default`. */
export function scopeFor(audience: string): string {
  return `${audience.replace(/\/+$/, '')}/.default`;
}

/**
 * The Azure CLI credential, picked explicitly (never a chain that probes the instance metadata address),
 * with every token masked in the log before anything can print it.
 */
export class MaskedCliCredential implements TokenCredential {
  private readonly inner: TokenCredential;
  constructor(tenantId?: string) {
    this.inner = new AzureCliCredential(tenantId ? { tenantId } : {});
  }
  async getToken(scopes: string | string[], options?: GetTokenOptions): Promise<AccessToken | null> {
    const token = await this.inner.getToken(scopes, options);
    if (token?.token) core.setSecret(token.token);
    return token;
  }
}
