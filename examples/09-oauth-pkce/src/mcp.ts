import { randomUUID } from 'node:crypto';
import type { RequestHandler } from 'express';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import type { AuthInfo } from '@modelcontextprotocol/sdk/server/auth/types.js';
import { isInitializeRequest, type CallToolResult } from '@modelcontextprotocol/sdk/types.js';

function text(value: unknown, isError = false): CallToolResult {
  return { content: [{ type: 'text', text: typeof value === 'string' ? value : JSON.stringify(value) }], ...(isError && { isError }) };
}

/** The example's tools. They read the verified token from `extra.authInfo`, which the transport takes from `req.auth`. */
function createMcpServer(stats: () => Record<string, unknown>): McpServer {
  const mcp = new McpServer({ name: 'keyward-example-09', version: '0.1.0' });

  mcp.registerTool('whoami', { description: 'Who the access token speaks for: subject, client and scopes' }, ({ authInfo }) =>
    text({ sub: authInfo?.extra?.subject, client_id: authInfo?.clientId, scopes: authInfo?.scopes }),
  );

  mcp.registerTool('admin_stats', { description: 'Server statistics; needs the mcp:admin scope' }, ({ authInfo }) => {
    // A tool error for now; MCP's step-up flow (403 insufficient_scope, so the client asks for mcp:admin)
    // replaces it in a later issue.
    if (!authInfo?.scopes.includes('mcp:admin')) return text('the mcp:admin scope is required for admin_stats', true);
    return text(stats());
  });

  return mcp;
}

function jsonRPCError(message: string): object {
  return { jsonrpc: '2.0', error: { code: -32000, message }, id: null };
}

/**
 * Streamable HTTP with sessions: one transport (and one McpServer) per `Mcp-Session-Id`. Sessions are not
 * yet bound to the grant that opened them; a later issue does that.
 */
export function createMcpHandler(): { handle: RequestHandler; close(): Promise<void> } {
  const transports = new Map<string, StreamableHTTPServerTransport>();
  const startedAt = Date.now();
  const stats = () => ({ activeSessions: transports.size, uptimeSeconds: Math.round((Date.now() - startedAt) / 1000) });

  const handle: RequestHandler = async (req, res) => {
    const sessionId = req.get('mcp-session-id');
    let transport = sessionId ? transports.get(sessionId) : undefined;
    if (!transport) {
      // MCP Streamable HTTP: an unknown session is 404 so the client starts over; without a session the
      // request must be an initialize.
      if (sessionId) return void res.status(404).json(jsonRPCError('session not found'));
      if (req.method !== 'POST' || !isInitializeRequest(req.body)) return void res.status(400).json(jsonRPCError('no session; send initialize first'));
      const created = new StreamableHTTPServerTransport({
        sessionIdGenerator: () => randomUUID(),
        onsessioninitialized: (id) => void transports.set(id, created),
      });
      created.onclose = () => void (created.sessionId && transports.delete(created.sessionId));
      await createMcpServer(stats).connect(created);
      transport = created;
    }
    await transport.handleRequest(req as typeof req & { auth?: AuthInfo }, res, req.body);
  };

  return {
    handle,
    close: async () => {
      await Promise.all([...transports.values()].map((transport) => transport.close()));
    },
  };
}
