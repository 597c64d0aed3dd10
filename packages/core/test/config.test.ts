import { describe, expect, it } from 'vitest';
import { AuthorizationServer, KeywardConfigError, ResourceServerGuard, type AuthorizationServerOptions, type Store } from '@keyward/core';
import { MemoryStore } from '@keyward/core/memory';
import { resolveConfig, type ResolvedConfig } from '../src/server/config.js';
import { ISSUER, RESOURCE, RESOURCE_B, setup } from './support.js';

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

/** Every object and array reachable from `value`, with its path. */
function* reachable(value: unknown, path = 'config'): Generator<[string, object]> {
  if (typeof value !== 'object' || value === null) return;
  yield [path, value];
  for (const [key, item] of Object.entries(value)) yield* reachable(item, `${path}.${key}`);
}

describe('resolveConfig: the options resolved once into one frozen configuration', () => {
  it('applies every default of a minimal configuration', () => {
    const config = resolveConfig(options());
    const expected: ResolvedConfig = {
      issuer: ISSUER,
      base: ISSUER,
      endpoints: {
        authorization: `${ISSUER}/oauth/authorize`,
        token: `${ISSUER}/oauth/token`,
        jwks: `${ISSUER}/oauth/keys`,
        userinfo: `${ISSUER}/oauth/userinfo`,
        registration: `${ISSUER}/oauth/register`,
        revocation: `${ISSUER}/oauth/revoke`,
        introspection: `${ISSUER}/oauth/introspect`,
      },
      scopesSupported: ['openid', 'profile', 'email', 'offline_access'],
      defaultScopes: [],
      // The OpenID Connect scopes are never a resource's own.
      resources: [{ resource: `${ISSUER}/mcp`, scopes: [], resourceName: undefined, metadataUrl: 'http://localhost:3009/.well-known/oauth-protected-resource/mcp' }],
      defaultResource: `${ISSUER}/mcp`,
      ttl: { accessToken: 3600, refreshToken: 30 * 24 * 3600, authorizationCode: 60, interaction: 600 },
      refreshReuseGraceMs: 2000,
      accessTokenAlgorithm: 'ES256',
      keys: { algorithms: ['ES256', 'RS256'], retiredKeyOverlapSeconds: 3900, rotateAfterSeconds: undefined },
      redirectUriSchemes: [],
      registration: { rateLimit: { max: 20, windowSeconds: 60 }, requireInitialAccessToken: false, clientSecretLifetime: 0, unusedClientLifetime: 30 * 24 * 3600, allowedScopes: undefined },
      revocation: true,
      introspection: {},
      clientIdMetadataDocuments: true,
      builtInLogin: false,
      staticClients: [],
      rateLimits: {
        token: { windowMs: 60_000, max: 120 },
        authorize: { windowMs: 60_000, max: 60 },
        revoke: { windowMs: 60_000, max: 60 },
        introspect: { windowMs: 60_000, max: 600 },
        userinfo: { windowMs: 60_000, max: 120 },
        login: { windowMs: 60_000, max: 60 },
        register: { windowMs: 60_000, max: 20 },
        consent: { windowMs: 60_000, max: 60 },
      },
      securityHeaders: { 'x-content-type-options': 'nosniff', 'referrer-policy': 'no-referrer' },
      refusePlainHTTP: false,
    };
    expect(config).toStrictEqual(expected);
  });

  it('derives what depends on other options: base, HSTS, the https decision, signing keys, the login decision, resource scopes', () => {
    const https = resolveConfig(options({ issuer: 'https://auth.example.com/tenant/', enforceHTTPS: true }));
    expect(https.base).toBe('https://auth.example.com/tenant');
    expect(https.endpoints.token).toBe('https://auth.example.com/tenant/oauth/token');
    expect(https.securityHeaders['strict-transport-security']).toBe('max-age=31536000; includeSubDomains');
    expect(https.refusePlainHTTP).toBe(true);
    // A loopback http issuer is the development exception: its requests are never refused for their scheme.
    expect(resolveConfig(options({ enforceHTTPS: true })).refusePlainHTTP).toBe(false);

    expect(resolveConfig(options({ signing: { hmacSecret: 'h'.repeat(32) } }))).toMatchObject({ accessTokenAlgorithm: 'HS256', keys: { algorithms: ['RS256'] } });
    expect(resolveConfig(options({ signing: { algorithm: 'RS256' } }))).toMatchObject({ accessTokenAlgorithm: 'RS256', keys: { algorithms: ['RS256'] } });
    expect(resolveConfig(options({ signing: { algorithm: 'EdDSA', rotateAfterSeconds: 86_400 }, ttl: { accessToken: 600 } }))).toMatchObject({
      accessTokenAlgorithm: 'EdDSA',
      keys: { algorithms: ['EdDSA', 'RS256'], retiredKeyOverlapSeconds: 900, rotateAfterSeconds: 86_400 },
    });

    const users = { verify: async () => null };
    expect(resolveConfig(options({ login: { users } })).builtInLogin).toBe(true);
    expect(resolveConfig(options({ login: { users }, interaction: async () => new Response() })).builtInLogin).toBe(false);
    expect(resolveConfig(options({ login: { users }, devLogin: { subject: 'demo' } })).builtInLogin).toBe(false);

    // A resource without scopes of its own advertises what a self-registered client could be granted.
    const scoped = resolveConfig(
      options({ scopes: ['mcp:tools', 'mcp:admin', 'openid'], registration: { allowedScopes: ['mcp:tools', 'openid'] }, resources: [RESOURCE, { resource: RESOURCE_B, scopes: ['mcp:admin'], resourceName: 'Files' }] }),
    );
    expect(scoped.resources.map(({ resource, scopes, resourceName }) => ({ resource, scopes, resourceName }))).toEqual([
      { resource: RESOURCE, scopes: ['mcp:tools'], resourceName: undefined },
      { resource: RESOURCE_B, scopes: ['mcp:admin'], resourceName: 'Files' },
    ]);
    expect(resolveConfig(options({ scopes: ['mcp:tools', 'mcp:admin'], registration: false })).resources[0]!.scopes).toEqual(['mcp:tools', 'mcp:admin']);
    // A resource configured twice is served once, in its first place, as last configured.
    const twice = resolveConfig(options({ resources: [RESOURCE, RESOURCE_B, { resource: RESOURCE, resourceName: 'Again' }] }));
    expect(twice.resources.map((resource) => [resource.resource, resource.resourceName])).toEqual([
      [RESOURCE, 'Again'],
      [RESOURCE_B, undefined],
    ]);
    expect(twice.defaultResource).toBe(RESOURCE);
  });

  it('resolves rate limits: registration sets the register default, options override, consent shares login', () => {
    const config = resolveConfig(options({ registration: { rateLimit: { max: 5, windowSeconds: 10 } }, rateLimits: { token: { windowMs: 1000, max: 3 }, revoke: false } }));
    expect(config.rateLimits.register).toEqual({ windowMs: 10_000, max: 5 });
    expect(config.rateLimits.token).toEqual({ windowMs: 1000, max: 3 });
    expect(config.rateLimits).not.toHaveProperty('revoke');
    expect(config.rateLimits.consent).toEqual(config.rateLimits.login);

    const closed = resolveConfig(options({ registration: false, rateLimits: { login: false } }));
    expect(closed.registration).toBe(false);
    expect(Object.keys(closed.rateLimits).sort()).toEqual(['authorize', 'introspect', 'revoke', 'token', 'userinfo']);
    expect(resolveConfig(options({ registration: { rateLimit: false } })).rateLimits).not.toHaveProperty('register');
  });

  it('resolves configured clients without their secrets, and keeps no secret at all', () => {
    const clientSecret = 'a-client-secret-of-some-length';
    const hmacSecret = 'an-hmac-secret-that-is-long-enough-for-hs256';
    const config = resolveConfig(
      options({
        signing: { hmacSecret },
        registration: { initialAccessTokens: ['an-initial-access-token'] },
        clients: [
          { clientId: 'files-api', clientSecret, grantTypes: ['client_credentials'], introspection: { resources: [RESOURCE] } },
          { clientId: 'spa', tokenEndpointAuthMethod: 'none', redirectUris: ['https://app.example.com/cb'], trusted: true },
          { clientId: 'admin', clientSecret, tokenEndpointAuthMethod: ['client_secret_post', 'client_secret_basic'], introspection: 'all' },
        ],
      }),
    );
    expect(config.staticClients.map(({ record, authMethods, trusted, introspection }) => [record.clientId, record.tokenEndpointAuthMethod, authMethods, trusted, introspection])).toEqual([
      ['files-api', 'client_secret_basic', ['client_secret_basic'], false, [RESOURCE]],
      ['spa', 'none', ['none'], true, undefined],
      ['admin', 'client_secret_post', ['client_secret_post', 'client_secret_basic'], false, 'all'],
    ]);
    expect(config.staticClients[0]!.record.clientSecretHash).toBeUndefined();
    expect(config.staticClients[1]!.record).toMatchObject({ redirectUris: ['https://app.example.com/cb'], grantTypes: ['authorization_code', 'refresh_token'], responseTypes: ['code'] });
    const text = JSON.stringify(config);
    for (const secret of [clientSecret, hmacSecret, 'an-initial-access-token']) expect(text).not.toContain(secret);
  });

  it('is frozen all the way down: writing to any part throws in strict mode', () => {
    const config = resolveConfig(
      options({ clients: [{ clientId: 'spa', redirectUris: ['https://app.example.com/cb'], scopes: ['openid'] }], resources: [{ resource: RESOURCE, scopes: ['openid'] }] }),
    );
    const parts = [...reachable(config)];
    expect(parts.length).toBeGreaterThan(20);
    for (const [path, part] of parts) expect(Object.isFrozen(part), path).toBe(true);
    // ES modules run in strict mode, where a write to a frozen object throws.
    const mutable = config as unknown as { issuer: string; endpoints: Record<string, string>; scopesSupported: string[]; rateLimits: Record<string, { max: number }> };
    expect(() => (mutable.issuer = 'https://evil.example')).toThrow(TypeError);
    expect(() => (mutable.endpoints.token = 'https://evil.example/token')).toThrow(TypeError);
    expect(() => mutable.scopesSupported.push('mcp:admin')).toThrow(TypeError);
    expect(() => (mutable.rateLimits.token!.max = 1_000_000)).toThrow(TypeError);
    expect(() => (config.staticClients[0]!.record.redirectUris as string[]).push('https://evil.example/cb')).toThrow(TypeError);
    expect(() => (config.resources[0]!.scopes as string[]).push('mcp:admin')).toThrow(TypeError);
    expect(config.scopesSupported).toEqual(['openid', 'profile', 'email', 'offline_access']);
  });

  it('neither freezes nor keeps the options: they stay writable, and later edits do not reach the configuration', () => {
    const scopes = ['mcp:tools', 'openid'];
    const redirectUris = ['https://app.example.com/cb'];
    const resourceScopes = ['mcp:tools'];
    const paths = { token: '/token' };
    const given = options({ scopes, paths, clients: [{ clientId: 'spa', redirectUris }], resources: [{ resource: RESOURCE, scopes: resourceScopes }] });
    const config = resolveConfig(given);
    scopes.push('mcp:admin');
    redirectUris.push('https://other.example/cb');
    resourceScopes.push('mcp:admin');
    paths.token = '/elsewhere';
    expect(config.scopesSupported).toEqual(['mcp:tools', 'openid']);
    expect(config.staticClients[0]!.record.redirectUris).toEqual(['https://app.example.com/cb']);
    expect(config.resources[0]!.scopes).toEqual(['mcp:tools']);
    expect(config.endpoints.token).toBe(`${ISSUER}/token`);
    expect(Object.isFrozen(given)).toBe(false);
  });

  it('is pure: the same options give equal configurations, each its own', () => {
    const given = options({
      issuer: 'https://auth.example.com',
      scopes: ['mcp:tools', 'openid'],
      defaultScopes: ['mcp:tools'],
      clients: [{ clientId: 'cli', clientSecret: 'sixteen-characters', introspection: 'all' }],
      resources: [{ resource: 'https://mcp.example.com/mcp', resourceName: 'MCP' }],
      ttl: { accessToken: 300 },
      rateLimits: { token: false },
    });
    const first = resolveConfig(given);
    const second = resolveConfig(given);
    expect(second).toStrictEqual(first);
    expect(second).not.toBe(first);
    expect(resolveConfig({ ...given, ttl: { accessToken: 301 } })).not.toStrictEqual(first);
  });

  it('refuses invalid options with the KeywardConfigError the server gives, message and code alike', () => {
    const users = { verify: async () => null };
    const tokensOnly = new Proxy(new MemoryStore(), {
      get: (target, property) => (['saveSession', 'getSession', 'deleteSession', 'saveConsent', 'getConsent'].includes(String(property)) ? undefined : Reflect.get(target, property)),
    }) as Store;
    const cases: [Partial<AuthorizationServerOptions>, string, RegExp][] = [
      [{ issuer: 'http://auth.example.com', enforceHTTPS: true }, 'ERR_KEYWARD_INSECURE_ISSUER', /^enforceHTTPS is on but the issuer http:\/\/auth\.example\.com is not an https URL$/],
      [{ issuer: 'https://auth.example.com?x=1' }, 'ERR_KEYWARD_INVALID_OPTION', /^AuthorizationServer option issuer must not have a query or fragment$/],
      [{ store: tokensOnly, login: { users } }, 'ERR_KEYWARD_STORE_CAPABILITY', /^login needs a store with the LoginStore methods/],
      [{ issuer: 'https://auth.example.com', devLogin: { subject: 'demo' } }, 'ERR_KEYWARD_DEV_LOGIN', /^devLogin is refused unless the issuer is a loopback http URL$/],
      [{ scopes: ['mcp:tools'], defaultScopes: ['mcp:admin'] }, 'ERR_KEYWARD_INVALID_OPTION', /^defaultScopes must be a subset of scopes$/],
      [{ resources: ['https://mcp.example.com/mcp#x'] }, 'ERR_KEYWARD_INVALID_OPTION', /^resource https:\/\/mcp\.example\.com\/mcp#x: .*fragment/],
      [{ clients: [{ clientId: 'a' }, { clientId: 'a' }] }, 'ERR_KEYWARD_INVALID_OPTION', /^client a is configured twice$/],
      [{ clients: [{ clientId: 'a', tokenEndpointAuthMethod: 'client_secret_post' }] }, 'ERR_KEYWARD_INVALID_OPTION', /^client a uses client_secret_post but has no clientSecret$/],
      [{ clients: [{ clientId: 'a', redirectUris: ['http://evil.example/cb'] }] }, 'ERR_KEYWARD_INVALID_OPTION', /^client a redirect URI http:\/\/evil\.example\/cb: /],
      [{ clients: [{ clientId: 'a', introspection: 'all' }] }, 'ERR_KEYWARD_INVALID_OPTION', /^client a needs a clientSecret to introspect tokens$/],
      [
        { clients: [{ clientId: 'a', clientSecret: 'sixteen-characters', introspection: { resources: ['https://other.example/mcp'] } }] },
        'ERR_KEYWARD_INVALID_OPTION',
        /^client a introspection resource https:\/\/other\.example\/mcp is not one of the server's resources$/,
      ],
      [
        { resources: ['https://a.example/mcp', 'https://b.example/mcp'] },
        'ERR_KEYWARD_INVALID_OPTION',
        /^resources with the same metadata path \/\.well-known\/oauth-protected-resource\/mcp cannot be served by one server; give them distinct paths$/,
      ],
      // A resource without a path has its metadata where the default resource's root document is served.
      [{ resources: ['https://a.example/mcp', 'https://b.example'] }, 'ERR_KEYWARD_INVALID_OPTION', /^resources with the same metadata path \/\.well-known\/oauth-protected-resource cannot/],
      [{ ttl: { accessToken: 0 } }, 'ERR_KEYWARD_INVALID_OPTION', /^AuthorizationServer option ttl\.accessToken /],
    ];
    for (const [overrides, code, message] of cases) {
      const fromConfig = configError(() => resolveConfig(options(overrides)), code, message);
      const fromServer = configError(() => new AuthorizationServer(options(overrides)), code, message);
      expect(fromConfig.message).toBe(fromServer.message);
    }
    // A resource whose metadata path is one of the issuer's discovery documents is refused too, when OpenID is on.
    const odd = { issuer: `${ISSUER}/.well-known/oauth-protected-resource`, resources: ['https://x.example/.well-known/openid-configuration'] };
    const clash = /^resources with the same metadata path \/\.well-known\/oauth-protected-resource\/\.well-known\/openid-configuration cannot/;
    expect(configError(() => resolveConfig(options(odd)), undefined, clash).message).toBe(configError(() => new AuthorizationServer(options(odd)), undefined, clash).message);
    expect(() => resolveConfig(options({ ...odd, scopes: ['mcp:tools'] }))).not.toThrow();
  });
});
