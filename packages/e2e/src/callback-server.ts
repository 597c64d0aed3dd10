import { createServer } from 'node:http';
import { closeServer, listenOnLoopback } from './net.js';

/**
 * The MCP client's loopback redirect target (RFC 8252 §7.3): a node:http server on 127.0.0.1 that records
 * every query it receives on `/callback` and answers a small HTML page, as a native client would. Other
 * paths serve pages registered with {@link CallbackServer.page} (an attacker's page for the framing test).
 */
export interface CallbackServer {
  port: number;
  /** `http://127.0.0.1:<port>/callback`. */
  redirectUri: string;
  /** Every callback received, in order. */
  readonly received: URL[];
  /** The callbacks that carried `state`. */
  withState(state: string): URL[];
  /** Waits for the next callback that carries `state`. */
  waitFor(state: string, timeoutMs?: number): Promise<URL>;
  /** Serves `html` at `path` (no security headers: a page of some other site). */
  page(path: string, html: string): void;
  close(): Promise<void>;
}

export async function startCallbackServer(preferredPort = 0): Promise<CallbackServer> {
  const received: URL[] = [];
  const waiters = new Set<() => void>();
  const pages = new Map<string, string>();
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    if (url.pathname === '/callback') {
      received.push(url);
      for (const wake of waiters) wake();
      const outcome = url.searchParams.has('code') ? 'Signed in. You can close this window.' : `Sign-in failed: ${url.searchParams.get('error') ?? 'unknown'}`;
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
      res.end(`<!doctype html><title>MCP client</title><h1>${outcome.replace(/[<>&]/g, '')}</h1>`);
      return;
    }
    const html = pages.get(url.pathname);
    res.writeHead(html === undefined ? 404 : 200, { 'content-type': 'text/html; charset=utf-8' });
    res.end(html ?? 'not found');
  });
  const port = await listenOnLoopback(server, preferredPort);
  const withState = (state: string) => received.filter((url) => url.searchParams.get('state') === state);
  return {
    port,
    redirectUri: `http://127.0.0.1:${port}/callback`,
    received,
    withState,
    waitFor(state, timeoutMs = 10_000) {
      return new Promise((resolve, reject) => {
        const check = () => {
          const found = withState(state)[0];
          if (!found) return;
          cleanup();
          resolve(found);
        };
        const timer = setTimeout(() => {
          cleanup();
          reject(new Error(`no callback with state ${state} within ${timeoutMs} ms (received: ${received.map(String).join(', ') || 'nothing'})`));
        }, timeoutMs);
        const cleanup = () => {
          clearTimeout(timer);
          waiters.delete(check);
        };
        waiters.add(check);
        check();
      });
    },
    page(path, html) {
      pages.set(path, html);
    },
    close: () => closeServer(server),
  };
}
