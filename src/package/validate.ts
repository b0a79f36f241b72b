import { PackageError } from '../errors.js';
import { globToRegExp } from './glob.js';
import { pythonV2Functions } from './python.js';

/** What validation sees of a package, whatever its source (folder, zip, lifted template). */
export interface AppView {
  /** Every file in the package, '/'-separated. */
  names: readonly string[];
  read(name: string): Promise<Uint8Array>;
  /** How to name the source in messages, e.g. `the folder app/` or `package.zip`. */
  label: string;
}

export interface AppReport {
  functions: string[];
  /** A Python app whose requirements.txt names packages that the package does not carry in .python_packages. */
  pythonNeedsBuild: boolean;
  model: 'function.json' | 'node-v4' | 'python-v2' | 'dotnet-isolated' | 'other';
  warnings: string[];
}

const DIRECTIONS = new Set(['in', 'out', 'inout']);
const AUTH_LEVELS = new Set(['anonymous', 'function', 'admin']);
const HTTP_METHODS = new Set(['get', 'post', 'put', 'delete', 'patch', 'head', 'options', 'trace']);
/** Files that make a package more than configuration, for apps whose functions are found at run time. */
const CODE_FILE = /\.(?:c?js|mjs|ts|py|ps1|psm1|dll|jar|csx|fsx|exe|sh)$|(?:^|\/)functions\.metadata$/i;
/** Bounds on what is read to find v4 registrations: code files, not bundles of data. */
const MAX_MAIN_FILES = 500;
const MAX_MAIN_FILE_BYTES = 4 * 1024 * 1024;

/**
 * Checks the package is a function app the v4 runtime will load, and finds its function names.
 * Each failure says which file is wrong and what to change.
 */
export async function validateApp(app: AppView): Promise<AppReport> {
  const names = new Set(app.names);
  const warnings: string[] = [];
  if (app.names.length === 0) {
    throw new PackageError(`Nothing to deploy: ${app.label} has no files once the ignore rules are applied`, {
      fix: 'Check the package input points at the app, and that .funcignore and the exclude input do not leave out everything',
    });
  }
  if (!names.has('host.json')) throw missingHost(app);
  const pythonNeedsBuild =
    names.has('requirements.txt') &&
    !app.names.some((n) => n.startsWith('.python_packages/')) &&
    Buffer.from(await app.read('requirements.txt'))
      .toString('utf8')
      .split(/\r?\n/)
      .some((l) => l.trim() !== '' && !l.trim().startsWith('#'));

  const host = await readJson(app, 'host.json', 'Fix the syntax of host.json');
  if (!isObject(host) || host.version !== '2.0') {
    const found = isObject(host) && 'version' in host ? JSON.stringify(host.version) : 'no version';
    throw new PackageError(`host.json must say "version": "2.0" (found ${found})`, {
      fix: 'Set "version": "2.0" in host.json: the Functions v4 runtime does not load 1.x apps',
    });
  }

  const functionFolders = app.names
    .filter((n) => /^[^/]+\/function\.json$/.test(n))
    .map((n) => n.slice(0, n.indexOf('/')));
  for (const folder of functionFolders) await checkFunctionJson(app, folder);

  const pkg = names.has('package.json')
    ? await readJson(app, 'package.json', 'Fix the syntax of package.json')
    : undefined;
  const deps = isObject(pkg) && isObject(pkg.dependencies) ? Object.keys(pkg.dependencies).length : 0;
  if (deps > 0 && !app.names.some((n) => n.startsWith('node_modules/'))) {
    warnings.push(
      `package.json declares ${deps} ${deps === 1 ? 'dependency' : 'dependencies'} but the package has no node_modules: ` +
        'run `npm ci --omit=dev` before this step, or the functions fail to load them (unless the app builds remotely)',
    );
  }

  if (functionFolders.length > 0)
    return { functions: functionFolders.sort(), model: 'function.json', warnings, pythonNeedsBuild };

  const main = isObject(pkg) && typeof pkg.main === 'string' && pkg.main.trim() !== '' ? pkg.main : undefined;
  if (main !== undefined) {
    const re = globToRegExp(main);
    const matched = app.names.filter((n) => re.test(n));
    if (matched.length === 0) {
      throw new PackageError(
        `package.json "main" (${JSON.stringify(main)}) matches no file in ${app.label}`,
        {
          fix: 'Build the app before this step (e.g. `npm run build`) so those files exist, or correct "main"; check that .funcignore and the exclude input do not leave them out',
        },
      );
    }
    const functions = new Set<string>();
    for (const n of matched.filter((m) => /\.(?:c?js|mjs|ts)$/.test(m)).slice(0, MAX_MAIN_FILES)) {
      const bytes = await app.read(n);
      if (bytes.length > MAX_MAIN_FILE_BYTES) continue;
      for (const name of findV4Registrations(Buffer.from(bytes).toString('utf8'))) functions.add(name);
    }
    if (functions.size === 0) {
      warnings.push(
        `No app.<trigger>('name', …) registration found in the files package.json "main" names (${main}); the functions list will be empty`,
      );
    }
    return { functions: [...functions].sort(), model: 'node-v4', warnings, pythonNeedsBuild };
  }

  // .NET isolated: the build writes every function into functions.metadata at the root.
  if (names.has('functions.metadata')) {
    const metadata = await readJson(
      app,
      'functions.metadata',
      'Rebuild the app (dotnet publish) so functions.metadata is valid',
    );
    if (!Array.isArray(metadata)) {
      throw new PackageError('functions.metadata is not a JSON array of functions', {
        fix: 'Deploy the output of dotnet publish unchanged',
      });
    }
    const functions = metadata
      .map((f: unknown) => (isObject(f) && typeof f.name === 'string' ? f.name : undefined))
      .filter((n): n is string => n !== undefined);
    return {
      functions: [...new Set(functions)].sort(),
      model: 'dotnet-isolated',
      warnings,
      pythonNeedsBuild,
    };
  }

  // Python v2: decorators in function_app.py (and the blueprints it imports).
  if (names.has('function_app.py')) {
    const texts = new Map<string, string>();
    for (const n of app.names.filter((x) => x.endsWith('.py') && !x.startsWith('.python_packages/')))
      texts.set(n, Buffer.from(await app.read(n)).toString('utf8'));
    const functions = pythonV2Functions('function_app.py', (file) => texts.get(file));
    if (functions === undefined || functions.length === 0) {
      warnings.push(
        'The function names of function_app.py could not be read from its decorators: verification waits for at least one function instead',
      );
    }
    return { functions: functions ?? [], model: 'python-v2', warnings, pythonNeedsBuild };
  }

  if (!app.names.some((n) => CODE_FILE.test(n))) {
    throw new PackageError(
      `Nothing to deploy: ${app.label} has host.json but no function folders (*/function.json), no package.json "main" and no code`,
      {
        fix: 'Add the functions (or build them) before this step, and check that .funcignore and the exclude input do not leave them out',
      },
    );
  }
  warnings.push(
    `No function.json folders or Node.js v4 "main" in ${app.label}: the functions are found only when the app starts, so the functions list is empty`,
  );
  return { functions: [], model: 'other', warnings, pythonNeedsBuild };
}

/** Names registered with the v4 Node.js model: app.http('name', …), app.timer("name", …), app.storageQueue(`n`, …). */
export function findV4Registrations(source: string): string[] {
  const out: string[] = [];
  const re = /\bapp\s*\.\s*([A-Za-z]\w*)\s*\(\s*(['"`])([^'"`\n]+)\2/g;
  for (let m = re.exec(source); m; m = re.exec(source)) out.push(m[3]!);
  return out;
}

async function checkFunctionJson(app: AppView, folder: string): Promise<void> {
  const file = `${folder}/function.json`;
  const fj = await readJson(app, file, `Fix the syntax of ${file}`);
  const bindings = isObject(fj) ? fj.bindings : undefined;
  if (!Array.isArray(bindings) || bindings.length === 0) {
    throw new PackageError(`${file} has no bindings`, {
      fix: `Add a "bindings" array with the function's trigger, e.g. {"type": "httpTrigger", "direction": "in", "name": "req"}`,
    });
  }
  let triggers = 0;
  for (const [i, b] of bindings.entries()) {
    const where = `${file} binding ${i}${isObject(b) && typeof b.name === 'string' ? ` ("${b.name}")` : ''}`;
    if (!isObject(b) || typeof b.type !== 'string' || b.type === '') {
      throw new PackageError(`${where} has no "type"`, {
        fix: 'Give every binding a "type", e.g. "httpTrigger" or "queue"',
      });
    }
    const direction = typeof b.direction === 'string' ? b.direction.toLowerCase() : undefined;
    if (direction === undefined || !DIRECTIONS.has(direction)) {
      throw new PackageError(`${where} has direction ${JSON.stringify(b.direction ?? null)}`, {
        fix: 'Use "in", "out" or "inout"',
      });
    }
    const isTrigger = /trigger$/i.test(b.type);
    if (isTrigger) {
      triggers++;
      if (direction !== 'in') {
        throw new PackageError(`${where} is a trigger with direction "${b.direction}"`, {
          fix: 'A trigger binding must be "direction": "in"',
        });
      }
    }
    if ('authLevel' in b) {
      if (typeof b.authLevel !== 'string' || !AUTH_LEVELS.has(b.authLevel.toLowerCase())) {
        throw new PackageError(`${where} has authLevel ${JSON.stringify(b.authLevel)}`, {
          fix: 'Use "anonymous", "function" or "admin"',
        });
      }
    }
    if ('methods' in b) {
      const bad =
        !Array.isArray(b.methods) ||
        b.methods.find((m: unknown) => typeof m !== 'string' || !HTTP_METHODS.has(m.toLowerCase())) !==
          undefined;
      if (bad) {
        throw new PackageError(`${where} has methods ${JSON.stringify(b.methods)}`, {
          fix: 'Use an array of HTTP methods, e.g. ["get", "post"] (get, post, put, delete, patch, head, options, trace)',
        });
      }
    }
  }
  if (triggers !== 1) {
    throw new PackageError(`${file} has ${triggers} trigger bindings`, {
      fix: 'A function has exactly one trigger (a binding whose type ends in "Trigger"); split it into several functions or remove the extra one',
    });
  }
}

async function readJson(app: AppView, name: string, fix: string): Promise<unknown> {
  const text = Buffer.from(await app.read(name)).toString('utf8');
  try {
    return parseJsonc(text);
  } catch (e) {
    throw new PackageError(`${name} in ${app.label} is not valid JSON: ${(e as Error).message}`, { fix });
  }
}

function missingHost(app: AppView): PackageError {
  const nested = app.names
    .filter((n) => n.endsWith('/host.json') && !n.startsWith('node_modules/'))
    .sort((a, b) => a.split('/').length - b.split('/').length)[0];
  if (nested !== undefined) {
    const dir = nested.slice(0, -'host.json'.length);
    return new PackageError(`No host.json at the root of ${app.label}; found ${nested}`, {
      fix: `The app root is ${dir}: point the package input there, or zip the folder's contents rather than the folder`,
    });
  }
  return new PackageError(`No host.json at the root of ${app.label}`, {
    fix: 'Point the package input at the function app root (the folder holding host.json), or add a host.json with "version": "2.0"',
  });
}

/**
 * JSON as the Functions host reads it (Json.NET): comments and a BOM are allowed, so a host.json with
 * comments that the runtime accepts is not refused here.
 */
export function parseJsonc(text: string): unknown {
  let out = '';
  let i = text.charCodeAt(0) === 0xfeff ? 1 : 0;
  while (i < text.length) {
    const c = text[i]!;
    if (c === '"') {
      let j = i + 1;
      while (j < text.length && text[j] !== '"') j += text[j] === '\\' ? 2 : 1;
      out += text.slice(i, j + 1);
      i = j + 1;
    } else if (c === '/' && text[i + 1] === '/') {
      while (i < text.length && text[i] !== '\n') i++;
    } else if (c === '/' && text[i + 1] === '*') {
      const end = text.indexOf('*/', i + 2);
      i = end < 0 ? text.length : end + 2;
      out += ' ';
    } else {
      out += c;
      i++;
    }
  }
  return JSON.parse(out);
}

// biome-ignore lint/suspicious/noExplicitAny: JSON objects are checked field by field where used.
function isObject(v: unknown): v is Record<string, any> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
