const encoder = new TextEncoder();

type NodeCrypto = typeof import('node:crypto');
/**
 * @internal node:crypto where the runtime has it (Node 20.16+), loaded without a static `node:` import so
 * that core still runs on runtimes with Web Crypto only. On Node, hashing and signing synchronously avoids
 * Web Crypto's hop to the thread pool and back, which costs more than the operation itself.
 */
export const nodeCrypto = (globalThis as { process?: { getBuiltinModule?: (id: string) => unknown } }).process?.getBuiltinModule?.('node:crypto') as
  | NodeCrypto
  | undefined;

/**
 * base64url without padding, the alphabet of every token Keyward mints.
 *
 * @example
 * ```ts
 * base64url(new Uint8Array([251, 255])); // '-_8'
 * ```
 * @see [RFC 4648 §5](https://www.rfc-editor.org/rfc/rfc4648#section-5)
 */
export function base64url(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64url');
}

const RANDOM_POOL_BYTES = 4096;
const randomPool = nodeCrypto ? Buffer.alloc(RANDOM_POOL_BYTES) : undefined;
let randomPoolOffset = RANDOM_POOL_BYTES;

/**
 * A random token from the platform CSPRNG. The default 32 bytes give 256 bits, above the 2^-160 guessing
 * bound that OAuth 2.1 §7.7 recommends for codes, tokens and secrets.
 *
 * @example
 * ```ts
 * const code = randomToken(); // 43 base64url characters
 * ```
 * @see [OAuth 2.1 §7.7](https://datatracker.ietf.org/doc/html/draft-ietf-oauth-v2-1#section-7.7)
 */
export function randomToken(bytes = 32): string {
  if (nodeCrypto && bytes <= RANDOM_POOL_BYTES) {
    // On Node, Web Crypto's getRandomValues costs about 7 µs a call whatever the size; filling a pool from
    // the same CSPRNG and handing out each byte once costs a fraction of that per token.
    if (randomPoolOffset + bytes > RANDOM_POOL_BYTES) {
      nodeCrypto.randomFillSync(randomPool!);
      randomPoolOffset = 0;
    }
    const token = randomPool!.toString('base64url', randomPoolOffset, randomPoolOffset + bytes);
    randomPoolOffset += bytes;
    return token;
  }
  return base64url(crypto.getRandomValues(new Uint8Array(bytes)));
}


/**
 * SHA-256 of a UTF-8 string, base64url-encoded. Stores keep codes, refresh tokens and secrets only in this
 * form, so a leaked database hands out nothing usable.
 *
 * @example
 * ```ts
 * const hash = await sha256(code);
 * ```
 */
export async function sha256(value: string): Promise<string> {
  if (nodeCrypto) return nodeCrypto.createHash('sha256').update(value, 'utf8').digest('base64url');
  return webSHA256(value);
}

/** @internal {@link sha256} without a promise on Node, where hashing is synchronous. */
export function sha256Now(value: string): string | Promise<string> {
  return nodeCrypto ? nodeCrypto.createHash('sha256').update(value, 'utf8').digest('base64url') : webSHA256(value);
}

async function webSHA256(value: string): Promise<string> {
  const digest = await crypto.subtle.digest('SHA-256', encoder.encode(value));
  return base64url(new Uint8Array(digest));
}

/**
 * Compares two strings in time that depends only on their lengths, for secrets and PKCE challenges.
 *
 * @example
 * ```ts
 * if (!timingSafeEqual(await sha256(secret), client.clientSecretHash)) throw new OAuthError('invalid_client');
 * ```
 */
export function timingSafeEqual(a: string, b: string): boolean {
  const left = encoder.encode(a);
  const right = encoder.encode(b);
  // Compare against itself when lengths differ so the loop still runs over `left`.
  const other = left.length === right.length ? right : left;
  let diff = left.length === right.length ? 0 : 1;
  for (let i = 0; i < left.length; i++) diff |= left[i]! ^ other[i]!;
  return diff === 0;
}
