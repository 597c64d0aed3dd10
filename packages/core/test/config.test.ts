import { describe, expect, it } from 'vitest';
import { AuthorizationServer, KeywardConfigError, ResourceServerGuard, type AuthorizationServerOptions, type Store } from '@keyward/core';
import { MemoryStore } from '@keyward/core/memory';
import { ISSUER, RESOURCE, setup } from './support.js';

/** Options with everything valid; each test breaks one thing. */
function options(overrides: Partial<AuthorizationServerOptions> = {}): AuthorizationServerOptions {
  return { issuer: ISSUER, store: new MemoryStore(), ...overrides };
}

function configError(build: () => unknown, code = 'ERR_KEYWARD_INVALID_OPTION', message?: RegExp): KeywardConfigError {
  let caught: unknown;
  try {
    build();
  } catch (error) {
    caught = error;
  }
  expect(caught, 'expected a KeywardConfigError').toBeInstanceOf(KeywardConfigError);
  const error = caught as KeywardConfigError;
  expect(error).toBeInstanceOf(TypeError);
  expect(error.name).toBe('KeywardConfigError');
  expect(error.code).toBe(code);
  if (message) expect(error.message).toMatch(message);
  return error;
}

describe('configuration is validated at construction (KeywardConfigError)', () => {
  it('a minimal valid configuration constructs', () => {
    const server = new AuthorizationServer(options());
    expect(server.issuer).toBe(ISSUER);
    expect(server.endpoints.token).toBe(`${ISSUER}/oauth/token`);
  });

  it('refuses an issuer that is not an absolute URL, or has a query or fragment (RFC 8414 §2)', () => {
    configError(() => new AuthorizationServer(options({ issuer: 'not a url' })), undefined, /issuer/);
    configError(() => new AuthorizationServer(options({ issuer: '/relative' })), undefined, /issuer/);
    configError(() => new AuthorizationServer(options({ issuer: 'https://auth.example.com?tenant=1' })), undefined, /issuer/);
    configError(() => new AuthorizationServer(options({ issuer: 'https://auth.example.com#x' })), undefined, /issuer/);
    configError(() => new AuthorizationServer(options({ issuer: 42 as unknown as string })), undefined, /issuer/);
  });

  it('refuses devLogin unless the issuer is a loopback http URL', () => {
    for (const issuer of ['https://auth.example.com', 'https://localhost:3009']) {
      configError(() => new AuthorizationServer(options({ issuer, devLogin: { subject: 'demo' } })), 'ERR_KEYWARD_DEV_LOGIN');
    }
    for (const issuer of ['http://localhost:3009', 'http://127.0.0.1:3009', 'http://[::1]:3009']) {
      expect(() => new AuthorizationServer(options({ issuer, devLogin: { subject: 'demo' } }))).not.toThrow();
    }
    configError(() => new AuthorizationServer(options({ devLogin: { subject: '' } })), undefined, /devLogin/);
  });

  it('AUTHZ-DISC-02: refuses an issuer that is neither https nor loopback http (RFC 8414 §2)', () => {
    for (const issuer of ['http://auth.example.com', 'http://127.0.0.2:3009', 'ftp://x.example', 'https://a.example/?q=1']) {
      configError(() => new AuthorizationServer(options({ issuer })), 'ERR_KEYWARD_INVALID_OPTION', /issuer/);
    }
  });

  it('refuses two resources whose metadata would share a path', () => {
    configError(
      () => new AuthorizationServer(options({ resources: ['https://a.example/mcp', 'https://b.example/mcp'] })),
      'ERR_KEYWARD_INVALID_OPTION',
      /metadata path/,
    );
  });

  it('STORE-V2: asks for the LoginStore group only when the built-in login is on', () => {
    const store = new MemoryStore();
    // A store of the token endpoints only: no sessions, no consents.
    const tokensOnly = new Proxy(store, {
      get: (target, property) => (['saveSession', 'getSession', 'deleteSession', 'saveConsent', 'getConsent'].includes(String(property)) ? undefined : Reflect.get(target, property)),
    }) as Store;
    const users = { verify: async () => null };
    configError(() => new AuthorizationServer(options({ store: tokensOnly, login: { users } })), 'ERR_KEYWARD_STORE_CAPABILITY', /LoginStore/);
    expect(() => new AuthorizationServer(options({ store: tokensOnly }))).not.toThrow();
    expect(() => new AuthorizationServer(options({ store, login: { users } }))).not.toThrow();
    configError(() => new AuthorizationServer(options({ store: {} as Store })), undefined, /store/);
  });

  it('refuses scope tokens outside the RFC 6749 grammar, and default scopes that are not supported', () => {
    for (const scope of ['has space', 'quote"', 'back\\slash', '', 'é']) {
      configError(() => new AuthorizationServer(options({ scopes: ['mcp:tools', scope] })), undefined, /scopes/);
    }
    configError(() => new AuthorizationServer(options({ scopes: ['mcp:tools'], defaultScopes: ['mcp:admin'] })), undefined, /defaultScopes/);
    configError(() => new AuthorizationServer(options({ clients: [{ clientId: 'c', scopes: ['bad scope'] }] })));
  });

  it('refuses bad clients: duplicates, secret methods without a secret, public and confidential at once', () => {
    configError(() => new AuthorizationServer(options({ clients: [{ clientId: 'a' }, { clientId: 'a' }] })), undefined, /twice/);
    configError(() => new AuthorizationServer(options({ clients: [{ clientId: 'a', tokenEndpointAuthMethod: 'client_secret_basic' }] })), undefined, /clientSecret/);
    configError(
      () => new AuthorizationServer(options({ clients: [{ clientId: 'a', clientSecret: 'sixteen-characters', tokenEndpointAuthMethod: ['none', 'client_secret_post'] }] })),
      undefined,
      /public/,
    );
    configError(() => new AuthorizationServer(options({ clients: [{ clientId: '' }] })));
    configError(() => new AuthorizationServer(options({ clients: [{ clientId: 'a', grantTypes: ['password' as 'client_credentials'] }] })));
    configError(() => new AuthorizationServer(options({ clients: [{ clientId: 'a', tokenEndpointAuthMethod: 'tls_client_auth' as 'none' }] })));
  });

  it('refuses client redirect URIs that could not be registered', () => {
    for (const uri of ['https://a.example/cb#f', 'http://evil.example/cb', 'javascript:alert(1)', 'myapp:/cb', '/cb']) {
      configError(() => new AuthorizationServer(options({ clients: [{ clientId: 'a', redirectUris: [uri] }] })), undefined, /redirect URI/);
    }
  });

  it('accepts paths that name only some endpoints, as the options type allows', () => {
    const server = new AuthorizationServer(options({ paths: { token: '/oauth/token' } }));
    expect(server).toBeInstanceOf(AuthorizationServer);
  });

  it('refuses bad resources, paths, lifetimes, signing and schemes', () => {
    configError(() => new AuthorizationServer(options({ resources: ['/mcp'] })), undefined, /resources/);
    configError(() => new AuthorizationServer(options({ resources: ['https://mcp.example.com/mcp#x'] })), undefined, /fragment/);
    configError(() => new AuthorizationServer(options({ resources: [] })), undefined, /resources/);
    configError(() => new AuthorizationServer(options({ paths: { token: 'token' } })), undefined, /paths/);
    configError(() => new AuthorizationServer(options({ paths: { token: '/token?x=1' } })), undefined, /paths/);
    configError(() => new AuthorizationServer(options({ ttl: { accessToken: 0 } })), undefined, /ttl/);
    configError(() => new AuthorizationServer(options({ ttl: { authorizationCode: -1 } })), undefined, /ttl/);
    configError(() => new AuthorizationServer(options({ ttl: { refreshToken: 1.5 } })), undefined, /ttl/);
    configError(() => new AuthorizationServer(options({ signing: { hmacSecret: 'too-short' } })), undefined, /hmacSecret/);
    configError(() => new AuthorizationServer(options({ signing: { algorithm: 'HS256' as 'RS256' } })), undefined, /signing/);
    configError(() => new AuthorizationServer(options({ signing: { algorithm: 'none' as 'RS256' } })), undefined, /signing/);
    configError(() => new AuthorizationServer(options({ refreshTokenReuseGraceSeconds: 61 })), undefined, /refreshTokenReuseGraceSeconds/);
    configError(() => new AuthorizationServer(options({ refreshTokenReuseGraceSeconds: -1 })), undefined, /refreshTokenReuseGraceSeconds/);
    configError(() => new AuthorizationServer(options({ redirectUriSchemes: ['Cursor'] })), undefined, /redirectUriSchemes/);
    configError(() => new AuthorizationServer(options({ clock: 5 as unknown as () => number })), undefined, /clock/);
  });

  it('createGuard refuses a resource the server does not issue tokens for', () => {
    const server = new AuthorizationServer(options({ resources: [RESOURCE] }));
    expect(server.createGuard().resource).toBe(RESOURCE);
    configError(() => server.createGuard({ resource: 'https://other.example/mcp' }), undefined, /not configured/);
  });

  it('ResourceServerGuard refuses missing keys and non-URL identifiers', () => {
    const base = { issuer: ISSUER, resource: RESOURCE, resourceMetadataUrl: `${ISSUER}/.well-known/oauth-protected-resource/mcp` };
    configError(() => new ResourceServerGuard(base), undefined, /jwksUri or keys/);
    const keys = async () => new Uint8Array(32);
    configError(() => new ResourceServerGuard({ ...base, keys, issuer: 'issuer' }), undefined, /issuer/);
    configError(() => new ResourceServerGuard({ ...base, keys, resource: '/mcp' }), undefined, /resource/);
    configError(() => new ResourceServerGuard({ ...base, keys, resourceMetadataUrl: 'x' }), undefined, /resourceMetadataUrl/);
    expect(() => new ResourceServerGuard({ ...base, keys })).not.toThrow();
  });

  it('approving more scopes than were requested is a programming error, not an OAuth response', async () => {
    const h = setup({ interactive: true });
    await h.authorize({ scope: 'mcp:tools' });
    await expect(h.server.completeInteraction(h.pending[0]!.interactionId, { subject: 'alice', scopes: ['mcp:tools', 'mcp:admin'] })).rejects.toBeInstanceOf(
      KeywardConfigError,
    );
  });
});
