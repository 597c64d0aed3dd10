/**
 * SEC-FUZZ-01..04: every endpoint of `server.fetch` (memory store, injected clock) fuzzed with fast-check:
 * valid requests changed one field at a time, and random ones. Seeded and bounded here; `pnpm fuzz` runs
 * the same properties with FUZZ_RUNS large for release checks. The seed is printed: replay a failure with
 * FUZZ_SEED=<seed> FUZZ_RUNS=<runs>.
 */
import { describe, expect, it } from 'vitest';
import { checkExchange, fuzzEndpoints, fuzzServer, fuzzSettings, LOGIN_TEMPLATES, Model, PUBLIC_CLIENT, TEMPLATES, type RequestSpec, type Target } from './model.js';

/** Calls `server.fetch`; each request moves the injected clock `stepMs` on. */
function inProcess({ server, advance }: ReturnType<typeof fuzzServer>, stepMs = 0): Target {
  return {
    send: (request, source) => {
      advance(stepMs);
      return server.fetch(request, { clientAddress: source });
    },
  };
}

const MAIN = fuzzSettings(400);
const LOGIN = fuzzSettings(150);

describe('SEC-FUZZ: endpoints under generated requests (server.fetch)', () => {
  it('SEC-FUZZ-01..04: discovery, authorize, token, registration + RFC 7592, revoke, introspect, userinfo, jwks: no 5xx, no foreign redirect, no unearned token, RFC-shaped errors', async () => {
    const { seed, runs } = MAIN;
    const unexpected: unknown[] = [];
    const fuzzed = fuzzServer({ onError: (error) => unexpected.push(error) });
    const model = new Model();
    await fuzzEndpoints(inProcess(fuzzed), model, { seed, runs, templates: TEMPLATES, label: 'core' });
    // The properties held, and the run did real work: tokens were earned and codes redirected.
    expect(model.stats.tokensIssued).toBeGreaterThan(0);
    expect(model.stats.redirects).toBeGreaterThan(0);
    // onError hears only of outbound fetches the stub refused, never of an unexpected failure.
    expect(unexpected.filter((error) => (error as Error).name !== 'OutboundFetchError')).toEqual([]);
  }, MAIN.timeout);

  it('SEC-FUZZ-01..04: the built-in login and consent pages', async () => {
    const { seed, runs } = LOGIN;
    const unexpected: unknown[] = [];
    const fuzzed = fuzzServer({ login: true, onError: (error) => unexpected.push(error) });
    const model = new Model();
    // Wrong passwords among the mutations lock the user out for a while; 5 s a request lets lockouts end
    // while codes (60 s) still live long enough to be redeemed.
    await fuzzEndpoints(inProcess(fuzzed, 5000), model, { seed, runs, templates: LOGIN_TEMPLATES, label: 'core login pages' });
    // Users signed in and consented: codes came back through the pages.
    expect(model.codes.size).toBeGreaterThan(0);
    expect(unexpected.filter((error) => (error as Error).name !== 'OutboundFetchError')).toEqual([]);
  }, LOGIN.timeout);
});

describe('SEC-FUZZ-00: the properties reject what they are meant to reject', () => {
  const token = (body: Record<string, unknown>, status = 200) => new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json' } });
  const request = (partial: Partial<RequestSpec> = {}): RequestSpec => ({ method: 'POST', path: '/oauth/token', query: [], headers: [], body: { kind: 'none' }, source: '192.0.2.1', ...partial });

  it('SEC-FUZZ-00: a 5xx, a foreign redirect, an unearned token and a non-RFC error each fail the check', async () => {
    const model = new Model();
    await expect(checkExchange(request(), token({ error: 'server_error' }, 500), model)).rejects.toThrow(/SEC-FUZZ-01/);
    const authorize = request({ method: 'GET', path: '/oauth/authorize', query: [['client_id', PUBLIC_CLIENT.id]] });
    await expect(checkExchange(authorize, new Response(null, { status: 302, headers: { location: 'https://evil.example/cb?code=x' } }), model)).rejects.toThrow(/SEC-FUZZ-02/);
    // The same redirect to the client's registered (loopback, any port) URI is fine.
    await checkExchange(authorize, new Response(null, { status: 302, headers: { location: 'http://127.0.0.1:5555/cb?code=x' } }), model);
    const stolen = request({ headers: [['content-type', 'application/x-www-form-urlencoded']], body: { kind: 'form', fields: [['grant_type', 'authorization_code'], ['code', 'guessed'], ['client_id', PUBLIC_CLIENT.id]] } });
    await expect(checkExchange(stolen, token({ access_token: 'x', token_type: 'Bearer' }), model)).rejects.toThrow(/SEC-FUZZ-03/);
    await expect(checkExchange(request(), token({ error: 'oops' }, 400), model)).rejects.toThrow(/SEC-FUZZ-04/);
    await expect(checkExchange(request(), token({ error: 'invalid_request', stack: 'at x' }, 400), model)).rejects.toThrow(/SEC-FUZZ-04/);
    await expect(checkExchange(request(), new Response('<p>no</p>', { status: 400, headers: { 'content-type': 'text/html' } }), model)).rejects.toThrow(/SEC-FUZZ-04/);
  });
});
