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

interface BatchedJob {
  work: () => unknown;
  resolve: (value: unknown) => void;
  reject: (error: unknown) => void;
}

let batch: BatchedJob[] = [];
// Taken once, when core loads: the end of the event loop's turn where the runtime has it (Node, Bun), else
// the end of the current task.
const endOfTurn: (callback: () => void) => void =
  typeof (globalThis as { setImmediate?: unknown }).setImmediate === 'function'
    ? (globalThis as unknown as { setImmediate: (callback: () => void) => void }).setImmediate
    : queueMicrotask;

function runBatch(): void {
  const jobs = batch;
  batch = [];
  for (const job of jobs) {
    try {
      job.resolve(job.work());
    } catch (error) {
      job.reject(error);
    }
  }
}

/**
 * @internal Runs a synchronous signature or verification at the end of the event loop's current turn,
 * back to back with the others requested during that turn. On a server under load, an ECDSA operation
 * run between parsing one request and answering another finds its code and precomputed tables evicted by
 * that work: measured on Node, a P-256 signature inside a request handler cost about twice what it costs
 * in a loop, and run in a batch it costs what it costs in a loop (and the HTTP work around it gets
 * cheaper too). A lone call waits only for the end of the current turn. `work` runs exactly once; what it
 * throws rejects only its own promise.
 */
export function inCryptoBatch<T>(work: () => T): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    if (batch.push({ work, resolve: resolve as (value: unknown) => void, reject }) === 1) endOfTurn(runBatch);
  });
}

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
const SIXTETS = Uint8Array.from(ALPHABET, (char) => char.charCodeAt(0));
// Every 12-bit value as its two output characters: two table reads per 12 bits instead of four shifts.
const HIGH = new Uint8Array(4096);
const LOW = new Uint8Array(4096);
for (let i = 0; i < 4096; i++) {
  HIGH[i] = SIXTETS[i >> 6]!;
  LOW[i] = SIXTETS[i & 63]!;
}
// ASCII output written into one reused buffer, then decoded in one call: faster than concatenating
// characters, and safe to reuse because encoding never yields to other code.
const decoder = new TextDecoder();
let scratch = new Uint8Array(1024);

function encodeBase64url(bytes: Uint8Array, start: number, end: number): string {
  const need = Math.ceil(((end - start) * 4) / 3);
  if (need > scratch.length) scratch = new Uint8Array(need * 2);
  const out = scratch;
  let o = 0;
  let i = start;
  for (const last = end - 2; i < last; i += 3) {
    const triple = (bytes[i]! << 16) | (bytes[i + 1]! << 8) | bytes[i + 2]!;
    const high = triple >> 12;
    const low = triple & 4095;
    out[o] = HIGH[high]!;
    out[o + 1] = LOW[high]!;
    out[o + 2] = HIGH[low]!;
    out[o + 3] = LOW[low]!;
    o += 4;
  }
  if (end - i === 1) {
    const byte = bytes[i]!;
    out[o++] = SIXTETS[byte >> 2]!;
    out[o++] = SIXTETS[(byte & 3) << 4]!;
  } else if (end - i === 2) {
    const pair = (bytes[i]! << 8) | bytes[i + 1]!;
    out[o++] = SIXTETS[pair >> 10]!;
    out[o++] = SIXTETS[(pair >> 4) & 63]!;
    out[o++] = SIXTETS[(pair & 15) << 2]!;
  }
  return decoder.decode(out.subarray(0, o));
}

/**
 * base64url without padding, the alphabet of every token Keyward mints. Plain JavaScript over a
 * `Uint8Array`, so it runs wherever core does (Node, Deno, Bun, workerd), with or without `Buffer`.
 *
 * @example
 * ```ts
 * base64url(new Uint8Array([251, 255])); // '-_8'
 * ```
 * @see [RFC 4648 §5](https://www.rfc-editor.org/rfc/rfc4648#section-5)
 */
export function base64url(bytes: Uint8Array): string {
  return encodeBase64url(bytes, 0, bytes.length);
}

const SIXTET_OF = new Int8Array(128).fill(-1);
for (let i = 0; i < 64; i++) SIXTET_OF[SIXTETS[i]!] = i;

/**
 * @internal The bytes of unpadded base64url text, or undefined for anything else (another alphabet,
 * padding, whitespace, an impossible length), which a caller may then hand to a lenient decoder.
 */
export function decodeBase64url(text: string, start = 0, end = text.length): Uint8Array | undefined {
  const length = end - start;
  if (length % 4 === 1) return undefined;
  const bytes = new Uint8Array((length * 3) >> 2);
  let o = 0;
  let bits = 0;
  let collected = 0;
  for (let i = start; i < end; i++) {
    const code = text.charCodeAt(i);
    const sixtet = code < 128 ? SIXTET_OF[code]! : -1;
    if (sixtet < 0) return undefined;
    bits = (bits << 6) | sixtet;
    collected += 6;
    if (collected >= 8) {
      collected -= 8;
      bytes[o++] = (bits >> collected) & 255;
    }
    bits &= (1 << collected) - 1;
  }
  // Leftover bits of the last character are ignored, as atob and Uint8Array.fromBase64 do.
  return bytes;
}

let utf8Scratch = new Uint8Array(1024);

/**
 * @internal base64url of a string's UTF-8 bytes (a JWS segment), encoded into a reused buffer rather than a
 * new array per call.
 */
export function base64urlUTF8(value: string): string {
  // UTF-8 takes at most three bytes per UTF-16 code unit.
  if (value.length * 3 > utf8Scratch.length) utf8Scratch = new Uint8Array(value.length * 3);
  const { written } = encoder.encodeInto(value, utf8Scratch);
  return encodeBase64url(utf8Scratch, 0, written);
}

const RANDOM_POOL_BYTES = 4096;
const randomPool = new Uint8Array(RANDOM_POOL_BYTES);
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
  if (bytes > RANDOM_POOL_BYTES) return base64url(crypto.getRandomValues(new Uint8Array(bytes)));
  // A call to the CSPRNG costs microseconds whatever the size (about 7 µs for Web Crypto's on Node); filling
  // a pool from it and handing out each byte once costs a fraction of that per token.
  if (randomPoolOffset + bytes > RANDOM_POOL_BYTES) {
    if (nodeCrypto) nodeCrypto.randomFillSync(randomPool);
    else crypto.getRandomValues(randomPool);
    randomPoolOffset = 0;
  }
  const token = encodeBase64url(randomPool, randomPoolOffset, randomPoolOffset + bytes);
  randomPoolOffset += bytes;
  return token;
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
  return sha256Now(value);
}

// Node's one-shot hash (20.12+) skips the Hash object createHash makes: about half the cost for a token. Deno
// and Bun's node:crypto may lack it.
const nodeSHA256: ((value: string) => string) | undefined =
  typeof nodeCrypto?.hash === 'function'
    ? (value) => nodeCrypto!.hash('sha256', value, 'base64url')
    : nodeCrypto && ((value) => nodeCrypto!.createHash('sha256').update(value, 'utf8').digest('base64url'));

/** @internal {@link sha256} without a promise on Node, where hashing is synchronous. */
export function sha256Now(value: string): string | Promise<string> {
  return nodeSHA256 ? nodeSHA256(value) : webSHA256(value);
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
  // UTF-16 code units, not UTF-8 bytes: two strings are equal exactly when their encodings are, and no
  // buffer is allocated for what are usually two 43-character hashes.
  // Compare against itself when lengths differ so the loop still runs over `a`.
  const other = a.length === b.length ? b : a;
  let diff = a.length === b.length ? 0 : 1;
  for (let i = 0; i < a.length; i++) diff |= a.charCodeAt(i) ^ other.charCodeAt(i);
  return diff === 0;
}
