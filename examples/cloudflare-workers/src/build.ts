// `pnpm build`: bundles the Worker into dist/worker.js (what wrangler.toml deploys).
import { bundleWorker } from './local.js';

console.log(`bundled ${await bundleWorker()}`);
