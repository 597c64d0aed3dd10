/**
 * The pure part of `pnpm bench`: latency percentiles, the table of rows beside their peers, the targets as
 * ratios with PASS/FAIL, RSS flatness and the self-time summary of a CPU profile. Nothing here does I/O, so
 * `test/report.test.ts` can pin every rule down.
 */

export type Framework = 'express' | 'hono' | 'fastify';
export const FRAMEWORKS: readonly Framework[] = ['express', 'hono', 'fastify'];

/** One load run against one server route: what the table and the targets are computed from. */
export interface Measurement {
  /** Stable key, e.g. `keyward.cached.hono` or `sdk.token`; rows and targets refer to it. */
  id: string;
  label: string;
  /** Responses with the expected status per second, timed from the first request to the last response. */
  perSec: number;
  p50: number;
  p99: number;
  /** Responses with the expected status in the timed phase. */
  ok: number;
  /** Responses with another status, and socket errors: a row with either is not a clean measurement. */
  bad: number;
  errors: number;
  seconds: number;
  /** The load generator's CPU use over the timed phase (1 = its whole core): near 1, the figure is its limit. */
  loaderCpu: number;
  /** The pre-minted codes or tokens ran out before the duration (the rate stays valid, the run was shorter). */
  exhausted: boolean;
  /**
   * The server's CPU time per response over the timed phase, in microseconds (all its threads). Where the
   * load generator nears its limit, this rather than the rate says what the server itself costs.
   */
  serverCpuMicros?: number;
}

/** Nearest-rank percentile of an ascending array; NaN when it is empty. */
export function percentile(sorted: ArrayLike<number>, p: number): number {
  if (sorted.length === 0) return Number.NaN;
  if (p <= 0) return sorted[0]!;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, rank) - 1]!;
}

/** p50, p99 and max of unsorted latencies (ms); the input is left as it was. */
export function latencySummary(latencies: ArrayLike<number>): { p50: number; p99: number; max: number } {
  const sorted = Float64Array.from(latencies).sort();
  return { p50: percentile(sorted, 50), p99: percentile(sorted, 99), max: sorted.length ? sorted[sorted.length - 1]! : Number.NaN };
}

/** A peer of a row: a measurement id, or a ceiling (ops/s measured outside HTTP). */
export interface PeerSpec {
  id: string;
  label: string;
}

/** One row of the table: Keyward on one framework beside its peers. */
export interface RowSpec {
  path: string;
  framework: Framework;
  subject: string;
  peers: PeerSpec[];
}

const bare = (framework: Framework) => `bare ${framework}`;

/** The rows of the table, each Keyward measurement beside the peers measured in the same run. */
export function tableRows(frameworks: readonly Framework[] = FRAMEWORKS): RowSpec[] {
  const rows: RowSpec[] = [];
  const each = (path: string, kind: string, peers: (framework: Framework) => PeerSpec[]) => {
    for (const framework of frameworks) rows.push({ path, framework, subject: `keyward.${kind}.${framework}`, peers: peers(framework) });
  };
  each('bearer-guarded request, same token each time', 'cached', (f) => [
    { id: 'sdk.cached', label: 'MCP SDK requireBearerAuth (Express)' },
    { id: `bare.jose.${f}`, label: `${bare(f)} + jose verify` },
    { id: `bare.hello.${f}`, label: `${bare(f)} hello` },
  ]);
  each('bearer-guarded request, first-seen token each time', 'fresh', (f) => [{ id: `bare.joseFresh.${f}`, label: `${bare(f)} + jose verify, first-seen tokens` }]);
  each('token: authorization_code + PKCE → ES256 JWT', 'code', () => [
    { id: 'sdk.code', label: 'MCP SDK token endpoint (Express)' },
    { id: 'ceiling.sign', label: 'jose ES256 sign ceiling (ops/s)' },
  ]);
  each('token: client_credentials → ES256 JWT', 'cc', () => [{ id: 'oidc.cc', label: 'oidc-provider (Koa)' }]);
  each('discovery document', 'discovery', (f) => [
    { id: `bare.hello.${f}`, label: `${bare(f)} hello` },
    { id: 'sdk.discovery', label: 'MCP SDK metadata (Express)' },
  ]);
  each('dynamic registration', 'register', () => [{ id: 'sdk.register', label: 'MCP SDK /register (Express)' }]);
  return rows;
}

/** A target of the form subject ÷ peer ≥ min. */
export interface RatioTarget {
  name: string;
  subject: string;
  peer: string;
  min: number;
}

/** The ratio targets, one per framework they apply to. */
export function ratioTargets(): RatioTarget[] {
  const targets: RatioTarget[] = [];
  for (const f of ['hono', 'fastify'] as const) {
    targets.push({ name: `cached bearer (${f}) ≥ 70 % of bare ${f} hello`, subject: `keyward.cached.${f}`, peer: `bare.hello.${f}`, min: 0.7 });
  }
  targets.push({ name: 'cached bearer (express) ≥ 2.5× MCP SDK requireBearerAuth', subject: 'keyward.cached.express', peer: 'sdk.cached', min: 2.5 });
  for (const f of FRAMEWORKS) {
    targets.push({ name: `first-seen bearer (${f}) ≥ 95 % of bare ${f} + jose verify`, subject: `keyward.fresh.${f}`, peer: `bare.joseFresh.${f}`, min: 0.95 });
  }
  targets.push({ name: 'authorization_code (express) ≥ 2× MCP SDK token endpoint', subject: 'keyward.code.express', peer: 'sdk.code', min: 2 });
  for (const f of ['hono', 'fastify'] as const) {
    targets.push({ name: `authorization_code (${f}) ≥ 40 % of the ES256 signing ceiling`, subject: `keyward.code.${f}`, peer: 'ceiling.sign', min: 0.4 });
  }
  for (const f of FRAMEWORKS) {
    targets.push({ name: `client_credentials (${f}) ≥ 1.5× oidc-provider`, subject: `keyward.cc.${f}`, peer: 'oidc.cc', min: 1.5 });
  }
  for (const f of FRAMEWORKS) {
    targets.push({ name: `discovery (${f}) ≥ 90 % of bare ${f} hello`, subject: `keyward.discovery.${f}`, peer: `bare.hello.${f}`, min: 0.9 });
  }
  targets.push({ name: 'registration (express) ≥ 2× MCP SDK /register', subject: 'keyward.register.express', peer: 'sdk.register', min: 2 });
  return targets;
}

export type Status = 'PASS' | 'FAIL' | 'MISSING';

export interface TargetResult {
  name: string;
  status: Status;
  /** The measured value (a ratio, milliseconds or a fraction of growth); NaN when missing. */
  value: number;
  /** What the value was held against, in words: `≥ 0.70`. */
  goal: string;
  note?: string;
}

/** Lookup of per-second figures: measurements by id, plus the ceilings as `ceiling.sign`/`ceiling.verify`. */
export type Figures = ReadonlyMap<string, Pick<Measurement, 'perSec'> & Partial<Pick<Measurement, 'bad' | 'errors'>>>;

/** A measurement with errors is no evidence: its target fails whatever the ratio says. */
function unclean(figure: Partial<Pick<Measurement, 'bad' | 'errors'>> | undefined): boolean {
  return Boolean(figure && ((figure.bad ?? 0) > 0 || (figure.errors ?? 0) > 0));
}

export function evaluateRatio(target: RatioTarget, figures: Figures): TargetResult {
  const subject = figures.get(target.subject);
  const peer = figures.get(target.peer);
  const goal = `≥ ${target.min.toFixed(2)}`;
  if (!subject || !peer || !(peer.perSec > 0)) return { name: target.name, status: 'MISSING', value: Number.NaN, goal };
  const value = subject.perSec / peer.perSec;
  if (unclean(subject) || unclean(peer)) return { name: target.name, status: 'FAIL', value, goal, note: 'non-2xx responses or errors in the run' };
  return { name: target.name, status: value >= target.min ? 'PASS' : 'FAIL', value, goal };
}

/** p99 ≤ `maxMs` for every Keyward measurement on the given frameworks. */
export function evaluateLatency(measurements: readonly Measurement[], frameworks: readonly Framework[], maxMs = 5): TargetResult[] {
  return measurements
    .filter((m) => m.id.startsWith('keyward.') && frameworks.some((f) => m.id.endsWith(`.${f}`)))
    .map((m) => ({ name: `p99 ${m.label}`, status: m.p99 <= maxMs ? 'PASS' : 'FAIL', value: m.p99, goal: `≤ ${maxMs} ms` }));
}

/** RSS samples (bytes) of a server over a run, taken after its warm-up. */
export interface RssSeries {
  framework: Framework;
  seconds: number;
  samples: number[];
}

/**
 * Growth of RSS over a run: the floor (lowest sample) of the last quarter of the samples against the floor
 * of the first quarter. Between collections RSS climbs and falls back in a sawtooth tens of megabytes high,
 * so any one sample, or a median of a few, depends on where in its cycle it was taken; the floor is what
 * the process keeps after a collection, which is what a leak raises.
 */
export function rssGrowth(samples: readonly number[]): { first: number; last: number; peak: number; growth: number } {
  if (samples.length === 0) return { first: Number.NaN, last: Number.NaN, peak: Number.NaN, growth: Number.NaN };
  const quarter = Math.max(1, Math.floor(samples.length / 4));
  const first = Math.min(...samples.slice(0, quarter));
  const last = Math.min(...samples.slice(-quarter));
  return { first, last, peak: Math.max(...samples), growth: (last - first) / first };
}

export function evaluateRss(series: RssSeries, maxGrowth = 0.1): TargetResult {
  const { growth, first, last } = rssGrowth(series.samples);
  const name = `RSS flat over ${Math.round(series.seconds)} s of client_credentials (${series.framework})`;
  const goal = `within ${Math.round(maxGrowth * 100)} %`;
  if (series.samples.length < 4) return { name, status: 'MISSING', value: Number.NaN, goal, note: 'fewer than 4 samples' };
  const note = `${mb(first)} → ${mb(last)} MB`;
  return { name, status: Math.abs(growth) <= maxGrowth ? 'PASS' : 'FAIL', value: growth, goal, note };
}

const mb = (bytes: number) => (bytes / 1024 / 1024).toFixed(1);

/** Thousands with a thin grouping, whole numbers: 12,345. */
export function formatRate(perSec: number | undefined): string {
  return perSec === undefined || !Number.isFinite(perSec) ? '—' : Math.round(perSec).toLocaleString('en-US');
}

export function formatRatio(ratio: number): string {
  return Number.isFinite(ratio) ? `${ratio.toFixed(2)}×` : '—';
}

function formatMs(ms: number | undefined): string {
  return ms === undefined || !Number.isFinite(ms) ? '—' : ms.toFixed(ms < 10 ? 2 : 1);
}

/** Marks a figure that is not clean evidence: errors, pre-minted input ran out, or the load generator was the limit. */
export function flags(m: Measurement | undefined): string {
  if (!m) return '';
  let out = '';
  if (m.bad > 0 || m.errors > 0) out += ` ⚠${m.bad + m.errors} bad`;
  if (m.exhausted) out += ' (ran out)';
  if (m.loaderCpu >= 0.9) out += ' (load-bound)';
  return out;
}

/**
 * The markdown table: one line per row and peer, Keyward's figure repeated so each line reads on its own.
 * `ceilings` are the jose figures (ops/s) the `ceiling.*` peers refer to.
 */
export function formatTable(rows: readonly RowSpec[], measurements: ReadonlyMap<string, Measurement>, ceilings: { sign: number; verify: number }): string {
  const lines = [
    '| path | framework | Keyward req/s | Keyward p99 ms | peer | peer req/s | peer p99 ms | Keyward ÷ peer |',
    '|---|---|---:|---:|---|---:|---:|---:|',
  ];
  for (const row of rows) {
    const subject = measurements.get(row.subject);
    for (const peerSpec of row.peers) {
      const ceiling = peerSpec.id === 'ceiling.sign' ? ceilings.sign : peerSpec.id === 'ceiling.verify' ? ceilings.verify : undefined;
      const peer = measurements.get(peerSpec.id);
      const peerRate = ceiling ?? peer?.perSec;
      const ratio = subject && peerRate ? subject.perSec / peerRate : Number.NaN;
      lines.push(
        `| ${row.path} | ${row.framework} | ${formatRate(subject?.perSec)}${flags(subject)} | ${formatMs(subject?.p99)} | ${peerSpec.label} | ${formatRate(peerRate)}${flags(peer)} | ${ceiling ? '' : formatMs(peer?.p99)} | ${formatRatio(ratio)} |`,
      );
    }
  }
  return lines.join('\n');
}

export function formatTargets(results: readonly TargetResult[]): string {
  return results
    .map((r) => {
      const value = !Number.isFinite(r.value) ? '—' : r.goal.endsWith('ms') ? `${r.value.toFixed(2)} ms` : r.goal.startsWith('within') ? `${(r.value * 100).toFixed(1)} %` : r.value.toFixed(2);
      return `${r.status.padEnd(7)} ${r.name}: ${value} (goal ${r.goal})${r.note ? ` — ${r.note}` : ''}`;
    })
    .join('\n');
}

/** The parts of a V8 `.cpuprofile` the summary reads. */
export interface CpuProfile {
  nodes: { id: number; callFrame: { functionName: string; url: string; lineNumber: number }; hitCount?: number }[];
  startTime: number;
  endTime: number;
  samples?: number[];
  timeDeltas?: number[];
}

export interface SelfTimeEntry {
  name: string;
  where: string;
  ms: number;
  /** Share of the non-idle time in the window. */
  share: number;
}

function shortUrl(url: string): string {
  if (!url) return '';
  const path = url.replace(/^file:\/\//, '');
  const modules = path.lastIndexOf('/node_modules/');
  if (modules >= 0) return path.slice(modules + '/node_modules/'.length).replace(/^\.pnpm\/[^/]+\/node_modules\//, '');
  const packages = path.search(/\/(packages|examples)\//);
  return packages >= 0 ? path.slice(packages + 1) : path;
}

/**
 * Self time per function over `[fromMicros, toMicros]` (the profile's own monotonic clock, the same as
 * `process.hrtime` on Linux), biggest first, `(idle)` left out. Functions of the same name and place are
 * one entry, whichever call path reached them.
 */
export function topSelfTime(profile: CpuProfile, limit = 15, window?: { fromMicros: number; toMicros: number }): { entries: SelfTimeEntry[]; totalMs: number; idleMs: number } {
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const selfMicros = new Map<number, number>();
  const samples = profile.samples ?? [];
  const deltas = profile.timeDeltas ?? [];
  let time = profile.startTime;
  for (let i = 0; i < samples.length; i++) {
    time += deltas[i] ?? 0;
    // A sample's time is charged to the interval that ends at the next sample.
    const duration = deltas[i + 1] ?? 0;
    if (window && (time < window.fromMicros || time > window.toMicros)) continue;
    selfMicros.set(samples[i]!, (selfMicros.get(samples[i]!) ?? 0) + duration);
  }
  const entries = new Map<string, SelfTimeEntry>();
  let idle = 0;
  let total = 0;
  for (const [id, micros] of selfMicros) {
    const node = byId.get(id);
    if (!node) continue;
    const name = node.callFrame.functionName || '(anonymous)';
    if (name === '(idle)') {
      idle += micros;
      continue;
    }
    total += micros;
    const where = node.callFrame.url ? `${shortUrl(node.callFrame.url)}:${node.callFrame.lineNumber + 1}` : '';
    const key = `${name} ${where}`;
    const entry = entries.get(key) ?? { name, where, ms: 0, share: 0 };
    entry.ms += micros / 1000;
    entries.set(key, entry);
  }
  const sorted = [...entries.values()].sort((a, b) => b.ms - a.ms).slice(0, limit);
  for (const entry of sorted) entry.share = total ? (entry.ms * 1000) / total : 0;
  return { entries: sorted, totalMs: total / 1000, idleMs: idle / 1000 };
}

export function formatProfile(title: string, summary: ReturnType<typeof topSelfTime>): string {
  const lines = [`#### ${title}`, '', `${summary.totalMs.toFixed(0)} ms busy, ${summary.idleMs.toFixed(0)} ms idle in the timed phase`, '', '| self % | self ms | function | where |', '|---:|---:|---|---|'];
  for (const entry of summary.entries) lines.push(`| ${(entry.share * 100).toFixed(1)} | ${entry.ms.toFixed(0)} | ${entry.name} | ${entry.where} |`);
  return lines.join('\n');
}

/** Every measurement's server CPU time per response, as a Markdown table. */
export function formatServerCpu(measurements: readonly Measurement[]): string {
  const lines = ['| measurement | req/s | server CPU per response (µs) | load generator CPU |', '|---|---:|---:|---:|'];
  for (const m of measurements) {
    const cpu = m.serverCpuMicros === undefined || !Number.isFinite(m.serverCpuMicros) ? '—' : m.serverCpuMicros.toFixed(1);
    lines.push(`| ${m.label} | ${formatRate(m.perSec)} | ${cpu} | ${Math.round(m.loaderCpu * 100)} % |`);
  }
  return lines.join('\n');
}
