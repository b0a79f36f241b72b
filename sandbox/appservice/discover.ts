import JSZip from 'jszip';
import type { FunctionInfo } from './state.js';

/** A package the host cannot start from; the message becomes the host error. */
export class HostError extends Error {}

// Node v4 programming model: app.http('Name', …), app.timer('Name', …), …
const V4_REGISTRATION = /\bapp\.(\w+)\(\s*['"]([^'"]+)['"]/g;
const V4_TRIGGERS: Record<string, string> = {
  http: 'httpTrigger',
  get: 'httpTrigger',
  put: 'httpTrigger',
  post: 'httpTrigger',
  patch: 'httpTrigger',
  deleteRequest: 'httpTrigger',
  timer: 'timerTrigger',
  storageQueue: 'queueTrigger',
  storageBlob: 'blobTrigger',
  serviceBusQueue: 'serviceBusTrigger',
  serviceBusTopic: 'serviceBusTrigger',
  eventHub: 'eventHubTrigger',
  eventGrid: 'eventGridTrigger',
  cosmosDB: 'cosmosDBTrigger',
  warmup: 'warmupTrigger',
  sql: 'sqlTrigger',
  mySql: 'mySqlTrigger',
  webPubSub: 'webPubSubTrigger',
  generic: 'generic',
};
const V4_HTTP_METHOD: Record<string, string> = {
  get: 'GET',
  put: 'PUT',
  post: 'POST',
  patch: 'PATCH',
  deleteRequest: 'DELETE',
};

interface DiscoverOptions {
  language: string;
  /** Case-insensitive lookups of app settings (AzureWebJobs.{name}.Disabled, PYTHON_SCRIPT_FILE_NAME). */
  setting: (name: string) => string | undefined;
}

export interface DiscoveredPackage {
  functions: FunctionInfo[];
  /** host.json `extensionBundle`, which the host status reports. */
  extensionBundle: { id: string; version: string } | undefined;
}

function globToRegExp(glob: string): RegExp {
  let source = '';
  const text = glob.replace(/^\.\//, '');
  for (let i = 0; i < text.length; i++) {
    const ch = text[i] as string;
    if (ch === '*' && text[i + 1] === '*') {
      source += text[i + 2] === '/' ? '(?:.*/)?' : '.*';
      i += text[i + 2] === '/' ? 2 : 1;
    } else if (ch === '*') source += '[^/]*';
    else if (ch === '?') source += '[^/]';
    else source += ch.replace(/[.+^${}()|[\]\\]/g, '\\$&');
  }
  return new RegExp(`^${source}$`);
}

async function readJson(zip: JSZip, path: string, what: string): Promise<unknown> {
  const file = zip.file(path);
  if (!file) return undefined;
  const text = (await file.async('string')).replace(/^\uFEFF/, '');
  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    throw new HostError(`${what} ${path} is not valid JSON (${(error as Error).message})`);
  }
}

function routePrefix(hostJson: unknown): string {
  const prefix = (hostJson as { extensions?: { http?: { routePrefix?: unknown } } } | undefined)?.extensions
    ?.http?.routePrefix;
  return typeof prefix === 'string' ? prefix.replace(/^\/+|\/+$/g, '') : 'api';
}

function httpRoute(
  prefix: string,
  name: string,
  bindings: Array<Record<string, unknown>>,
): string | undefined {
  const trigger = bindings.find((b) => String(b.type).toLowerCase() === 'httptrigger');
  if (!trigger) return undefined;
  const route = typeof trigger.route === 'string' ? trigger.route.replace(/^\/+/, '') : name.toLowerCase();
  return prefix === '' ? route : `${prefix}/${route}`;
}

function disabled(name: string, declared: unknown, options: DiscoverOptions): boolean {
  const setting = options.setting(`AzureWebJobs.${name}.Disabled`);
  if (setting !== undefined) return /^(true|1)$/i.test(setting);
  return declared === true || declared === 'true';
}

function v4Bindings(method: string, trigger: string): Array<Record<string, unknown>> {
  if (trigger === 'httpTrigger') {
    const methods = V4_HTTP_METHOD[method];
    return [
      {
        type: 'httpTrigger',
        direction: 'in',
        name: 'request',
        authLevel: 'anonymous',
        methods: methods ? [methods] : ['GET', 'POST'],
      },
      { type: 'http', direction: 'out', name: '$return' },
    ];
  }
  return [{ type: trigger, direction: 'in', name: trigger === 'timerTrigger' ? 'myTimer' : 'trigger' }];
}

async function fromFunctionJson(
  zip: JSZip,
  prefix: string,
  options: DiscoverOptions,
): Promise<FunctionInfo[]> {
  const folders = Object.keys(zip.files)
    .map((path) => /^([^/]+)\/function\.json$/.exec(path)?.[1])
    .filter((name): name is string => name !== undefined)
    .sort();
  const functions: FunctionInfo[] = [];
  for (const name of folders) {
    const config = (await readJson(zip, `${name}/function.json`, 'function')) as
      | { bindings?: unknown; disabled?: unknown }
      | undefined;
    const bindings = Array.isArray(config?.bindings)
      ? (config.bindings as Array<Record<string, unknown>>)
      : [];
    const info: FunctionInfo = {
      name,
      bindings,
      language: options.language,
      isDisabled: disabled(name, config?.disabled, options),
    };
    const route = httpRoute(prefix, name, bindings);
    if (route !== undefined) info.httpRoute = route;
    functions.push(info);
  }
  return functions;
}

async function fromNodeV4(zip: JSZip, prefix: string, options: DiscoverOptions): Promise<FunctionInfo[]> {
  const pkg = (await readJson(zip, 'package.json', 'package manifest')) as { main?: unknown } | undefined;
  if (!pkg) return [];
  const main = typeof pkg.main === 'string' && pkg.main !== '' ? pkg.main : 'index.js';
  const pattern = globToRegExp(main);
  const files = Object.keys(zip.files)
    .filter((path) => !zip.files[path]?.dir && pattern.test(path))
    .sort();
  const functions: FunctionInfo[] = [];
  for (const path of files) {
    const source = await (zip.file(path) as JSZip.JSZipObject).async('string');
    for (const match of source.matchAll(V4_REGISTRATION)) {
      const method = match[1] as string;
      const name = match[2] as string;
      if (method === 'setup' || method === 'hook') continue;
      const trigger = V4_TRIGGERS[method] ?? `${method}Trigger`;
      const bindings = v4Bindings(method, trigger);
      const info: FunctionInfo = {
        name,
        bindings,
        language: 'node',
        isDisabled: disabled(name, false, options),
      };
      const route = httpRoute(prefix, name, bindings);
      if (route !== undefined) info.httpRoute = route;
      functions.push(info);
    }
  }
  return functions;
}

/**
 * .NET isolated: the worker SDK's build writes `functions.metadata` (a JSON array) at the root, and the host indexes
 * from it rather than from function.json folders (azure-functions-dotnet-worker Sdk FunctionMetadataGenerator) [SRC].
 */
async function fromDotnetMetadata(
  zip: JSZip,
  prefix: string,
  options: DiscoverOptions,
): Promise<FunctionInfo[] | undefined> {
  const metadata = await readJson(zip, 'functions.metadata', 'function metadata');
  if (metadata === undefined) return undefined;
  if (!Array.isArray(metadata)) throw new HostError('functions.metadata must be a JSON array');
  return metadata.map((entry: unknown, i): FunctionInfo => {
    const e = entry as { name?: unknown; bindings?: unknown; language?: unknown };
    if (typeof e?.name !== 'string' || e.name === '')
      throw new HostError(`functions.metadata entry ${i} has no name`);
    const bindings = Array.isArray(e.bindings) ? (e.bindings as Array<Record<string, unknown>>) : [];
    const info: FunctionInfo = {
      name: e.name,
      bindings,
      language: typeof e.language === 'string' ? e.language : 'dotnet-isolated',
      isDisabled: disabled(e.name, false, options),
    };
    const route = httpRoute(prefix, e.name, bindings);
    if (route !== undefined) info.httpRoute = route;
    return info;
  });
}

// Python v2 programming model (azure-functions library decorators): the trigger decorator names and their types.
const PY_TRIGGERS: Record<string, string> = {
  route: 'httpTrigger',
  timer_trigger: 'timerTrigger',
  schedule: 'timerTrigger',
  queue_trigger: 'queueTrigger',
  blob_trigger: 'blobTrigger',
  event_hub_message_trigger: 'eventHubTrigger',
  service_bus_queue_trigger: 'serviceBusTrigger',
  service_bus_topic_trigger: 'serviceBusTrigger',
  cosmos_db_trigger: 'cosmosDBTrigger',
  event_grid_trigger: 'eventGridTrigger',
  warm_up_trigger: 'warmupTrigger',
  sql_trigger: 'sqlTrigger',
};

interface PyDecorator {
  target: string;
  method: string;
  args: string;
}

/** A keyword argument's string or list literal, e.g. `route="hello"` or `methods=["GET"]`. */
function pyArg(args: string, name: string): string | string[] | undefined {
  const str = new RegExp(`\\b${name}\\s*=\\s*(?:r|u)?(['"])(.*?)\\1`).exec(args);
  if (str) return str[2];
  const list = new RegExp(`\\b${name}\\s*=\\s*\\[([^\\]]*)\\]`).exec(args);
  if (list) return [...(list[1] as string).matchAll(/(['"])(.*?)\1/g)].map((m) => m[2] as string);
  return undefined;
}

/** Decorated top-level `def`s: decorators may span lines (their parentheses are balanced). */
function pyDecoratedFunctions(source: string): Array<{ name: string; decorators: PyDecorator[] }> {
  const out: Array<{ name: string; decorators: PyDecorator[] }> = [];
  const lines = source.replace(/\r\n/g, '\n').split('\n');
  let pending: PyDecorator[] = [];
  for (let i = 0; i < lines.length; i++) {
    const line = (lines[i] as string).trim();
    if (line.startsWith('@')) {
      let text = line;
      let depth = 0;
      const count = (t: string) => {
        for (const ch of t.replace(/(['"]).*?\1/g, '')) depth += ch === '(' ? 1 : ch === ')' ? -1 : 0;
      };
      count(text);
      while (depth > 0 && i + 1 < lines.length) {
        const next = (lines[++i] as string).trim();
        text += ` ${next}`;
        count(next);
      }
      const m = /^@(\w+)\.(\w+)\s*(?:\((.*)\))?\s*$/.exec(text);
      if (m) pending.push({ target: m[1] as string, method: m[2] as string, args: m[3] ?? '' });
      continue;
    }
    const def = /^(?:async\s+)?def\s+(\w+)\s*\(/.exec(line);
    if (def && pending.length > 0) out.push({ name: def[1] as string, decorators: pending });
    if (line !== '' && !line.startsWith('#')) pending = [];
  }
  return out;
}

function pyFunctions(
  source: string,
  receivers: Set<string>,
  prefix: string,
  options: DiscoverOptions,
): FunctionInfo[] {
  const functions: FunctionInfo[] = [];
  for (const fn of pyDecoratedFunctions(source)) {
    const mine = fn.decorators.filter((d) => receivers.has(d.target));
    const trigger = mine.find((d) => PY_TRIGGERS[d.method] !== undefined || d.method.endsWith('_trigger'));
    if (!trigger) continue;
    const named = mine.find((d) => d.method === 'function_name');
    const nameArg = named
      ? (pyArg(named.args, 'name') ?? /^\s*(['"])(.*?)\1/.exec(named.args)?.[2])
      : undefined;
    const name = typeof nameArg === 'string' && nameArg !== '' ? nameArg : fn.name;
    const type =
      trigger.method === 'generic_trigger'
        ? String(pyArg(trigger.args, 'type') ?? 'generic')
        : (PY_TRIGGERS[trigger.method] ??
          trigger.method.replace(/_trigger$/, '').replace(/_(\w)/g, (_, c: string) => c.toUpperCase()) +
            'Trigger');
    const argName = pyArg(trigger.args, 'arg_name');
    const binding: Record<string, unknown> = {
      type,
      direction: 'in',
      name: typeof argName === 'string' ? argName : type === 'httpTrigger' ? 'req' : 'trigger',
    };
    const bindings: Array<Record<string, unknown>> = [binding];
    if (type === 'httpTrigger') {
      const route = pyArg(trigger.args, 'route');
      const methods = pyArg(trigger.args, 'methods');
      if (typeof route === 'string') binding.route = route;
      binding.methods = Array.isArray(methods) ? methods : ['GET', 'POST'];
      bindings.push({ type: 'http', direction: 'out', name: '$return' });
    }
    const info: FunctionInfo = {
      name,
      bindings,
      language: 'python',
      isDisabled: disabled(name, false, options),
    };
    const route = httpRoute(prefix, name, bindings);
    if (route !== undefined) info.httpRoute = route;
    functions.push(info);
  }
  return functions;
}

/**
 * Python v2: the worker imports the script file (`function_app.py`, or the PYTHON_SCRIPT_FILE_NAME setting) and
 * indexes the functions decorated on its `func.FunctionApp()`; a `func.Blueprint()` counts once it is registered
 * with `app.register_functions(bp)` (or `register_blueprint`) [DOC Learn functions-reference-python, "Blueprints"].
 * The name is `@app.function_name(name=…)`'s, else the Python function's.
 */
async function fromPythonV2(zip: JSZip, prefix: string, options: DiscoverOptions): Promise<FunctionInfo[]> {
  const script = options.setting('PYTHON_SCRIPT_FILE_NAME') || 'function_app.py';
  const file = zip.file(script.replace(/^\.?\//, ''));
  if (!file) return [];
  const source = await file.async('string');
  const apps = new Set(
    [...source.matchAll(/^(\w+)\s*=\s*(?:\w+\.)*FunctionApp\s*\(/gm)].map((m) => m[1] as string),
  );
  if (apps.size === 0) return [];
  const functions = pyFunctions(source, apps, prefix, options);
  const localBlueprints = new Set(
    [...source.matchAll(/^(\w+)\s*=\s*(?:\w+\.)*Blueprint\s*\(/gm)].map((m) => m[1] as string),
  );
  const registered = [...source.matchAll(/\b(\w+)\.register_(?:functions|blueprint)\s*\(\s*([\w.]+)\s*\)/g)]
    .filter((m) => apps.has(m[1] as string))
    .map((m) => m[2] as string);
  for (const ref of registered) {
    if (localBlueprints.has(ref)) {
      functions.push(...pyFunctions(source, new Set([ref]), prefix, options));
      continue;
    }
    // `from pkg.mod import bp [as alias]` or `import pkg.mod [as alias]` with `mod.bp`.
    let module: string | undefined;
    let variable = ref;
    const dotted = /^(\w+)\.(\w+)$/.exec(ref);
    if (dotted) {
      const alias = dotted[1] as string;
      variable = dotted[2] as string;
      const imp = new RegExp(`^import\\s+([\\w.]+)(?:\\s+as\\s+${alias})?\\s*$`, 'm').exec(source);
      module = imp && (imp[1] === alias || imp[0].includes(` as ${alias}`)) ? imp[1] : undefined;
    } else {
      for (const m of source.matchAll(/^from\s+([\w.]+)\s+import\s+(.+)$/gm)) {
        for (const part of (m[2] as string).replace(/[()]/g, '').split(',')) {
          const [orig, alias] = part.trim().split(/\s+as\s+/);
          if ((alias ?? orig) === ref) {
            module = m[1] as string;
            variable = orig as string;
          }
        }
      }
    }
    if (module === undefined) continue;
    const path = module.replace(/^\./, '').replace(/\./g, '/');
    const modFile = zip.file(`${path}.py`) ?? zip.file(`${path}/__init__.py`);
    if (!modFile) {
      throw new HostError(
        `Worker failed to index functions. Result: Failure Exception: ModuleNotFoundError: No module named '${module}'.`,
      );
    }
    functions.push(...pyFunctions(await modFile.async('string'), new Set([variable]), prefix, options));
  }
  return functions;
}

/** PEP 503 name normalisation, as pip compares distribution names. */
export function normalizePackageName(name: string): string {
  return name.replace(/[-_.]+/g, '-').toLowerCase();
}

/**
 * The distribution names a requirements.txt asks for: comments, blank lines and pip options dropped, version
 * specifiers, extras and markers stripped.
 */
export function requirementNames(text: string): string[] {
  const names: string[] = [];
  for (const raw of text.replace(/\r\n/g, '\n').split('\n')) {
    const line = raw.replace(/(^|\s)#.*$/, '').trim();
    if (line === '' || line.startsWith('-')) continue;
    const name = /^([A-Za-z0-9][A-Za-z0-9._-]*)/.exec(line)?.[1];
    if (name !== undefined && !names.some((n) => normalizePackageName(n) === normalizePackageName(name)))
      names.push(name);
  }
  return names;
}

const SITE_PACKAGES = '.python_packages/lib/site-packages/';

/** Whether a package (distribution or its import directory) is in the package's .python_packages. */
function hasPythonPackage(zip: JSZip, name: string): boolean {
  const wanted = normalizePackageName(name);
  return Object.keys(zip.files).some((path) => {
    if (!path.startsWith(SITE_PACKAGES)) return false;
    const top = path.slice(SITE_PACKAGES.length).split('/')[0] ?? '';
    const dist = /^(.+?)-[^-]+\.(?:dist|egg)-info$/.exec(top)?.[1];
    return normalizePackageName(dist ?? top) === wanted;
  });
}

/**
 * A Python app imports its requirements from `.python_packages/lib/site-packages` (a local build or a remote
 * build puts them there). One that is missing fails the worker: "Exception: ModuleNotFoundError: No module named
 * 'module_name'" [DOC Learn recover-python-functions, "Troubleshoot: ModuleNotFoundError"]. `azure-functions` is
 * provided by the worker itself [INF: the worker imports its own copy of the library].
 */
async function checkPythonPackages(zip: JSZip): Promise<void> {
  const requirements = zip.file('requirements.txt');
  if (!requirements) return;
  for (const name of requirementNames(await requirements.async('string'))) {
    if (normalizePackageName(name) === 'azure-functions' || hasPythonPackage(zip, name)) continue;
    const module = normalizePackageName(name).replace(/-/g, '_');
    throw new HostError(
      `Worker failed to index functions. Result: Failure Exception: ModuleNotFoundError: No module named '${module}'. ` +
        'Cannot find module. Please check the requirements.txt file for the missing module. For more info, please ' +
        'refer the troubleshooting guide: https://aka.ms/functions-modulenotfound.',
    );
  }
}

/**
 * Indexes a package the way the Functions host does at start-up: host.json must be at the root; functions come
 * from `functions.metadata` (.NET isolated), else top-level `*\/function.json` folders (classic, Java, Python v1,
 * PowerShell), else the Python v2 script or the Node v4 model's `main` files.
 */
export async function discoverPackage(
  bytes: Buffer,
  where: string,
  options: DiscoverOptions,
): Promise<DiscoveredPackage> {
  let zip: JSZip;
  try {
    zip = await JSZip.loadAsync(bytes);
  } catch (error) {
    throw new HostError(`package ${where} is not a valid zip (${(error as Error).message})`);
  }
  const hostJson = await readJson(zip, 'host.json', 'host configuration');
  if (hostJson === undefined) throw new HostError(`host.json was not found at the root of package ${where}`);
  const prefix = routePrefix(hostJson);
  const bundle = (hostJson as { extensionBundle?: { id?: unknown; version?: unknown } }).extensionBundle;
  const extensionBundle =
    typeof bundle?.id === 'string' && typeof bundle.version === 'string'
      ? { id: bundle.id, version: bundle.version }
      : undefined;
  const python = options.language.toLowerCase() === 'python';
  if (python) await checkPythonPackages(zip);
  const isolated = await fromDotnetMetadata(zip, prefix, options);
  if (isolated !== undefined) return { functions: isolated, extensionBundle };
  const classic = await fromFunctionJson(zip, prefix, options);
  if (classic.length > 0) return { functions: classic, extensionBundle };
  const modern = python ? await fromPythonV2(zip, prefix, options) : await fromNodeV4(zip, prefix, options);
  return { functions: modern, extensionBundle };
}

export async function discoverFunctions(
  bytes: Buffer,
  where: string,
  options: DiscoverOptions,
): Promise<FunctionInfo[]> {
  return (await discoverPackage(bytes, where, options)).functions;
}
