import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AuthorizationServer } from '../../src/index.js';
import { MemoryStore } from '../../src/store/memory-store.js';
import { answerNodeRequest, nodeRequestContext, readNodeBody, writeAnswer } from '../../src/node/adapter.js';

// The Node glue's path (a body read once, plain answers from the API endpoints) must answer exactly what
// `fetch` answers: these tests send each request both ways and compare status, header fields and body.
const SECRET = 'glue-secret-0123456789';
let server: AuthorizationServer;
let http: Server;
let base = '';

beforeAll(async () => {
  http = createServer((req, res) => {
    const url = new URL(req.url!, base);
    const body = req.method === 'GET' || req.method === 'HEAD' ? Promise.resolve(null) : readNodeBody(req);
    body
      .then((bytes) => answerNodeRequest(server, req, url, bytes, nodeRequestContext(req)))
      .then((answer) => writeAnswer(res, answer))
      .catch(() => res.destroy());
  });
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(http.address() as AddressInfo).port}`;
  server = new AuthorizationServer({
    issuer: base,
    store: new MemoryStore(),
    scopes: ['openid', 'mcp:tools'],
    clients: [
      { clientId: 'svc', clientSecret: SECRET, tokenEndpointAuthMethod: 'client_secret_post', grantTypes: ['client_credentials'] },
      { clientId: 'auditor', clientSecret: SECRET, tokenEndpointAuthMethod: 'client_secret_post', grantTypes: ['client_credentials'], introspection: 'all' },
    ],
    // Each request is sent twice from one address: the limits' remaining counts would differ.
    rateLimits: { token: false, introspect: false, revoke: false, userinfo: false, register: false },
    registration: { rateLimit: false },
  });
  await server.ready();
});
afterAll(async () => {
  http.closeAllConnections();
  await new Promise((resolve) => http.close(resolve));
});

const FRAMING = new Set(['date', 'connection', 'keep-alive', 'content-length', 'transfer-encoding']);
function fields(headers: Headers): Record<string, string> {
  return Object.fromEntries([...headers].filter(([name]) => !FRAMING.has(name)));
}

/** The same request over the Node glue and through `fetch`, with what each answered. */
async function bothWays(path: string, init: RequestInit = {}) {
  const overNode = await fetch(`${base}${path}`, init);
  const direct = await server.fetch(new Request(`${base}${path}`, init), { clientAddress: '127.0.0.1', protocol: 'http' });
  return {
    node: { status: overNode.status, headers: fields(overNode.headers), body: await overNode.text() },
    direct: { status: direct.status, headers: fields(direct.headers), body: await direct.text() },
  };
}

const form = (values: Record<string, string>): RequestInit => ({
  method: 'POST',
  headers: { 'content-type': 'application/x-www-form-urlencoded' },
  body: new URLSearchParams(values).toString(),
});

async function accessToken(): Promise<string> {
  const response = await server.fetch(new Request(`${base}/oauth/token`, form({ grant_type: 'client_credentials', client_id: 'svc', client_secret: SECRET })));
  return ((await response.json()) as { access_token: string }).access_token;
}

describe('@keyward/core/node answerNodeRequest', () => {
  it('PERF-GLUE-01: a token answer over the Node glue has the status, every header field and the members fetch gives', async () => {
    const { node, direct } = await bothWays('/oauth/token', form({ grant_type: 'client_credentials', client_id: 'svc', client_secret: SECRET, scope: 'mcp:tools' }));
    expect(node.status).toBe(200);
    expect(node.headers).toEqual(direct.headers);
    expect(node.headers).toMatchObject({ 'cache-control': 'no-store', pragma: 'no-cache', 'content-type': 'application/json', 'access-control-allow-origin': '*' });
    const [nodeBody, directBody] = [JSON.parse(node.body), JSON.parse(direct.body)];
    expect(Object.keys(nodeBody).sort()).toEqual(Object.keys(directBody).sort());
    expect({ ...nodeBody, access_token: 'x' }).toEqual({ ...directBody, access_token: 'x' });
  });

  it('PERF-GLUE-02: refusals and errors are byte for byte the ones fetch gives (bad secret, unknown grant, GET, malformed body)', async () => {
    const cases: [string, RequestInit][] = [
      ['/oauth/token', form({ grant_type: 'client_credentials', client_id: 'svc', client_secret: 'wrong' })],
      ['/oauth/token', form({ grant_type: 'urn:example:nothing', client_id: 'svc', client_secret: SECRET })],
      ['/oauth/token', { method: 'GET' }],
      ['/oauth/token', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"grant_type":"client_credentials","grant_type":"x"}' }],
      ['/oauth/token', { method: 'POST', headers: { 'content-type': 'text/plain' }, body: 'grant_type=client_credentials' }],
      ['/oauth/register', { method: 'PUT', headers: { 'content-type': 'application/json' }, body: '{}' }],
      ['/oauth/nothing-here', { method: 'POST' }],
    ];
    for (const [path, init] of cases) {
      const { node, direct } = await bothWays(path, init);
      expect(node.status, `${init.method} ${path}`).toBeGreaterThanOrEqual(400);
      expect(node, `${init.method} ${path}`).toEqual(direct);
    }
  });

  it('PERF-GLUE-03: registration, revocation and introspection answer over the Node glue as through fetch', async () => {
    const metadata = { redirect_uris: ['http://127.0.0.1:9/callback'], client_name: 'glue' };
    const registered = await bothWays('/oauth/register', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(metadata) });
    expect(registered.node.status).toBe(201);
    expect(registered.node.headers).toEqual(registered.direct.headers);
    expect(JSON.parse(registered.node.body)).toMatchObject({ client_name: 'glue', redirect_uris: metadata.redirect_uris });

    const token = await accessToken();
    const introspected = await bothWays('/oauth/introspect', form({ token, client_id: 'auditor', client_secret: SECRET }));
    expect(introspected.node.status).toBe(200);
    expect(introspected.node).toEqual(introspected.direct);
    expect(JSON.parse(introspected.node.body)).toMatchObject({ active: true, client_id: 'svc' });

    const revoked = await bothWays('/oauth/revoke', form({ token, client_id: 'svc', client_secret: SECRET }));
    expect(revoked.node).toEqual(revoked.direct);
    expect(revoked.node).toMatchObject({ status: 200, body: '' });
    const after = await bothWays('/oauth/introspect', form({ token, client_id: 'auditor', client_secret: SECRET }));
    expect(JSON.parse(after.node.body)).toEqual({ active: false });
  });

  it('PERF-GLUE-04: a body the glue already read still shows an access_token sent in the form as well as in the header (RFC 6750 §2)', async () => {
    const token = await accessToken();
    const init = { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/x-www-form-urlencoded' }, body: `access_token=${token}` };
    const { node, direct } = await bothWays('/oauth/userinfo', init);
    expect(node.status).toBe(400);
    expect(node.headers['www-authenticate']).toContain('invalid_request');
    expect(node).toEqual(direct);
  });

  it('PERF-GLUE-05: the Request a hook receives from the glue behaves as a Web Request: its header fields, method, URL, signal and clone', async () => {
    let seen: Request | undefined;
    class FailingStore extends MemoryStore {
      override async getClient(clientId: string) {
        if (clientId === 'boom') throw new TypeError('store bug');
        return super.getClient(clientId);
      }
    }
    const failing = new AuthorizationServer({
      issuer: base,
      store: new FailingStore(),
      scopes: ['mcp:tools'],
      rateLimits: { token: false },
      onError: (_error, request) => void (seen = request),
    });
    await failing.ready();
    const body = Buffer.from('grant_type=client_credentials&client_id=boom&client_secret=x');
    const rawHeaders = ['Host', '127.0.0.1', 'Content-Type', 'application/x-www-form-urlencoded', 'Content-Length', String(body.length), 'X-Twice', 'a', 'x-twice', 'b'];
    const req = { method: 'POST', url: '/oauth/token?x=1', rawHeaders, headers: {}, socket: { remoteAddress: '127.0.0.1' } } as unknown as IncomingMessage;
    const answer = await answerNodeRequest(failing, req, new URL('/oauth/token?x=1', base), body, nodeRequestContext(req));
    expect(answer.status).toBe(500);
    expect(seen).toBeInstanceOf(Request);
    const request = seen!;
    expect([request.method, request.url]).toEqual(['POST', `${base}/oauth/token?x=1`]);
    expect(request.headers.get('Content-Type')).toBe('application/x-www-form-urlencoded');
    expect(request.headers.get('x-twice')).toBe('a, b');
    // The body was read by the glue: the framing fields do not describe this Request, as with fetch's.
    expect(request.headers.get('content-length')).toBeNull();
    expect(request.headers.has('content-length')).toBe(false);
    expect([...request.headers]).toEqual([
      ['content-type', 'application/x-www-form-urlencoded'],
      ['host', '127.0.0.1'],
      ['x-twice', 'a, b'],
    ]);
    expect(request.headers).toBeInstanceOf(Headers);
    expect(request.signal).toBeInstanceOf(AbortSignal);
    expect(request.signal.aborted).toBe(false);
    const copy = request.clone();
    expect([copy.method, copy.url, copy.headers.get('x-twice')]).toEqual(['POST', request.url, 'a, b']);
    // A Request made from it carries what it does.
    expect(new Request(request.url, { headers: request.headers }).headers.get('x-twice')).toBe('a, b');
    expect(Object.prototype.toString.call(request)).toBe('[object Request]');
    // Application code may copy it whole.
    expect(new Request(request).headers.get('x-twice')).toBe('a, b');
  });
});

