/**
 * A real HTTPS server on 127.0.0.1 for client ID metadata documents and jwks_uri key sets, with a
 * certificate from a throwaway CA made by `openssl` in a temp directory. The authorization server reaches
 * it only through its explicit `allowPrivateHosts` + `ca` options; TLS verification stays on everywhere
 * (no NODE_TLS_REJECT_UNAUTHORIZED, no rejectUnauthorized: false).
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface Certificates {
  /** PEM of the CA that signed the server certificate: what the server's `ca` option trusts. */
  ca: string;
  key: string;
  cert: string;
}

/** A CA and a server certificate for localhost / 127.0.0.1 / ::1, valid for two days of wall-clock time. */
export function makeCertificates(): Certificates {
  const dir = mkdtempSync(join(tmpdir(), 'keyward-cimd-'));
  try {
    const run = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
    const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
    run('req', '-x509', ...ec, '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '2', '-subj', '/CN=Keyward test CA',
      '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign');
    run('req', ...ec, '-keyout', 'server.key', '-out', 'server.csr', '-subj', '/CN=localhost');
    writeFileSync(
      join(dir, 'server.ext'),
      'subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1\nbasicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n',
    );
    run('x509', '-req', '-in', 'server.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'server.pem', '-days', '2', '-extfile', 'server.ext');
    const read = (name: string) => readFileSync(join(dir, name), 'utf8');
    return { ca: read('ca.pem'), key: read('server.key'), cert: read('server.pem') };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** What a path answers: a JSON document (object) or text, with a status and headers. */
export interface Route {
  status?: number;
  headers?: Record<string, string>;
  body?: unknown;
  /** Full control (slow bodies, odd framing). */
  handle?: (request: IncomingMessage, response: ServerResponse) => void;
}

export interface DocumentServer {
  /** `https://127.0.0.1:<port>` */
  origin: string;
  port: number;
  /** `host:port` for the `allowPrivateHosts` option. */
  host: string;
  ca: string;
  /** `origin + path` */
  url(path: string): string;
  /** Sets what `path` answers; routes can change between requests. */
  route(path: string, route: Route): void;
  /** Requests received per path (query included). */
  hits(path: string): number;
  /** Every request received so far. */
  total(): number;
  close(): Promise<void>;
}

export async function startDocumentServer(certificates: Certificates = makeCertificates()): Promise<DocumentServer> {
  const routes = new Map<string, Route>();
  const hits = new Map<string, number>();
  let total = 0;
  const server: Server = createServer({ key: certificates.key, cert: certificates.cert }, (request, response) => {
    const path = request.url ?? '/';
    total++;
    hits.set(path, (hits.get(path) ?? 0) + 1);
    const route = routes.get(path);
    if (!route) {
      response.writeHead(404, { 'content-type': 'text/plain' }).end('not found');
      return;
    }
    if (route.handle) return route.handle(request, response);
    const body = typeof route.body === 'string' ? route.body : JSON.stringify(route.body ?? {});
    response.writeHead(route.status ?? 200, { 'content-type': 'application/json', ...route.headers }).end(body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const origin = `https://127.0.0.1:${port}`;
  return {
    origin,
    port,
    host: `127.0.0.1:${port}`,
    ca: certificates.ca,
    url: (path) => origin + path,
    route: (path, route) => void routes.set(path, route),
    hits: (path) => hits.get(path) ?? 0,
    total: () => total,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
