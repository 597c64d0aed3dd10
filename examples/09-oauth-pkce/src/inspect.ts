/**
 * `pnpm inspect:09`: opens the MCP Inspector (from npm) against the running example's /mcp over Streamable
 * HTTP. In the Inspector, under Authentication, either enter the client ID `mcp-public-client` (its redirect
 * URI http://localhost:6274/oauth/callback is pre-registered) or leave it empty and let the Inspector register
 * itself; then Connect, and sign in as demo on the example's login page.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { loadDotEnv, startupFailure } from './ops.js';

/** The command that starts the Inspector, the environment it needs, and the address to open. */
export interface InspectorCommand {
  command: string;
  args: string[];
  env: Record<string, string>;
  /** The Inspector's page with the transport, the server URL and its proxy token filled in. */
  url: string;
  mcpURL: string;
}

/** Builds the Inspector's command line for the example configured by `env` (OAUTH_ISSUER, PORT, MCP_SERVER_URL). */
export function inspectorCommand(env: NodeJS.ProcessEnv, proxyToken = randomBytes(32).toString('hex')): InspectorCommand {
  const issuer = env.OAUTH_ISSUER || `http://localhost:${env.PORT || '3009'}`;
  const mcpURL = env.MCP_SERVER_URL || `${issuer.replace(/\/$/, '')}/mcp`;
  const clientPort = env.CLIENT_PORT || '6274';
  const url = new URL(`http://localhost:${clientPort}/`);
  url.search = new URLSearchParams({ MCP_PROXY_AUTH_TOKEN: proxyToken, transport: 'streamable-http', serverUrl: mcpURL }).toString();
  return {
    command: 'npx',
    args: ['-y', '@modelcontextprotocol/inspector'],
    // A token chosen here, so the address printed below opens the Inspector already connected to its proxy.
    env: { MCP_PROXY_AUTH_TOKEN: proxyToken, MCP_AUTO_OPEN_ENABLED: 'false', CLIENT_PORT: clientPort },
    url: url.href,
    mcpURL,
  };
}

async function main(): Promise<void> {
  try {
    loadDotEnv(new URL('..', import.meta.url));
  } catch (error) {
    console.error(`error: ${startupFailure(error)}`);
    process.exit(1);
  }
  const inspector = inspectorCommand(process.env);
  const reachable = await fetch(new URL('/.well-known/oauth-protected-resource/mcp', inspector.mcpURL)).then((response) => response.ok, () => false);
  if (!reachable) {
    console.error(`error: the server is not reachable at ${inspector.mcpURL} (start it with pnpm example:server:09 first)`);
    process.exit(1);
  }
  console.log(`Starting the MCP Inspector for ${inspector.mcpURL} (Streamable HTTP).`);
  console.log(`Open ${inspector.url}`);
  console.log('Authentication: client ID mcp-public-client (no secret), or leave it empty and the Inspector registers itself.');
  const child = spawn(inspector.command, inspector.args, { stdio: 'inherit', env: { ...process.env, ...inspector.env } });
  child.on('exit', (code) => process.exit(code ?? 0));
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) await main();
