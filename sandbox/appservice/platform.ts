import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { BlobClient, type StoragePipelineOptions, StorageSharedKeyCredential } from '@azure/storage-blob';
import { discoverFunctions, HostError } from './discover.js';
import { flexPackage, flexRuntime, isFlex } from './flex.js';
import { type FunctionInfo, getSetting, recordEvent, redactSas, runFromPackage, type Site } from './state.js';

export const PACKAGE_NAME_FILE = 'packagename.txt';
const FETCH_TIMEOUT_MS = 15_000;
const LOOPBACK = new Set(['127.0.0.1', 'localhost', '[::1]']);

export interface PlatformDeps {
  ca: string;
  blob: { account: string; key: string };
  signal: AbortSignal;
}

interface Fetched {
  status: number;
  errorCode: string | undefined;
  body: Buffer;
}

function get(url: URL, ca: string, signal: AbortSignal): Promise<Fetched> {
  return new Promise((resolve, reject) => {
    const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
    // agent:false: no pooled socket outlives the load, so close() leaves nothing behind.
    const req = send(url, { method: 'GET', agent: false, ca, signal, timeout: FETCH_TIMEOUT_MS }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('error', reject);
      res.on('end', () => {
        const code = res.headers['x-ms-error-code'];
        resolve({
          status: res.statusCode ?? 0,
          errorCode: typeof code === 'string' ? code : res.statusMessage,
          body: Buffer.concat(chunks),
        });
      });
    });
    req.on('timeout', () => req.destroy(new Error(`no answer within ${FETCH_TIMEOUT_MS} ms`)));
    req.on('error', reject);
    req.end();
  });
}

/** The URL as it may appear in a message: never with its query (a SAS is a secret). */
function display(url: URL): string {
  const plain = `${url.origin}${url.pathname}`;
  return url.search === '' ? plain : `${plain} (${url.searchParams.has('sig') ? 'SAS' : 'query'} redacted)`;
}

async function readWithIdentity(url: URL, identity: string, deps: PlatformDeps): Promise<Buffer> {
  // tlsOptions is honoured by the core pipeline the storage client builds, though its option type omits it.
  const options: StoragePipelineOptions & { tlsOptions: { ca: string } } = {
    retryOptions: { maxTries: 1, tryTimeoutInMs: FETCH_TIMEOUT_MS },
    keepAliveOptions: { enable: false },
    tlsOptions: { ca: deps.ca },
  };
  const client = new BlobClient(
    `${url.origin}${url.pathname}`,
    new StorageSharedKeyCredential(deps.blob.account, deps.blob.key),
    options,
  );
  try {
    return await client.downloadToBuffer(0, undefined, { abortSignal: deps.signal });
  } catch (error) {
    const e = error as { statusCode?: number; code?: string; message?: string };
    const why =
      e.statusCode !== undefined
        ? `returned ${e.statusCode} ${e.code ?? ''}`.trim()
        : `failed: ${e.message ?? e}`;
    throw new HostError(`package ${display(url)} read with managed identity '${identity}' ${why}`);
  }
}

async function fetchUrl(
  site: Site,
  value: string,
  deps: PlatformDeps,
): Promise<{ bytes: Buffer; where: string }> {
  let url: URL;
  try {
    url = new URL(value.trim());
  } catch {
    throw new HostError('WEBSITE_RUN_FROM_PACKAGE is not a valid URL');
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:')
    throw new HostError(`package URL scheme '${url.protocol}' is not supported`);
  if (!LOOPBACK.has(url.hostname)) {
    throw new HostError(
      `package ${display(url)} is not reachable: the sandbox platform only fetches from 127.0.0.1/localhost`,
    );
  }
  const identity = getSetting(site, 'WEBSITE_RUN_FROM_PACKAGE_BLOB_MI_RESOURCE_ID');
  if (identity !== undefined && identity !== '') {
    if (!site.app.identities.some((id) => id.toLowerCase() === identity.toLowerCase())) {
      throw new HostError(
        `managed identity '${identity}' named by WEBSITE_RUN_FROM_PACKAGE_BLOB_MI_RESOURCE_ID is not assigned to the app`,
      );
    }
    return { bytes: await readWithIdentity(url, identity, deps), where: display(url) };
  }
  let fetched: Fetched;
  try {
    fetched = await get(url, deps.ca, deps.signal);
  } catch (error) {
    const e = error as NodeJS.ErrnoException;
    throw new HostError(`package ${display(url)} could not be fetched: ${e.code ?? e.message}`);
  }
  if (fetched.status !== 200) {
    throw new HostError(
      `package ${display(url)} returned ${fetched.status} ${fetched.errorCode ?? ''}`.trim(),
    );
  }
  return { bytes: fetched.body, where: display(url) };
}

/** The package the app runs from now, or undefined when there is none (the host starts with no functions). */
async function currentPackage(
  site: Site,
  deps: PlatformDeps,
): Promise<{ bytes: Buffer; where: string } | undefined> {
  // A Flex host runs the platform's released-package.zip; WEBSITE_RUN_FROM_PACKAGE is not used there (Learn
  // "Package-based deployment": "Runs from the deployed package by default. Don't set WEBSITE_RUN_FROM_PACKAGE") [DOC].
  if (isFlex(site)) return flexPackage(site, deps);
  const rfp = runFromPackage(site)?.trim();
  if (rfp !== undefined && /^http/i.test(rfp)) return fetchUrl(site, rfp, deps);
  if (rfp === '1') {
    const name = site.sitePackages.get(PACKAGE_NAME_FILE)?.bytes.toString('utf8');
    const zip = name === undefined ? undefined : site.sitePackages.get(name);
    if (zip) return { bytes: zip.bytes, where: `data/SitePackages/${name}` };
  }
  return site.wwwroot ? { bytes: site.wwwroot.bytes, where: 'site/wwwroot' } : undefined;
}

/**
 * The Functions host of each site: on every recycle it reloads the package the app points at.
 * Loads may overlap; the latest one started wins, so a slow stale fetch never overwrites a newer result.
 */
export class Platform {
  private readonly generation = new WeakMap<Site, number>();

  constructor(private readonly deps: PlatformDeps) {}

  reload(site: Site, reason: string): Promise<void> {
    const gen = (this.generation.get(site) ?? 0) + 1;
    this.generation.set(site, gen);
    // Flex: functionAppConfig.runtime.name, "FUNCTIONS_WORKER_RUNTIME is not used" (azure-contract.md §H) [SPEC].
    const language = flexRuntime(site) ?? getSetting(site, 'FUNCTIONS_WORKER_RUNTIME') ?? 'node';
    const setting = (name: string) => getSetting(site, name);
    const load = (async (): Promise<{ functions: FunctionInfo[]; error?: string; source: string }> => {
      try {
        const pkg = await currentPackage(site, this.deps);
        if (!pkg) return { functions: [], source: 'none' };
        return {
          functions: await discoverFunctions(pkg.bytes, pkg.where, { language, setting }),
          source: pkg.where,
        };
      } catch (error) {
        const message =
          error instanceof HostError ? error.message : `unexpected failure: ${(error as Error).message}`;
        return { functions: [], error: redactSas(`Host error: ${message}`), source: 'none' };
      }
    })().then((result) => {
      if (this.generation.get(site) !== gen) return;
      site.platform.loadCount += 1;
      site.platform.functions = result.functions;
      site.platform.hostError = result.error;
      site.platform.source = result.source;
      if (result.error === undefined) {
        recordEvent(
          site,
          'load-ok',
          `${reason}: ${result.functions.length} function(s) from ${result.source}`,
        );
      } else {
        recordEvent(site, 'load-failed', `${reason}: ${result.error}`);
      }
    });
    site.platform.loading = load;
    return load;
  }

  /** Waits for the newest load, starting the first one if the site was never loaded. */
  async settled(site: Site): Promise<void> {
    if (site.platform.loading === undefined) void this.reload(site, 'first request');
    let current: Promise<void> | undefined;
    do {
      current = site.platform.loading;
      await current;
    } while (current !== site.platform.loading);
  }
}
