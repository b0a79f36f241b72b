import { functionAppConfigProblem } from './flex-config.js';

/** The sandbox's description of the Function Apps it hosts (sandbox/apps.example.json). */
export interface SandboxSeed {
  subscriptionId: string;
  tenantId: string;
  apps: AppSeed[];
}

export type Os = 'windows' | 'linux';
export type Tier =
  | 'Dynamic'
  | 'ElasticPremium'
  | 'FlexConsumption'
  | 'Basic'
  | 'Standard'
  | 'PremiumV2'
  | 'PremiumV3';

export interface PlanSeed {
  name: string;
  sku: string;
  tier: Tier;
}

export interface SlotSeed {
  name: string;
  state: 'Running' | 'Stopped';
  settings: Record<string, string>;
}

export interface AppSeed {
  name: string;
  resourceGroup: string;
  location: string;
  os: Os;
  plan: PlanSeed;
  state: 'Running' | 'Stopped';
  basicAuthAllowed: boolean;
  /** "SystemAssigned" and/or user-assigned identity resource ids. */
  identities: string[];
  linuxFxVersion: string;
  settings: Record<string, string>;
  slots: SlotSeed[];
  /** Flex Consumption only: returned as `properties.functionAppConfig`. */
  functionAppConfig?: Record<string, unknown>;
  /** The site's `kind` when it is not the plain `functionapp` / `functionapp,linux`, e.g. `functionapp,linux,container`. */
  kind?: string;
  /** Container and Kubernetes apps: the functions the image runs, whatever is deployed to Kudu. */
  imageFunctions?: string[];
}

export const DEFAULT_SUBSCRIPTION_ID = '00000000-0000-4000-8000-000000000001';
export const DEFAULT_TENANT_ID = '00000000-0000-4000-8000-0000000000aa';

const TIERS: ReadonlyArray<[RegExp, Tier]> = [
  [/^Y1$/i, 'Dynamic'],
  [/^EP[1-3]$/i, 'ElasticPremium'],
  [/^FC1$/i, 'FlexConsumption'],
  [/^B[1-3]$/i, 'Basic'],
  [/^S[1-3]$/i, 'Standard'],
  [/^P[1-3]v2$/i, 'PremiumV2'],
  [/^P[0-5]m?v3$/i, 'PremiumV3'],
];

export function tierOf(sku: string): Tier | undefined {
  return TIERS.find(([pattern]) => pattern.test(sku))?.[1];
}

class SeedError extends Error {
  constructor(path: string, problem: string) {
    super(`Invalid sandbox seed: ${path}: ${problem}`);
    this.name = 'SeedError';
  }
}

type Obj = Record<string, unknown>;

function isObj(value: unknown): value is Obj {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function str(obj: Obj, key: string, path: string, fallback?: string): string {
  const value = obj[key];
  if (value === undefined && fallback !== undefined) return fallback;
  if (typeof value !== 'string' || value === '')
    throw new SeedError(`${path}.${key}`, 'must be a non-empty string');
  return value;
}

function bool(obj: Obj, key: string, path: string, fallback: boolean): boolean {
  const value = obj[key];
  if (value === undefined) return fallback;
  if (typeof value !== 'boolean') throw new SeedError(`${path}.${key}`, 'must be true or false');
  return value;
}

function runState(obj: Obj, path: string): 'Running' | 'Stopped' {
  const value = obj.state ?? 'Running';
  if (value !== 'Running' && value !== 'Stopped')
    throw new SeedError(`${path}.state`, 'must be "Running" or "Stopped"');
  return value;
}

function settings(obj: Obj, path: string): Record<string, string> {
  const value = obj.settings ?? {};
  if (!isObj(value)) throw new SeedError(`${path}.settings`, 'must be an object of strings');
  const out: Record<string, string> = {};
  for (const [key, v] of Object.entries(value)) {
    if (typeof v !== 'string')
      throw new SeedError(`${path}.settings.${key}`, 'must be a string (app settings are strings)');
    out[key] = v;
  }
  return out;
}

function linuxFx(obj: Obj, path: string): string {
  const value = obj.linuxFxVersion ?? '';
  if (typeof value !== 'string')
    throw new SeedError(`${path}.linuxFxVersion`, 'must be a string such as "Node|20"');
  return value;
}

// App Service names: letters, digits and hyphens, not starting or ending with a hyphen.
const NAME = /^[a-z0-9](?:[a-z0-9-]{0,58}[a-z0-9])?$/i;

function parseApp(raw: unknown, path: string): AppSeed {
  if (!isObj(raw)) throw new SeedError(path, 'must be an object');
  const name = str(raw, 'name', path);
  if (!NAME.test(name)) throw new SeedError(`${path}.name`, `'${name}' is not a valid app name`);
  const os = raw.os ?? 'windows';
  if (os !== 'windows' && os !== 'linux') throw new SeedError(`${path}.os`, 'must be "windows" or "linux"');
  if (!isObj(raw.plan)) throw new SeedError(`${path}.plan`, 'must be an object {name, sku}');
  const sku = str(raw.plan, 'sku', `${path}.plan`);
  const tier = tierOf(sku);
  if (!tier)
    throw new SeedError(
      `${path}.plan.sku`,
      `unknown SKU '${sku}' (expected Y1, EP1-3, FC1, B1-3, S1-3, P1v2-P3v2, P0v3-P5v3)`,
    );
  if (tier === 'FlexConsumption' && os !== 'linux')
    throw new SeedError(`${path}.os`, 'Flex Consumption apps are Linux only');
  const identities = raw.identities ?? [];
  if (!Array.isArray(identities) || !identities.every((id) => typeof id === 'string' && id !== '')) {
    throw new SeedError(
      `${path}.identities`,
      'must be an array of "SystemAssigned" or identity resource ids',
    );
  }
  const slotsRaw = raw.slots ?? [];
  if (!Array.isArray(slotsRaw)) throw new SeedError(`${path}.slots`, 'must be an array');
  const slots = slotsRaw.map((slot, i): SlotSeed => {
    const slotPath = `${path}.slots[${i}]`;
    if (!isObj(slot)) throw new SeedError(slotPath, 'must be an object');
    const slotName = str(slot, 'name', slotPath);
    if (!NAME.test(slotName) || slotName.toLowerCase() === 'production') {
      throw new SeedError(`${slotPath}.name`, `'${slotName}' is not a valid slot name`);
    }
    return { name: slotName, state: runState(slot, slotPath), settings: settings(slot, slotPath) };
  });
  const slotNames = new Set<string>();
  for (const slot of slots) {
    if (slotNames.has(slot.name.toLowerCase()))
      throw new SeedError(`${path}.slots`, `duplicate slot '${slot.name}'`);
    slotNames.add(slot.name.toLowerCase());
  }
  const app: AppSeed = {
    name,
    resourceGroup: str(raw, 'resourceGroup', path),
    location: str(raw, 'location', path, 'East US'),
    os,
    plan: { name: str(raw.plan, 'name', `${path}.plan`), sku, tier },
    state: runState(raw, path),
    basicAuthAllowed: bool(raw, 'basicAuthAllowed', path, true),
    identities: identities as string[],
    linuxFxVersion: os === 'linux' ? linuxFx(raw, path) : '',
    settings: settings(raw, path),
    slots,
  };
  if (raw.kind !== undefined) {
    const kind = raw.kind;
    // A plain web app (`app`, `app,linux`) shares the App Service front door and Kudu with function apps; a
    // client that does not check the kind deploys to it and reports success.
    if (typeof kind !== 'string' || !/^(functionapp|app)(,[a-z]+)*$/i.test(kind))
      throw new SeedError(`${path}.kind`, 'must look like "functionapp,linux,container" or "app,linux"');
    if (kind.toLowerCase().split(',').includes('linux') !== (os === 'linux'))
      throw new SeedError(`${path}.kind`, `contains "linux" exactly when os is "linux"`);
    app.kind = kind;
  }
  if (raw.imageFunctions !== undefined) {
    const fns = raw.imageFunctions;
    if (!Array.isArray(fns) || !fns.every((f) => typeof f === 'string' && /^[A-Za-z][\w-]*$/.test(f)))
      throw new SeedError(`${path}.imageFunctions`, 'must be an array of function names');
    const kind = (app.kind ?? '').toLowerCase();
    if (!kind.includes('container') && !kind.includes('kubernetes') && !/^docker\|/i.test(app.linuxFxVersion))
      throw new SeedError(
        `${path}.imageFunctions`,
        'only container apps (kind or DOCKER| linuxFxVersion) run an image',
      );
    app.imageFunctions = fns as string[];
  }
  // Learn functions-deployment-slots: Flex Consumption "Not currently supported" in the slots table [DOC].
  if (tier === 'FlexConsumption' && slots.length > 0)
    throw new SeedError(`${path}.slots`, 'Flex Consumption apps have no deployment slots');
  if (raw.functionAppConfig !== undefined) {
    if (tier !== 'FlexConsumption')
      throw new SeedError(`${path}.functionAppConfig`, 'only Flex Consumption apps have one');
    const problem = functionAppConfigProblem(raw.functionAppConfig);
    if (problem !== undefined) {
      const [where, what] = problem.split(/: (.*)/s);
      throw new SeedError(`${path}.${where}`, what ?? problem);
    }
    app.functionAppConfig = raw.functionAppConfig as Record<string, unknown>;
  }
  return app;
}

/** Validates a parsed seed file; throws an error naming the offending field. */
export function parseSeed(json: unknown): SandboxSeed {
  if (!isObj(json)) throw new SeedError('(root)', 'must be an object with an "apps" array');
  if (!Array.isArray(json.apps) || json.apps.length === 0)
    throw new SeedError('apps', 'must be a non-empty array');
  const apps = json.apps.map((app, i) => parseApp(app, `apps[${i}]`));
  const names = new Set<string>();
  const plans = new Map<string, string>();
  apps.forEach((app, i) => {
    if (names.has(app.name.toLowerCase()))
      throw new SeedError(`apps[${i}].name`, `duplicate app '${app.name}'`);
    names.add(app.name.toLowerCase());
    const planKey = `${app.resourceGroup}/${app.plan.name}`.toLowerCase();
    const other = plans.get(planKey);
    if (other !== undefined && other !== `${app.plan.sku}/${app.os}`.toLowerCase()) {
      throw new SeedError(
        `apps[${i}].plan`,
        `plan '${app.plan.name}' is declared with different SKUs or OSes`,
      );
    }
    // Learn "Flex Consumption plan", considerations: "Only one app is allowed per Flex Consumption plan" [DOC].
    if (other !== undefined && app.plan.tier === 'FlexConsumption')
      throw new SeedError(
        `apps[${i}].plan`,
        `plan '${app.plan.name}' already hosts an app (one app per FC1 plan)`,
      );
    plans.set(planKey, `${app.plan.sku}/${app.os}`.toLowerCase());
  });
  const guid = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
  const subscriptionId = str(json, 'subscriptionId', '(root)', DEFAULT_SUBSCRIPTION_ID);
  const tenantId = str(json, 'tenantId', '(root)', DEFAULT_TENANT_ID);
  if (!guid.test(subscriptionId)) throw new SeedError('subscriptionId', 'must be a GUID');
  if (!guid.test(tenantId)) throw new SeedError('tenantId', 'must be a GUID');
  return { subscriptionId, tenantId, apps };
}
