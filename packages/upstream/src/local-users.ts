import { randomBytes, scrypt, timingSafeEqual } from 'node:crypto';
import { KeywardConfigError } from '@keyward/core';
import type { PasswordAuthenticator, UpstreamIdentity } from '@keyward/core';

/**
 * One account of {@link localUsers}. Give either `password` or `passwordHash`.
 *
 * @example
 * ```ts
 * const user: LocalUser = { username: 'ops', passwordHash: process.env.OPS_PASSWORD_HASH!, claims: { name: 'Ops' } };
 * ```
 * @see [RFC 7914](https://www.rfc-editor.org/rfc/rfc7914)
 */
export interface LocalUser {
  username: string;
  /** Plain password; hashed when the authenticator is built and not kept. */
  password?: string;
  /** A hash from {@link hashPassword}, so no plain password need ever sit in configuration. */
  passwordHash?: string;
  /** Defaults to `local:<username>`. */
  subject?: string;
  /** Claims for userinfo and ID tokens; `preferred_username` defaults to the username. */
  claims?: Record<string, unknown>;
}

/**
 * Options of {@link localUsers}.
 *
 * @example
 * ```ts
 * localUsers(users, { subjectPrefix: 'staff' }); // subjects staff:<username>
 * ```
 * @see [OIDC Core §2](https://openid.net/specs/openid-connect-core-1_0.html#IDToken)
 */
export interface LocalUsersOptions {
  /** Prefix of default subjects. Defaults to `local`. */
  subjectPrefix?: string;
  /**
   * The scrypt cost of the plain `password`s hashed when the authenticator is built, and of the stand-in
   * hash an unknown username is checked against. Defaults to {@link DEFAULT_SCRYPT_COST}; lower it only in
   * tests, where a cheap cost such as `{ N: 1024, r: 8, p: 1 }` keeps sign-ins fast. A `passwordHash`
   * is always checked with the cost it records.
   */
  cost?: ScryptCost;
}

/**
 * The cost parameters of scrypt (RFC 7914 §2): `N` (CPU and memory cost, a power of two), `r` (block
 * size) and `p` (parallelism). One hash needs 128·N·r bytes of memory.
 *
 * @example
 * ```ts
 * const testCost: ScryptCost = { N: 1024, r: 8, p: 1 }; // for tests only: cheap, and as cheap to guess
 * ```
 * @see [RFC 7914 §2](https://www.rfc-editor.org/rfc/rfc7914#section-2)
 */
export interface ScryptCost {
  N: number;
  r: number;
  p: number;
}

/**
 * The default scrypt cost of {@link hashPassword} and {@link localUsers}: N = 2^15, r = 8, p = 1, which
 * costs 32 MiB and tens of milliseconds per guess.
 *
 * @example
 * ```ts
 * const passwordHash = await hashPassword(password, { cost: DEFAULT_SCRYPT_COST });
 * ```
 * @see [RFC 7914 §2](https://www.rfc-editor.org/rfc/rfc7914#section-2)
 */
export const DEFAULT_SCRYPT_COST: Readonly<ScryptCost> = Object.freeze({ N: 2 ** 15, r: 8, p: 1 });

/**
 * Options of {@link hashPassword}.
 *
 * @example
 * ```ts
 * const options: HashPasswordOptions = { cost: { N: 2 ** 16, r: 8, p: 1 } };
 * ```
 * @see [RFC 7914 §2](https://www.rfc-editor.org/rfc/rfc7914#section-2)
 */
export interface HashPasswordOptions {
  /** The scrypt cost; defaults to {@link DEFAULT_SCRYPT_COST}. Lower it only in tests. */
  cost?: ScryptCost;
}

interface ScryptHash {
  N: number;
  r: number;
  p: number;
  salt: Buffer;
  hash: Buffer;
}

const SALT_BYTES = 16;
const KEY_BYTES = 32;
// A stored hash is configuration, but a typo such as N = 2^30 should fail at start, not exhaust memory later.
const LIMITS = { maxN: 2 ** 20, maxR: 32, maxP: 16 };

/**
 * Hashes a password with scrypt for {@link LocalUser.passwordHash}, as
 * `scrypt$<N>$<r>$<p>$<salt>$<hash>` (salt and hash base64url). The password is NFC-normalized first, so
 * the same characters typed on different systems match.
 *
 * @example
 * ```ts
 * // node -e "import('@keyward/upstream').then(async m => console.log(await m.hashPassword(process.argv[1])))" 'correct horse'
 * const passwordHash = await hashPassword('correct horse battery staple');
 * const cheap = await hashPassword('pw', { cost: { N: 1024, r: 8, p: 1 } }); // tests only
 * ```
 * @see [RFC 7914 §2](https://www.rfc-editor.org/rfc/rfc7914#section-2)
 */
export async function hashPassword(password: string, options: HashPasswordOptions = {}): Promise<string> {
  if (typeof password !== 'string' || password === '') throw new KeywardConfigError('hashPassword: password must be a non-empty string');
  const { N, r, p } = checkedCost(options.cost, 'hashPassword');
  const salt = randomBytes(SALT_BYTES);
  const hash = await derive(password, { N, r, p, salt }, KEY_BYTES);
  return ['scrypt', N, r, p, salt.toString('base64url'), hash.toString('base64url')].join('$');
}

/**
 * A {@link PasswordAuthenticator} over a fixed list of users, for demos, tests and small deployments. Plain
 * passwords are hashed with scrypt when it is built; checks compare in constant time; an unknown username
 * still costs one scrypt run, so timing does not tell which usernames exist. Every failure is `null`.
 *
 * @example
 * ```ts
 * const users = localUsers([
 *   { username: 'demo', password: process.env.OAUTH_DEMO_PASSWORD!, claims: { name: 'Demo User' } },
 *   { username: 'ops', passwordHash: process.env.OPS_PASSWORD_HASH! },
 * ]);
 * const identity = await users.verify('demo', password); // { subject: 'local:demo', claims: { … } } or null
 * ```
 * @see [RFC 7914](https://www.rfc-editor.org/rfc/rfc7914)
 */
export function localUsers(users: readonly LocalUser[], options: LocalUsersOptions = {}): PasswordAuthenticator {
  const prefix = options.subjectPrefix ?? 'local';
  const cost = checkedCost(options.cost, 'localUsers');
  // A Map, so a username such as `__proto__` is just a username.
  const accounts = new Map<string, { hash: Promise<ScryptHash>; identity: UpstreamIdentity }>();
  for (const user of users) {
    const { username } = user;
    if (typeof username !== 'string' || username === '') throw new KeywardConfigError('localUsers: every user needs a username');
    if (accounts.has(username)) throw new KeywardConfigError(`localUsers: duplicate username "${username}"`);
    const hash = storedHash(user, cost);
    // verify() awaits the hash and sees a failure there; this only keeps it from being reported as unhandled.
    hash.catch(() => undefined);
    accounts.set(username, {
      hash,
      identity: { subject: user.subject ?? `${prefix}:${username}`, claims: { preferred_username: username, ...user.claims } },
    });
  }
  let dummy: Promise<ScryptHash> | undefined;

  return {
    async verify(username: string, password: string): Promise<UpstreamIdentity | null> {
      if (typeof username !== 'string' || typeof password !== 'string') return null;
      const account = accounts.get(username);
      dummy ??= hashPassword(randomBytes(SALT_BYTES).toString('base64url'), { cost }).then(parseHash);
      const stored = await (account?.hash ?? dummy);
      const candidate = await derive(password, stored, stored.hash.length);
      if (!timingSafeEqual(candidate, stored.hash) || !account) return null;
      return { subject: account.identity.subject, claims: { ...account.identity.claims } };
    },
  };
}

function storedHash(user: LocalUser, cost: ScryptCost): Promise<ScryptHash> {
  const hasPassword = user.password !== undefined;
  if (hasPassword === (user.passwordHash !== undefined)) {
    throw new KeywardConfigError(`localUsers: user "${user.username}" needs exactly one of password and passwordHash`);
  }
  if (user.passwordHash !== undefined) return Promise.resolve(parseHash(user.passwordHash));
  if (typeof user.password !== 'string' || user.password === '') {
    throw new KeywardConfigError(`localUsers: user "${user.username}" has an empty password`);
  }
  return hashPassword(user.password, { cost }).then(parseHash);
}

/** The cost to hash with: the default, or a given one within the limits a stored hash must keep to. */
function checkedCost(cost: ScryptCost | undefined, caller: string): ScryptCost {
  if (cost === undefined) return DEFAULT_SCRYPT_COST;
  const { N, r, p } = cost;
  if (!validParams({ N, r, p })) throw new KeywardConfigError(`${caller}: cost must be { N, r, p } with N a power of two from 2 to ${LIMITS.maxN}, r from 1 to ${LIMITS.maxR}, p from 1 to ${LIMITS.maxP}`);
  return { N, r, p };
}

function validParams(params: ScryptCost): boolean {
  return (
    Number.isInteger(params.N) && params.N > 1 && params.N <= LIMITS.maxN && (params.N & (params.N - 1)) === 0 &&
    Number.isInteger(params.r) && params.r >= 1 && params.r <= LIMITS.maxR &&
    Number.isInteger(params.p) && params.p >= 1 && params.p <= LIMITS.maxP
  );
}

function parseHash(text: string): ScryptHash {
  const [scheme, n, r, p, salt, hash, ...extra] = typeof text === 'string' ? text.split('$') : [];
  const params = { N: Number(n), r: Number(r), p: Number(p) };
  const valid =
    scheme === 'scrypt' &&
    extra.length === 0 &&
    validParams(params) &&
    salt !== undefined && /^[A-Za-z0-9_-]{22,}$/.test(salt) &&
    hash !== undefined && /^[A-Za-z0-9_-]{22,}$/.test(hash);
  if (!valid) throw new KeywardConfigError('localUsers: passwordHash is not a scrypt$N$r$p$salt$hash string from hashPassword()');
  return { ...params, salt: Buffer.from(salt, 'base64url'), hash: Buffer.from(hash, 'base64url') };
}

function derive(password: string, params: Omit<ScryptHash, 'hash'>, length: number): Promise<Buffer> {
  const { N, r, p, salt } = params;
  return new Promise((resolve, reject) => {
    // Node's default maxmem (32 MiB) is exactly 128·N·r at N = 2^15, r = 8; leave headroom. A small cost
    // still needs OpenSSL's fixed overhead, so never less than that default.
    scrypt(password.normalize('NFC'), salt, length, { N, r, p, maxmem: Math.max(32 * 1024 * 1024, 256 * N * r) }, (error, key) => (error ? reject(error) : resolve(key)));
  });
}
