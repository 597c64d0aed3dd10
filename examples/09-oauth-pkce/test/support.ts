import { spawn } from 'node:child_process';
import { createServer, type AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import * as oauth from 'oauth4webapi';

const EXAMPLE_DIR = fileURLToPath(new URL('..', import.meta.url));

export const CONFIDENTIAL = { id: 'demo-client', secret: 'demo-secret-for-tests' };
export const PUBLIC_CLIENT_ID = 'mcp-public-client';
export const LOOPBACK_REDIRECT = 'http://127.0.0.1/callback';
/** oauth4webapi refuses plain http unless told; the example runs on http://localhost. */
export const insecure = { [oauth.allowInsecureRequests]: true } as const;

export interface RunningExample {
  /** The issuer, which is also where the server answers. */
  base: string;
  /** Everything the process printed so far. */
  output(): string;
  stop(): Promise<void>;
}

async function freePort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const { port } = probe.address() as AddressInfo;
  await new Promise((resolve) => probe.close(resolve));
  return port;
}

/**
 * Starts `src/server.ts` as `pnpm example:server:09` does, in its own process on 127.0.0.1 and a free
 * port, and waits until it serves its metadata. The issuer keeps its default, http://localhost:<port>.
 */
export async function startExample(env: Record<string, string>): Promise<RunningExample> {
  const port = await freePort();
  const child = spawn(process.execPath, ['--conditions=source', '--import', 'tsx', 'src/server.ts'], {
    cwd: EXAMPLE_DIR,
    env: { ...process.env, NODE_OPTIONS: '', PORT: String(port), HOST: '127.0.0.1', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const base = `http://localhost:${port}`;

  const deadline = Date.now() + 30_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`example server exited with ${child.exitCode}:\n${output}`);
    const ready = await fetch(`${base}/.well-known/oauth-authorization-server`).then((response) => response.ok, () => false);
    if (ready) break;
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`example server did not start within 30 s:\n${output}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }

  return {
    base,
    output: () => output,
    stop: async () => {
      if (child.exitCode !== null) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

/** The authorization request of a PKCE client, and what it must remember for the token request. */
export async function authorizationRequest(
  as: oauth.AuthorizationServer,
  clientId: string,
  options: { scope: string; redirectUri: string },
): Promise<{ url: URL; codeVerifier: string; state: string }> {
  const codeVerifier = oauth.generateRandomCodeVerifier();
  const state = oauth.generateRandomState();
  const url = new URL(as.authorization_endpoint!);
  url.search = new URLSearchParams({
    response_type: 'code',
    client_id: clientId,
    redirect_uri: options.redirectUri,
    scope: options.scope,
    code_challenge: await oauth.calculatePKCECodeChallenge(codeVerifier),
    code_challenge_method: 'S256',
    state,
  }).toString();
  return { url, codeVerifier, state };
}
