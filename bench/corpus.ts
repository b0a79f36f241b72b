import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * Two function apps built from real npm packages, cached under bench/.cache between runs. Versions are
 * pinned so the corpora stay comparable over time (their own dependencies still resolve from the registry).
 */
const MEDIUM: Record<string, string> = {
  '@azure/functions': '4.16.5',
  '@azure/storage-blob': '12.32.0',
  axios: '1.21.1',
  dayjs: '1.11.23',
  express: '5.3.0',
  joi: '18.3.2',
  jsonwebtoken: '9.0.3',
  lodash: '4.18.1',
  moment: '2.31.0',
  mongoose: '9.12.1',
  uuid: '14.0.3',
};

const LARGE: Record<string, string> = {
  ...MEDIUM,
  '@aws-sdk/client-s3': '3.1169.0',
  '@azure/arm-appservice': '19.0.0',
  '@azure/cosmos': '4.9.3',
  '@azure/identity': '4.13.1',
  '@azure/service-bus': '7.9.5',
  'aws-sdk': '2.1693.0',
  'date-fns': '4.4.0',
  pg: '8.23.1',
  rxjs: '7.8.2',
  sequelize: '6.37.8',
  typescript: '5.9.3',
  winston: '3.19.0',
};

export const CORPORA = { medium: MEDIUM, large: LARGE } as const;
export type CorpusName = keyof typeof CORPORA;

export interface Corpus {
  name: CorpusName;
  dir: string;
  files: number;
  bytes: number;
  symlinks: number;
}

const FUNCTION_JSON = {
  bindings: [
    { authLevel: 'anonymous', type: 'httpTrigger', direction: 'in', name: 'req', methods: ['get'] },
    { type: 'http', direction: 'out', name: 'res' },
  ],
};

export function ensureCorpus(cacheDir: string, name: CorpusName, log: (m: string) => void): Corpus {
  const deps = CORPORA[name];
  const dir = join(cacheDir, name);
  const stamp = createHash('sha256').update(JSON.stringify(deps)).digest('hex').slice(0, 16);
  const marker = join(dir, '.bench-complete');
  if (!existsSync(marker) || readFileSync(marker, 'utf8').trim() !== stamp) {
    log(`Building the ${name} corpus in ${dir} (npm install of ${Object.keys(deps).length} packages)...`);
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(join(dir, 'HttpHello'), { recursive: true });
    writeFileSync(
      join(dir, 'package.json'),
      `${JSON.stringify({ name: `bench-${name}`, version: '1.0.0', private: true, dependencies: deps }, null, 2)}\n`,
    );
    writeFileSync(join(dir, 'host.json'), `${JSON.stringify({ version: '2.0' })}\n`);
    writeFileSync(join(dir, 'HttpHello/function.json'), `${JSON.stringify(FUNCTION_JSON, null, 2)}\n`);
    writeFileSync(join(dir, 'HttpHello/index.js'), "module.exports = async () => ({ body: 'hello' });\n");
    execFileSync(
      'npm',
      ['install', '--omit=dev', '--no-audit', '--no-fund', '--ignore-scripts', '--loglevel=error'],
      {
        cwd: dir,
        stdio: ['ignore', 'inherit', 'inherit'],
        timeout: 15 * 60_000,
      },
    );
    writeFileSync(marker, `${stamp}\n`);
  }
  return { name, dir, ...count(dir) };
}

function count(root: string): { files: number; bytes: number; symlinks: number } {
  let files = 0;
  let bytes = 0;
  let symlinks = 0;
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.isSymbolicLink()) symlinks++;
      else if (e.isFile()) {
        files++;
        bytes += lstatSync(p).size;
      }
    }
  };
  walk(root);
  return { files, bytes, symlinks };
}
