import type { AuthorizationServer, AuthorizationServerOptions, StaticClientOptions, Store } from '../../core/src/index.js';

// The class comes from the test file: this folder has no dependency of its own to resolve @keyward/core.
type ServerClass = typeof AuthorizationServer;

/** Two instances behind one load balancer: what the MULTI tests of the shared stores drive. */
export const ISSUER = 'http://localhost:3019';
export const RESOURCE = 'https://mcp.multi.example.com/mcp';
const CLIENT = { clientId: 'multi-machine', clientSecret: 'multi-machine-secret-0123456789abcdef', grantTypes: ['client_credentials'] } satisfies StaticClientOptions;
const BASIC = `Basic ${btoa(`${CLIENT.clientId}:${CLIENT.clientSecret}`)}`;
const APP = { clientId: 'multi-app', redirectUris: ['https://app.multi.example.com/cb'], grantTypes: ['authorization_code', 'refresh_token'] } satisfies StaticClientOptions;
const FORM = { 'content-type': 'application/x-www-form-urlencoded' };

/** The store with `subscribeRevocations` hidden, so the revocation list has to poll. */
export function withoutPush(store: Store): Store {
  return new Proxy(store, {
    get(target, property) {
      if (property === 'subscribeRevocations') return undefined;
      const value: unknown = Reflect.get(target, property, target);
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
    },
  });
}

/** One Keyward instance: its server, and the guard its MCP endpoint would use. */
export function instance(Server: ServerClass, store: Store, clock: () => number, options: Partial<AuthorizationServerOptions> = {}) {
  const server = new Server({ issuer: ISSUER, store, clock, scopes: ['mcp:tools'], resources: [RESOURCE], clients: [CLIENT, APP], devLogin: { subject: 'multi-user' }, ...options });
  const guard = server.createGuard();
  return {
    server,
    guard,
    async mint(): Promise<string> {
      const body = new URLSearchParams({ grant_type: 'client_credentials', scope: 'mcp:tools', resource: RESOURCE });
      const response = await server.fetch(new Request(`${ISSUER}/oauth/token`, { method: 'POST', headers: { authorization: BASIC, 'content-type': 'application/x-www-form-urlencoded' }, body }));
      if (response.status !== 200) throw new Error(`token endpoint answered ${response.status}: ${await response.text()}`);
      return ((await response.json()) as { access_token: string }).access_token;
    },
    async revoke(token: string): Promise<void> {
      const body = new URLSearchParams({ token, token_type_hint: 'access_token' });
      const response = await server.fetch(new Request(`${ISSUER}/oauth/revoke`, { method: 'POST', headers: { authorization: BASIC, 'content-type': 'application/x-www-form-urlencoded' }, body }));
      if (response.status !== 200) throw new Error(`revocation endpoint answered ${response.status}`);
    },
    /** The code flow of a public client (signed in at once by devLogin): an access and a refresh token. */
    async login(clientId = APP.clientId): Promise<{ access_token: string; refresh_token: string }> {
      const verifier = 'multi-verifier-0123456789abcdef0123456789abcdef';
      const challenge = btoa(String.fromCharCode(...new Uint8Array(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(verifier)))))
        .replace(/=+$/, '').replace(/\+/g, '-').replace(/\//g, '_');
      const query = new URLSearchParams({ response_type: 'code', client_id: clientId, redirect_uri: APP.redirectUris[0]!, code_challenge: challenge, code_challenge_method: 'S256', scope: 'mcp:tools', state: 's', resource: RESOURCE });
      const redirect = await server.fetch(new Request(`${ISSUER}/oauth/authorize?${query}`));
      const code = new URL(redirect.headers.get('location') ?? '').searchParams.get('code');
      if (!code) throw new Error(`authorization answered ${redirect.status} ${redirect.headers.get('location')}`);
      return this.tokenRequest({ grant_type: 'authorization_code', code, code_verifier: verifier, client_id: clientId, redirect_uri: APP.redirectUris[0]! });
    },
    /** A token request of the public client; throws unless it answers 200. */
    async tokenRequest(params: Record<string, string>): Promise<{ access_token: string; refresh_token: string }> {
      const response = await server.fetch(new Request(`${ISSUER}/oauth/token`, { method: 'POST', headers: FORM, body: new URLSearchParams(params) }));
      if (response.status !== 200) throw new Error(`token endpoint answered ${response.status}: ${await response.text()}`);
      return (await response.json()) as { access_token: string; refresh_token: string };
    },
    /** Presents a refresh token; the status the token endpoint answered. */
    async refresh(refreshToken: string): Promise<number> {
      const body = new URLSearchParams({ grant_type: 'refresh_token', refresh_token: refreshToken, client_id: APP.clientId });
      return (await server.fetch(new Request(`${ISSUER}/oauth/token`, { method: 'POST', headers: FORM, body }))).status;
    },
    /** Registers a public client dynamically, signs in through it, and returns how to delete it. */
    async registerAndMint(): Promise<{ token: string; remove: () => Promise<number> }> {
      const metadata = { redirect_uris: APP.redirectUris, grant_types: ['authorization_code', 'refresh_token'], token_endpoint_auth_method: 'none', scope: 'mcp:tools' };
      const registration = await server.fetch(new Request(`${ISSUER}/oauth/register`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(metadata) }));
      if (registration.status !== 201) throw new Error(`registration answered ${registration.status}: ${await registration.text()}`);
      const client = (await registration.json()) as { client_id: string; registration_access_token: string; registration_client_uri: string };
      const { access_token: token } = await this.login(client.client_id);
      const remove = async () => (await server.fetch(new Request(client.registration_client_uri, { method: 'DELETE', headers: { authorization: `Bearer ${client.registration_access_token}` } }))).status;
      return { token, remove };
    },
    async accepts(token: string): Promise<boolean> {
      return (await guard.verify(token)).ok;
    },
  };
}

/** One instance as {@link instance} builds it. */
export type Instance = ReturnType<typeof instance>;

/** Median and maximum of a list of milliseconds. */
export function summary(values: number[]): { median: number; max: number; n: number } {
  const sorted = [...values].sort((a, b) => a - b);
  return { median: sorted[Math.floor(sorted.length / 2)]!, max: sorted.at(-1)!, n: sorted.length };
}

/**
 * Real time, in ms, from instance A's revocation answering until instance B refuses the token it had
 * accepted (and cached) just before, for `count` tokens in a row.
 */
export async function measurePropagation(a: Instance, b: Instance, count: number, giveUpMs: number): Promise<number[]> {
  const delays: number[] = [];
  for (let i = 0; i < count; i++) {
    const token = await a.mint();
    if (!(await b.accepts(token)) || !(await b.accepts(token))) throw new Error('instance B refused a fresh token');
    await a.revoke(token);
    const revokedAt = performance.now();
    while (await b.accepts(token)) {
      if (performance.now() - revokedAt > giveUpMs) throw new Error(`instance B still accepted a revoked token after ${giveUpMs} ms`);
      await new Promise((resolve) => setTimeout(resolve, 1));
    }
    delays.push(performance.now() - revokedAt);
  }
  return delays;
}
