import { describe, expect, it } from 'vitest';
import { AuthorizationServer } from '@keyward/core';
import { PAGE_SECURITY_HEADERS } from '../src/protocol/http.js';
import { MemoryStore } from '@keyward/core/memory';

describe('HTTP hardening', () => {
  // Chrome and Safari check form-action against the redirect a form POST answers with, so `form-action
  // 'self'` would block the consent form's 303 to the client's redirect URI.
  it("page CSP has no form-action that would block the consent form's redirect to the client", () => {
    expect(PAGE_SECURITY_HEADERS['content-security-policy']).not.toMatch(/form-action/);
    expect(PAGE_SECURITY_HEADERS['content-security-policy']).toMatch(/frame-ancestors 'none'/);
  });

  it('refuses an oversized token request body with 413 before buffering it', async () => {
    const server = new AuthorizationServer({ issuer: 'http://localhost:3009', store: new MemoryStore() });
    const response = await server.request('/oauth/token', {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: `grant_type=client_credentials&padding=${'x'.repeat(2 * 1024 * 1024)}`,
    });
    expect(response.status).toBe(413);
    expect((await response.json()).error).toBe('invalid_request');
  });

  it('refuses an oversized registration body with 413', async () => {
    const server = new AuthorizationServer({ issuer: 'http://localhost:3009', store: new MemoryStore() });
    const response = await server.request('/oauth/register', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ redirect_uris: ['http://127.0.0.1/cb'], client_name: 'x'.repeat(100_000) }),
    });
    expect(response.status).toBe(413);
  });
});
