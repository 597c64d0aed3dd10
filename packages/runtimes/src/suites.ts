/**
 * The suites every runtime runs: the Store contract against `MemoryStore`, and the HTTP conformance suite
 * against `server.fetch` itself (no HTTP listener, no adapter). Both come through core's package exports, so
 * what is proved is what a user imports.
 *
 * @module
 */
import { CONFORMANCE_ISSUER, testHTTPConformance, testStore } from '@keyward/core/testing';
import { MemoryStore } from '@keyward/core/memory';

/**
 * The runtime this bundle is running on, with its version, from the globals each runtime defines.
 *
 * @example
 * ```ts
 * runtimeName(); // 'deno 2.9.6'
 * ```
 */
export function runtimeName(): string {
  const g = globalThis as {
    Deno?: { version: { deno: string } };
    Bun?: { version: string };
    navigator?: { userAgent?: string };
    process?: { versions?: { node?: string } };
  };
  if (g.Deno) return `deno ${g.Deno.version.deno}`;
  if (g.Bun) return `bun ${g.Bun.version}`;
  if (g.navigator?.userAgent === 'Cloudflare-Workers') return 'workerd';
  if (g.process?.versions?.node) return `node ${g.process.versions.node}`;
  return 'unknown';
}

testStore({ name: 'memory', create: (clock) => new MemoryStore({ clock }), rawDump: (store) => (store as MemoryStore).dump() });

testHTTPConformance({
  name: `server.fetch on ${runtimeName()}`,
  start: async (server) => ({ fetch: (path, init) => server.fetch(new Request(new URL(path, CONFORMANCE_ISSUER), init)) }),
});
