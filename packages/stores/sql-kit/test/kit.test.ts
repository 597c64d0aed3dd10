import type { ClientRecord } from '@keyward/core';
import { describe, expect, it } from 'vitest';
import { fromRow, migrationStatements, postgresDialect, sqliteDialect, TABLES, toRow } from '../src/index.js';

const client: ClientRecord = {
  clientId: 'client-1',
  clientSecretHash: 'hash',
  tokenEndpointAuthMethod: 'client_secret_post',
  redirectUris: ['https://app.example/cb'],
  grantTypes: ['authorization_code'],
  responseTypes: ['code'],
  metadata: { client_name: 'App', nested: { a: [1, null] } },
  createdAt: 1_800_000_000_000,
  expiresAt: null,
};

describe('STORE-KIT rows', () => {
  it('encodes a record for SQLite (JSON text, NULL for absent) and reads it back exactly', () => {
    const dialect = sqliteDialect();
    const row = toRow(dialect, TABLES.clients, client);
    expect(row).toMatchObject({ client_id: 'client-1', redirect_uris: '["https://app.example/cb"]', scopes: null, expires_at: null });
    expect(fromRow(dialect, TABLES.clients, row)).toEqual(client);
  });

  it('reads PostgreSQL rows: jsonb already parsed, bigint as a string, NULL kept as null where the contract says', () => {
    const dialect = postgresDialect();
    const row = { ...toRow(dialect, TABLES.clients, client), redirect_uris: ['https://app.example/cb'], created_at: '1800000000000' };
    expect(fromRow(dialect, TABLES.clients, row)).toEqual(client);
  });

  it('writes the legacy and bookkeeping columns with their fixed values', () => {
    const code = { codeHash: 'h', grantId: 'g', clientId: 'c', subject: 's', redirectUri: 'r', scopes: [], resources: [], createdAt: 1, expiresAt: 2 };
    expect(toRow(sqliteDialect(), TABLES.authorization_codes, code)).toMatchObject({ redirect_uri_sent: 0, consumed_at: null });
    expect(toRow(postgresDialect(), TABLES.authorization_codes, code)).toMatchObject({ redirect_uri_sent: false, consumed_at: null });
    expect(fromRow(sqliteDialect(), TABLES.authorization_codes, { ...toRow(sqliteDialect(), TABLES.authorization_codes, code), consumed_at: 5 })).toEqual(code);
  });
});

describe('STORE-KIT DDL', () => {
  it('spells one description per dialect', () => {
    const [sqliteClients] = migrationStatements(sqliteDialect(), 1);
    const [postgresClients] = migrationStatements(postgresDialect({ schema: 'auth' }), 1);
    expect(sqliteClients).toContain('CREATE TABLE "keyward_clients"');
    expect(sqliteClients).toContain('"redirect_uris" TEXT NOT NULL');
    expect(sqliteClients).toMatch(/\) STRICT$/);
    expect(postgresClients).toContain('CREATE TABLE "auth"."clients"');
    expect(postgresClients).toContain('"redirect_uris" jsonb NOT NULL');
    expect(migrationStatements(postgresDialect(), 2)).toEqual([
      'CREATE INDEX IF NOT EXISTS "grants_subject" ON "keyward"."grants" ("subject", "created_at")',
    ]);
  });

  it('refuses a prefix or schema that is not a plain identifier', () => {
    expect(() => sqliteDialect({ prefix: 'x; DROP TABLE y' })).toThrow(TypeError);
    expect(() => postgresDialect({ schema: 'a"b' })).toThrow(TypeError);
  });
});
