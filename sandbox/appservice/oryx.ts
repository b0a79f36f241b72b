import { readdir, readFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import JSZip from 'jszip';

/**
 * A small stand-in for the Oryx remote build. Python: every name in requirements.txt is "installed" from the
 * fixture folder `oryx-packages/<name>/` into `.python_packages/lib/site-packages/<name>/`, the folder the Python
 * worker adds to its path (Learn "Python developer reference", remote build [DOC]); a name with no fixture fails
 * the build the way pip does. Other runtimes are passed through unchanged: the sandbox does not run npm or dotnet.
 */

const FIXTURES = fileURLToPath(new URL('./oryx-packages/', import.meta.url));
const SITE_PACKAGES = '.python_packages/lib/site-packages';

/** PEP 503 name normalisation: case-insensitive, runs of `-`, `_`, `.` are one `-`. */
function normalise(name: string): string {
  return name.toLowerCase().replace(/[-_.]+/g, '-');
}

async function filesUnder(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true });
  const nested = await Promise.all(
    entries.map((e) =>
      e.isDirectory() ? filesUnder(join(dir, e.name)) : Promise.resolve([join(dir, e.name)]),
    ),
  );
  return nested.flat();
}

function requirementNames(text: string): string[] {
  const names: string[] = [];
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.replace(/(^|\s)#.*$/, '').trim();
    if (line === '') continue;
    if (line.startsWith('-'))
      throw new Error(`ERROR: requirements.txt option '${line}' is not supported by the sandbox build.`);
    const name = /^[A-Za-z0-9][A-Za-z0-9._-]*/.exec(line)?.[0];
    if (name === undefined) throw new Error(`ERROR: Invalid requirement: '${line}'`);
    names.push(name);
  }
  return names;
}

async function pythonBuild(zip: JSZip, log: (line: string) => void): Promise<void> {
  const requirements = zip.file('requirements.txt');
  if (!requirements) {
    log('No requirements.txt found at the root of the package; nothing to install.');
    return;
  }
  const names = requirementNames(await requirements.async('string'));
  log(`Running pip install for ${names.length} requirement(s) into ${SITE_PACKAGES}`);
  const installed: string[] = [];
  for (const name of names) {
    const dir = join(FIXTURES, normalise(name));
    let files: string[];
    try {
      files = await filesUnder(dir);
    } catch {
      // pip's words for a distribution no index has [SRC pip resolver messages].
      log(`ERROR: Could not find a version that satisfies the requirement ${name} (from versions: none)`);
      throw new Error(`ERROR: No matching distribution found for ${name}`);
    }
    for (const file of files) {
      const inZip = `${SITE_PACKAGES}/${normalise(name)}/${relative(dir, file).split('\\').join('/')}`;
      zip.file(inZip, await readFile(file));
    }
    installed.push(normalise(name));
  }
  log(`Successfully installed ${installed.join(' ')}`);
}

export async function oryxBuild(
  zip: Buffer,
  runtime: 'python' | 'node' | string,
  log: (line: string) => void,
): Promise<Buffer> {
  const archive = await JSZip.loadAsync(zip);
  log(`Oryx build (sandbox simulation) for platform '${runtime}'.`);
  if (runtime.toLowerCase() !== 'python') {
    log(`The sandbox does not build '${runtime}' packages; deploying the package as uploaded.`);
    return zip;
  }
  await pythonBuild(archive, log);
  return archive.generateAsync({ type: 'nodebuffer', compression: 'DEFLATE' });
}
