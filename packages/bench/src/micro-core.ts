/**
 * In-process A/B timings of Keyward's hot paths (no HTTP, no load generator): each lever against its
 * alternative in the same process run, alternating rounds so the machine's drift hits both sides. Run with
 * `node --conditions=@keyward/source --import tsx src/micro-core.ts [guard|verify|sign|token|heap|register|static] (heap: node --expose-gc)` from packages/bench.
 */
import { createLocalJWKSet, type JSONWebKeySet } from 'jose';
import { AuthorizationServer, ResourceServerGuard } from '@keyward/core';
import { KeyManager } from '../../core/src/server/keys.js';
import { MemoryStore } from '@keyward/core/memory';
import { CORS_HEADERS, rawJSONResponse, withHeaders } from '../../core/src/protocol/http.js';

const N = Number(process.env.N ?? 20_000);
const ROUNDS = Number(process.env.ROUNDS ?? 3);
const which = new Set(process.argv.slice(2));
const wants = (name: string) => which.size === 0 || which.has(name);

/**
 * CPU time per operation across every thread of the process (Web Crypto runs on libuv's pool), which is
 * what a server pinned to one core pays; wall time on this shared machine mostly measures the neighbours.
 */
async function perOp(op: () => Promise<unknown>, n = N): Promise<number> {
  for (let i = 0; i < Math.min(500, n); i++) await op();
  const start = process.cpuUsage();
  for (let i = 0; i < n; i++) await op();
  const used = process.cpuUsage(start);
  return (used.user + used.system) / n;
}

async function ab(label: string, a: [string, () => Promise<unknown>], b: [string, () => Promise<unknown>], n = N): Promise<void> {
  const ratios: number[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    const ta = await perOp(a[1], n);
    const tb = await perOp(b[1], n);
    ratios.push(ta / tb);
    console.log(`${label} round ${r + 1}: ${a[0]} ${ta.toFixed(2)} µs CPU, ${b[0]} ${tb.toFixed(2)} µs CPU, ${a[0]}/${b[0]} ${(ta / tb).toFixed(2)}×`);
  }
  ratios.sort((x, y) => x - y);
  console.log(`${label}: median ${a[0]}/${b[0]} = ${ratios[Math.floor(ratios.length / 2)]!.toFixed(2)}×`);
}

const secret = 'bench-secret-0123456789';
function makeServer() {
  return new AuthorizationServer({
    issuer: 'http://localhost:3009',
    store: new MemoryStore(),
    scopes: ['mcp:tools'],
    registration: { rateLimit: false },
    clients: [{ clientId: 'bench', clientSecret: secret, tokenEndpointAuthMethod: 'client_secret_post', grantTypes: ['client_credentials'] }],
  });
}
const server = makeServer();
const ccBody = `grant_type=client_credentials&client_id=bench&client_secret=${secret}&scope=mcp:tools`;
const clientCredentials = async () => {
  const response = await server.request('/oauth/token', { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: ccBody });
  if (response.status !== 200) throw new Error(`token ${response.status}`);
  return response.json() as Promise<{ access_token: string }>;
};

if (wants('guard')) {
  const { access_token: token } = await clientCredentials();
  const cached = server.createGuard({ scopes: ['mcp:tools'] });
  const uncached = server.createGuard({ scopes: ['mcp:tools'], tokenCacheSize: 0 });
  const request = new Request('http://localhost:3009/mcp', { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' } });
  const check = (guard: typeof cached) => async () => {
    if (!(await guard.authenticate(request)).ok) throw new Error('refused');
  };
  await ab('guard, same token', ['no cache', check(uncached)], ['cache', check(cached)]);

  // What the Express and Fastify guards did per request before (a Web Request from Node's raw headers) and now.
  const rawHeaders = ['Host', 'localhost:3009', 'Authorization', `Bearer ${token}`, 'Content-Type', 'application/json', 'Content-Length', '40', 'Accept', '*/*'];
  const viaRequest = async () => {
    const headers = new Headers();
    for (let i = 0; i < rawHeaders.length; i += 2) headers.append(rawHeaders[i]!, rawHeaders[i + 1]!);
    headers.delete('content-length');
    headers.delete('transfer-encoding');
    const result = await cached.authenticate(new Request(new URL('http://localhost:3009/mcp'), { method: 'POST', headers, body: null }), { scopes: [] });
    if (!result.ok) throw new Error('refused');
  };
  const viaHeader = async () => {
    let authorization: string | null = null;
    for (let i = 0; i < rawHeaders.length; i += 2) if (rawHeaders[i]!.toLowerCase() === 'authorization') authorization = rawHeaders[i + 1]!;
    const result = await cached.authenticateHeader(authorization, { scopes: [], bodyToken: false });
    if (!result.ok) throw new Error('refused');
  };
  await ab('adapter guard, cached token', ['Web Request', viaRequest], ['authenticateHeader', viaHeader]);
}

if (wants('verify')) {
  // First-seen tokens: every request verifies a signature (cache off), with each verifier on the same keys.
  const { access_token: token } = await clientCredentials();
  const metadata = (await (await server.request('/.well-known/oauth-authorization-server')).json()) as { jwks_uri: string };
  const keys = createLocalJWKSet((await (await server.request(new URL(metadata.jwks_uri).pathname)).json()) as JSONWebKeySet);
  const guardWith = (verifier: 'jose' | 'node:crypto') =>
    new ResourceServerGuard({ issuer: 'http://localhost:3009', resource: 'http://localhost:3009/mcp', resourceMetadataUrl: 'http://localhost:3009/.well-known/oauth-protected-resource/mcp', keys, tokenCacheSize: 0, verifier });
  const check = (guard: ResourceServerGuard) => async () => {
    if (!(await guard.verify(token)).ok) throw new Error('refused');
  };
  await ab('first-seen verify', ['jose', check(guardWith('jose'))], ['node:crypto', check(guardWith('node:crypto'))], N / 4);
}

if (wants('sign')) {
  for (const alg of ['ES256', 'EdDSA'] as const) {
    const managers = await Promise.all(
      (['jose', 'node:crypto'] as const).map(async (signer) => {
        const keys = new KeyManager({ store: new MemoryStore(), clock: Date.now, algorithms: [alg], retiredKeyOverlapSeconds: 3600, signer });
        await keys.ready();
        return keys;
      }),
    );
    const payload = { client_id: 'bench', scope: 'mcp:tools', grant_id: 'g', iss: 'http://localhost:3009', sub: 'demo', aud: 'http://localhost:3009/mcp', iat: 1, exp: 2, jti: 'j' };
    const signWith = (keys: KeyManager) => async () => {
      const { kid, sign } = await keys.signingKey(alg);
      return sign({ alg, kid, typ: 'at+jwt' }, payload);
    };
    await ab(`sign ${alg}`, ['jose', signWith(managers[0]!)], ['node:crypto', signWith(managers[1]!)]);
  }
}

if (wants('token')) {
  await ab('token client_credentials', ['once', clientCredentials], ['again', clientCredentials], N / 4);
}

if (wants('heap')) {
  // Heap after a full GC every 5,000 client_credentials tokens: a store that keeps a record per token grows
  // linearly; RSS over an HTTP run shows the same, but only on a quiet machine. Needs node --expose-gc.
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) throw new Error('heap needs node --expose-gc');
  const heap = () => (gc(), gc(), process.memoryUsage().heapUsed / 1e6);
  const marks = [`0: ${heap().toFixed(1)} MB`];
  for (let round = 1; round <= 4; round++) {
    for (let i = 0; i < 5000; i++) await clientCredentials();
    marks.push(`${round * 5000}: ${heap().toFixed(1)} MB`);
  }
  console.log(`heap after client_credentials tokens: ${marks.join(', ')}`);
}

if (wants('register')) {
  const body = JSON.stringify({ redirect_uris: ['http://localhost:3000/callback'], client_name: 'bench', token_endpoint_auth_method: 'none', grant_types: ['authorization_code', 'refresh_token'] });
  const register = async () => {
    const response = await server.request('/oauth/register', { method: 'POST', headers: { 'content-type': 'application/json' }, body });
    if (response.status !== 201) throw new Error(`register ${response.status}`);
    await response.arrayBuffer();
  };
  await ab('register', ['once', register], ['again', register], N / 4);
}

if (wants('static')) {
  // What an adapter did per metadata request before: a URL, header conversion, a Web Request, a routed
  // handler building a Response (CORS headers set one by one), and the body read back as bytes.
  const path = '/.well-known/oauth-authorization-server';
  const json = new TextDecoder().decode(server.staticResponse('GET', path)!.body!);
  const rawHeaders = ['Host', 'localhost:3009', 'User-Agent', 'autocannon', 'Accept', '*/*', 'Connection', 'keep-alive'];
  const viaRequest = async () => {
    const url = new URL(`http://localhost:3009${path}`);
    const headers = new Headers();
    for (let i = 0; i < rawHeaders.length; i += 2) headers.append(rawHeaders[i]!, rawHeaders[i + 1]!);
    const request = new Request(url, { method: 'GET', headers });
    void new URL(request.url).pathname;
    const response = withHeaders(rawJSONResponse(json, { cache: 'public, max-age=3600' }), CORS_HEADERS);
    for (const entry of response.headers) void entry;
    return Buffer.from(await response.arrayBuffer());
  };
  const precomputed = async () => {
    const answer = server.staticResponse('GET', path)!;
    for (const name in answer.headers) void name;
    return answer.body;
  };
  await ab('discovery per request', ['Web Request + fetch', viaRequest], ['staticResponse', precomputed]);
}
