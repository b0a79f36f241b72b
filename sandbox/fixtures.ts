import {
  BlobSASPermissions,
  BlobServiceClient,
  generateBlobSASQueryParameters,
  SASProtocol,
  StorageSharedKeyCredential,
} from '@azure/storage-blob';
import JSZip from 'jszip';
import { AZURITE_ACCOUNT, AZURITE_KEY } from './azurite.js';

/** A minimal classic-model function app zip: host.json plus one HTTP function per name. */
export async function functionAppZip(functions: string[]): Promise<Buffer> {
  const zip = new JSZip();
  zip.file('host.json', JSON.stringify({ version: '2.0' }));
  for (const f of functions) {
    zip.file(
      `${f}/function.json`,
      JSON.stringify({
        bindings: [
          { type: 'httpTrigger', direction: 'in', name: 'req', authLevel: 'function' },
          { type: 'http', direction: 'out', name: 'res' },
        ],
      }),
    );
    zip.file(`${f}/index.js`, 'module.exports = async () => ({ body: "ok" });');
  }
  return zip.generateAsync({ type: 'nodebuffer' });
}

/**
 * Stores a package in the sandbox's Azurite (container `legacy`) and returns a read-only SAS URL for it: what an
 * earlier run-from-package deploy by another tool would have left in WEBSITE_RUN_FROM_PACKAGE.
 */
export async function storeLegacyPackage(
  connectionString: string,
  name: string,
  zip: Buffer,
  expiresOn: Date,
): Promise<string> {
  const container = BlobServiceClient.fromConnectionString(connectionString).getContainerClient('legacy');
  await container.createIfNotExists();
  const blob = container.getBlockBlobClient(name);
  await blob.uploadData(zip, { blobHTTPHeaders: { blobContentType: 'application/zip' } });
  const sas = generateBlobSASQueryParameters(
    {
      containerName: 'legacy',
      blobName: name,
      permissions: BlobSASPermissions.parse('r'),
      protocol: SASProtocol.Https,
      startsOn: new Date(Date.now() - 3600_000),
      expiresOn,
    },
    new StorageSharedKeyCredential(AZURITE_ACCOUNT, AZURITE_KEY),
  );
  return `${blob.url}?${sas.toString()}`;
}

/**
 * Ages a package URL's SAS: the same blob, re-signed with the account key to expire at `expiresOn`, as a URL
 * written a year ago looks today. The sandbox's way to show rotation without waiting a year.
 */
export function resignSas(url: string, expiresOn: Date): string {
  const parsed = new URL(url);
  const [, , container, ...name] = parsed.pathname.split('/');
  if (!container || name.length === 0)
    throw new Error(`not a path-style blob URL: ${parsed.origin}${parsed.pathname}`);
  const sas = generateBlobSASQueryParameters(
    {
      containerName: container,
      blobName: decodeURIComponent(name.join('/')),
      permissions: BlobSASPermissions.parse('r'),
      protocol: SASProtocol.Https,
      startsOn: new Date(expiresOn.getTime() - 400 * 86_400_000),
      expiresOn,
    },
    new StorageSharedKeyCredential(AZURITE_ACCOUNT, AZURITE_KEY),
  );
  return `${parsed.origin}${parsed.pathname}?${sas.toString()}`;
}
