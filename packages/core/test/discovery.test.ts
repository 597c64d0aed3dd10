import { describe, expect, it } from 'vitest';
import { AuthorizationServer } from '@keyward/core';
import { authorizationServerMetadata } from '../src/protocol/metadata.js';
import { MemoryStore } from '@keyward/core/memory';
import { CLIENTS, ISSUER, PATHS, setup } from './support.js';

async function metadataOf(server: AuthorizationServer, path: string = PATHS.asMetadata) {
  const response = await server.request(path);
  expect(response.status).toBe(200);
  expect(response.headers.get('content-type')).toMatch(/^application\/json/);
  return (await response.json()) as Record<string, unknown>;
}

function serverWithIssuer(issuer: string, scopes?: string[]) {
  return new AuthorizationServer({ issuer, store: new MemoryStore(), scopes, clients: [CLIENTS.public] });
}

describe('A1 discovery and metadata', () => {
  it('AUTHZ-DISC-01: metadata is served with the well-known segment inserted before the issuer path', async () => {
    const server = serverWithIssuer('http://localhost:3009/tenant1');
    const metadata = await metadataOf(server, '/.well-known/oauth-authorization-server/tenant1');
    expect(metadata.issuer).toBe('http://localhost:3009/tenant1');
    expect(metadata.token_endpoint).toBe('http://localhost:3009/tenant1/oauth/token');
    // Not appended, and not at the root, for an issuer with a path.
    expect((await server.request('/tenant1/.well-known/oauth-authorization-server')).status).toBe(404);
    expect((await server.request('/.well-known/oauth-authorization-server')).status).toBe(404);
  });

  it('AUTHZ-DISC-01: an issuer without a path serves metadata at the root well-known URL', async () => {
    const { server } = setup();
    const metadata = await metadataOf(server);
    expect(metadata.issuer).toBe(ISSUER);
  });

  it('AUTHZ-DISC-02: issuer is byte-equal to the configured one, and required members are present', async () => {
    for (const issuer of ['http://localhost:3009', 'http://localhost:3009/', 'http://localhost:3009/tenant1', 'http://localhost:3009/tenant1/']) {
      const server = serverWithIssuer(issuer);
      const path = new URL(issuer).pathname.replace(/\/$/, '');
      const metadata = await metadataOf(server, `/.well-known/oauth-authorization-server${path}`);
      expect(metadata.issuer).toBe(issuer);
      expect(metadata.authorization_endpoint).toBeTypeOf('string');
      expect(metadata.token_endpoint).toBeTypeOf('string');
      expect(metadata.response_types_supported).toEqual(['code']);
      // The endpoints are built without doubling the slash of an issuer that ends with one.
      expect(metadata.authorization_endpoint).toBe(`${issuer.replace(/\/$/, '')}/oauth/authorize`);
      expect(metadata.jwks_uri).toBe(`${issuer.replace(/\/$/, '')}/oauth/keys`);
    }
  });

  it('AUTHZ-DISC-03: PKCE support is advertised as S256 only', async () => {
    const metadata = await metadataOf(setup().server);
    expect(metadata.code_challenge_methods_supported).toEqual(['S256']);
    expect(JSON.stringify(metadata)).not.toContain('"plain"');
  });

  it('AUTHZ-DISC-04: token_endpoint_auth_methods_supported lists none and the secret methods, nothing unknown', async () => {
    const methods = (await metadataOf(setup().server)).token_endpoint_auth_methods_supported as string[];
    expect(methods).toEqual(expect.arrayContaining(['none', 'client_secret_basic', 'client_secret_post']));
    for (const method of methods) expect(['none', 'client_secret_basic', 'client_secret_post', 'private_key_jwt']).toContain(method);
  });

  it('AUTHZ-DISC-05: openid-configuration is appended to the issuer path, with the OIDC members and RS256', async () => {
    const server = serverWithIssuer('http://localhost:3009/tenant1', ['openid', 'mcp:tools']);
    const oidc = await metadataOf(server, '/tenant1/.well-known/openid-configuration');
    const as = await metadataOf(server, '/.well-known/oauth-authorization-server/tenant1');
    expect(oidc.issuer).toBe('http://localhost:3009/tenant1');
    expect(oidc.jwks_uri).toBe(as.jwks_uri);
    expect(oidc.authorization_endpoint).toBe(as.authorization_endpoint);
    expect(oidc.token_endpoint).toBe(as.token_endpoint);
    expect(oidc.subject_types_supported).toEqual(['public']);
    expect(oidc.id_token_signing_alg_values_supported).toContain('RS256');
  });

  it('AUTHZ-DISC-05: no openid-configuration when openid is not a supported scope', async () => {
    const server = serverWithIssuer(ISSUER, ['mcp:tools']);
    expect((await server.request('/.well-known/openid-configuration')).status).toBe(404);
  });

  it('AUTHZ-DISC-06: every advertised URL answers, and iss support is advertised', async () => {
    const { server } = setup();
    const metadata = await metadataOf(server);
    expect(metadata.authorization_response_iss_parameter_supported).toBe(true);
    const urls = Object.entries(metadata).filter(([name, value]) => name.endsWith('_endpoint') || name === 'jwks_uri' ? typeof value === 'string' : false);
    expect(urls.length).toBeGreaterThanOrEqual(4);
    for (const [name, url] of urls) {
      const response = await server.fetch(new Request(url as string));
      expect(response.status, name).not.toBe(404);
    }
    // Features this server does not implement are never advertised.
    expect(metadata).not.toHaveProperty('pushed_authorization_request_endpoint');
    expect(metadata).not.toHaveProperty('require_pushed_authorization_requests');
    expect(metadata).not.toHaveProperty('dpop_signing_alg_values_supported');
  });

  it('AUTHZ-DISC-06: the metadata builder leaves out every optional endpoint that is not enabled', () => {
    const metadata = authorizationServerMetadata({
      issuer: ISSUER,
      authorizationEndpoint: `${ISSUER}/a`,
      tokenEndpoint: `${ISSUER}/t`,
      jwksUri: `${ISSUER}/k`,
      scopesSupported: ['mcp:tools'],
      grantTypesSupported: ['authorization_code'],
      tokenEndpointAuthMethodsSupported: ['none'],
    });
    for (const name of [
      'registration_endpoint',
      'revocation_endpoint',
      'introspection_endpoint',
      'userinfo_endpoint',
      'pushed_authorization_request_endpoint',
      'dpop_signing_alg_values_supported',
      'client_id_metadata_document_supported',
    ]) {
      expect(metadata, name).not.toHaveProperty(name);
    }
    const enabled = authorizationServerMetadata({
      issuer: ISSUER,
      authorizationEndpoint: `${ISSUER}/a`,
      tokenEndpoint: `${ISSUER}/t`,
      jwksUri: `${ISSUER}/k`,
      revocationEndpoint: `${ISSUER}/r`,
      introspectionEndpoint: `${ISSUER}/i`,
      registrationEndpoint: `${ISSUER}/reg`,
      clientIdMetadataDocumentSupported: true,
      scopesSupported: ['mcp:tools'],
      grantTypesSupported: ['authorization_code'],
      tokenEndpointAuthMethodsSupported: ['client_secret_basic', 'none'],
    });
    expect(enabled).toMatchObject({
      revocation_endpoint: `${ISSUER}/r`,
      introspection_endpoint: `${ISSUER}/i`,
      registration_endpoint: `${ISSUER}/reg`,
      client_id_metadata_document_supported: true,
      // RFC 7662: introspection needs an authenticated caller, so `none` is not offered there.
      introspection_endpoint_auth_methods_supported: ['client_secret_basic'],
    });
  });

  it('metadata documents are cacheable, answer CORS, and refuse methods other than GET', async () => {
    const { server } = setup();
    const response = await server.request(PATHS.asMetadata, { headers: { origin: 'https://inspector.example' } });
    expect(response.headers.get('access-control-allow-origin')).toBe('*');
    expect(response.headers.get('cache-control')).toMatch(/max-age/);
    const post = await server.request(PATHS.asMetadata, { method: 'POST' });
    expect(post.status).toBe(405);
  });

  it('AUTHZ-DISC-CORS-01: a preflight names the methods, request headers and max-age; the answers themselves carry only the origin and exposed fields (Fetch §3.2.3)', async () => {
    const { server } = setup();
    const preflight = await server.request(PATHS.token, { method: 'OPTIONS', headers: { origin: 'https://inspector.example', 'access-control-request-method': 'POST' } });
    expect(preflight.status).toBe(204);
    expect(preflight.headers.get('access-control-allow-methods')).toContain('POST');
    expect(preflight.headers.get('access-control-allow-headers')).toMatch(/authorization/i);
    expect(preflight.headers.get('access-control-max-age')).toBe('86400');
    const answers = [
      await server.request(PATHS.asMetadata, { headers: { origin: 'https://inspector.example' } }),
      await server.request(PATHS.token, { method: 'POST', headers: { origin: 'https://inspector.example', 'content-type': 'application/x-www-form-urlencoded' }, body: 'grant_type=nothing' }),
    ];
    // The token endpoint's answers may carry WWW-Authenticate or Retry-After, which scripts must be able to read; a
    // metadata document carries nothing beyond the CORS-safelisted fields.
    expect(answers[0]!.headers.has('access-control-expose-headers')).toBe(false);
    expect(answers[1]!.headers.get('access-control-expose-headers')).toMatch(/WWW-Authenticate/);
    for (const answer of answers) {
      expect(answer.headers.get('access-control-allow-origin')).toBe('*');
      for (const preflightOnly of ['access-control-allow-methods', 'access-control-allow-headers', 'access-control-max-age']) expect(answer.headers.has(preflightOnly)).toBe(false);
    }
  });
});
