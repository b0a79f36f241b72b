import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Sandbox } from '../../sandbox/index.js';
import { blobService, deploy, functionNames, settledState, startE2ESandbox } from './helpers.js';
import { seed } from './seed.js';

/** A matrix of jobs sharing one deployment id and one container, through dist/index.js. */

const APPS = Array.from({ length: 8 }, (_, i) => `matrix-${i}`);
const EXPECTED = ['HttpHello', 'TimerTick'];

let sb: Sandbox;

beforeAll(async () => {
  sb = await startE2ESandbox(
    seed({
      ...Object.fromEntries(APPS.map((app) => [app, { os: 'linux' as const, sku: 'Y1' }])),
      'reused-app': { os: 'linux', sku: 'Y1' },
      'legacy-a': { os: 'linux', sku: 'Y1' },
      'legacy-b': { os: 'linux', sku: 'Y1' },
      'legacy-c': { os: 'linux', sku: 'Y1' },
    }),
  );
});
afterAll(async () => {
  await sb?.stop();
});

async function manifest(
  id: string,
): Promise<{ entries: { app: string; reused: boolean; package: { blob: string } }[] }> {
  const blob = blobService(sb).getContainerClient('deployments').getBlobClient(`${id}/manifest.json`);
  return JSON.parse((await blob.downloadToBuffer()).toString('utf8'));
}

async function packagesOf(app: string, container = 'deployments'): Promise<string[]> {
  const names: string[] = [];
  for await (const b of blobService(sb)
    .getContainerClient(container)
    .listBlobsFlat({ includeMetadata: true }))
    if (b.metadata?.app === app && b.name.endsWith('.zip')) names.push(b.name);
  return names.sort();
}

describe('a matrix of apps under one deployment id', () => {
  it('8 parallel runs: 8 entries in the one manifest, 8 packages, nothing clobbered', {
    timeout: 180_000,
  }, async () => {
    const runs = await Promise.all(
      APPS.map((app) =>
        deploy(sb, {
          'app-name': app,
          package: 'examples/hello-v3',
          'deployment-id': 'matrix-1',
          timeout: '120s',
        }),
      ),
    );
    for (const run of runs) expect(run.code, run.visibleLog).toBe(0);
    const doc = await manifest('matrix-1');
    expect(doc.entries.map((e) => e.app).sort()).toEqual([...APPS].sort());
    for (const app of APPS) {
      expect(await packagesOf(app)).toEqual([`matrix-1/${app}.zip`]);
      expect(doc.entries.find((e) => e.app === app)?.package.blob).toBe(`matrix-1/${app}.zip`);
    }
  });

  it("retention in one app's run deletes nothing another app references", async () => {
    const run = await deploy(sb, {
      'app-name': 'matrix-0',
      package: 'examples/hello-v4',
      'deployment-id': 'matrix-2',
      'retain-packages': '1',
    });
    expect(run.code, run.visibleLog).toBe(0);
    // matrix-0's old package was live before this run: kept. Every other app's package and entry are untouched.
    expect(await packagesOf('matrix-0')).toEqual(['matrix-1/matrix-0.zip', 'matrix-2/matrix-0.zip']);
    for (const app of APPS.slice(1)) expect(await packagesOf(app)).toEqual([`matrix-1/${app}.zip`]);
    expect((await manifest('matrix-1')).entries).toHaveLength(8);
  });

  it('rollback-to reads only its own app in a shared manifest', async () => {
    const run = await deploy(sb, {
      'app-name': 'matrix-0',
      'rollback-to': 'matrix-1',
      'deployment-id': 'matrix-3',
    });
    expect(run.code, run.visibleLog).toBe(0);
    expect(run.outputs['package-url']).toMatch(/\/matrix-1\/matrix-0\.zip$/);
    expect(functionNames(await settledState(sb, 'matrix-0'))).toEqual(EXPECTED);
  });
});

describe('a reused package is recorded under the new deployment id', () => {
  it('rollback-to the id of a run that uploaded nothing works', async () => {
    expect(
      (await deploy(sb, { 'app-name': 'reused-app', package: 'examples/hello-v3', 'deployment-id': 'u1' }))
        .code,
    ).toBe(0);
    const again = await deploy(sb, {
      'app-name': 'reused-app',
      package: 'examples/hello-v3',
      'deployment-id': 'u2',
    });
    expect(again.outputs['package-reused']).toBe('true');
    expect((await manifest('u2')).entries).toMatchObject([
      { app: 'reused-app', reused: true, package: { blob: 'u1/reused-app.zip' } },
    ]);
    expect(
      (await deploy(sb, { 'app-name': 'reused-app', package: 'examples/hello-v4', 'deployment-id': 'u3' }))
        .code,
    ).toBe(0);
    const back = await deploy(sb, { 'app-name': 'reused-app', 'rollback-to': 'u2', 'deployment-id': 'u4' });
    expect(back.code, back.visibleLog).toBe(0);
    expect(back.outputs['package-url']).toMatch(/\/u1\/reused-app\.zip$/);
    expect(functionNames(await settledState(sb, 'reused-app'))).toEqual(EXPECTED);
  });
});

describe('a container from before the package index', () => {
  const CONTAINER = 'legacy-store';
  const storage = () => blobService(sb).getContainerClient(CONTAINER);
  const storageControl = async <T>(method: string, path: string): Promise<T> => {
    const response = await fetch(`${sb.env.SANDBOX_STORAGE_CONTROL_URL}${path}`, { method });
    const text = await response.text();
    return (text ? JSON.parse(text) : undefined) as T;
  };
  const listings = async () =>
    (await storageControl<{ byRoute: Record<string, { action: number }> }>('GET', '/requests')).byRoute[
      'blob.container.list'
    ]?.action ?? 0;
  const json = async (name: string) =>
    JSON.parse((await storage().getBlobClient(name).downloadToBuffer()).toString('utf8'));

  it('is listed once, every app in it indexed; then no deploy lists it again', {
    timeout: 120_000,
  }, async () => {
    await storage().createIfNotExists();
    const legacy = [
      ['old-1/legacy-a.zip', 'legacy-a', '2026-01-01T00:00:00.001Z'],
      ['old-2/legacy-a.zip', 'legacy-a', '2026-01-01T00:00:00.002Z'],
      ['old-1/legacy-b.zip', 'legacy-b', '2026-01-01T00:00:00.001Z'],
    ] as const;
    for (const [name, app, deployedat] of legacy) {
      const deploymentid = name.split('/')[0] as string;
      await storage()
        .getBlockBlobClient(name)
        .uploadData(Buffer.from(`package of ${name}`), {
          metadata: { sha256: 'f'.repeat(63) + name.length, app, deploymentid, deployedat },
        });
    }
    // A status run only reads: it finds legacy-b's package by a listing and writes no index and no marker.
    const status = await deploy(sb, {
      'app-name': 'legacy-b',
      operation: 'status',
      'storage-container': CONTAINER,
    });
    expect(status.code, status.visibleLog).toBe(0);
    expect(status.summary).toContain('old-1');
    expect(await storage().getBlobClient('_index/_layout.json').exists()).toBe(false);
    expect(await storage().getBlobClient('_index/legacy-b.json').exists()).toBe(false);

    await storageControl('DELETE', '/requests');
    const first = await deploy(sb, {
      'app-name': 'legacy-a',
      package: 'examples/hello-v3',
      'storage-container': CONTAINER,
      'deployment-id': 'new-1',
      'retain-packages': '1',
    });
    expect(first.code, first.visibleLog).toBe(0);
    expect(await listings()).toBe(1);
    expect(first.visibleLog).toMatch(
      /Indexed the packages of 2 app\(s\) stored before the package index existed/,
    );
    // legacy-a's old packages were found, so retention could delete them (neither is live nor the previous one).
    expect(await packagesOf('legacy-a', CONTAINER)).toEqual(['new-1/legacy-a.zip']);
    // legacy-b's package is in its own index now, untouched.
    expect(await packagesOf('legacy-b', CONTAINER)).toEqual(['old-1/legacy-b.zip']);
    expect((await json('_index/legacy-b.json')).packages.map((p: { blob: string }) => p.blob)).toEqual([
      'old-1/legacy-b.zip',
    ]);
    expect(await json('_index/_layout.json')).toEqual({ schema: 'azure-functions-package-deploy/layout@1' });

    await storageControl('DELETE', '/requests');
    const fresh = await deploy(sb, {
      'app-name': 'legacy-c',
      package: 'examples/hello-v3',
      'storage-container': CONTAINER,
      'deployment-id': 'new-2',
    });
    expect(fresh.code, fresh.visibleLog).toBe(0);
    expect(await listings()).toBe(0);
    expect(await packagesOf('legacy-c', CONTAINER)).toEqual(['new-2/legacy-c.zip']);
  });
});
