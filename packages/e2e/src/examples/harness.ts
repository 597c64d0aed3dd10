import { spawn } from 'node:child_process';
import { createServer, type AddressInfo } from 'node:net';
import type { OAuthClientInformationMixed, OAuthClientMetadata, OAuthTokens } from '@modelcontextprotocol/sdk/shared/auth.js';

export const PUBLIC_CLIENT_ID = 'mcp-public-client';

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
 * Starts an example's `src/server.ts` as `pnpm start` does, in its own process on 127.0.0.1 and a free
 * port, and waits until it serves its metadata. The issuer keeps its default, http://localhost:<port>.
 */
export async function startExample(exampleDir: string, env: Record<string, string>): Promise<RunningExample> {
  const port = await freePort();
  const child = spawn(process.execPath, ['--conditions=@keyward/source', '--import', 'tsx', 'src/server.ts'], {
    cwd: exampleDir,
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

/**
 * An OAuthClientProvider for the pre-registered public client, with no browser: `redirectToAuthorization`
 * fetches the authorization URL itself (the dev login approves at once) and keeps the callback it is sent to.
 */
export class HeadlessProvider {
  callback?: URL;
  #tokens?: OAuthTokens;
  #codeVerifier?: string;

  // Any port: the client registered http://127.0.0.1/callback, and RFC 8252 §7.3 lets loopback ports vary.
  readonly redirectUrl = 'http://127.0.0.1:49152/callback';

  get clientMetadata(): OAuthClientMetadata {
    return { redirect_uris: [this.redirectUrl], client_name: 'Keyward example test', token_endpoint_auth_method: 'none' };
  }
  clientInformation(): OAuthClientInformationMixed {
    return { client_id: PUBLIC_CLIENT_ID, redirect_uris: ['http://127.0.0.1/callback'], token_endpoint_auth_method: 'none' };
  }
  tokens(): OAuthTokens | undefined {
    return this.#tokens;
  }
  saveTokens(tokens: OAuthTokens): void {
    this.#tokens = tokens;
  }
  async redirectToAuthorization(url: URL): Promise<void> {
    const response = await fetch(url, { redirect: 'manual' });
    if (response.status !== 302) throw new Error(`authorization answered ${response.status}: ${await response.text()}`);
    this.callback = new URL(response.headers.get('location')!);
  }
  saveCodeVerifier(codeVerifier: string): void {
    this.#codeVerifier = codeVerifier;
  }
  codeVerifier(): string {
    if (!this.#codeVerifier) throw new Error('no code verifier saved');
    return this.#codeVerifier;
  }
}

/** A browser in miniature for the login pages: keeps cookies, follows no redirect by itself. */
export class Browser {
  readonly #cookies = new Map<string, string>();

  async request(url: string | URL, init: RequestInit = {}): Promise<Response> {
    const headers = new Headers(init.headers);
    if (this.#cookies.size) headers.set('cookie', [...this.#cookies].map(([name, value]) => `${name}=${value}`).join('; '));
    const response = await fetch(url, { ...init, headers, redirect: 'manual' });
    for (const cookie of response.headers.getSetCookie()) {
      const [pair = ''] = cookie.split(';');
      const index = pair.indexOf('=');
      this.#cookies.set(pair.slice(0, index), pair.slice(index + 1));
    }
    return response;
  }

  /** Submits the page's form: its hidden fields plus `fields`. */
  async submit(url: string | URL, page: string, fields: Record<string, string>): Promise<Response> {
    const hidden: Record<string, string> = {};
    for (const match of page.matchAll(/<input type="hidden" name="([^"]+)" value="([^"]*)">/g)) hidden[match[1]!] = match[2]!;
    const body = new URLSearchParams({ ...hidden, ...fields });
    return this.request(url, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body });
  }
}
