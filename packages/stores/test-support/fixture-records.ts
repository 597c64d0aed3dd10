/**
 * The data set of the forward-migration fixtures: every kind of record the Store contract has, with every
 * optional field both present and absent somewhere. Shared by the stores' tests: imported relatively, not a
 * package, never published.
 *
 * The fixture files next to this module (`fixtures/`) were written from these records by the store code of
 * schema version 2 (`make-fixtures.ts`). Never edit the records that went into them: when the contract
 * changes how a record reads (a unit, an encoding), change {@link expectedToday} so that it maps the
 * version-2 record to what the store must return now, and the old fixtures keep proving the migration.
 *
 * @module
 */
import type {
  AuthorizationCodeRecord,
  BrowserSessionRecord,
  ClientRecord,
  ConsentRecord,
  GrantRecord,
  InteractionRecord,
  RefreshTokenRecord,
  RevocationRecord,
  SigningKeyRecord,
} from '../../core/src/index.js';

/** When the fixtures were made (2026-12-04T09:00:00Z); the records expire long after. */
export const MADE_AT = Date.UTC(2026, 11, 4, 9);
/** The clock the forward-migration tests give the stores: before every record's expiry. */
export const READ_AT = Date.UTC(2027, 0, 1);
const YEAR = 365 * 24 * 60 * 60 * 1000;
const UNTIL = MADE_AT + 50 * YEAR;

/** The records as the contract of schema version 2 had them (times in epoch ms except where it said seconds). */
export interface FixtureRecords {
  clients: ClientRecord[];
  grants: GrantRecord[];
  codes: AuthorizationCodeRecord[];
  refreshTokens: RefreshTokenRecord[];
  revocations: RevocationRecord[];
  signingKeys: SigningKeyRecord[];
  sessions: BrowserSessionRecord[];
  consents: ConsentRecord[];
  interactions: InteractionRecord[];
  usedMarkers: { key: string; expiresAt: number }[];
}

export const FIXTURE_RECORDS: FixtureRecords = {
  clients: [
    {
      clientId: 'client-public',
      tokenEndpointAuthMethod: 'none',
      redirectUris: ['http://127.0.0.1:33418/callback', 'https://app.example/cb'],
      grantTypes: ['authorization_code', 'refresh_token'],
      responseTypes: ['code'],
      clientName: 'Public CLI',
      applicationType: 'native',
      metadata: { client_name: 'Public CLI', redirect_uris: ['http://127.0.0.1:33418/callback', 'https://app.example/cb'] },
      createdAt: MADE_AT,
      expiresAt: null,
    },
    {
      clientId: 'client-confidential',
      clientSecretHash: 'Jc2t0M4uXe9nH0Lh1S4y7b1nNn8J2zW1cQjv1a8m3Ck',
      // Epoch seconds in schema version 2: 2030-01-01T00:00:00Z.
      clientSecretExpiresAt: 1_893_456_000,
      tokenEndpointAuthMethod: 'client_secret_basic',
      redirectUris: ['https://web.example/callback'],
      grantTypes: ['authorization_code', 'refresh_token', 'client_credentials'],
      responseTypes: ['code'],
      scopes: ['mcp:tools', 'openid', 'profile'],
      clientName: 'Confidential web app',
      applicationType: 'web',
      registrationAccessTokenHash: 'rat-hash-9b1c7e',
      metadata: {
        client_name: 'Confidential web app',
        token_endpoint_auth_method: 'client_secret_basic',
        contacts: ['ops@web.example'],
        nested: { flag: true, count: 3, nothing: null },
        'unicode ✓': 'é',
      },
      createdAt: MADE_AT + 1,
      expiresAt: UNTIL,
    },
  ],
  grants: [
    {
      grantId: 'grant-user',
      clientId: 'client-confidential',
      subject: 'user-1',
      scopes: ['mcp:tools', 'openid'],
      resources: ['http://localhost:3009/mcp'],
      // Epoch seconds in schema version 2.
      authTime: 1_796_374_800,
      claims: { name: 'Ada', email: 'ada@example.com', email_verified: true },
      upstreamTokens: 'eyJhbGciOiJkaXIiLCJlbmMiOiJBMjU2R0NNIn0..iv.ciphertext.tag',
      createdAt: MADE_AT + 10,
      expiresAt: UNTIL,
    },
    {
      grantId: 'grant-revoked',
      clientId: 'client-public',
      subject: 'user-1',
      scopes: [],
      resources: [],
      createdAt: MADE_AT + 11,
      expiresAt: UNTIL,
      revokedAt: MADE_AT + 12,
    },
  ],
  codes: [
    {
      codeHash: 'code-hash-unused',
      grantId: 'grant-user',
      clientId: 'client-confidential',
      subject: 'user-1',
      redirectUri: 'https://web.example/callback',
      codeChallenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM',
      codeChallengeMethod: 'S256',
      scopes: ['mcp:tools', 'openid'],
      resources: ['http://localhost:3009/mcp'],
      nonce: 'nonce-1',
      authTime: 1_796_374_800,
      createdAt: MADE_AT + 20,
      expiresAt: UNTIL,
    },
    {
      codeHash: 'code-hash-consumed',
      grantId: 'grant-user',
      clientId: 'client-public',
      subject: 'user-1',
      redirectUri: 'http://127.0.0.1:33418/callback',
      scopes: [],
      resources: [],
      createdAt: MADE_AT + 21,
      expiresAt: UNTIL,
    },
  ],
  refreshTokens: [
    {
      tokenHash: 'refresh-hash-live',
      grantId: 'grant-user',
      clientId: 'client-confidential',
      subject: 'user-1',
      scopes: ['mcp:tools'],
      resources: ['http://localhost:3009/mcp'],
      createdAt: MADE_AT + 30,
      expiresAt: UNTIL,
    },
    {
      tokenHash: 'refresh-hash-rotated',
      grantId: 'grant-user',
      clientId: 'client-confidential',
      subject: 'user-1',
      scopes: ['mcp:tools'],
      resources: [],
      createdAt: MADE_AT + 31,
      expiresAt: UNTIL,
      rotatedAt: MADE_AT + 32,
    },
  ],
  revocations: [
    { key: 'grant:grant-revoked', revokedAt: MADE_AT + 12, expiresAt: UNTIL },
    { key: 'jti:access-token-1', revokedAt: MADE_AT + 13, expiresAt: UNTIL },
  ],
  signingKeys: [
    {
      kid: 'key-es256',
      alg: 'ES256',
      privateJwk: {
        kty: 'EC',
        crv: 'P-256',
        x: 'f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU',
        y: 'x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0',
        d: 'jpsQnnGQmL-YBIffH1136cspYG6-0iY7X1fCE9-E9LI',
        kid: 'key-es256',
      },
      publicJwk: {
        kty: 'EC',
        crv: 'P-256',
        x: 'f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU',
        y: 'x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0',
        kid: 'key-es256',
      },
      createdAt: MADE_AT + 40,
      retiresAt: null,
      expiresAt: null,
    },
    {
      kid: 'key-hs256',
      alg: 'HS256',
      privateJwk: { kty: 'oct', k: 'AyM1SysPpbyDfgZld3umj1qzKObwVMkoqQ-EstJQLr_T-1qS0gZH75aKtMN3Yj0iPS4hcgUuTwjAzZr1Z9CAow' },
      createdAt: MADE_AT + 41,
      retiresAt: MADE_AT + YEAR,
      expiresAt: UNTIL,
    },
  ],
  sessions: [
    {
      sessionHash: 'session-hash-1',
      subject: 'user-1',
      claims: { name: 'Ada' },
      upstreamTokens: 'eyJhbGciOiJkaXIiLCJlbmMiOiJBMjU2R0NNIn0..iv2.ciphertext2.tag2',
      // Epoch seconds in schema version 2.
      authTime: 1_796_374_800,
      createdAt: MADE_AT + 50,
      expiresAt: UNTIL,
    },
    { sessionHash: 'session-hash-2', subject: 'user-2', authTime: 1_796_374_801, createdAt: MADE_AT + 51, expiresAt: UNTIL },
  ],
  consents: [
    { subject: 'user-1', clientId: 'client-confidential', scopes: ['mcp:tools', 'openid'], createdAt: MADE_AT + 60, expiresAt: UNTIL },
  ],
  interactions: [
    {
      interactionId: 'interaction-full',
      clientId: 'client-confidential',
      redirectUri: 'https://web.example/callback',
      state: 'state-1',
      scopes: ['mcp:tools'],
      resources: ['http://localhost:3009/mcp'],
      codeChallenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM',
      codeChallengeMethod: 'S256',
      nonce: 'nonce-2',
      responseMode: 'form_post',
      prompt: 'consent',
      maxAge: 3600,
      sessionBinding: 'binding-1',
      loginState: { provider: 'github', verifier: 'v', nonce: 'n', state: 's' },
      createdAt: MADE_AT + 70,
      expiresAt: UNTIL,
    },
    {
      interactionId: 'interaction-minimal',
      clientId: 'client-public',
      redirectUri: 'http://127.0.0.1:33418/callback',
      scopes: [],
      resources: [],
      codeChallenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM',
      codeChallengeMethod: 'S256',
      responseMode: 'query',
      createdAt: MADE_AT + 71,
      expiresAt: UNTIL,
    },
  ],
  usedMarkers: [{ key: 'jti:used-1', expiresAt: UNTIL }],
};

/**
 * What a store of today must return for the records written by schema version 2. Identity while the
 * contract reads them unchanged; a contract change that alters a unit or a shape maps them here.
 */
export function expectedToday(records: FixtureRecords): FixtureRecords {
  return structuredClone(records);
}
