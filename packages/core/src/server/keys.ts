import { exportJWK, generateKeyPair, importJWK, type CryptoKey, type JWK, type JWTHeaderParameters, type JWTPayload } from 'jose';
import type { Clock } from '../protocol/clock.js';
import { randomToken, sha256 } from '../protocol/crypto.js';
import { createJWTSigner, joseJWTSigner, type JWTSigner } from './jwt-signer.js';
import type { KeyEncryption } from '../store/key-encryption.js';
import type { SigningKeyRecord, Store } from '../store/store.js';

/** Asymmetric algorithms Keyward can sign access tokens with. */
export type SigningAlgorithm = 'ES256' | 'EdDSA' | 'RS256';

/** A key ready to sign: imported once, then reused for every token. */
export interface ActiveSigningKey {
  kid: string;
  alg: string;
  key: CryptoKey | Uint8Array;
  /**
   * Signs a JWT with this key, header and claims exactly as given: with node:crypto on Node (synchronous,
   * about twice as fast), with jose on Web Crypto elsewhere. The output verifies the same either way.
   */
  sign(header: JWTHeaderParameters, payload: JWTPayload): Promise<string>;
}

/** Options of {@link KeyManager}. */
export interface KeyManagerOptions {
  store: Store;
  clock: Clock;
  /** Algorithms that need a key of their own (the access-token algorithm, RS256 for ID tokens). */
  algorithms: readonly SigningAlgorithm[];
  /** An HS256 secret for access tokens, used only when configured explicitly (JWT_SECRET). */
  hmacSecret?: string | undefined;
  /** How long a retired key stays published: the longest lifetime of a token it signed, in seconds. */
  retiredKeyOverlapSeconds: number;
  /** Rotate a key automatically once it is this old, in seconds; 0 turns automatic rotation off. */
  rotateAfterSeconds?: number | undefined;
  /** Which library signs; default node:crypto where the runtime has it, else jose. */
  signer?: 'node:crypto' | 'jose' | undefined;
  /** Seals private keys before they reach the store; without it they are stored as plain JWKs. */
  keyEncryption?: KeyEncryption | undefined;
}

/** The stored form of a sealed private key: the only member, so no JWK member is ever stored beside it. */
type SealedJWK = { encrypted: string };

function isSealed(jwk: Record<string, unknown>): jwk is SealedJWK {
  return typeof jwk.encrypted === 'string';
}

/** A public JWK Set document. */
export interface JSONWebKeySet {
  keys: JWK[];
}

// After an unknown `kid`, another instance may have rotated; re-reading the store more often than this
// would let anyone with a forged header make us hammer the database. A token that arrives sooner waits for
// the next permitted read instead of being refused: its key may have been created a moment ago.
const RELOAD_INTERVAL_MS = 1_000;

/**
 * Owns the server's signing keys: generates them on first start, persists them through the Store so a
 * restart keeps issued tokens verifiable, imports each key once, rotates with overlap (a retired key stays
 * published until its last token expires), and serves the JWK Set from a cached string.
 *
 * @example
 * ```ts
 * const keys = new KeyManager({ store, clock: Date.now, algorithms: ['ES256', 'RS256'], retiredKeyOverlapSeconds: 3600 });
 * const { kid, key } = await keys.signingKey('ES256');
 * ```
 * @see [RFC 7517 §5](https://www.rfc-editor.org/rfc/rfc7517#section-5)
 * @see [RFC 9068 §4](https://www.rfc-editor.org/rfc/rfc9068#section-4)
 */
export class KeyManager {
  readonly #options: KeyManagerOptions;
  #loading: Promise<void> | undefined;
  #records: SigningKeyRecord[] = [];
  /** Per algorithm, its keys newest first: sorted once per reload, not once per token. */
  #newestFirst = new Map<string, SigningKeyRecord[]>();
  /** Per kid, the object {@link signingKey} hands out, built once per key rather than per token. */
  #active = new Map<string, ActiveSigningKey>();
  #imported = new Map<string, { sign: CryptoKey | Uint8Array; verify: CryptoKey | Uint8Array; alg: string; signer: JWTSigner }>();
  #jwks = '{"keys":[]}';
  #lastReload = 0;
  #reloadingForKid: Promise<void> | undefined;
  #loaded = false;
  #hmac: ActiveSigningKey | undefined;
  /** One rotation at a time per algorithm, so concurrent signers do not each mint a key. */
  readonly #rotations = new Map<string, Promise<string>>();

  constructor(options: KeyManagerOptions) {
    this.#options = options;
  }

  /** Loads (or on first start, creates) the keys. Called lazily; safe to call repeatedly. */
  ready(): Promise<void> {
    this.#loading ??= this.#load().catch((error: unknown) => {
      this.#loading = undefined;
      throw error;
    });
    return this.#loading;
  }

  async #load(): Promise<void> {
    const { clock, algorithms, hmacSecret } = this.#options;
    if (hmacSecret !== undefined) {
      const key = new TextEncoder().encode(hmacSecret);
      this.#hmac = { kid: `hs-${(await sha256(hmacSecret)).slice(0, 16)}`, alg: 'HS256', key, sign: joseJWTSigner(key) };
    }
    await this.#reload();
    const now = clock();
    for (const alg of algorithms) {
      const active = this.#activeRecord(alg, now);
      if (!active || this.#tooOld(active, now)) await this.rotate(alg);
    }
    this.#loaded = true;
  }

  async #reload(): Promise<void> {
    const now = this.#options.clock();
    this.#lastReload = now;
    const records = (await this.#options.store.listSigningKeys()).filter((r) => r.expiresAt === null || r.expiresAt > now);
    for (const [index, record] of records.entries()) {
      if (this.#imported.has(record.kid)) continue;
      const privateJwk = await this.#open(record);
      records[index] = await this.#resealIfNeeded(record, privateJwk);
      const sign = await importJWK(privateJwk, record.alg);
      const verify = record.publicJwk ? await importJWK(record.publicJwk as JWK, record.alg) : sign;
      // Each key is turned into a signer once, here, so signing a token does no key import or setup.
      const { sign: signer } = await createJWTSigner(privateJwk, record.alg, this.#options.signer);
      this.#imported.set(record.kid, { sign, verify, alg: record.alg, signer });
    }
    this.#records = records;
    this.#newestFirst = new Map();
    this.#active = new Map();
    for (const record of [...records].sort((a, b) => b.createdAt - a.createdAt)) {
      const list = this.#newestFirst.get(record.alg) ?? [];
      list.push(record);
      this.#newestFirst.set(record.alg, list);
    }
    this.#jwks = JSON.stringify({ keys: records.filter((r) => r.publicJwk).map((r) => r.publicJwk) });
  }

  /** The private JWK of a stored key, opened when sealed; the kid inside must be the record's. */
  async #open(record: SigningKeyRecord): Promise<JWK> {
    if (!isSealed(record.privateJwk)) return record.privateJwk as JWK;
    const encryption = this.#options.keyEncryption;
    if (!encryption) throw new Error(`signing key ${record.kid} is stored encrypted: configure signing.keyEncryption with its secret`);
    const jwk = JSON.parse(await encryption.decrypt(record.privateJwk.encrypted)) as JWK;
    // Binds the sealed key to its record, so a sealed key copied under another kid is refused.
    if (jwk.kid !== record.kid) throw new Error(`signing key ${record.kid} holds the sealed key of another kid`);
    return jwk;
  }

  /** A key stored in the clear, or sealed with an earlier secret, is sealed again with the current one. */
  async #resealIfNeeded(record: SigningKeyRecord, privateJwk: JWK): Promise<SigningKeyRecord> {
    const encryption = this.#options.keyEncryption;
    if (!encryption) return record;
    if (isSealed(record.privateJwk) && !encryption.isStale?.(record.privateJwk.encrypted)) return record;
    const resealed = { ...record, privateJwk: await this.#seal(privateJwk) };
    await this.#options.store.saveSigningKey(resealed);
    return resealed;
  }

  async #seal(privateJwk: JWK): Promise<Record<string, unknown>> {
    const encryption = this.#options.keyEncryption;
    return encryption ? ({ encrypted: await encryption.encrypt(JSON.stringify(privateJwk)) } satisfies SealedJWK) : privateJwk;
  }

  #tooOld(record: SigningKeyRecord, now: number): boolean {
    const limit = this.#options.rotateAfterSeconds;
    return !!limit && now - record.createdAt > limit * 1000;
  }

  #activeRecord(alg: string, now: number): SigningKeyRecord | undefined {
    // The newest live key signs, so instances that raced at first start converge on one key.
    return this.#newestFirst.get(alg)?.find((r) => r.retiresAt === null || r.retiresAt > now);
  }

  /**
   * Generates a new key for `alg` and retires the current one, which stays published for
   * `retiredKeyOverlapSeconds` so tokens it signed keep verifying.
   */
  async rotate(alg: SigningAlgorithm): Promise<string> {
    const { store, clock, retiredKeyOverlapSeconds } = this.#options;
    const now = clock();
    for (const old of this.#records.filter((r) => r.alg === alg && (r.retiresAt === null || r.retiresAt > now))) {
      await store.saveSigningKey({ ...old, retiresAt: now, expiresAt: now + retiredKeyOverlapSeconds * 1000 });
    }
    const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
    const kid = randomToken(12);
    const publicJwk = { ...(await exportJWK(publicKey)), kid, alg, use: 'sig' };
    const privateJwk = await this.#seal({ ...(await exportJWK(privateKey)), kid, alg });
    await store.saveSigningKey({ kid, alg, privateJwk, publicJwk, createdAt: now, retiresAt: null, expiresAt: null });
    await this.#reload();
    return kid;
  }

  /** The key that signs new tokens of `alg` (`HS256` only when a secret was configured). */
  async signingKey(alg: SigningAlgorithm | 'HS256'): Promise<ActiveSigningKey> {
    await this.ready();
    if (alg === 'HS256') {
      if (!this.#hmac) throw new TypeError('HS256 needs an explicit secret');
      return this.#hmac;
    }
    const now = this.#options.clock();
    const record = this.#activeRecord(alg, now);
    // rotateAfterSeconds is a key's maximum age while the server runs, not only at start-up.
    if (!record || this.#tooOld(record, now)) {
      let rotation = this.#rotations.get(alg);
      if (!rotation) {
        rotation = this.rotate(alg).finally(() => this.#rotations.delete(alg));
        this.#rotations.set(alg, rotation);
      }
      await rotation;
      return this.signingKey(alg);
    }
    let active = this.#active.get(record.kid);
    if (!active) {
      const imported = this.#imported.get(record.kid)!;
      active = Object.freeze({ kid: record.kid, alg: record.alg, key: imported.sign, sign: imported.signer });
      this.#active.set(record.kid, active);
    }
    return active;
  }

  /** The verification key for a token header, re-reading the store (rate-limited) for an unknown `kid`. */
  async verificationKey(kid: string | undefined, alg: string | undefined): Promise<CryptoKey | Uint8Array | null> {
    await this.ready();
    if (this.#hmac && (kid === this.#hmac.kid || (kid === undefined && alg === 'HS256'))) return this.#hmac.key;
    if (kid === undefined) return null;
    let found = this.#imported.get(kid);
    if (!found) {
      await this.#reloadForUnknownKid();
      found = this.#imported.get(kid);
    }
    if (!found || found.alg !== alg) return null;
    const record = this.#records.find((r) => r.kid === kid);
    return record ? found.verify : null;
  }

  /** One store read for every unknown `kid` that arrives meanwhile, at most once per {@link RELOAD_INTERVAL_MS}. */
  #reloadForUnknownKid(): Promise<void> {
    this.#reloadingForKid ??= (async () => {
      try {
        const wait = this.#lastReload + RELOAD_INTERVAL_MS - this.#options.clock();
        if (wait > 0) await new Promise((resolve) => setTimeout(resolve, Math.min(wait, RELOAD_INTERVAL_MS)));
        await this.#reload();
      } finally {
        this.#reloadingForKid = undefined;
      }
    })();
    return this.#reloadingForKid;
  }

  /**
   * The JWK Set string without waiting, or undefined when the keys are not loaded yet or a retired key has
   * to leave the set first (then {@link jwksJSON} reloads).
   *
   * @example
   * ```ts
   * const json = keys.currentJWKSJSON() ?? (await keys.jwksJSON());
   * ```
   * @see [RFC 7517 §5](https://www.rfc-editor.org/rfc/rfc7517#section-5)
   */
  currentJWKSJSON(): string | undefined {
    if (this.#loaded === false) return undefined;
    const now = this.#options.clock();
    return this.#records.some((r) => r.expiresAt !== null && r.expiresAt <= now) ? undefined : this.#jwks;
  }

  /** The JWK Set as a pre-serialised JSON string (public members only). */
  async jwksJSON(): Promise<string> {
    await this.ready();
    // A retired key is published only until the last token it signed has expired (RFC 7517 §5: the set of
    // current keys); without a reload the cached set would keep it forever.
    const now = this.#options.clock();
    if (this.#records.some((r) => r.expiresAt !== null && r.expiresAt <= now)) await this.#reload();
    return this.#jwks;
  }
}
