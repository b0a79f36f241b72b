import { type ChildProcess, spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import type { SandboxCerts } from './certs.js';

/** Azurite's well-known development account (public, documented; not a secret of any real account). */
export const AZURITE_ACCOUNT = 'devstoreaccount1';
export const AZURITE_KEY =
  'Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==';

export interface AzuriteHandle {
  /** https://127.0.0.1:PORT/devstoreaccount1 */
  blobEndpoint: string;
  port: number;
  connectionString: string;
  stop(): Promise<void>;
}

export interface AzuriteOptions {
  certs: SandboxCerts;
  /** Accept Entra ID bearer tokens (Azurite's basic OAuth, HTTPS only). */
  oauth?: boolean;
}

/** Starts Azurite's blob service in memory, over HTTPS, on an ephemeral loopback port. */
export async function startAzurite(options: AzuriteOptions): Promise<AzuriteHandle> {
  const require = createRequire(import.meta.url);
  const main = require.resolve('azurite/dist/src/blob/main.js');
  const args = [
    main,
    '--inMemoryPersistence',
    '--blobHost',
    '127.0.0.1',
    '--blobPort',
    '0',
    '--disableTelemetry',
    '--skipApiVersionCheck',
    '--loose',
    '--cert',
    options.certs.certFile,
    '--key',
    options.certs.keyFile,
    '--silent',
    '--extentMemoryLimit',
    '512',
  ];
  if (options.oauth !== false) args.push('--oauth', 'basic');
  // Azurite checks a SAS copy source by requesting it (BlobHandler.validateCopySource): through the front door,
  // over the sandbox's TLS, so it must trust the sandbox CA whatever the parent's environment.
  const env = { ...process.env, NODE_EXTRA_CA_CERTS: options.certs.caFile };
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'], env });
  // Azurite must not outlive whoever started it, even when that process exits without calling stop().
  const killOnExit = () => child.kill('SIGKILL');
  process.once('exit', killOnExit);
  child.once('exit', () => process.removeListener('exit', killOnExit));
  const port = await new Promise<number>((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`Azurite did not start within 30 s: ${out.slice(-500)}`));
    }, 30_000);
    const onData = (chunk: Buffer) => {
      out += chunk.toString();
      const match = /successfully listens on https?:\/\/127\.0\.0\.1:(\d+)/i.exec(out);
      if (match?.[1]) {
        clearTimeout(timer);
        resolve(Number(match[1]));
      }
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`Azurite exited with code ${code}: ${out.slice(-500)}`));
    });
  });
  child.stdout?.resume();
  child.stderr?.resume();
  const blobEndpoint = `https://127.0.0.1:${port}/${AZURITE_ACCOUNT}`;
  return {
    blobEndpoint,
    port,
    connectionString: `DefaultEndpointsProtocol=https;AccountName=${AZURITE_ACCOUNT};AccountKey=${AZURITE_KEY};BlobEndpoint=${blobEndpoint};`,
    stop: () => stopChild(child),
  };
}

function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    child.kill('SIGTERM');
  });
}
