import { run } from './main.js';

// `open` is dynamically imported by @azure/identity; a static re-export keeps ncc to one chunk and a complete licence file.
export { default as __bundleOpen } from 'open';

await run();
