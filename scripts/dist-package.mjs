// Build steps around ncc: `clean` empties dist/ (ncc leaves stale chunks behind); `finish` writes
// dist/package.json (Node must treat the ESM bundle as a module) and dist/licenses.txt.
//
// The licence file is made from the lockfile's production dependencies rather than by ncc: ncc's own file lists
// only the last chunk when a dependency is imported dynamically (@azure/storage-blob imports apache-arrow so).
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const dist = join(root, 'dist');
const step = process.argv[2];

if (step === 'clean') {
  rmSync(dist, { recursive: true, force: true });
  mkdirSync(dist);
} else if (step === 'finish') {
  writeFileSync(join(dist, 'package.json'), '{ "type": "module" }\n');
  const lock = JSON.parse(readFileSync(join(root, 'package-lock.json'), 'utf8'));
  const entries = Object.entries(lock.packages)
    .filter(([path, meta]) => path.startsWith('node_modules/') && !meta.dev && !meta.devOptional)
    .map(([path, meta]) => ({
      path,
      name: path.slice(path.lastIndexOf('node_modules/') + 13),
      version: meta.version,
      license: meta.license,
    }))
    .sort((a, b) => a.name.localeCompare(b.name) || a.version.localeCompare(b.version));
  const seen = new Set();
  const parts = [];
  for (const e of entries) {
    const key = `${e.name}@${e.version}`;
    if (seen.has(key)) continue;
    seen.add(key);
    const dir = join(root, e.path);
    const file = existsSync(dir)
      ? readdirSync(dir).find((f) => /^(licen[cs]e|copying)(\.|$)/i.test(f))
      : undefined;
    const text = file ? readFileSync(join(dir, file), 'utf8').trim() : '';
    parts.push(`${e.name}@${e.version}\n${e.license ?? 'UNKNOWN'}\n${text}`);
  }
  writeFileSync(join(dist, 'licenses.txt'), `${parts.join('\n\n')}\n`);
  console.log(`dist/licenses.txt: ${seen.size} production packages`);
} else {
  console.error('usage: dist-package.mjs clean|finish');
  process.exit(2);
}
