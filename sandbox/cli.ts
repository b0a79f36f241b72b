// npm run sandbox -- --apps FILE : starts the sandbox, prints NAME=value lines, runs until SIGINT/SIGTERM.
import { parseArgs } from 'node:util';
import { EXAMPLE_APPS, readSeedFile, startSandbox } from './index.js';

const { values } = parseArgs({ options: { apps: { type: 'string' }, help: { type: 'boolean' } } });
if (values.help) {
  console.log('Usage: npm run sandbox -- --apps FILE   (default: sandbox/apps.example.json)');
  process.exit(0);
}
const sandbox = await startSandbox({ seed: readSeedFile(values.apps ?? EXAMPLE_APPS) });
for (const [name, value] of Object.entries(sandbox.env)) console.log(`${name}=${value}`);
console.error('# sandbox running; Ctrl-C to stop. Storage account rules, faults and request counters:');
console.error('#   curl --cacert "$NODE_EXTRA_CA_CERTS" "$SANDBOX_STORAGE_CONTROL_URL"');
console.error('# Example:');
console.error(
  `#   curl --cacert "$NODE_EXTRA_CA_CERTS" -H "Authorization: Bearer $(PATH=$PATH az account get-access-token --query accessToken -o tsv)" "$SANDBOX_ARM_ENDPOINT/subscriptions/$SANDBOX_SUBSCRIPTION_ID/resources?api-version=2021-04-01"`,
);

let stopping = false;
const shutdown = async (signal: string) => {
  if (stopping) return;
  stopping = true;
  console.error(`# ${signal}: stopping`);
  await sandbox.stop();
  process.exit(0);
};
process.on('SIGINT', () => void shutdown('SIGINT'));
process.on('SIGTERM', () => void shutdown('SIGTERM'));
