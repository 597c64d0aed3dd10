/**
 * `pnpm bench`: Keyward's hot paths on Express, Hono and Fastify beside the peers they replace, measured in
 * one run on one core: the MCP SDK's auth router and bearer guard, oidc-provider, the bare frameworks with
 * and without a jose verify, and the jose ES256 ceiling. Prints the table and every target as a ratio with
 * PASS/FAIL, and writes results/latest.{json,md}. See docs/performance.md.
 *
 *   pnpm bench                 every row (BENCH_DURATION s each after BENCH_WARMUP s, default 10 and 3)
 *   BENCH_QUICK=1 pnpm bench   ~2 s per row, to check the harness works, not to quote
 *   pnpm bench --profile       the token endpoint and guard rows under node --cpu-prof, top 15 self time
 *   pnpm bench stores          the stores' consume and rotate throughput
 *   pnpm bench ops             the cost of events, logging, metrics and rate limits, as ratios to none
 *   pnpm bench alternate …     variants of one request in one server process, in alternating rounds
 *
 * BENCH_FRAMEWORKS=hono,fastify limits the frameworks; BENCH_ONLY=<regex> the measurement ids.
 */
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import { authorizationCodes, bearerRequests, clientCredentials, CONNECTIONS, inParallel, measure, redeem, type LoadJob, type RequestSpec } from './load.js';
import { benchRoot, cpuMicrosOf, pinningNote, pinSelfToLoadCore, rssOf, runPinnedScript, startServer, type RunningServer } from './processes.js';
import {
  evaluateLatency,
  evaluateRatio,
  evaluateRss,
  formatProfile,
  formatServerCpu,
  formatTable,
  formatTargets,
  FRAMEWORKS,
  ratioTargets,
  tableRows,
  topSelfTime,
  type CpuProfile,
  type Figures,
  type Framework,
  type Measurement,
  type RssSeries,
  type TargetResult,
} from './report.js';
import { CC_CLIENT_ID, PUBLIC_CLIENT_ID, REDIRECT_URI, SCOPE } from './servers/common.js';
import { benchStores } from './stores.js';

const env = process.env;
const args = process.argv.slice(2);
const QUICK = env.BENCH_QUICK === '1';
const SECONDS = Number(env.BENCH_DURATION ?? (QUICK ? 2 : 10));
const WARMUP = Number(env.BENCH_WARMUP ?? (QUICK ? 1 : 3));
const RSS_SECONDS = Number(env.BENCH_RSS_SECONDS ?? (QUICK ? 4 : 60));
const BASELINE_MS = Number(env.BENCH_BASELINE_MS ?? (QUICK ? 500 : 3000));
const ONLY = env.BENCH_ONLY ? new RegExp(env.BENCH_ONLY) : null;
const SELECTED = (env.BENCH_FRAMEWORKS ?? FRAMEWORKS.join(',')).split(',').filter((f): f is Framework => (FRAMEWORKS as readonly string[]).includes(f));
const PROFILE = args.includes('--profile');
const RESULTS = join(benchRoot, 'results');

interface Ceilings {
  signPerSec: number;
  verifyPerSec: number;
  guardPerSec: number;
}

/** One measurement to take: its server, and the job to run against it. */
interface Plan {
  id: string;
  label: string;
  server: { kind: 'keyward' | 'bare' | 'mcp-sdk' | 'oidc-provider'; framework: Framework; env?: NodeJS.ProcessEnv };
  job: (server: RunningServer) => Promise<Pick<LoadJob, 'request' | 'expect'>>;
}

const JSON_HEADERS = { 'content-type': 'application/json' };
const REGISTRATION = JSON.stringify({
  client_name: 'bench client',
  redirect_uris: [REDIRECT_URI],
  token_endpoint_auth_method: 'none',
  grant_types: ['authorization_code', 'refresh_token'],
  response_types: ['code'],
  scope: SCOPE,
});


/** Access tokens from Keyward's client_credentials grant, minted over HTTP before the load. */
function keywardTokens(server: RunningServer, count: number): Promise<string[]> {
  const request = clientCredentials('/oauth/token', `${server.base}/mcp`);
  return inParallel(count, CONNECTIONS, () => redeem(server.base, request));
}

/** The bare servers' tokens: signed here (the load core) with the key whose public half they verify with. */
const bareKeys = await generateKeyPair('ES256', { extractable: true });
const BARE_ISSUER = 'http://127.0.0.1/bench-issuer';
const BARE_AUDIENCE = 'http://127.0.0.1/mcp';
const bareEnv = { BENCH_JWK: JSON.stringify(await exportJWK(bareKeys.publicKey)), BENCH_ISSUER: BARE_ISSUER, BENCH_AUDIENCE: BARE_AUDIENCE };
function bareToken(): Promise<string> {
  return new SignJWT({ client_id: CC_CLIENT_ID, scope: SCOPE })
    .setProtectedHeader({ alg: 'ES256', kid: 'bench', typ: 'at+jwt' })
    .setIssuer(BARE_ISSUER)
    .setSubject(CC_CLIENT_ID)
    .setAudience(BARE_AUDIENCE)
    .setIssuedAt()
    .setExpirationTime('1h')
    .setJti(crypto.randomUUID())
    .sign(bareKeys.privateKey);
}

function keywardPlans(framework: Framework): Plan[] {
  const server = { kind: 'keyward', framework } as const;
  const id = (kind: string) => `keyward.${kind}.${framework}`;
  return [
    {
      id: id('cached'),
      label: `Keyward ${framework}: bearer, same token`,
      server,
      job: async (s) => ({ expect: 200, request: bearerRequests('/guarded', await keywardTokens(s, 1))[0]! }),
    },
    {
      id: id('fresh'),
      label: `Keyward ${framework}: bearer, first-seen tokens`,
      server,
      job: async (s) => ({ expect: 200, request: async (n) => bearerRequests('/guarded', await keywardTokens(s, n)) }),
    },
    {
      id: id('code'),
      label: `Keyward ${framework}: authorization_code + PKCE`,
      server,
      job: async (s) => ({
        expect: 200,
        request: authorizationCodes({ base: s.base, authorizePath: '/oauth/authorize', tokenPath: '/oauth/token', clientId: PUBLIC_CLIENT_ID, redirectUri: REDIRECT_URI, resource: `${s.base}/mcp`, scope: SCOPE }),
      }),
    },
    { id: id('cc'), label: `Keyward ${framework}: client_credentials`, server, job: async (s) => ({ expect: 200, request: clientCredentials('/oauth/token', `${s.base}/mcp`) }) },
    { id: id('discovery'), label: `Keyward ${framework}: discovery`, server, job: async () => ({ expect: 200, request: { method: 'GET', path: '/.well-known/oauth-authorization-server' } }) },
    { id: id('register'), label: `Keyward ${framework}: registration`, server, job: async () => ({ expect: 201, request: { method: 'POST', path: '/oauth/register', headers: JSON_HEADERS, body: REGISTRATION } }) },
  ];
}

function barePlans(framework: Framework): Plan[] {
  const server = { kind: 'bare', framework, env: bareEnv } as const;
  return [
    { id: `bare.hello.${framework}`, label: `bare ${framework}: hello`, server, job: async () => ({ expect: 200, request: { method: 'GET', path: '/hello' } }) },
    { id: `bare.jose.${framework}`, label: `bare ${framework}: jose verify, same token`, server, job: async () => ({ expect: 200, request: bearerRequests('/jose', [await bareToken()])[0]! }) },
    {
      id: `bare.joseFresh.${framework}`,
      label: `bare ${framework}: jose verify, first-seen tokens`,
      server,
      job: async () => ({ expect: 200, request: async (n) => bearerRequests('/jose', await inParallel(n, 1, bareToken)) }),
    },
  ];
}

function peerPlans(): Plan[] {
  const sdk = { kind: 'mcp-sdk', framework: 'express' } as const;
  const sdkCodes = (s: RunningServer) =>
    authorizationCodes({ base: s.base, authorizePath: '/authorize', tokenPath: '/token', clientId: PUBLIC_CLIENT_ID, redirectUri: REDIRECT_URI, resource: `${s.base}/mcp`, scope: SCOPE });
  return [
    {
      id: 'sdk.cached',
      label: 'MCP SDK: requireBearerAuth, same token',
      server: sdk,
      job: async (s) => {
        const [spend] = await sdkCodes(s)(1);
        return { expect: 200, request: bearerRequests('/guarded', [await redeem(s.base, spend!)])[0]! };
      },
    },
    { id: 'sdk.code', label: 'MCP SDK: authorization_code + PKCE', server: sdk, job: async (s) => ({ expect: 200, request: sdkCodes(s) }) },
    { id: 'sdk.discovery', label: 'MCP SDK: metadata', server: sdk, job: async () => ({ expect: 200, request: { method: 'GET', path: '/.well-known/oauth-authorization-server' } }) },
    { id: 'sdk.register', label: 'MCP SDK: /register', server: sdk, job: async () => ({ expect: 201, request: { method: 'POST', path: '/register', headers: JSON_HEADERS, body: REGISTRATION } }) },
    { id: 'oidc.cc', label: 'oidc-provider: client_credentials', server: { kind: 'oidc-provider', framework: 'express' }, job: async (s) => ({ expect: 200, request: clientCredentials('/token', `${s.base}/mcp`) }) },
  ];
}

/** One request before the load: a route that answers the wrong status would otherwise be measured as errors. */
async function probe(base: string, request: RequestSpec, expect: number): Promise<void> {
  const response = await fetch(`${base}${request.path}`, { method: request.method, headers: request.headers, body: request.body, signal: AbortSignal.timeout(30_000) });
  const text = await response.text();
  if (response.status !== expect) throw new Error(`${request.method} ${request.path} answered ${response.status}, expected ${expect}: ${text.slice(0, 300)}`);
}

interface Timed {
  measurement: Measurement;
  window: { fromMicros: number; toMicros: number };
  rss: number[];
}

const nowMicros = () => Number(process.hrtime.bigint() / 1000n);

async function runPlan(plan: Plan, options: { seconds?: number; nodeFlags?: string[]; rssEveryMs?: number } = {}): Promise<Timed> {
  const server = await startServer(plan.server.kind, plan.server.framework, { env: plan.server.env, nodeFlags: options.nodeFlags });
  const window = { fromMicros: 0, toMicros: 0 };
  const rss: number[] = [];
  const serverCpu = { start: Number.NaN, end: Number.NaN };
  let sampler: NodeJS.Timeout | undefined;
  try {
    const { request, expect } = await plan.job(server);
    if (typeof request !== 'function') await probe(server.base, request, expect);
    const measurement = await measure({
      id: plan.id,
      label: plan.label,
      base: server.base,
      expect,
      request,
      warmupSeconds: WARMUP,
      seconds: options.seconds ?? SECONDS,
      onTimed: (phase) => {
        if (phase === 'start') {
          serverCpu.start = cpuMicrosOf(server.pid);
          window.fromMicros = nowMicros();
          if (options.rssEveryMs) sampler = setInterval(() => rss.push(rssOf(server.pid)), options.rssEveryMs);
        } else {
          window.toMicros = nowMicros();
          serverCpu.end = cpuMicrosOf(server.pid);
          clearInterval(sampler);
        }
      },
    });
    measurement.serverCpuMicros = (serverCpu.end - serverCpu.start) / Math.max(1, measurement.ok + measurement.bad);
    return { measurement, window, rss };
  } finally {
    clearInterval(sampler);
    await server.stop();
  }
}

function describe(m: Measurement): string {
  const notes = [m.bad ? `${m.bad} unexpected status` : '', m.errors ? `${m.errors} errors` : '', m.exhausted ? 'feed ran out' : '', m.loaderCpu >= 0.9 ? 'load generator at its limit' : '']
    .filter(Boolean)
    .join(', ');
  const server = m.serverCpuMicros !== undefined && Number.isFinite(m.serverCpuMicros) ? `  server ${m.serverCpuMicros.toFixed(1)} µs/resp` : '';
  return `${m.label.padEnd(52)} ${Math.round(m.perSec).toString().padStart(7)} req/s  p99 ${m.p99.toFixed(2)} ms  load cpu ${(m.loaderCpu * 100).toFixed(0)} %${server}${notes ? `  (${notes})` : ''}`;
}

async function ceilings(): Promise<Ceilings> {
  return runPinnedScript<Ceilings>('jose-baseline.ts', { BENCH_BASELINE_MS: String(BASELINE_MS) });
}

function mode(): string {
  return QUICK ? `QUICK smoke run (${SECONDS} s per row after ${WARMUP} s warm-up): checks the harness, figures are not evidence` : `${SECONDS} s per row after ${WARMUP} s warm-up`;
}

async function profileRun(): Promise<void> {
  const directory = join(RESULTS, 'profiles');
  mkdirSync(directory, { recursive: true });
  const sections: string[] = [`# CPU profiles (${new Date().toISOString()}, ${mode()})`, '', `Self time of the server process in the timed phase only; ${pinningNote()}.`];
  for (const framework of SELECTED) {
    for (const plan of keywardPlans(framework).filter((p) => /\.(code|cc|cached|fresh)\./.test(p.id) && (!ONLY || ONLY.test(p.id)))) {
      // One directory per row: node writes a profile per thread (tsx's loader runs in a worker), and the
      // main thread's is the one whose name ends in .0.<n>.cpuprofile (thread id 0).
      const rowDirectory = join(directory, plan.id);
      rmSync(rowDirectory, { recursive: true, force: true });
      const { measurement, window } = await runPlan(plan, { nodeFlags: ['--cpu-prof', '--cpu-prof-dir', rowDirectory] });
      console.log(describe(measurement));
      const main = readdirSync(rowDirectory).find((file) => /\.0\.\d+\.cpuprofile$/.test(file));
      if (!main) throw new Error(`no main-thread profile in ${rowDirectory}`);
      const profile = JSON.parse(readFileSync(join(rowDirectory, main), 'utf8')) as CpuProfile;
      let summary = topSelfTime(profile, 15, window);
      let title = `${plan.label} — ${Math.round(measurement.perSec)} req/s`;
      if (summary.totalMs === 0) {
        summary = topSelfTime(profile, 15);
        title += ' (whole process: the timed window matched no samples)';
      }
      const text = formatProfile(title, summary);
      console.log(`\n${text}\n`);
      sections.push('', text);
    }
  }
  writeFileSync(join(RESULTS, 'profile.md'), `${sections.join('\n')}\n`);
  console.log(`profiles in ${directory}, summary in ${join(RESULTS, 'profile.md')}`);
}

async function storesRun(): Promise<void> {
  const stores = await benchStores();
  const memory = stores.find((result) => result.store === 'memory');
  const ratio = (value: number, base: number | undefined) => (base ? (value / base).toFixed(3) : '');
  console.log('| store | consume codes/s | rotate refresh/s | consume ratio to memory | rotate ratio to memory |');
  console.log('|---|---|---|---|---|');
  for (const result of stores) {
    console.log(`| ${result.store} | ${Math.round(result.consumePerSec)} | ${Math.round(result.rotatePerSec)} | ${ratio(result.consumePerSec, memory?.consumePerSec)} | ${ratio(result.rotatePerSec, memory?.rotatePerSec)} |`);
  }
}

async function fullRun(): Promise<void> {
  const started = new Date();
  console.log(`Keyward bench: ${mode()}; ${CONNECTIONS} connections; ${pinningNote()}; Node ${process.version}; ${cpus()[0]?.model ?? 'unknown CPU'}`);
  const before = await ceilings();
  console.log(`jose ES256 on the server core before: sign ${Math.round(before.signPerSec)}/s, verify ${Math.round(before.verifyPerSec)}/s`);

  const plans = [...SELECTED.flatMap((f) => [...barePlans(f), ...keywardPlans(f)]), ...peerPlans()].filter((plan) => !ONLY || ONLY.test(plan.id));
  const measurements = new Map<string, Measurement>();
  const failures: string[] = [];
  for (const plan of plans) {
    try {
      const { measurement } = await runPlan(plan);
      measurements.set(plan.id, measurement);
      console.log(describe(measurement));
    } catch (error) {
      failures.push(`${plan.id}: ${error instanceof Error ? error.message : String(error)}`);
      console.error(`FAILED ${plan.id}: ${error instanceof Error ? error.message : error}`);
    }
  }

  const rss: RssSeries[] = [];
  if (!ONLY || ONLY.test('rss')) {
    for (const framework of SELECTED) {
      const plan = keywardPlans(framework).find((p) => p.id === `keyward.cc.${framework}`)!;
      try {
        const run = await runPlan({ ...plan, id: `rss.${framework}`, label: `${plan.label}, ${RSS_SECONDS} s (RSS)` }, { seconds: RSS_SECONDS, rssEveryMs: Math.max(250, (RSS_SECONDS * 1000) / 60) });
        rss.push({ framework, seconds: RSS_SECONDS, samples: run.rss.filter(Number.isFinite) });
        console.log(describe(run.measurement));
      } catch (error) {
        failures.push(`rss.${framework}: ${error instanceof Error ? error.message : String(error)}`);
      }
    }
  }

  const after = await ceilings();
  const sign = (before.signPerSec + after.signPerSec) / 2;
  const verify = (before.verifyPerSec + after.verifyPerSec) / 2;
  const drift = (after.signPerSec - before.signPerSec) / before.signPerSec;
  const ceilingLine = `jose ES256 ceiling on the server core: sign ${Math.round(before.signPerSec)}/s before, ${Math.round(after.signPerSec)}/s after (drift ${(drift * 100).toFixed(1)} %); verify ${Math.round(before.verifyPerSec)}/s before, ${Math.round(after.verifyPerSec)}/s after; Keyward guard in-process ${Math.round(after.guardPerSec)}/s`;

  const figures: Figures = new Map<string, { perSec: number; bad?: number; errors?: number }>([...measurements, ['ceiling.sign', { perSec: sign }], ['ceiling.verify', { perSec: verify }]]);
  const table = formatTable(
    tableRows(SELECTED).filter((row) => measurements.has(row.subject)),
    measurements,
    { sign, verify },
  );
  const targets: TargetResult[] = [
    ...ratioTargets()
      .filter((t) => SELECTED.some((f) => t.subject.endsWith(`.${f}`)))
      .map((t) => evaluateRatio(t, figures)),
    ...evaluateLatency([...measurements.values()], SELECTED.filter((f) => f !== 'express')),
    ...rss.map((series) => evaluateRss(series)),
  ];
  const passed = targets.filter((t) => t.status === 'PASS').length;
  const summary = `${passed} of ${targets.length} targets met`;

  const header = [
    `Run ${started.toISOString()}: ${mode()}; ${CONNECTIONS} connections; ${pinningNote()}; Node ${process.version}; ${cpus()[0]?.model ?? 'unknown CPU'}, ${cpus().length} cores.`,
    '',
    ceilingLine,
  ].join('\n');
  const legend = 'Flags: ⚠ responses with an unexpected status or errors (not clean evidence), (ran out) pre-minted codes or tokens ran out before the duration, (load-bound) the load generator used ≥ 90 % of its core.';
  const cpuTable = ['Server CPU per response over the timed phase (user + system, all threads of the server process), beside the load generator\'s use of its core: where that nears 100 %, the rate is the generator\'s limit and this column is the server\'s cost.', '', formatServerCpu([...measurements.values()])].join('\n');
  const markdown = [header, '', table, '', legend, '', '```', formatTargets(targets), '```', '', summary, '', cpuTable, ...(failures.length ? ['', 'Rows that failed to run:', ...failures.map((f) => `- ${f}`)] : [])].join('\n');
  console.log(`\n${markdown}\n`);

  mkdirSync(RESULTS, { recursive: true });
  writeFileSync(join(RESULTS, 'latest.md'), `${markdown}\n`);
  writeFileSync(
    join(RESULTS, 'latest.json'),
    `${JSON.stringify(
      {
        started: started.toISOString(),
        quick: QUICK,
        seconds: SECONDS,
        warmupSeconds: WARMUP,
        connections: CONNECTIONS,
        pinning: pinningNote(),
        node: process.version,
        cpu: cpus()[0]?.model,
        ceilings: { before, after },
        measurements: [...measurements.values()].map((m) => ({ ...m, perSignCeiling: m.perSec / sign })),
        rss,
        targets,
        failures,
      },
      null,
      2,
    )}\n`,
  );
  console.log(`written: ${join(RESULTS, 'latest.md')} and latest.json`);
  if (failures.length) process.exitCode = 1;
}

console.log(`load generator: this process, ${pinSelfToLoadCore()}`);
if (args[0] === 'alternate') await (await import('./alternate.js')).alternateRun(args.slice(1));
else if (args.includes('stores')) await storesRun();
else if (args.includes('ops')) await import('./ops-cost.js');
else if (PROFILE) await profileRun();
else await fullRun();
