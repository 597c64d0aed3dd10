/**
 * Runs the whole OAuth 2.1 flow against a running example server and calls an MCP tool with the token:
 * discovery, PKCE, authorization, code exchange, userinfo, refresh, `whoami`.
 *
 *   pnpm example:server:09   (with OAUTH_DEV_LOGIN=demo the authorization needs no browser)
 *   pnpm example:client:09
 *
 * Env (and `.env` in the example's folder): OAUTH_ISSUER (default http://localhost:3009), OAUTH_CLIENT_ID (default mcp-public-client, a public
 * client; with OAUTH_CLIENT_SECRET it authenticates with client_secret_basic), MCP_SERVER_URL (default
 * <issuer>/mcp).
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import * as oauth from 'oauth4webapi';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { loadDotEnv, startupFailure } from './ops.js';

try {
  // The server's .env, so the client talks to the server it configures (the real environment wins).
  loadDotEnv(new URL('..', import.meta.url));
} catch (error) {
  console.error(`error: ${startupFailure(error)}`);
  process.exit(1);
}
const issuer = process.env.OAUTH_ISSUER || `http://localhost:${process.env.PORT || '3009'}`;
const mcpURL = process.env.MCP_SERVER_URL || `${issuer.replace(/\/$/, '')}/mcp`;
const client: oauth.Client = { client_id: process.env.OAUTH_CLIENT_ID || 'mcp-public-client' };
const clientAuth = process.env.OAUTH_CLIENT_SECRET ? oauth.ClientSecretBasic(process.env.OAUTH_CLIENT_SECRET) : oauth.None();
// The example runs on http://localhost; oauth4webapi refuses plain http unless told otherwise.
const http = { [oauth.allowInsecureRequests]: true };

function step(title: string, detail?: unknown): void {
  console.log(`\n▶ ${title}`);
  if (detail !== undefined) console.log(typeof detail === 'string' ? `  ${detail}` : detail);
}

/**
 * A loopback redirect URI on a free port (RFC 8252 §7.3: the server matches http://127.0.0.1/callback on
 * any port) and a promise of the callback URL the browser lands on.
 */
async function loopbackCallback(): Promise<{ redirectUri: string; callback: Promise<URL>; close(): void }> {
  let resolve!: (url: URL) => void;
  const callback = new Promise<URL>((r) => (resolve = r));
  const listener = createServer((req, res) => {
    res.setHeader('content-type', 'text/plain; charset=utf-8').end('Signed in; you can close this tab and return to the terminal.');
    resolve(new URL(req.url ?? '/', redirectUri));
  });
  await new Promise<void>((done) => listener.listen(0, '127.0.0.1', done));
  const redirectUri = `http://127.0.0.1:${(listener.address() as AddressInfo).port}/callback`;
  return { redirectUri, callback, close: () => listener.close() };
}

/** Ends the run with one line a person can act on (no stack trace) and exit code 1. */
function stop(message: string): never {
  console.error(`error: ${message}`);
  process.exit(1);
}

if (!URL.canParse(issuer)) stop(`OAUTH_ISSUER must be an absolute URL such as http://localhost:3009, got "${issuer}"`);
step('Discovery', issuer);
const issuerURL = new URL(issuer);
// processDiscoveryResponse refuses metadata whose issuer differs from the one asked for (RFC 8414 §3.3).
const discovery = await oauth.discoveryRequest(issuerURL, http).catch((error: unknown) => {
  // fetch fails before any response: nothing listens there (or the name does not resolve).
  if (error instanceof TypeError) stop(`the server is not reachable at ${issuer} (start it with pnpm example:server:09, or set OAUTH_ISSUER)`);
  throw error;
});
const as = await oauth.processDiscoveryResponse(issuerURL, discovery).catch((error: unknown) =>
  stop(`${issuer} did not answer with OAuth authorization server metadata (${error instanceof Error ? error.message : String(error)})`),
);
console.log(`  authorization_endpoint ${as.authorization_endpoint}\n  token_endpoint         ${as.token_endpoint}`);

step('Authorization request (PKCE S256 + state)');
const codeVerifier = oauth.generateRandomCodeVerifier();
const state = oauth.generateRandomState();
const loopback = await loopbackCallback();
const authorizationURL = new URL(as.authorization_endpoint!);
for (const [name, value] of Object.entries({
  response_type: 'code',
  client_id: client.client_id,
  redirect_uri: loopback.redirectUri,
  scope: 'mcp:tools openid profile email offline_access',
  code_challenge: await oauth.calculatePKCECodeChallenge(codeVerifier),
  code_challenge_method: 'S256',
  state,
})) {
  authorizationURL.searchParams.set(name, value);
}

// With OAUTH_DEV_LOGIN the server approves at once and redirects straight to our callback; otherwise the
// redirect goes to its login page, which needs a person and a browser.
const first = await fetch(authorizationURL, { redirect: 'manual' });
const location = first.headers.get('location');
let callbackURL: URL;
if (location?.startsWith(loopback.redirectUri)) {
  callbackURL = new URL(location);
} else {
  console.log(`  Open this URL in a browser and sign in (user demo, password printed by the server):\n\n  ${authorizationURL.href}\n`);
  callbackURL = await loopback.callback;
}
loopback.close();
// Checks state and, RFC 9207, that `iss` names the server we started with (mix-up defence).
const callbackParams = oauth.validateAuthResponse(as, client, callbackURL, state);
console.log(`  code ${callbackParams.get('code')?.slice(0, 12)}… iss ${callbackParams.get('iss')}`);

step('Token request (authorization_code + code_verifier)');
const tokens = await oauth.processAuthorizationCodeResponse(
  as,
  client,
  await oauth.authorizationCodeGrantRequest(as, client, clientAuth, callbackParams, loopback.redirectUri, codeVerifier, http),
);
const idToken = oauth.getValidatedIdTokenClaims(tokens);
console.log(`  scope ${tokens.scope}, expires_in ${tokens.expires_in}s, refresh token ${tokens.refresh_token ? 'yes' : 'no'}`);
console.log(`  ID token: sub ${idToken?.sub}, aud ${String(idToken?.aud)}`);

step('UserInfo');
const userinfo = await oauth.processUserInfoResponse(as, client, idToken!.sub, await oauth.userInfoRequest(as, client, tokens.access_token, http));
console.log(userinfo);

step('Refresh (the refresh token rotates)');
const refreshed = await oauth.processRefreshTokenResponse(
  as,
  client,
  await oauth.refreshTokenGrantRequest(as, client, clientAuth, tokens.refresh_token!, http),
);
console.log(`  new access token, new refresh token: ${refreshed.refresh_token !== tokens.refresh_token}`);

step('MCP: call whoami', mcpURL);
const mcp = new Client({ name: 'keyward-example-09-client', version: '0.1.0' });
await mcp.connect(new StreamableHTTPClientTransport(new URL(mcpURL), { requestInit: { headers: { authorization: `Bearer ${refreshed.access_token}` } } }));
const result = await mcp.callTool({ name: 'whoami', arguments: {} });
console.log(result.content);
await mcp.close();
console.log('\nDone.');
