// createApp(env) in-process: how the environment variables shape the server, and which ones are refused.
import { describe, expect, it } from 'vitest';
import { calculatePKCECodeChallenge, randomToken } from '@keyward/core';
import { createApp } from '../src/app.js';

describe('createApp(env)', () => {
  it('AUTHZ-DISC-02: uses OAUTH_ISSUER byte for byte, trailing slash included, and serves /mcp beside it', async () => {
    const example = await createApp({ OAUTH_ISSUER: 'http://127.0.0.1:4000/' });
    const metadata = await (await example.server.request('/.well-known/oauth-authorization-server')).json();
    expect(metadata.issuer).toBe('http://127.0.0.1:4000/');
    const resource = await (await example.server.request('/.well-known/oauth-protected-resource/mcp')).json();
    expect(resource).toMatchObject({ resource: 'http://127.0.0.1:4000/mcp', authorization_servers: ['http://127.0.0.1:4000/'] });
    await example.close();
  });

  it('registers OAUTH_REDIRECT_URIS for the public client instead of the defaults', async () => {
    const example = await createApp({ PORT: '4001', OAUTH_DEV_LOGIN: 'demo', OAUTH_REDIRECT_URIS: 'http://localhost:9999/cb, http://127.0.0.1/other' });
    const challenge = await calculatePKCECodeChallenge(randomToken());
    const authorize = (redirectUri: string) =>
      example.server.request(
        `/oauth/authorize?response_type=code&client_id=mcp-public-client&code_challenge=${challenge}&code_challenge_method=S256&redirect_uri=${encodeURIComponent(redirectUri)}`,
      );
    expect((await authorize('http://localhost:9999/cb')).status).toBe(302);
    expect((await authorize('http://127.0.0.1:5555/other')).status).toBe(302);
    expect((await authorize('http://localhost:8080/callback')).status).toBe(400);
    await example.close();
  });

  it('generates a demo password unless OAUTH_DEMO_PASSWORD is set', async () => {
    const generated = await createApp({});
    const chosen = await createApp({ OAUTH_DEMO_PASSWORD: 'chosen-password' });
    expect(generated.demoPassword.generated).toBe(true);
    expect(chosen.demoPassword).toEqual({ value: 'chosen-password', generated: false });
    await Promise.all([generated.close(), chosen.close()]);
  });

  it('refuses configurations that cannot work', async () => {
    await expect(createApp({ OAUTH_STORE: 'sqlite' })).rejects.toThrow(/OAUTH_STORE=sqlite is not supported yet/);
    await expect(createApp({ OAUTH_CLIENT_ID: 'lonely' })).rejects.toThrow(/OAUTH_CLIENT_ID and OAUTH_CLIENT_SECRET/);
    await expect(createApp({ OAUTH_ISSUER: 'https://mcp.example.com', OAUTH_DEV_LOGIN: 'demo' })).rejects.toThrow(/devLogin is refused/);
    await expect(createApp({ JWT_SECRET: 'too-short' })).rejects.toThrow(/hmacSecret/);
  });
});
