import { randomUUID } from 'node:crypto';
import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import { Agent, request as httpsRequest } from 'node:https';
import { listen, readJson, send, sendJson, Timers } from './appservice/http.js';
import { applyFaultKinds, drainRequest, FaultError, FaultSwitch } from './fault-kinds.js';

/**
 * The storage account's front door: an HTTPS reverse proxy in front of Azurite that every blob URL the sandbox
 * hands out points at, so the action and the fake platform meet what a real account puts in front of its data
 * (a firewall, a "no shared keys" policy, throttling, hangs) while Azurite keeps doing the Blob work.
 *
 * The proxy keeps the method, path, query and every end-to-end header (Host included) byte for byte:
 * - SharedKey: Azurite signs `/{account}{path}` plus the x-ms-* headers; Host is not in the string to sign
 *   [DOC Learn "Authorize with Shared Key"; SRC azurite BlobSharedKeyAuthenticator.getCanonicalizedResourceString].
 * - Azurite takes the account from the first path segment when the Host is an IP or localhost, and from the
 *   Host name otherwise (production-style URLs) [SRC azurite blobStorageContext.middleware
 *   extractStoragePartsFromPath], so forwarding Host unchanged keeps both styles working.
 * - A SAS signs the canonical resource `/blob/{account}/{container}/{blob}`, not the host, so a SAS minted for
 *   Azurite's origin is valid here and the other way round [DOC Learn "Create a service SAS"].
 * - Azurite's copy-source check compares the copy source's host with the request's Host header [SRC azurite
 *   BlobHandler.validateCopySource]: preserving Host keeps same-account copies working.
 * - Bearer tokens need HTTPS at Azurite [SRC azurite BlobTokenAuthenticator]: the upstream leg is HTTPS too.
 */

/**
 * How the fake platform identifies itself. The real platform reaches a locked-down account as a trusted
 * service or from the app's integrated VNet [DOC Learn "Configure Azure Storage firewalls and virtual
 * networks"; DOC Learn "Storage considerations for Azure Functions"]; on loopback every caller has the same
 * address, so the sandbox's platform marks its requests with this User-Agent prefix instead [INF].
 */
export const PLATFORM_USER_AGENT = 'sandbox-platform/1.0';

export const STORAGE_CLIENTS = ['action', 'platform'] as const;
export type StorageClient = (typeof STORAGE_CLIENTS)[number];

/** Route names a storage fault can target (globs allowed: `blob.*`, `blob.container.*`). */
export const STORAGE_ROUTES = [
  'blob.service.list',
  'blob.userDelegationKey',
  'blob.findByTags',
  'blob.container.create',
  'blob.container.get',
  'blob.container.delete',
  'blob.container.list',
  'blob.put',
  'blob.get',
  'blob.head',
  'blob.delete',
  'blob.metadata',
  'blob.properties',
  'blob.tags',
  'blob.copy',
  'blob.other',
] as const;
export type StorageRoute = (typeof STORAGE_ROUTES)[number];

export interface AccountSettings {
  /** The account's firewall denies the public network: the action (a GitHub runner's IP) is refused. */
  firewall: boolean;
  /** With the firewall on, the platform is refused too (no VNet integration, no trusted-service exception). */
  blockPlatform: boolean;
  /** `allowSharedKeyAccess` of the account: false refuses SharedKey and key-signed SAS. */
  allowSharedKeyAccess: boolean;
}

export interface RequestCounters {
  total: number;
  byClient: Record<StorageClient, number>;
  /** Only routes seen so far appear. */
  byRoute: Partial<Record<StorageRoute, Record<StorageClient, number>>>;
}

export interface StorageFrontOptions {
  tls: { key: string; cert: string; ca?: string };
  /** Azurite's connection string (AccountName, AccountKey, BlobEndpoint): where requests go. */
  upstream: string;
  /** Serve the control routes under /_sandbox (default true). */
  control?: boolean;
  /**
   * A fault switch owned by someone else (the artifact service), with the name a storage route has there;
   * undefined means no fault applies to that route. Default: the front door's own switch over STORAGE_ROUTES.
   */
  faults?: { switch: FaultSwitch; routeName: (route: StorageRoute) => string | undefined };
}

export interface StorageFrontHandle {
  /** https://127.0.0.1:PORT (the front door's origin). */
  origin: string;
  /** https://127.0.0.1:PORT/{account}: the same path as Azurite's, on the front door's origin. */
  blobEndpoint: string;
  /** Azurite's connection string with BlobEndpoint pointing here. */
  connectionString: string;
  /** https://127.0.0.1:PORT/_sandbox */
  controlUrl: string;
  /** The same counters GET /_sandbox/requests returns, for in-process callers (the benchmark). */
  counters(): RequestCounters;
  /** What DELETE /_sandbox/requests does, for an owner that serves its own control routes (the artifact service). */
  resetCounters(): void;
  /** Replaces an Azurite URL's origin with the front door's. */
  rewrite(url: string): string;
  close(): Promise<void>;
}

function parseConnectionString(text: string): Map<string, string> {
  const parts = new Map<string, string>();
  for (const part of text.split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0) parts.set(part.slice(0, eq).toLowerCase(), part.slice(eq + 1));
  }
  return parts;
}

function queryValue(query: URLSearchParams, name: string): string | undefined {
  for (const [key, value] of query) if (key.toLowerCase() === name) return value;
  return undefined;
}

/** Which Blob REST operation a request is [DOC Learn "Blob service REST API" operation list]. */
function storageRouteOf(method: string, url: string, headers: IncomingHttpHeaders): StorageRoute {
  const parsed = new URL(url, 'https://front.invalid');
  const parts = parsed.pathname.split('/').filter((p) => p !== '');
  const comp = queryValue(parsed.searchParams, 'comp')?.toLowerCase();
  const restype = queryValue(parsed.searchParams, 'restype')?.toLowerCase();
  if (parts.length <= 1) {
    if (method === 'GET' && comp === 'list') return 'blob.service.list';
    if (method === 'POST' && comp === 'userdelegationkey') return 'blob.userDelegationKey';
    if (method === 'GET' && comp === 'blobs') return 'blob.findByTags';
    return 'blob.other';
  }
  if (parts.length === 2 && restype === 'container') {
    if (comp === undefined && method === 'PUT') return 'blob.container.create';
    if (comp === undefined && method === 'DELETE') return 'blob.container.delete';
    if (comp === undefined && (method === 'GET' || method === 'HEAD')) return 'blob.container.get';
    if (comp === 'list' && method === 'GET') return 'blob.container.list';
    if (comp === 'blobs' && method === 'GET') return 'blob.findByTags';
    return 'blob.other';
  }
  // Copy Blob, Put Blob From URL and Put Block From URL carry the source in x-ms-copy-source.
  const copySource = headers['x-ms-copy-source'] !== undefined;
  if (method === 'PUT') {
    if (comp === 'copy') return 'blob.copy';
    if (comp === undefined || comp === 'block' || comp === 'appendblock' || comp === 'page')
      return copySource ? 'blob.copy' : 'blob.put';
    if (comp === 'blocklist') return 'blob.put';
    if (comp === 'metadata') return 'blob.metadata';
    if (comp === 'properties') return 'blob.properties';
    if (comp === 'tags') return 'blob.tags';
    return 'blob.other';
  }
  if (method === 'GET' || method === 'HEAD') {
    if (comp === undefined) return method === 'GET' ? 'blob.get' : 'blob.head';
    if (comp === 'metadata') return 'blob.metadata';
    if (comp === 'tags' && method === 'GET') return 'blob.tags';
    return 'blob.other';
  }
  if (method === 'DELETE' && comp === undefined) return 'blob.delete';
  return 'blob.other';
}

function storageClientOf(headers: IncomingHttpHeaders): StorageClient {
  const agent = headers['user-agent'] ?? '';
  return agent.toLowerCase().startsWith(PLATFORM_USER_AGENT) ? 'platform' : 'action';
}

/** A request authorised with the account key: SharedKey or a SAS signed with the key (no `skoid`). */
function usesAccountKey(req: IncomingMessage): boolean {
  if (/^SharedKey(Lite)?\s/i.test(req.headers.authorization ?? '')) return true;
  const query = new URL(req.url ?? '/', 'https://front.invalid').searchParams;
  // A user delegation SAS carries the signing key's object id; service and account SAS do not [DOC Learn
  // "Create a user delegation SAS": skoid, sktid, skt, ske, sks, skv].
  return queryValue(query, 'sig') !== undefined && queryValue(query, 'skoid') === undefined;
}

/** Time in the form storage puts in its error messages: seven fractional digits, UTC. */
function storageTime(date: Date): string {
  return date.toISOString().replace(/Z$/, '0000Z');
}

function xmlEscape(text: string): string {
  return text.replace(/[<>&'"]/g, (c) => `&#${c.charCodeAt(0)};`);
}

/**
 * An error as Blob storage sends it: `x-ms-error-code` plus the XML body whose Message ends with the request id
 * and time [DOC Learn "Status and error codes" (Azure Storage): `<Error><Code/><Message/></Error>` and
 * `x-ms-error-code` since 2017-07-29; OBS "This request is not authorized to perform this operation.
 * RequestId:… Time:…" in microsoft/vscode-azurestorage#391].
 */
function sendStorageError(
  req: IncomingMessage,
  res: ServerResponse,
  status: number,
  code: string,
  message: string,
  headers: Record<string, string> = {},
): void {
  const requestId = randomUUID();
  const body = Buffer.from(
    `<?xml version="1.0" encoding="utf-8"?><Error><Code>${xmlEscape(code)}</Code><Message>${xmlEscape(message)}\nRequestId:${requestId}\nTime:${storageTime(new Date())}</Message></Error>`,
    'utf8',
  );
  const clientRequestId = req.headers['x-ms-client-request-id'];
  const version = req.headers['x-ms-version'];
  res.writeHead(status, {
    'Content-Type': 'application/xml',
    'Content-Length': body.length,
    Server: 'Windows-Azure-Blob/1.0 Microsoft-HTTPAPI/2.0',
    'x-ms-request-id': requestId,
    'x-ms-error-code': code,
    ...(typeof version === 'string' ? { 'x-ms-version': version } : {}),
    ...(typeof clientRequestId === 'string' ? { 'x-ms-client-request-id': clientRequestId } : {}),
    ...headers,
  });
  res.end(req.method === 'HEAD' ? undefined : body);
}

const AUTHORIZATION_FAILURE = 'This request is not authorized to perform this operation.';

/**
 * Codes and messages of the statuses a storage fault usually asks for [DOC Learn "Common REST API error
 * codes" (Azure Storage)]. Others get a sandbox code; a test that cares passes errorCode and message.
 */
const STORAGE_REASONS: Record<number, [string, string]> = {
  400: ['InvalidInput', 'One of the request inputs is not valid.'],
  403: ['AuthorizationFailure', AUTHORIZATION_FAILURE],
  404: ['ResourceNotFound', 'The specified resource does not exist.'],
  409: ['ResourceAlreadyExists', 'The specified resource already exists.'],
  500: ['InternalError', 'The server encountered an internal error. Please retry the request.'],
  503: ['ServerBusy', 'The server is currently unable to receive requests. Please retry your request.'],
};

function storageReason(status: number): { code: string; message: string } {
  const [code, message] = STORAGE_REASONS[status] ?? [
    `SandboxFault${status}`,
    `The sandbox answered ${status}.`,
  ];
  return { code, message };
}

const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'transfer-encoding',
  'te',
  'trailer',
  'upgrade',
  'expect',
]);

/** Raw headers without the hop-by-hop ones: case, order and repeats kept, as Azurite's signature check sees them. */
function endToEnd(raw: string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = raw[i] as string;
    if (!HOP_BY_HOP.has(name.toLowerCase())) out.push(name, raw[i + 1] as string);
  }
  return out;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export async function startStorageFront(options: StorageFrontOptions): Promise<StorageFrontHandle> {
  const upstreamParts = parseConnectionString(options.upstream);
  const upstreamEndpoint = upstreamParts.get('blobendpoint');
  if (!upstreamEndpoint) throw new Error('the upstream connection string has no BlobEndpoint');
  const upstream = new URL(upstreamEndpoint);
  const timers = new Timers();
  const agent = new Agent({ keepAlive: true, ...(options.tls.ca ? { ca: options.tls.ca } : {}) });
  const faults = options.faults?.switch ?? new FaultSwitch(STORAGE_ROUTES, STORAGE_CLIENTS);
  const faultRoute = options.faults?.routeName ?? ((route: StorageRoute) => route);
  const settings: AccountSettings = { firewall: false, blockPlatform: false, allowSharedKeyAccess: true };
  const emptyCounters = (): RequestCounters => ({
    total: 0,
    byClient: { action: 0, platform: 0 },
    byRoute: {},
  });
  let counters = emptyCounters();
  let origin = '';

  function count(route: StorageRoute, client: StorageClient): void {
    counters.total += 1;
    counters.byClient[client] += 1;
    const perRoute = counters.byRoute[route] ?? { action: 0, platform: 0 };
    perRoute[client] += 1;
    counters.byRoute[route] = perRoute;
  }

  /** The account-level refusal this request meets, if any. */
  function refusal(req: IncomingMessage, client: StorageClient): [string, string] | undefined {
    // Behind a firewall the public network gets 403 AuthorizationFailure whatever the credential
    // [DOC Learn "Troubleshoot 403 errors in Azure Blob Storage" (network rules); ISSUE
    // microsoft/AzureStorageExplorer#8344, Azure/azure-functions-host#9496]. The platform is refused too
    // when it has no way in: Flex's platform-side upload then fails with BlobUploadFailedException and the
    // package fetch fails [ISSUE Azure/functions-action#390, microsoft/vscode-azurefunctions#4494].
    if (settings.firewall && (client === 'action' || settings.blockPlatform))
      return ['AuthorizationFailure', AUTHORIZATION_FAILURE];
    // allowSharedKeyAccess=false refuses SharedKey and every SAS signed with the account key; Entra ID tokens
    // and user delegation SAS still work [DOC Learn "Prevent Shared Key authorization for an Azure Storage
    // account"; DOC Learn "Troubleshoot 403 errors in Azure Blob Storage": KeyBasedAuthenticationNotPermitted,
    // "Key based authentication is not permitted on this storage account."]. Checked after the firewall,
    // as network rules are evaluated first [INF].
    if (!settings.allowSharedKeyAccess && usesAccountKey(req))
      return [
        'KeyBasedAuthenticationNotPermitted',
        'Key based authentication is not permitted on this storage account.',
      ];
    return undefined;
  }

  function forward(req: IncomingMessage, res: ServerResponse): void {
    res.on('error', () => undefined);
    const upReq = httpsRequest({
      host: upstream.hostname,
      port: upstream.port,
      method: req.method,
      path: req.url,
      headers: endToEnd(req.rawHeaders),
      agent,
    });
    upReq.on('response', (upRes) => {
      if (res.destroyed) {
        upRes.resume();
        return;
      }
      res.writeHead(upRes.statusCode ?? 502, upRes.statusMessage, endToEnd(upRes.rawHeaders));
      upRes.pipe(res);
      upRes.on('error', () => res.destroy());
    });
    upReq.on('error', (error) => {
      if (res.destroyed || res.headersSent) {
        res.destroy();
        return;
      }
      sendStorageError(
        req,
        res,
        500,
        'InternalError',
        `The sandbox could not reach Azurite: ${error.message}`,
      );
    });
    res.on('close', () => {
      // A client that gives up mid-upload leaves a partial request: abort it. Once the request is complete,
      // Azurite finishes the operation whether or not anyone reads the answer, as the real service does.
      if (!res.writableFinished && !req.complete) upReq.destroy();
    });
    req.pipe(upReq);
  }

  async function controlRoute(req: IncomingMessage, res: ServerResponse, path: string[]): Promise<void> {
    const method = req.method ?? 'GET';
    if (path.length === 0 && method === 'GET') {
      return sendJson(res, 200, {
        blobEndpoint: `${origin}${upstream.pathname}`,
        upstream: upstream.origin,
        account: settings,
        clients: STORAGE_CLIENTS,
        faultRoutes: STORAGE_ROUTES,
        faults: faults.list(),
        requests: counters,
      });
    }
    if (path.length === 1 && path[0] === 'account' && method === 'POST') {
      const body = await readJson(req);
      if (!isObject(body)) return sendJson(res, 400, { error: 'body must be a JSON object' });
      for (const key of Object.keys(body)) {
        if (!(key in settings)) return sendJson(res, 400, { error: `unknown account setting '${key}'` });
        if (typeof body[key] !== 'boolean') return sendJson(res, 400, { error: `${key} must be a boolean` });
      }
      Object.assign(settings, body);
      return sendJson(res, 200, settings);
    }
    if (path[0] === 'faults') {
      if (path.length === 1 && method === 'GET') return sendJson(res, 200, faults.list());
      if (path.length === 1 && method === 'POST') {
        try {
          return sendJson(res, 200, { id: faults.add(await readJson(req)).id });
        } catch (error) {
          if (error instanceof FaultError) return sendJson(res, 400, { error: error.message });
          throw error;
        }
      }
      if (path.length === 1 && method === 'DELETE') {
        faults.clear();
        return send(res, 204, undefined);
      }
      if (path.length === 2 && method === 'DELETE') {
        return faults.remove(path[1] as string)
          ? send(res, 204, undefined)
          : sendJson(res, 404, { error: 'no such fault' });
      }
    }
    if (path.length === 1 && path[0] === 'requests') {
      if (method === 'GET') return sendJson(res, 200, counters);
      if (method === 'DELETE') {
        counters = emptyCounters();
        return send(res, 204, undefined);
      }
    }
    sendJson(res, 404, { error: `no storage control route for ${method} ${req.url}` });
  }

  const server = await listen(options.tls, async (req, res) => {
    const segments = new URL(req.url ?? '/', 'https://front.invalid').pathname.split('/').filter(Boolean);
    if (options.control !== false && segments[0] === '_sandbox') {
      return controlRoute(req, res, segments.slice(1));
    }
    const route = storageRouteOf(req.method ?? 'GET', req.url ?? '/', req.headers);
    const client = storageClientOf(req.headers);
    count(route, client);
    const refused = refusal(req, client);
    if (refused) {
      await drainRequest(req);
      return sendStorageError(req, res, 403, refused[0], refused[1]);
    }
    const name = faultRoute(route);
    const fault = name === undefined ? undefined : faults.take(name, client);
    if (fault) {
      const outcome = await applyFaultKinds(
        fault,
        req,
        res,
        (ms) => timers.sleep(ms),
        (status, headers) => {
          const reason = storageReason(status);
          sendStorageError(
            req,
            res,
            status,
            fault.errorCode ?? reason.code,
            fault.message ?? reason.message,
            headers,
          );
        },
      );
      if (outcome === 'answered') return;
    }
    forward(req, res);
  });
  origin = `https://127.0.0.1:${server.port}`;
  const connectionString = options.upstream.replace(
    /BlobEndpoint=[^;]*/i,
    `BlobEndpoint=${origin}${upstream.pathname}`,
  );
  return {
    origin,
    blobEndpoint: `${origin}${upstream.pathname}`,
    connectionString,
    controlUrl: `${origin}/_sandbox`,
    counters: () => structuredClone(counters),
    resetCounters: () => {
      counters = emptyCounters();
    },
    rewrite(url: string): string {
      const parsed = new URL(url);
      if (parsed.origin !== upstream.origin) return url;
      return `${origin}${parsed.pathname}${parsed.search}`;
    },
    async close(): Promise<void> {
      timers.close();
      await server.close();
      agent.destroy();
    },
  };
}
