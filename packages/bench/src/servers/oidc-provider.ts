/**
 * oidc-provider (Koa) with a confidential client_credentials client and JWT access tokens for one
 * resource: the resource indicators feature with `accessTokenFormat: 'jwt'` signed ES256, its default
 * in-memory adapter. `oidc-provider.ts express <port>` (the framework argument is ignored: it is Koa).
 */
import { createServer } from 'node:http';
import { exportJWK, generateKeyPair } from 'jose';
import Provider from 'oidc-provider';
import { announceReady, CC_CLIENT_ID, CC_CLIENT_SECRET, SCOPE, serverArgs } from './common.js';

/** The part of `Provider` used here (the package ships no types). */
type ProviderConstructor = new (issuer: string, configuration: Record<string, unknown>) => {
  callback(): Parameters<typeof createServer>[1];
};

const { port, issuer, resource } = serverArgs();
const signing = async (alg: 'ES256' | 'RS256') => {
  const { privateKey } = await generateKeyPair(alg, { extractable: true });
  return { ...(await exportJWK(privateKey)), alg, use: 'sig', kid: `${alg}-bench` };
};

const OIDCProvider = Provider as unknown as ProviderConstructor;
const provider = new OIDCProvider(issuer, {
  clients: [
    {
      client_id: CC_CLIENT_ID,
      client_secret: CC_CLIENT_SECRET,
      token_endpoint_auth_method: 'client_secret_post',
      grant_types: ['client_credentials'],
      redirect_uris: [],
      response_types: [],
    },
  ],
  // ES256 signs the access tokens; ID tokens default to RS256, so the keystore holds one of each.
  jwks: { keys: [await signing('ES256'), await signing('RS256')] },
  scopes: [SCOPE],
  features: {
    // Off as in production: only the token endpoint is measured, and its default would log a warning.
    devInteractions: { enabled: false },
    clientCredentials: { enabled: true },
    resourceIndicators: {
      enabled: true,
      defaultResource: () => resource,
      useGrantedResource: () => true,
      getResourceServerInfo: () => ({ scope: SCOPE, audience: resource, accessTokenTTL: 3600, accessTokenFormat: 'jwt', jwt: { sign: { alg: 'ES256' } } }),
    },
  },
  ttl: { ClientCredentials: 3600 },
  cookies: { keys: ['bench-only-cookie-signing-key'] },
});
const http = createServer(provider.callback());
await new Promise<void>((resolve) => http.listen(port, '127.0.0.1', () => resolve()));
announceReady();
