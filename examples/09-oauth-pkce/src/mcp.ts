import { randomUUID } from 'node:crypto';
import type { Request, RequestHandler } from 'express';
import { MCP_SESSION_NOT_FOUND, MCPSessionBinding } from '@keyward/core';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { isInitializeRequest, type CallToolResult } from '@modelcontextprotocol/sdk/types.js';

/** Tools that need more than the endpoint's `mcp:tools`, and the scopes they need. */
export const TOOL_SCOPES: Readonly<Record<string, readonly string[]>> = { admin_stats: ['mcp:admin'] };

/**
 * The extra scopes one /mcp request needs, from its parsed JSON-RPC body (a single message or a batch): a
 * `tools/call` of a tool in {@link TOOL_SCOPES}. Given to `requireBearerAuth(guard, { scopesFor })`, so
 * calling `admin_stats` with a `mcp:tools` token answers 403 insufficient_scope, `scope="mcp:tools mcp:admin"`,
 * and the MCP client asks the user for the missing scope (step-up).
 */
export function scopesForToolCall(req: Request): string[] {
  const messages: unknown[] = Array.isArray(req.body) ? req.body : [req.body];
  const needed = new Set<string>();
  for (const message of messages) {
    const { method, params } = (message ?? {}) as { method?: unknown; params?: { name?: unknown } };
    const name = method === 'tools/call' && typeof params?.name === 'string' ? params.name : undefined;
    // Own properties only: a tool named `constructor` needs nothing extra.
    if (name && Object.hasOwn(TOOL_SCOPES, name)) for (const scope of TOOL_SCOPES[name]!) needed.add(scope);
  }
  return [...needed];
}

function text(value: unknown, isError = false): CallToolResult {
  return { content: [{ type: 'text', text: typeof value === 'string' ? value : JSON.stringify(value) }], ...(isError && { isError }) };
}

/** The example's tools. They read the verified token from `extra.authInfo`, which the transport takes from `req.auth`. */
function createMcpServer(stats: () => Record<string, unknown>): McpServer {
  const mcp = new McpServer({ name: 'keyward-example-09', version: '0.1.0' });

  mcp.registerTool('whoami', { description: 'Who the access token speaks for: subject, client, scopes and grant' }, ({ authInfo }) =>
    text({ sub: authInfo?.extra?.subject, client_id: authInfo?.clientId, scopes: authInfo?.scopes, grant_id: authInfo?.extra?.grantId }),
  );

  mcp.registerTool('admin_stats', { description: 'Server statistics; needs the mcp:admin scope' }, ({ authInfo }) => {
    // The HTTP layer already answered 403 insufficient_scope (scopesForToolCall); this is defence in depth.
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
 * grant of the access token that opened it (`MCPSessionBinding`). A later request must carry a token of the
 * same grant (a refreshed token is fine), or it gets the same 404 as an unknown session: a stolen session id
 * is worthless without the matching token, and session ids cannot be probed.
 */
export function createMcpHandler(): { handle: RequestHandler; close(): Promise<void>; readonly sessions: number } {
  const transports = new Map<string, StreamableHTTPServerTransport>();
  const sessions = new MCPSessionBinding();
  const startedAt = Date.now();
  const stats = () => ({ activeSessions: transports.size, uptimeSeconds: Math.round((Date.now() - startedAt) / 1000) });

  const handle: RequestHandler = async (req, res) => {
    // requireBearerAuth ran first, so req.auth is the verified token.
    const auth = req.auth!;
    const sessionId = req.get('mcp-session-id');
    let transport: StreamableHTTPServerTransport | undefined;
    if (sessionId) {
      transport = sessions.check(sessionId, auth) === 'ok' ? transports.get(sessionId) : undefined;
      // MCP Streamable HTTP: 404 makes the client start a new session. Unknown and foreign look the same.
      if (!transport) return void res.status(404).json(MCP_SESSION_NOT_FOUND);
    } else {
      if (req.method !== 'POST' || !isInitializeRequest(req.body)) return void res.status(400).json(jsonRPCError('no session; send initialize first'));
      const created: StreamableHTTPServerTransport = new StreamableHTTPServerTransport({
        sessionIdGenerator: () => randomUUID(),
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
    await transport.handleRequest(req, res, req.body);
  };

  return {
    handle,
    close: async () => {
      await Promise.all([...transports.values()].map((transport) => transport.close()));
    },
    get sessions() {
      return sessions.size;
    },
  };
}
