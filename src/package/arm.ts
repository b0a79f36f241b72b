import { PackageError } from '../errors.js';
import { checkEntryName, type ZipInput } from './zip-writer.js';

/** Generated host.json: the v4 runtime with the current extension bundle range (bindings beyond HTTP/timer). */
export const GENERATED_HOST_JSON = {
  version: '2.0',
  extensionBundle: { id: 'Microsoft.Azure.Functions.ExtensionBundle', version: '[4.*, 5.0.0)' },
};

export const PACKAGE_URI_PARAMETER = 'packageUri';
const RUN_FROM_PACKAGE = 'WEBSITE_RUN_FROM_PACKAGE';
const FUNCTION_TYPE = 'microsoft.web/sites/functions';
const SITE_TYPE = 'microsoft.web/sites';
const CONFIG_TYPE = 'microsoft.web/sites/config';
const FUNCTION_NAME = /^[A-Za-z][A-Za-z0-9_-]{0,127}$/;

export interface LiftedTemplate {
  files: ZipInput[];
  functions: string[];
  /** The template without inline code, deploying the site from the `packageUri` parameter. */
  slim: Record<string, unknown>;
  warnings: string[];
}

type Json = Record<string, unknown>;

/**
 * Lifts `Microsoft.Web/sites/functions` resources carrying inline code (`properties.files`,
 * `properties.config`) out of an ARM template into function folders, and returns the template slimmed:
 * those resources removed and the site's WEBSITE_RUN_FROM_PACKAGE taken from a new `packageUri` parameter.
 */
export function liftTemplate(text: string, label: string): LiftedTemplate {
  let template: unknown;
  try {
    template = JSON.parse(text.replace(/^\uFEFF/, ''));
  } catch (e) {
    throw new PackageError(`${label} is not valid JSON: ${(e as Error).message}`, {
      fix: 'Fix the template syntax',
    });
  }
  if (!isObject(template) || !Array.isArray(template.resources)) {
    throw new PackageError(`${label} is not an ARM template (no "resources" array)`, {
      fix: 'Point the package input at an app folder, a .zip, or an ARM template with Microsoft.Web/sites/functions resources',
    });
  }
  const slim = structuredClone(template) as Json & { resources: unknown[] };
  const warnings: string[] = [];
  const lifted: { name: string; resource: Json }[] = [];
  const removedNames: string[] = [];

  // Top-level functions resources, and ones nested in a site's "resources" as type "functions".
  const sites: Json[] = [];
  slim.resources = slim.resources.filter((r) => {
    if (!isObject(r)) return true;
    const type = String(r.type ?? '').toLowerCase();
    if (type === FUNCTION_TYPE) {
      lifted.push({ name: functionName(r.name, label), resource: r });
      removedNames.push(String(r.name));
      return false;
    }
    if (type === SITE_TYPE) {
      sites.push(r);
      if (Array.isArray(r.resources)) {
        r.resources = r.resources.filter((c) => {
          if (!isObject(c) || String(c.type ?? '').toLowerCase() !== 'functions') return true;
          lifted.push({ name: functionName(c.name, label), resource: c });
          removedNames.push(String(c.name));
          return false;
        });
      }
    }
    return true;
  });

  const withCode = lifted.filter(
    (f) =>
      isObject(f.resource.properties) &&
      ('files' in f.resource.properties || 'config' in f.resource.properties),
  );
  if (withCode.length === 0) {
    throw new PackageError(
      `${label} has no Microsoft.Web/sites/functions resource with inline code (properties.files / properties.config)`,
      {
        fix: 'Point the package input at the app folder or a .zip instead',
      },
    );
  }
  const seen = new Set<string>();
  const files: ZipInput[] = [];
  for (const { name, resource } of lifted) {
    if (seen.has(name.toLowerCase())) {
      throw new PackageError(`${label} defines the function ${name} twice`, {
        fix: 'Give each function a distinct name',
      });
    }
    seen.add(name.toLowerCase());
    files.push(...functionFiles(name, resource, label));
  }

  const siteName = sites.length === 1 ? literalName(sites[0]!.name) : undefined;
  files.push(text2file('host.json', `${JSON.stringify(GENERATED_HOST_JSON, null, 2)}\n`));
  files.push(
    text2file(
      'package.json',
      `${JSON.stringify(
        {
          name: npmName(siteName ?? 'function-app'),
          version: '1.0.0',
          private: true,
          description: `Functions lifted out of ${label.replace(/^.*[\\/]/, '')} by azure-functions-package-deploy`,
          dependencies: {},
        },
        null,
        2,
      )}\n`,
    ),
  );

  dropDependsOn(slim, removedNames);
  if (sites.length === 1) {
    pointSiteAtPackage(slim, sites[0]!);
  } else {
    warnings.push(
      sites.length === 0
        ? `${label} has no Microsoft.Web/sites resource: set WEBSITE_RUN_FROM_PACKAGE on the app yourself`
        : `${label} has ${sites.length} Microsoft.Web/sites resources: WEBSITE_RUN_FROM_PACKAGE was not set on any of them`,
    );
  }
  const parameters = isObject(slim.parameters) ? slim.parameters : {};
  parameters[PACKAGE_URI_PARAMETER] = {
    type: 'securestring',
    metadata: {
      description:
        'URL of the function package (with a read SAS when needed), set by azure-functions-package-deploy',
    },
  };
  slim.parameters = parameters;

  return { files, functions: lifted.map((f) => f.name).sort(), slim, warnings };
}

function functionFiles(name: string, resource: Json, label: string): ZipInput[] {
  const props = isObject(resource.properties) ? resource.properties : {};
  const out: ZipInput[] = [];
  const where = `${label}: function ${name}`;
  let config: unknown = props.config;
  if (typeof config === 'string') {
    try {
      config = JSON.parse(config);
    } catch (e) {
      throw new PackageError(`${where} has properties.config that is not JSON: ${(e as Error).message}`, {
        fix: 'Make properties.config an object',
      });
    }
  }
  const inlineFiles = isObject(props.files) ? props.files : {};
  if (config === undefined && !('function.json' in inlineFiles)) {
    throw new PackageError(`${where} has no properties.config (its function.json)`, {
      fix: 'Add properties.config with the function\'s "bindings"',
    });
  }
  if (config !== undefined) {
    rejectExpressions(config, `${where} properties.config`);
    out.push(text2file(`${name}/function.json`, `${JSON.stringify(config, null, 2)}\n`));
  }
  for (const [file, content] of Object.entries(inlineFiles)) {
    if (config !== undefined && file === 'function.json') continue;
    if (typeof content !== 'string') {
      throw new PackageError(`${where} file ${file} is not a string`, {
        fix: 'Inline file contents must be strings',
      });
    }
    if (isExpression(content)) {
      throw new PackageError(`${where} file ${file} is an ARM expression, which only Azure can evaluate`, {
        fix: 'Put the code itself in the template (a string starting with "[" is written "[[..."), or deploy from a folder',
      });
    }
    const path = `${name}/${file.replace(/^\.\//, '')}`;
    checkEntryName(path);
    out.push(text2file(path, unescapeArm(content)));
  }
  return out;
}

function pointSiteAtPackage(slim: Json & { resources: unknown[] }, site: Json): void {
  const value = `[parameters('${PACKAGE_URI_PARAMETER}')]`;
  // App settings given as a sites/config "appsettings" resource replace the site's siteConfig.appSettings.
  const nested = Array.isArray(site.resources) ? site.resources : [];
  const configs = [
    ...slim.resources.filter((r) => isObject(r) && String(r.type ?? '').toLowerCase() === CONFIG_TYPE),
    ...nested.filter((r) => isObject(r) && String(r.type ?? '').toLowerCase() === 'config'),
  ] as Json[];
  const appsettings = configs.find((c) => /(^|\/)appsettings'?\)?\]?$/i.test(String(c.name ?? '')));
  if (appsettings) {
    const props = isObject(appsettings.properties) ? appsettings.properties : {};
    for (const k of Object.keys(props)) if (k.toUpperCase() === RUN_FROM_PACKAGE) delete props[k];
    props[RUN_FROM_PACKAGE] = value;
    appsettings.properties = props;
    return;
  }
  const props = isObject(site.properties) ? site.properties : {};
  const siteConfig = isObject(props.siteConfig) ? props.siteConfig : {};
  const settings = Array.isArray(siteConfig.appSettings) ? siteConfig.appSettings : [];
  siteConfig.appSettings = [
    ...settings.filter((s) => !(isObject(s) && String(s.name ?? '').toUpperCase() === RUN_FROM_PACKAGE)),
    { name: RUN_FROM_PACKAGE, value },
  ];
  props.siteConfig = siteConfig;
  site.properties = props;
}

/** Removes dependsOn entries that name a lifted functions resource, anywhere in the template. */
function dropDependsOn(node: unknown, removed: readonly string[]): void {
  if (Array.isArray(node)) {
    for (const n of node) dropDependsOn(n, removed);
    return;
  }
  if (!isObject(node)) return;
  if (Array.isArray(node.dependsOn)) {
    node.dependsOn = node.dependsOn.filter(
      (d) => typeof d !== 'string' || !(/sites\/functions/i.test(d) || removed.includes(d)),
    );
  }
  if (Array.isArray(node.resources)) dropDependsOn(node.resources, removed);
}

/**
 * "site/Hello", nested "Hello", "[concat(parameters('site'), '/Hello')]", "[concat(parameters('site'), '/', 'Hello')]"
 * or "[format('{0}/Hello', parameters('site'))]": the name is what follows the last "/" in a string literal.
 * Literals inside parameters()/variables() are values Azure supplies, so a name given that way is refused.
 */
function functionName(raw: unknown, label: string): string {
  const text = String(raw ?? '');
  let name: string | undefined = text.slice(text.lastIndexOf('/') + 1);
  if (isExpression(text)) {
    const stripped = text.replace(/\b(?:parameters|variables)\s*\(\s*'(?:[^']|'')*'\s*\)/gi, '()');
    const literals = [...stripped.matchAll(/'((?:[^']|'')*)'/g)].map((m) => m[1]!.replace(/''/g, "'"));
    const i = literals.findLastIndex((l) => l.includes('/'));
    const withSlash = literals[i];
    name =
      withSlash === undefined
        ? undefined
        : withSlash.slice(withSlash.lastIndexOf('/') + 1) || literals[i + 1];
  }
  if (name === undefined || !FUNCTION_NAME.test(name)) {
    throw new PackageError(
      `${label}: cannot tell the function name from the resource name ${JSON.stringify(text)}`,
      {
        fix: 'Name the resource with a literal function name, e.g. "[concat(parameters(\'siteName\'), \'/Hello\')]" or "mysite/Hello"',
      },
    );
  }
  return name;
}

function literalName(raw: unknown): string | undefined {
  const text = String(raw ?? '');
  return text === '' || isExpression(text) ? undefined : text;
}

function rejectExpressions(v: unknown, where: string): void {
  if (typeof v === 'string' && isExpression(v)) {
    throw new PackageError(
      `${where} contains the ARM expression ${JSON.stringify(v)}, which only Azure can evaluate`,
      {
        fix: 'Use literal values in the function configuration (app settings can be referenced by name, e.g. "connection": "MyStorage")',
      },
    );
  }
  if (Array.isArray(v)) for (const x of v) rejectExpressions(x, where);
  else if (isObject(v)) for (const x of Object.values(v)) rejectExpressions(x, where);
}

/** ARM evaluates a string that starts with "[" and ends with "]"; "[[" escapes a literal "[". */
function isExpression(s: string): boolean {
  return s.startsWith('[') && !s.startsWith('[[') && s.trimEnd().endsWith(']');
}

function unescapeArm(s: string): string {
  return s.startsWith('[[') ? s.slice(1) : s;
}

function npmName(s: string): string {
  const n = s
    .toLowerCase()
    .replace(/[^a-z0-9._-]+/g, '-')
    .replace(/^[._-]+/, '');
  return n === '' ? 'function-app' : n.slice(0, 214);
}

function text2file(name: string, text: string): ZipInput {
  const data = Buffer.from(text, 'utf8');
  return { name, data, size: data.length, mode: 0o644 };
}

function isObject(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
