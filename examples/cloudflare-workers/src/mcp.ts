import type { AuthInfo } from '@keyward/core';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { WebStandardStreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/webStandardStreamableHttp.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';

/** Tools that need more than the endpoint's `mcp:tools`, and the scopes they need. */
export const TOOL_SCOPES: Readonly<Record<string, readonly string[]>> = { admin_stats: ['mcp:admin'] };

/**
 * The extra scopes a JSON-RPC body (a message or a batch) needs: a `tools/call` of a tool in
 * {@link TOOL_SCOPES}. The guard answers 403 insufficient_scope with them before the tool runs, so the MCP
 * client can ask the user for the missing scope and retry (MCP step-up authorization).
 */
export function scopesForMessage(body: unknown): string[] {
  const messages: unknown[] = Array.isArray(body) ? body : [body];
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

const isolateStartedAt = Date.now();
let requestsServed = 0;

/** The example's tools. They read the verified token from `extra.authInfo`, which the transport is handed. */
function createMcpServer(): McpServer {
  const mcp = new McpServer({ name: 'keyward-example-cloudflare-workers', version: '0.1.0' });

  mcp.registerTool('whoami', { description: 'Who the access token speaks for: subject, client, scopes and grant' }, ({ authInfo }) =>
    text({ sub: authInfo?.extra?.subject, client_id: authInfo?.clientId, scopes: authInfo?.scopes, grant_id: authInfo?.extra?.grantId }),
  );

  mcp.registerTool('admin_stats', { description: 'Statistics of this Worker isolate; needs the mcp:admin scope' }, ({ authInfo }) => {
    // The guard already answered 403 insufficient_scope (scopesForMessage); this is defence in depth.
    if (!authInfo?.scopes.includes('mcp:admin')) return text('the mcp:admin scope is required for admin_stats', true);
    return text({ isolateUptimeSeconds: Math.round((Date.now() - isolateStartedAt) / 1000), requestsServed });
  });

  return mcp;
}

/**
 * Streamable HTTP, stateless: each POST gets a fresh McpServer and transport, and the answer is plain JSON.
 * A Worker's requests land on whichever isolate is nearest, so an in-memory session made by one isolate
 * would be unknown to the next; without sessions, every request stands on its own token. There is no
 * server-to-client stream, so GET (and DELETE of a session) answer 405, which MCP clients accept.
 */
export async function handleMcp(request: Request, auth: AuthInfo, parsedBody: unknown): Promise<Response> {
  if (request.method !== 'POST') return new Response(null, { status: 405, headers: { allow: 'POST' } });
  requestsServed += 1;
  const transport = new WebStandardStreamableHTTPServerTransport({ sessionIdGenerator: undefined, enableJsonResponse: true });
  const server = createMcpServer();
  await server.connect(transport);
  try {
    return await transport.handleRequest(request, { authInfo: auth, parsedBody });
  } finally {
    // The JSON answer is complete once handleRequest returns; closing frees the server and transport.
    await server.close();
  }
}
