/**
 * SEC-JSON-02: every endpoint that reads a JSON body refuses one that repeats a member, as repeated form
 * parameters are refused: registration and RFC 7592 updates with invalid_client_metadata, the token,
 * revocation and introspection endpoints with invalid_request. Nothing is stored or changed.
 */
import { describe, expect, it } from 'vitest';
import { createHarness, expectJSON, expectOAuthError, PATHS } from './harness.js';

const JSON_TYPE = { 'content-type': 'application/json' };

describe('SEC-JSON-02: a JSON body with a repeated member is refused everywhere', () => {
  it('SEC-JSON-02: registration: a second redirect_uris (plain or escaped) → invalid_client_metadata', async () => {
    const h = createHarness();
    for (const body of [
      '{"redirect_uris":["http://127.0.0.1/cb"],"token_endpoint_auth_method":"none","redirect_uris":["https://evil.example/cb"]}',
      '{"redirect_uris":["http://127.0.0.1/cb"],"token_endpoint_auth_method":"none","redirect_\\u0075ris":["https://evil.example/cb"]}',
      '{"redirect_uris":["http://127.0.0.1/cb"],"jwks":{"keys":[{"kty":"EC","kty":"oct"}]},"token_endpoint_auth_method":"none"}',
    ]) {
      const error = await expectOAuthError(await h.register(body), 'invalid_client_metadata');
      expect(error.error_description).toMatch(/appears twice/);
    }
    // The same body without the repeat registers: the refusal was the repeat.
    await expectJSON(await h.register('{"redirect_uris":["http://127.0.0.1/cb"],"token_endpoint_auth_method":"none"}'), 201);
  });

  it('SEC-JSON-02: RFC 7592 update with a repeated member → invalid_client_metadata, the registration unchanged', async () => {
    const h = createHarness();
    const info = await h.publicClient({ client_name: 'Before' });
    const body = `{"client_id":${JSON.stringify(info.client_id)},"redirect_uris":["http://127.0.0.1/cb"],"token_endpoint_auth_method":"none","client_name":"After","client_name":"Evil"}`;
    const error = await expectOAuthError(await h.configure(info, info.registration_access_token, { method: 'PUT', body }), 'invalid_client_metadata');
    expect(error.error_description).toMatch(/client_name appears twice/);
    // The token was not rotated by the refused update: a read still works with it and shows the old name.
    const read = await expectJSON(await h.configure(info, info.registration_access_token, { method: 'GET' }));
    expect(read.client_name).toBe('Before');
  });

  it('SEC-JSON-02: token, revocation and introspection JSON bodies with a repeated member → invalid_request', async () => {
    const h = createHarness();
    const machine = await h.machineClient();
    const auth = { authorization: `Basic ${Buffer.from(`${machine.client_id}:${machine.client_secret}`).toString('base64')}` };
    const cases: Array<[string, string]> = [
      [PATHS.token, '{"grant_type":"client_credentials","grant_type":"authorization_code"}'],
      [PATHS.token, '{"grant_type":"client_credentials","scope":"mcp:tools","sc\\u006fpe":"mcp:admin"}'],
      [PATHS.revoke, '{"token":"a","token":"b"}'],
      [PATHS.introspect, '{"token":"a","token":"b"}'],
    ];
    for (const [path, body] of cases) {
      const response = await h.server.request(path, { method: 'POST', headers: { ...JSON_TYPE, ...auth }, body });
      const error = await expectOAuthError(response, 'invalid_request');
      expect(error.error_description, `${path} ${body}`).toMatch(/appears twice/);
    }
    // Without the repeat the same JSON token request succeeds.
    const ok = await h.server.request(PATHS.token, { method: 'POST', headers: { ...JSON_TYPE, ...auth }, body: '{"grant_type":"client_credentials","scope":"mcp:tools"}' });
    expect((await expectJSON(ok)).access_token).toBeTruthy();
  });
});
