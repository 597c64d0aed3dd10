/**
 * In-process A/B micro-timings of the primitives behind the hot paths (no HTTP): run with
 * `node --conditions=@keyward/source --import tsx src/micro-primitives.ts` from packages/bench.
 */
import { createHash, createPrivateKey, createPublicKey, sign as nodeSign, verify as nodeVerify } from 'node:crypto';
import { exportJWK, generateKeyPair, jwtVerify, SignJWT, importJWK } from 'jose';

const N = Number(process.env.N ?? 20_000);

async function time(label: string, op: () => unknown | Promise<unknown>): Promise<number> {
  for (let i = 0; i < 500; i++) await op();
  const start = performance.now();
  for (let i = 0; i < N; i++) await op();
  const perOp = ((performance.now() - start) * 1000) / N;
  console.log(`${label.padEnd(44)} ${perOp.toFixed(2)} µs/op`);
  return perOp;
}

const { privateKey, publicKey } = await generateKeyPair('ES256', { extractable: true });
const claims = { client_id: 'bench', scope: 'mcp:tools', grant_id: 'g' };
const joseSign = () =>
  new SignJWT(claims).setProtectedHeader({ alg: 'ES256', kid: 'k', typ: 'at+jwt' }).setIssuer('http://localhost:3009').setSubject('demo')
    .setAudience('http://localhost:3009/mcp').setIssuedAt().setExpirationTime('1h').setJti('j').sign(privateKey);
const token = await joseSign();

const nodePriv = createPrivateKey({ key: (await exportJWK(privateKey)) as never, format: 'jwk' });
const nodePub = createPublicKey({ key: (await exportJWK(publicKey)) as never, format: 'jwk' });
const enc = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url');
const nodeSignJWT = () => {
  const input = `${enc({ alg: 'ES256', kid: 'k', typ: 'at+jwt' })}.${enc({ ...claims, iss: 'x', sub: 'demo', iat: 1, exp: 2, jti: 'j' })}`;
  return `${input}.${nodeSign('sha256', Buffer.from(input), { key: nodePriv, dsaEncoding: 'ieee-p1363' }).toString('base64url')}`;
};
const [h, p, s] = token.split('.');
const verifyNode = () => nodeVerify('sha256', Buffer.from(`${h}.${p}`), { key: nodePub, dsaEncoding: 'ieee-p1363' }, Buffer.from(s!, 'base64url'));

const rounds = Number(process.env.ROUNDS ?? 2);
for (let r = 0; r < rounds; r++) {
  console.log(`-- round ${r + 1}`);
  const a = await time('jose SignJWT ES256', joseSign);
  const b = await time('node:crypto sign ES256 (p1363)', nodeSignJWT);
  console.log(`   sign ratio jose/node ${(a / b).toFixed(2)}×`);
  const c = await time('jose jwtVerify ES256', () => jwtVerify(token, publicKey, { issuer: 'http://localhost:3009', audience: 'http://localhost:3009/mcp', typ: 'at+jwt' }));
  const d = await time('node:crypto verify ES256', verifyNode);
  console.log(`   verify ratio jose/node ${(c / d).toFixed(2)}×`);
  const map = new Map<string, number>([[token, 1]]);
  const copy = () => token.slice(0, 10) + token.slice(10); // a fresh string, as each request brings
  const e = await time('Map lookup by token string', () => map.get(copy()));
  const hmap = new Map<string, number>([[createHash('sha256').update(token).digest('base64url'), 1]]);
  const f = await time('Map lookup by SHA-256(token)', () => hmap.get(createHash('sha256').update(copy()).digest('base64url')));
  console.log(`   key cost sha256/string ${(f / e).toFixed(2)}×`);
}
void importJWK;
