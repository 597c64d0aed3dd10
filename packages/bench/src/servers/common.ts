/**
 * What every bench server shares: the route answer, the clients and the scope, so each server is asked the
 * same thing and answers the same bytes. Each server is a child process started as
 * `<server>.ts <framework> <port>`; it prints `ready` once it listens and exits cleanly on SIGTERM, which is
 * what lets `node --cpu-prof` write its profile.
 */
import type { Framework } from '../report.js';

/** The body of every hello and guarded route, bare or behind a guard. */
export const HELLO = { ok: true, message: 'hello' };
export const SCOPE = 'mcp:tools';
export const PUBLIC_CLIENT_ID = 'bench-public';
export const REDIRECT_URI = 'http://127.0.0.1/callback';
export const CC_CLIENT_ID = 'bench-service';
export const CC_CLIENT_SECRET = 'bench-service-secret-0123456789';
/** The issuer of `servers/variants.ts`, sent as the Host field by `pnpm bench alternate`. */
export const VARIANTS_ISSUER = 'http://127.0.0.1:4100';

export function serverArgs(): { framework: Framework; port: number; issuer: string; resource: string } {
  const [framework, portText] = process.argv.slice(2);
  if (framework !== 'express' && framework !== 'hono' && framework !== 'fastify') throw new Error(`unknown framework ${framework}`);
  const port = Number(portText);
  if (!Number.isInteger(port) || port <= 0) throw new Error(`bad port ${portText}`);
  const issuer = `http://127.0.0.1:${port}`;
  return { framework, port, issuer, resource: `${issuer}/mcp` };
}

/** Tells the parent the server listens, and exits on SIGTERM through process.exit so profiles are written. */
export function announceReady(): void {
  process.once('SIGTERM', () => process.exit(0));
  process.once('SIGINT', () => process.exit(0));
  // The parent going away (a crash, Ctrl-C) must not leave a server behind.
  process.stdin.on('end', () => process.exit(0));
  process.stdin.resume();
  console.log('ready');
}
