/**
 * Registration, client_credentials, revocation and introspection driven by an independent client library
 * (oauth4webapi), which checks the responses against the RFCs itself. Its `customFetch` hands every
 * request to `server.fetch`, so nothing listens on a port.
 */
import { describe, expect, it } from 'vitest';
import * as oauth from 'oauth4webapi';
import { exportJWK, generateKeyPair } from 'jose';
import { createHarness, IAT, ISSUER, RESOURCE, START, type Harness } from './harness.js';

type HttpOptions = { [oauth.customFetch]: typeof fetch; [oauth.allowInsecureRequests]: true };

/** oauth4webapi options that route requests to the in-process server (the issuer is loopback http). */
function viaServer(h: Harness): HttpOptions {
  return {
    [oauth.customFetch]: ((url: string, init: RequestInit) => h.server.fetch(new Request(url, init), { clientAddress: '192.0.2.44' })) as typeof fetch,
    // The test issuer is http://localhost; Keyward itself allows http only on loopback hosts.
    [oauth.allowInsecureRequests]: true,
  };
}

/**
 * The server runs on the injected clock, held at START (2030); oauth4webapi's own timestamps must follow it.
 * oauth4webapi reads the skew when it signs, so a getter keeps the client on START however long the run takes
 * (a skew computed once when the file loads drifts past the server's tolerance on a slow machine).
 */
function onServerClock(clientId: string): oauth.Client {
  return {
    client_id: clientId,
    get [oauth.clockSkew]() {
      return Math.floor((START - Date.now()) / 1000);
    },
  };
}

async function discover(h: Harness): Promise<oauth.AuthorizationServer> {
  const issuer = new URL(ISSUER);
  return oauth.processDiscoveryResponse(issuer, await oauth.discoveryRequest(issuer, { ...viaServer(h), algorithm: 'oauth2' }));
}

describe('oauth4webapi against server.fetch', () => {
  it('AUTHZ-DCR-01/03/08: registers a confidential machine client with an initial access token, then uses client_credentials', async () => {
    const h = createHarness();
    const as = await discover(h);
    expect(as.registration_endpoint).toBe(`${ISSUER}/oauth/register`);

    const registered = await oauth.processDynamicClientRegistrationResponse(
      await oauth.dynamicClientRegistrationRequest(
        as,
        { client_name: 'oauth4webapi machine', grant_types: ['client_credentials'], token_endpoint_auth_method: 'client_secret_basic', scope: 'mcp:tools mcp:admin' },
        { ...viaServer(h), initialAccessToken: IAT },
      ),
    );
    expect(registered.client_id).toBeTruthy();
    expect(registered.client_secret).toBeTruthy();
    expect(registered.client_secret_expires_at).toBe(0);
    expect(registered.grant_types).toEqual(['client_credentials']);
    const client: oauth.Client = { client_id: registered.client_id };
    const auth = oauth.ClientSecretBasic(String(registered.client_secret));

    const tokens = await oauth.processClientCredentialsResponse(
      as,
      client,
      await oauth.clientCredentialsGrantRequest(as, client, auth, new URLSearchParams({ scope: 'mcp:tools', resource: RESOURCE }), viaServer(h)),
    );
    expect(tokens.token_type).toBe('bearer'); // oauth4webapi lower-cases it
    expect(tokens.scope).toBe('mcp:tools');
    expect((await h.bearer(tokens.access_token)).ok).toBe(true);

    // Anonymous registration of the same client is refused, and oauth4webapi surfaces the RFC 7591 error.
    const anonymous = oauth.dynamicClientRegistrationRequest(as, { grant_types: ['client_credentials'] }, viaServer(h));
    await expect(anonymous.then((response) => oauth.processDynamicClientRegistrationResponse(response))).rejects.toMatchObject({
      error: 'invalid_client_metadata',
    });
  });

  it('AUTHZ-INTR-02 / AUTHZ-REV-02/05: introspects the token as active, revokes it, and introspects it as inactive', async () => {
    const h = createHarness();
    const as = await discover(h);
    const registered = await oauth.processDynamicClientRegistrationResponse(
      await oauth.dynamicClientRegistrationRequest(as, { grant_types: ['client_credentials'], token_endpoint_auth_method: 'client_secret_post' }, { ...viaServer(h), initialAccessToken: IAT }),
    );
    const client: oauth.Client = { client_id: registered.client_id };
    const auth = oauth.ClientSecretPost(String(registered.client_secret));
    const { access_token } = await oauth.processClientCredentialsResponse(
      as,
      client,
      await oauth.clientCredentialsGrantRequest(as, client, auth, new URLSearchParams({ scope: 'mcp:tools' }), viaServer(h)),
    );

    const active = await oauth.processIntrospectionResponse(as, client, await oauth.introspectionRequest(as, client, auth, access_token, viaServer(h)));
    expect(active).toMatchObject({ active: true, client_id: registered.client_id, sub: registered.client_id, aud: RESOURCE, iss: ISSUER, scope: 'mcp:tools', token_type: 'Bearer' });

    expect(await oauth.processRevocationResponse(await oauth.revocationRequest(as, client, auth, access_token, viaServer(h)))).toBeUndefined();
    // Unknown tokens are a 200 as well, which oauth4webapi accepts.
    expect(await oauth.processRevocationResponse(await oauth.revocationRequest(as, client, auth, 'garbage', viaServer(h)))).toBeUndefined();

    const inactive = await oauth.processIntrospectionResponse(as, client, await oauth.introspectionRequest(as, client, auth, access_token, viaServer(h)));
    expect(inactive).toEqual({ active: false });
    expect((await h.bearer(access_token)).ok).toBe(false);
  });

  it('AUTHZ-CAUTH-07: private_key_jwt: registers a jwks, authenticates with oauth4webapi assertions, which are single-use', async () => {
    const h = createHarness();
    const as = await discover(h);
    const { privateKey, publicKey } = await generateKeyPair('ES256', { extractable: true });
    const jwk = { ...(await exportJWK(publicKey)), kid: 'o4w-1', alg: 'ES256' };
    const registered = await oauth.processDynamicClientRegistrationResponse(
      await oauth.dynamicClientRegistrationRequest(
        as,
        { grant_types: ['client_credentials'], token_endpoint_auth_method: 'private_key_jwt', jwks: { keys: [jwk] } },
        { ...viaServer(h), initialAccessToken: IAT },
      ),
    );
    expect(registered.client_secret).toBeUndefined();
    const client = onServerClock(registered.client_id);
    const auth = oauth.PrivateKeyJwt({ key: privateKey, kid: 'o4w-1' });
    const { access_token } = await oauth.processClientCredentialsResponse(
      as,
      client,
      await oauth.clientCredentialsGrantRequest(as, client, auth, new URLSearchParams({ scope: 'mcp:tools' }), viaServer(h)),
    );
    const claims = await oauth.processIntrospectionResponse(as, client, await oauth.introspectionRequest(as, client, auth, access_token, viaServer(h)));
    expect(claims).toMatchObject({ active: true, client_id: registered.client_id });
    await oauth.processRevocationResponse(await oauth.revocationRequest(as, client, auth, access_token, viaServer(h)));
    expect((await h.bearer(access_token)).ok).toBe(false);

    // Without the clock skew the assertion is four years old on the server's clock: invalid_client.
    const stale: oauth.Client = { client_id: registered.client_id };
    const refused = oauth.clientCredentialsGrantRequest(as, stale, auth, new URLSearchParams(), viaServer(h));
    await expect(refused.then((response) => oauth.processClientCredentialsResponse(as, stale, response))).rejects.toMatchObject({ error: 'invalid_client', status: 401 });
  });

  it('AUTHZ-DCR-03 / AUTHZ-REV-03/05: a public client registered by oauth4webapi logs in with PKCE; revoking its refresh token ends the grant', async () => {
    const h = createHarness();
    const as = await discover(h);
    const redirectUri = 'http://127.0.0.1/callback';
    const registered = await oauth.processDynamicClientRegistrationResponse(
      await oauth.dynamicClientRegistrationRequest(
        as,
        { redirect_uris: [redirectUri], token_endpoint_auth_method: 'none', grant_types: ['authorization_code', 'refresh_token'], client_name: 'oauth4webapi native' },
        viaServer(h),
      ),
    );
    expect(registered.client_secret).toBeUndefined();
    const client: oauth.Client = { client_id: registered.client_id, token_endpoint_auth_method: 'none' };
    const auth = oauth.None();

    const verifier = oauth.generateRandomCodeVerifier();
    const state = oauth.generateRandomState();
    const authorizationUrl = new URL(as.authorization_endpoint!);
    authorizationUrl.search = new URLSearchParams({
      response_type: 'code',
      client_id: client.client_id,
      redirect_uri: redirectUri,
      scope: 'mcp:tools',
      state,
      code_challenge: await oauth.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
    }).toString();
    const redirect = await h.server.fetch(new Request(authorizationUrl));
    // validateAuthResponse checks state and the RFC 9207 iss parameter.
    const callback = oauth.validateAuthResponse(as, client, new URL(redirect.headers.get('location')!), state);
    const tokens = await oauth.processAuthorizationCodeResponse(
      as,
      client,
      await oauth.authorizationCodeGrantRequest(as, client, auth, callback, redirectUri, verifier, viaServer(h)),
    );
    expect(tokens.refresh_token).toBeTruthy();
    expect((await h.bearer(tokens.access_token)).ok).toBe(true);

    await oauth.processRevocationResponse(
      await oauth.revocationRequest(as, client, auth, tokens.refresh_token!, { ...viaServer(h), additionalParameters: { token_type_hint: 'refresh_token' } }),
    );
    expect((await h.bearer(tokens.access_token)).ok, 'the grant went with its refresh token').toBe(false);
    const refresh = oauth.refreshTokenGrantRequest(as, client, auth, tokens.refresh_token!, viaServer(h));
    await expect(refresh.then((response) => oauth.processRefreshTokenResponse(as, client, response))).rejects.toMatchObject({ error: 'invalid_grant' });
    // Public clients cannot introspect (decision); oauth4webapi sees the 401 and its Basic challenge.
    const introspection = oauth.introspectionRequest(as, client, auth, tokens.access_token, viaServer(h));
    const error = await introspection.then((response) => oauth.processIntrospectionResponse(as, client, response)).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(oauth.WWWAuthenticateChallengeError);
    expect(error).toMatchObject({ status: 401, cause: [{ scheme: 'basic', parameters: { realm: ISSUER } }] });
  });
});
