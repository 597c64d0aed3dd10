// The example in its own process, driven over HTTP by the suite every example shares, plus Hono's own
// body handling in front of the guard.
import { request } from 'node:http';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { describeExample } from '../../../packages/e2e/src/examples/suite.js';

describeExample({
  name: 'hono',
  dir: fileURLToPath(new URL('..', import.meta.url)),
  extra: (example) => {
    describe('/mcp request bodies', () => {
      it('AUTHZ-RS-02: a body that is not JSON still gets the 401 first, and an oversized one 413', async () => {
        const mcpURL = `${example().base}/mcp`;
        const garbage = await fetch(mcpURL, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{not json' });
        expect(garbage.status).toBe(401);
        // Each on a connection of its own that the client asks to close (`agent: false`): the server must read
        // the body before answering, or the client's unsent bytes meet a reset that can erase the 413 (write
        // EPIPE). Fifty, ten at a time, make that race show on any machine.
        const oversized = () =>
          new Promise<number | string | undefined>((resolve) => {
            const post = request(mcpURL, { method: 'POST', headers: { 'content-type': 'application/json' }, agent: false }, (response) => {
              response.resume();
              resolve(response.statusCode);
            });
            post.on('error', (error: NodeJS.ErrnoException) => resolve(error.code));
            post.end(`"${'x'.repeat(2 * 1024 * 1024)}"`);
          });
        for (let round = 0; round < 5; round++) {
          const answers = await Promise.all(Array.from({ length: 10 }, oversized));
          expect(answers).toEqual(Array(10).fill(413));
        }
      });
    });
  },
});
