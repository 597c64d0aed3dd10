// Running the example as a service (.env, logs, metrics, probes, rate limits, proxies, start-up errors),
// driven over HTTP in its own process by the suite every example shares.
import { fileURLToPath } from 'node:url';
import { describeOperations } from '../../../packages/e2e/src/examples/ops-suite.js';

describeOperations({ name: 'hono', dir: fileURLToPath(new URL('..', import.meta.url)) });
