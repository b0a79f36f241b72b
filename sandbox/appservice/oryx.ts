import { readdir, readFile, stat } from 'node:fs/promises';
import { join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import JSZip from 'jszip';
import { normalizePackageName, requirementNames } from './discover.js';

/**
 * A stand-in for the Oryx remote build KuduLite runs on Linux (and the Flex build service uses): it installs a
 * Python app's requirements into `.python_packages/lib/site-packages` and a Node app's dependencies into
 * `node_modules`, from the fixture index in sandbox/oryx-index instead of PyPI or npm.
 * Log lines follow captured Oryx output (microsoft/Oryx#460, #1968, #2492; vscode-azurefunctions#2610) [OBS].
 */

const INDEX = fileURLToPath(new URL('../oryx-index/', import.meta.url));
const SITE_PACKAGES = '.python_packages/lib/site-packages';

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}

async function filesUnder(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...(await filesUnder(path)));
    else out.push(path);
  }
  return out;
}

/** Copies an index folder into the zip under `target`. */
async function install(zip: JSZip, source: string, target: string): Promise<void> {
  for (const file of await filesUnder(source)) {
    zip.file(`${target}/${relative(source, file).split(sep).join('/')}`, await readFile(file));
  }
}

function stamp(): string {
  return `[${new Date().toISOString().slice(11, 19)}+0000]`;
}

function preamble(log: (line: string) => void, platform: string, version: string): void {
  log('Operation performed by Microsoft Oryx, https://github.com/Microsoft/Oryx');
  log('You can report issues at https://github.com/Microsoft/Oryx/issues');
  log('Oryx Version: 0.2.20250611.1 (sandbox), Commit: sandbox, ReleaseTagName: 20250611.1');
  log('Detecting platforms...');
  log('Detected following platforms:');
  log(`  ${platform}: ${version}`);
}

async function buildPython(zip: JSZip, log: (line: string) => void): Promise<void> {
  const requirements = zip.file('requirements.txt');
  if (!requirements) {
    // Oryx's Python detector needs requirements.txt or Python files at the root; without either it cannot tell the
    // platform (microsoft/Oryx#1028: "Could not detect any platform in the source directory.") [OBS].
    if (!Object.keys(zip.files).some((p) => /^[^/]+\.py$/.test(p))) {
      log('Detecting platforms...');
      log('Could not detect any platform in the source directory.');
      throw new Error("Error: Couldn't detect a version for the platform 'python' in the repo.");
    }
    preamble(log, 'python', '3.11.8');
    log('Could not find setup.py or requirements.txt; Not running pip install.');
    return;
  }
  preamble(log, 'python', '3.11.8');
  log('Python Version: /tmp/oryx/platforms/python/3.11.8/bin/python3.11');
  log('Running pip install...');
  const installed: string[] = [];
  for (const name of requirementNames(await requirements.async('string'))) {
    log(`${stamp()} Collecting ${name}`);
    const source = join(INDEX, 'python', normalizePackageName(name));
    if (!(await exists(source))) {
      // pip's own wording for a distribution no index has.
      const failure = `ERROR: Could not find a version that satisfies the requirement ${name} (from versions: none)`;
      log(`${stamp()} ${failure}`);
      log(`${stamp()} ERROR: No matching distribution found for ${name}`);
      throw new Error(failure);
    }
    await install(zip, source, SITE_PACKAGES);
    const dist = (await readdir(source)).find((n) => n.endsWith('.dist-info'));
    const version = dist ? /-([^-]+)\.dist-info$/.exec(dist)?.[1] : undefined;
    installed.push(`${name}-${version ?? '0.0.0'}`);
  }
  if (installed.length > 0) log(`${stamp()} Successfully installed ${installed.join(' ')}`);
  log('Done in 1 sec(s).');
}

async function buildNode(zip: JSZip, log: (line: string) => void): Promise<void> {
  const manifest = zip.file('package.json');
  if (!manifest) {
    // microsoft/Oryx#1088: no package.json, no Node.js platform [OBS].
    log('Detecting platforms...');
    log('Could not detect any platform in the source directory.');
    throw new Error("Error: Couldn't detect a version for the platform 'nodejs' in the repo.");
  }
  let pkg: { dependencies?: unknown };
  try {
    pkg = JSON.parse(await manifest.async('string')) as { dependencies?: unknown };
  } catch (error) {
    throw new Error(`npm ERR! code EJSONPARSE: package.json is not valid JSON (${(error as Error).message})`);
  }
  preamble(log, 'nodejs', '20.15.1');
  // Oryx runs npm install for the production dependencies [INF: the exact command line is not in the captures].
  log("Running 'npm install --unsafe-perm'...");
  const deps =
    typeof pkg.dependencies === 'object' && pkg.dependencies !== null
      ? Object.entries(pkg.dependencies as Record<string, unknown>)
      : [];
  for (const [name, range] of deps) {
    const source = join(INDEX, 'node', ...name.split('/'));
    if (!(await exists(source))) {
      const failure = `npm ERR! 404 Not Found - GET https://registry.npmjs.org/${name.replace('/', '%2f')} - Not found`;
      log('npm ERR! code E404');
      log(failure);
      log(`npm ERR! 404  '${name}@${String(range)}' is not in this registry.`);
      throw new Error(failure);
    }
    await install(zip, source, `node_modules/${name}`);
  }
  log(`added ${deps.length} package${deps.length === 1 ? '' : 's'} in 1s`);
  log('Done in 1 sec(s).');
}

/**
 * Builds a deployment zip the way a remote build does and returns the built zip. Throws an Error whose message is
 * the failing line when a requirement cannot be installed. Runtimes it does not build come back unchanged.
 */
export async function oryxBuild(
  zip: Buffer,
  runtime: 'python' | 'node' | string,
  log: (line: string) => void,
): Promise<Buffer> {
  const kind = runtime.toLowerCase();
  if (kind !== 'python' && kind !== 'node' && kind !== 'nodejs') return zip;
  let archive: JSZip;
  try {
    archive = await JSZip.loadAsync(zip);
  } catch (error) {
    throw new Error(`Error: the deployment is not a valid zip file (${(error as Error).message}).`);
  }
  if (kind === 'python') await buildPython(archive, log);
  else await buildNode(archive, log);
  return archive.generateAsync({ type: 'nodebuffer', compression: 'DEFLATE' });
}
