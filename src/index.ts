import { run } from './main.js';

// `open` is imported dynamically by @azure/identity; a static re-export keeps it out of a chunk of its own.
export { default as __bundleOpen } from 'open';

await run();
// Work the run stopped waiting for (a package build after an early failure, an artifact upload cut at the
// deadline) must not keep the job alive: leave once the log is flushed.
process.stdout.write('', () => process.exit());
