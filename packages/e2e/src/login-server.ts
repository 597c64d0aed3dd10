import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createRequire } from 'node:module';
import { AuthorizationServer, type AuthorizationServerOptions, type Clock } from '@keyward/core';
import { MemoryStore } from '@keyward/core/memory';
import { keyward } from '@keyward/express';
import { localUsers, type ScryptCost } from '@keyward/upstream';
import { closeServer, listenOnLoopback } from './net.js';

/** The parts of an Express app these tests use. */
export interface ExpressApp {
  (req: IncomingMessage, res: ServerResponse): void;
  disable(setting: string): unknown;
  use(handler: ReturnType<typeof keyward>): unknown;
  get(path: string, handler: (req: IncomingMessage & { query: Record<string, unknown> }, res: ServerResponse) => void): unknown;
}

// packages/e2e has no @types/express, so express is loaded untyped and described by ExpressApp above (the
// adapter's own handler type comes from @keyward/express).
const express = createRequire(import.meta.url)('express') as () => ExpressApp;

export interface KeywardOptions {
  /** Everything but the issuer (derived from the port) and the store. */
  configure(issuer: string): Omit<AuthorizationServerOptions, 'issuer' | 'store'>;
  /** `localhost` (default, like example 09) or `127.0.0.1`; the server listens on 127.0.0.1 either way. */
  hostname?: 'localhost' | '127.0.0.1';
  preferredPort?: number;
  /** Routes of the application itself, mounted after `keyward(server)`. */
  routes?(app: ExpressApp, issuer: string): void;
  /** The time source of the server and its store, so a test moves time on instead of sleeping. */
  clock?: Clock;
}

export interface RunningKeyward {
  issuer: string;
  server: AuthorizationServer;
  store: MemoryStore;
  close(): Promise<void>;
}

/** An Express app with `keyward(server)` mounted, in this process, listening on 127.0.0.1. */
export async function startKeyward(options: KeywardOptions): Promise<RunningKeyward> {
  let app: ExpressApp | undefined;
  const http = createServer((req, res) => (app ? app(req, res) : res.writeHead(503).end()));
  const port = await listenOnLoopback(http, options.preferredPort);
  const issuer = `http://${options.hostname ?? 'localhost'}:${port}`;
  const store = new MemoryStore({ clock: options.clock });
  try {
    const server = new AuthorizationServer({ ...options.configure(issuer), issuer, store, ...(options.clock && { clock: options.clock }) });
    await server.ready();
    const built = express();
    built.disable('x-powered-by');
    built.use(keyward(server));
    options.routes?.(built, issuer);
    app = built;
    return { issuer, server, store, close: () => closeServer(http) };
  } catch (error) {
    await closeServer(http);
    throw error;
  }
}

/** A cheap scrypt cost for the test users' passwords: sign-ins stay fast, and these passwords guard nothing. */
export const TEST_PASSWORD_COST: ScryptCost = { N: 1024, r: 8, p: 1 };

/** Example 09's scopes, client and user, for a stand-in that runs in this process. */
export const EXAMPLE_SCOPES = ['mcp:tools', 'mcp:resources', 'mcp:admin', 'openid', 'profile', 'email', 'offline_access'];
export const PUBLIC_CLIENT_ID = 'mcp-public-client';
export const DEMO_CLAIMS = { name: 'Demo User', preferred_username: 'demo', email: 'demo@example.com', email_verified: true };

/**
 * The same setup as example 09 without OAUTH_DEV_LOGIN, in-process: core's login and consent pages with
 * `localUsers` for `demo`, the public client `mcp-public-client`, the MCP resource `<issuer>/mcp`.
 */
export function startExampleLikeServer(input: { password: string; preferredPort?: number; extra?: Partial<AuthorizationServerOptions> }): Promise<RunningKeyward> {
  return startKeyward({
    ...(input.preferredPort !== undefined && { preferredPort: input.preferredPort }),
    configure: (issuer) => ({
      scopes: EXAMPLE_SCOPES,
      defaultScopes: ['mcp:tools'],
      resources: [{ resource: `${issuer}/mcp`, resourceName: 'Keyward example MCP server', scopes: ['mcp:tools', 'mcp:resources', 'mcp:admin'] }],
      clients: [{ clientId: PUBLIC_CLIENT_ID, clientName: 'MCP public client', tokenEndpointAuthMethod: 'none', redirectUris: ['http://127.0.0.1/callback'] }],
      introspection: { bearerScope: 'mcp:admin' },
      login: { users: localUsers([{ username: 'demo', password: input.password, subject: 'demo', claims: DEMO_CLAIMS }], { cost: TEST_PASSWORD_COST }) },
      ...input.extra,
    }),
  });
}
