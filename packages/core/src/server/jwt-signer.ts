import { importJWK, SignJWT, type CryptoKey, type JWK, type JWTHeaderParameters, type JWTPayload } from 'jose';
import { base64url, base64urlUTF8, inCryptoBatch, nodeCrypto } from '../protocol/crypto.js';

/**
 * @internal Signs a JWT: the header and claims exactly as given (members in their order, serialised with
 * `JSON.stringify`), then the JWS signature. Every implementation produces the same first two segments for
 * the same input, so which one runs is invisible to a verifier.
 */
export type JWTSigner = (header: JWTHeaderParameters, payload: JWTPayload) => Promise<string>;

/** @internal Where the signature comes from: node:crypto (synchronous) or jose on Web Crypto. */
export type SignerImplementation = 'node:crypto' | 'jose';

function encodeSegment(value: unknown): string {
  return base64urlUTF8(JSON.stringify(value));
}

const encoder = new TextEncoder();

/**
 * @internal A signer on node:crypto, or undefined where the runtime has no node:crypto (or for an
 * algorithm it does not cover). Signing runs synchronously on the calling thread: for a 60-byte input, Web
 * Crypto's hop to the thread pool and back costs more than the ECDSA signature itself, and it is the
 * largest share of the token endpoint's CPU time on Node. The signatures requested during one turn of the
 * event loop run back to back at its end ({@link inCryptoBatch}).
 */
export function nodeJWTSigner(privateJwk: JWK, alg: string): JWTSigner | undefined {
  if (!nodeCrypto) return undefined;
  // ES256 signatures in JWS are the raw r‖s pair (RFC 7518 §3.4), not node's default DER encoding.
  const algorithms: Record<string, { digest: string | null; dsaEncoding?: 'ieee-p1363' }> = {
    ES256: { digest: 'sha256', dsaEncoding: 'ieee-p1363' },
    EdDSA: { digest: null },
    RS256: { digest: 'sha256' },
  };
  const algorithm = algorithms[alg];
  if (!algorithm) return undefined;
  const { createPrivateKey, sign } = nodeCrypto;
  const key = createPrivateKey({ key: privateJwk as import('node:crypto').JsonWebKey, format: 'jwk' });
  const signingKey = algorithm.dsaEncoding ? { key, dsaEncoding: algorithm.dsaEncoding } : key;
  return async (header, payload) => {
    const input = `${encodeSegment(header)}.${encodeSegment(payload)}`;
    // The signing input is base64url text, so its UTF-8 bytes are its ASCII bytes.
    const signature = await inCryptoBatch(() => sign(algorithm.digest, encoder.encode(input), signingKey));
    return `${input}.${base64url(signature)}`;
  };
}

/**
 * A node:crypto signer that has signed once: runtimes that offer a partial node:crypto (workerd with
 * `nodejs_compat` rejects key objects in `sign()`) get jose instead of a failure on every token.
 */
async function probedNodeJWTSigner(privateJwk: JWK, alg: string): Promise<JWTSigner | undefined> {
  try {
    const signer = nodeJWTSigner(privateJwk, alg);
    if (signer) await signer({ alg }, {});
    return signer;
  } catch {
    return undefined;
  }
}

/** @internal A signer on jose (Web Crypto), which runs on every runtime. */
export function joseJWTSigner(key: CryptoKey | Uint8Array): JWTSigner {
  return (header, payload) => new SignJWT(payload).setProtectedHeader(header).sign(key);
}

/**
 * @internal The signer for one key on this runtime: node:crypto on Node, jose elsewhere. `prefer` forces one
 * (the differential tests run both on Node).
 */
export async function createJWTSigner(privateJwk: JWK, alg: string, prefer?: SignerImplementation): Promise<{ implementation: SignerImplementation; sign: JWTSigner }> {
  if (prefer !== 'jose') {
    const node = await probedNodeJWTSigner(privateJwk, alg);
    if (node) return { implementation: 'node:crypto', sign: node };
  }
  return { implementation: 'jose', sign: joseJWTSigner(await importJWK(privateJwk, alg)) };
}
