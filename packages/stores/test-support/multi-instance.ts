import type { AuthorizationServer, AuthorizationServerOptions, Store } from '../../core/src/index.js';

// The class comes from the test file: this folder has no dependency of its own to resolve @keyward/core.
type ServerClass = typeof AuthorizationServer;

/** Two instances behind one load balancer: what the MULTI tests of the shared stores drive. */
export const ISSUER = 'https://auth.multi.example.com';
export const RESOURCE = 'https://mcp.multi.example.com/mcp';
const CLIENT = { clientId: 'multi-machine', clientSecret: 'multi-machine-secret-0123456789abcdef', grantTypes: ['client_credentials'] };
const BASIC = `Basic ${btoa(`${CLIENT.clientId}:${CLIENT.clientSecret}`)}`;

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
  const server = new Server({ issuer: ISSUER, store, clock, scopes: ['mcp:tools'], resources: [RESOURCE], clients: [CLIENT], ...options });
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
