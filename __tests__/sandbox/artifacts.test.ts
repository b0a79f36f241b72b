import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DefaultArtifactClient } from '@actions/artifact';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  ARTIFACT_SERVICE,
  type ArtifactServiceHandle,
  mintRuntimeToken,
  type StoredArtifactView,
  startArtifactService,
} from '../../sandbox/artifacts/index.js';
import { type AzuriteHandle, startAzurite } from '../../sandbox/azurite.js';
import { ensureCerts } from '../../sandbox/certs.js';

const ENV_KEYS = [
  'ACTIONS_RUNTIME_TOKEN',
  'ACTIONS_RESULTS_URL',
  'GITHUB_SERVER_URL',
  'GITHUB_WORKSPACE',
] as const;

let azurite: AzuriteHandle;
let service: ArtifactServiceHandle;
let work: string;
const savedEnv = new Map<string, string | undefined>();

beforeAll(async () => {
  const certs = ensureCerts(process.env.SANDBOX_CERT_DIR as string);
  azurite = await startAzurite({ certs });
  service = await startArtifactService({ tls: { key: certs.key, cert: certs.cert }, azurite });
  work = mkdtempSync(join(tmpdir(), 'afpd-artifacts-'));
  for (const key of ENV_KEYS) savedEnv.set(key, process.env[key]);
  // The client reads these on every call, so setting them after import is enough.
  process.env.ACTIONS_RUNTIME_TOKEN = service.runtimeToken;
  process.env.ACTIONS_RESULTS_URL = `${service.resultsUrl}/ignored/path`;
  process.env.GITHUB_WORKSPACE = work;
  // Any host other than github.com / *.ghe.com / *.localhost makes the client refuse as GHES.
  delete process.env.GITHUB_SERVER_URL;
});

afterAll(async () => {
  for (const [key, value] of savedEnv) {
    if (value === undefined) delete process.env[key];
    else process.env[key] = value;
  }
  await service?.close();
  await azurite?.stop();
  if (work) rmSync(work, { recursive: true, force: true });
});

afterEach(async () => {
  await fetch(`${service.resultsUrl}/_sandbox/faults`, { method: 'DELETE' });
});

function twirp(method: string, body: unknown, token = service.runtimeToken): Promise<Response> {
  return fetch(`${service.resultsUrl}/twirp/${ARTIFACT_SERVICE}/${method}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: JSON.stringify(body),
  });
}

async function sandboxList(): Promise<StoredArtifactView[]> {
  const res = await fetch(`${service.resultsUrl}/_sandbox/artifacts`);
  expect(res.status).toBe(200);
  return ((await res.json()) as { artifacts: StoredArtifactView[] }).artifacts;
}

function sha256(bytes: Buffer): string {
  return createHash('sha256').update(bytes).digest('hex');
}

describe('fake artifact service with the real @actions/artifact', () => {
  const client = new DefaultArtifactClient();

  it('uploads, lists, finds and downloads a zipped artifact', async () => {
    const src = join(work, 'src');
    mkdirSync(join(src, 'sub'), { recursive: true });
    const a = Buffer.from('{"hello":"world"}\n');
    const b = Buffer.from(Array.from({ length: 70_000 }, (_, i) => (i * 31) % 251));
    writeFileSync(join(src, 'a.json'), a);
    writeFileSync(join(src, 'sub', 'b.bin'), b);

    const uploaded = await client.uploadArtifact(
      'backup',
      [join(src, 'a.json'), join(src, 'sub', 'b.bin')],
      src,
      { retentionDays: 1 },
    );
    expect(uploaded.id).toBeGreaterThanOrEqual(1000);
    expect(uploaded.size).toBeGreaterThan(0);

    const stored = (await sandboxList()).find((s) => s.id === uploaded.id);
    expect(stored).toMatchObject({
      name: 'backup',
      finalized: true,
      size: uploaded.size,
      digest: `sha256:${uploaded.digest}`,
      mimeType: 'application/zip',
      version: 7,
      blobName: `${service.runBackendId}/${service.jobBackendId}/backup-${uploaded.id}.zip`,
    });
    expect(stored?.expiresAt).toBeDefined();

    const { artifacts } = await client.listArtifacts();
    expect(artifacts.map((x) => x.name)).toContain('backup');
    const listed = artifacts.find((x) => x.name === 'backup');
    // Upload returns the bare hex digest; listings carry it as stored, with the algorithm prefix.
    expect(listed).toMatchObject({
      id: uploaded.id,
      size: uploaded.size,
      digest: `sha256:${uploaded.digest}`,
    });
    expect(listed?.createdAt).toBeInstanceOf(Date);

    const { artifact } = await client.getArtifact('backup');
    expect(artifact.id).toBe(uploaded.id);

    const dest = join(work, 'download-zip');
    const downloaded = await client.downloadArtifact(artifact.id, {
      path: dest,
      expectedHash: artifact.digest as string,
    });
    expect(downloaded.digestMismatch).toBe(false);
    expect(readFileSync(join(dest, 'a.json')).equals(a)).toBe(true);
    expect(sha256(readFileSync(join(dest, 'sub', 'b.bin')))).toBe(sha256(b));
  });

  it('uploads a single file without archiving and downloads it under its own name', async () => {
    const file = join(work, 'record.json');
    const bytes = Buffer.from(JSON.stringify({ schema: 'record@1', n: 42 }));
    writeFileSync(file, bytes);
    const uploaded = await client.uploadArtifact('ignored-for-skip-archive', [file], work, {
      skipArchive: true,
    });
    const stored = (await sandboxList()).find((s) => s.id === uploaded.id);
    // With skipArchive the client names the artifact after the file.
    expect(stored).toMatchObject({ name: 'record.json', mimeType: 'application/json', finalized: true });
    expect(stored?.blobName.endsWith('.zip')).toBe(false);

    const dest = join(work, 'download-raw');
    await client.downloadArtifact(uploaded.id as number, { path: dest });
    expect(readFileSync(join(dest, 'record.json')).equals(bytes)).toBe(true);
  });

  it('refuses a second finalized artifact with the same name in the run', async () => {
    const file = join(work, 'dup.txt');
    writeFileSync(file, 'one');
    await client.uploadArtifact('dup', [file], work);
    await expect(client.uploadArtifact('dup', [file], work)).rejects.toThrow(/409.*already exists/);
  });

  it('deletes an artifact', async () => {
    const file = join(work, 'gone.txt');
    writeFileSync(file, 'bye');
    const uploaded = await client.uploadArtifact('gone', [file], work);
    const deleted = await client.deleteArtifact('gone');
    expect(deleted.id).toBe(uploaded.id);
    const { artifacts } = await client.listArtifacts();
    expect(artifacts.map((x) => x.name)).not.toContain('gone');
    expect((await sandboxList()).map((s) => s.name)).not.toContain('gone');
  });

  it('fails fast on a 4xx fault (no retries) and recovers once the fault is used up', async () => {
    const res = await fetch(`${service.resultsUrl}/_sandbox/faults`, {
      method: 'POST',
      body: JSON.stringify({ method: 'CreateArtifact', status: 403 }),
    });
    expect(res.status).toBe(201);
    const file = join(work, 'fault.txt');
    writeFileSync(file, 'x');
    const started = Date.now();
    await expect(client.uploadArtifact('faulted', [file], work)).rejects.toThrow(
      /non-retryable.*403.*sandbox fault/,
    );
    // The client's first retry would wait 3 s; a 4xx must not be retried.
    expect(Date.now() - started).toBeLessThan(2900);
    const ok = await client.uploadArtifact('faulted', [file], work);
    expect(ok.id).toBeGreaterThan(0);
  });
});

describe('fake artifact service wire behaviour', () => {
  const ids = () => ({
    workflow_run_backend_id: service.runBackendId,
    workflow_job_run_backend_id: service.jobBackendId,
  });

  it('does not list an artifact that was created but never finalized', async () => {
    const res = await twirp('CreateArtifact', { ...ids(), name: 'pending', version: 7 });
    expect(res.status).toBe(200);
    const created = (await res.json()) as { ok: boolean; signed_upload_url: string };
    expect(created.ok).toBe(true);
    const sas = new URL(created.signed_upload_url).searchParams;
    expect(sas.get('sp')).toBe('cw');
    expect(sas.get('spr')).toBe('https');

    const list = (await (await twirp('ListArtifacts', { ...ids(), name_filter: 'pending' })).json()) as {
      artifacts: unknown[];
    };
    expect(list.artifacts).toEqual([]);
    expect((await sandboxList()).find((s) => s.name === 'pending')?.finalized).toBe(false);

    // Finalizing without uploading any bytes is refused.
    const fin = await twirp('FinalizeArtifact', { ...ids(), name: 'pending', size: '0' });
    expect(fin.status).toBe(412);
    expect(await fin.json()).toMatchObject({ code: 'failed_precondition' });
  });

  it('honours id_filter and returns not_found for unknown names', async () => {
    const stored = (await sandboxList()).find((s) => s.finalized);
    expect(stored).toBeDefined();
    const byId = (await (
      await twirp('ListArtifacts', { ...ids(), id_filter: String(stored?.id) })
    ).json()) as {
      artifacts: { database_id: string; name: string; created_at: string }[];
    };
    expect(byId.artifacts).toHaveLength(1);
    expect(byId.artifacts[0]).toMatchObject({ database_id: String(stored?.id), name: stored?.name });
    expect(byId.artifacts[0]?.created_at).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$/);

    const missing = await twirp('GetSignedArtifactURL', { ...ids(), name: 'no-such-artifact' });
    expect(missing.status).toBe(404);
    expect(await missing.json()).toMatchObject({ code: 'not_found' });
  });

  it('rejects tokens for another run or job with a Twirp 401', async () => {
    for (const token of [
      mintRuntimeToken(service.runBackendId, 'other-job'),
      'not-a-jwt',
      mintRuntimeToken('other-run', service.jobBackendId),
    ]) {
      const res = await twirp('ListArtifacts', ids(), token);
      expect(res.status).toBe(401);
      expect(await res.json()).toMatchObject({ code: 'unauthenticated' });
    }
    const noAuth = await fetch(`${service.resultsUrl}/twirp/${ARTIFACT_SERVICE}/ListArtifacts`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(ids()),
    });
    expect(noAuth.status).toBe(401);
  });

  it('answers bad routes, bad bodies and standing faults with Twirp errors', async () => {
    const badRoute = await twirp('NoSuchMethod', ids());
    expect(badRoute.status).toBe(404);
    expect(await badRoute.json()).toMatchObject({ code: 'bad_route' });

    const malformed = await fetch(`${service.resultsUrl}/twirp/${ARTIFACT_SERVICE}/ListArtifacts`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${service.runtimeToken}` },
      body: '{not json',
    });
    expect(malformed.status).toBe(400);
    expect(await malformed.json()).toMatchObject({ code: 'malformed' });

    await fetch(`${service.resultsUrl}/_sandbox/faults`, {
      method: 'POST',
      body: JSON.stringify({ status: 503, count: -1 }),
    });
    for (const method of ['ListArtifacts', 'DeleteArtifact']) {
      const res = await twirp(method, { ...ids(), name: 'x' });
      expect(res.status).toBe(503);
      expect(await res.json()).toMatchObject({ code: 'unavailable' });
    }
    expect((await fetch(`${service.resultsUrl}/_sandbox/faults`, { method: 'DELETE' })).status).toBe(204);
    expect((await twirp('ListArtifacts', ids())).status).toBe(200);
  });
});
