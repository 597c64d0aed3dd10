import type { KeyObject } from 'node:crypto';
import type { CryptoKey, JWTHeaderParameters, JWTPayload, JWTVerifyGetKey } from 'jose';
import { decodeBase64url, inCryptoBatch, nodeCrypto } from '../protocol/crypto.js';

/** What a JWT must satisfy, the subset of jose's `jwtVerify` options the guard uses, with the same meaning. */
export interface JWTChecks {
  issuer: string;
  /** `aud` must be, or contain, one of these. */
  audiences: readonly string[];
  /** The expected `typ`, compared as jose does (case-insensitive, `application/` implied). */
  typ: string;
  algorithms: ReadonlySet<string>;
  /** Seconds. */
  clockTolerance: number;
  /** Claims that must be present. */
  requiredClaims: readonly string[];
}

/** The outcome: the verified claims, a refusal, or `undefined` for a token only jose may judge. */
export type FastVerifyResult = { ok: true; payload: JWTPayload } | { ok: false } | undefined;


interface NodeAlgorithm {
  digest: string | null;
  dsaEncoding?: 'ieee-p1363';
  /** The Web Crypto key this algorithm verifies with, as jose's own key check demands it. */
  fits(algorithm: KeyAlgorithm & { namedCurve?: string; hash?: { name: string }; modulusLength?: number }): boolean;
}

// RFC 7518 §3.1 and RFC 8037 §3.1; the key checks mirror jose's, so no key verifies under another algorithm.
const ALGORITHMS = new Map<string, NodeAlgorithm>([
  ['ES256', { digest: 'sha256', dsaEncoding: 'ieee-p1363', fits: (a) => a.name === 'ECDSA' && a.namedCurve === 'P-256' }],
  ['EdDSA', { digest: null, fits: (a) => a.name === 'Ed25519' }],
  ['RS256', { digest: 'sha256', fits: (a) => a.name === 'RSASSA-PKCS1-v1_5' && a.hash?.name === 'SHA-256' && (a.modulusLength ?? 0) >= 2048 }],
]);

const strictUTF8 = new TextDecoder('utf-8', { fatal: true });
const encoder = new TextEncoder();
const keyObjects = new WeakMap<CryptoKey, KeyObject>();

/** The JSON object in a base64url segment; null when it is not one, undefined when only jose's lenient base64 may read it. */
function parseJSONObject(segment: string, start: number, end: number): Record<string, unknown> | null | undefined {
  const bytes = decodeBase64url(segment, start, end);
  if (!bytes) return undefined;
  let value: unknown;
  try {
    value = JSON.parse(strictUTF8.decode(bytes));
  } catch {
    return null;
  }
  return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : null;
}

const normalizeTyp = (value: string) => (value.includes('/') ? value.toLowerCase() : `application/${value.toLowerCase()}`);

/**
 * @internal Verifies a compact JWS access token with node:crypto, synchronously on the calling thread,
 * with the checks of jose's `jwtVerify` (algorithm allow-list, key type, `typ`, `iss`, `aud`, `exp`/`nbf`
 * with tolerance, numeric dates, required claims). Web Crypto's verify hops to the thread pool and back,
 * which costs more than the ECDSA check itself.
 *
 * Returns `undefined` where the runtime has no node:crypto, and for anything outside the common case (a
 * `crit` or `b64` header, an algorithm or key this path does not cover, base64 outside the base64url
 * alphabet): those go to jose, so the answer never differs from jose's.
 *
 * @see [RFC 7515 §5.2](https://www.rfc-editor.org/rfc/rfc7515#section-5.2)
 * @see [RFC 7519 §7.2](https://www.rfc-editor.org/rfc/rfc7519#section-7.2)
 */
export async function nodeVerifyJWT(token: string, keys: JWTVerifyGetKey, checks: JWTChecks, nowMs: number): Promise<FastVerifyResult> {
  if (!nodeCrypto) return undefined;
  const firstDot = token.indexOf('.');
  const lastDot = token.lastIndexOf('.');
  if (firstDot < 0 || firstDot === lastDot || token.indexOf('.', firstDot + 1) !== lastDot) return { ok: false };
  const header = parseJSONObject(token, 0, firstDot);
  const payload = parseJSONObject(token, firstDot + 1, lastDot);
  if (header === undefined || payload === undefined) return undefined;
  if (header === null) return { ok: false };
  if (header.crit !== undefined || header.b64 !== undefined) return undefined;
  const alg = header.alg;
  if (typeof alg !== 'string' || !checks.algorithms.has(alg)) return { ok: false };
  const algorithm = ALGORITHMS.get(alg);
  if (!algorithm) return undefined;
  if (typeof header.typ !== 'string' || normalizeTyp(header.typ) !== normalizeTyp(checks.typ)) return { ok: false };

  const signature = decodeBase64url(token, lastDot + 1);
  if (!signature) return undefined;
  let key: unknown;
  try {
    key = await keys(header as JWTHeaderParameters, { payload: token.slice(firstDot + 1, lastDot), signature: token.slice(lastDot + 1) });
  } catch {
    return { ok: false };
  }
  // A CryptoKey (what jose's key sets and the server's KeyManager hand out); anything else goes to jose.
  if (typeof CryptoKey !== 'function' || !(key instanceof CryptoKey) || key.type !== 'public' || !key.usages.includes('verify')) return undefined;
  if (!algorithm.fits(key.algorithm)) return { ok: false };
  let valid: boolean;
  try {
    let keyObject = keyObjects.get(key);
    if (!keyObject) {
      keyObject = nodeCrypto.KeyObject.from(key);
      keyObjects.set(key, keyObject);
    }
    const verifyKey = algorithm.dsaEncoding ? { key: keyObject, dsaEncoding: algorithm.dsaEncoding } : keyObject;
    // The signing input is ASCII (the base64url checked above), so its UTF-8 bytes are the token's bytes.
    const input = encoder.encode(token.slice(0, lastDot));
    // Back to back with the other verifications of this turn of the event loop (see inCryptoBatch).
    valid = await inCryptoBatch(() => nodeCrypto!.verify(algorithm.digest, input, verifyKey, signature));
  } catch {
    // A node:crypto that cannot take this key or signature (a partial node:crypto on another runtime):
    // jose decides, so a valid token is never refused for it.
    return undefined;
  }
  if (!valid || payload === null) return { ok: false };
  return checkClaims(payload, checks, nowMs) ? { ok: true, payload: payload as JWTPayload } : { ok: false };
}

function checkClaims(payload: Record<string, unknown>, checks: JWTChecks, nowMs: number): boolean {
  for (const claim of checks.requiredClaims) if (!Object.hasOwn(payload, claim)) return false;
  if (!Object.hasOwn(payload, 'iss') || payload.iss !== checks.issuer) return false;
  const aud = payload.aud;
  if (typeof aud === 'string') {
    if (!checks.audiences.includes(aud)) return false;
  } else if (!Array.isArray(aud) || !checks.audiences.some((audience) => aud.includes(audience))) {
    return false;
  }
  const now = Math.floor(nowMs / 1000);
  const tolerance = checks.clockTolerance;
  for (const claim of ['iat', 'nbf', 'exp'] as const) {
    if (payload[claim] !== undefined && typeof payload[claim] !== 'number') return false;
  }
  if (payload.nbf !== undefined && (payload.nbf as number) > now + tolerance) return false;
  if (payload.exp !== undefined && (payload.exp as number) <= now - tolerance) return false;
  return true;
}
