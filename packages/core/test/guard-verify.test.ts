import { describe, expect, it } from 'vitest';
import { CompactSign, generateKeyPair, SignJWT, type CryptoKey, type JWTHeaderParameters, type JWTVerifyGetKey } from 'jose';
import { ResourceServerGuard, type GuardResult } from '@keyward/core';
import { wellKnownURL } from '@keyward/core/protocol';
import { nodeVerifyJWT, type JWTChecks } from '../src/resource-server/node-jwt-verify.js';
import { ISSUER, RESOURCE, RESOURCE_B } from './support.js';

const NOW = Date.UTC(2030, 0, 1, 12);
const now = Math.floor(NOW / 1000);
const ALGORITHMS = ['ES256', 'EdDSA', 'RS256'] as const;

type Keys = Record<string, { privateKey: CryptoKey; publicKey: CryptoKey }>;

function guardWith(keys: JWTVerifyGetKey, verifier: 'jose' | 'node:crypto', extra: { algorithms?: string[]; audiences?: string[] } = {}): ResourceServerGuard {
  return new ResourceServerGuard({
    issuer: ISSUER,
    resource: RESOURCE,
    resourceMetadataUrl: wellKnownURL(RESOURCE, 'oauth-protected-resource'),
    keys,
    clock: () => NOW,
    tokenCacheSize: 0,
    verifier,
    ...extra,
  });
}

const claims = (overrides: Record<string, unknown> = {}) => ({ client_id: 'c', scope: 'mcp:tools', iss: ISSUER, sub: 'u', aud: RESOURCE, iat: now, exp: now + 60, jti: 'j', ...overrides });

function sign(keys: Keys, alg: string, payload: Record<string, unknown>, header: Partial<JWTHeaderParameters> = {}): Promise<string> {
  const clean = Object.fromEntries(Object.entries(payload).filter(([, value]) => value !== undefined));
  return new SignJWT(clean).setProtectedHeader({ alg, kid: alg, typ: 'at+jwt', ...header } as JWTHeaderParameters).sign(keys[alg]!.privateKey);
}

function signBytes(keys: Keys, alg: string, payload: Uint8Array, header: Partial<JWTHeaderParameters> = {}): Promise<string> {
  return new CompactSign(payload).setProtectedHeader({ alg, kid: alg, typ: 'at+jwt', ...header } as JWTHeaderParameters).sign(keys[alg]!.privateKey);
}

/** An ES256 JWS over any header (jose refuses to sign a crit it does not know). */
async function signES256Raw(keys: Keys, header: Record<string, unknown>, payload: Record<string, unknown>): Promise<string> {
  const input = `${b64(JSON.stringify(header))}.${b64(JSON.stringify(payload))}`;
  const signature = await crypto.subtle.sign({ name: 'ECDSA', hash: 'SHA-256' }, keys.ES256!.privateKey, new TextEncoder().encode(input));
  return `${input}.${Buffer.from(signature).toString('base64url')}`;
}

function outcome(result: GuardResult) {
  return result.ok ? { ok: true, auth: result.auth } : { ok: false, status: result.response.status, challenge: result.response.headers.get('www-authenticate') };
}

const b64 = (value: string) => Buffer.from(value).toString('base64url');

describe('first-seen bearer verification: node:crypto and jose give the same answer for every token', () => {
  it('PERF-VERIFY-01: valid, expired, early, foreign, mistyped, malformed, tampered and algorithm-confused tokens — the same verdict both ways', async () => {
    const keys: Keys = {};
    for (const alg of ALGORITHMS) keys[alg] = (await generateKeyPair(alg)) as Keys[string];
    const resolver: JWTVerifyGetKey = (header) => {
      const pair = keys[header.kid ?? ''];
      if (!pair) throw new Error('unknown key');
      return pair.publicKey;
    };
    const cases: { name: string; token: string; accepted: boolean; fast: boolean }[] = [];
    const add = async (name: string, token: string | Promise<string>, accepted: boolean, fast = true) => void cases.push({ name, token: await token, accepted, fast });
    for (const alg of ALGORITHMS) {
      await add(`${alg} valid`, sign(keys, alg, claims()), true);
      await add(`${alg} tampered signature`, sign(keys, alg, claims()).then((t) => `${t.slice(0, -3)}${t.at(-3) === 'A' ? 'B' : 'A'}${t.slice(-2)}`), false);
      await add(`${alg} payload swapped`, sign(keys, alg, claims()).then((t) => t.split('.').map((part, i) => (i === 1 ? b64(JSON.stringify(claims({ scope: 'mcp:admin' }))) : part)).join('.')), false);
    }
    await add('expired beyond the 5 s tolerance', sign(keys, 'ES256', claims({ exp: now - 6 })), false);
    await add('exp exactly now - tolerance', sign(keys, 'ES256', claims({ exp: now - 5 })), false);
    await add('expired within the tolerance', sign(keys, 'ES256', claims({ exp: now - 4 })), true);
    await add('nbf beyond the tolerance', sign(keys, 'ES256', claims({ nbf: now + 6 })), false);
    await add('nbf within the tolerance', sign(keys, 'ES256', claims({ nbf: now + 5 })), true);
    await add('nbf not a number', sign(keys, 'ES256', claims({ nbf: String(now) })), false);
    await add('exp not a number', sign(keys, 'ES256', claims({ exp: String(now + 60) })), false);
    await add('iat not a number', sign(keys, 'ES256', claims({ iat: 'now' })), false);
    await add('another issuer', sign(keys, 'ES256', claims({ iss: 'https://evil.example' })), false);
    await add('no issuer', sign(keys, 'ES256', claims({ iss: undefined })), false);
    await add('another audience', sign(keys, 'ES256', claims({ aud: RESOURCE_B })), false);
    await add('audience list with this resource', sign(keys, 'ES256', claims({ aud: [RESOURCE_B, RESOURCE] })), true);
    await add('audience list without it', sign(keys, 'ES256', claims({ aud: [RESOURCE_B] })), false);
    await add('audience not a string', sign(keys, 'ES256', claims({ aud: 7 })), false);
    for (const claim of ['exp', 'iat', 'sub', 'client_id', 'jti']) await add(`no ${claim}`, sign(keys, 'ES256', claims({ [claim]: undefined })), false);
    await add('typ JWT', sign(keys, 'ES256', claims(), { typ: 'JWT' }), false);
    await add('typ application/at+jwt', sign(keys, 'ES256', claims(), { typ: 'application/at+jwt' }), true);
    await add('typ in capitals', sign(keys, 'ES256', claims(), { typ: 'AT+JWT' }), true);
    await add('no typ', sign(keys, 'ES256', claims(), { typ: undefined }), false);
    await add('unknown kid', sign(keys, 'ES256', claims(), { kid: 'other' }), false);
    // An RSA key handed out for an ES256 header must not verify anything (algorithm confusion).
    await add('EC header, RSA key', sign(keys, 'RS256', claims(), { alg: 'ES256' } as never).catch(() => sign(keys, 'ES256', claims(), { kid: 'RS256' })), false);
    await add('claims not an object', signBytes(keys, 'ES256', new TextEncoder().encode('[1,2]')), false);
    await add('claims not UTF-8', signBytes(keys, 'ES256', new Uint8Array([0x7b, 0xff, 0x7d])), false);
    await add('unsigned (alg none)', `${b64(JSON.stringify({ alg: 'none', typ: 'at+jwt' }))}.${b64(JSON.stringify(claims()))}.`, false);
    await add('two segments', sign(keys, 'ES256', claims()).then((t) => t.split('.').slice(0, 2).join('.')), false);
    await add('four segments', sign(keys, 'ES256', claims()).then((t) => `${t}.x`), false);
    await add('header not JSON', sign(keys, 'ES256', claims()).then((t) => `${b64('{alg')}.${t.split('.').slice(1).join('.')}`), false);
    // Outside the common case jose answers alone: crit and b64 headers, base64 padding.
    await add('crit header', signES256Raw(keys, { alg: 'ES256', kid: 'ES256', typ: 'at+jwt', crit: ['x'], x: 1 }, claims()), false, false);
    // jose's base64 decoding is lenient about padding; handing such tokens to jose keeps its answer.
    await add('padded signature', sign(keys, 'ES256', claims()).then((t) => `${t}==`), true, false);

    const checks: JWTChecks = { issuer: ISSUER, audiences: [RESOURCE], typ: 'at+jwt', algorithms: new Set(ALGORITHMS), clockTolerance: 5, requiredClaims: ['exp', 'iat', 'sub', 'client_id', 'jti'] };
    const viaJose = guardWith(resolver, 'jose');
    const viaNode = guardWith(resolver, 'node:crypto');
    for (const { name, token, accepted, fast } of cases) {
      const expected = outcome(await viaJose.verify(token));
      const actual = outcome(await viaNode.verify(token));
      expect(expected.ok, `${name}: jose`).toBe(accepted);
      expect(actual, name).toEqual(expected);
      // The node:crypto path answered itself (not by handing the token to jose), except where it must not.
      const direct = await nodeVerifyJWT(token, resolver, checks, NOW);
      expect(direct === undefined ? undefined : direct.ok, `${name}: node:crypto path`).toBe(fast ? accepted : undefined);
    }
  });

  it('PERF-VERIFY-02: an algorithm outside the guard\'s list is refused both ways, though its key would verify', async () => {
    const { privateKey, publicKey } = await generateKeyPair('EdDSA');
    const token = await new SignJWT(claims()).setProtectedHeader({ alg: 'EdDSA', typ: 'at+jwt' }).sign(privateKey);
    for (const verifier of ['jose', 'node:crypto'] as const) {
      expect((await guardWith(() => publicKey, verifier, { algorithms: ['ES256'] }).verify(token)).ok, verifier).toBe(false);
      expect((await guardWith(() => publicKey, verifier).verify(token)).ok, verifier).toBe(true);
    }
  });

  it('PERF-VERIFY-03: a guard with several audiences (userinfo) accepts each, and nothing else, both ways', async () => {
    const { privateKey, publicKey } = await generateKeyPair('ES256');
    for (const [aud, accepted] of [[RESOURCE_B, true], [RESOURCE, true], ['https://other.example/mcp', false]] as const) {
      const token = await new SignJWT(claims({ aud })).setProtectedHeader({ alg: 'ES256', typ: 'at+jwt' }).sign(privateKey);
      for (const verifier of ['jose', 'node:crypto'] as const) {
        expect((await guardWith(() => publicKey, verifier, { audiences: [RESOURCE, RESOURCE_B] }).verify(token)).ok, `${aud} ${verifier}`).toBe(accepted);
      }
    }
  });
});
