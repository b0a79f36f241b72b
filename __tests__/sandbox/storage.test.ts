import { createHash } from 'node:crypto';
import {
  BlobSASPermissions,
  BlobServiceClient,
  type BlockBlobClient,
  SASProtocol,
} from '@azure/storage-blob';
import JSZip from 'jszip';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type AzuriteHandle, startAzurite } from '../../sandbox/azurite.js';
import { ensureCerts } from '../../sandbox/certs.js';

/**
 * The run-from-package path depends on Azurite behaving like Blob storage for SAS URLs: the platform fetches the
 * package with nothing but the URL. These checks pin the behaviour the fakes and the action rely on.
 */

let azurite: AzuriteHandle;
let blob: BlockBlobClient;
let zip: Buffer;

const HOUR = 3600_000;

function readSas(
  client: BlockBlobClient,
  expiresOn = new Date(Date.now() + HOUR),
  startsOn?: Date,
): Promise<string> {
  return client.generateSasUrl({
    permissions: BlobSASPermissions.parse('r'),
    protocol: SASProtocol.Https,
    expiresOn,
    ...(startsOn ? { startsOn } : {}),
  });
}

beforeAll(async () => {
  azurite = await startAzurite({ certs: ensureCerts(process.env.SANDBOX_CERT_DIR as string) });
  const service = BlobServiceClient.fromConnectionString(azurite.connectionString);
  const container = service.getContainerClient('function-releases');
  await container.create();
  const archive = new JSZip();
  archive.file('host.json', '{"version":"2.0"}');
  archive.file('HttpTrigger/function.json', '{"bindings":[]}');
  zip = await archive.generateAsync({ type: 'nodebuffer', compression: 'DEFLATE' });
  blob = container.getBlockBlobClient('20260101T000000Z-abc1234/app.zip');
  await blob.uploadData(zip, {
    blobHTTPHeaders: { blobContentType: 'application/zip' },
    metadata: { sha256: createHash('sha256').update(zip).digest('hex'), app: 'func-one', commit: 'abc1234' },
  });
});

afterAll(async () => {
  await azurite?.stop();
});

describe('Azurite blob SAS fidelity', () => {
  it('serves the package over a read-only blob SAS with a plain fetch', async () => {
    const url = await readSas(blob);
    const sas = new URL(url).searchParams;
    expect(sas.get('sp')).toBe('r');
    expect(sas.get('spr')).toBe('https');
    expect(sas.get('sr')).toBe('b');
    expect(sas.get('sig')).toBeTruthy();
    const res = await fetch(url);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('application/zip');
    expect(Buffer.from(await res.arrayBuffer()).equals(zip)).toBe(true);
  });

  it('refuses the URL without a SAS', async () => {
    const res = await fetch(blob.url);
    expect(res.ok).toBe(false);
  });

  it('refuses an expired SAS', async () => {
    const url = await readSas(blob, new Date(Date.now() - 60_000), new Date(Date.now() - HOUR));
    const res = await fetch(url);
    expect(res.ok).toBe(false);
  });

  it('refuses a SAS whose signature was tampered with', async () => {
    const url = new URL(await readSas(blob));
    const sig = url.searchParams.get('sig') as string;
    const flipped = `${sig[0] === 'A' ? 'B' : 'A'}${sig.slice(1)}`;
    url.searchParams.set('sig', flipped);
    expect((await fetch(url)).ok).toBe(false);
    // Extending the expiry without re-signing must fail too.
    const extended = new URL(await readSas(blob));
    extended.searchParams.set('se', '2099-01-01T00:00:00Z');
    expect((await fetch(extended)).ok).toBe(false);
  });

  it('refuses writes made with a read SAS', async () => {
    const url = await readSas(blob);
    const put = await fetch(url, {
      method: 'PUT',
      headers: { 'x-ms-blob-type': 'BlockBlob', 'content-type': 'application/zip' },
      body: 'overwritten',
    });
    expect(put.ok).toBe(false);
    const del = await fetch(url, { method: 'DELETE' });
    expect(del.ok).toBe(false);
    // The package is untouched.
    expect((await blob.downloadToBuffer()).equals(zip)).toBe(true);
  });

  it('round-trips metadata and content type', async () => {
    const props = await blob.getProperties();
    expect(props.contentType).toBe('application/zip');
    expect(props.contentLength).toBe(zip.length);
    expect(props.metadata).toEqual({
      sha256: createHash('sha256').update(zip).digest('hex'),
      app: 'func-one',
      commit: 'abc1234',
    });
    const res = await fetch(await readSas(blob), { method: 'HEAD' });
    expect(res.status).toBe(200);
    expect(res.headers.get('x-ms-meta-app')).toBe('func-one');
  });
});
