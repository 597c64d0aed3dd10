/**
 * Writes the forward-migration fixtures: the data set of `fixture-records.ts` stored by the SQLite and
 * PostgreSQL stores as they are when this runs, saved as a SQLite file and a `pg_dump` of a schema. Run it
 * only to add fixtures of a new schema version (under a new name); the committed ones are history.
 *
 *   npx tsx --conditions=@keyward/source packages/stores/test-support/make-fixtures.ts
 *
 * Needs PostgreSQL (DATABASE_URL, else postgres://postgres@127.0.0.1:5432/test) and `pg_dump` on PATH.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Store } from '@keyward/core';
import { SQLiteStore, SCHEMA_VERSION as SQLITE_VERSION } from '../sqlite/src/index.js';
import { PostgresStore, SCHEMA_VERSION as POSTGRES_VERSION } from '../postgres/src/index.js';
import { FIXTURE_RECORDS, MADE_AT } from './fixture-records.js';

const here = dirname(fileURLToPath(import.meta.url));
const DATABASE_URL = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
/** The schema the dump names; the tests load it under a fresh name. */
const FIXTURE_SCHEMA = 'keyward_store_v2_fixture';

async function fill(store: Store): Promise<void> {
  const r = FIXTURE_RECORDS;
  for (const client of r.clients) await store.saveClient(client);
  for (const grant of r.grants) await store.saveGrant(grant);
  for (const code of r.codes) await store.saveAuthorizationCode(code);
  await store.consumeAuthorizationCode('code-hash-consumed');
  for (const token of r.refreshTokens) await store.saveRefreshToken(token);
  for (const revocation of r.revocations) await store.addRevocation(revocation);
  for (const key of r.signingKeys) await store.saveSigningKey(key);
  for (const session of r.sessions) await store.saveSession(session);
  for (const consent of r.consents) await store.saveConsent(consent);
  for (const interaction of r.interactions) await store.saveInteraction(interaction);
  for (const marker of r.usedMarkers) await store.markUsed(marker.key, marker.expiresAt);
  await store.incrementCounter('rate:client-public', 50 * 365 * 24 * 60 * 60 * 1000);
}

const sqliteFile = join(here, 'fixtures', `sqlite-schema-v${SQLITE_VERSION}.db`);
if (existsSync(sqliteFile)) throw new Error(`${sqliteFile} exists: fixtures are history, name a new one`);
const sqlite = new SQLiteStore({ filename: sqliteFile, clock: () => MADE_AT });
await fill(sqlite);
await sqlite.close(); // the last connection's close checkpoints the WAL into the file

const dumpFile = join(here, 'fixtures', `postgres-schema-v${POSTGRES_VERSION}.sql`);
if (existsSync(dumpFile)) throw new Error(`${dumpFile} exists: fixtures are history, name a new one`);
// psql, not pg: this folder is no package, so only the stores' own dependencies resolve.
const psql = (sql: string) => execFileSync('psql', ['--dbname', DATABASE_URL, '-v', 'ON_ERROR_STOP=1', '-qc', sql]);
psql(`DROP SCHEMA IF EXISTS ${FIXTURE_SCHEMA} CASCADE`);
const postgres = new PostgresStore({ connectionString: DATABASE_URL, schema: FIXTURE_SCHEMA, clock: () => MADE_AT });
await fill(postgres);
await postgres.close();
// Plain INSERTs (not COPY) so a test can replay the dump through pg without psql.
const dump = execFileSync('pg_dump', ['--dbname', DATABASE_URL, '--schema', FIXTURE_SCHEMA, '--inserts', '--no-owner', '--no-privileges'], {
  encoding: 'utf8',
});
writeFileSync(dumpFile, dump);
psql(`DROP SCHEMA ${FIXTURE_SCHEMA} CASCADE`);
rmSync(`${sqliteFile}-wal`, { force: true });
console.log(`wrote ${sqliteFile} and ${dumpFile}`);
