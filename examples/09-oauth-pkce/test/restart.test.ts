// Tokens outlive the server process: stop the example, start a new process on the same store and port (so
// the same issuer), and what the first one issued still works. SQLite in a temporary directory, and the
// shared PostgreSQL and Redis servers in a schema or key prefix of this file's own.
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { postgresTarget, redisTarget, type DatabaseTarget } from './databases.js';
import { devLoginTokens, refresh, startExample, whoami } from './support.js';

const sqliteDir = mkdtempSync(join(tmpdir(), 'keyward-example-'));
const sqliteFile = join(sqliteDir, 'nested', 'keyward.db');
const sqlite: DatabaseTarget = {
  skip: false,
  env: { OAUTH_STORE: 'sqlite', OAUTH_SQLITE_FILE: sqliteFile },
  host: '',
  port: 0,
  cleanup: async () => rmSync(sqliteDir, { recursive: true, force: true }),
};
const targets = { SQLite: sqlite, PostgreSQL: await postgresTarget('restart.test.ts (PostgreSQL)'), Redis: await redisTarget('restart.test.ts (Redis)') };

afterAll(async () => {
  await Promise.all(Object.values(targets).map((target) => target.cleanup()));
});

describe.each(Object.entries(targets))('restart on %s', (name, target) => {
  it.skipIf(target.skip)(`AUTHZ-RT-02, AUTHZ-RS-03: tokens issued before a restart keep working after it (${name})`, async () => {
    const env = { ...target.env, OAUTH_DEV_LOGIN: 'demo' };
    const first = await startExample(env);
    let second: Awaited<ReturnType<typeof startExample>> | undefined;
    try {
      const tokens = await devLoginTokens(first.base, 'mcp:tools offline_access');
      const before = await whoami(first.base, tokens.access_token);
      expect(before).toMatchObject({ sub: 'demo', client_id: 'mcp-public-client' });
      await first.stop();
      if (name === 'SQLite') expect(statSync(sqliteFile).size).toBeGreaterThan(0);

      second = await startExample(env, { port: first.port });
      // The signing key came from the store, so the old access token still verifies at the guard.
      expect(await whoami(second.base, tokens.access_token)).toEqual(before);
      // And the refresh token, kept only as a hash in the store, still rotates.
      const response = await refresh(second.base, tokens.refresh_token);
      const refreshed = await response.json();
      expect(response.status, JSON.stringify(refreshed)).toBe(200);
      expect(refreshed.refresh_token).not.toBe(tokens.refresh_token);
      expect(await whoami(second.base, refreshed.access_token)).toMatchObject({ sub: 'demo', grant_id: before.grant_id });
    } finally {
      await first.stop();
      await second?.stop();
    }
  });
});
