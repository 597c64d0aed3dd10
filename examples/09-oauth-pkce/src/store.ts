import type { Store } from '@keyward/core';
import { MemoryStore } from '@keyward/core/memory';

/**
 * The Store named by OAUTH_STORE. Only `memory` exists today: everything (clients' grants, refresh tokens,
 * signing keys) is lost on restart. `sqlite` (the embedded default), `postgres` and `redis` arrive with the
 * @keyward/store-* packages and are added here as further cases.
 */
export async function createStore(env: NodeJS.ProcessEnv): Promise<Store> {
  const kind = env.OAUTH_STORE ?? 'memory';
  switch (kind) {
    case 'memory':
      return new MemoryStore();
    default:
      throw new Error(`OAUTH_STORE=${kind} is not supported yet; use OAUTH_STORE=memory`);
  }
}
