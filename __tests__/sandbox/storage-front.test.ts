import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join, resolve } from 'node:path';
import { AzureCliCredential } from '@azure/identity';
import {
  AccountSASPermissions,
  AccountSASResourceTypes,
  BlobSASPermissions,
  BlobServiceClient,
  type ContainerClient,
  generateBlobSASQueryParameters,
  RestError,
  SASProtocol,
} from '@azure/storage-blob';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { AZURITE_ACCOUNT, type AzuriteHandle, startAzurite } from '../../sandbox/azurite.js';
import { ensureCerts, type SandboxCerts } from '../../sandbox/certs.js';
import {
  PLATFORM_USER_AGENT,
  type RequestCounters,
  type StorageFrontHandle,
  startStorageFront,
} from '../../sandbox/storage-front.js';
import { DEFAULT_SUBSCRIPTION_ID, DEFAULT_TENANT_ID } from '../../sandbox/tokens.js';

/**
 * The storage front door must be invisible to every way of authorising a Blob request (so Azurite still
 * decides), and refuse the way a locked-down account refuses: same status, x-ms-error-code and XML body.
 */

const SHIM_DIR = resolve(import.meta.dirname, '../../sandbox/az-shim');
const HOUR = 3600_000;
const NO_RETRY = { retryOptions: { maxTries: 1 } };

let certs: SandboxCerts;
let azurite: AzuriteHandle;
let front: StorageFrontHandle;
let work: string;
let keyed: BlobServiceClient;
let container: ContainerClient;
const savedEnv = new Map<string, string | undefined>();

function setEnv(key: string, value: string): void {
  if (!savedEnv.has(key)) savedEnv.set(key, process.env[key]);
  process.env[key] = value;
}

async function control(method: string, path: string, body?: unknown): Promise<Response> {
  return fetch(`${front.controlUrl}${path}`, {
    method,
    ...(body === undefined
      ? {}
      : { body: JSON.stringify(body), headers: { 'content-type': 'application/json' } }),
  });
}

async function fault(spec: Record<string, unknown>): Promise<string> {
  const res = await control('POST', '/faults', spec);
  expect(res.status, await res.clone().text()).toBe(200);
  return ((await res.json()) as { id: string }).id;
}

async function account(settings: Record<string, boolean>): Promise<void> {
  expect((await control('POST', '/account', settings)).status).toBe(200);
}

async function counters(): Promise<RequestCounters> {
  return (await (await control('GET', '/requests')).json()) as RequestCounters;
}

/** The az shim's token for storage, through the real credential the action uses. */
function entra(): BlobServiceClient {
  return new BlobServiceClient(front.blobEndpoint, new AzureCliCredential(), NO_RETRY);
}

async function failure(promise: Promise<unknown>): Promise<RestError> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof RestError) return error;
    throw error;
  }
  throw new Error('expected the call to fail');
}

/** The storage error code: HEAD errors have no body, so the SDK leaves it in the parsed headers only. */
function codeOf(error: RestError): string | undefined {
  return error.code ?? (error.details as { errorCode?: string } | undefined)?.errorCode;
}

async function readSasUrl(name: string): Promise<string> {
  return container.getBlockBlobClient(name).generateSasUrl({
    permissions: BlobSASPermissions.parse('r'),
    expiresOn: new Date(Date.now() + HOUR),
    protocol: SASProtocol.Https,
  });
}

async function userDelegationSasUrl(name: string): Promise<string> {
  const startsOn = new Date(Date.now() - 60_000);
  const expiresOn = new Date(Date.now() + HOUR);
  const key = await entra().getUserDelegationKey(startsOn, expiresOn);
  const sas = generateBlobSASQueryParameters(
    {
      containerName: container.containerName,
      blobName: name,
      permissions: BlobSASPermissions.parse('r'),
      startsOn,
      expiresOn,
      protocol: SASProtocol.Https,
    },
    key,
    AZURITE_ACCOUNT,
  );
  return `${container.getBlockBlobClient(name).url}?${sas.toString()}`;
}

beforeAll(async () => {
  certs = ensureCerts(process.env.SANDBOX_CERT_DIR as string);
  azurite = await startAzurite({ certs });
  front = await startStorageFront({
    tls: { key: certs.key, cert: certs.cert, ca: certs.ca },
    upstream: azurite.connectionString,
  });
  work = mkdtempSync(join(tmpdir(), 'afpd-front-'));
  const config = join(work, 'az-config.json');
  writeFileSync(
    config,
    JSON.stringify({
      subscriptionId: DEFAULT_SUBSCRIPTION_ID,
      tenantId: DEFAULT_TENANT_ID,
      resourceManagerEndpoint: 'https://127.0.0.1:9/',
    }),
  );
  setEnv('PATH', `${SHIM_DIR}${delimiter}${process.env.PATH ?? ''}`);
  setEnv('AZ_SANDBOX_CONFIG', config);
  keyed = BlobServiceClient.fromConnectionString(front.connectionString, NO_RETRY);
  container = keyed.getContainerClient('front-door');
  await container.create();
  await container.getBlockBlobClient('hello.txt').upload('hello', 5);
});

afterAll(async () => {
  for (const [key, value] of savedEnv) {
    if (value === undefined) delete process.env[key];
    else process.env[key] = value;
  }
  await front?.close();
  await azurite?.stop();
  if (work) rmSync(work, { recursive: true, force: true });
});

afterEach(async () => {
  await control('DELETE', '/faults');
  await account({ firewall: false, blockPlatform: false, allowSharedKeyAccess: true });
});

describe('storage front door: transparent to every authorisation', () => {
  it('is a different origin with the same path, and hands out a connection string for itself', () => {
    expect(new URL(front.blobEndpoint).port).not.toBe(String(azurite.port));
    expect(new URL(front.blobEndpoint).pathname).toBe(new URL(azurite.blobEndpoint).pathname);
    expect(front.connectionString).toContain(`BlobEndpoint=${front.blobEndpoint};`);
    expect(front.connectionString).toContain('AccountKey=');
  });

  it('SharedKey: create, list, metadata, tags, find by tags, copy (same-account and SAS source)', async () => {
    const blob = container.getBlockBlobClient('shared/key.txt');
    await blob.upload('shared key', 10, { metadata: { app: 'one' }, tags: { stage: 'front' } });
    expect((await blob.downloadToBuffer()).toString()).toBe('shared key');
    expect((await blob.getProperties()).metadata).toEqual({ app: 'one' });
    expect((await blob.getTags()).tags).toEqual({ stage: 'front' });
    const names: string[] = [];
    for await (const item of container.listBlobsFlat({ prefix: 'shared/' })) names.push(item.name);
    expect(names).toEqual(['shared/key.txt']);
    const found: string[] = [];
    for await (const item of keyed.findBlobsByTags(`"stage"='front'`)) found.push(item.name);
    expect(found).toContain('shared/key.txt');
    const copy = container.getBlockBlobClient('shared/copy.txt');
    await (await copy.beginCopyFromURL(blob.url)).pollUntilDone();
    expect((await copy.downloadToBuffer()).toString()).toBe('shared key');
    // Copy Blob from a SAS source makes Azurite check the source's host against the Host header (both the front
    // door's), then request the source itself, through the front door.
    const fromSas = container.getBlockBlobClient('shared/copy-sas.txt');
    await (await fromSas.beginCopyFromURL(await readSasUrl('shared/key.txt'))).pollUntilDone();
    expect((await fromSas.downloadToBuffer()).toString()).toBe('shared key');
  });

  it('blob SAS and account SAS signed with the key', async () => {
    const res = await fetch(await readSasUrl('hello.txt'));
    expect(res.status).toBe(200);
    expect(await res.text()).toBe('hello');
    const accountSas = keyed.generateAccountSasUrl(
      new Date(Date.now() + HOUR),
      AccountSASPermissions.parse('rl'),
      AccountSASResourceTypes.parse('sco').toString(),
      { protocol: SASProtocol.Https },
    );
    const viaAccountSas = new BlobServiceClient(accountSas, undefined, NO_RETRY);
    const read = await viaAccountSas
      .getContainerClient('front-door')
      .getBlobClient('hello.txt')
      .downloadToBuffer();
    expect(read.toString()).toBe('hello');
  });

  it('Entra bearer tokens from the az shim, and a user delegation SAS', async () => {
    const blob = entra().getContainerClient('front-door').getBlockBlobClient('entra.txt');
    await blob.upload('entra', 5);
    expect((await blob.downloadToBuffer()).toString()).toBe('entra');
    const res = await fetch(await userDelegationSasUrl('entra.txt'));
    expect(res.status).toBe(200);
    expect(await res.text()).toBe('entra');
  });

  it('streams a multi-block upload and a download both ways', async () => {
    const bytes = Buffer.alloc(9 * 1024 * 1024 + 123);
    for (let i = 0; i < bytes.length; i += 4096) bytes[i] = i % 251;
    const blob = container.getBlockBlobClient('big.bin');
    await blob.uploadData(bytes, { blockSize: 4 * 1024 * 1024, maxSingleShotSize: 1024 * 1024 });
    const download = await blob.download();
    const chunks: Buffer[] = [];
    for await (const chunk of download.readableStreamBody as NodeJS.ReadableStream)
      chunks.push(chunk as Buffer);
    expect(Buffer.concat(chunks).equals(bytes)).toBe(true);
  });

  it('counts requests by route and client', async () => {
    expect((await control('DELETE', '/requests')).status).toBe(204);
    const blob = container.getBlockBlobClient('counted.txt');
    await blob.upload('x', 1);
    await blob.uploadData(Buffer.alloc(3000), { blockSize: 1024, maxSingleShotSize: 1024 });
    await blob.downloadToBuffer();
    await blob.getProperties();
    await blob.setMetadata({ a: 'b' });
    await blob.setTags({ t: 'v' });
    for await (const _ of container.listBlobsFlat({ prefix: 'counted' })) {
      // consume
    }
    await blob.delete();
    await keyed.getContainerClient('counted-container').create();
    await entra().getUserDelegationKey(new Date(), new Date(Date.now() + HOUR));
    expect(
      (await fetch(await readSasUrl('hello.txt'), { headers: { 'user-agent': PLATFORM_USER_AGENT } })).status,
    ).toBe(200);
    const seen = await counters();
    expect(seen.byRoute).toMatchObject({
      // One Put Blob, then three Put Block and one Put Block List.
      'blob.put': { action: 5, platform: 0 },
      'blob.get': { action: 1, platform: 1 },
      // downloadToBuffer reads the properties first.
      'blob.head': { action: 2, platform: 0 },
      'blob.metadata': { action: 1, platform: 0 },
      'blob.tags': { action: 1, platform: 0 },
      'blob.container.list': { action: 1, platform: 0 },
      'blob.delete': { action: 1, platform: 0 },
      'blob.container.create': { action: 1, platform: 0 },
      'blob.userDelegationKey': { action: 1, platform: 0 },
    });
    expect(seen.byClient).toEqual({ action: 14, platform: 1 });
    expect(seen.total).toBe(15);
    const state = (await (await control('GET', '')).json()) as { requests: RequestCounters };
    expect(state.requests.total).toBe(15);
  });
});

describe('storage front door: account rules', () => {
  it('firewall: the action gets 403 AuthorizationFailure with the real header and XML body, whatever it signs with', async () => {
    await account({ firewall: true });
    const url = await readSasUrl('hello.txt');
    const res = await fetch(url, {
      headers: { 'x-ms-client-request-id': 'req-1', 'x-ms-version': '2025-11-05' },
    });
    expect(res.status).toBe(403);
    expect(res.headers.get('x-ms-error-code')).toBe('AuthorizationFailure');
    expect(res.headers.get('content-type')).toBe('application/xml');
    expect(res.headers.get('x-ms-client-request-id')).toBe('req-1');
    const requestId = res.headers.get('x-ms-request-id') as string;
    expect(await res.text()).toMatch(
      new RegExp(
        `^<\\?xml version="1\\.0" encoding="utf-8"\\?><Error><Code>AuthorizationFailure</Code><Message>This request is not authorized to perform this operation\\.\\nRequestId:${requestId}\\nTime:\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\d\\.\\d{7}Z</Message></Error>$`,
      ),
    );
    const downloads = [
      () => container.getBlobClient('hello.txt').download(),
      () => entra().getContainerClient('front-door').getBlobClient('hello.txt').download(),
    ];
    for (const download of downloads) {
      const error = await failure(download());
      expect(error).toMatchObject({ statusCode: 403, code: 'AuthorizationFailure' });
      expect(error.message).toMatch(
        /^This request is not authorized to perform this operation\.\nRequestId:/,
      );
    }
    const head = await failure(container.getBlobClient('hello.txt').getProperties());
    expect([head.statusCode, codeOf(head)]).toEqual([403, 'AuthorizationFailure']);
  });

  it('firewall: the platform passes unless blockPlatform', async () => {
    await account({ firewall: true });
    const url = await readSasUrl('hello.txt');
    const asPlatform = { headers: { 'user-agent': `${PLATFORM_USER_AGENT} node` } };
    expect((await fetch(url, asPlatform)).status).toBe(200);
    await account({ blockPlatform: true });
    const refused = await fetch(url, asPlatform);
    expect(refused.status).toBe(403);
    expect(refused.headers.get('x-ms-error-code')).toBe('AuthorizationFailure');
  });

  it('allowSharedKeyAccess false: SharedKey and key-signed SAS get KeyBasedAuthenticationNotPermitted; Entra and user delegation SAS pass', async () => {
    const udSas = await userDelegationSasUrl('hello.txt');
    await account({ allowSharedKeyAccess: false });
    const refused = await failure(container.getBlobClient('hello.txt').download());
    expect(refused).toMatchObject({ statusCode: 403, code: 'KeyBasedAuthenticationNotPermitted' });
    expect(refused.message).toMatch(
      /^Key based authentication is not permitted on this storage account\.\nRequestId:/,
    );
    const sas = await fetch(await readSasUrl('hello.txt'));
    expect(sas.status).toBe(403);
    expect(sas.headers.get('x-ms-error-code')).toBe('KeyBasedAuthenticationNotPermitted');
    const accountSas = keyed.generateAccountSasUrl(
      new Date(Date.now() + HOUR),
      AccountSASPermissions.parse('r'),
      'sco',
    );
    const viaAccountSas = await failure(
      new BlobServiceClient(accountSas, undefined, NO_RETRY).getProperties(),
    );
    expect(viaAccountSas).toMatchObject({ statusCode: 403, code: 'KeyBasedAuthenticationNotPermitted' });
    expect(
      (
        await entra().getContainerClient('front-door').getBlobClient('hello.txt').downloadToBuffer()
      ).toString(),
    ).toBe('hello');
    expect((await fetch(udSas)).status).toBe(200);
    // A HEAD refusal has no body: the code travels in the header alone.
    expect(
      (await fetch(await readSasUrl('hello.txt'), { method: 'HEAD' })).headers.get('x-ms-error-code'),
    ).toBe('KeyBasedAuthenticationNotPermitted');
  });

  it('control: rejects unknown or non-boolean account settings', async () => {
    expect((await control('POST', '/account', { firewall: 'yes' })).status).toBe(400);
    expect((await control('POST', '/account', { publicAccess: true })).status).toBe(400);
  });
});

describe('storage front door: per-route faults', () => {
  it('a 503 ServerBusy with Retry-After on one route and one client, for one request', async () => {
    await fault({ route: 'blob.get', client: 'action', status: 503, retryAfter: 2 });
    const url = await readSasUrl('hello.txt');
    // The platform is not the action: untouched.
    expect((await fetch(url, { headers: { 'user-agent': PLATFORM_USER_AGENT } })).status).toBe(200);
    const res = await fetch(url);
    expect(res.status).toBe(503);
    expect(res.headers.get('retry-after')).toBe('2');
    expect(res.headers.get('x-ms-error-code')).toBe('ServerBusy');
    expect(await res.text()).toContain('<Code>ServerBusy</Code>');
    expect((await fetch(url)).status).toBe(200);
  });

  it('errorCode, message, skip, count and globs; platform-only faults', async () => {
    await fault({
      route: 'blob.*',
      client: 'platform',
      status: 500,
      errorCode: 'OperationTimedOut',
      message: 'Slow.',
      skip: 1,
      count: 2,
    });
    const url = await readSasUrl('hello.txt');
    const asPlatform = { headers: { 'user-agent': PLATFORM_USER_AGENT } };
    expect((await fetch(url, asPlatform)).status).toBe(200);
    for (let i = 0; i < 2; i++) {
      const res = await fetch(url, asPlatform);
      expect(res.status).toBe(500);
      expect(res.headers.get('x-ms-error-code')).toBe('OperationTimedOut');
      expect(await res.text()).toContain('<Message>Slow.\nRequestId:');
    }
    expect((await fetch(url, asPlatform)).status).toBe(200);
    expect((await fetch(url)).status).toBe(200);
  });

  it('the SDK reads the fault as a storage error, HEAD included', async () => {
    await fault({ route: 'blob.head', status: 404, count: -1 });
    const error = await failure(container.getBlobClient('hello.txt').getProperties());
    expect([error.statusCode, codeOf(error)]).toEqual([404, 'ResourceNotFound']);
  });

  it('a custom body, reason phrase and content type', async () => {
    await fault({
      route: 'blob.get',
      status: 502,
      statusText: 'Bad Gateway Sandbox',
      body: '<html>upstream</html>',
      contentType: 'text/html',
    });
    const res = await fetch(await readSasUrl('hello.txt'));
    expect(res.status).toBe(502);
    expect(res.statusText).toBe('Bad Gateway Sandbox');
    expect(res.headers.get('content-type')).toBe('text/html');
    expect(await res.text()).toBe('<html>upstream</html>');
  });

  it('reset and delay', async () => {
    const url = await readSasUrl('hello.txt');
    await fault({ route: 'blob.get', reset: true });
    await expect(fetch(url)).rejects.toThrow();
    await fault({ route: 'blob.get', delayMs: 300 });
    const started = Date.now();
    expect((await fetch(url)).status).toBe(200);
    expect(Date.now() - started).toBeGreaterThanOrEqual(290);
  });

  it('hang: the request is read and never answered, and its write does not land', async () => {
    await fault({ route: 'blob.put', hang: true });
    const blob = container.getBlockBlobClient('hung.txt');
    await expect(blob.upload('never', 5, { abortSignal: AbortSignal.timeout(400) })).rejects.toMatchObject({
      name: 'AbortError',
    });
    expect(await blob.exists()).toBe(false);
    await fault({ route: 'blob.get', hang: true });
    await expect(
      fetch(await readSasUrl('hello.txt'), { signal: AbortSignal.timeout(300) }),
    ).rejects.toMatchObject({
      name: 'TimeoutError',
    });
  });

  it('applyThenHang: the upload lands in Azurite but its answer never comes', async () => {
    await fault({ route: 'blob.put', applyThenHang: true });
    const blob = container.getBlockBlobClient('applied.txt');
    await expect(blob.upload('applied', 7, { abortSignal: AbortSignal.timeout(500) })).rejects.toMatchObject({
      name: 'AbortError',
    });
    // A fresh read: the write took effect.
    expect((await blob.downloadToBuffer()).toString()).toBe('applied');
  });

  it('rejects faults it cannot apply', async () => {
    for (const spec of [
      { route: 'blob.nothing', status: 500 },
      { route: 'blob.get', client: 'runner', status: 500 },
      { route: 'blob.get', status: 500, hang: true },
      { route: 'blob.get', hang: 'yes' },
      { route: 'blob.get', errorCode: 'X' },
      { route: 'blob.get' },
    ]) {
      const res = await control('POST', '/faults', spec);
      expect(res.status, JSON.stringify(spec)).toBe(400);
    }
    const id = await fault({ route: 'blob.get', status: 500, count: -1 });
    const state = (await (await control('GET', '')).json()) as {
      faults: { id: string }[];
      faultRoutes: string[];
    };
    expect(state.faults.map((f) => f.id)).toEqual([id]);
    expect(state.faultRoutes).toContain('blob.findByTags');
    expect((await control('DELETE', `/faults/${id}`)).status).toBe(204);
    expect((await control('DELETE', `/faults/${id}`)).status).toBe(404);
  });
});

describe('storage front door: closing', () => {
  it('ends hung requests promptly and leaves no timer behind', async () => {
    const timersBefore = process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
    const second = await startStorageFront({
      tls: { key: certs.key, cert: certs.cert, ca: certs.ca },
      upstream: azurite.connectionString,
    });
    const post = (spec: unknown) =>
      fetch(`${second.controlUrl}/faults`, { method: 'POST', body: JSON.stringify(spec) });
    expect((await post({ route: 'blob.get', hang: true })).status).toBe(200);
    expect((await post({ route: 'blob.head', delayMs: 600_000 })).status).toBe(200);
    const base = `${second.blobEndpoint}/front-door/hello.txt`;
    const hung = fetch(base).then(
      () => 'answered',
      () => 'failed',
    );
    const delayed = fetch(base, { method: 'HEAD' }).then(
      () => 'answered',
      () => 'failed',
    );
    await new Promise((r) => setTimeout(r, 100));
    const started = Date.now();
    await second.close();
    expect(await hung).toBe('failed');
    expect(await delayed).toBe('failed');
    // Promptly, not after a client's own timeout (tens of seconds), however loaded the machine.
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length).toBeLessThanOrEqual(
      timersBefore,
    );
  });
});
