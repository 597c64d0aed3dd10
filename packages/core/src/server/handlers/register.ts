import { parseClientMetadata, usesClientSecret, type ClientMetadata } from '../../protocol/client-metadata.js';
import type { ServerContext } from '../context.js';
import type { RegistrationPolicy } from '../options.js';
import { randomToken, sha256, timingSafeEqual } from '../../protocol/crypto.js';
import { OAuthError } from '../../protocol/errors.js';
import { duplicateNote, parseJSONBody, readBodyText, webRequest } from '../../protocol/http.js';
import { jsonReply, type Reply } from '../../protocol/reply.js';
import { countRequest } from '../../operations/rate-limit.js';
import { parseScope } from '../../protocol/scope.js';
import { clientRevocationKey, type ClientRecord } from '../../store/store.js';
import { bearerChallenge } from '../../protocol/www-authenticate.js';

/** @internal Registration settings with defaults applied. */
export interface ResolvedRegistration {
  rateLimit: { max: number; windowSeconds: number } | false;
  policy: RegistrationPolicy | undefined;
  initialAccessTokenHashes: string[];
  requireInitialAccessToken: boolean;
  clientSecretLifetime: number;
  unusedClientLifetime: number;
  allowedSchemes: string[];
  allowedScopes: string[] | undefined;
}

async function readJSON(request: Request): Promise<unknown> {
  const type = (request.headers.get('content-type') ?? '').split(';', 1)[0]!.trim().toLowerCase();
  if (type !== 'application/json') throw new OAuthError('invalid_client_metadata', { description: 'the request body must be application/json' });
  const text = await readBodyText(request);
  try {
    return parseJSONBody(text);
  } catch (error) {
    throw new OAuthError('invalid_client_metadata', { description: `the request body is not valid JSON${duplicateNote(error)}` });
  }
}

async function presentedInitialAccessToken(request: Request, registration: ResolvedRegistration): Promise<boolean> {
  const match = /^bearer +(\S+)$/i.exec(request.headers.get('authorization') ?? '');
  if (!match) return false;
  const hash = await sha256(match[1]!);
  if (registration.initialAccessTokenHashes.some((known) => timingSafeEqual(known, hash))) return true;
  throw new OAuthError('invalid_token', {
    description: 'the initial access token is not valid',
    headers: { 'www-authenticate': bearerChallenge({ error: 'invalid_token' }) },
  });
}

function clientInformation(ctx: ServerContext, client: ClientRecord, extra: Record<string, unknown>): Record<string, unknown> {
  return {
    ...client.metadata,
    client_id: client.clientId,
    client_id_issued_at: Math.floor(client.createdAt / 1000),
    // RFC 7591 §3.2.1: epoch seconds on the wire; the record keeps milliseconds like every other time.
    ...(client.clientSecretHash && { client_secret_expires_at: Math.floor((client.clientSecretExpiresAt ?? 0) / 1000) }),
    registration_client_uri: `${ctx.endpoints.registration}/${encodeURIComponent(client.clientId)}`,
    ...extra,
  };
}

/** The parts of a registration that an update keeps. */
type ExistingRegistration = Pick<ClientRecord, 'clientId' | 'createdAt' | 'clientSecretHash' | 'clientSecretExpiresAt'>;

async function buildClient(
  ctx: ServerContext,
  registration: ResolvedRegistration,
  metadata: ClientMetadata,
  existing: ExistingRegistration,
): Promise<{ client: ClientRecord; secret?: string; registrationAccessToken: string }> {
  const now = ctx.clock();
  let secret: string | undefined;
  let { clientSecretHash, clientSecretExpiresAt } = existing;
  if (!usesClientSecret(metadata.token_endpoint_auth_method)) {
    clientSecretHash = clientSecretExpiresAt = undefined;
  } else if (!clientSecretHash || (clientSecretExpiresAt && clientSecretExpiresAt <= now)) {
    // No secret yet, or an expired one (clientSecretLifetime): RFC 7592 §2.2 lets the server issue a new
    // secret on read or update, and without it an expired client could never authenticate again.
    secret = randomToken();
    clientSecretHash = await sha256(secret);
    clientSecretExpiresAt = registration.clientSecretLifetime ? now + registration.clientSecretLifetime * 1000 : 0;
  }
  const registrationAccessToken = randomToken();
  const client: ClientRecord = {
    clientId: existing.clientId,
    clientSecretHash,
    clientSecretExpiresAt,
    tokenEndpointAuthMethod: metadata.token_endpoint_auth_method,
    redirectUris: metadata.redirect_uris ?? [],
    grantTypes: metadata.grant_types,
    responseTypes: metadata.response_types,
    // A client that names no scope gets what registration allows, never more.
    scopes: metadata.scope === undefined ? registration.allowedScopes : (parseScope(metadata.scope) ?? undefined),
    clientName: metadata.client_name,
    applicationType: metadata.application_type,
    registrationAccessTokenHash: await sha256(registrationAccessToken),
    metadata: { ...metadata },
    createdAt: existing.createdAt,
    expiresAt: registration.unusedClientLifetime ? now + registration.unusedClientLifetime * 1000 : null,
  };
  return { client, ...(secret && { secret }), registrationAccessToken };
}

async function applyPolicy(registration: ResolvedRegistration, metadata: ClientMetadata, request: Request): Promise<void> {
  if (!registration.policy) return;
  const verdict = await registration.policy(metadata, webRequest(request));
  if (verdict !== true) {
    throw new OAuthError('invalid_client_metadata', { description: typeof verdict === 'string' ? verdict : 'the registration was refused by policy' });
  }
}

/**
 * The registration endpoint: validates the metadata, applies the rate limit and policy, and answers 201 with
 * the client information (RFC 7591 §3.2.1) including the RFC 7592 management credentials.
 *
 * @see [RFC 7591 §3](https://www.rfc-editor.org/rfc/rfc7591#section-3)
 */
export async function handleRegister(ctx: ServerContext, registration: ResolvedRegistration, request: Request): Promise<Reply> {
  if (request.method !== 'POST') return { status: 405, headers: { allow: 'POST' }, body: null };
  const source = ctx.clientAddress;
  // Counted per source address; without one the limit is not applied (docs/decisions.md).
  if (registration.rateLimit && source !== undefined) {
    const { max, windowSeconds } = registration.rateLimit;
    const decision = await countRequest(ctx.store, ctx.clock, `register:${source}`, { max, windowMs: windowSeconds * 1000 });
    if (!decision.allowed) {
      ctx.emit?.({ type: 'rate_limited', limit: max, windowMs: windowSeconds * 1000, sourceAddress: source }, request);
      throw new OAuthError('invalid_request', { description: 'too many registrations from this source; retry later', status: 429, headers: decision.headers });
    }
  }
  const authorized = await presentedInitialAccessToken(request, registration);
  if (registration.requireInitialAccessToken && !authorized) {
    throw new OAuthError('invalid_token', {
      description: 'registration requires an initial access token',
      headers: { 'www-authenticate': bearerChallenge({}) },
    });
  }
  const metadata = parseClientMetadata(await readJSON(request), { scopesSupported: registration.allowedScopes ?? ctx.scopesSupported, allowedSchemes: registration.allowedSchemes });
  // RFC 7591 §3: an open endpoint must not hand out service accounts; client_credentials needs an initial access token.
  if (!authorized && metadata.grant_types.includes('client_credentials')) {
    throw new OAuthError('invalid_client_metadata', { description: 'grant_types: client_credentials requires an initial access token' });
  }
  await applyPolicy(registration, metadata, request);
  const { client, secret, registrationAccessToken } = await buildClient(ctx, registration, metadata, { clientId: randomToken(16), createdAt: ctx.clock() });
  await ctx.store.saveClient(client);
  ctx.emit?.({ type: 'client.registered', clientId: client.clientId, authMethod: client.tokenEndpointAuthMethod, sourceAddress: source }, request);
  return jsonReply(clientInformation(ctx, client, { ...(secret && { client_secret: secret }), registration_access_token: registrationAccessToken }), { status: 201 });
}

async function managedClient(ctx: ServerContext, request: Request, clientId: string): Promise<ClientRecord> {
  const match = /^bearer +(\S+)$/i.exec(request.headers.get('authorization') ?? '');
  const client = match ? await ctx.store.getClient(clientId) : null;
  const hash = match ? await sha256(match[1]!) : '';
  if (!client?.registrationAccessTokenHash || !timingSafeEqual(hash, client.registrationAccessTokenHash)) {
    // RFC 7592 §2: an unknown client and a wrong token look the same, so client ids cannot be probed.
    throw new OAuthError('invalid_token', {
      description: 'the registration access token is not valid for this client',
      headers: { 'www-authenticate': bearerChallenge({ error: match ? 'invalid_token' : undefined }) },
    });
  }
  return client;
}

const READ_ONLY_FIELDS = ['registration_access_token', 'registration_client_uri', 'client_secret_expires_at', 'client_id_issued_at'];

/**
 * The client configuration endpoint: read (GET), replace (PUT) and delete (DELETE) a registration with
 * its registration access token, which is rotated on every read and update so only its hash is ever kept.
 *
 * @see [RFC 7592 §2](https://www.rfc-editor.org/rfc/rfc7592#section-2)
 */
export async function handleClientConfiguration(ctx: ServerContext, registration: ResolvedRegistration, request: Request, clientId: string): Promise<Reply> {
  if (!['GET', 'PUT', 'DELETE'].includes(request.method)) return { status: 405, headers: { allow: 'GET, PUT, DELETE' }, body: null };
  const client = await managedClient(ctx, request, clientId);
  if (request.method === 'DELETE') {
    await ctx.store.deleteClient(client.clientId);
    // RFC 7592 §2.3: the client's tokens should stop working too. Its refresh tokens already fail (the
    // client is gone); its access tokens are refused until the last of them would have expired.
    const now = ctx.clock();
    const expiresAt = now + ctx.ttl.accessToken * 1000 + 60_000;
    await ctx.store.addRevocation({ key: clientRevocationKey(client.clientId), revokedAt: now, expiresAt });
    ctx.revocations.add(clientRevocationKey(client.clientId), expiresAt);
    ctx.emit?.({ type: 'client.deleted', clientId: client.clientId }, request);
    return { status: 204, headers: { 'cache-control': 'no-store' }, body: null };
  }
  let metadata: ClientMetadata | undefined;
  if (request.method === 'PUT') {
    const body = await readJSON(request);
    if (typeof body !== 'object' || body === null || (body as Record<string, unknown>).client_id !== client.clientId) {
      throw new OAuthError('invalid_client_metadata', { description: 'client_id: must equal the client being updated' });
    }
    const forbidden = READ_ONLY_FIELDS.find((field) => field in body);
    if (forbidden) throw new OAuthError('invalid_client_metadata', { description: `${forbidden}: must not be sent in an update` });
    const sentSecret = (body as Record<string, unknown>).client_secret;
    if (sentSecret !== undefined && (typeof sentSecret !== 'string' || !client.clientSecretHash || !timingSafeEqual(await sha256(sentSecret), client.clientSecretHash))) {
      throw new OAuthError('invalid_client_metadata', { description: 'client_secret: does not match the current secret' });
    }
    metadata = parseClientMetadata(body, { scopesSupported: registration.allowedScopes ?? ctx.scopesSupported, allowedSchemes: registration.allowedSchemes });
    if (metadata.grant_types.includes('client_credentials') && !client.grantTypes.includes('client_credentials')) {
      throw new OAuthError('invalid_client_metadata', { description: 'grant_types: client_credentials requires an initial access token' });
    }
    // RFC 7592 §2.2: an update is validated like a registration, policy included; otherwise a client
    // could register what the policy accepts and then PUT what it refuses.
    await applyPolicy(registration, metadata, request);
  }
  const current = metadata ?? (client.metadata as ClientMetadata);
  const { client: updated, secret, registrationAccessToken } = await buildClient(ctx, registration, current, client);
  await ctx.store.saveClient(updated);
  if (metadata) ctx.emit?.({ type: 'client.updated', clientId: client.clientId }, request);
  return jsonReply(clientInformation(ctx, updated, { ...(secret && { client_secret: secret }), registration_access_token: registrationAccessToken }));
}
