// MCP sessions (Mcp-Session-Id) are bound to the grant of the token that opened them: a session id is
// worthless with another grant's or another client's token (404, exactly like an unknown session), and
// survives a token refresh, which keeps the grant.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as oauth from 'oauth4webapi';
import { MCP_SESSION_NOT_FOUND } from '@keyward/core';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport, StreamableHTTPError } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { CONFIDENTIAL, devLoginTokens, insecure, postMcp, refresh, startExample, toolJSON, type RunningExample } from './support.js';

let example: RunningExample;

beforeAll(async () => {
  example = await startExample({ OAUTH_DEV_LOGIN: 'demo', OAUTH_CLIENT_ID: CONFIDENTIAL.id, OAUTH_CLIENT_SECRET: CONFIDENTIAL.secret });
});

afterAll(async () => {
  await example?.stop();
});

/**
 * An MCP SDK v1 client whose bearer token can be swapped between calls (as a host does after a refresh),
 * optionally resuming an existing session instead of initializing one.
 */
async function sessionClient(token: { current: string }, sessionId?: string): Promise<{ client: Client; transport: StreamableHTTPClientTransport }> {
  const transport = new StreamableHTTPClientTransport(new URL(`${example.base}/mcp`), {
    ...(sessionId && { sessionId }),
    fetch: (url, init) => {
      const headers = new Headers(init?.headers);
      headers.set('authorization', `Bearer ${token.current}`);
      return fetch(url, { ...init, headers });
    },
  });
  const client = new Client({ name: 'keyward-session-test', version: '0.0.0' });
  await client.connect(transport);
  return { client, transport };
}

async function callWhoami(client: Client): Promise<Record<string, unknown>> {
  return toolJSON(await client.callTool({ name: 'whoami', arguments: {} }));
}

/** A service token of the confidential client: another client, and a grant of its own. */
async function serviceToken(): Promise<string> {
  const as = { issuer: example.issuer, token_endpoint: `${example.base}/oauth/token` };
  const client = { client_id: CONFIDENTIAL.id };
  const response = await oauth.clientCredentialsGrantRequest(as, client, oauth.ClientSecretBasic(CONFIDENTIAL.secret), { scope: 'mcp:tools' }, insecure);
  return (await oauth.processClientCredentialsResponse(as, client, response)).access_token;
}

const toolsCall = { jsonrpc: '2.0', id: 7, method: 'tools/call', params: { name: 'whoami', arguments: {} } };

describe('MCP session binding', () => {
  it('a stolen session id used with another grant\'s token, or another client\'s, gets the 404 of an unknown session', async () => {
    const owner = await devLoginTokens(example.base);
    const { client, transport } = await sessionClient({ current: owner.access_token });
    const sessionId = transport.sessionId!;
    expect(sessionId).toBeTypeOf('string');
    try {
      // Same user, same client, but another authorization: another grant.
      const otherGrant = await devLoginTokens(example.base);
      const otherClient = await serviceToken();
      for (const token of [otherGrant.access_token, otherClient]) {
        const response = await postMcp(example.base, token, toolsCall, sessionId);
        expect(response.status).toBe(404);
        expect(await response.json()).toEqual(MCP_SESSION_NOT_FOUND);
      }
      // Exactly what an unknown session gets, so a session id cannot be probed.
      const unknown = await postMcp(example.base, owner.access_token, toolsCall, '00000000-0000-4000-8000-000000000000');
      expect(unknown.status).toBe(404);
      expect(await unknown.json()).toEqual(MCP_SESSION_NOT_FOUND);

      // Through the SDK the thief sees the 404 as well, and the owner's session is untouched.
      const thief = await sessionClient({ current: otherGrant.access_token }, sessionId);
      await expect(thief.client.callTool({ name: 'whoami', arguments: {} })).rejects.toSatisfy((error) => error instanceof StreamableHTTPError && error.code === 404);
      await thief.transport.close();
      expect(await callWhoami(client)).toMatchObject({ sub: 'demo', client_id: 'mcp-public-client' });
    } finally {
      await client.close();
    }
  });

  it('AUTHZ-RT-02: the session survives a token refresh: the new access token of the same grant keeps using it', async () => {
    const tokens = await devLoginTokens(example.base);
    const token = { current: tokens.access_token };
    const { client, transport } = await sessionClient(token);
    const sessionId = transport.sessionId;
    try {
      const before = await callWhoami(client);
      const refreshed = await (await refresh(example.base, tokens.refresh_token)).json();
      expect(refreshed.access_token).not.toBe(tokens.access_token);
      token.current = refreshed.access_token;
      expect(await callWhoami(client)).toEqual(before);
      expect(transport.sessionId).toBe(sessionId);
    } finally {
      await client.close();
    }
  });

  it("two clients' sessions are isolated from each other", async () => {
    const user = await devLoginTokens(example.base);
    const service = await serviceToken();
    const a = await sessionClient({ current: user.access_token });
    const b = await sessionClient({ current: service });
    try {
      expect(a.transport.sessionId).not.toBe(b.transport.sessionId);
      expect(await callWhoami(a.client)).toMatchObject({ sub: 'demo', client_id: 'mcp-public-client' });
      expect(await callWhoami(b.client)).toMatchObject({ sub: CONFIDENTIAL.id, client_id: CONFIDENTIAL.id });
      expect((await postMcp(example.base, service, toolsCall, a.transport.sessionId)).status).toBe(404);
      expect((await postMcp(example.base, user.access_token, toolsCall, b.transport.sessionId)).status).toBe(404);
    } finally {
      await Promise.all([a.client.close(), b.client.close()]);
    }
  });

  it('a session closed with DELETE is released: its id is unknown afterwards', async () => {
    const tokens = await devLoginTokens(example.base);
    const { client, transport } = await sessionClient({ current: tokens.access_token });
    const sessionId = transport.sessionId!;
    await transport.terminateSession();
    await client.close();
    const response = await postMcp(example.base, tokens.access_token, toolsCall, sessionId);
    expect(response.status).toBe(404);
  });
});
