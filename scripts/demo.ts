// npm run demo: a full deploy against the local sandbox, run as a GitHub runner would run the bundled action.
//   (a) the classic conflict: WEBSITE_RUN_FROM_PACKAGE is a URL and zipdeploy is requested → backup, replace, zipdeploy
//   (b) Linux Consumption: run-from-package with a read-only SAS URL
//   (c) Flex Consumption: one-deploy through /api/publish
//   (d) operation status on the Linux Consumption app: what it runs, against what was deployed
//   (e) operation rotate-sas after the sandbox aged that app's SAS to 5 days
import { functionAppZip, storeLegacyPackage } from '../sandbox/fixtures.js';
import { EXAMPLE_APPS, readSeedFile, type Sandbox, startSandbox } from '../sandbox/index.js';
import { type ActionRun, runAction } from '../sandbox/run-action.js';
import { mintToken } from '../sandbox/tokens.js';

const root = new URL('..', import.meta.url).pathname;
const bold = (s: string) => (process.stdout.isTTY ? `\x1b[1m${s}\x1b[0m` : s);

interface SeedApp {
  name: string;
  os: string;
  plan: { sku: string };
  settings?: Record<string, string>;
}

async function control(
  sb: Sandbox,
  path: string,
  method = 'GET',
  body?: unknown,
): Promise<Record<string, unknown>> {
  const r = await fetch(`${sb.appService.controlUrl}${path}`, {
    method,
    ...(body ? { body: JSON.stringify(body), headers: { 'content-type': 'application/json' } } : {}),
  });
  if (!r.ok) throw new Error(`${method} ${path}: ${r.status} ${await r.text()}`);
  return (await r.json()) as Record<string, unknown>;
}

function show(title: string, run: ActionRun): void {
  console.log(`\n${bold(`── ${title}: exit code ${run.code} ──`)}`);
  console.log(bold("Log (the action's own lines):"));
  const lines = run.visibleLog
    .split('\n')
    .filter((l) =>
      /^(Inspected|plan:|status:|Package|Backed up|Kept|Removed|WEBSITE_|Kudu|Flex|Verified|A package|The app already|Rolled|::(warning|error|notice))/.test(
        l,
      ),
    );
  console.log(lines.map((l) => `  ${l}`).join('\n'));
  console.log(bold('Outputs:'));
  for (const [k, v] of Object.entries(run.outputs))
    console.log(`  ${k.padEnd(22)} ${v.length > 160 ? `${v.slice(0, 157)}...` : v}`);
  console.log(bold('Job summary:'));
  console.log(
    run.summary
      .trim()
      .split('\n')
      .map((l) => `  ${l}`)
      .join('\n'),
  );
}

const seed = readSeedFile(EXAMPLE_APPS) as { apps: SeedApp[] };
const conflictApp = seed.apps.find(
  (a) => a.os === 'windows' && /^(https?:|\$\{)/i.test(a.settings?.WEBSITE_RUN_FROM_PACKAGE ?? ''),
);
const linuxConsumption = seed.apps.find((a) => a.os === 'linux' && /^Y1$/i.test(a.plan.sku));
const flex = seed.apps.find((a) => /^FC1$/i.test(a.plan.sku));
if (!conflictApp || !linuxConsumption || !flex)
  throw new Error(
    `${EXAMPLE_APPS} needs a Windows app with a URL setting, a Linux Y1 app and a Flex (FC1) app`,
  );

console.log(
  bold(
    'Starting the sandbox (Azurite over HTTPS, fake ARM/Kudu/Functions platform, fake artifact service, az shim)...',
  ),
);
const sb = await startSandbox({ seed });
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => void sb.stop().finally(() => process.exit(130)));
}
let failures = 0;
try {
  // Point the conflict app at a real package in Azurite, as an earlier run-from-package deploy would have.
  const state = await control(sb, `/apps/${conflictApp.name}`);
  await control(sb, `/apps/${conflictApp.name}/settings`, 'PUT', {
    ...(state.settings as Record<string, string>),
    WEBSITE_RUN_FROM_PACKAGE: await storeLegacyPackage(
      sb.storage.connectionString,
      'legacy-build.zip',
      await functionAppZip(['LegacyFn']),
      new Date(Date.now() + 180 * 86_400_000),
    ),
  });

  // What a plain zipdeploy (the official action's path) meets on that app: Kudu's 409.
  const kuduUrl = sb.appService.kuduUrl(conflictApp.name);
  const token = mintToken({ audience: 'https://management.azure.com/', tenantId: sb.tenantId });
  const refused = await fetch(`${kuduUrl}/api/zipdeploy?isAsync=true`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/zip' },
    body: new Uint8Array(await functionAppZip(['Hello'])),
  });
  console.log(
    `\n${bold(`── A plain zipdeploy to ${conflictApp.name} is refused: HTTP ${refused.status} ──`)}\n  ${await refused.text()}`,
  );

  const runs: [string, string, Record<string, string>, (() => Promise<unknown>)?][] = [
    [
      `(a) conflict on ${conflictApp.name}: URL setting + deploy-mode zipdeploy`,
      conflictApp.name,
      { 'deploy-mode': 'zipdeploy' },
    ],
    [`(b) Linux Consumption run-from-package on ${linuxConsumption.name}`, linuxConsumption.name, {}],
    [`(c) Flex Consumption one-deploy on ${flex.name}`, flex.name, {}],
    [`(d) status of ${linuxConsumption.name}`, linuxConsumption.name, { operation: 'status' }],
    [
      `(e) rotate-sas on ${linuxConsumption.name}, its SAS aged to 5 days by the sandbox`,
      linuxConsumption.name,
      { operation: 'rotate-sas' },
      () => control(sb, `/apps/${linuxConsumption.name}/age-sas`, 'POST', { days: 5 }),
    ],
  ];
  for (const [title, app, extra, before] of runs) {
    await before?.();
    const run = await runAction({
      inputs: { 'app-name': app, package: 'examples/hello-v3', timeout: '2m', ...extra },
      env: sb.env,
      workspace: root,
    });
    show(title, run);
    // The host restarts after a change: read what it lists once it has settled.
    const after = await control(sb, `/apps/${app}/settle`, 'POST', {});
    const listed = ((after.functions as (string | { name: string })[]) ?? []).map((f) =>
      typeof f === 'string' ? f : f.name,
    );
    const ok =
      run.code === 0 &&
      listed.includes('HttpHello') &&
      (extra.operation !== 'status' || run.outputs.drift === 'none') &&
      (extra.operation !== 'rotate-sas' || run.outputs.rotated === 'true');
    if (!ok) failures++;
    console.log(bold(`Check: the platform lists [${listed.join(', ')}] for ${app}: ${ok ? 'OK' : 'FAILED'}`));
  }
} finally {
  await sb.stop();
  console.log(bold('\nSandbox stopped.'));
}
process.exit(failures ? 1 : 0);
