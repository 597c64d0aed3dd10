/**
 * The ES256 ceiling of the server core, measured in a child pinned there right before and after the rows:
 * jose sign and verify ops/s in a tight loop, plus Keyward's guard verifying one token in-process (no HTTP).
 * Dividing a row's figure by the ceiling of its run cancels the machine's speed drift between runs.
 */
import { generateKeyPair, jwtVerify, SignJWT } from 'jose';
import { AuthorizationServer } from '@keyward/core';
import { MemoryStore } from '@keyward/core/memory';

const MEASURE_MS = Number(process.env.BENCH_BASELINE_MS ?? 3000);
const { privateKey, publicKey } = await generateKeyPair('ES256');
const claims = { client_id: 'bench', scope: 'mcp:tools', grant_id: 'g' };

async function sign(): Promise<string> {
  return new SignJWT(claims)
    .setProtectedHeader({ alg: 'ES256', kid: 'k', typ: 'at+jwt' })
    .setIssuer('http://localhost:3009')
    .setSubject('demo')
    .setAudience('http://localhost:3009/mcp')
    .setIssuedAt()
    .setExpirationTime('1h')
    .setJti('j')
    .sign(privateKey);
}

async function measure(operation: () => Promise<unknown>): Promise<number> {
  for (let i = 0; i < 200; i++) await operation();
  const start = performance.now();
  let count = 0;
  while (performance.now() - start < MEASURE_MS) {
    await operation();
    count++;
  }
  return (count * 1000) / (performance.now() - start);
}

const token = await sign();
const signPerSec = await measure(sign);
const verifyPerSec = await measure(() => jwtVerify(token, publicKey, { issuer: 'http://localhost:3009', audience: 'http://localhost:3009/mcp', typ: 'at+jwt' }));

const server = new AuthorizationServer({
  issuer: 'http://localhost:3009',
  store: new MemoryStore(),
  scopes: ['mcp:tools'],
  clients: [{ clientId: 'bench', clientSecret: 'bench-secret-0123456789', tokenEndpointAuthMethod: 'client_secret_post', grantTypes: ['client_credentials'] }],
});
const issued = await server.request('/oauth/token', {
  method: 'POST',
  headers: { 'content-type': 'application/x-www-form-urlencoded' },
  body: 'grant_type=client_credentials&client_id=bench&client_secret=bench-secret-0123456789&scope=mcp:tools',
});
const { access_token: accessToken } = (await issued.json()) as { access_token: string };
const guard = server.createGuard({ scopes: ['mcp:tools'] });
const request = new Request('http://localhost:3009/mcp', { method: 'POST', headers: { authorization: `Bearer ${accessToken}`, 'content-type': 'application/json' } });
const guardPerSec = await measure(async () => {
  const result = await guard.authenticate(request);
  if (!result.ok) throw new Error('guard refused the benchmark token');
});
console.log(JSON.stringify({ signPerSec, verifyPerSec, guardPerSec }));
