import { execFileSync, spawn } from 'node:child_process';
import { connect } from 'node:net';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = new URL('../..', import.meta.url).pathname;

function portOpen(url: string): Promise<boolean> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve) => {
    const socket = connect(Number(port), hostname);
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

describe('npm run sandbox', () => {
  it('prints NAME=value lines, answers curl with the CA and an az token, and stops cleanly on SIGTERM', async () => {
    const child = spawn(
      process.execPath,
      [join(ROOT, 'node_modules/tsx/dist/cli.mjs'), 'sandbox/cli.ts', '--apps', 'sandbox/apps.example.json'],
      {
        cwd: ROOT,
        env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp' },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let out = '';
    const env = await new Promise<Record<string, string>>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`sandbox did not print its variables: ${out}`)),
        45_000,
      );
      child.stdout.on('data', (d: Buffer) => {
        out += d.toString();
        if (/^SANDBOX_STORAGE_CONNECTION_STRING=/m.test(out)) {
          clearTimeout(timer);
          resolve(
            Object.fromEntries(
              out
                .trim()
                .split('\n')
                .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
            ),
          );
        }
      });
      child.once('exit', (code) => reject(new Error(`sandbox exited with ${code}: ${out}`)));
    });
    for (const name of [
      'SANDBOX_ARM_ENDPOINT',
      'NODE_EXTRA_CA_CERTS',
      'PATH',
      'ACTIONS_RUNTIME_TOKEN',
      'ACTIONS_RESULTS_URL',
      'SANDBOX_BLOB_ENDPOINT',
      'SANDBOX_STORAGE_CONNECTION_STRING',
      'SANDBOX_STORAGE_CONTROL_URL',
      'SANDBOX_CONTROL_URL',
      'AZ_SANDBOX_CONFIG',
    ]) {
      expect(env[name], name).toBeTruthy();
    }
    const armEndpoint = env.SANDBOX_ARM_ENDPOINT as string;
    expect(new URL(armEndpoint).hostname).toBe('127.0.0.1');
    const shellEnv = { ...process.env, PATH: env.PATH, AZ_SANDBOX_CONFIG: env.AZ_SANDBOX_CONFIG };
    const token = execFileSync('az', ['account', 'get-access-token', '--query', 'accessToken', '-o', 'tsv'], {
      env: shellEnv,
    })
      .toString()
      .trim();
    const url = `${armEndpoint}/subscriptions/${env.SANDBOX_SUBSCRIPTION_ID}/resourceGroups/rg-sandbox/providers/Microsoft.Web/sites/func-linux-consumption?api-version=2024-11-01`;
    const body = execFileSync('curl', [
      '-sS',
      '--fail',
      '--cacert',
      env.NODE_EXTRA_CA_CERTS as string,
      '-H',
      `Authorization: Bearer ${token}`,
      url,
    ]).toString();
    expect(JSON.parse(body)).toMatchObject({
      name: 'func-linux-consumption',
      kind: 'functionapp,linux',
      properties: { sku: 'Dynamic' },
    });
    // Without the CA, curl refuses the certificate: the TLS is real.
    expect(() => execFileSync('curl', ['-sS', '--fail', url], { stdio: 'pipe' })).toThrow();
    // The storage control URL answers with the account's rules and the request counters.
    const storage = JSON.parse(
      execFileSync('curl', [
        '-sS',
        '--fail',
        '--cacert',
        env.NODE_EXTRA_CA_CERTS as string,
        env.SANDBOX_STORAGE_CONTROL_URL as string,
      ]).toString(),
    ) as { account: Record<string, boolean>; blobEndpoint: string };
    expect(storage.account).toEqual({ firewall: false, blockPlatform: false, allowSharedKeyAccess: true });
    expect(storage.blobEndpoint).toBe(env.SANDBOX_BLOB_ENDPOINT);

    const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
    for (const endpoint of [
      armEndpoint,
      env.ACTIONS_RESULTS_URL as string,
      env.SANDBOX_BLOB_ENDPOINT as string,
      env.SANDBOX_STORAGE_CONTROL_URL as string,
    ]) {
      expect(await portOpen(endpoint), endpoint).toBe(false);
    }
  });
});
