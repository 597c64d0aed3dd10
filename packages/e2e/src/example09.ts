import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { freePort } from './net.js';

export const EXAMPLE_09_DIR = fileURLToPath(new URL('../../../examples/09-oauth-pkce/', import.meta.url));

export interface RunningExample {
  issuer: string;
  port: number;
  /** Everything the process printed so far. */
  output(): string;
  close(): Promise<void>;
}

/**
 * Starts examples/09-oauth-pkce as `pnpm example:server:09` does (`node --conditions=@keyward/source --import tsx
 * src/server.ts`), in its own process: OAUTH_STORE=memory, HOST=127.0.0.1, issuer http://localhost:<port>,
 * plus `env`. Waits until it serves its metadata.
 */
export async function startExample09(env: Record<string, string>, preferredPort = 0): Promise<RunningExample> {
  const port = await freePort(preferredPort);
  const issuer = `http://localhost:${port}`;
  const childEnv: NodeJS.ProcessEnv = { ...process.env, NODE_OPTIONS: '', OAUTH_STORE: 'memory', PORT: String(port), HOST: '127.0.0.1', OAUTH_ISSUER: issuer, ...env };
  // Never inherit a dev login from the shell running the tests: the point is the login page.
  delete childEnv.OAUTH_DEV_LOGIN;
  const child = spawn(process.execPath, ['--conditions=@keyward/source', '--import', 'tsx', 'src/server.ts'], { cwd: EXAMPLE_09_DIR, env: childEnv, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const close = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
    await exited;
    clearTimeout(timer);
  };

  const deadline = Date.now() + 30_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`example 09 exited with ${child.exitCode}:\n${output}`);
    const ready = await fetch(`http://127.0.0.1:${port}/.well-known/oauth-authorization-server`).then((response) => response.ok, () => false);
    if (ready) break;
    if (Date.now() > deadline) {
      await close();
      throw new Error(`example 09 did not start within 30 s:\n${output}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return { issuer, port, output: () => output, close };
}
