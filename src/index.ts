import { run } from './main.js';

// `open` is imported dynamically by @azure/identity; a static re-export keeps it out of a chunk of its own.
export { default as __bundleOpen } from 'open';

await run();
