/**
 * Encryption of signing keys at rest: private JWKs reach the store only sealed.
 *
 * @module
 */
import { base64url, decodeBase64url } from '../protocol/crypto.js';

/**
 * Seals and opens the private signing keys the server keeps in its store. The server calls `encrypt` with
 * a private JWK as JSON before every `saveSigningKey` and `decrypt` on every key it reads; the store sees
 * only the sealed string, as `privateJwk: { encrypted }`. Bring your own (a KMS) or derive one from a
 * secret with {@link keyEncryptionFromSecret}.
 *
 * @example
 * ```ts
 * const server = new AuthorizationServer({
 *   issuer, store,
 *   signing: { keyEncryption: await keyEncryptionFromSecret(process.env.KEYWARD_ENCRYPTION_SECRET!) },
 * });
 * ```
 * @see [RFC 7517 §9.2](https://www.rfc-editor.org/rfc/rfc7517#section-9.2)
 */
export interface KeyEncryption {
  encrypt(plaintext: string): Promise<string>;
  /** Opens what `encrypt` (with this or an earlier secret) sealed; rejects anything else. */
  decrypt(sealed: string): Promise<string>;
  /** True when `sealed` was made with an earlier secret: the server then seals the key again with the current one. */
  isStale?(sealed: string): boolean;
}

/** The secrets of {@link keyEncryptionFromSecret} besides the current one. */
export interface KeyEncryptionOptions {
  /** Earlier secrets, still accepted for decryption while keys sealed with them are re-sealed. */
  previousSecrets?: readonly string[] | undefined;
}

const encoder = new TextEncoder();
const VERSION = 'k1';

interface DerivedKey {
  id: string;
  key: CryptoKey;
}

/** HKDF-SHA256 of the secret into an AES-256-GCM key and a short public id naming which secret sealed a value. */
async function derive(secret: string): Promise<DerivedKey> {
  const base = await crypto.subtle.importKey('raw', encoder.encode(secret), 'HKDF', false, ['deriveKey', 'deriveBits']);
  const salt = encoder.encode('keyward signing-key encryption');
  const key = await crypto.subtle.deriveKey(
    { name: 'HKDF', hash: 'SHA-256', salt, info: encoder.encode('aes-256-gcm key') },
    base,
    { name: 'AES-GCM', length: 256 },
    false,
    ['encrypt', 'decrypt'],
  );
  const idBits = await crypto.subtle.deriveBits({ name: 'HKDF', hash: 'SHA-256', salt, info: encoder.encode('key id') }, base, 48);
  return { id: base64url(new Uint8Array(idBits)), key };
}

function fromBase64url(text: string): Uint8Array<ArrayBuffer> {
  // A sealed value that is not base64url decodes to nothing, and AES-GCM then refuses it as it would a forgery.
  const bytes = decodeBase64url(text) ?? new Uint8Array(0);
  const copy = new Uint8Array(new ArrayBuffer(bytes.byteLength));
  copy.set(bytes);
  return copy;
}

/**
 * A {@link KeyEncryption} from a secret of at least 32 characters: AES-256-GCM under a key derived with
 * HKDF-SHA256, through Web Crypto only. The sealed form is `k1.<secret id>.<iv>.<ciphertext>` (base64url).
 * To rotate the secret, pass the new one and keep the old one in `previousSecrets` until every instance
 * has restarted: keys sealed with the old secret are opened with it and sealed again with the new one.
 *
 * @example
 * ```ts
 * const keyEncryption = await keyEncryptionFromSecret(process.env.KEYWARD_ENCRYPTION_SECRET!, {
 *   previousSecrets: process.env.KEYWARD_PREVIOUS_ENCRYPTION_SECRET ? [process.env.KEYWARD_PREVIOUS_ENCRYPTION_SECRET] : [],
 * });
 * ```
 * @see [RFC 5869](https://www.rfc-editor.org/rfc/rfc5869) (HKDF)
 */
export async function keyEncryptionFromSecret(secret: string, options: KeyEncryptionOptions = {}): Promise<KeyEncryption> {
  for (const value of [secret, ...(options.previousSecrets ?? [])]) {
    if (typeof value !== 'string' || value.length < 32) throw new TypeError('a key encryption secret must be at least 32 characters');
  }
  const current = await derive(secret);
  const all = new Map<string, CryptoKey>([[current.id, current.key]]);
  for (const previous of options.previousSecrets ?? []) {
    const derived = await derive(previous);
    if (!all.has(derived.id)) all.set(derived.id, derived.key);
  }
  return {
    async encrypt(plaintext) {
      const iv = crypto.getRandomValues(new Uint8Array(12));
      const sealed = await crypto.subtle.encrypt({ name: 'AES-GCM', iv }, current.key, encoder.encode(plaintext));
      return `${VERSION}.${current.id}.${base64url(iv)}.${base64url(new Uint8Array(sealed))}`;
    },
    async decrypt(sealed) {
      const [version, id, iv, ciphertext, extra] = sealed.split('.');
      const key = id === undefined ? undefined : all.get(id);
      if (version !== VERSION || !key || !iv || !ciphertext || extra !== undefined) {
        throw new Error('signing key sealed with an unknown secret: configure the secret it was sealed with (as a previous secret during rotation)');
      }
      const plaintext = await crypto.subtle.decrypt({ name: 'AES-GCM', iv: fromBase64url(iv) }, key, fromBase64url(ciphertext));
      return new TextDecoder().decode(plaintext);
    },
    isStale(sealed) {
      return sealed.split('.')[1] !== current.id;
    },
  };
}
