/**
 * Conversions between Keyward records and SQLite rows: booleans as 0/1, arrays and objects as JSON text,
 * absent optional fields as NULL (and back to absent, so a record reads back exactly as it was saved).
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
  RevocationKey,
  RevocationRecord,
  SigningKeyRecord,
} from '@keyward/core';

type Nullable<T> = T | null;

export interface ClientRow {
  client_id: string;
  client_secret_hash: Nullable<string>;
  client_secret_expires_at: Nullable<number>;
  token_endpoint_auth_method: string;
  redirect_uris: string;
  grant_types: string;
  response_types: string;
  scopes: Nullable<string>;
  client_name: Nullable<string>;
  application_type: Nullable<string>;
  registration_access_token_hash: Nullable<string>;
  metadata: string;
  created_at: number;
  expires_at: Nullable<number>;
}

export interface GrantRow {
  grant_id: string;
  client_id: string;
  subject: string;
  scopes: string;
  resources: string;
  auth_time: Nullable<number>;
  claims: Nullable<string>;
  upstream_tokens: Nullable<string>;
  created_at: number;
  expires_at: number;
  revoked_at: Nullable<number>;
}

export interface CodeRow {
  code_hash: string;
  grant_id: string;
  client_id: string;
  subject: string;
  redirect_uri: string;
  redirect_uri_sent: number;
  code_challenge: Nullable<string>;
  code_challenge_method: Nullable<string>;
  scopes: string;
  resources: string;
  nonce: Nullable<string>;
  auth_time: Nullable<number>;
  created_at: number;
  expires_at: number;
}

export interface RefreshTokenRow {
  token_hash: string;
  grant_id: string;
  client_id: string;
  subject: string;
  scopes: string;
  resources: string;
  created_at: number;
  expires_at: number;
  rotated_at: Nullable<number>;
}

export interface InteractionRow {
  interaction_id: string;
  client_id: string;
  redirect_uri: string;
  redirect_uri_sent: number;
  state: Nullable<string>;
  scopes: string;
  resources: string;
  code_challenge: string;
  code_challenge_method: string;
  nonce: Nullable<string>;
  response_mode: string;
  prompt: Nullable<string>;
  max_age: Nullable<number>;
  session_binding: Nullable<string>;
  login_state: Nullable<string>;
  created_at: number;
  expires_at: number;
}

export interface SessionRow {
  session_hash: string;
  subject: string;
  claims: Nullable<string>;
  upstream_tokens: Nullable<string>;
  auth_time: number;
  created_at: number;
  expires_at: number;
}

export interface ConsentRow {
  subject: string;
  client_id: string;
  scopes: string;
  created_at: number;
  expires_at: number;
}

export interface RevocationRow {
  key: string;
  revoked_at: number;
  expires_at: number;
}

export interface SigningKeyRow {
  kid: string;
  alg: string;
  private_jwk: string;
  public_jwk: Nullable<string>;
  created_at: number;
  retires_at: Nullable<number>;
  expires_at: Nullable<number>;
}

const json = (value: unknown): string => JSON.stringify(value);
const jsonOrNull = (value: unknown): string | null => (value === undefined ? null : JSON.stringify(value));
const parse = <T>(text: string): T => JSON.parse(text) as T;
const parseOrAbsent = <T>(text: string | null): T | undefined => (text === null ? undefined : (JSON.parse(text) as T));
const absentIfNull = <T>(value: T | null): T | undefined => value ?? undefined;

/** Leaves out properties whose value is `undefined`, so optional fields stored as NULL read back absent. */
function withoutUndefined<T extends object>(record: T): T {
  return Object.fromEntries(Object.entries(record).filter(([, value]) => value !== undefined)) as T;
}

export function clientToRow(client: ClientRecord): ClientRow {
  return {
    client_id: client.clientId,
    client_secret_hash: client.clientSecretHash ?? null,
    client_secret_expires_at: client.clientSecretExpiresAt ?? null,
    token_endpoint_auth_method: client.tokenEndpointAuthMethod,
    redirect_uris: json(client.redirectUris),
    grant_types: json(client.grantTypes),
    response_types: json(client.responseTypes),
    scopes: jsonOrNull(client.scopes),
    client_name: client.clientName ?? null,
    application_type: client.applicationType ?? null,
    registration_access_token_hash: client.registrationAccessTokenHash ?? null,
    metadata: json(client.metadata),
    created_at: client.createdAt,
    expires_at: client.expiresAt,
  };
}

export function clientFromRow(row: ClientRow): ClientRecord {
  return withoutUndefined<ClientRecord>({
    clientId: row.client_id,
    clientSecretHash: absentIfNull(row.client_secret_hash),
    clientSecretExpiresAt: absentIfNull(row.client_secret_expires_at),
    tokenEndpointAuthMethod: row.token_endpoint_auth_method as ClientRecord['tokenEndpointAuthMethod'],
    redirectUris: parse(row.redirect_uris),
    grantTypes: parse(row.grant_types),
    responseTypes: parse(row.response_types),
    scopes: parseOrAbsent(row.scopes),
    clientName: absentIfNull(row.client_name),
    applicationType: absentIfNull(row.application_type) as ClientRecord['applicationType'],
    registrationAccessTokenHash: absentIfNull(row.registration_access_token_hash),
    metadata: parse(row.metadata),
    createdAt: row.created_at,
    expiresAt: row.expires_at,
  });
}

export function grantToRow(grant: GrantRecord): GrantRow {
  return {
    grant_id: grant.grantId,
    client_id: grant.clientId,
    subject: grant.subject,
    scopes: json(grant.scopes),
    resources: json(grant.resources),
    auth_time: grant.authTime ?? null,
    claims: jsonOrNull(grant.claims),
    upstream_tokens: grant.upstreamTokens ?? null,
    created_at: grant.createdAt,
    expires_at: grant.expiresAt,
    revoked_at: grant.revokedAt ?? null,
  };
}

export function grantFromRow(row: GrantRow): GrantRecord {
  return withoutUndefined<GrantRecord>({
    grantId: row.grant_id,
    clientId: row.client_id,
    subject: row.subject,
    scopes: parse(row.scopes),
    resources: parse(row.resources),
    authTime: absentIfNull(row.auth_time),
    claims: parseOrAbsent(row.claims),
    upstreamTokens: absentIfNull(row.upstream_tokens),
    createdAt: row.created_at,
    expiresAt: row.expires_at,
    revokedAt: absentIfNull(row.revoked_at),
  });
}

export function codeToRow(code: AuthorizationCodeRecord): CodeRow {
  return {
    code_hash: code.codeHash,
    grant_id: code.grantId,
    client_id: code.clientId,
    subject: code.subject,
    redirect_uri: code.redirectUri,
    // Legacy NOT NULL column, no longer read: kept so databases stay readable by older and newer versions.
    redirect_uri_sent: 0,
    code_challenge: code.codeChallenge ?? null,
    code_challenge_method: code.codeChallengeMethod ?? null,
    scopes: json(code.scopes),
    resources: json(code.resources),
    nonce: code.nonce ?? null,
    auth_time: code.authTime ?? null,
    created_at: code.createdAt,
    expires_at: code.expiresAt,
  };
}

/** `consumed_at` is the store's own bookkeeping and not part of the record. */
export function codeFromRow(row: CodeRow): AuthorizationCodeRecord {
  return withoutUndefined<AuthorizationCodeRecord>({
    codeHash: row.code_hash,
    grantId: row.grant_id,
    clientId: row.client_id,
    subject: row.subject,
    redirectUri: row.redirect_uri,
    codeChallenge: absentIfNull(row.code_challenge),
    codeChallengeMethod: absentIfNull(row.code_challenge_method) as AuthorizationCodeRecord['codeChallengeMethod'],
    scopes: parse(row.scopes),
    resources: parse(row.resources),
    nonce: absentIfNull(row.nonce),
    authTime: absentIfNull(row.auth_time),
    createdAt: row.created_at,
    expiresAt: row.expires_at,
  });
}

export function refreshTokenToRow(token: RefreshTokenRecord): RefreshTokenRow {
  return {
    token_hash: token.tokenHash,
    grant_id: token.grantId,
    client_id: token.clientId,
    subject: token.subject,
    scopes: json(token.scopes),
    resources: json(token.resources),
    created_at: token.createdAt,
    expires_at: token.expiresAt,
    rotated_at: token.rotatedAt ?? null,
  };
}

export function refreshTokenFromRow(row: RefreshTokenRow): RefreshTokenRecord {
  return withoutUndefined<RefreshTokenRecord>({
    tokenHash: row.token_hash,
    grantId: row.grant_id,
    clientId: row.client_id,
    subject: row.subject,
    scopes: parse(row.scopes),
    resources: parse(row.resources),
    createdAt: row.created_at,
    expiresAt: row.expires_at,
    rotatedAt: absentIfNull(row.rotated_at),
  });
}

export function interactionToRow(interaction: InteractionRecord): InteractionRow {
  return {
    interaction_id: interaction.interactionId,
    client_id: interaction.clientId,
    redirect_uri: interaction.redirectUri,
    // Legacy NOT NULL column, no longer read: kept so databases stay readable by older and newer versions.
    redirect_uri_sent: 0,
    state: interaction.state ?? null,
    scopes: json(interaction.scopes),
    resources: json(interaction.resources),
    code_challenge: interaction.codeChallenge,
    code_challenge_method: interaction.codeChallengeMethod,
    nonce: interaction.nonce ?? null,
    response_mode: interaction.responseMode,
    prompt: interaction.prompt ?? null,
    max_age: interaction.maxAge ?? null,
    session_binding: interaction.sessionBinding ?? null,
    login_state: jsonOrNull(interaction.loginState),
    created_at: interaction.createdAt,
    expires_at: interaction.expiresAt,
  };
}

export function interactionFromRow(row: InteractionRow): InteractionRecord {
  return withoutUndefined<InteractionRecord>({
    interactionId: row.interaction_id,
    clientId: row.client_id,
    redirectUri: row.redirect_uri,
    state: absentIfNull(row.state),
    scopes: parse(row.scopes),
    resources: parse(row.resources),
    codeChallenge: row.code_challenge,
    codeChallengeMethod: row.code_challenge_method as InteractionRecord['codeChallengeMethod'],
    nonce: absentIfNull(row.nonce),
    responseMode: row.response_mode as InteractionRecord['responseMode'],
    prompt: absentIfNull(row.prompt),
    maxAge: absentIfNull(row.max_age),
    sessionBinding: absentIfNull(row.session_binding),
    loginState: parseOrAbsent(row.login_state),
    createdAt: row.created_at,
    expiresAt: row.expires_at,
  });
}

export function sessionToRow(session: BrowserSessionRecord): SessionRow {
  return {
    session_hash: session.sessionHash,
    subject: session.subject,
    claims: jsonOrNull(session.claims),
    upstream_tokens: session.upstreamTokens ?? null,
    auth_time: session.authTime,
    created_at: session.createdAt,
    expires_at: session.expiresAt,
  };
}

export function sessionFromRow(row: SessionRow): BrowserSessionRecord {
  return withoutUndefined<BrowserSessionRecord>({
    sessionHash: row.session_hash,
    subject: row.subject,
    claims: parseOrAbsent(row.claims),
    upstreamTokens: absentIfNull(row.upstream_tokens),
    authTime: row.auth_time,
    createdAt: row.created_at,
    expiresAt: row.expires_at,
  });
}

export function consentToRow(consent: ConsentRecord): ConsentRow {
  return {
    subject: consent.subject,
    client_id: consent.clientId,
    scopes: json(consent.scopes),
    created_at: consent.createdAt,
    expires_at: consent.expiresAt,
  };
}

export function consentFromRow(row: ConsentRow): ConsentRecord {
  return {
    subject: row.subject,
    clientId: row.client_id,
    scopes: parse(row.scopes),
    createdAt: row.created_at,
    expiresAt: row.expires_at,
  };
}

export function revocationToRow(revocation: RevocationRecord): RevocationRow {
  return { key: revocation.key, revoked_at: revocation.revokedAt, expires_at: revocation.expiresAt };
}

export function revocationFromRow(row: RevocationRow): RevocationRecord {
  return { key: row.key as RevocationKey, revokedAt: row.revoked_at, expiresAt: row.expires_at };
}

export function signingKeyToRow(key: SigningKeyRecord): SigningKeyRow {
  return {
    kid: key.kid,
    alg: key.alg,
    private_jwk: json(key.privateJwk),
    public_jwk: jsonOrNull(key.publicJwk),
    created_at: key.createdAt,
    retires_at: key.retiresAt,
    expires_at: key.expiresAt,
  };
}

export function signingKeyFromRow(row: SigningKeyRow): SigningKeyRecord {
  return withoutUndefined<SigningKeyRecord>({
    kid: row.kid,
    alg: row.alg,
    privateJwk: parse(row.private_jwk),
    publicJwk: parseOrAbsent(row.public_jwk),
    createdAt: row.created_at,
    retiresAt: row.retires_at,
    expiresAt: row.expires_at,
  });
}
