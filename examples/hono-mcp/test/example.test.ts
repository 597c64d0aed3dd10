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
        // On a connection of its own: the server answers before reading the whole body, then drops the connection.
        const huge = await new Promise<number | undefined>((resolve, reject) => {
          const post = request(mcpURL, { method: 'POST', headers: { 'content-type': 'application/json' }, agent: false }, (response) => {
            response.resume();
            resolve(response.statusCode);
          });
          post.on('error', reject);
          post.end(`"${'x'.repeat(2 * 1024 * 1024)}"`);
        });
        expect(huge).toBe(413);
      });
    });
  },
});
