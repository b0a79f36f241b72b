/**
 * npm run bench:e2e [-- --rounds 3 --slow-az-ms 1000 --cases rfp-first,zipdeploy --sizes 0,10000,50000
 *                      --container-slow-az --seed-concurrency 64 --out bench/e2e.json]
 *
 * Whole deploys of the bundled action (dist/index.js of this checkout, run as a runner runs it) against one
 * sandbox, measured: wall time, the requests each deploy made to ARM, Kudu, the Functions hosts, blob storage and
 * the artifact service (the action's own; the platform's package fetches apart), and the `az` processes it
 * started. Each case runs with the instant az shim and with an az that takes --slow-az-ms per process (the real
 * CLI takes 0.5 to 3 s). Writes bench/e2e.json and prints a table. It reports what it measured; nothing in it is a
 * target.
 */
import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { availableParallelism, cpus, loadavg, release, tmpdir, totalmem } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { parseArgs } from 'node:util';
import { BlobServiceClient, type ContainerClient } from '@azure/storage-blob';
import JSZip from 'jszip';
import type { AppServiceRequestCounters } from '../sandbox/appservice/index.js';
import type { ArtifactRequestCounters } from '../sandbox/artifacts/index.js';
import { functionAppZip, storeLegacyPackage } from '../sandbox/fixtures.js';
import { type Sandbox, startSandbox } from '../sandbox/index.js';
import { type ActionRun, DIST_ENTRY, runAction } from '../sandbox/run-action.js';
import type { RequestCounters } from '../sandbox/storage-front.js';
import {
  INDEX_SCHEMA,
  type IndexEntry,
  indexBlobName,
  LAYOUT_MARKER,
  LAYOUT_SCHEMA,
  MANIFEST_SCHEMA_V2,
} from '../src/store.js';

const here = import.meta.dirname;
const root = dirname(here);
const { values: args } = parseArgs({
  options: {
    rounds: { type: 'string', default: '3' },
    'slow-az-ms': { type: 'string', default: '1000' },
    cases: { type: 'string' },
    sizes: { type: 'string', default: '0,10000,50000' },
    'container-slow-az': { type: 'boolean', default: false },
    'seed-concurrency': { type: 'string', default: '64' },
    'action-timeout': { type: 'string', default: '5m' },
    out: { type: 'string', default: join(here, 'e2e.json') },
  },
});
const rounds = Math.max(1, Number(args.rounds));
const slowAzMs = Number(args['slow-az-ms']);
const sizes = args.sizes
  .split(',')
  .filter((s) => s !== '')
  .map(Number)
  .sort((a, b) => a - b);
const seedConcurrency = Math.max(1, Number(args['seed-concurrency']));
/**
 * The action's `timeout` input for every run: it bounds the action's waits and retries, so a case that cannot
 * succeed fails within it instead of after the action's default 20 minutes. A deploy that works needs a fraction.
 */
const actionTimeout = args['action-timeout'];
const actionTimeoutMs = (() => {
  const m = /^(\d+)(s|m)$/.exec(actionTimeout);
  if (!m) throw new Error(`--action-timeout takes seconds or minutes (90s, 5m), not '${actionTimeout}'`);
  return Number(m[1]) * (m[2] === 'm' ? 60_000 : 1000);
})();
const RG = 'rg-bench';
/** Where the container-size cases put their packages: one empty container, one that grows from size to size. */
const EMPTY_CONTAINER = 'bench-empty';
const CROWDED_CONTAINER = 'bench-crowded';

function log(message: string): void {
  process.stderr.write(`${message}\n`);
}

interface CaseDef {
  id: string;
  title: string;
  os: 'linux' | 'windows';
  sku: string;
  /** The app's WEBSITE_RUN_FROM_PACKAGE before the case: absent, `1`, or a URL left by another tool. */
  setting: 'absent' | '1' | 'url';
  package: string;
  /** Deployed (unmeasured) to the same app just before the measured run. */
  setup?: string;
  inputs: Record<string, string>;
  expect: { mode: string; reused?: boolean };
  /** Container-size cases: the package container and how many blobs of other apps it holds. */
  container?: { name: string; otherBlobs: number };
  azDelays: number[];
}

const bothAz = [0, slowAzMs];
const BASE_CASES: CaseDef[] = [
  {
    id: 'rfp-first',
    title: 'run-from-package, first deploy (Linux Consumption)',
    os: 'linux',
    sku: 'Y1',
    setting: 'absent',
    package: 'examples/hello-v3',
    inputs: {},
    expect: { mode: 'run-from-package', reused: false },
    azDelays: bothAz,
  },
  {
    id: 'rfp-redeploy',
    title: 'run-from-package, redeploy of a changed package (Linux Consumption)',
    os: 'linux',
    sku: 'Y1',
    setting: 'absent',
    setup: 'examples/hello-v3',
    package: 'examples/hello-v4',
    inputs: {},
    expect: { mode: 'run-from-package', reused: false },
    azDelays: bothAz,
  },
  {
    id: 'rfp-unchanged',
    title: 'run-from-package, unchanged rerun: same package, reused (Linux Consumption)',
    os: 'linux',
    sku: 'Y1',
    setting: 'absent',
    setup: 'examples/hello-v3',
    package: 'examples/hello-v3',
    inputs: {},
    expect: { mode: 'run-from-package', reused: true },
    azDelays: bothAz,
  },
  {
    id: 'zipdeploy',
    title: 'zipdeploy, WEBSITE_RUN_FROM_PACKAGE=1 (Windows Elastic Premium)',
    os: 'windows',
    sku: 'EP1',
    setting: '1',
    package: 'examples/hello-v3',
    inputs: {},
    expect: { mode: 'zipdeploy' },
    azDelays: bothAz,
  },
  {
    id: 'conflict',
    title:
      'the conflict: URL setting + deploy-mode zipdeploy, backed up and replaced (Windows Elastic Premium)',
    os: 'windows',
    sku: 'EP1',
    setting: 'url',
    package: 'examples/hello-v3',
    inputs: { 'deploy-mode': 'zipdeploy' },
    expect: { mode: 'zipdeploy' },
    azDelays: bothAz,
  },
];
const CONTAINER_CASES: CaseDef[] = sizes.map((size) => ({
  id: `rfp-container-${size}`,
  title: `run-from-package, first deploy, ${size.toLocaleString('en-US')} blobs of other apps in the container (Linux Consumption)`,
  os: 'linux',
  sku: 'Y1',
  setting: 'absent',
  package: 'examples/hello-v3',
  inputs: { 'storage-container': size === 0 ? EMPTY_CONTAINER : CROWDED_CONTAINER },
  expect: { mode: 'run-from-package', reused: false },
  container: { name: size === 0 ? EMPTY_CONTAINER : CROWDED_CONTAINER, otherBlobs: size },
  azDelays: args['container-slow-az'] ? bothAz : [0],
}));
const wanted = args.cases?.split(',');
const cases = [...BASE_CASES, ...CONTAINER_CASES].filter(
  (c) => !wanted || wanted.includes(c.id) || (c.container && wanted.includes('rfp-container')),
);

const azLabel = (ms: number) => (ms === 0 ? 'instant' : `${ms / 1000} s`);
const keyOf = (c: CaseDef, ms: number) => `${c.id}/az-${ms}ms`;
/** A fresh app per sample: "first deploy" is a first deploy, and no sample sees another's state. */
const appName = (c: CaseDef, ms: number, round: number) => `b-${c.id}-az${ms}-${round + 1}`;

function seedDocument(): unknown {
  const apps = cases.flatMap((c) =>
    c.azDelays.flatMap((ms) =>
      Array.from({ length: rounds }, (_, r) => ({
        name: appName(c, ms, r),
        resourceGroup: RG,
        location: 'East US',
        os: c.os,
        plan: { name: `plan-${appName(c, ms, r)}`, sku: c.sku },
        linuxFxVersion: c.os === 'linux' ? 'Node|20' : '',
        identities: ['SystemAssigned'],
        settings: {
          FUNCTIONS_WORKER_RUNTIME: 'node',
          FUNCTIONS_EXTENSION_VERSION: '~4',
          ...(c.os === 'windows' ? { WEBSITE_NODE_DEFAULT_VERSION: '~20' } : {}),
          AzureWebJobsStorage: '${AZURITE_CONNECTION_STRING}',
          ...(c.setting === '1' ? { WEBSITE_RUN_FROM_PACKAGE: '1' } : {}),
        },
      })),
    ),
  );
  return { apps };
}

// ---- sandbox plumbing ----

let sb: Sandbox;

async function control<T>(base: string, method: string, path: string, body?: unknown): Promise<T> {
  const response = await fetch(`${base}${path}`, {
    method,
    ...(body === undefined
      ? {}
      : { body: JSON.stringify(body), headers: { 'content-type': 'application/json' } }),
  });
  const text = await response.text();
  if (!response.ok) throw new Error(`${method} ${base}${path}: ${response.status} ${text.slice(0, 500)}`);
  return (text ? JSON.parse(text) : undefined) as T;
}

const appControl = <T>(method: string, path: string, body?: unknown) =>
  control<T>(sb.appService.controlUrl, method, path, body);
const storageControl = <T>(method: string, path: string) =>
  control<T>(sb.env.SANDBOX_STORAGE_CONTROL_URL as string, method, path);
const artifactControl = <T>(method: string, path: string) =>
  control<T>(sb.env.SANDBOX_ARTIFACTS_CONTROL_URL as string, method, path);

/** Waits until the app's host has finished whatever the last change started, so no sample sees another's tail. */
async function settle(app: string): Promise<void> {
  await appControl('POST', `/apps/${app}/settle`, { timeoutMs: 120_000 });
}

async function resetCounters(): Promise<void> {
  await Promise.all([
    appControl('DELETE', '/requests'),
    storageControl('DELETE', '/requests'),
    artifactControl('DELETE', '/requests'),
  ]);
}

interface Counted {
  appService: AppServiceRequestCounters;
  storage: RequestCounters;
  artifacts: ArtifactRequestCounters;
}

async function readCounters(): Promise<Counted> {
  const [appService, storage, artifacts] = await Promise.all([
    appControl<AppServiceRequestCounters>('GET', '/requests'),
    storageControl<RequestCounters>('GET', '/requests'),
    artifactControl<ArtifactRequestCounters>('GET', '/requests'),
  ]);
  return { appService, storage, artifacts };
}

/** The deployment record's per-phase timings, read from the artifact the run stored. */
async function recordTimings(run: ActionRun): Promise<Record<string, number> | null> {
  const name = run.outputs['record-artifact-name'];
  const stored = sb.artifacts.stored().find((a) => a.name === name && a.finalized);
  if (!stored) return null;
  const bytes = await BlobServiceClient.fromConnectionString(sb.azurite.connectionString)
    .getContainerClient(stored.container)
    .getBlobClient(stored.blobName)
    .downloadToBuffer();
  const file = Object.values((await JSZip.loadAsync(bytes)).files).find((f) => !f.dir);
  if (!file) return null;
  const record = JSON.parse(await file.async('string')) as { timingsMs?: Record<string, number> };
  return record.timingsMs ?? null;
}

// ---- other apps' packages in the container ----

const pad = (n: number, width: number) => String(n).padStart(width, '0');

function deploymentTime(k: number): string {
  const d = new Date(Date.UTC(2026, 0, 1) + k * 7 * 60_000);
  return `${d.getUTCFullYear()}${pad(d.getUTCMonth() + 1, 2)}${pad(d.getUTCDate(), 2)}T${pad(d.getUTCHours(), 2)}${pad(d.getUTCMinutes(), 2)}${pad(d.getUTCSeconds(), 2)}Z`;
}

/** Blobs per other app: 10 deployments (a package and its manifest each) and the app's index. */
const APP_BLOCK = 21;

/** Deployment `k` of the other apps (app k/10): its names, package bytes and metadata. */
function otherDeployment(k: number) {
  const appIndex = Math.floor(k / 10);
  const app = `func-other-${pad(appIndex, 5)}`;
  const slot = appIndex % 10 === 7 ? 'staging' : undefined;
  const commit = createHash('sha1').update(`commit-${k}`).digest('hex');
  const deploymentId = `${deploymentTime(k)}-${commit.slice(0, 7)}`;
  const run = `${9_000_000 + k}.1`;
  const content = createHash('sha512').update(`package-${k}`).digest();
  const packageBytes = Buffer.concat([content, content, content, content]);
  const sha256 = createHash('sha256').update(packageBytes).digest('hex');
  const blobName = `${deploymentId}/${app}${slot ? `-${slot}` : ''}.zip`;
  const time = new Date(Date.UTC(2026, 0, 1) + k * 7 * 60_000).toISOString();
  return { app, slot, commit, deploymentId, run, packageBytes, sha256, blobName, time };
}

/**
 * Blob `i` of the other apps' history, as the action lays it out: each app holds APP_BLOCK blobs, its 10
 * deployments' packages and manifests (manifest@2) and its index (index@1); every tenth app deploys a slot.
 * 50,000 blobs are about 2,380 apps. The container's layout marker is written once, apart (see seedOtherApps).
 */
function otherBlob(i: number): {
  name: string;
  body: Buffer;
  contentType: string;
  metadata: Record<string, string>;
} {
  const appIndex = Math.floor(i / APP_BLOCK);
  const j = i % APP_BLOCK;
  const json = (name: string, value: unknown) => ({
    name,
    body: Buffer.from(JSON.stringify(value)),
    contentType: 'application/json',
    metadata: {},
  });
  if (j === APP_BLOCK - 1) {
    const deployments = Array.from({ length: 10 }, (_, d) => otherDeployment(appIndex * 10 + d));
    const { app, slot } = deployments[0] as ReturnType<typeof otherDeployment>;
    const packages: IndexEntry[] = deployments.reverse().map((d) => ({
      blob: d.blobName,
      sha256: d.sha256,
      size: d.packageBytes.length,
      deploymentId: d.deploymentId,
      deployedAt: d.time,
      commit: d.commit,
      run: d.run,
      fileCount: 3,
      functions: ['HttpHello'],
    }));
    return json(indexBlobName(app, slot), { schema: INDEX_SCHEMA, app, slot, packages });
  }
  const d = otherDeployment(appIndex * 10 + Math.floor(j / 2));
  if (j % 2 === 0) {
    return {
      name: d.blobName,
      body: d.packageBytes,
      contentType: 'application/zip',
      metadata: {
        sha256: d.sha256,
        app: d.app,
        ...(d.slot ? { slot: d.slot } : {}),
        deploymentid: d.deploymentId,
        deployedat: d.time,
        commit: d.commit,
        run: d.run,
      },
    };
  }
  return json(`${d.deploymentId}/manifest.json`, {
    schema: MANIFEST_SCHEMA_V2,
    deploymentId: d.deploymentId,
    entries: [
      {
        app: d.app,
        slot: d.slot,
        resourceGroup: 'rg-others',
        package: {
          blob: d.blobName,
          sha256: d.sha256,
          size: d.packageBytes.length,
          fileCount: 3,
          functions: ['HttpHello'],
        },
        reused: false,
        run: {
          id: d.run.split('.')[0],
          attempt: '1',
          workflow: 'deploy',
          repository: 'octo/others',
          sha: d.commit,
        },
        time: d.time,
      },
    ],
  });
}

/** Uploads blobs [from, to) straight into Azurite (past the front door: no counter sees it), a bounded pool at a time. */
async function seedOtherApps(container: ContainerClient, from: number, to: number): Promise<number> {
  const started = performance.now();
  let next = from;
  const worker = async () => {
    for (let i = next++; i < to; i = next++) {
      const blob = otherBlob(i);
      await container.getBlockBlobClient(blob.name).upload(blob.body, blob.body.length, {
        metadata: blob.metadata,
        blobHTTPHeaders: { blobContentType: blob.contentType },
      });
      if ((i + 1) % 10_000 === 0) log(`  seeded ${i + 1} blobs`);
    }
  };
  await Promise.all(Array.from({ length: seedConcurrency }, worker));
  return (performance.now() - started) / 1000;
}

/**
 * One full listing with metadata, straight at Azurite, as the action lists the container (pages of 5,000): how much
 * of a crowded-container deploy is the emulator's listing speed rather than the action.
 */
async function timeListing(
  container: ContainerClient,
): Promise<{ seconds: number; blobs: number; pages: number }> {
  const started = performance.now();
  let blobs = 0;
  let pages = 0;
  for await (const page of container.listBlobsFlat({ includeMetadata: true }).byPage({ maxPageSize: 5000 })) {
    pages += 1;
    blobs += page.segment.blobItems.length;
  }
  return { seconds: Number(((performance.now() - started) / 1000).toFixed(2)), blobs, pages };
}

// ---- one measured deploy ----

interface ServiceRequests {
  arm: number;
  kudu: number;
  host: number;
  blob: number;
  artifact: number;
  total: number;
}

interface Sample {
  app: string;
  ok: boolean;
  error: string | null;
  seconds: number;
  azProcesses: number;
  azCommands: string[];
  requests: ServiceRequests;
  byRoute: Record<string, number>;
  /** After the app settled: what the platform did on its own for this deploy. */
  platform: { packageFetches: number; blobRequests: number };
  phasesMs: Record<string, number> | null;
  outputs: { mode: string | null; packageReused: string | null };
}

let runNumber = 0;
const azDir = mkdtempSync(join(tmpdir(), 'afpd-bench-az-'));

function deployRun(
  app: string,
  pkg: string,
  inputs: Record<string, string>,
  azDelayMs: number,
  azLog?: string,
) {
  runNumber += 1;
  return runAction({
    inputs: { 'app-name': app, package: pkg, timeout: actionTimeout, ...inputs },
    env: sb.env,
    workspace: root,
    // The action's own deadline ends it first; this only catches a run that outlives it.
    timeoutMs: actionTimeoutMs + 3 * 60_000,
    extraEnv: {
      // A new commit and run per deploy: the default deployment id (time + short sha) never collides.
      GITHUB_SHA: randomBytes(20).toString('hex'),
      GITHUB_RUN_ID: String(7_000_000 + runNumber),
      ...(azDelayMs > 0 ? { AZ_SANDBOX_DELAY_MS: String(azDelayMs) } : {}),
      ...(azLog ? { AZ_SANDBOX_LOG: azLog } : {}),
    },
  });
}

function failureOf(run: ActionRun, c: CaseDef): string | null {
  if (run.code !== 0) {
    const error = run.visibleLog.split('\n').find((l) => l.startsWith('::error::'));
    return `exit code ${run.code}: ${(error ?? run.visibleLog.slice(-500)).slice(0, 1000)}`;
  }
  if (run.outputs.mode !== c.expect.mode) return `mode ${run.outputs.mode}, expected ${c.expect.mode}`;
  if (c.expect.reused !== undefined && (run.outputs['package-reused'] === 'true') !== c.expect.reused)
    return `package-reused ${run.outputs['package-reused']}, expected ${c.expect.reused}`;
  return null;
}

async function measure(c: CaseDef, azDelayMs: number, round: number): Promise<Sample> {
  const app = appName(c, azDelayMs, round);
  if (c.setup) {
    await settle(app);
    const setup = await deployRun(app, c.setup, c.inputs, 0);
    if (setup.code !== 0) throw new Error(`setup deploy of ${app} failed:\n${setup.visibleLog.slice(-3000)}`);
  }
  await settle(app);
  // Azurite finishes every request it has received, answered or not (a listing the action gave up on included):
  // a request of our own returns once that backlog is done, so no sample starts on another's leftovers.
  await BlobServiceClient.fromConnectionString(sb.azurite.connectionString).getProperties();
  await resetCounters();
  const azLog = join(azDir, `run-${runNumber + 1}.jsonl`);
  const started = performance.now();
  let run: ActionRun | undefined;
  let killed: string | undefined;
  try {
    run = await deployRun(app, c.package, c.inputs, azDelayMs, azLog);
  } catch (e) {
    killed = (e instanceof Error ? e.message : String(e)).split('\n')[0];
  }
  const seconds = (performance.now() - started) / 1000;
  const counted = await readCounters();
  const error = run ? failureOf(run, c) : `killed: ${killed}`;
  const azCommands = existsSync(azLog)
    ? readFileSync(azLog, 'utf8')
        .trim()
        .split('\n')
        .filter((l) => l !== '')
        .map((l) => (JSON.parse(l) as { argv: string[] }).argv.join(' '))
    : [];
  await settle(app);
  const afterSettle = await readCounters();
  const byRoute: Record<string, number> = { ...counted.appService.byRoute } as Record<string, number>;
  for (const [route, perClient] of Object.entries(counted.storage.byRoute))
    if (perClient.action > 0) byRoute[route] = perClient.action;
  Object.assign(byRoute, counted.artifacts.byRoute);
  const requests = {
    arm: counted.appService.byFront.arm,
    kudu: counted.appService.byFront.kudu,
    host: counted.appService.byFront.host,
    blob: counted.storage.byClient.action,
    artifact: counted.artifacts.total,
    total: 0,
  };
  requests.total = requests.arm + requests.kudu + requests.host + requests.blob + requests.artifact;
  return {
    app,
    ok: error === null,
    error,
    seconds: Number(seconds.toFixed(3)),
    azProcesses: azCommands.length,
    azCommands,
    requests,
    byRoute: Object.fromEntries(Object.entries(byRoute).sort(([a], [b]) => a.localeCompare(b))),
    platform: {
      packageFetches: afterSettle.appService.platform.packageFetches,
      blobRequests: afterSettle.storage.byClient.platform,
    },
    phasesMs: run?.code === 0 ? await recordTimings(run) : null,
    outputs: { mode: run?.outputs.mode ?? null, packageReused: run?.outputs['package-reused'] ?? null },
  };
}

// ---- figures ----

function median(xs: number[]): number | null {
  if (xs.length === 0) return null;
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2;
}

interface CaseResult {
  key: string;
  case: string;
  title: string;
  plan: string;
  package: string;
  setup: string | null;
  inputs: Record<string, string>;
  azDelayMs: number;
  otherBlobs: number | null;
  /** Container-size cases: one listing of the container with metadata, timed straight at Azurite before the runs. */
  containerListing: { seconds: number; blobs: number; pages: number } | null;
  medianSeconds: number | null;
  samplesSeconds: number[];
  failures: number;
  requests: Record<keyof ServiceRequests, number | null>;
  /** Median per route over the deploys that succeeded (a route missing from a deploy counts 0 there). */
  byRoute: Record<string, number>;
  azProcesses: number | null;
  ratio: { to: string; value: number | null } | null;
  samples: Sample[];
}

function summarise(
  c: CaseDef,
  azDelayMs: number,
  samples: Sample[],
  containerListing: CaseResult['containerListing'],
): CaseResult {
  const ok = samples.filter((s) => s.ok);
  const m = (f: (s: Sample) => number) => median(ok.map(f));
  const seconds = m((s) => s.seconds);
  const routes = [...new Set(ok.flatMap((s) => Object.keys(s.byRoute)))].sort();
  return {
    key: keyOf(c, azDelayMs),
    case: c.id,
    title: c.title,
    plan: `${c.os} ${c.sku}${c.setting === 'absent' ? '' : `, WEBSITE_RUN_FROM_PACKAGE=${c.setting === 'url' ? '<URL>' : '1'}`}`,
    package: c.package,
    setup: c.setup ? `deploy ${c.setup} to the same app first (not measured)` : null,
    inputs: c.inputs,
    azDelayMs,
    otherBlobs: c.container?.otherBlobs ?? null,
    containerListing,
    medianSeconds: seconds === null ? null : Number(seconds.toFixed(3)),
    samplesSeconds: samples.map((s) => s.seconds),
    failures: samples.length - ok.length,
    requests: {
      arm: m((s) => s.requests.arm),
      kudu: m((s) => s.requests.kudu),
      host: m((s) => s.requests.host),
      blob: m((s) => s.requests.blob),
      artifact: m((s) => s.requests.artifact),
      total: m((s) => s.requests.total),
    },
    byRoute: Object.fromEntries(routes.map((route) => [route, m((s) => s.byRoute[route] ?? 0) ?? 0])),
    azProcesses: m((s) => s.azProcesses),
    ratio: null,
    samples,
  };
}

/** Slow-az cases against the instant-az case; container cases against the empty container, same az. */
function addRatios(results: CaseResult[]): void {
  const byKey = new Map(results.map((r) => [r.key, r]));
  for (const r of results) {
    let to: string | undefined;
    if (r.otherBlobs !== null && r.otherBlobs > 0) to = `rfp-container-0/az-${r.azDelayMs}ms`;
    else if (r.azDelayMs > 0) to = `${r.case}/az-0ms`;
    if (!to) continue;
    const base = byKey.get(to)?.medianSeconds;
    r.ratio = {
      to,
      value: base && r.medianSeconds !== null ? Number((r.medianSeconds / base).toFixed(3)) : null,
    };
  }
}

function table(results: CaseResult[]): string {
  const f = (n: number | null, digits = 0) => (n === null ? '—' : n.toFixed(digits));
  const lines = [
    '| case | az | median s | samples s | ratio | ARM | Kudu | host | blob | artifact | az procs |',
    '|---|---|---|---|---|---|---|---|---|---|---|',
    ...results.map(
      (r) =>
        `| ${r.case} | ${azLabel(r.azDelayMs)} | ${f(r.medianSeconds, 2)} | ${r.samplesSeconds.map((s) => s.toFixed(2)).join(', ')}${r.failures ? ` (${r.failures} failed)` : ''} | ${r.ratio ? `${f(r.ratio.value, 2)} × ${r.otherBlobs ? 'empty container' : 'instant az'}` : ''} | ${f(r.requests.arm)} | ${f(r.requests.kudu)} | ${f(r.requests.host)} | ${f(r.requests.blob)} | ${f(r.requests.artifact)} | ${f(r.azProcesses)} |`,
    ),
  ];
  return lines.join('\n');
}

function git(...argv: string[]): string | null {
  try {
    return execFileSync('git', ['-C', root, ...argv], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    }).trim();
  } catch {
    return null;
  }
}

// ---- main ----

async function main(): Promise<void> {
  const wallStarted = performance.now();
  const loadBefore = loadavg();
  log(`Starting the sandbox with ${cases.reduce((n, c) => n + c.azDelays.length * rounds, 0)} apps...`);
  sb = await startSandbox({ seed: seedDocument() });
  const azurite = BlobServiceClient.fromConnectionString(sb.azurite.connectionString);
  const seeding: { container: string; from: number; to: number; seconds: number }[] = [];
  const listings = new Map<string, CaseResult['containerListing']>();
  try {
    const index = await appControl<{ config: Record<string, unknown> }>('GET', '');
    const conflictApps = cases.filter((c) => c.setting === 'url');
    if (conflictApps.length > 0) {
      // What an earlier run-from-package pipeline of another tool left behind: a package URL with a long SAS.
      const url = await storeLegacyPackage(
        sb.storage.connectionString,
        'bench-legacy.zip',
        await functionAppZip(['LegacyFn']),
        new Date(Date.now() + 200 * 86_400_000),
      );
      for (const c of conflictApps)
        for (const ms of c.azDelays)
          for (let r = 0; r < rounds; r++) {
            const app = appName(c, ms, r);
            const view = await appControl<{ settings: Record<string, string> }>('GET', `/apps/${app}`);
            await appControl('PUT', `/apps/${app}/settings`, {
              ...view.settings,
              WEBSITE_RUN_FROM_PACKAGE: url,
            });
          }
    }
    const samples = new Map<string, Sample[]>();
    const distFile = join(root, 'dist', 'index.js');
    /** The file as it stands: written after every sample, so a run cut short still leaves what it measured. */
    const write = async (complete: boolean) => {
      const results = cases.flatMap((c) =>
        c.azDelays
          .filter((ms) => samples.has(keyOf(c, ms)))
          .map((ms) => summarise(c, ms, samples.get(keyOf(c, ms)) ?? [], listings.get(c.id) ?? null)),
      );
      addRatios(results);
      const doc = {
        schema: 'azure-functions-package-deploy/bench-e2e@1',
        complete,
        generatedAt: new Date().toISOString(),
        durationSeconds: Number(((performance.now() - wallStarted) / 1000).toFixed(1)),
        rounds,
        actionTimeout,
        machine: {
          cpus: availableParallelism(),
          cpu: cpus()[0]?.model ?? 'unknown',
          memoryMb: Math.round(totalmem() / 2 ** 20),
          os: `${process.platform} ${release()}`,
          node: process.version,
          loadAverageBefore: loadBefore.map((x) => Number(x.toFixed(2))),
          loadAverageAfter: loadavg().map((x) => Number(x.toFixed(2))),
        },
        dist: {
          entry: relative(root, DIST_ENTRY),
          sha256: createHash('sha256').update(readFileSync(distFile)).digest('hex'),
          commit: git('log', '-1', '--format=%H', '--', 'dist'),
          changedSinceCommit: (git('status', '--porcelain', '--', 'dist') ?? '') !== '',
          head: git('rev-parse', 'HEAD'),
          branch: git('rev-parse', '--abbrev-ref', 'HEAD'),
        },
        sandbox: { config: index.config, azDelaysMs: [...new Set(cases.flatMap((c) => c.azDelays))] },
        seeding,
        cases: results,
      };
      await writeFile(args.out, `${JSON.stringify(doc, null, 2)}\n`);
      return { doc, results };
    };
    const record = async (c: CaseDef, ms: number, s: Sample) => {
      const key = keyOf(c, ms);
      samples.set(key, [...(samples.get(key) ?? []), s]);
      log(
        `  ${key.padEnd(34)} round ${samples.get(key)?.length}: ${s.seconds.toFixed(2)} s, ${s.requests.total} requests, ${s.azProcesses} az${s.ok ? '' : `  FAILED: ${s.error}`}`,
      );
      await write(false);
    };
    // Rounds outermost, so the machine's noise is spread over every case rather than landing on one.
    const base = cases.filter((c) => !c.container);
    for (let r = 0; r < rounds; r++)
      for (const c of base) for (const ms of c.azDelays) await record(c, ms, await measure(c, ms, r));

    let crowded = 0;
    for (const c of cases.filter((x) => x.container)) {
      const target = c.container as { name: string; otherBlobs: number };
      const container = azurite.getContainerClient(target.name);
      if ((await container.createIfNotExists()).succeeded) {
        // Every package in it is indexed, as in a container this version of the action has always written to.
        const marker = Buffer.from(JSON.stringify({ schema: LAYOUT_SCHEMA }));
        await container.getBlockBlobClient(LAYOUT_MARKER).upload(marker, marker.length, {
          blobHTTPHeaders: { blobContentType: 'application/json' },
        });
      }
      if (target.otherBlobs > crowded) {
        log(`Seeding ${target.name} with blobs ${crowded}..${target.otherBlobs} of other apps...`);
        const seconds = await seedOtherApps(container, crowded, target.otherBlobs);
        seeding.push({
          container: target.name,
          from: crowded,
          to: target.otherBlobs,
          seconds: Number(seconds.toFixed(1)),
        });
        log(`  ${target.otherBlobs - crowded} blobs in ${seconds.toFixed(1)} s`);
        crowded = target.otherBlobs;
      }
      const listing = await timeListing(container);
      listings.set(c.id, listing);
      log(
        `  one listing of ${listing.blobs} blobs (${listing.pages} pages) at Azurite: ${listing.seconds} s`,
      );
      for (let r = 0; r < rounds; r++)
        for (const ms of c.azDelays) await record(c, ms, await measure(c, ms, r));
    }

    const { doc, results } = await write(true);
    process.stdout.write(
      `\n${table(results)}\n\nrequests: medians per deploy, the action's own; ratio: median s over the named case's\n`,
    );
    log(`\nWrote ${args.out} (${doc.durationSeconds} s)`);
    if (results.some((r) => r.failures > 0)) {
      log('Some deploys failed: their samples are recorded with their error and left out of the medians.');
      process.exitCode = 1;
    }
  } finally {
    await sb.stop();
    rmSync(azDir, { recursive: true, force: true });
  }
}

main().catch((e) => {
  process.stderr.write(`${e instanceof Error ? e.stack : String(e)}\n`);
  process.exit(1);
});
