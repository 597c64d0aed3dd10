import { randomUUID } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { MCP_SESSION_NOT_FOUND, MCPSessionBinding } from '@keyward/core';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { isInitializeRequest, type CallToolResult } from '@modelcontextprotocol/sdk/types.js';

function text(value: unknown, isError = false): CallToolResult {
  return { content: [{ type: 'text', text: typeof value === 'string' ? value : JSON.stringify(value) }], ...(isError && { isError }) };
}

function isToolCall(message: unknown, tool: string): boolean {
  const { method, params } = (message ?? {}) as { method?: unknown; params?: { name?: unknown } };
  return method === 'tools/call' && params?.name === tool;
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

/** The example's tools. They read the verified token from `extra.authInfo`, which the transport takes from `req.auth`. */
function createMcpServer(stats: () => Record<string, unknown>): McpServer {
  const mcp = new McpServer({ name: 'keyward-example-fastify', version: '0.1.0' });

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
 * worthless and session ids cannot be probed.
 */
export function createMcpHandler(): { handle(request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply | void>; close(): Promise<void> } {
  const transports = new Map<string, StreamableHTTPServerTransport>();
  const sessions = new MCPSessionBinding();
  const startedAt = Date.now();
  const stats = () => ({ activeSessions: transports.size, uptimeSeconds: Math.round((Date.now() - startedAt) / 1000) });

  async function handle(request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply | void> {
    // requireBearerAuth ran first, so request.auth is the verified token.
    const auth = request.auth!;
    const sessionId = request.headers['mcp-session-id']?.toString();
    let transport: StreamableHTTPServerTransport | undefined;
    if (sessionId) {
      transport = sessions.check(sessionId, auth) === 'ok' ? transports.get(sessionId) : undefined;
      // MCP Streamable HTTP: 404 makes the client start a new session. Unknown and foreign look the same.
      if (!transport) return reply.code(404).send(MCP_SESSION_NOT_FOUND);
    } else {
      if (request.method !== 'POST' || !isInitializeRequest(request.body)) return reply.code(400).send(jsonRPCError('no session; send initialize first'));
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
    // The transport writes the response (often a stream of server-sent events) to the Node objects itself,
    // and reads the token from request.raw.auth, where requireBearerAuth put it.
    reply.hijack();
    await transport.handleRequest(request.raw, reply.raw, request.body);
  }

  return {
    handle,
    close: async () => {
      await Promise.all([...transports.values()].map((transport) => transport.close()));
    },
  };
}
