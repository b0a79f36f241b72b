import { randomBytes, randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import {
  BlobSASPermissions,
  BlobServiceClient,
  type ContainerClient,
  SASProtocol,
} from '@azure/storage-blob';
import { Timers } from '../appservice/http.js';
import { applyFaultKinds, FaultError, FaultSwitch } from '../fault-kinds.js';
import { type StorageRoute, startStorageFront } from '../storage-front.js';

/**
 * Fake GitHub Actions Results service (the Twirp ArtifactService used by @actions/artifact v2+), storing
 * artifact bytes in Azurite so the real client uploads and downloads through real blob SAS URLs.
 * Wire contract: /work/shared/azure-contract.md §E.
 *
 * The signed URLs point at the service's own blob front door (storage-front.ts) in front of Azurite, as GitHub's
 * point at its own storage accounts, so the upload and download the client makes can be faulted too.
 */

export interface ArtifactServiceOptions {
  /** `ca` is what the blob front door trusts for Azurite; the process default when omitted. */
  tls: { key: string; cert: string; ca?: string };
  azurite: { connectionString: string };
  /** Backend ids of the simulated workflow run and job; random UUIDs when omitted. */
  runBackendId?: string;
  jobBackendId?: string;
  /** Blob container for artifact bytes (created if missing). */
  container?: string;
}

export interface StoredArtifactView {
  id: number;
  name: string;
  runBackendId: string;
  jobBackendId: string;
  finalized: boolean;
  /** Size the client reported at finalize (undefined before). */
  size: number | undefined;
  /** `sha256:<hex>` the client reported at finalize, if any. */
  digest: string | undefined;
  container: string;
  blobName: string;
  mimeType: string;
  version: number | undefined;
  createdAt: string;
  expiresAt: string | undefined;
}

export interface ArtifactServiceHandle {
  /** https://127.0.0.1:PORT, the value for ACTIONS_RESULTS_URL. */
  resultsUrl: string;
  /** ACTIONS_RUNTIME_TOKEN: an unsigned JWT whose `scp` holds Actions.Results:<run>:<job>. */
  runtimeToken: string;
  runBackendId: string;
  jobBackendId: string;
  container: string;
  /** The same list GET /_sandbox/artifacts returns. */
  stored(): StoredArtifactView[];
  close(): Promise<void>;
}

export const ARTIFACT_SERVICE = 'github.actions.results.api.v1.ArtifactService';
const METHODS = [
  'CreateArtifact',
  'FinalizeArtifact',
  'ListArtifacts',
  'GetSignedArtifactURL',
  'DeleteArtifact',
] as const;
type Method = (typeof METHODS)[number];

/**
 * Fault routes: each Twirp method, and the blob upload (Put Block / Put Block List / Put Blob) and download
 * (Get Blob) the client makes to the signed URLs.
 */
export const ARTIFACT_ROUTES = [
  ...METHODS.map((m) => `artifacts.twirp.${m}`),
  'artifacts.blob.upload',
  'artifacts.blob.download',
] as const;

/** A route of ARTIFACT_ROUTES, or the `other` of its kind: a Twirp path or blob operation outside them. */
export type ArtifactCountedRoute =
  | (typeof ARTIFACT_ROUTES)[number]
  | 'artifacts.twirp.other'
  | 'artifacts.blob.other';

/** GET /_sandbox/requests: what clients asked of the service and of its blob front door. */
export interface ArtifactRequestCounters {
  total: number;
  /** Only routes seen so far appear. */
  byRoute: Partial<Record<ArtifactCountedRoute, number>>;
  /** Requests the service makes to its storage on its own (FinalizeArtifact's existence check, DeleteArtifact's delete). */
  service: { blobRequests: number };
}

function artifactBlobRoute(route: StorageRoute): string | undefined {
  if (route === 'blob.put') return 'artifacts.blob.upload';
  if (route === 'blob.get') return 'artifacts.blob.download';
  return undefined;
}

const DEFAULT_CONTAINER = 'actions-artifacts';
const MAX_BODY_BYTES = 1024 * 1024;
const UPLOAD_SAS_TTL_MS = 6 * 3600_000;
const DOWNLOAD_SAS_TTL_MS = 3600_000;
/** First artifact id; real ids are large integers, starting high keeps them distinct from sizes and counts in assertions. */
const FIRST_ARTIFACT_ID = 1000;

/** A runtime token the way the runner hands it to steps: a JWT whose signature nobody checks client-side. */
export function mintRuntimeToken(runBackendId: string, jobBackendId: string, ttlSeconds = 6 * 3600): string {
  const now = Math.floor(Date.now() / 1000);
  const header = { typ: 'JWT', alg: 'RS256', x5t: 'sandbox' };
  const payload = {
    nameid: 'dddddddd-dddd-dddd-dddd-dddddddddddd',
    scp: `Actions.GenericRead:00000000-0000-0000-0000-000000000000 Actions.UploadArtifacts:${runBackendId}:${jobBackendId} Actions.Results:${runBackendId}:${jobBackendId}`,
    iss: 'vstoken.actions.githubusercontent.com',
    aud: 'vstoken.actions.githubusercontent.com',
    ac: '[]',
    nbf: now,
    exp: now + ttlSeconds,
  };
  const enc = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');
  return `${enc(header)}.${enc(payload)}.${randomBytes(64).toString('base64url')}`;
}

class TwirpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

/** Twirp error code for an HTTP status (Twirp spec's mapping, reversed; non-Twirp statuses get the nearest code). */
export function twirpCodeForStatus(status: number): string {
  const codes: Record<number, string> = {
    400: 'invalid_argument',
    401: 'unauthenticated',
    403: 'permission_denied',
    404: 'not_found',
    408: 'deadline_exceeded',
    409: 'already_exists',
    412: 'failed_precondition',
    429: 'resource_exhausted',
    500: 'internal',
    501: 'unimplemented',
    502: 'unavailable',
    503: 'unavailable',
    504: 'unavailable',
  };
  return codes[status] ?? (status >= 500 ? 'internal' : 'unknown');
}

interface ArtifactRecord {
  id: number;
  name: string;
  runBackendId: string;
  jobBackendId: string;
  blobName: string;
  mimeType: string;
  version: number | undefined;
  createdAt: Date;
  expiresAt: Date | undefined;
  finalized: boolean;
  size: number | undefined;
  digest: string | undefined;
}

type Body = Record<string, unknown>;

/** Proto3 JSON parsers accept the proto field name and its lowerCamelCase form. */
function field(body: Body, snake: string): unknown {
  if (snake in body) return body[snake];
  const camel = snake.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase());
  return body[camel];
}

function stringField(body: Body, snake: string, required: boolean): string | undefined {
  const value = field(body, snake);
  if (value === undefined || value === null || value === '') {
    if (required) throw new TwirpError(400, 'invalid_argument', `${snake} is required`);
    return undefined;
  }
  if (typeof value !== 'string') throw new TwirpError(400, 'invalid_argument', `${snake} must be a string`);
  return value;
}

/** int64 in proto3 JSON: a decimal string or a number. */
function int64Field(body: Body, snake: string): number | undefined {
  const value = field(body, snake);
  if (value === undefined || value === null) return undefined;
  const n = typeof value === 'string' && /^-?\d+$/.test(value) ? Number(value) : value;
  if (typeof n !== 'number' || !Number.isSafeInteger(n))
    throw new TwirpError(400, 'invalid_argument', `${snake} must be an int64`);
  return n;
}

const RFC3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$/;

/** Characters GitHub rejects in artifact names (same list as the client's validateArtifactName). */
const INVALID_NAME_CHARS = /[":<>|*?\r\n\\/]/;

function isZipMime(mime: string): boolean {
  return ['application/zip', 'application/x-zip-compressed', 'application/zip-compressed'].includes(mime);
}

function contentDisposition(fileName: string): string {
  const ascii = fileName.replace(/[^\x20-\x7e]|["\\]/g, '_');
  return `attachment; filename="${ascii}"; filename*=UTF-8''${encodeURIComponent(fileName)}`;
}

export async function startArtifactService(o: ArtifactServiceOptions): Promise<ArtifactServiceHandle> {
  const runBackendId = o.runBackendId ?? randomUUID();
  const jobBackendId = o.jobBackendId ?? randomUUID();
  const containerName = o.container ?? DEFAULT_CONTAINER;
  const runtimeToken = mintRuntimeToken(runBackendId, jobBackendId);
  const container: ContainerClient = BlobServiceClient.fromConnectionString(
    o.azurite.connectionString,
  ).getContainerClient(containerName);
  await container.createIfNotExists();

  const faults = new FaultSwitch(ARTIFACT_ROUTES);
  const timers = new Timers();
  const blobFront = await startStorageFront({
    tls: o.tls,
    upstream: o.azurite.connectionString,
    control: false,
    faults: { switch: faults, routeName: artifactBlobRoute },
  });
  const artifacts: ArtifactRecord[] = [];
  let nextId = FIRST_ARTIFACT_ID;
  let twirpCounts: Partial<Record<ArtifactCountedRoute, number>> = {};
  let serviceBlobRequests = 0;

  function requestCounters(): ArtifactRequestCounters {
    const byRoute = { ...twirpCounts };
    for (const [route, perClient] of Object.entries(blobFront.counters().byRoute)) {
      const name = (artifactBlobRoute(route as StorageRoute) ??
        'artifacts.blob.other') as ArtifactCountedRoute;
      byRoute[name] = (byRoute[name] ?? 0) + perClient.action + perClient.platform;
    }
    const total = Object.values(byRoute).reduce((sum: number, n) => sum + (n ?? 0), 0);
    return { total, byRoute, service: { blobRequests: serviceBlobRequests } };
  }

  const view = (a: ArtifactRecord): StoredArtifactView => ({
    id: a.id,
    name: a.name,
    runBackendId: a.runBackendId,
    jobBackendId: a.jobBackendId,
    finalized: a.finalized,
    size: a.size,
    digest: a.digest,
    container: containerName,
    blobName: a.blobName,
    mimeType: a.mimeType,
    version: a.version,
    createdAt: a.createdAt.toISOString(),
    expiresAt: a.expiresAt?.toISOString(),
  });

  const isLive = (a: ArtifactRecord) =>
    a.finalized && (a.expiresAt === undefined || a.expiresAt.getTime() > Date.now());
  const finalizedByName = (run: string, name: string) =>
    artifacts
      .filter((a) => a.runBackendId === run && a.name === name && isLive(a))
      .sort((x, y) => y.id - x.id);

  const handlers: Record<Method, (body: Body) => Promise<Body>> = {
    async CreateArtifact(body) {
      const run = stringField(body, 'workflow_run_backend_id', true) as string;
      const job = stringField(body, 'workflow_job_run_backend_id', true) as string;
      const name = stringField(body, 'name', true) as string;
      if (INVALID_NAME_CHARS.test(name))
        throw new TwirpError(
          400,
          'invalid_argument',
          `artifact name '${name}' contains an invalid character`,
        );
      const version = int64Field(body, 'version');
      const mimeRaw = field(body, 'mime_type');
      // v6 sends a StringValue wrapper, which proto3 JSON writes as the bare string; older clients send none and upload a zip.
      const mimeType = typeof mimeRaw === 'string' && mimeRaw !== '' ? mimeRaw : 'application/zip';
      const expiresRaw = stringField(body, 'expires_at', false);
      if (expiresRaw !== undefined && !RFC3339.test(expiresRaw))
        throw new TwirpError(400, 'invalid_argument', 'expires_at must be an RFC 3339 timestamp');
      // GitHub enforces unique names per workflow run for v4+ artifacts, at creation.
      if (finalizedByName(run, name).length > 0) {
        throw new TwirpError(
          409,
          'already_exists',
          'an artifact with this name already exists on the workflow run',
        );
      }
      // A create that was never finalized (a failed upload) is superseded by a new one with the same name.
      for (let i = artifacts.length - 1; i >= 0; i--) {
        const a = artifacts[i];
        if (a && !a.finalized && a.runBackendId === run && a.name === name) artifacts.splice(i, 1);
      }
      const id = nextId++;
      // The download side unzips anything whose URL path ends in .zip, so only zips get that suffix.
      const blobName = isZipMime(mimeType)
        ? `${run}/${job}/${name}-${id}.zip`
        : `${run}/${job}/${id}/${name}`;
      artifacts.push({
        id,
        name,
        runBackendId: run,
        jobBackendId: job,
        blobName,
        mimeType,
        version,
        createdAt: new Date(),
        expiresAt: expiresRaw === undefined ? undefined : new Date(expiresRaw),
        finalized: false,
        size: undefined,
        digest: undefined,
      });
      const signedUploadUrl = await container.getBlockBlobClient(blobName).generateSasUrl({
        permissions: BlobSASPermissions.parse('cw'),
        expiresOn: new Date(Date.now() + UPLOAD_SAS_TTL_MS),
        protocol: SASProtocol.Https,
      });
      return { ok: true, signed_upload_url: blobFront.rewrite(signedUploadUrl) };
    },

    async FinalizeArtifact(body) {
      const run = stringField(body, 'workflow_run_backend_id', true) as string;
      stringField(body, 'workflow_job_run_backend_id', true);
      const name = stringField(body, 'name', true) as string;
      const size = int64Field(body, 'size') ?? 0;
      const hashRaw = field(body, 'hash');
      const hash = typeof hashRaw === 'string' && hashRaw !== '' ? hashRaw : undefined;
      if (finalizedByName(run, name).length > 0) {
        throw new TwirpError(
          409,
          'already_exists',
          'an artifact with this name already exists on the workflow run',
        );
      }
      const pending = artifacts
        .filter((a) => !a.finalized && a.runBackendId === run && a.name === name)
        .sort((x, y) => y.id - x.id)[0];
      if (!pending)
        throw new TwirpError(
          404,
          'not_found',
          `no pending upload for artifact '${name}'; call CreateArtifact first`,
        );
      serviceBlobRequests += 1;
      if (!(await container.getBlockBlobClient(pending.blobName).exists())) {
        throw new TwirpError(
          412,
          'failed_precondition',
          `artifact '${name}' has no uploaded content in blob storage`,
        );
      }
      pending.finalized = true;
      pending.size = size;
      pending.digest = hash;
      return { ok: true, artifact_id: String(pending.id) };
    },

    async ListArtifacts(body) {
      const run = stringField(body, 'workflow_run_backend_id', true) as string;
      stringField(body, 'workflow_job_run_backend_id', true);
      const nameFilter = stringField(body, 'name_filter', false);
      const idFilter = int64Field(body, 'id_filter');
      // Results lists every artifact of the run, whichever job uploaded it.
      const list = artifacts
        .filter((a) => a.runBackendId === run && isLive(a))
        .filter((a) => nameFilter === undefined || a.name === nameFilter)
        .filter((a) => idFilter === undefined || a.id === idFilter)
        .sort((x, y) => x.id - y.id)
        .map((a) => ({
          workflow_run_backend_id: a.runBackendId,
          workflow_job_run_backend_id: a.jobBackendId,
          database_id: String(a.id),
          name: a.name,
          size: String(a.size ?? 0),
          created_at: a.createdAt.toISOString(),
          ...(a.digest === undefined ? {} : { digest: a.digest }),
        }));
      return { artifacts: list };
    },

    async GetSignedArtifactURL(body) {
      const run = stringField(body, 'workflow_run_backend_id', true) as string;
      const job = stringField(body, 'workflow_job_run_backend_id', true) as string;
      const name = stringField(body, 'name', true) as string;
      const matches = finalizedByName(run, name);
      const artifact = matches.find((a) => a.jobBackendId === job) ?? matches[0];
      if (!artifact) throw new TwirpError(404, 'not_found', `artifact '${name}' not found`);
      const fileName =
        isZipMime(artifact.mimeType) && !artifact.name.endsWith('.zip')
          ? `${artifact.name}.zip`
          : artifact.name;
      const signedUrl = await container.getBlockBlobClient(artifact.blobName).generateSasUrl({
        permissions: BlobSASPermissions.parse('r'),
        expiresOn: new Date(Date.now() + DOWNLOAD_SAS_TTL_MS),
        protocol: SASProtocol.Https,
        // The client names a non-zip download after Content-Disposition, which the SAS makes Azurite send.
        contentDisposition: contentDisposition(fileName),
      });
      return { signed_url: blobFront.rewrite(signedUrl) };
    },

    async DeleteArtifact(body) {
      const run = stringField(body, 'workflow_run_backend_id', true) as string;
      stringField(body, 'workflow_job_run_backend_id', true);
      const name = stringField(body, 'name', true) as string;
      const artifact = finalizedByName(run, name)[0];
      if (!artifact) throw new TwirpError(404, 'not_found', `artifact '${name}' not found`);
      serviceBlobRequests += 1;
      await container.getBlockBlobClient(artifact.blobName).deleteIfExists();
      artifacts.splice(artifacts.indexOf(artifact), 1);
      return { ok: true, artifact_id: String(artifact.id) };
    },
  };

  const expectedScope = `Actions.Results:${runBackendId}:${jobBackendId}`;

  function authenticate(req: IncomingMessage): void {
    const header = req.headers.authorization ?? '';
    const match = /^Bearer\s+(\S+)$/i.exec(header);
    if (!match?.[1]) throw new TwirpError(401, 'unauthenticated', 'missing bearer token');
    const payloadPart = match[1].split('.')[1];
    let claims: unknown;
    try {
      claims = payloadPart ? JSON.parse(Buffer.from(payloadPart, 'base64url').toString('utf8')) : undefined;
    } catch {
      claims = undefined;
    }
    if (typeof claims !== 'object' || claims === null)
      throw new TwirpError(401, 'unauthenticated', 'bearer token is not a JWT');
    const { scp, exp } = claims as { scp?: unknown; exp?: unknown };
    if (typeof exp === 'number' && exp * 1000 <= Date.now())
      throw new TwirpError(401, 'unauthenticated', 'token expired');
    if (typeof scp !== 'string' || !scp.split(' ').includes(expectedScope)) {
      throw new TwirpError(
        401,
        'unauthenticated',
        'token scope does not grant access to this workflow run and job',
      );
    }
  }

  async function readBody(req: IncomingMessage): Promise<string> {
    const chunks: Buffer[] = [];
    let length = 0;
    for await (const chunk of req as AsyncIterable<Buffer>) {
      length += chunk.length;
      if (length > MAX_BODY_BYTES) throw new TwirpError(400, 'malformed', 'request body too large');
      chunks.push(chunk);
    }
    return Buffer.concat(chunks).toString('utf8');
  }

  function sendJson(
    res: ServerResponse,
    status: number,
    body: unknown,
    headers: Record<string, string> = {},
  ): void {
    const text = JSON.stringify(body);
    res.writeHead(status, {
      ...headers,
      'content-type': 'application/json',
      'content-length': Buffer.byteLength(text),
    });
    res.end(text);
  }

  async function handleSandbox(req: IncomingMessage, res: ServerResponse, path: string): Promise<void> {
    if (path === '/_sandbox/faults') {
      if (req.method === 'DELETE') {
        faults.clear();
        res.writeHead(204).end();
        return;
      }
      if (req.method === 'GET') return sendJson(res, 200, { faults: faults.list() });
      if (req.method === 'POST') {
        let spec: unknown;
        try {
          spec = JSON.parse(await readBody(req));
        } catch {
          return sendJson(res, 400, { code: 'malformed', msg: 'fault body must be JSON' });
        }
        // `method` (one Twirp method or '*') predates `route`; no route means every Twirp method.
        const method =
          typeof spec === 'object' && spec !== null ? (spec as { method?: unknown }).method : undefined;
        if (method !== undefined && method !== '*' && !METHODS.includes(method as Method)) {
          return sendJson(res, 400, {
            code: 'invalid_argument',
            msg: `method must be '*' or one of ${METHODS.join(', ')}`,
          });
        }
        try {
          const added = faults.add(spec, {
            route: method === undefined || method === '*' ? 'artifacts.twirp.*' : `artifacts.twirp.${method}`,
          });
          return sendJson(res, 201, { id: added.id, faults: faults.list() });
        } catch (error) {
          if (error instanceof FaultError)
            return sendJson(res, 400, { code: 'invalid_argument', msg: error.message });
          throw error;
        }
      }
    }
    if (path === '/_sandbox/requests') {
      if (req.method === 'GET') return sendJson(res, 200, requestCounters());
      if (req.method === 'DELETE') {
        twirpCounts = {};
        serviceBlobRequests = 0;
        blobFront.resetCounters();
        res.writeHead(204).end();
        return;
      }
    }
    if (path === '/_sandbox/artifacts' && req.method === 'GET') {
      return sendJson(res, 200, { artifacts: artifacts.map(view) });
    }
    sendJson(res, 404, { code: 'bad_route', msg: `no sandbox route ${req.method} ${path}` });
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = new URL(req.url ?? '/', 'https://localhost').pathname;
    if (path.startsWith('/_sandbox/')) return handleSandbox(req, res, path);
    const prefix = `/twirp/${ARTIFACT_SERVICE}/`;
    const methodName = path.startsWith(prefix) ? path.slice(prefix.length) : undefined;
    const counted: ArtifactCountedRoute = METHODS.includes(methodName as Method)
      ? `artifacts.twirp.${methodName as Method}`
      : 'artifacts.twirp.other';
    twirpCounts[counted] = (twirpCounts[counted] ?? 0) + 1;
    if (methodName === undefined || !METHODS.includes(methodName as Method)) {
      throw new TwirpError(404, 'bad_route', `no handler for path "${path}"`);
    }
    const method = methodName as Method;
    if (req.method !== 'POST')
      throw new TwirpError(404, 'bad_route', `unsupported method "${req.method}" (only POST is allowed)`);
    const contentType = (req.headers['content-type'] ?? '').split(';')[0]?.trim().toLowerCase();
    if (contentType !== 'application/json') {
      // Real Twirp servers also speak application/protobuf; @actions/artifact only uses JSON.
      throw new TwirpError(
        404,
        'bad_route',
        `unexpected Content-Type: "${contentType}" (the sandbox serves application/json only)`,
      );
    }
    const fault = faults.take(`artifacts.twirp.${method}`);
    if (fault) {
      const outcome = await applyFaultKinds(
        fault,
        req,
        res,
        (ms) => timers.sleep(ms),
        (status, headers) =>
          sendJson(
            res,
            status,
            {
              code: fault.errorCode ?? twirpCodeForStatus(status),
              msg: fault.message ?? `sandbox fault: ${status} injected for ${method}`,
            },
            headers,
          ),
      );
      if (outcome === 'answered') return;
    }
    authenticate(req);
    let body: unknown;
    try {
      body = JSON.parse(await readBody(req));
    } catch (error) {
      if (error instanceof TwirpError) throw error;
      throw new TwirpError(400, 'malformed', 'the request body could not be decoded as JSON');
    }
    if (typeof body !== 'object' || body === null || Array.isArray(body))
      throw new TwirpError(400, 'malformed', 'the request body must be a JSON object');
    const run = field(body as Body, 'workflow_run_backend_id');
    const job = field(body as Body, 'workflow_job_run_backend_id');
    // The token grants one run/job; other runs are someone else's artifacts. List/download may name another job of the same run.
    if (run !== undefined && run !== runBackendId)
      throw new TwirpError(403, 'permission_denied', 'token does not grant access to this workflow run');
    if (method === 'CreateArtifact' || method === 'FinalizeArtifact') {
      if (job !== undefined && job !== jobBackendId)
        throw new TwirpError(403, 'permission_denied', 'token does not grant access to this job');
    }
    sendJson(res, 200, await handlers[method](body as Body));
  }

  const server: Server = createServer({ key: o.tls.key, cert: o.tls.cert }, (req, res) => {
    handle(req, res).catch((error: unknown) => {
      const twirp =
        error instanceof TwirpError
          ? error
          : new TwirpError(500, 'internal', error instanceof Error ? error.message : String(error));
      if (res.headersSent) {
        res.destroy();
        return;
      }
      // Drain what the client is still sending so it reads the error instead of a reset.
      req.resume();
      sendJson(res, twirp.status, { code: twirp.code, msg: twirp.message });
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;

  return {
    resultsUrl: `https://127.0.0.1:${port}`,
    runtimeToken,
    runBackendId,
    jobBackendId,
    container: containerName,
    stored: () => artifacts.map(view),
    close: async () => {
      timers.close();
      await new Promise<void>((resolve, reject) => {
        server.close((error) => (error ? reject(error) : resolve()));
        // Keep-alive sockets of finished clients, and hung requests, would otherwise hold close() open.
        server.closeAllConnections();
      });
      await blobFront.close();
    },
  };
}
