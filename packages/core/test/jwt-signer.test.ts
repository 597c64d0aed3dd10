import { createHash, createPublicKey, verify } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { createLocalJWKSet, exportJWK, generateKeyPair, jwtVerify, type JSONWebKeySet, type JWK } from 'jose';
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
