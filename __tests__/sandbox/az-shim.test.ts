import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, join, resolve } from 'node:path';
import { AzureCliCredential } from '@azure/identity';
import { BlobServiceClient } from '@azure/storage-blob';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type AzuriteHandle, startAzurite } from '../../sandbox/azurite.js';
import { ensureCerts } from '../../sandbox/certs.js';
import {
  DEFAULT_SUBSCRIPTION_ID,
  DEFAULT_TENANT_ID,
  decodeToken,
  mintToken,
  verifyArmToken,
} from '../../sandbox/tokens.js';

const SHIM_DIR = resolve(import.meta.dirname, '../../sandbox/az-shim');
const ARM_ENDPOINT = 'https://127.0.0.1:9/';

let azurite: AzuriteHandle;
let work: string;
let configFile: string;
let childConnectLog: string;
const savedEnv = new Map<string, string | undefined>();
/** Every TCP/TLS connection this worker opens while the tests run. */
const connections: string[] = [];
const originalConnect = net.Socket.prototype.connect;

function setEnv(key: string, value: string | undefined): void {
  if (!savedEnv.has(key)) savedEnv.set(key, process.env[key]);
  if (value === undefined) delete process.env[key];
  else process.env[key] = value;
}

/** Runs the shim the way a step's shell would: by name, through PATH. */
function az(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  const result = spawnSync('az', args, { encoding: 'utf8', env: process.env });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

function connectTarget(args: unknown[]): string {
  // net.connect() hands Socket#connect an already-normalised [options, callback] array.
  const first = Array.isArray(args[0]) ? args[0][0] : args[0];
  if (typeof first === 'object' && first !== null) {
    const o = first as { host?: string; port?: number; path?: string };
    return o.path ?? `${o.host ?? 'localhost'}:${o.port}`;
  }
  return `${typeof args[1] === 'string' ? args[1] : 'localhost'}:${String(first)}`;
}

beforeAll(async () => {
  net.Socket.prototype.connect = function (this: net.Socket, ...args: unknown[]) {
    connections.push(connectTarget(args));
    return (originalConnect as (...a: unknown[]) => net.Socket).apply(this, args);
  } as typeof net.Socket.prototype.connect;

  azurite = await startAzurite({ certs: ensureCerts(process.env.SANDBOX_CERT_DIR as string) });
  work = mkdtempSync(join(tmpdir(), 'afpd-az-'));
  configFile = join(work, 'az-config.json');
  childConnectLog = join(work, 'child-connects.log');
  writeFileSync(
    configFile,
    JSON.stringify({
      subscriptionId: DEFAULT_SUBSCRIPTION_ID,
      tenantId: DEFAULT_TENANT_ID,
      subscriptionName: 'Sandbox Subscription',
      user: { name: 'sandbox-deployer', type: 'servicePrincipal' },
      resourceManagerEndpoint: ARM_ENDPOINT,
      callLog: join(work, 'az-calls.jsonl'),
    }),
  );
  // Loaded into every node the shim runs: records any connection attempt it makes (there must be none).
  const guard = join(work, 'connect-guard.cjs');
  writeFileSync(
    guard,
    `const net = require('node:net'); const fs = require('node:fs'); const c = net.Socket.prototype.connect;
net.Socket.prototype.connect = function (...a) { fs.appendFileSync(${JSON.stringify(childConnectLog)}, JSON.stringify(a[0]) + '\\n'); return c.apply(this, a); };`,
  );
  setEnv('PATH', `${SHIM_DIR}${delimiter}${process.env.PATH ?? ''}`);
  setEnv('AZ_SANDBOX_CONFIG', configFile);
  setEnv('NODE_OPTIONS', `${process.env.NODE_OPTIONS ?? ''} --require ${guard}`.trim());
});

afterAll(async () => {
  net.Socket.prototype.connect = originalConnect;
  for (const [key, value] of savedEnv) {
    if (value === undefined) delete process.env[key];
    else process.env[key] = value;
  }
  await azurite?.stop();
  if (work) rmSync(work, { recursive: true, force: true });
});

describe('sandbox tokens', () => {
  it('verifyArmToken accepts ARM audiences of the tenant and nothing else', () => {
    for (const audience of [
      'https://management.azure.com',
      'https://management.azure.com/',
      'https://management.core.windows.net/',
      'https://management.azure.com/.default',
    ]) {
      expect(verifyArmToken(mintToken({ audience, tenantId: DEFAULT_TENANT_ID }), DEFAULT_TENANT_ID)).toBe(
        true,
      );
    }
    const arm = 'https://management.azure.com/';
    expect(
      verifyArmToken(
        mintToken({ audience: 'https://storage.azure.com', tenantId: DEFAULT_TENANT_ID }),
        DEFAULT_TENANT_ID,
      ),
    ).toBe(false);
    expect(
      verifyArmToken(
        mintToken({ audience: arm, tenantId: '00000000-0000-4000-8000-0000000000cc' }),
        DEFAULT_TENANT_ID,
      ),
    ).toBe(false);
    const expired = mintToken({
      audience: arm,
      tenantId: DEFAULT_TENANT_ID,
      now: Math.floor(Date.now() / 1000) - 7200,
      ttlSeconds: 3600,
    });
    expect(verifyArmToken(expired, DEFAULT_TENANT_ID)).toBe(false);
    expect(verifyArmToken('x.y.z', DEFAULT_TENANT_ID)).toBe(false);
    expect(verifyArmToken('', DEFAULT_TENANT_ID)).toBe(false);
  });
});

describe('az shim with the real AzureCliCredential', () => {
  it('gets an ARM token that the fake ARM would accept', async () => {
    const token = await new AzureCliCredential().getToken('https://management.azure.com/.default');
    expect(verifyArmToken(token.token, DEFAULT_TENANT_ID)).toBe(true);
    expect(decodeToken(token.token)?.aud).toBe('https://management.azure.com');
    expect(token.expiresOnTimestamp).toBeGreaterThan(Date.now() + 30 * 60_000);
    // Exactly the arguments @azure/identity 4.14.1 passes, as the shim recorded them.
    const calls = readFileSync(join(work, 'az-calls.jsonl'), 'utf8').trim().split('\n');
    expect(JSON.parse(calls.at(-1) as string).argv).toEqual([
      'account',
      'get-access-token',
      '--output',
      'json',
      '--resource',
      'https://management.azure.com',
    ]);
  });

  it('gets a storage token that Azurite accepts, and Azurite refuses wrong audiences and expired tokens', async () => {
    const service = new BlobServiceClient(azurite.blobEndpoint, new AzureCliCredential());
    const container = service.getContainerClient('oauth-check');
    await container.create();
    const blob = container.getBlockBlobClient('hello.txt');
    await blob.upload('hello', 5);
    expect((await blob.downloadToBuffer()).toString()).toBe('hello');

    const withToken = (token: string) =>
      new BlobServiceClient(azurite.blobEndpoint, {
        getToken: async () => ({ token, expiresOnTimestamp: Date.now() + 3600_000 }),
      })
        .getContainerClient('oauth-check')
        .getBlockBlobClient('hello.txt')
        .downloadToBuffer();
    // Azurite answers 403 AuthenticationFailed where Azure may say 401; either way: refused.
    const refused = { statusCode: expect.toSatisfy((s: number) => s === 401 || s === 403) };
    await expect(
      withToken(mintToken({ audience: 'https://management.azure.com/', tenantId: DEFAULT_TENANT_ID })),
    ).rejects.toMatchObject(refused);
    const expired = mintToken({
      audience: 'https://storage.azure.com',
      tenantId: DEFAULT_TENANT_ID,
      now: Math.floor(Date.now() / 1000) - 7200,
    });
    await expect(withToken(expired)).rejects.toMatchObject(refused);
    expect(
      (
        await withToken(
          mintToken({ audience: 'https://storage.azure.com/.default', tenantId: DEFAULT_TENANT_ID }),
        )
      ).toString(),
    ).toBe('hello');
  });

  it('reports "az login" needed when no account is configured', async () => {
    setEnv('AZ_SANDBOX_CONFIG', undefined);
    try {
      await expect(
        new AzureCliCredential().getToken('https://management.azure.com/.default'),
      ).rejects.toMatchObject({
        name: 'CredentialUnavailableError',
        message: expect.stringMatching(/az login/),
      });
      expect(az('account', 'show').status).toBe(1);
    } finally {
      setEnv('AZ_SANDBOX_CONFIG', configFile);
    }
  });

  it('never connects anywhere but loopback, and the shim itself not at all', () => {
    expect(connections.length).toBeGreaterThan(0);
    expect(connections.filter((c) => !/^(127\.0\.0\.1|localhost|::1):/.test(c))).toEqual([]);
    expect(connections.some((c) => c.includes('169.254.169.254'))).toBe(false);
    expect(existsSync(childConnectLog)).toBe(false);
    // The shim is self-contained: node built-ins only, none of them for networking.
    const source = readFileSync(join(SHIM_DIR, 'az.mjs'), 'utf8');
    const imports = [...source.matchAll(/^import .* from '([^']+)';$/gm)].map((m) => m[1]);
    expect(imports.sort()).toEqual(['node:crypto', 'node:fs']);
    expect(source).not.toMatch(/169\.254|fetch\(|node:https?|node:net/);
  });
});

describe('az shim commands', () => {
  it('az account show', () => {
    const { status, stdout } = az('account', 'show', '--output', 'json');
    expect(status).toBe(0);
    expect(JSON.parse(stdout)).toMatchObject({
      id: DEFAULT_SUBSCRIPTION_ID,
      name: 'Sandbox Subscription',
      tenantId: DEFAULT_TENANT_ID,
      user: { name: 'sandbox-deployer', type: 'servicePrincipal' },
      isDefault: true,
      state: 'Enabled',
      environmentName: 'AzureCloud',
    });
    expect(az('account', 'show', '--query', 'id', '-o', 'tsv').stdout).toBe(`${DEFAULT_SUBSCRIPTION_ID}\n`);
    expect(az('account', 'show', '--subscription', 'nope').status).toBe(1);
  });

  it('az account get-access-token with --scope and --tenant', () => {
    const tenant = '00000000-0000-4000-8000-0000000000dd';
    const { status, stdout } = az(
      'account',
      'get-access-token',
      '-o',
      'json',
      '--scope',
      'https://storage.azure.com/.default',
      '--tenant',
      tenant,
    );
    expect(status).toBe(0);
    const body = JSON.parse(stdout) as Record<string, unknown>;
    expect(Object.keys(body).sort()).toEqual([
      'accessToken',
      'expiresOn',
      'expires_on',
      'tenant',
      'tokenType',
    ]);
    expect(body).toMatchObject({ tenant, tokenType: 'Bearer' });
    expect(body.expiresOn).toMatch(/^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}\.\d{6}$/);
    const claims = decodeToken(body.accessToken as string);
    expect(claims).toMatchObject({
      aud: 'https://storage.azure.com',
      tid: tenant,
      iss: `https://sts.windows.net/${tenant}/`,
      exp: body.expires_on,
    });

    const plain = JSON.parse(az('account', 'get-access-token').stdout) as Record<string, unknown>;
    expect(plain.subscription).toBe(DEFAULT_SUBSCRIPTION_ID);
    expect(verifyArmToken(plain.accessToken as string, DEFAULT_TENANT_ID)).toBe(true);
    expect(az('account', 'get-access-token', '--resource', 'a', '--scope', 'b').status).toBe(2);
  });

  it('az cloud show', () => {
    const { status, stdout } = az('cloud', 'show', '-o', 'json');
    expect(status).toBe(0);
    expect(JSON.parse(stdout)).toMatchObject({
      name: 'AzureCloud',
      isActive: true,
      endpoints: { resourceManager: ARM_ENDPOINT, activeDirectory: 'https://login.microsoftonline.com' },
      suffixes: { storageEndpoint: 'core.windows.net' },
    });
  });

  it('unknown commands and arguments exit 2 with an az-like error', () => {
    for (const args of [
      ['group', 'list'],
      ['account', 'list'],
      ['account', 'show', '--bogus', 'x'],
      ['cloud', 'show', '-o', 'yaml'],
      [],
    ]) {
      const { status, stdout, stderr } = az(...args);
      expect(status, args.join(' ')).toBe(2);
      expect(stdout).toBe('');
      expect(stderr).toMatch(/^ERROR: /);
    }
    expect(az('group', 'list').stderr).toContain("'group' is misspelled or not recognized by the system.");
  });
});

describe('az shim start-up delay and invocation log (AZ_SANDBOX_DELAY_MS, AZ_SANDBOX_LOG)', () => {
  /** Runs the shim with extra variables for this call only, timing the whole process. */
  function timedAz(extra: Record<string, string>, ...args: string[]) {
    const started = performance.now();
    const result = spawnSync('az', args, { encoding: 'utf8', env: { ...process.env, ...extra } });
    return {
      status: result.status,
      stdout: result.stdout,
      stderr: result.stderr,
      ms: performance.now() - started,
    };
  }

  it('every process waits the delay before it answers, whatever its outcome', () => {
    for (const args of [
      ['account', 'show'],
      ['group', 'list'],
    ]) {
      const { status, ms } = timedAz({ AZ_SANDBOX_DELAY_MS: '400' }, ...args);
      expect(status, args.join(' ')).toBe(args[0] === 'group' ? 2 : 0);
      expect(ms, args.join(' ')).toBeGreaterThanOrEqual(400);
    }
    const bad = timedAz({ AZ_SANDBOX_DELAY_MS: '1s' }, 'account', 'show');
    expect(bad.status).toBe(1);
    expect(bad.stderr).toBe("ERROR: AZ_SANDBOX_DELAY_MS must be an integer from 0 to 600000, not '1s'\n");
  });

  it('AzureCliCredential still gets its token through a slow az, and each process is one log line', async () => {
    const log = join(work, 'invocations.jsonl');
    setEnv('AZ_SANDBOX_LOG', log);
    setEnv('AZ_SANDBOX_DELAY_MS', '300');
    try {
      const started = performance.now();
      const token = await new AzureCliCredential().getToken('https://management.azure.com/.default');
      expect(performance.now() - started).toBeGreaterThanOrEqual(300);
      expect(verifyArmToken(token.token, DEFAULT_TENANT_ID)).toBe(true);
      // Failures count too: a process that stops at the parser or at "az login" was still started.
      expect(az('group', 'list').status).toBe(2);
      setEnv('AZ_SANDBOX_CONFIG', undefined);
      expect(az('account', 'show').status).toBe(1);
    } finally {
      setEnv('AZ_SANDBOX_CONFIG', configFile);
      setEnv('AZ_SANDBOX_DELAY_MS', undefined);
      setEnv('AZ_SANDBOX_LOG', undefined);
    }
    const lines = readFileSync(log, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines.map((l) => l.argv)).toEqual([
      ['account', 'get-access-token', '--output', 'json', '--resource', 'https://management.azure.com'],
      ['group', 'list'],
      ['account', 'show'],
    ]);
    expect(new Set(lines.map((l) => l.pid)).size).toBe(3);
    for (const l of lines) expect(String(l.at)).toMatch(/^\d{4}-\d{2}-\d{2}T/);
  });
});
