import { closeSync, mkdtempSync, openSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Sandbox } from '../../sandbox/index.js';
import {
  appState,
  artifactDocuments,
  blobService,
  control,
  deploy,
  functionAppZip,
  functionNames,
  patchSettings,
  ROOT,
  settledState,
  startE2ESandbox,
  storeLegacyPackage,
} from './helpers.js';
import { nodeSettings, seed } from './seed.js';

/** The platform as it behaves (recycles, late settings, load errors, builds, swaps, refusals), through dist/. */

const EXPECTED = ['HttpHello', 'TimerTick'];
const PYTHON = ['Tick', 'hello', 'on_work_item'];
const pythonSettings = (extra: Record<string, string> = {}) => ({
  ...nodeSettings(extra),
  FUNCTIONS_WORKER_RUNTIME: 'python',
});

let sb: Sandbox;
let legacyUrl: string;

beforeAll(async () => {
  sb = await startE2ESandbox(
    seed({
      'py-missing': { os: 'linux', sku: 'EP1', linuxFx: 'Python|3.11', settings: pythonSettings() },
      'py-build': { os: 'linux', sku: 'EP1', linuxFx: 'Python|3.11', settings: pythonSettings() },
      'dotnet-iso': {
        os: 'windows',
        sku: 'EP1',
        settings: nodeSettings({ FUNCTIONS_WORKER_RUNTIME: 'dotnet-isolated' }),
      },
      'old-name': { os: 'windows', sku: 'EP1' },
      'one-rollback': { os: 'linux', sku: 'EP1', settings: nodeSettings({ WEBSITE_RUN_FROM_PACKAGE: '1' }) },
      'swap-app': { os: 'windows', sku: 'EP1', slots: ['staging'] },
      'container-app': {
        os: 'linux',
        sku: 'EP1',
        kind: 'functionapp,linux,container',
        linuxFx: 'DOCKER|contoso/functions:1',
        imageFunctions: ['ImageFn'],
      },
      'too-big': { os: 'linux', sku: 'Y1' },
      'behind-firewall': { os: 'linux', sku: 'Y1' },
      'scm-restricted': { os: 'windows', sku: 'EP1' },
    }),
  );
  legacyUrl = await storeLegacyPackage(
    sb,
    'old-name.zip',
    await functionAppZip(['LegacyFn']),
    new Date(Date.now() + 200 * 86_400_000),
  );
  await patchSettings(sb, 'old-name', { WEBSITE_RUN_FROM_ZIP: legacyUrl });
});
afterAll(async () => {
  await sb?.stop();
});

describe('honest verification', () => {
  it('a Python app whose dependencies are missing fails with the host load error and rolls back', async () => {
    const before = await settledState(sb, 'py-missing');
    const run = await deploy(sb, {
      'app-name': 'py-missing',
      package: 'examples/python-v2',
      'remote-build': 'false',
      timeout: '15s',
    });
    expect(run.code).not.toBe(0);
    expect(run.outputs['mode-reason']).toMatch(
      /remote-build false: the package has a requirements\.txt but no \.python_packages/,
    );
    expect(run.visibleLog).toMatch(
      /::error::The functions of the package were not listed.*host Error with load errors: .*ModuleNotFoundError: No module named 'requests'/,
    );
    expect(run.summary).toMatch(/ModuleNotFoundError/);
    expect(run.visibleLog).toMatch(
      /WEBSITE_RUN_FROM_PACKAGE was restored to \(absent\) and verified by a fresh read/,
    );
    expect((await settledState(sb, 'py-missing')).settings).toEqual(before.settings);
  });

  it('the same app with remote-build auto: =1 left out, Kudu builds it (Oryx), its functions load', async () => {
    const run = await deploy(sb, { 'app-name': 'py-build', package: 'examples/python-v2' });
    expect(run.code, run.visibleLog).toBe(0);
    expect(run.outputs['mode-reason']).toMatch(/remote-build auto .*Kudu builds the app \(Oryx\)/);
    expect(JSON.parse(run.outputs.functions ?? '[]')).toEqual(PYTHON);
    const after = await settledState(sb, 'py-build');
    expect(after.settings.WEBSITE_RUN_FROM_PACKAGE).toBeUndefined();
    expect(after.settings.SCM_DO_BUILD_DURING_DEPLOYMENT).toBe('true');
    expect(after.settings.ENABLE_ORYX_BUILD).toBe('true');
    expect(functionNames(after)).toEqual(PYTHON);
  });

  it('a .NET isolated package is verified by the names in its functions.metadata', async () => {
    const run = await deploy(sb, { 'app-name': 'dotnet-iso', package: 'examples/dotnet-isolated' });
    expect(run.code, run.visibleLog).toBe(0);
    expect(run.visibleLog).toMatch(/2 functions \(HttpHello, NightlyCleanup\)/);
    expect(JSON.parse(run.outputs.functions ?? '[]')).toEqual(['HttpHello', 'NightlyCleanup']);
    const record = (await artifactDocuments(sb)).get(run.outputs['record-artifact-name'] ?? '');
    expect(record).toMatchObject({ package: { functionsInPackage: ['HttpHello', 'NightlyCleanup'] } });
  });
});

describe('the package setting, its old name, and =1', () => {
  it('WEBSITE_RUN_FROM_ZIP (the old name) is the conflict too: backed up, removed, =1, zipdeploy', async () => {
    const before = await appState(sb, 'old-name');
    const run = await deploy(sb, {
      'app-name': 'old-name',
      package: 'examples/hello-v3',
      'deploy-mode': 'zipdeploy',
    });
    expect(run.code, run.visibleLog).toBe(0);
    expect(run.outputs['mode-reason']).toMatch(/Conflict: WEBSITE_RUN_FROM_PACKAGE is a URL/);
    const after = await settledState(sb, 'old-name');
    expect(after.settings.WEBSITE_RUN_FROM_ZIP).toBeUndefined();
    expect(after.settings.WEBSITE_RUN_FROM_PACKAGE).toBe('1');
    const { WEBSITE_RUN_FROM_ZIP: _old, ...rest } = before.settings;
    expect({ ...after.settings, WEBSITE_RUN_FROM_PACKAGE: undefined }).toEqual({
      ...rest,
      WEBSITE_RUN_FROM_PACKAGE: undefined,
    });
    const backup = (await artifactDocuments(sb)).get(run.outputs['backup-artifact-name'] ?? '');
    expect(backup).toMatchObject({ setting: 'WEBSITE_RUN_FROM_ZIP', blob: { name: 'old-name.zip' } });
    expect(functionNames(after)).toEqual(EXPECTED);
  });

  it('an app that runs =1 is rolled back by zipdeploying its previous package, never switched to a URL', async () => {
    const good = await deploy(sb, {
      'app-name': 'one-rollback',
      package: 'examples/hello-v3',
      'deployment-id': 'good',
    });
    expect(good.code, good.visibleLog).toBe(0);
    const runsBefore = (await settledState(sb, 'one-rollback')).packageName;
    // A Python package on this Node app: the host finds none of its functions, so verification fails.
    const bad = await deploy(sb, {
      'app-name': 'one-rollback',
      package: 'examples/python-v2',
      'remote-build': 'false',
      timeout: '12s',
    });
    expect(bad.code).not.toBe(0);
    expect(bad.visibleLog).toMatch(
      /Kept a copy of the package the app runs now \(data\/SitePackages\/\d+\.zip\)/,
    );
    expect(bad.visibleLog).toMatch(
      /The previous package \(data\/SitePackages\/\d+\.zip\) was deployed again by zipdeploy/,
    );
    const after = await settledState(sb, 'one-rollback');
    expect(after.settings.WEBSITE_RUN_FROM_PACKAGE).toBe('1');
    expect(after.packageName).not.toBe(runsBefore);
    expect(functionNames(after)).toEqual(EXPECTED);
    const record = (await artifactDocuments(sb)).get(bad.outputs['record-artifact-name'] ?? '');
    expect(record).toMatchObject({ outcome: 'rolled-back' });
  });
});

describe('slots', () => {
  it("after a swap production runs the slot's package: retention on the slot keeps it", async () => {
    const v1 = await deploy(sb, {
      'app-name': 'swap-app',
      'slot-name': 'staging',
      package: 'examples/hello-v3',
      'deploy-mode': 'run-from-package',
      'deployment-id': 'swap-1',
    });
    expect(v1.code, v1.visibleLog).toBe(0);
    await control(sb, '/apps/swap-app/swap?slot=staging', 'POST', {});
    const production = await settledState(sb, 'swap-app');
    expect(production.settings.WEBSITE_RUN_FROM_PACKAGE).toMatch(/\/swap-1\/swap-app-staging\.zip\?/);
    for (const [i, pkg] of ['examples/hello-v4', 'examples/dotnet-isolated'].entries()) {
      const run = await deploy(sb, {
        'app-name': 'swap-app',
        'slot-name': 'staging',
        package: pkg,
        'deploy-mode': 'run-from-package',
        'deployment-id': `swap-${i + 2}`,
        'retain-packages': '1',
      });
      expect(run.code, run.visibleLog).toBe(0);
    }
    const stored: string[] = [];
    for await (const b of blobService(sb).getContainerClient('deployments').listBlobsFlat())
      if (b.name.endsWith('/swap-app-staging.zip')) stored.push(b.name);
    // swap-3 is live on the slot; swap-2 ran there before it; swap-1 runs in production since the swap.
    expect(stored.sort()).toEqual([
      'swap-1/swap-app-staging.zip',
      'swap-2/swap-app-staging.zip',
      'swap-3/swap-app-staging.zip',
    ]);
    expect(functionNames(await settledState(sb, 'swap-app'))).toEqual(EXPECTED);
  });
});

describe('refused before any write', () => {
  it('a container app', async () => {
    const before = await appState(sb, 'container-app');
    const run = await deploy(sb, { 'app-name': 'container-app', package: 'examples/hello-v3' });
    expect(run.code).not.toBe(0);
    expect(run.visibleLog).toMatch(
      /::error::container-app runs a container image \(kind 'functionapp,linux,container', linuxFxVersion 'DOCKER\|contoso\/functions:1'\)/,
    );
    const after = await appState(sb, 'container-app');
    expect(after.settings).toEqual(before.settings);
    expect(after.events.length).toBe(before.events.length);
  });

  it('a package over 1 GB for an app that mounts it', { timeout: 120_000 }, async () => {
    // 1 GiB and a bit of incompressible-looking nothing: a sparse file, stored (level 0), so the zip is that large.
    const dir = mkdtempSync(join(tmpdir(), 'afpd-big-'));
    writeFileSync(join(dir, 'host.json'), JSON.stringify({ version: '2.0' }));
    writeFileSync(join(dir, 'Big.js'), 'module.exports = 1;');
    const fd = openSync(join(dir, 'blob.bin'), 'w');
    writeSync(fd, Buffer.from([1]), 0, 1, 1024 ** 3 + 1024 * 1024);
    closeSync(fd);
    const before = await appState(sb, 'too-big');
    const run = await deploy(
      sb,
      { 'app-name': 'too-big', package: relative(ROOT, dir), 'compression-level': '0', timeout: '100s' },
      { RUNNER_TEMP: dir },
    ).finally(() => rmSync(dir, { recursive: true, force: true }));
    expect(run.code).not.toBe(0);
    expect(run.visibleLog).toMatch(
      /::error::The package is 1\.00 GB; a package the app runs from \(a package URL\) is at most 1 GB.*nothing was changed/,
    );
    const after = await appState(sb, 'too-big');
    expect(after.settings).toEqual(before.settings);
    expect(after.events.length).toBe(before.events.length);
  });
});

describe('refusals explained', () => {
  it('a storage firewall: the 403 AuthorizationFailure names the firewall, and the app is unchanged', async () => {
    const before = await appState(sb, 'behind-firewall');
    await fetch(`${sb.storage.controlUrl}/account`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ firewall: true }),
    });
    try {
      const run = await deploy(sb, {
        'app-name': 'behind-firewall',
        package: 'examples/hello-v3',
        timeout: '20s',
      });
      expect(run.code).not.toBe(0);
      expect(run.visibleLog).toMatch(
        /::error::.*\(HTTP 403 AuthorizationFailure\).*firewall refuses this runner/,
      );
      expect((await appState(sb, 'behind-firewall')).settings).toEqual(before.settings);
    } finally {
      await fetch(`${sb.storage.controlUrl}/account`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ firewall: false }),
      });
    }
  });

  it('SCM access restrictions: the 403 "Ip Forbidden" names them', async () => {
    await control(sb, '/apps/scm-restricted/kudu', 'POST', { ipRestricted: true });
    const run = await deploy(sb, {
      'app-name': 'scm-restricted',
      package: 'examples/hello-v3',
      timeout: '20s',
    });
    expect(run.code).not.toBe(0);
    expect(run.visibleLog).toMatch(
      /::error::.*HTTP 403.*SCM \(Kudu\) site has access restrictions that refuse this runner/,
    );
    // The settings write went first and was put back: the app runs what it ran.
    expect(run.visibleLog).toMatch(/WEBSITE_RUN_FROM_PACKAGE was restored to \(absent\)/);
  });
});
