import { BlobServiceClient } from '@azure/storage-blob';
import JSZip from 'jszip';
import { expect } from 'vitest';
import { AZURITE_KEY } from '../../sandbox/azurite.js';
import { functionAppZip, storeLegacyPackage as storeLegacy } from '../../sandbox/fixtures.js';
import { type Sandbox, startSandbox } from '../../sandbox/index.js';
import { type ActionRun, runAction } from '../../sandbox/run-action.js';
import { mintToken } from '../../sandbox/tokens.js';

export const ROOT = new URL('../..', import.meta.url).pathname;

export async function startE2ESandbox(seed: unknown): Promise<Sandbox> {
  const certDir = process.env.SANDBOX_CERT_DIR;
  return startSandbox(certDir ? { seed, certDir } : { seed });
}

export async function control<T = unknown>(
  sb: Sandbox,
  path: string,
  method = 'GET',
  body?: unknown,
): Promise<T> {
  const response = await fetch(`${sb.appService.controlUrl}${path}`, {
    method,
    ...(body === undefined
      ? {}
      : { body: JSON.stringify(body), headers: { 'content-type': 'application/json' } }),
  });
  const text = await response.text();
  if (!response.ok) throw new Error(`control ${method} ${path}: ${response.status} ${text}`);
  return (text ? JSON.parse(text) : undefined) as T;
}

export interface AppView {
  settings: Record<string, string>;
  events: { type?: string; kind?: string; detail?: string }[];
  functions: { name: string }[] | string[];
  hostError?: string | null;
  [key: string]: unknown;
}

export function appState(sb: Sandbox, app: string, slot?: string): Promise<AppView> {
  return control<AppView>(sb, `/apps/${app}${slot ? `?slot=${slot}` : ''}`);
}

/**
 * The app once its host has settled after the run (recycle over, list complete, Kudu caught up): what it runs
 * from now on, not a moment of its restart.
 */
export function settledState(sb: Sandbox, app: string, slot?: string): Promise<AppView> {
  return control<AppView>(sb, `/apps/${app}/settle${slot ? `?slot=${slot}` : ''}`, 'POST', {});
}

export function functionNames(view: AppView): string[] {
  return (view.functions as (string | { name: string })[])
    .map((f) => (typeof f === 'string' ? f : f.name))
    .sort();
}

export function setSettings(
  sb: Sandbox,
  app: string,
  settings: Record<string, string>,
  slot?: string,
): Promise<unknown> {
  return control(sb, `/apps/${app}/settings${slot ? `?slot=${slot}` : ''}`, 'PUT', settings);
}

/** Changes some settings behind the action's back, keeping the rest (as the portal would). */
export async function patchSettings(
  sb: Sandbox,
  app: string,
  patch: Record<string, string>,
  slot?: string,
): Promise<void> {
  const current = await appState(sb, app, slot);
  await setSettings(sb, app, { ...current.settings, ...patch }, slot);
}

/** The app's Kudu origin and publishing password, read through ARM as the portal's "Get publish profile" does. */
export async function publishingCredentials(
  sb: Sandbox,
  app: string,
): Promise<{ kuduUrl: string; password: string }> {
  const token = mintToken({ audience: 'https://management.azure.com/', tenantId: sb.tenantId });
  const site = `${sb.appService.armEndpoint}/subscriptions/${sb.subscriptionId}/resourceGroups/rg-e2e/providers/Microsoft.Web/sites/${app}`;
  const response = await fetch(`${site}/config/publishingcredentials/list?api-version=2024-11-01`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}` },
  });
  const body = (await response.json()) as { properties: { publishingPassword: string } };
  return { kuduUrl: sb.appService.kuduUrl(app), password: body.properties.publishingPassword };
}

export function deploy(
  sb: Sandbox,
  inputs: Record<string, string>,
  extraEnv: Record<string, string> = {},
): Promise<ActionRun> {
  return runAction({ inputs: { timeout: '60s', ...inputs }, env: sb.env, workspace: ROOT, extraEnv });
}

/** Azurite directly, past the storage front door's rules and faults: how a test looks at what is stored. */
export function blobService(sb: Sandbox): BlobServiceClient {
  return BlobServiceClient.fromConnectionString(sb.azurite.connectionString);
}

/** Uploads a zip to Azurite and returns a read SAS URL for it (what an earlier deploy would have left). */
/** A package left by an earlier deploy, with its read SAS URL. */
export function storeLegacyPackage(sb: Sandbox, name: string, zip: Buffer, expiresOn: Date): Promise<string> {
  return storeLegacy(sb.storage.connectionString, name, zip, expiresOn);
}

export { functionAppZip };

/** Every artifact the fake service stored, as parsed JSON documents by artifact name. */
export async function artifactDocuments(sb: Sandbox): Promise<Map<string, Record<string, unknown>>> {
  const docs = new Map<string, Record<string, unknown>>();
  const service = blobService(sb);
  for (const art of sb.artifacts.stored()) {
    if (!art.finalized) continue;
    const bytes = await service
      .getContainerClient(art.container)
      .getBlobClient(art.blobName)
      .downloadToBuffer();
    const zip = await JSZip.loadAsync(bytes);
    const file = Object.values(zip.files).find((f) => !f.dir);
    if (file) docs.set(art.name, JSON.parse(await file.async('string')) as Record<string, unknown>);
  }
  return docs;
}

/** Raw text of every artifact and every JSON blob in storage, for the secret scan. */
export async function storedTexts(sb: Sandbox): Promise<string[]> {
  const texts = [...(await artifactDocuments(sb)).values()].map((d) => JSON.stringify(d));
  const service = blobService(sb);
  for await (const container of service.listContainers()) {
    const c = service.getContainerClient(container.name);
    for await (const blob of c.listBlobsFlat({ includeMetadata: true })) {
      texts.push(JSON.stringify(blob.metadata ?? {}));
      if (blob.name.endsWith('.json'))
        texts.push((await c.getBlobClient(blob.name).downloadToBuffer()).toString('utf8'));
    }
  }
  return texts;
}

export function sasSignature(url: string | undefined): string | undefined {
  const m = url ? /[?&]sig=([^&]+)/.exec(url) : null;
  return m?.[1] ? decodeURIComponent(m[1]) : undefined;
}

/** No secret on any surface: the visible log, outputs, summary, artifacts and stored JSON. */
export async function expectNoSecrets(
  sb: Sandbox,
  run: ActionRun,
  secrets: (string | undefined)[],
): Promise<void> {
  const surfaces = [run.visibleLog, JSON.stringify(run.outputs), run.summary, ...(await storedTexts(sb))];
  const all = surfaces.join('\n');
  for (const secret of secrets) {
    if (!secret) continue;
    for (const form of new Set([secret, encodeURIComponent(secret)])) {
      expect(all.includes(form), `a secret (${form.slice(0, 4)}…) leaked`).toBe(false);
    }
  }
  // No bearer token of any kind.
  expect(all).not.toMatch(/eyJ[A-Za-z0-9_-]{10,}\.eyJ[A-Za-z0-9_-]{10,}/);
  // Azurite's account key stands in for a real storage key.
  expect(all).not.toContain(AZURITE_KEY);
}
