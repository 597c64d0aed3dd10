import { createPublicKey, verify, type JsonWebKey } from 'node:crypto';
import * as oauth from 'oauth4webapi';

/** What an MCP client sends to the authorization endpoint, and what it keeps for the token request. */
export interface AuthorizationRequest {
  url: string;
  state: string;
  codeVerifier: string;
  redirectUri: string;
  clientId: string;
}

export interface AuthorizationRequestOptions {
  /** The server's issuer; endpoints are the defaults below it (`/oauth/authorize`, …). */
  issuer: string;
  clientId: string;
  redirectUri: string;
  scope: string;
  /** RFC 8707 resource indicator (MCP clients always send the MCP server URL). */
  resource?: string;
  nonce?: string;
  prompt?: string;
  maxAge?: number;
  /** A fixed state instead of a random one. */
  state?: string;
}

export const endpoint = (issuer: string, path: string): string => `${issuer.replace(/\/$/, '')}${path}`;

/** An authorization request with PKCE S256 and a state. */
export async function authorizationRequest(options: AuthorizationRequestOptions): Promise<AuthorizationRequest> {
  const codeVerifier = oauth.generateRandomCodeVerifier();
  const state = options.state ?? oauth.generateRandomState();
  const query = new URLSearchParams({
    response_type: 'code',
    client_id: options.clientId,
    redirect_uri: options.redirectUri,
    scope: options.scope,
    state,
    code_challenge: await oauth.calculatePKCECodeChallenge(codeVerifier),
    code_challenge_method: 'S256',
  });
  if (options.resource) query.set('resource', options.resource);
  if (options.nonce) query.set('nonce', options.nonce);
  if (options.prompt) query.set('prompt', options.prompt);
  if (options.maxAge !== undefined) query.set('max_age', String(options.maxAge));
  return { url: `${endpoint(options.issuer, '/oauth/authorize')}?${query}`, state, codeVerifier, redirectUri: options.redirectUri, clientId: options.clientId };
}

export interface TokenResponse {
  access_token: string;
  token_type: string;
  expires_in: number;
  scope?: string;
  refresh_token?: string;
  id_token?: string;
}

function clientHeaders(client: { clientId: string; clientSecret?: string | undefined }): Record<string, string> {
  const headers: Record<string, string> = { 'content-type': 'application/x-www-form-urlencoded' };
  if (client.clientSecret) {
    const encode = (value: string) => encodeURIComponent(value);
    headers.authorization = `Basic ${Buffer.from(`${encode(client.clientId)}:${encode(client.clientSecret)}`).toString('base64')}`;
  }
  return headers;
}

/** POSTs to the token endpoint as `client` (Basic with a secret, client_id in the body without). */
export function tokenRequest(issuer: string, client: { clientId: string; clientSecret?: string | undefined }, params: Record<string, string>): Promise<Response> {
  const body = new URLSearchParams(params);
  if (!client.clientSecret) body.set('client_id', client.clientId);
  return fetch(endpoint(issuer, '/oauth/token'), { method: 'POST', headers: clientHeaders(client), body });
}

/** Redeems the code of a callback for the request that produced it. */
export function redeemCode(issuer: string, request: AuthorizationRequest, code: string, clientSecret?: string): Promise<Response> {
  return tokenRequest(issuer, { clientId: request.clientId, clientSecret }, {
    grant_type: 'authorization_code',
    code,
    code_verifier: request.codeVerifier,
    redirect_uri: request.redirectUri,
  });
}

/** RFC 7662 introspection as a confidential client. */
export async function introspect(issuer: string, client: { clientId: string; clientSecret: string }, token: string): Promise<Record<string, unknown>> {
  const response = await fetch(endpoint(issuer, '/oauth/introspect'), { method: 'POST', headers: clientHeaders(client), body: new URLSearchParams({ token }) });
  if (response.status !== 200) throw new Error(`introspection answered ${response.status}: ${await response.text()}`);
  return (await response.json()) as Record<string, unknown>;
}

export interface DecodedJWT {
  header: Record<string, unknown>;
  payload: Record<string, unknown>;
}

export function decodeJWT(token: string): DecodedJWT {
  const [header, payload] = token.split('.');
  if (!header || !payload) throw new Error('not a JWT');
  const part = (text: string) => JSON.parse(Buffer.from(text, 'base64url').toString('utf8')) as Record<string, unknown>;
  return { header: part(header), payload: part(payload) };
}

const VERIFY: Record<string, { hash: string; dsaEncoding?: 'ieee-p1363' }> = {
  RS256: { hash: 'sha256' },
  ES256: { hash: 'sha256', dsaEncoding: 'ieee-p1363' },
};

/**
 * Verifies a JWS against a JWK Set URL with node:crypto (the key named by `kid`, of the algorithm the header
 * names, which must be one of `algorithms`). Returns the decoded token; throws when anything is off.
 */
export async function verifyWithJWKS(token: string, jwksUri: string, algorithms: string[]): Promise<DecodedJWT> {
  const decoded = decodeJWT(token);
  const alg = String(decoded.header.alg);
  const rule = VERIFY[alg];
  if (!algorithms.includes(alg) || !rule) throw new Error(`algorithm ${alg} not allowed`);
  const { keys } = (await (await fetch(jwksUri)).json()) as { keys: (JsonWebKey & { kid?: string; alg?: string })[] };
  const jwk = keys.find((key) => key.kid === decoded.header.kid);
  if (!jwk) throw new Error(`no key ${String(decoded.header.kid)} in ${jwksUri}`);
  if (jwk.alg && jwk.alg !== alg) throw new Error(`key ${jwk.kid} is for ${jwk.alg}, the token says ${alg}`);
  const [header, payload, signature] = token.split('.') as [string, string, string];
  const key = createPublicKey({ key: jwk, format: 'jwk' });
  const ok = verify(rule.hash, Buffer.from(`${header}.${payload}`), rule.dsaEncoding ? { key, dsaEncoding: rule.dsaEncoding } : key, Buffer.from(signature, 'base64url'));
  if (!ok) throw new Error('signature does not verify');
  return decoded;
}
