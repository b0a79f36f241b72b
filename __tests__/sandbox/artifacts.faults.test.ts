import { BlockBlobClient } from '@azure/storage-blob';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  ARTIFACT_SERVICE,
  type ArtifactServiceHandle,
  type StoredArtifactView,
  startArtifactService,
} from '../../sandbox/artifacts/index.js';
import { type AzuriteHandle, startAzurite } from '../../sandbox/azurite.js';
import { ensureCerts, type SandboxCerts } from '../../sandbox/certs.js';

/**
 * Faults on the artifact service's Twirp methods and on the blob upload and download it hands out, so the
 * action's use of @actions/artifact can be shown to bound every request.
 */

let certs: SandboxCerts;
let azurite: AzuriteHandle;
let service: ArtifactServiceHandle;
let counter = 0;

const ids = () => ({
  workflow_run_backend_id: service.runBackendId,
  workflow_job_run_backend_id: service.jobBackendId,
});

function twirp(method: string, body: unknown, init: RequestInit = {}, base = service): Promise<Response> {
  return fetch(`${base.resultsUrl}/twirp/${ARTIFACT_SERVICE}/${method}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${base.runtimeToken}` },
    body: JSON.stringify(body),
    ...init,
  });
}

async function fault(spec: Record<string, unknown>, base = service): Promise<void> {
  const res = await fetch(`${base.resultsUrl}/_sandbox/faults`, {
    method: 'POST',
    body: JSON.stringify(spec),
  });
  expect(res.status, await res.clone().text()).toBe(201);
}

async function stored(name: string): Promise<StoredArtifactView | undefined> {
  const list = (await (await fetch(`${service.resultsUrl}/_sandbox/artifacts`)).json()) as {
    artifacts: StoredArtifactView[];
  };
  return list.artifacts.find((a) => a.name === name);
}

async function created(name: string): Promise<string> {
  const res = await twirp('CreateArtifact', { ...ids(), name, version: 7 });
  expect(res.status).toBe(200);
  return ((await res.json()) as { signed_upload_url: string }).signed_upload_url;
}

function uniqueName(prefix: string): string {
  counter += 1;
  return `${prefix}-${counter}`;
}

async function rejection(promise: Promise<unknown>): Promise<Error> {
  try {
    await promise;
  } catch (error) {
    return error as Error;
  }
  throw new Error('expected the call to fail');
}

beforeAll(async () => {
  certs = ensureCerts(process.env.SANDBOX_CERT_DIR as string);
  azurite = await startAzurite({ certs });
  service = await startArtifactService({ tls: { key: certs.key, cert: certs.cert, ca: certs.ca }, azurite });
});

afterAll(async () => {
  await service?.close();
  await azurite?.stop();
});

afterEach(async () => {
  await fetch(`${service.resultsUrl}/_sandbox/faults`, { method: 'DELETE' });
});

describe('artifact service: signed URLs', () => {
  it('point at its own blob front door, with the SAS intact', async () => {
    const url = new URL(await created(uniqueName('origin')));
    expect(url.hostname).toBe('127.0.0.1');
    expect(url.port).not.toBe(String(azurite.port));
    expect(url.port).not.toBe(new URL(service.resultsUrl).port);
    expect(url.searchParams.get('sp')).toBe('cw');
    expect(url.pathname.startsWith(`/devstoreaccount1/${service.container}/`)).toBe(true);
  });
});

describe('artifact service: Twirp faults', () => {
  it('hang: CreateArtifact is read and never answered, and records nothing', async () => {
    const name = uniqueName('hang');
    await fault({ route: 'artifacts.twirp.CreateArtifact', hang: true });
    const error = await rejection(
      twirp('CreateArtifact', { ...ids(), name, version: 7 }, { signal: AbortSignal.timeout(300) }),
    );
    expect(error.name).toBe('TimeoutError');
    expect(await stored(name)).toBeUndefined();
  });

  it('applyThenHang: CreateArtifact records the pending artifact, the answer never comes', async () => {
    const name = uniqueName('applied');
    await fault({ method: 'CreateArtifact', applyThenHang: true });
    const error = await rejection(
      twirp('CreateArtifact', { ...ids(), name, version: 7 }, { signal: AbortSignal.timeout(400) }),
    );
    expect(error.name).toBe('TimeoutError');
    expect(await stored(name)).toMatchObject({ name, finalized: false });
  });

  it('errorCode and message make the Twirp error; a custom body replaces it', async () => {
    await fault({
      route: 'artifacts.twirp.ListArtifacts',
      status: 429,
      errorCode: 'resource_exhausted',
      message: 'slow down',
      retryAfter: 3,
    });
    const limited = await twirp('ListArtifacts', ids());
    expect(limited.status).toBe(429);
    expect(limited.headers.get('retry-after')).toBe('3');
    expect(await limited.json()).toEqual({ code: 'resource_exhausted', msg: 'slow down' });
    await fault({
      route: 'artifacts.twirp.*',
      status: 502,
      body: '<html>bad gateway</html>',
      contentType: 'text/html',
    });
    const gateway = await twirp('ListArtifacts', ids());
    expect(gateway.status).toBe(502);
    expect(await gateway.text()).toBe('<html>bad gateway</html>');
  });

  it('rejects faults it cannot apply', async () => {
    for (const spec of [
      { route: 'artifacts.nothing', status: 500 },
      { method: 'Nope', status: 500 },
      { route: 'artifacts.blob.upload', status: 500, applyThenHang: true },
      { route: 'artifacts.blob.upload' },
    ]) {
      const res = await fetch(`${service.resultsUrl}/_sandbox/faults`, {
        method: 'POST',
        body: JSON.stringify(spec),
      });
      expect(res.status, JSON.stringify(spec)).toBe(400);
    }
  });
});

describe('artifact service: blob upload and download faults', () => {
  it('hang on upload: the bytes are read and never stored', async () => {
    const name = uniqueName('blob-hang');
    const url = await created(name);
    await fault({ route: 'artifacts.blob.upload', hang: true });
    const blob = new BlockBlobClient(url, undefined, { retryOptions: { maxTries: 1 } });
    const error = await rejection(blob.upload('zip', 3, { abortSignal: AbortSignal.timeout(300) }));
    expect(error.name).toBe('AbortError');
    const finalize = await twirp('FinalizeArtifact', { ...ids(), name, size: '3' });
    expect(finalize.status).toBe(412);
  });

  it('applyThenHang on upload: the blob lands, so finalize succeeds after the client gave up', async () => {
    const name = uniqueName('blob-applied');
    const url = await created(name);
    await fault({ route: 'artifacts.blob.upload', applyThenHang: true });
    const blob = new BlockBlobClient(url, undefined, { retryOptions: { maxTries: 1 } });
    const error = await rejection(blob.upload('zip', 3, { abortSignal: AbortSignal.timeout(400) }));
    expect(error.name).toBe('AbortError');
    const finalize = await twirp('FinalizeArtifact', { ...ids(), name, size: '3' });
    expect(finalize.status).toBe(200);
  });

  it('download faults answer as Blob storage does, or hang', async () => {
    const name = uniqueName('blob-download');
    const url = await created(name);
    await new BlockBlobClient(url).upload('zip', 3);
    expect((await twirp('FinalizeArtifact', { ...ids(), name, size: '3' })).status).toBe(200);
    const signed = (await (await twirp('GetSignedArtifactURL', { ...ids(), name })).json()) as {
      signed_url: string;
    };
    await fault({ route: 'artifacts.blob.download', status: 503 });
    const busy = await fetch(signed.signed_url);
    expect(busy.status).toBe(503);
    expect(busy.headers.get('x-ms-error-code')).toBe('ServerBusy');
    await fault({ route: 'artifacts.blob.download', hang: true });
    expect((await rejection(fetch(signed.signed_url, { signal: AbortSignal.timeout(300) }))).name).toBe(
      'TimeoutError',
    );
    expect(await (await fetch(signed.signed_url)).text()).toBe('zip');
  });
});

describe('artifact service: closing', () => {
  it('ends hung Twirp and blob requests promptly and leaves no timer behind', async () => {
    const timersBefore = process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
    const other = await startArtifactService({
      tls: { key: certs.key, cert: certs.cert, ca: certs.ca },
      azurite,
    });
    const otherIds = {
      workflow_run_backend_id: other.runBackendId,
      workflow_job_run_backend_id: other.jobBackendId,
    };
    const create = await twirp('CreateArtifact', { ...otherIds, name: 'close', version: 7 }, {}, other);
    const url = ((await create.json()) as { signed_upload_url: string }).signed_upload_url;
    await fault({ route: 'artifacts.twirp.ListArtifacts', hang: true }, other);
    await fault({ route: 'artifacts.blob.upload', delayMs: 600_000 }, other);
    const outcome = (p: Promise<unknown>) =>
      p.then(
        () => 'answered',
        () => 'failed',
      );
    const pending = [
      outcome(twirp('ListArtifacts', otherIds, {}, other)),
      outcome(new BlockBlobClient(url, undefined, { retryOptions: { maxTries: 1 } }).upload('x', 1)),
    ];
    await new Promise((r) => setTimeout(r, 150));
    const started = Date.now();
    await other.close();
    expect(await Promise.all(pending)).toEqual(['failed', 'failed']);
    // Promptly, not after a client's own timeout (tens of seconds), however loaded the machine.
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length).toBeLessThanOrEqual(
      timersBefore,
    );
  });
});
