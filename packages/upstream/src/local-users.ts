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
}

interface ScryptHash {
  N: number;
  r: number;
  p: number;
  salt: Buffer;
  hash: Buffer;
}

// RFC 7914 parameters: N = 2^15 with r = 8 costs 32 MiB and tens of milliseconds per guess.
const DEFAULT_PARAMS = { N: 2 ** 15, r: 8, p: 1 };
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
 * ```
 * @see [RFC 7914 §2](https://www.rfc-editor.org/rfc/rfc7914#section-2)
 */
export async function hashPassword(password: string): Promise<string> {
  if (typeof password !== 'string' || password === '') throw new KeywardConfigError('hashPassword: password must be a non-empty string');
  const { N, r, p } = DEFAULT_PARAMS;
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
  // A Map, so a username such as `__proto__` is just a username.
  const accounts = new Map<string, { hash: Promise<ScryptHash>; identity: UpstreamIdentity }>();
  for (const user of users) {
    const { username } = user;
    if (typeof username !== 'string' || username === '') throw new KeywardConfigError('localUsers: every user needs a username');
    if (accounts.has(username)) throw new KeywardConfigError(`localUsers: duplicate username "${username}"`);
    const hash = storedHash(user);
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
      dummy ??= hashPassword(randomBytes(SALT_BYTES).toString('base64url')).then(parseHash);
      const stored = await (account?.hash ?? dummy);
      const candidate = await derive(password, stored, stored.hash.length);
      if (!timingSafeEqual(candidate, stored.hash) || !account) return null;
      return { subject: account.identity.subject, claims: { ...account.identity.claims } };
    },
  };
}

function storedHash(user: LocalUser): Promise<ScryptHash> {
  const hasPassword = user.password !== undefined;
  if (hasPassword === (user.passwordHash !== undefined)) {
    throw new KeywardConfigError(`localUsers: user "${user.username}" needs exactly one of password and passwordHash`);
  }
  if (user.passwordHash !== undefined) return Promise.resolve(parseHash(user.passwordHash));
  if (typeof user.password !== 'string' || user.password === '') {
    throw new KeywardConfigError(`localUsers: user "${user.username}" has an empty password`);
  }
  return hashPassword(user.password).then(parseHash);
}

function parseHash(text: string): ScryptHash {
  const [scheme, n, r, p, salt, hash, ...extra] = typeof text === 'string' ? text.split('$') : [];
  const params = { N: Number(n), r: Number(r), p: Number(p) };
  const valid =
    scheme === 'scrypt' &&
    extra.length === 0 &&
    Number.isInteger(params.N) && params.N > 1 && params.N <= LIMITS.maxN && (params.N & (params.N - 1)) === 0 &&
    Number.isInteger(params.r) && params.r >= 1 && params.r <= LIMITS.maxR &&
    Number.isInteger(params.p) && params.p >= 1 && params.p <= LIMITS.maxP &&
    salt !== undefined && /^[A-Za-z0-9_-]{22,}$/.test(salt) &&
    hash !== undefined && /^[A-Za-z0-9_-]{22,}$/.test(hash);
  if (!valid) throw new KeywardConfigError('localUsers: passwordHash is not a scrypt$N$r$p$salt$hash string from hashPassword()');
  return { ...params, salt: Buffer.from(salt, 'base64url'), hash: Buffer.from(hash, 'base64url') };
}

function derive(password: string, params: Omit<ScryptHash, 'hash'>, length: number): Promise<Buffer> {
  const { N, r, p, salt } = params;
  return new Promise((resolve, reject) => {
    // Node's default maxmem (32 MiB) is exactly 128·N·r at N = 2^15, r = 8; leave headroom.
    scrypt(password.normalize('NFC'), salt, length, { N, r, p, maxmem: 256 * N * r }, (error, key) => (error ? reject(error) : resolve(key)));
  });
}
