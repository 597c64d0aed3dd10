#!/usr/bin/env node
// A loopback reverse proxy that adds `Authorization: Bearer <token>` to every request it forwards, so the MCP
// conformance suite's `server` scenarios (which cannot send a token) can run against an MCP endpoint that a
// Keyward guard protects. The token comes from a real authorization-code + PKCE flow against the example's
// own authorization server, approved headlessly by OAUTH_DEV_LOGIN. Plain ESM, no dependencies: it runs
// under any Node >= 20 without an install.
//
//   node bearer-proxy.mjs --issuer http://localhost:3009 --resource http://localhost:3009/mcp \
//     --upstream http://127.0.0.1:3009 --listen 43210 [--client-id mcp-public-client] [--scope mcp:tools]
//
// Prints `READY http://127.0.0.1:<port>` once it listens. Requests keep their Host and Origin headers, so
// what the server sees is what the suite sent; only the TCP destination and the Authorization header change.
import { createHash, randomBytes } from 'node:crypto';
import http from 'node:http';
import { parseArgs } from 'node:util';

const { values: args } = parseArgs({
  options: {
    issuer: { type: 'string' },
    resource: { type: 'string' },
    upstream: { type: 'string' },
    listen: { type: 'string', default: '0' },
    'client-id': { type: 'string', default: 'mcp-public-client' },
    scope: { type: 'string', default: 'mcp:tools' },
  },
});
if (!args.issuer || !args.resource || !args.upstream) {
  console.error('usage: bearer-proxy.mjs --issuer URL --resource URL --upstream URL [--listen PORT] [--client-id ID] [--scope SCOPE]');
  process.exit(2);
}

const b64url = (buffer) => buffer.toString('base64url');

/** Authorization code + PKCE with a loopback redirect URI that is never listened on: the code is read from Location. */
async function obtainToken() {
  const metadata = await (await fetch(new URL('/.well-known/oauth-authorization-server', args.issuer))).json();
  const verifier = b64url(randomBytes(32));
  const state = b64url(randomBytes(16));
  const redirectUri = 'http://127.0.0.1:1/callback';
  const authorize = new URL(metadata.authorization_endpoint);
  authorize.search = new URLSearchParams({
    response_type: 'code',
    client_id: args['client-id'],
    redirect_uri: redirectUri,
    scope: args.scope,
    state,
    resource: args.resource,
    code_challenge: b64url(createHash('sha256').update(verifier).digest()),
    code_challenge_method: 'S256',
  }).toString();
  // Follow the server's own redirects (none with OAUTH_DEV_LOGIN) until one points at the redirect URI.
  let next = authorize.href;
  for (let hop = 0; hop < 5; hop++) {
    const response = await fetch(next, { redirect: 'manual' });
    const location = response.headers.get('location');
    if (!location) throw new Error(`authorize: ${response.status} without Location (is OAUTH_DEV_LOGIN set?): ${(await response.text()).slice(0, 300)}`);
    const target = new URL(location, next);
    if (target.href.startsWith(redirectUri)) {
      const code = target.searchParams.get('code');
      if (!code || target.searchParams.get('state') !== state) throw new Error(`authorize: unexpected redirect ${target.href}`);
      const token = await fetch(metadata.token_endpoint, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ grant_type: 'authorization_code', code, redirect_uri: redirectUri, code_verifier: verifier, client_id: args['client-id'], resource: args.resource }),
      });
      const body = await token.json();
      if (!token.ok || typeof body.access_token !== 'string') throw new Error(`token: ${token.status} ${JSON.stringify(body)}`);
      return body.access_token;
    }
    next = target.href;
  }
  throw new Error('authorize: too many redirects');
}

let token;
try {
  token = await obtainToken();
} catch (error) {
  console.error(`bearer-proxy: no access token: ${error.message}`);
  process.exit(1);
}
const upstream = new URL(args.upstream);

const server = http.createServer((req, res) => {
  const headers = { ...req.headers };
  if (!headers.authorization) headers.authorization = `Bearer ${token}`;
  const forwarded = http.request({ host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers }, (answer) => {
    res.writeHead(answer.statusCode ?? 502, answer.rawHeaders);
    answer.pipe(res);
  });
  forwarded.on('error', (error) => {
    if (!res.headersSent) res.writeHead(502, { 'content-type': 'text/plain' });
    res.end(`bearer-proxy: ${error.message}`);
  });
  // An SSE stream the client drops must not stay open upstream.
  res.on('close', () => forwarded.destroy());
  req.pipe(forwarded);
});
server.listen(Number(args.listen), '127.0.0.1', () => {
  console.log(`READY http://127.0.0.1:${server.address().port}`);
});
const stop = () => server.close(() => process.exit(0)) && server.closeAllConnections();
process.once('SIGTERM', stop);
process.once('SIGINT', stop);
