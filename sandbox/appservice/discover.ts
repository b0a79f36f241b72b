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
  /** Case-insensitive lookups of app settings (AzureWebJobs.{name}.Disabled). */
  setting: (name: string) => string | undefined;
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
 * Indexes a package the way the Functions host does at start-up: host.json must be at the root;
 * functions come from top-level `*\/function.json` folders, or else from the Node v4 model's `main` files.
 */
export async function discoverFunctions(
  bytes: Buffer,
  where: string,
  options: DiscoverOptions,
): Promise<FunctionInfo[]> {
  let zip: JSZip;
  try {
    zip = await JSZip.loadAsync(bytes);
  } catch (error) {
    throw new HostError(`package ${where} is not a valid zip (${(error as Error).message})`);
  }
  const hostJson = await readJson(zip, 'host.json', 'host configuration');
  if (hostJson === undefined) throw new HostError(`host.json was not found at the root of package ${where}`);
  const prefix = routePrefix(hostJson);
  const classic = await fromFunctionJson(zip, prefix, options);
  return classic.length > 0 ? classic : fromNodeV4(zip, prefix, options);
}
