import { randomBytes, randomUUID } from 'node:crypto';

/** Sandbox subscription and tenant. Version-4-shaped GUIDs so any GUID validation in clients accepts them. */
export const DEFAULT_SUBSCRIPTION_ID = '00000000-0000-4000-8000-000000000001';
export const DEFAULT_TENANT_ID = '00000000-0000-4000-8000-0000000000aa';

/** The Entra ID application id of the Azure CLI: what real `az` tokens carry as `appid`. */
export const AZURE_CLI_APP_ID = '04b07795-8ddb-461a-bbee-02f9e1bf7b46';

const ARM_AUDIENCES = new Set([
  'https://management.azure.com',
  'https://management.azure.com/',
  'https://management.core.windows.net',
  'https://management.core.windows.net/',
]);

/** Clock skew tolerated on `nbf`, as Entra ID resource servers do. */
const NBF_SKEW_SECONDS = 300;

export interface MintTokenOptions {
  /** The resource (`aud`): e.g. https://management.azure.com/ or https://storage.azure.com. A `/.default` scope is reduced to its resource. */
  audience: string;
  tenantId: string;
  /** Object id of the principal (`oid`, `sub`); a fixed sandbox principal when omitted. */
  subject?: string;
  appId?: string;
  ttlSeconds?: number;
  /** Seconds since the epoch; defaults to now. Lets tests mint tokens that are already expired. */
  now?: number;
}

export interface TokenClaims {
  aud: string;
  iss: string;
  tid: string;
  oid: string;
  sub: string;
  appid: string;
  iat: number;
  nbf: number;
  exp: number;
  ver: string;
  [claim: string]: unknown;
}

export const SANDBOX_PRINCIPAL_ID = '00000000-0000-4000-8000-0000000000bb';

function b64url(value: string | Buffer): string {
  return Buffer.from(value).toString('base64url');
}

/** Reduces a scope to the resource a v1 token is issued for, as `az account get-access-token --scope` does. */
export function scopeToResource(scopeOrResource: string): string {
  return scopeOrResource.replace(/\/\.default$/, '');
}

/**
 * A well-formed v1 Entra ID access token with a random (unverifiable) signature. Azurite's `--oauth basic`
 * decodes without verifying and checks only iat/nbf/exp, an `https://sts.windows.net/` issuer and a storage
 * audience, so these tokens authenticate there when the audience is a storage one.
 */
export function mintToken(options: MintTokenOptions): string {
  const now = options.now ?? Math.floor(Date.now() / 1000);
  const ttl = options.ttlSeconds ?? 3600;
  const oid = options.subject ?? SANDBOX_PRINCIPAL_ID;
  const header = { typ: 'JWT', alg: 'RS256', kid: 'sandbox' };
  const claims: TokenClaims = {
    aud: scopeToResource(options.audience),
    iss: `https://sts.windows.net/${options.tenantId}/`,
    iat: now,
    nbf: now,
    exp: now + ttl,
    appid: options.appId ?? AZURE_CLI_APP_ID,
    appidacr: '0',
    idtyp: 'app',
    oid,
    sub: oid,
    tid: options.tenantId,
    uti: randomUUID().replaceAll('-', ''),
    ver: '1.0',
  };
  return `${b64url(JSON.stringify(header))}.${b64url(JSON.stringify(claims))}.${b64url(randomBytes(64))}`;
}

/** The claims of a JWT-shaped token, or undefined when it is not one. Does not check any signature. */
export function decodeToken(token: string): TokenClaims | undefined {
  const parts = token.split('.');
  if (parts.length !== 3 || !parts[0] || !parts[1]) return undefined;
  try {
    const header: unknown = JSON.parse(Buffer.from(parts[0], 'base64url').toString('utf8'));
    const payload: unknown = JSON.parse(Buffer.from(parts[1], 'base64url').toString('utf8'));
    if (!isRecord(header) || typeof header.alg !== 'string' || !isRecord(payload)) return undefined;
    const { aud, iss, tid, iat, nbf, exp } = payload;
    if (typeof aud !== 'string' || typeof iss !== 'string' || typeof tid !== 'string') return undefined;
    if (typeof iat !== 'number' || typeof nbf !== 'number' || typeof exp !== 'number') return undefined;
    return payload as TokenClaims;
  } catch {
    return undefined;
  }
}

/** What the fake ARM endpoint accepts: an unexpired ARM-audience token issued by the sandbox tenant. */
export function verifyArmToken(
  token: string,
  tenantId: string,
  nowSeconds = Math.floor(Date.now() / 1000),
): boolean {
  const claims = decodeToken(token);
  if (!claims) return false;
  if (!ARM_AUDIENCES.has(claims.aud)) return false;
  if (claims.tid.toLowerCase() !== tenantId.toLowerCase()) return false;
  if (claims.iss.toLowerCase() !== `https://sts.windows.net/${tenantId.toLowerCase()}/`) return false;
  if (claims.nbf > nowSeconds + NBF_SKEW_SECONDS) return false;
  return claims.exp > nowSeconds;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
