import { createHash, createPublicKey, verify } from 'node:crypto';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createLocalJWKSet, exportJWK, generateKeyPair, jwtVerify, type JSONWebKeySet, type JWK } from 'jose';
import { base64url, base64urlUTF8, inCryptoBatch, randomToken } from '../src/protocol/crypto.js';
import { createJWTSigner } from '../src/server/jwt-signer.js';
import { decodeJWT, ISSUER, PATHS, setup } from './support.js';

const ALGORITHMS = ['ES256', 'EdDSA', 'RS256'] as const;

/** node:crypto's own verification, independent of jose: the JWS signing input against the raw signature. */
function nodeVerifies(token: string, publicJwk: JWK, alg: string): boolean {
  const [header, payload, signature] = token.split('.') as [string, string, string];
  const key = createPublicKey({ key: publicJwk as import('node:crypto').JsonWebKey, format: 'jwk' });
  const digest = alg === 'EdDSA' ? null : 'sha256';
  const options = alg === 'ES256' ? { key, dsaEncoding: 'ieee-p1363' as const } : key;
  return verify(digest, Buffer.from(`${header}.${payload}`), options, Buffer.from(signature, 'base64url'));
}

function flipSignature(token: string): string {
  const [header, payload, signature] = token.split('.') as [string, string, string];
  const bytes = Buffer.from(signature, 'base64url');
  bytes[0]! ^= 1;
  return `${header}.${payload}.${bytes.toString('base64url')}`;
}

describe('JWT signer: node:crypto on Node, jose elsewhere, indistinguishable to a verifier', () => {
  for (const alg of ALGORITHMS) {
    it(`PERF-SIGN-01: ${alg} — node:crypto and jose produce the same header and claims bytes, and each verifies with the other`, async () => {
      const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
      const privateJwk = await exportJWK(privateKey);
      const publicJwk = await exportJWK(publicKey);
      const node = await createJWTSigner(privateJwk, alg);
      const jose = await createJWTSigner(privateJwk, alg, 'jose');
      expect([node.implementation, jose.implementation]).toEqual(['node:crypto', 'jose']);

      const header = { alg, kid: 'key-1', typ: 'at+jwt' };
      // Non-ASCII and an array claim: both paths must serialise UTF-8 and member order identically.
      const payload = { client_id: 'c', scope: 'mcp:tools', iss: ISSUER, sub: 'Zoë ✓', aud: ['https://a.example/mcp', 'https://b.example/mcp'], iat: 1_900_000_000, exp: 1_900_003_600, jti: 'j' };
      for (let i = 0; i < 5; i++) {
        const fromNode = await node.sign(header, payload);
        const fromJose = await jose.sign(header, payload);
        expect(fromNode.split('.').slice(0, 2)).toEqual(fromJose.split('.').slice(0, 2));
        // EdDSA and RSASSA-PKCS1-v1_5 are deterministic: the whole token is the same byte for byte.
        if (alg !== 'ES256') expect(fromNode).toBe(fromJose);

        const verified = await jwtVerify(fromNode, publicKey, { algorithms: [alg], typ: 'at+jwt', currentDate: new Date(1_900_000_000_000) });
        expect(verified.payload).toEqual(payload);
        expect(verified.protectedHeader).toEqual(header);
        expect(nodeVerifies(fromJose, publicJwk, alg)).toBe(true);
        expect(nodeVerifies(fromNode, publicJwk, alg)).toBe(true);

        // Both checks can fail: a changed signature is refused by each.
        await expect(jwtVerify(flipSignature(fromNode), publicKey, { currentDate: new Date(1_900_000_000_000) })).rejects.toThrow();
        expect(nodeVerifies(flipSignature(fromJose), publicJwk, alg)).toBe(false);
      }
    });
  }

  for (const algorithm of ['ES256', 'EdDSA', 'RS256'] as const) {
    it(`PERF-SIGN-02: a server signing access tokens with ${algorithm} issues tokens that jose verifies against its JWKS, ID tokens with a correct at_hash`, async () => {
      const h = setup({ signing: { algorithm } });
      const tokens = await h.login({ scope: 'openid mcp:tools' });
      const jwks = createLocalJWKSet((await (await h.server.request(PATHS.jwks)).json()) as JSONWebKeySet);
      const currentDate = new Date(h.now);
      const access = await jwtVerify(tokens.access_token, jwks, { issuer: ISSUER, typ: 'at+jwt', algorithms: [algorithm], currentDate });
      expect(Object.keys(access.payload)).toEqual(['client_id', 'scope', 'grant_id', 'iss', 'sub', 'aud', 'iat', 'exp', 'jti']);
      const id = await jwtVerify(tokens.id_token!, jwks, { issuer: ISSUER, audience: 'public-app', algorithms: ['RS256'], currentDate });
      // OIDC Core §3.1.3.6: base64url of the left half of SHA-256 over the access token.
      const expected = createHash('sha256').update(tokens.access_token).digest().subarray(0, 16).toString('base64url');
      expect(id.payload.at_hash).toBe(expected);
      expect(decodeJWT(tokens.id_token!).header).toMatchObject({ alg: 'RS256', typ: 'JWT' });
      expect((await h.bearer(tokens.access_token)).ok).toBe(true);
    });
  }
});

describe('base64url without Buffer: the same text as node:buffer for every length', () => {
  it('PERF-B64-01: base64url matches Buffer for lengths 0-300 and a 40 kB input (the scratch buffer grows), each byte value', () => {
    const lengths = [...Array.from({ length: 301 }, (_, i) => i), 40_000];
    for (const length of lengths) {
      const bytes = crypto.getRandomValues(new Uint8Array(Math.min(length, 65_536)));
      expect(base64url(bytes)).toBe(Buffer.from(bytes).toString('base64url'));
      // A view into a larger buffer encodes only its own bytes.
      const view = new Uint8Array(bytes.buffer, Math.min(1, length), Math.max(0, length - 2));
      expect(base64url(view)).toBe(Buffer.from(view).toString('base64url'));
    }
    const every = Uint8Array.from({ length: 256 }, (_, i) => i);
    expect(base64url(every)).toBe(Buffer.from(every).toString('base64url'));
    expect(base64url(new Uint8Array([251, 255]))).toBe('-_8');
  });

  it('PERF-B64-02: base64urlUTF8 encodes UTF-8 (non-ASCII, astral, lone surrogate as U+FFFD) exactly as Buffer does', () => {
    for (const text of ['', 'a', '{"alg":"ES256"}', 'Zoë ✓', '𝄞 music', 'x'.repeat(5000), 'é'.repeat(3000), 'lone \ud800 surrogate']) {
      expect(base64urlUTF8(text)).toBe(Buffer.from(text, 'utf8').toString('base64url'));
    }
  });

  it('PERF-B64-03: randomToken hands out base64url of fresh bytes, across pool refills, never the same token twice', () => {
    const seen = new Set<string>();
    for (let i = 0; i < 1000; i++) {
      const token = randomToken(i % 2 ? 32 : 16);
      expect(token).toMatch(i % 2 ? /^[A-Za-z0-9_-]{43}$/ : /^[A-Za-z0-9_-]{22}$/);
      seen.add(token);
    }
    expect(seen.size).toBe(1000);
    expect(randomToken(5000)).toMatch(/^[A-Za-z0-9_-]{6667}$/);
  });
});

describe('core on a runtime without node:crypto and without Buffer (Deno, workerd)', () => {
  afterEach(() => {
    vi.unstubAllGlobals();
    vi.resetModules();
  });

  it('PERF-SIGN-03: signing falls back to jose on Web Crypto, and tokens verify with jose and node:crypto alike', async () => {
    vi.resetModules();
    // What such a runtime looks like to core: no process.getBuiltinModule, no Buffer global.
    vi.stubGlobal('process', { ...process, getBuiltinModule: undefined });
    vi.stubGlobal('Buffer', undefined);
    const webCrypto = await import('../src/protocol/crypto.js');
    const signer = await import('../src/server/jwt-signer.js');
    const { KeyManager } = await import('../src/server/keys.js');
    const { MemoryStore } = await import('../src/store/memory-store.js');
    expect(webCrypto.nodeCrypto).toBeUndefined();
    const token = webCrypto.randomToken();
    const hash = await webCrypto.sha256('abc');
    const encoded = webCrypto.base64url(new Uint8Array([251, 255]));
    const keys = new KeyManager({ store: new MemoryStore(), clock: () => 1_900_000_000_000, algorithms: ['ES256', 'EdDSA'], retiredKeyOverlapSeconds: 60 });
    const signed: { alg: string; token: string }[] = [];
    for (const alg of ['ES256', 'EdDSA'] as const) {
      const { kid, sign } = await keys.signingKey(alg);
      signed.push({ alg, token: await sign({ alg, kid, typ: 'at+jwt' }, { sub: 'Zoë', iss: ISSUER, exp: 1_900_000_060 }) });
    }
    const { privateKey } = await generateKeyPair('ES256', { extractable: true });
    const chosen = await signer.createJWTSigner(await exportJWK(privateKey), 'ES256');
    const jwks = JSON.parse(await keys.jwksJSON()) as JSONWebKeySet;
    vi.unstubAllGlobals();

    expect(chosen.implementation).toBe('jose');
    expect(token).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(hash).toBe(createHash('sha256').update('abc').digest('base64url'));
    expect(encoded).toBe('-_8');
    for (const { alg, token: jwt } of signed) {
      const publicJwk = jwks.keys.find((key) => key.alg === alg)!;
      const { payload } = await jwtVerify(jwt, createLocalJWKSet(jwks), { algorithms: [alg], currentDate: new Date(1_900_000_000_000) });
      expect(payload.sub).toBe('Zoë');
      expect(nodeVerifies(jwt, publicJwk, alg)).toBe(true);
      expect(nodeVerifies(flipSignature(jwt), publicJwk, alg)).toBe(false);
    }
  });
});

describe('signatures and verifications run in batches, one per turn of the event loop', () => {
  it('PERF-SIGN-04: work requested during one turn runs once each, in order, back to back at its end; a throw rejects only its own call', async () => {
    const ran: string[] = [];
    const first = inCryptoBatch(() => (ran.push('first'), 1));
    queueMicrotask(() => ran.push('microtask between the calls'));
    const failing = inCryptoBatch((): number => {
      ran.push('failing');
      throw new TypeError('bad key');
    });
    const third = inCryptoBatch(() => (ran.push('third'), 3));
    // Nothing runs while the turn that asked is still going.
    expect(ran).toEqual([]);
    const settled = await Promise.allSettled([first, failing, third]);
    expect(settled).toEqual([
      { status: 'fulfilled', value: 1 },
      { status: 'rejected', reason: new TypeError('bad key') },
      { status: 'fulfilled', value: 3 },
    ]);
    // The microtask queued between the calls ran before the batch, not between its jobs.
    expect(ran).toEqual(['microtask between the calls', 'first', 'failing', 'third']);
    // A later turn gets a batch of its own.
    expect(await inCryptoBatch(() => 'next turn')).toBe('next turn');
  });

  it('PERF-SIGN-04: concurrent token requests on one server each get a distinct, valid token from the batched signer', async () => {
    const { privateKey, publicKey } = await generateKeyPair('ES256', { extractable: true });
    const { implementation, sign } = await createJWTSigner(await exportJWK(privateKey), 'ES256');
    expect(implementation).toBe('node:crypto');
    const tokens = await Promise.all(Array.from({ length: 25 }, (_, i) => sign({ alg: 'ES256', typ: 'at+jwt' }, { sub: `user-${i}`, iss: ISSUER })));
    expect(new Set(tokens).size).toBe(25);
    for (const [i, token] of tokens.entries()) {
      const { payload } = await jwtVerify(token, publicKey, { issuer: ISSUER });
      expect(payload.sub).toBe(`user-${i}`);
    }
  });
});
