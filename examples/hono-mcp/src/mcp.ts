import type { Context } from 'hono';
import { MCP_SESSION_NOT_FOUND, MCPSessionBinding } from '@keyward/core';
import type { BearerAuthEnv } from '@keyward/hono';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { WebStandardStreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/webStandardStreamableHttp.js';
import { isInitializeRequest, type CallToolResult } from '@modelcontextprotocol/sdk/types.js';

function text(value: unknown, isError = false): CallToolResult {
  return { content: [{ type: 'text', text: typeof value === 'string' ? value : JSON.stringify(value) }], ...(isError && { isError }) };
}

function isToolCall(message: unknown, tool: string): boolean {
  const { method, params } = (message ?? {}) as { method?: unknown; params?: { name?: unknown } };
  return method === 'tools/call' && params?.name === tool;
}

/**
 * The parsed JSON-RPC body of a POST (a message or a batch), or undefined. Hono caches it, so the guard's
 * `scopesFor` and the route read the body once between them.
 */
export async function jsonRPCBody(c: Context): Promise<unknown> {
  return c.req.method === 'POST' ? c.req.json().catch(() => undefined) : undefined;
}

/**
 * The scopes a JSON-RPC body needs beyond mcp:tools. Calling admin_stats needs mcp:admin, and the HTTP
 * layer says so with 403 insufficient_scope before the tool runs, so the MCP client can ask the user for
 * that scope and retry (MCP step-up authorization).
 */
export function scopesForMessage(body: unknown): string[] {
  const messages: unknown[] = Array.isArray(body) ? body : [body];
  return messages.some((message) => isToolCall(message, 'admin_stats')) ? ['mcp:admin'] : [];
}

/** The example's tools. They read the verified token from `extra.authInfo`, which the transport is handed. */
function createMcpServer(stats: () => Record<string, unknown>): McpServer {
  const mcp = new McpServer({ name: 'keyward-example-hono', version: '0.1.0' });

  mcp.registerTool('whoami', { description: 'Who the access token speaks for: subject, client and scopes' }, ({ authInfo }) =>
    text({ sub: authInfo?.extra?.subject, client_id: authInfo?.clientId, scopes: authInfo?.scopes }),
  );

  mcp.registerTool('admin_stats', { description: 'Server statistics; needs the mcp:admin scope' }, ({ authInfo }) => {
    // The HTTP layer has already demanded mcp:admin (scopesForMessage); this keeps the tool safe on its own.
    if (!authInfo?.scopes.includes('mcp:admin')) return text('the mcp:admin scope is required for admin_stats', true);
    return text(stats());
  });

  return mcp;
}

function jsonRPCError(message: string): object {
  return { jsonrpc: '2.0', error: { code: -32000, message }, id: null };
}

/**
 * Streamable HTTP with sessions: one transport (and one McpServer) per `Mcp-Session-Id`, each bound to the
 * grant of the access token that opened it. A later request must carry a token of the same grant (a
 * refreshed token is fine), or it gets the same 404 as an unknown session, so a stolen session id is
 * worthless and session ids cannot be probed. The SDK's Web-standard transport takes a Request and returns
 * a Response, so the same handler runs on Node, Workers, Deno and Bun.
 */
export function createMcpHandler(): { handle(c: Context<BearerAuthEnv>): Promise<Response>; close(): Promise<void> } {
  const transports = new Map<string, WebStandardStreamableHTTPServerTransport>();
  const sessions = new MCPSessionBinding();
  const startedAt = Date.now();
  const stats = () => ({ activeSessions: transports.size, uptimeSeconds: Math.round((Date.now() - startedAt) / 1000) });

  async function handle(c: Context<BearerAuthEnv>): Promise<Response> {
    // requireBearerAuth ran first, so c.get('auth') is the verified token.
    const auth = c.get('auth');
    const body = await jsonRPCBody(c);
    const sessionId = c.req.header('mcp-session-id');
    let transport: WebStandardStreamableHTTPServerTransport | undefined;
    if (sessionId) {
      transport = sessions.check(sessionId, auth) === 'ok' ? transports.get(sessionId) : undefined;
      // MCP Streamable HTTP: 404 makes the client start a new session. Unknown and foreign look the same.
      if (!transport) return c.json(MCP_SESSION_NOT_FOUND, 404);
    } else {
      if (!isInitializeRequest(body)) return c.json(jsonRPCError('no session; send initialize first'), 400);
      const created: WebStandardStreamableHTTPServerTransport = new WebStandardStreamableHTTPServerTransport({
        sessionIdGenerator: () => crypto.randomUUID(),
        onsessioninitialized: (id) => {
          transports.set(id, created);
          sessions.bind(id, auth);
        },
      });
      created.onclose = () => {
        if (!created.sessionId) return;
        transports.delete(created.sessionId);
        sessions.release(created.sessionId);
      };
      await createMcpServer(stats).connect(created);
      transport = created;
    }
    // The body was read into Hono's cache, so it is handed over parsed; a POST that is not JSON reaches the
    // transport unparsed and gets its JSON-RPC parse error.
    return transport.handleRequest(c.req.raw, { authInfo: auth, parsedBody: body });
  }

  return {
    handle,
    close: async () => {
      await Promise.all([...transports.values()].map((transport) => transport.close()));
    },
  };
}
