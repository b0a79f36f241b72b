// Sandbox stand-in for the Azure CLI as it behaves on a runner after `azure/login`.
// Self-contained on purpose (no project imports, no dependencies): it is put on PATH for child processes
// such as the bundled action, so it must run on any Node >= 20 from any working directory.
// It never opens a network connection: tokens are minted locally.
//
// Config: JSON file named by AZ_SANDBOX_CONFIG:
//   { subscriptionId, tenantId, subscriptionName, user: {name, type} | name,
//     resourceManagerEndpoint, storageSuffix?, activeDirectory?, principalId?, tokenTtlSeconds?,
//     loggedIn? (false = behave as before `az login`), callLog? (file; one JSON line per invocation) }
//
// Environment (for benchmarks; both apply to every invocation, whatever its arguments or outcome):
//   AZ_SANDBOX_DELAY_MS  milliseconds each invocation takes before it does anything (default 0)
//   AZ_SANDBOX_LOG       file; one JSON line {argv, pid, at} is appended as each invocation starts

import { randomBytes, randomUUID } from 'node:crypto';
import { appendFileSync, readFileSync } from 'node:fs';

const AZURE_CLI_APP_ID = '04b07795-8ddb-461a-bbee-02f9e1bf7b46';
const DEFAULT_PRINCIPAL_ID = '00000000-0000-4000-8000-0000000000bb';

class AzError extends Error {
  constructor(message, exitCode) {
    super(message);
    this.exitCode = exitCode;
  }
}

// Exit codes as real az uses them: 2 for parser errors (unknown command, bad arguments), 1 for runtime errors.
const usage = (message) => new AzError(message, 2);
const failure = (message) => new AzError(message, 1);

function loadConfig() {
  const file = process.env.AZ_SANDBOX_CONFIG;
  if (!file) throw failure("Please run 'az login' to setup account.");
  let raw;
  try {
    raw = JSON.parse(readFileSync(file, 'utf8'));
  } catch (error) {
    throw failure(`Failed to load sandbox az config ${file}: ${error.message}`);
  }
  if (raw.loggedIn === false) throw failure("Please run 'az login' to setup account.");
  const user = typeof raw.user === 'string' ? { name: raw.user, type: 'servicePrincipal' } : (raw.user ?? {});
  return {
    subscriptionId: String(raw.subscriptionId ?? ''),
    tenantId: String(raw.tenantId ?? ''),
    subscriptionName: String(raw.subscriptionName ?? 'Sandbox Subscription'),
    user: { name: String(user.name ?? 'sandbox-sp'), type: String(user.type ?? 'servicePrincipal') },
    resourceManagerEndpoint: String(raw.resourceManagerEndpoint ?? 'https://management.azure.com/'),
    activeDirectory: String(raw.activeDirectory ?? 'https://login.microsoftonline.com'),
    storageSuffix: String(raw.storageSuffix ?? 'core.windows.net'),
    principalId: String(raw.principalId ?? DEFAULT_PRINCIPAL_ID),
    tokenTtlSeconds: Number(raw.tokenTtlSeconds ?? 3600),
    callLog: typeof raw.callLog === 'string' ? raw.callLog : undefined,
  };
}

/**
 * Splits argv into the command words and its options. Options listed in `multi` take every following
 * value up to the next option (az's nargs='+'); `flags` take no value; all other options take one value.
 */
function parseArgs(argv, { multi = [], flags = [] } = {}) {
  const words = [];
  const options = new Map();
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (!arg.startsWith('-') || arg === '-') {
      words.push(arg);
      continue;
    }
    const eq = arg.indexOf('=');
    const name = eq > 0 ? arg.slice(0, eq) : arg;
    if (flags.includes(name)) {
      options.set(name, true);
      continue;
    }
    const values = [];
    if (eq > 0) values.push(arg.slice(eq + 1));
    else {
      while (i + 1 < argv.length && !argv[i + 1].startsWith('-')) {
        values.push(argv[++i]);
        if (!multi.includes(name)) break;
      }
    }
    if (values.length === 0)
      throw usage(
        `argument ${name}: expected ${multi.includes(name) ? 'at least one argument' : 'one argument'}`,
      );
    options.set(name, multi.includes(name) ? [...(options.get(name) ?? []), ...values] : values[0]);
  }
  return { words, options };
}

const GLOBAL_FLAGS = ['--only-show-errors', '--verbose', '--debug'];
const GLOBAL_OPTIONS = ['--output', '-o', '--query'];

/** Takes an option known by several aliases; throws az's parser error for anything not in `allowed`. */
function takeOptions(options, allowed) {
  const known = new Set([...allowed.flat(), ...GLOBAL_FLAGS, ...GLOBAL_OPTIONS]);
  const unknown = [...options.keys()].filter((name) => !known.has(name));
  if (unknown.length > 0) throw usage(`unrecognized arguments: ${unknown.join(' ')}`);
  const pick = (aliases) => {
    for (const alias of aliases) if (options.has(alias)) return options.get(alias);
    return undefined;
  };
  return pick;
}

function b64url(value) {
  return Buffer.from(value).toString('base64url');
}

// Same claim set as sandbox/tokens.ts mintToken (kept in sync by hand: this file may not import project code).
function mintToken(config, audience, tenantId) {
  const now = Math.floor(Date.now() / 1000);
  const header = { typ: 'JWT', alg: 'RS256', kid: 'sandbox' };
  const claims = {
    aud: audience,
    iss: `https://sts.windows.net/${tenantId}/`,
    iat: now,
    nbf: now,
    exp: now + config.tokenTtlSeconds,
    appid: AZURE_CLI_APP_ID,
    appidacr: '0',
    idtyp: config.user.type === 'user' ? 'user' : 'app',
    oid: config.principalId,
    sub: config.principalId,
    tid: tenantId,
    uti: randomUUID().replaceAll('-', ''),
    ver: '1.0',
  };
  if (config.user.type === 'user') {
    claims.upn = config.user.name;
    claims.unique_name = config.user.name;
    claims.name = config.user.name;
  }
  return {
    token: `${b64url(JSON.stringify(header))}.${b64url(JSON.stringify(claims))}.${b64url(randomBytes(64))}`,
    exp: claims.exp,
  };
}

/** az prints `expiresOn` in local time, "YYYY-MM-DD HH:MM:SS.ffffff" (Python's str(datetime)). */
function localExpiresOn(epochSeconds) {
  const d = new Date(epochSeconds * 1000);
  const p = (n, w = 2) => String(n).padStart(w, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}.000000`;
}

function checkSubscription(config, subscription) {
  if (subscription === undefined) return;
  const wanted = String(subscription).toLowerCase();
  if (wanted !== config.subscriptionId.toLowerCase() && wanted !== config.subscriptionName.toLowerCase()) {
    throw failure(`Subscription '${subscription}' not found. Check the spelling and casing and try again.`);
  }
}

function accountShow(config, pick) {
  checkSubscription(config, pick(['--subscription', '-s', '--name', '-n']));
  return {
    environmentName: 'AzureCloud',
    homeTenantId: config.tenantId,
    id: config.subscriptionId,
    isDefault: true,
    managedByTenants: [],
    name: config.subscriptionName,
    state: 'Enabled',
    tenantDefaultDomain: 'sandbox.onmicrosoft.com',
    tenantDisplayName: 'Sandbox',
    tenantId: config.tenantId,
    user: { name: config.user.name, type: config.user.type },
  };
}

function getAccessToken(config, pick) {
  const resource = pick(['--resource']);
  const scopes = pick(['--scope']);
  const resourceType = pick(['--resource-type']);
  const tenant = pick(['--tenant', '-t']);
  const subscription = pick(['--subscription', '-s']);
  if ([resource, scopes, resourceType].filter((v) => v !== undefined).length > 1) {
    throw usage('usage error: --resource/--resource-type/--scope are mutually exclusive');
  }
  if (tenant !== undefined && subscription !== undefined) {
    throw usage('usage error: --tenant and --subscription cannot be used together');
  }
  checkSubscription(config, subscription);
  let audience;
  if (scopes !== undefined) {
    if (scopes.length !== 1) throw failure('The Azure CLI only supports one scope per token request.');
    audience = scopes[0].replace(/\/\.default$/, '');
  } else if (resource !== undefined) {
    audience = resource;
  } else if (resourceType !== undefined) {
    const byType = {
      arm: config.resourceManagerEndpoint,
      'aad-graph': 'https://graph.windows.net/',
      'ms-graph': 'https://graph.microsoft.com/',
      batch: 'https://batch.core.windows.net/',
      'data-lake': 'https://datalake.azure.net/',
      'media-services': 'https://rest.media.azure.net',
      'oss-rdbms': 'https://ossrdbms-aad.database.windows.net',
    };
    audience = byType[resourceType];
    if (!audience) throw usage(`argument --resource-type: invalid choice: '${resourceType}'`);
  } else {
    // Without a resource az asks for the cloud's "management" resource (ARM's v1 audience).
    audience = 'https://management.core.windows.net/';
  }
  const tenantId = tenant ?? config.tenantId;
  const { token, exp } = mintToken(config, audience, tenantId);
  const result = { accessToken: token, expiresOn: localExpiresOn(exp), expires_on: exp };
  // Real az omits `subscription` when the token was requested for a tenant.
  if (tenant === undefined) result.subscription = config.subscriptionId;
  result.tenant = tenantId;
  result.tokenType = 'Bearer';
  return result;
}

function cloudShow(config, pick) {
  const name = pick(['--name', '-n']);
  if (name !== undefined && name !== 'AzureCloud') throw failure(`The cloud '${name}' is not registered.`);
  return {
    endpoints: {
      activeDirectory: config.activeDirectory,
      activeDirectoryDataLakeResourceId: 'https://datalake.azure.net/',
      activeDirectoryGraphResourceId: 'https://graph.windows.net/',
      activeDirectoryResourceId: 'https://management.core.windows.net/',
      appInsightsResourceId: 'https://api.applicationinsights.io',
      appInsightsTelemetryChannelResourceId: 'https://dc.applicationinsights.azure.com/v2/track',
      attestationResourceId: 'https://attest.azure.net',
      azmirrorStorageAccountResourceId: null,
      batchResourceId: 'https://batch.core.windows.net/',
      gallery: null,
      logAnalyticsResourceId: 'https://api.loganalytics.io',
      management: 'https://management.core.windows.net/',
      mediaResourceId: 'https://rest.media.azure.net',
      microsoftGraphResourceId: 'https://graph.microsoft.com/',
      ossrdbmsResourceId: 'https://ossrdbms-aad.database.windows.net',
      portal: 'https://portal.azure.com',
      resourceManager: config.resourceManagerEndpoint,
      sqlManagement: 'https://management.core.windows.net:8443/',
      synapseAnalyticsResourceId: 'https://dev.azuresynapse.net',
      vmImageAliasDoc: null,
    },
    isActive: true,
    name: 'AzureCloud',
    profile: 'latest',
    suffixes: {
      acrLoginServerEndpoint: '.azurecr.io',
      attestationEndpoint: '.attest.azure.net',
      azureDatalakeAnalyticsCatalogAndJobEndpoint: 'azuredatalakeanalytics.net',
      azureDatalakeStoreFileSystemEndpoint: 'azuredatalakestore.net',
      keyvaultDns: '.vault.azure.net',
      mariadbServerEndpoint: '.mariadb.database.azure.com',
      mhsmDns: '.managedhsm.azure.net',
      mysqlServerEndpoint: '.mysql.database.azure.com',
      postgresqlServerEndpoint: '.postgres.database.azure.com',
      sqlServerHostname: '.database.windows.net',
      storageEndpoint: config.storageSuffix,
      storageSyncEndpoint: 'afs.azure.net',
      synapseAnalyticsEndpoint: '.dev.azuresynapse.net',
    },
  };
}

/** The subset of JMESPath scripts use with az: dotted field paths (`id`, `user.name`). */
function applyQuery(value, query) {
  if (query === undefined) return value;
  if (!/^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$/.test(query)) {
    throw usage(
      `argument --query: invalid jmespath_type value: '${query}' (the sandbox az supports dotted paths only)`,
    );
  }
  let current = value;
  for (const key of query.split('.'))
    current = current !== null && typeof current === 'object' ? current[key] : null;
  return current ?? null;
}

function render(value, format) {
  switch (format) {
    case undefined:
    case 'json':
    case 'jsonc':
      return `${JSON.stringify(value, null, 2)}\n`;
    case 'tsv': {
      if (value === null) return '';
      if (typeof value !== 'object') return `${value}\n`;
      const row = Object.values(value).filter((v) => v === null || typeof v !== 'object');
      return `${row.map((v) => (v === null ? '' : String(v))).join('\t')}\n`;
    }
    case 'none':
      return '';
    default:
      throw usage(
        `argument --output/-o: invalid choice: '${format}' (choose from 'json', 'jsonc', 'none', 'tsv')`,
      );
  }
}

const COMMANDS = {
  'account show': { run: accountShow, options: [['--subscription', '-s', '--name', '-n']] },
  'account get-access-token': {
    run: getAccessToken,
    options: [['--resource'], ['--scope'], ['--resource-type'], ['--tenant', '-t'], ['--subscription', '-s']],
    multi: ['--scope'],
  },
  'cloud show': { run: cloudShow, options: [['--name', '-n']] },
};
const GROUPS = { account: ['show', 'get-access-token'], cloud: ['show'] };

function main(argv) {
  const { words } = parseArgs(argv, { multi: ['--scope'], flags: GLOBAL_FLAGS });
  const [group, sub] = words;
  if (group === undefined)
    throw usage('the sandbox az needs a command (account show, account get-access-token, cloud show)');
  if (!(group in GROUPS)) throw usage(`'${group}' is misspelled or not recognized by the system.`);
  if (sub === undefined || !GROUPS[group].includes(sub)) {
    throw usage(`'${sub ?? ''}' is misspelled or not recognized by the system.`);
  }
  if (words.length > 2) throw usage(`unrecognized arguments: ${words.slice(2).join(' ')}`);
  const command = COMMANDS[`${group} ${sub}`];
  const { options } = parseArgs(argv, { multi: command.multi ?? [], flags: GLOBAL_FLAGS });
  const pick = takeOptions(options, command.options);
  const format = pick(['--output', '-o']);
  const query = pick(['--query']);
  // Validate the output format before doing anything, as az's parser does.
  render(null, format);
  const config = loadConfig();
  if (config.callLog)
    appendFileSync(config.callLog, `${JSON.stringify({ argv, at: new Date().toISOString() })}\n`);
  return render(applyQuery(command.run(config, pick), query), format);
}

/**
 * What every `az` process pays before it looks at its arguments. The real CLI starts a Python interpreter and
 * loads its command modules first: 1 to 2 s per `az account get-access-token` on CLI 2.59 and 10 to 15 s on 2.64
 * (Azure/azure-cli#29871), "init: 10.193" of an 11.8 s get-access-token in `--debug` output (Azure/azure-cli#29329)
 * [ISSUE]. The sandbox's own shim starts in tens of milliseconds, so a benchmark asks for the delay explicitly.
 */
function startup(argv) {
  const log = process.env.AZ_SANDBOX_LOG;
  // Logged before anything can fail, so the count is of processes started, as a benchmark wants it.
  if (log)
    appendFileSync(log, `${JSON.stringify({ argv, pid: process.pid, at: new Date().toISOString() })}\n`);
  const raw = process.env.AZ_SANDBOX_DELAY_MS;
  if (raw === undefined || raw === '') return;
  const ms = /^\d+$/.test(raw) ? Number(raw) : Number.NaN;
  if (!(ms <= 600_000))
    throw failure(`AZ_SANDBOX_DELAY_MS must be an integer from 0 to 600000, not '${raw}'`);
  // A blocking wait, as the interpreter's start-up blocks: no output, no exit, before the command runs.
  if (ms > 0) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

try {
  startup(process.argv.slice(2));
  process.stdout.write(main(process.argv.slice(2)));
} catch (error) {
  if (!(error instanceof AzError)) throw error;
  process.stderr.write(`ERROR: ${error.message}\n`);
  process.exitCode = error.exitCode;
}
