/**
 * The cases on which the Express, Fastify and Hono adapters drifted apart, as one table each adapter's test
 * runs over real HTTP: an oversized body is answered 413 and the client receives that answer (no EPIPE or
 * reset), a body the framework has already parsed into nested values reaches the server as the bytes the
 * client sent, the client address comes from the `clientAddress` option or from a trusted proxy alike, and
 * the guard has one name. Each adapter's test calls {@link adapterDriftScenarios} with a function that
 * mounts the server, a guarded `POST /mcp` and, when asked, the framework's own body parser in front.
 *
 * What the adapter hands the server is observed on `server.fetch` (its context) and on the server's event
 * hook (the guard's `rate_limited` event names the address it counted).
 */
import { request as httpRequest } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { MAX_BODY_BYTES } from '@keyward/core/node';
import { AuthorizationServer, type KeywardEvent, type RequestContext, type ResourceServerGuard } from '@keyward/core';
import { MemoryStore } from '@keyward/core/memory';
import { observeRequests } from './observe-requests.js';

export interface DriftApp {
  base: string;
  close(): Promise<void>;
}

/** How the adapter under test is mounted for one case. */
export interface DriftMount {
  /** Passed to the adapter's `trustProxy` option (keyward and the guard). */
  trustProxy?: string[];
  /** When set, the adapter's `clientAddress` option answers this address for every request. */
  clientAddress?: string;
  /** Put the framework's own parser for form bodies (nested `a[b]=c` names) in front of keyward. */
  preParse?: boolean;
}

export interface AdapterUnderTest {
  name: string;
  /** The adapter package's exports. */
  exports: Record<string, unknown>;
  /** Mounts `server` and `guard` on `POST /mcp` (200 when the guard lets a request through). */
  start(server: AuthorizationServer, guard: ResourceServerGuard, mount: DriftMount): Promise<DriftApp>;
}

const CLIENT_ID = 'drift-service';
const CLIENT_SECRET = 'drift-service-secret-drift-service-secret';
const BASIC = `Basic ${Buffer.from(`${CLIENT_ID}:${CLIENT_SECRET}`).toString('base64')}`;
const FORM = 'application/x-www-form-urlencoded';

/** One raw POST of `size` bytes written in 16 KiB chunks; resolves with the answer or the socket error. */
export function rawPost(url: string, size: number, headers: Record<string, string>): Promise<{ status?: number; body?: string; error?: string }> {
  return new Promise((resolve) => {
    const req = httpRequest(url, { method: 'POST', headers }, (res) => {
      let body = '';
      res.on('data', (chunk: Buffer) => (body += chunk.toString()));
      res.on('end', () => resolve({ status: res.statusCode!, body }));
    });
    req.on('error', (error: NodeJS.ErrnoException) => resolve({ error: error.code ?? error.message }));
    const chunk = Buffer.alloc(16 * 1024, 'a');
    let left = size;
    const write = (): void => {
      while (left > 0) {
        const piece = chunk.subarray(0, Math.min(chunk.length, left));
        left -= piece.length;
        if (!req.write(piece)) return void req.once('drain', write);
      }
      req.end();
    };
    write();
  });
}

export function adapterDriftScenarios(adapter: AdapterUnderTest): void {
  describe(`${adapter.name}: the adapters' shared behaviour`, () => {
    const open: DriftApp[] = [];
    afterEach(async () => {
      await Promise.all(open.splice(0).map((app) => app.close()));
    });

    async function launch(mount: DriftMount = {}) {
      const events: KeywardEvent[] = [];
      const server = new AuthorizationServer({
        issuer: 'http://127.0.0.1',
        store: new MemoryStore(),
        scopes: ['mcp:tools', 'openid'],
        clients: [{ clientId: CLIENT_ID, clientSecret: CLIENT_SECRET, grantTypes: ['client_credentials'] }],
        onEvent: (event) => events.push(event),
      });
      const seen: RequestContext[] = [];
      const fetchFromServer = server.fetch.bind(server);
      observeRequests(server, (_request, context) => seen.push(context));
      // One request per address and minute: the second one's rate_limited event names the address counted.
      const guard = server.createGuard({ rateLimit: { windowMs: 60_000, max: 1 } });
      const app = await adapter.start(server, guard, mount);
      open.push(app);
      const guardedAddress = async (headers: Record<string, string> = {}) => {
        for (let i = 0; i < 2; i++) await fetch(`${app.base}/mcp`, { method: 'POST', headers });
        const limited = events.filter((event) => event.type === 'rate_limited');
        return limited.map((event) => event.sourceAddress);
      };
      return { app, server, fetchFromServer, seen, guardedAddress };
    }

    it(`ADP-DRIFT-01 (${adapter.name}): a body over core's MAX_BODY_BYTES is drained and the client receives the RFC-shaped 413`, async () => {
      const { app } = await launch();
      for (const headers of [{ 'content-type': FORM, authorization: BASIC } as Record<string, string>, { 'content-type': FORM, authorization: BASIC, 'content-length': String(4 * MAX_BODY_BYTES) }]) {
        const answer = await rawPost(`${app.base}/oauth/token`, 4 * MAX_BODY_BYTES, headers);
        expect(answer.error).toBeUndefined();
        expect(answer.status).toBe(413);
        expect(JSON.parse(answer.body!)).toMatchObject({ error: 'invalid_request', error_description: `request body exceeds ${MAX_BODY_BYTES} bytes` });
      }
      // A body at the limit is still read and answered by the endpoint itself.
      const atLimit = `grant_type=client_credentials&pad=${'a'.repeat(MAX_BODY_BYTES - 34)}`;
      expect(Buffer.byteLength(atLimit)).toBeLessThanOrEqual(MAX_BODY_BYTES);
      const response = await fetch(`${app.base}/oauth/token`, { method: 'POST', headers: { 'content-type': FORM, authorization: BASIC }, body: atLimit });
      expect(response.status).toBe(200);
    });

    it(`ADP-DRIFT-02 (${adapter.name}): a form body the framework already parsed into nested values reaches the server as the client sent it`, async () => {
      const { app, fetchFromServer } = await launch({ preParse: true });
      // `grant_type[x]` is not `grant_type`: the server must say the grant type is missing, not that
      // `[object Object]` is an unsupported one.
      const body = 'grant_type[x]=client_credentials&scope=mcp:tools';
      const init = { method: 'POST', headers: { 'content-type': FORM, authorization: BASIC }, body };
      const direct = await fetchFromServer(new Request('http://127.0.0.1/oauth/token', init));
      const viaAdapter = await fetch(`${app.base}/oauth/token`, init);
      expect(viaAdapter.status).toBe(direct.status);
      expect(await viaAdapter.json()).toEqual(await direct.json());
      // And a plain form body parsed in front still works end to end.
      const token = await fetch(`${app.base}/oauth/token`, { ...init, body: 'grant_type=client_credentials&scope=mcp:tools' });
      expect(token.status).toBe(200);
    });

    it(`ADP-DRIFT-03 (${adapter.name}): the clientAddress option names the client for the server and the guard`, async () => {
      const { app, seen, guardedAddress } = await launch({ clientAddress: '198.51.100.7' });
      await fetch(`${app.base}/oauth/userinfo`);
      expect(seen).toEqual([expect.objectContaining({ clientAddress: '198.51.100.7' })]);
      expect(await guardedAddress()).toEqual(['198.51.100.7']);
    });

    it(`ADP-DRIFT-04 (${adapter.name}): behind a trusted proxy the forwarded client is named, for the server and the guard alike`, async () => {
      const { app, seen, guardedAddress } = await launch({ trustProxy: ['loopback'] });
      const forwarded = { 'x-forwarded-for': '203.0.113.9' };
      await fetch(`${app.base}/oauth/userinfo`, { headers: forwarded });
      expect(seen).toEqual([expect.objectContaining({ clientAddress: '203.0.113.9' })]);
      expect(await guardedAddress(forwarded)).toEqual(['203.0.113.9']);
    });

    it(`ADP-DRIFT-05 (${adapter.name}): the guard is called requireBearerAuth and the server is mounted by keyward`, () => {
      expect(adapter.exports.requireBearerAuth).toBeTypeOf('function');
      expect(adapter.exports.keyward).toBeTypeOf('function');
    });
  });
}
