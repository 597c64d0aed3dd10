/**
 * Running the example as a service: the `.env` file, start-up errors a person can act on, logs (one line per
 * request, one per security event, the DEBUG trace), Prometheus metrics, health and readiness probes, rate
 * limits, proxies and HTTPS enforcement, all from environment variables (see `.env.example`).
 *
 * Framework-free on purpose: the Express, Fastify and Hono examples carry the same file, and each wires it
 * into its framework in a few lines of `app.ts` and `server.ts`.
 */
import { timingSafeEqual } from 'node:crypto';
import { existsSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { fileURLToPath } from 'node:url';
import { MemoryStore } from '@keyward/core/memory';
import { createMetrics, KeywardConfigError, type AuthorizationServer, type AuthorizationServerOptions, type CreateGuardOptions, type KeywardEvent, type Store } from '@keyward/core';
import { trustedProxies } from '@keyward/core/proxy';

/** A start-up problem whose message is one line naming the variable and what is wrong with it. */
export class ConfigError extends Error {
  override name = 'ConfigError';
}

/**
 * Reads `.env` from the example's folder (or the file named by ENV_FILE) into `process.env`, with Node's own
 * parser. A variable already set in the real environment wins over the file. Returns the file read, if any.
 */
export function loadDotEnv(exampleDir: URL, env: NodeJS.ProcessEnv = process.env): string | undefined {
  const path = env.ENV_FILE || fileURLToPath(new URL('.env', exampleDir));
  if (!existsSync(path)) {
    if (env.ENV_FILE) throw new ConfigError(`ENV_FILE names ${path}, which does not exist`);
    return undefined;
  }
  // process.loadEnvFile never overwrites a variable that is already set.
  process.loadEnvFile(path);
  return path;
}

// Options of core whose names mean nothing to someone who configured the example with variables.
const OPTION_VARIABLES: [RegExp, string][] = [
  [/^AuthorizationServer option signing\.hmacSecret\b/, 'JWT_SECRET'],
  [/^AuthorizationServer option issuer\b/, 'OAUTH_ISSUER'],
  [/^AuthorizationServer option login\.sessionTimeout\b/, 'OAUTH_SESSION_TIMEOUT'],
  [/^AuthorizationServer option login\.encryptionSecret\b/, 'KEYWARD_ENCRYPTION_SECRET'],
  [/^AuthorizationServer option rateLimits\b/, 'RATE_LIMIT_WINDOW/RATE_LIMIT_MAX'],
  [/^AuthorizationServer option refreshTokenReuseGraceSeconds\b/, 'OAUTH_REFRESH_REUSE_GRACE_SECONDS'],
  [/^AuthorizationServer option clients\b|^client .* redirect URI/, 'OAUTH_CLIENT_ID/OAUTH_CLIENT_SECRET/OAUTH_REDIRECT_URIS'],
  [/devLogin/, 'OAUTH_DEV_LOGIN'],
  [/enforceHTTPS|https/i, 'OAUTH_ENFORCE_HTTPS'],
];

/**
 * The one line `server.ts` prints when the example cannot start: the variable and what is wrong for
 * configuration errors, the reason (and its cause) for anything else. Never a stack trace; DEBUG=* adds it.
 */
export function startupFailure(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  const cause = error instanceof Error && error.cause instanceof Error ? `: ${error.cause.message}` : '';
  if (error instanceof ConfigError) return `${message}${cause}`.split('\n')[0]!;
  if (error instanceof KeywardConfigError) {
    const variable = OPTION_VARIABLES.find(([pattern]) => pattern.test(message))?.[1];
    return variable ? `${variable}: ${message}` : `configuration error: ${message}`;
  }
  return `could not start: ${message}${cause}`.split('\n')[0]!;
}

/** A whole number from the environment, or a ConfigError naming the variable. */
export function integerFrom(env: NodeJS.ProcessEnv, name: string, fallback: number, { min = 1, max = Number.MAX_SAFE_INTEGER } = {}): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new ConfigError(`${name} must be a whole number from ${min} to ${max}, got "${raw}"`);
  }
  return value;
}

/** `true`/`1`/`yes` or `false`/`0`/`no`; anything else is refused rather than guessed. */
export function booleanFrom(env: NodeJS.ProcessEnv, name: string): boolean {
  const raw = env[name]?.trim().toLowerCase();
  if (raw === undefined || raw === '') return false;
  if (['true', '1', 'yes'].includes(raw)) return true;
  if (['false', '0', 'no'].includes(raw)) return false;
  throw new ConfigError(`${name} must be true or false, got "${env[name]}"`);
}

/** The listening port from PORT, checked, so a typo does not end up as a random port. */
export function portFrom(env: NodeJS.ProcessEnv, name: string, fallback: number): number {
  return integerFrom(env, name, fallback, { min: 0, max: 65535 });
}

/** TRUST_PROXY: addresses, CIDR ranges or `loopback`/`linklocal`/`uniquelocal`, of the reverse proxies whose X-Forwarded-* headers count. */
export function trustedProxiesFrom(env: NodeJS.ProcessEnv): string[] | undefined {
  const raw = env.TRUST_PROXY?.trim();
  if (!raw) return undefined;
  const entries = raw.split(',').map((entry) => entry.trim()).filter(Boolean);
  try {
    // Core's own parser, so the example refuses exactly what the adapters would.
    trustedProxies(entries);
  } catch (error) {
    throw new ConfigError(`TRUST_PROXY: ${error instanceof Error ? error.message : String(error)} (use addresses or CIDR ranges such as 10.0.0.0/8, comma-separated)`);
  }
  return entries;
}

/**
 * Which namespaces DEBUG turns on, as the `debug` package reads it: names separated by commas or spaces,
 * `*` matching anything, and a leading `-` excluding (`DEBUG=oauth:*,-oauth:store`).
 */
export function debugMatcher(spec: string | undefined): (namespace: string) => boolean {
  const include: RegExp[] = [];
  const exclude: RegExp[] = [];
  for (const part of (spec ?? '').split(/[\s,]+/).filter(Boolean)) {
    const negative = part.startsWith('-');
    const pattern = (negative ? part.slice(1) : part).split('*').map((piece) => piece.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('.*');
    (negative ? exclude : include).push(new RegExp(`^${pattern}$`));
  }
  return (namespace) => include.some((re) => re.test(namespace)) && !exclude.some((re) => re.test(namespace));
}

// A field whose name says it holds a credential is never printed, whatever its value: the trace is meant to
// be pasted into bug reports.
const SECRET_FIELD = /token|secret|password|passwd|cookie|authorization|verifier|assertion|^code$|credential|key$/i;

function formatValue(value: unknown): string {
  if (typeof value === 'string') return /[\s"=]/.test(value) || value === '' ? JSON.stringify(value) : value;
  if (typeof value === 'number' || typeof value === 'boolean' || value === null) return String(value);
  if (value instanceof Error) return JSON.stringify(value.message);
  try {
    return JSON.stringify(value) ?? 'undefined';
  } catch {
    return '[unprintable]';
  }
}

function formatFields(fields: Record<string, unknown> | undefined): string {
  if (!fields) return '';
  return Object.entries(fields)
    .filter(([, value]) => value !== undefined)
    .map(([name, value]) => ` ${name}=${SECRET_FIELD.test(name) ? '[redacted]' : formatValue(value)}`)
    .join('');
}

/** What one request line says. The path never carries the query string, where codes and tokens travel. */
export interface RequestLine {
  method: string;
  path: string;
  status: number;
  durationMs: number;
}

/** Names the endpoint of a path, for the request log: the OAuth endpoints, the probes, /mcp, or `other`. */
export function endpointOf(path: string, mcpPath: string): string {
  if (path === mcpPath) return 'mcp';
  const named: Record<string, string> = {
    '/oauth/authorize': 'authorize',
    '/oauth/token': 'token',
    '/oauth/revoke': 'revoke',
    '/oauth/introspect': 'introspect',
    '/oauth/userinfo': 'userinfo',
    '/oauth/keys': 'jwks',
    '/oauth/consent': 'consent',
    '/metrics': 'metrics',
    '/health': 'health',
    '/ready': 'ready',
  };
  if (named[path]) return named[path];
  if (path === '/oauth/register' || path.startsWith('/oauth/register/')) return 'register';
  if (path.startsWith('/oauth/login') || path.startsWith('/login/') || path.startsWith('/oauth/callback/')) return 'login';
  if (path.startsWith('/.well-known/')) return 'metadata';
  return 'other';
}

/** Everything the environment says about operations, checked at start. */
export interface OperationsConfig {
  /**
   * RATE_LIMIT_MAX requests in RATE_LIMIT_WINDOW ms, per OAuth endpoint and source address; undefined when
   * neither is set, which keeps Keyward's own per-endpoint defaults.
   */
  rateLimit: { windowMs: number; max: number } | undefined;
  /** The guarded /mcp: RATE_LIMIT_MCP_MAX, or ten times RATE_LIMIT_MAX, or 600, in the same window (default a minute). */
  mcpRateLimit: { windowMs: number; max: number };
  trustProxy: string[] | undefined;
  enforceHTTPS: boolean;
  /** Bearer token that opens /metrics on the main listener of a non-loopback issuer. */
  metricsToken: string | undefined;
  /** A separate listener for /metrics, /health and /ready (for a scraper on an internal network). */
  metricsPort: number | undefined;
  /** Whether /metrics is open on the main listener without a token: only for a loopback http issuer. */
  metricsOpen: boolean;
  notices: string[];
}

const LOOPBACK_ISSUER = /^http:\/\/(localhost|127\.\d+\.\d+\.\d+|\[::1\])(:\d+)?(\/|$)/;

/** Reads and checks the operations variables (before anything is opened, so a typo fails at once). */
export function operationsConfig(env: NodeJS.ProcessEnv, issuer: string): OperationsConfig {
  const windowMs = integerFrom(env, 'RATE_LIMIT_WINDOW', 60_000, { min: 1000 });
  const max = env.RATE_LIMIT_MAX ? integerFrom(env, 'RATE_LIMIT_MAX', 0) : undefined;
  const chosen = Boolean(env.RATE_LIMIT_WINDOW || env.RATE_LIMIT_MAX);
  // An MCP session makes a request per tool call: /mcp gets ten times the OAuth endpoints' allowance.
  const mcpMax = integerFrom(env, 'RATE_LIMIT_MCP_MAX', max !== undefined ? max * 10 : 600);
  const metricsToken = env.METRICS_TOKEN || undefined;
  if (metricsToken !== undefined && metricsToken.length < 16) throw new ConfigError('METRICS_TOKEN is too short: use at least 16 characters (openssl rand -hex 16)');
  const metricsPort = env.METRICS_PORT ? portFrom(env, 'METRICS_PORT', 0) : undefined;
  const notices: string[] = [];
  if (env.CSRF_SECRET) {
    notices.push('CSRF_SECRET is not needed and not used: the login and consent forms bind their CSRF tokens to a random per-browser cookie');
  }
  return {
    // RATE_LIMIT_WINDOW alone keeps a max of 100, the figure the product's own example shows.
    rateLimit: chosen ? { windowMs, max: max ?? 100 } : undefined,
    mcpRateLimit: { windowMs, max: mcpMax },
    trustProxy: trustedProxiesFrom(env),
    enforceHTTPS: booleanFrom(env, 'OAUTH_ENFORCE_HTTPS'),
    metricsToken,
    metricsPort,
    metricsOpen: LOOPBACK_ISSUER.test(issuer),
    notices,
  };
}

/** A framework-neutral answer of the probes and /metrics. */
export interface OpsResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/** The running operations side of an example: its logs, its metrics, and the hooks handed to core. */
export interface Operations {
  config: OperationsConfig;
  /** One line per request (method, path, status, ms, endpoint). */
  logRequest(line: RequestLine): void;
  /** Core options: onEvent, onResponse, logger, rateLimits, enforceHTTPS. */
  serverOptions(): Pick<AuthorizationServerOptions, 'onEvent' | 'onResponse' | 'logger' | 'rateLimits' | 'enforceHTTPS'>;
  /** Options for `server.createGuard()` of /mcp: its rate limit and metrics. */
  guardOptions(): Pick<CreateGuardOptions, 'rateLimit' | 'onResponse'>;
  /** The store to hand to the server: `store`, with rate-limit counters kept locally while it is down. */
  serverStore(store: Store): Store;
  /** Answers /health, /ready and /metrics; null for any other path. */
  handle(method: string, path: string, authorization: string | undefined): Promise<OpsResponse | null>;
  /** Starts the METRICS_PORT listener, if configured. */
  listenMetrics(host: string): Promise<Server | undefined>;
  /** Gives the server whose store /ready asks. */
  attach(server: AuthorizationServer): void;
}

/** The endpoints RATE_LIMIT_WINDOW/RATE_LIMIT_MAX apply to (besides /mcp). */
const RATE_LIMITED = ['token', 'authorize', 'register', 'revoke', 'introspect', 'userinfo', 'login'] as const;
/** Event details worth a log line besides who and where; none of them is a secret. */
const EVENT_DETAILS = ['method', 'provider', 'grantType', 'scopes', 'tokenType', 'grantRevoked', 'limit', 'windowMs', 'operation', 'authMethod'] as const;

/**
 * The store with its rate-limit counters kept in this process's memory while the store does not answer.
 * Limits are counted in the shared store, so every instance sees them; through a database outage they keep
 * holding per instance instead of turning every request into a 503: /mcp verifies tokens with keys held in
 * memory and keeps working, and the authorization endpoint still redirects with temporarily_unavailable.
 */
function countersWithFallback(store: Store): Store {
  const local = new MemoryStore();
  return new Proxy(store, {
    get(target, property) {
      if (property === 'incrementCounter') {
        return (key: string, windowMs: number) => target.incrementCounter(key, windowMs).catch(() => local.incrementCounter(key, windowMs));
      }
      const value: unknown = Reflect.get(target, property, target);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}

/** A line on stderr, where logs go (stdout keeps the start-up banner). */
const writeLine = (line: string): void => void process.stderr.write(`${line}\n`);

/**
 * Builds the operations side from the checked configuration. `mcpPath` names /mcp in the request log;
 * `write` is where log lines go (stderr).
 */
export function createOperations(env: NodeJS.ProcessEnv, config: OperationsConfig, mcpPath: string, write: (line: string) => void = writeLine): Operations {
  const metrics = createMetrics();
  const debugOn = debugMatcher(env.DEBUG);
  let server: AuthorizationServer | undefined;

  const onEvent = (event: KeywardEvent): void => {
    metrics.onEvent(event);
    // Named fields only: an event never carries a secret, and printing a fixed list keeps it that way.
    const detail = event as Partial<Record<(typeof EVENT_DETAILS)[number], unknown>>;
    const fields: Record<string, unknown> = { client: event.clientId, subject: event.subject, grant: event.grantId, source: event.sourceAddress, endpoint: event.endpoint };
    for (const name of EVENT_DETAILS) fields[name] = detail[name];
    write(`[event] ${event.type}${formatFields(fields)}`);
  };
  const logger = { debug: (namespace: string, message: string, fields?: Record<string, unknown>) => void (debugOn(namespace) && write(`${namespace} ${message}${formatFields(fields)}`)) };

  const probes = async (method: string, path: string): Promise<OpsResponse | null> => {
    if (method !== 'GET' && method !== 'HEAD') return null;
    const json = (status: number, body: unknown): OpsResponse => ({ status, headers: { 'content-type': 'application/json', 'cache-control': 'no-store' }, body: JSON.stringify(body) });
    if (path === '/health') return json(200, { status: 'ok' });
    if (path === '/ready') {
      const ready = server ? await server.checkReady().catch(() => false) : false;
      return json(ready ? 200 : 503, { status: ready ? 'ready' : 'unavailable' });
    }
    return null;
  };
  const metricsResponse = (): OpsResponse => ({ status: 200, headers: { 'content-type': metrics.contentType, 'cache-control': 'no-store' }, body: metrics.render() });

  return {
    config,
    logRequest: ({ method, path, status, durationMs }) =>
      write(`[http] ${method} ${path} ${status} ${durationMs.toFixed(1)}ms endpoint=${endpointOf(path, mcpPath)}`),
    serverOptions: () => ({
      onEvent,
      onResponse: metrics.onResponse,
      logger,
      ...(config.rateLimit && { rateLimits: Object.fromEntries(RATE_LIMITED.map((endpoint) => [endpoint, config.rateLimit])) }),
      enforceHTTPS: config.enforceHTTPS,
    }),
    guardOptions: () => ({ rateLimit: config.mcpRateLimit, onResponse: metrics.onResponse }),
    serverStore: countersWithFallback,
    handle: async (method, path, authorization) => {
      if (path !== '/metrics') return probes(method, path);
      if (method !== 'GET' && method !== 'HEAD') return null;
      if (config.metricsOpen) return metricsResponse();
      const token = config.metricsToken;
      const given = authorization?.startsWith('Bearer ') ? authorization.slice(7) : undefined;
      if (token && given && given.length === token.length && timingSafeEqual(Buffer.from(given), Buffer.from(token))) return metricsResponse();
      // Without the token /metrics does not exist here, as for any unknown path.
      return token ? { status: 401, headers: { 'www-authenticate': 'Bearer realm="metrics"', 'content-type': 'text/plain' }, body: 'unauthorized\n' } : null;
    },
    listenMetrics: async (host) => {
      if (config.metricsPort === undefined) return undefined;
      const listener = createServer((req, res) => {
        const path = new URL(req.url ?? '/', 'http://metrics').pathname;
        const answer = (async () => (path === '/metrics' && (req.method === 'GET' || req.method === 'HEAD') ? metricsResponse() : probes(req.method ?? 'GET', path)))();
        void answer.then((response) => {
          if (!response) return void res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
          res.writeHead(response.status, response.headers).end(req.method === 'HEAD' ? undefined : response.body);
        });
      });
      await listen(listener, config.metricsPort, host, 'METRICS_PORT');
      return listener;
    },
    attach: (authorizationServer) => {
      server = authorizationServer;
    },
  };
}

/**
 * The listening error as one line naming the variable: a port that is taken or not allowed, a host that is
 * not this machine's. Other errors pass through.
 */
export function listenError(error: unknown, port: number, host: string, variable = 'PORT'): unknown {
  const code = (error as NodeJS.ErrnoException | null)?.code;
  if (code === 'EADDRINUSE') return new ConfigError(`${variable}: port ${port} on ${host} is already in use (stop the other server or choose another ${variable})`);
  if (code === 'EACCES') return new ConfigError(`${variable}: not allowed to listen on port ${port} (ports below 1024 need privileges)`);
  if (code === 'EADDRNOTAVAIL' || code === 'ENOTFOUND') return new ConfigError(`HOST: ${host} is not an address of this machine`);
  return error;
}

/** Listens, or fails with {@link listenError}. */
export function listen(listener: Server, port: number, host: string, variable = 'PORT'): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (error: NodeJS.ErrnoException) => {
      listener.off('listening', onListening);
      reject(listenError(error, port, host, variable));
    };
    const onListening = () => {
      listener.off('error', onError);
      resolve();
    };
    listener.once('error', onError);
    listener.once('listening', onListening);
    listener.listen(port, host);
  });
}
