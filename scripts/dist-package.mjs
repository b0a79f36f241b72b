// ncc writes ESM output; Node needs a package.json beside it to treat dist/index.js as a module.
import { writeFileSync } from 'node:fs';

writeFileSync(new URL('../dist/package.json', import.meta.url), '{ "type": "module" }\n');
