import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import Provider from 'oidc-provider';
import { closeServer, listenOnLoopback } from './net.js';

/** The part of oidc-provider's `Provider` this uses (the package ships no types). */
type ProviderConstructor = new (issuer: string, configuration: Record<string, unknown>) => {
  callback(): (req: IncomingMessage, res: ServerResponse) => void;
};

export interface TestIdPClient {
  clientId: string;
  clientSecret: string;
  redirectUri: string;
}

export interface TestIdP {
  issuer: string;
  /** Registers the one confidential client (its redirect URI is known only once Keyward listens) and starts answering. */
  start(client: TestIdPClient): void;
  /** Every JSON body the token endpoint answered: the upstream tokens, to prove they go no further. */
  readonly tokenResponses: Record<string, unknown>[];
  close(): Promise<void>;
}

/** The profile of every account: `sub` is whatever login was typed on the development login page. */
export function upstreamProfile(sub: string): Record<string, unknown> {
  return { sub, name: `Upstream ${sub}`, preferred_username: sub, email: `${sub}@idp.example.test`, email_verified: true };
}

/**
 * A real OpenID provider (oidc-provider 9) on 127.0.0.1: its development login and consent pages
 * (devInteractions), PKCE required, profile claims served by UserInfo.
 */
export async function startTestIdP(): Promise<TestIdP> {
  let handler: ((req: IncomingMessage, res: ServerResponse) => void) | undefined;
  const tokenResponses: Record<string, unknown>[] = [];
  const http = createServer((req, res) => {
    if (!handler) return void res.writeHead(503).end();
    if (req.method === 'POST' && req.url?.startsWith('/token')) recordBody(res, (body) => tokenResponses.push(JSON.parse(body) as Record<string, unknown>));
    handler(req, res);
  });
  const port = await listenOnLoopback(http);
  const issuer = `http://127.0.0.1:${port}`;
  return {
    issuer,
    tokenResponses,
    start(client) {
      const OIDCProvider = Provider as unknown as ProviderConstructor;
      const provider = new OIDCProvider(issuer, {
        clients: [
          {
            client_id: client.clientId,
            client_secret: client.clientSecret,
            token_endpoint_auth_method: 'client_secret_basic',
            redirect_uris: [client.redirectUri],
            grant_types: ['authorization_code'],
            response_types: ['code'],
          },
        ],
        pkce: { required: () => true },
        features: { devInteractions: { enabled: true } },
        scopes: ['openid', 'profile', 'email'],
        claims: { openid: ['sub'], profile: ['name', 'preferred_username'], email: ['email', 'email_verified'] },
        findAccount: (_ctx: unknown, sub: string) => ({ accountId: sub, claims: () => upstreamProfile(sub) }),
        cookies: { keys: ['e2e-only-cookie-signing-key'] },
        // Explicit lifetimes (seconds), which also keeps oidc-provider from printing a notice for each default.
        ttl: { Interaction: 600, Session: 3600, Grant: 3600, AccessToken: 600, IdToken: 600, AuthorizationCode: 60 },
      });
      handler = provider.callback();
    },
    close: () => closeServer(http),
  };
}

/** Calls `done` with the body `res` sends (oidc-provider answers the token endpoint with one end()). */
function recordBody(res: ServerResponse, done: (body: string) => void): void {
  const chunks: Buffer[] = [];
  const write = res.write.bind(res) as (...args: unknown[]) => boolean;
  const end = res.end.bind(res) as (...args: unknown[]) => ServerResponse;
  const keep = (chunk: unknown) => {
    if (typeof chunk === 'string' || chunk instanceof Uint8Array) chunks.push(Buffer.from(chunk));
  };
  res.write = ((chunk: unknown, ...rest: unknown[]) => {
    keep(chunk);
    return write(chunk, ...rest);
  }) as ServerResponse['write'];
  res.end = ((chunk?: unknown, ...rest: unknown[]) => {
    if (typeof chunk !== 'function') keep(chunk);
    const body = Buffer.concat(chunks).toString('utf8');
    if (res.statusCode === 200 && body) done(body);
    return end(chunk, ...rest);
  }) as ServerResponse['end'];
}
