// The example in its own process, driven over HTTP by the suite every example shares.
import { fileURLToPath } from 'node:url';
import { describeExample } from '../../../packages/e2e/src/examples/suite.js';

describeExample({ name: 'fastify', dir: fileURLToPath(new URL('..', import.meta.url)) });
