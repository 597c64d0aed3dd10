import type { ServerContext } from '../context.js';
import { randomToken } from '../../protocol/crypto.js';
import { isOAuthError, OAuthError, sanitizeErrorDescription, type OAuthErrorCode } from '../../protocol/errors.js';
import { escapeHTML, htmlResponse, readBodyParams, RequestParams } from '../../protocol/http.js';
import { isValidPKCEValue } from '../../protocol/pkce.js';
import { appendQuery, redirectUriMatches } from '../../protocol/redirect-uri.js';
import { checkResourceIndicator } from '../../protocol/resource.js';
import { parseScope } from '../../protocol/scope.js';
import type { ClientRecord, InteractionRecord } from '../../store/store.js';
import { StoreUnavailableError } from '../../store/store-errors.js';
import { outboundFetchFailure } from '../../protocol/outbound.js';

const targetBrand: unique symbol = Symbol('validated redirect target');

/**
 * Where an authorization response may be sent. Only {@link validateClientAndRedirect} can make one, after
 * the client and its redirect URI are known, so an error can never be redirected to an unvalidated URI
 * (OAuth 2.1 §4.1.2.1, RFC 9700 §4.11.2).
 */
export interface RedirectTarget {
  readonly [targetBrand]: true;
  readonly redirectUri: string;
  readonly state: string | undefined;
}

/** An error that cannot be redirected: shown to the user as a page, with no `Location` header. */
class LocalAuthorizationError extends Error {
  constructor(readonly code: OAuthErrorCode, readonly description: string, cause?: unknown) {
    super(description, { cause });
  }
}

/** RFC 9207 §2: `iss` on every authorization response, success or error. */
export function redirectResponse(
  ctx: Pick<ServerContext, 'issuer'>,
  target: RedirectTarget,
  params: Record<string, string | undefined>,
  method: string,
): Response {
  const location = appendQuery(target.redirectUri, { ...params, state: target.state, iss: ctx.issuer });
  // RFC 9700 §4.12: after a POST (which may have carried credentials) answer 303, never 307.
  return new Response(null, { status: method === 'POST' ? 303 : 302, headers: { location, 'cache-control': 'no-store' } });
}

export function redirectError(ctx: Pick<ServerContext, 'issuer'>, target: RedirectTarget, error: OAuthError, method: string): Response {
  return redirectResponse(ctx, target, { error: error.code, error_description: error.description }, method);
}

/** Builds a target from a stored interaction, whose redirect URI was validated when it was created. */
export function targetFromInteraction(interaction: InteractionRecord): RedirectTarget {
  return { [targetBrand]: true, redirectUri: interaction.redirectUri, state: interaction.state };
}

function errorPage(code: string, description: string, status = 400): Response {
  const text = sanitizeErrorDescription(description);
  return htmlResponse(
    `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Authorization error</title></head>` +
      `<body><main><h1>Authorization request refused</h1><p><strong>${escapeHTML(code)}</strong>: ${escapeHTML(text)}</p>` +
      `<p>The application that sent you here made an invalid request. You can close this page.</p></main></body></html>`,
    status,
  );
}

/** Renders an error for an interaction that can no longer redirect (unknown or expired). */
export function interactionErrorPage(description: string): Response {
  return errorPage('invalid_request', description);
}

async function validateClientAndRedirect(
  ctx: ServerContext,
  params: RequestParams,
): Promise<{ client: ClientRecord; target: RedirectTarget }> {
  let clientId: string | undefined;
  let requested: string | undefined;
  try {
    clientId = params.get('client_id');
    requested = params.get('redirect_uri');
  } catch (error) {
    throw new LocalAuthorizationError('invalid_request', (error as Error).message.replace(/^invalid_request: /, ''));
  }
  if (!clientId) throw new LocalAuthorizationError('invalid_request', 'client_id is required');
  let client: ClientRecord | null;
  try {
    client = await ctx.getClient(clientId);
  } catch (error) {
    // A metadata document that cannot be used is the user's problem to see, not the client's to receive.
    if (isOAuthError(error) && error.status < 500) throw new LocalAuthorizationError('invalid_request', error.description ?? 'the client cannot be used', error);
    throw error;
  }
  if (!client) throw new LocalAuthorizationError('invalid_request', 'unknown client_id');
  let redirectUri: string;
  if (requested !== undefined) {
    if (!redirectUriMatches(client.redirectUris, requested)) {
      throw new LocalAuthorizationError('invalid_request', 'redirect_uri is not registered for this client');
    }
    redirectUri = requested;
  } else if (client.redirectUris.length === 1) {
    redirectUri = client.redirectUris[0]!;
  } else {
    throw new LocalAuthorizationError('invalid_request', 'redirect_uri is required when a client registered several');
  }
  // `state` is read leniently here: a repeated state is reported to the client, with no state echoed.
  let state: string | undefined;
  try {
    state = params.get('state');
  } catch {
    state = undefined;
  }
  return { client, target: { [targetBrand]: true, redirectUri, state } };
}

function requestError(description: string, code: OAuthErrorCode = 'invalid_request'): OAuthError {
  return new OAuthError(code, { description });
}

/**
 * Validates everything the client controls after the redirect target is known, in the order of OAuth 2.1
 * §4.1.1: parameters, response_type, PKCE, scope, resource.
 */
function validateRequest(
  ctx: ServerContext,
  params: RequestParams,
  client: ClientRecord,
): Omit<InteractionRecord, 'interactionId' | 'clientId' | 'redirectUri' | 'state' | 'createdAt' | 'expiresAt'> {
  // Any repeated parameter (state included) is invalid_request (OAuth 2.1 §3.1).
  for (const name of ['state', 'response_type', 'response_mode', 'code_challenge', 'code_challenge_method', 'scope', 'nonce', 'prompt', 'max_age']) {
    params.get(name);
  }
  const responseMode = params.get('response_mode');
  if (responseMode !== undefined && responseMode !== 'query') {
    throw requestError(`response_mode ${responseMode} is not supported; use query`);
  }
  const responseType = params.get('response_type');
  if (responseType === undefined) throw requestError('response_type is required', 'unsupported_response_type');
  if (responseType !== 'code') throw requestError('only response_type=code is supported', 'unsupported_response_type');
  if (!client.responseTypes.includes('code') || !client.grantTypes.includes('authorization_code')) {
    throw requestError('this client is not allowed the authorization code grant', 'unauthorized_client');
  }

  const codeChallenge = params.get('code_challenge');
  const method = params.get('code_challenge_method');
  if (codeChallenge === undefined) throw requestError('code_challenge is required (PKCE, RFC 7636)');
  // RFC 7636 §4.3: an absent method means plain, which this server does not support.
  if (method === undefined) throw requestError('code_challenge_method is required and must be S256');
  if (method !== 'S256') throw requestError('code_challenge_method must be S256');
  if (!isValidPKCEValue(codeChallenge)) throw requestError('code_challenge must be 43-128 characters of [A-Za-z0-9-._~]');

  const requestedScopes = parseScope(params.get('scope'));
  if (requestedScopes === null) throw requestError('scope is malformed', 'invalid_scope');
  const scopes = requestedScopes.length ? requestedScopes : ctx.defaultScopes;
  const allowed = client.scopes ?? ctx.scopesSupported;
  const refused = scopes.filter((scope) => !allowed.includes(scope) || !ctx.scopesSupported.includes(scope));
  if (refused.length) throw requestError(`scope not allowed: ${refused.join(' ')}`, 'invalid_scope');

  const resources = params.getAll('resource');
  for (const resource of resources) {
    const problem = checkResourceIndicator(resource);
    if (problem) throw requestError(problem, 'invalid_target');
    if (!ctx.resources.has(resource)) throw requestError(`unknown resource ${resource}`, 'invalid_target');
  }

  const maxAgeText = params.get('max_age');
  const maxAge = maxAgeText === undefined ? undefined : Number(maxAgeText);
  if (maxAge !== undefined && !(Number.isInteger(maxAge) && maxAge >= 0)) throw requestError('max_age must be a non-negative integer');

  return {
    scopes,
    resources: resources.length ? resources : [ctx.defaultResource],
    codeChallenge,
    codeChallengeMethod: 'S256',
    nonce: params.get('nonce'),
    responseMode: 'query',
    prompt: params.get('prompt'),
    maxAge,
  };
}

/**
 * The authorization endpoint (GET and POST). Client and redirect URI first, then everything else; stores the
 * validated request server-side and hands it to the interaction hook (or, in dev mode, approves it).
 *
 * @see [OAuth 2.1 §4.1.1](https://datatracker.ietf.org/doc/html/draft-ietf-oauth-v2-1#section-4.1.1)
 */
export async function handleAuthorize(ctx: ServerContext, request: Request): Promise<Response> {
  if (request.method !== 'GET' && request.method !== 'POST') {
    return new Response(null, { status: 405, headers: { allow: 'GET, POST' } });
  }
  let params: RequestParams;
  try {
    params =
      request.method === 'GET' ? RequestParams.fromSearch(new URL(request.url).searchParams) : await readBodyParams(request);
  } catch (error) {
    return errorPage('invalid_request', isOAuthError(error) ? (error.description ?? error.code) : 'unreadable request');
  }

  let validated: Awaited<ReturnType<typeof validateClientAndRedirect>>;
  try {
    validated = await validateClientAndRedirect(ctx, params);
  } catch (error) {
    if (error instanceof LocalAuthorizationError) {
      // A metadata document that could not be fetched: the page says only that; the detail is logged.
      const fetchFailure = outboundFetchFailure(error);
      if (fetchFailure) ctx.onError?.(fetchFailure, request);
      return errorPage(error.code, error.description);
    }
    throw error;
  }
  const { client, target } = validated;

  try {
    const request_ = validateRequest(ctx, params, client);
    const now = ctx.clock();
    const interaction: InteractionRecord = {
      interactionId: randomToken(),
      clientId: client.clientId,
      redirectUri: target.redirectUri,
      state: target.state,
      ...request_,
      createdAt: now,
      expiresAt: now + ctx.ttl.interaction * 1000,
    };
    if (ctx.devLogin) return await ctx.approve(interaction, ctx.devLogin, request.method);
    // OIDC Core §3.1.2.1: prompt=none must never show a page. Only the built-in login flow can answer it
    // from an existing session and consent; a custom hook might render a page, so it is not asked.
    if (interaction.prompt?.split(' ').includes('none')) {
      if (!ctx.silentInteraction) throw new OAuthError('login_required', { description: 'no active session and prompt=none' });
      await ctx.store.saveInteraction(interaction);
      return await ctx.silentInteraction(interaction, request);
    }
    if (!ctx.interaction) throw new OAuthError('access_denied', { description: 'this server has no login configured' });
    await ctx.store.saveInteraction(interaction);
    return await ctx.interaction(
      {
        interactionId: interaction.interactionId,
        client: { clientId: client.clientId, clientName: client.clientName, redirectUri: target.redirectUri },
        scopes: interaction.scopes,
        resources: interaction.resources,
        prompt: interaction.prompt,
        maxAge: interaction.maxAge,
      },
      request,
    );
  } catch (error) {
    // OAuth 2.1 §4.1.2.1: once the redirect URI is validated, every error goes back to the client, which
    // is waiting for it; a JSON 500 page would strand the user.
    if (isOAuthError(error)) return redirectError(ctx, target, error, request.method);
    ctx.onError?.(error, request);
    const unavailable = error instanceof StoreUnavailableError;
    const failure = new OAuthError(unavailable ? 'temporarily_unavailable' : 'server_error', {
      description: unavailable ? 'the authorization server cannot reach its database; retry shortly' : 'the authorization server failed',
    });
    return redirectError(ctx, target, failure, request.method);
  }
}
