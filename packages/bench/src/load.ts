/**
 * The load generator: autocannon in this process (pinned to the load core), 10 connections, a warm-up and
 * then a timed phase. Latencies are recorded per response and summarised by `report.ts`; the rate is the
 * responses with the expected status over the time from the first request to the last response.
 *
 * Rows whose requests can be sent once only (authorization codes, first-seen tokens) take a feed: a
 * function that mints `n` requests by driving the server before the load starts. The warm-up runs on a
 * first batch, whose rate sizes the batch of the timed phase (50 % spare); if even that runs out, the timed
 * phase ends early and says so.
 */
import { createHash, randomBytes } from 'node:crypto';
import autocannon from 'autocannon';
import { latencySummary, type Measurement } from './report.js';
import { CC_CLIENT_ID, CC_CLIENT_SECRET, SCOPE } from './servers/common.js';

export const CONNECTIONS = 10;
/** No single request of the minting may hang the bench: a server that stops answering fails the row. */
const MINT_TIMEOUT_MS = 30_000;

export interface RequestSpec {
  method: 'GET' | 'POST';
  path: string;
  headers?: Record<string, string>;
  body?: string;
}

export interface LoadJob {
  id: string;
  label: string;
  base: string;
  /** The status of a successful response. */
  expect: number;
  /** The same request every time, or a feed of requests that each go once. */
  request: RequestSpec | ((count: number) => Promise<RequestSpec[]>);
  warmupSeconds: number;
  seconds: number;
  /** Called with the monotonic time (µs) of the timed phase's start and end, for profiles and RSS. */
  onTimed?: (phase: 'start' | 'end') => void;
}

interface Phase {
  ok: number;
  bad: number;
  errors: number;
  seconds: number;
  latencies: number[];
  cpu: number;
  exhausted: boolean;
}

/** Mint rate assumed for the warm-up batch, before anything was measured. */
const WARMUP_RATE_GUESS = Number(process.env.BENCH_MINT_RATE ?? 3000);
const MAX_FEED = Number(process.env.BENCH_MAX_FEED ?? 250_000);
const WARMUP_REQUESTS = Number(process.env.BENCH_WARMUP_REQUESTS ?? 5000);

/** One autocannon run (or, for a feed, one per connection) and what it measured. */
async function phase(base: string, expect: number, fixed: RequestSpec | null, feed: RequestSpec[], seconds: number, record: boolean): Promise<Phase> {
  const latencies: number[] = [];
  let ok = 0;
  let bad = 0;
  // A fixed request is built once by autocannon. A feed is dealt out to one single-connection instance per
  // connection, each with its own list, so that autocannon builds every request's bytes before the phase
  // starts: rebuilding each one as it is sent (autocannon's setupRequest) cost the load generator more CPU
  // than the server's own work on the cheaper rows, and its latencies then measured the load generator.
  const lists: RequestSpec[][] = fixed ? [[fixed]] : Array.from({ length: CONNECTIONS }, (_, index) => feed.filter((_item, at) => at % CONNECTIONS === index));
  const instances = lists
    .filter((list) => list.length > 0)
    .map((list) =>
      autocannon({
        url: base,
        connections: fixed ? CONNECTIONS : 1,
        pipelining: 1,
        duration: seconds,
        // Each fed request goes once: an instance stops when its list is spent.
        ...(fixed ? {} : { amount: list.length }),
        requests: list.map((item) => ({ method: item.method, path: item.path, headers: item.headers ?? {}, body: item.body })),
      }) as unknown as autocannon.Instance & PromiseLike<autocannon.Result>,
    );
  const started = performance.now();
  let last = started;
  const cpuStart = process.cpuUsage();
  let running = instances.length;
  let exhausted = false;
  for (const instance of instances) {
    let done = false;
    instance.on('done', () => {
      done = true;
      running--;
    });
    instance.on('response', (_client: unknown, status: number, _bytes: number, responseTime: number) => {
      if (done) return;
      last = performance.now();
      if (status === expect) ok++;
      else bad++;
      if (record) latencies.push(responseTime);
    });
  }
  const results = await Promise.all(
    instances.map(async (instance) => {
      const result = await instance;
      // An instance that spent its list before the others stopped (or before the duration) ran out: the
      // remaining connections would be measured at a lower concurrency, so every instance stops now.
      if (!fixed && running > 0 && !exhausted && performance.now() - started < seconds * 1000 - 50) {
        exhausted = true;
        for (const other of instances) other.stop();
      }
      return result;
    }),
  );
  const elapsed = (last - started) / 1000;
  const cpu = process.cpuUsage(cpuStart);
  const errors = results.reduce((sum, result) => sum + result.errors + result.timeouts, 0);
  return { ok, bad, errors, seconds: elapsed, latencies, cpu: (cpu.user + cpu.system) / 1e6 / Math.max(elapsed, 1e-3), exhausted };
}

/** Warm-up, then the timed phase; returns the measurement of the timed phase. */
export async function measure(job: LoadJob): Promise<Measurement> {
  const fixed = typeof job.request === 'function' ? null : job.request;
  const mint = typeof job.request === 'function' ? job.request : null;

  let warmFeed: RequestSpec[] = [];
  if (mint) warmFeed = await mint(Math.ceil(Math.max(0.5, job.warmupSeconds) * WARMUP_RATE_GUESS));
  let warm = await phase(job.base, job.expect, fixed, warmFeed, job.warmupSeconds, false);
  // A fresh server process is cold: on a slow or busy core a few seconds may not reach the optimising
  // compiler. Warm on, up to three times as long, until enough requests went through, so a cheap fixed
  // request is not measured colder than a row whose minting already warmed its server.
  let warmed = warm.ok + warm.bad;
  for (let rounds = 1; fixed && rounds < 3 && warmed < WARMUP_REQUESTS; rounds++) {
    warm = await phase(job.base, job.expect, fixed, warmFeed, job.warmupSeconds, false);
    warmed += warm.ok + warm.bad;
  }
  let timedFeed: RequestSpec[] = [];
  if (mint) {
    const rate = Math.max(500, warm.ok / Math.max(warm.seconds, 0.1));
    timedFeed = await mint(Math.min(MAX_FEED, Math.ceil(rate * job.seconds * 1.5) + 100));
  }
  job.onTimed?.('start');
  const timed = await phase(job.base, job.expect, fixed, timedFeed, job.seconds, true);
  job.onTimed?.('end');
  const { p50, p99 } = latencySummary(timed.latencies);
  return {
    id: job.id,
    label: job.label,
    perSec: timed.ok / Math.max(timed.seconds, 1e-3),
    p50,
    p99,
    ok: timed.ok,
    bad: timed.bad,
    errors: timed.errors,
    seconds: timed.seconds,
    loaderCpu: timed.cpu,
    exhausted: timed.exhausted,
  };
}

/** Runs `count` tasks with `concurrency` of them in flight. */
export async function inParallel<T>(count: number, concurrency: number, task: (index: number) => Promise<T>): Promise<T[]> {
  const results: T[] = new Array(count);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(concurrency, count) }, async () => {
      while (next < count) {
        const index = next++;
        results[index] = await task(index);
      }
    }),
  );
  return results;
}

/** A PKCE pair (RFC 7636 §4.1–4.2, S256). */
export function pkcePair(): { verifier: string; challenge: string } {
  const verifier = randomBytes(32).toString('base64url');
  return { verifier, challenge: createHash('sha256').update(verifier).digest('base64url') };
}

export interface CodeFlow {
  base: string;
  authorizePath: string;
  tokenPath: string;
  clientId: string;
  redirectUri: string;
  resource: string;
  scope: string;
}

/**
 * Mints authorization codes by sending authorization requests that the server approves at once (Keyward's
 * development login; the MCP SDK provider of the bench), and turns each into the token request that spends it.
 */
export function authorizationCodes(flow: CodeFlow): (count: number) => Promise<RequestSpec[]> {
  return (count) =>
    inParallel(count, CONNECTIONS, async () => {
      const { verifier, challenge } = pkcePair();
      const query = new URLSearchParams({
        response_type: 'code',
        client_id: flow.clientId,
        redirect_uri: flow.redirectUri,
        code_challenge: challenge,
        code_challenge_method: 'S256',
        scope: flow.scope,
        resource: flow.resource,
        state: 'bench',
      });
      const response = await fetch(`${flow.base}${flow.authorizePath}?${query}`, { redirect: 'manual', signal: AbortSignal.timeout(MINT_TIMEOUT_MS) });
      await response.body?.cancel();
      const location = response.headers.get('location');
      const code = location ? new URL(location).searchParams.get('code') : null;
      if (!code) throw new Error(`authorization request to ${flow.base}${flow.authorizePath} gave no code (${response.status})`);
      const body = new URLSearchParams({ grant_type: 'authorization_code', code, code_verifier: verifier, client_id: flow.clientId, redirect_uri: flow.redirectUri, resource: flow.resource });
      return { method: 'POST', path: flow.tokenPath, headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: body.toString() } satisfies RequestSpec;
    });
}

/** Spends one code of a feed over HTTP and returns the access token: a token for the cached-bearer rows. */
export async function redeem(base: string, request: RequestSpec): Promise<string> {
  const response = await fetch(`${base}${request.path}`, { method: request.method, headers: request.headers, body: request.body, signal: AbortSignal.timeout(MINT_TIMEOUT_MS) });
  const json = (await response.json()) as { access_token?: string };
  if (!json.access_token) throw new Error(`token request to ${base}${request.path} failed: ${response.status} ${JSON.stringify(json)}`);
  return json.access_token;
}

/** A client_credentials token request of the bench's confidential client (`client_secret_post`), for `resource`. */
export function clientCredentials(path: string, resource: string): RequestSpec {
  const body = new URLSearchParams({ grant_type: 'client_credentials', client_id: CC_CLIENT_ID, client_secret: CC_CLIENT_SECRET, scope: SCOPE, resource });
  return { method: 'POST', path, headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: body.toString() };
}

/** Requests of a guarded route, one per access token. */
export function bearerRequests(path: string, tokens: readonly string[]): RequestSpec[] {
  return tokens.map((token) => ({ method: 'GET', path, headers: { authorization: `Bearer ${token}` } }));
}
