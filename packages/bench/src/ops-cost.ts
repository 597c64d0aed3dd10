/**
 * The cost of the operational hooks, in process: the token endpoint (client_credentials, ES256) and a
 * guarded MCP request, each with security events on, a logger that is present but switched off, the
 * Prometheus metrics on, and the rate limits on, as a ratio to the same server without any of them.
 * Time is this process's CPU time (user + system), which other processes on a shared machine barely
 * touch; configurations run in small interleaved batches, each compared with the baseline batch next to
 * it, and the median of those ratios is reported.
 *
 *   node --conditions=@keyward/source --import tsx packages/bench/src/ops-cost.ts
 */
import { AuthorizationServer, createMetrics, type AuthorizationServerOptions, type ResourceServerGuard } from '@keyward/core';
import { MemoryStore } from '@keyward/core/memory';

const ROUNDS = Number(process.env.OPS_BENCH_ROUNDS ?? 21);
const TOKEN_OPS = Number(process.env.OPS_BENCH_TOKEN_OPS ?? 150);
const GUARD_OPS = Number(process.env.OPS_BENCH_GUARD_OPS ?? 600);
const ISSUER = 'http://localhost:3009';
const SECRET = 'bench-secret-0123456789abcdef';
const BASIC = `Basic ${btoa(`bench:${SECRET}`)}`;
const NO_LIMITS = { token: false, authorize: false, register: false, revoke: false, introspect: false, userinfo: false, login: false } as const;
// High enough never to refuse: what is measured is the counting, not the refusals.
const WIDE = { windowMs: 60_000, max: 1e9 };

type Config = { name: string; options: Partial<AuthorizationServerOptions>; guardLimit: false | typeof WIDE };

let sink = 0;
const metrics = createMetrics();
const CONFIGS: Config[] = [
  { name: 'baseline', options: { rateLimits: NO_LIMITS }, guardLimit: false },
  { name: 'events', options: { rateLimits: NO_LIMITS, onEvent: (event) => void (sink += event.at & 1) }, guardLimit: false },
  { name: 'logging off', options: { rateLimits: NO_LIMITS, logger: { debug: () => {} } }, guardLimit: false },
  { name: 'metrics on', options: { rateLimits: NO_LIMITS, onEvent: metrics.onEvent, onResponse: metrics.onResponse }, guardLimit: false },
  { name: 'rate limits on', options: { rateLimits: { token: WIDE } }, guardLimit: WIDE },
];

interface Subject {
  config: Config;
  server: AuthorizationServer;
  guard: ResourceServerGuard;
  token: string;
  tokenTimes: number[];
  guardTimes: number[];
}

function tokenRequest(): Request {
  return new Request(`${ISSUER}/oauth/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: BASIC },
    body: 'grant_type=client_credentials&scope=mcp%3Atools',
  });
}

async function prepare(config: Config): Promise<Subject> {
  const server = new AuthorizationServer({
    issuer: ISSUER,
    store: new MemoryStore(),
    scopes: ['mcp:tools'],
    clients: [{ clientId: 'bench', clientSecret: SECRET, grantTypes: ['client_credentials'] }],
    ...config.options,
  });
  await server.ready();
  const guard = server.createGuard({ scopes: ['mcp:tools'], rateLimit: config.guardLimit, ...(config.name === 'metrics on' && { onResponse: metrics.onResponse }) });
  const response = await server.fetch(tokenRequest(), { clientAddress: '203.0.113.1' });
  const { access_token: token } = (await response.json()) as { access_token: string };
  return { config, server, guard, token, tokenTimes: [], guardTimes: [] };
}

/** Milliseconds of CPU this process has used. */
function cpuNow(): number {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1000;
}

async function timeTokens(subject: Subject): Promise<number> {
  const started = cpuNow();
  for (let i = 0; i < TOKEN_OPS; i++) {
    const response = await subject.server.fetch(tokenRequest(), { clientAddress: '203.0.113.1' });
    if (response.status !== 200) throw new Error(`${subject.config.name}: token endpoint answered ${response.status}`);
    await response.arrayBuffer();
  }
  return (cpuNow() - started) / TOKEN_OPS;
}

async function timeGuard(subject: Subject): Promise<number> {
  const headers = { authorization: `Bearer ${subject.token}` };
  const started = cpuNow();
  for (let i = 0; i < GUARD_OPS; i++) {
    const result = await subject.guard.authenticate(new Request(`${ISSUER}/mcp`, { method: 'POST', headers }), { clientAddress: '203.0.113.1' });
    if (!result.ok) throw new Error(`${subject.config.name}: guard refused with ${result.response.status}`);
  }
  return (cpuNow() - started) / GUARD_OPS;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

const subjects = await Promise.all(CONFIGS.map(prepare));
// One warm-up round for the JIT, not counted.
for (const subject of subjects) {
  await timeTokens(subject);
  await timeGuard(subject);
}
for (let round = 0; round < ROUNDS; round++) {
  // Rotate the order each round, so no configuration always runs first.
  for (let i = 0; i < subjects.length; i++) {
    const subject = subjects[(i + round) % subjects.length]!;
    subject.tokenTimes.push(await timeTokens(subject));
    subject.guardTimes.push(await timeGuard(subject));
  }
}

const baseline = subjects[0]!;
const cost = (times: number[], base: number[]) => `${((median(times.map((time, round) => time / base[round]!)) - 1) * 100).toFixed(1)} %`;
const rows = subjects.map((subject) => ({
  configuration: subject.config.name,
  'token µs/op (CPU)': Math.round(median(subject.tokenTimes) * 1000),
  'token cost': subject === baseline ? '—' : cost(subject.tokenTimes, baseline.tokenTimes),
  'guard µs/op (CPU)': Math.round(median(subject.guardTimes) * 1000),
  'guard cost': subject === baseline ? '—' : cost(subject.guardTimes, baseline.guardTimes),
}));
console.log(`Operational hooks, in process: median of ${ROUNDS} interleaved rounds (${TOKEN_OPS} token requests, ${GUARD_OPS} guarded requests each); target under 10 % each.`);
console.table(rows);
if (sink < 0) console.log(sink);
