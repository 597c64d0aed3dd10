import { randomBytes } from 'node:crypto';
import type { PasswordAuthenticator } from '@keyward/core';
import { localUsers } from '@keyward/upstream';

/** Claims of the seeded user, for userinfo and ID tokens (what the granted scopes allow). */
export const DEMO_CLAIMS = { name: 'Demo User', preferred_username: 'demo', email: 'demo@example.com', email_verified: true };

/**
 * The seeded `demo` account for the built-in login page: `localUsers` hashes the password with scrypt and
 * answers an unknown username as slowly as a wrong password. Without OAUTH_DEMO_PASSWORD a random password
 * is generated for this run (and printed by `server.ts`). The subject is `demo`, as with OAUTH_DEV_LOGIN=demo.
 * Add your own users here, ideally with `passwordHash` from `hashPassword()` instead of plain passwords.
 */
export function demoUsers(env: NodeJS.ProcessEnv): { users: PasswordAuthenticator; password: string; generated: boolean } {
  const password = env.OAUTH_DEMO_PASSWORD || randomBytes(12).toString('base64url');
  const users = localUsers([{ username: 'demo', password, subject: 'demo', claims: DEMO_CLAIMS }]);
  return { users, password, generated: !env.OAUTH_DEMO_PASSWORD };
}
