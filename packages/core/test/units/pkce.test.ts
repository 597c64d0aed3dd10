import { describe, expect, it } from 'vitest';
import { calculatePKCECodeChallenge, isValidPKCEValue, verifyPKCE } from '../../src/protocol/pkce.js';

describe('pkce.ts', () => {
  it('AUTHZ-PKCE-05: the grammar is 43-128 characters of [A-Za-z0-9-._~]', () => {
    expect(isValidPKCEValue('a'.repeat(43))).toBe(true);
    expect(isValidPKCEValue('a'.repeat(128))).toBe(true);
    expect(isValidPKCEValue('a'.repeat(42))).toBe(false);
    expect(isValidPKCEValue('a'.repeat(129))).toBe(false);
    expect(isValidPKCEValue('')).toBe(false);
    expect(isValidPKCEValue(`${'a'.repeat(39)}-._~`)).toBe(true);
    expect(isValidPKCEValue('ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789')).toBe(true);
    for (const bad of ['+', '/', '=', ' ', '%', 'é', '\n', '!', '*']) {
      expect(isValidPKCEValue(`${'a'.repeat(42)}${bad}`), JSON.stringify(bad)).toBe(false);
    }
    // Anchored: a valid run inside a longer invalid string is no match.
    expect(isValidPKCEValue(`${'a'.repeat(43)}\n`)).toBe(false);
  });

  it('AUTHZ-PKCE-06: S256 is BASE64URL(SHA256(ASCII(verifier))) (RFC 7636 Appendix B)', async () => {
    const verifier = 'dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk';
    expect(await calculatePKCECodeChallenge(verifier)).toBe('E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM');
    expect(await verifyPKCE(verifier, 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM')).toBe(true);
  });

  it('AUTHZ-PKCE-06: a wrong verifier, a plain comparison or a malformed verifier does not verify', async () => {
    const verifier = 'dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk';
    const challenge = 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM';
    expect(await verifyPKCE(`${verifier.slice(0, -1)}l`, challenge)).toBe(false);
    // plain: verifier === challenge is not accepted.
    expect(await verifyPKCE(challenge, challenge)).toBe(false);
    // Padded challenge form does not match.
    expect(await verifyPKCE(verifier, `${challenge}=`)).toBe(false);
    // A verifier outside the grammar is refused before hashing.
    const short = 'abc';
    expect(await verifyPKCE(short, await calculatePKCECodeChallenge(short))).toBe(false);
  });
});
