import { randomBytes } from 'node:crypto';
import type { PasswordAuthenticator } from '@keyward/core';
import { localUsers } from '@keyward/upstream';

/** Claims of the example's users, for userinfo and ID tokens (what the granted scopes allow). */
export const DEMO_CLAIMS = { name: 'Demo User', preferred_username: 'demo', email: 'demo@example.com', email_verified: true };
export const ADMIN_CLAIMS = { name: 'Admin User', preferred_username: 'admin', email: 'admin@example.com', email_verified: true };

/** A password from the environment, or a random one for this run (printed by `server.ts`). */
export interface ExamplePassword {
  value: string;
  generated: boolean;
}

function passwordFrom(env: NodeJS.ProcessEnv, name: string): ExamplePassword {
  const chosen = env[name];
  return chosen ? { value: chosen, generated: false } : { value: randomBytes(12).toString('base64url'), generated: true };
}

/**
 * The example's accounts for the built-in login page: `demo` (an ordinary user) and `admin` (holds the admin
 * role, see {@link exampleRoles}). `localUsers` hashes the passwords with scrypt and answers an unknown
 * username as slowly as a wrong password. Without OAUTH_DEMO_PASSWORD / OAUTH_ADMIN_PASSWORD a random
 * password is generated for this run. The subjects are the usernames, as with OAUTH_DEV_LOGIN=demo or admin.
 * Add your own users here, ideally with `passwordHash` from `hashPassword()` instead of plain passwords.
 */
export function exampleUsers(env: NodeJS.ProcessEnv): { users: PasswordAuthenticator; demo: ExamplePassword; admin: ExamplePassword } {
  const demo = passwordFrom(env, 'OAUTH_DEMO_PASSWORD');
  const admin = passwordFrom(env, 'OAUTH_ADMIN_PASSWORD');
  const users = localUsers([
    { username: 'demo', password: demo.value, subject: 'demo', claims: DEMO_CLAIMS },
    { username: 'admin', password: admin.value, subject: 'admin', claims: ADMIN_CLAIMS },
  ]);
  return { users, demo, admin };
}

/** The role that may be granted `mcp:admin`. */
export const ADMIN_ROLE = 'admin';

/**
 * Who holds which role, by subject: the example's stand-in for a directory or database that Keyward asks
 * (`grantableScopes`) at every authorization and refresh, so a role taken away here is gone from the next
 * refreshed token. Only `admin` is an administrator; `demo`, upstream-provider users and any other
 * OAUTH_DEV_LOGIN subject are not.
 */
export function exampleRoles(): Map<string, Set<string>> {
  return new Map([['admin', new Set([ADMIN_ROLE])]]);
}
