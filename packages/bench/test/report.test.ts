import { describe, expect, it } from 'vitest';
import {
  evaluateLatency,
  evaluateRatio,
  evaluateRss,
  formatServerCpu,
  formatTable,
  formatTargets,
  latencySummary,
  percentile,
  ratioTargets,
  rssGrowth,
  tableRows,
  topSelfTime,
  type CpuProfile,
  type Measurement,
} from '../src/report.js';

function measurement(id: string, perSec: number, extra: Partial<Measurement> = {}): Measurement {
  return { id, label: id, perSec, p50: 1, p99: 2, ok: perSec, bad: 0, errors: 0, seconds: 1, loaderCpu: 0.5, exhausted: false, ...extra };
}

describe('bench percentiles', () => {
  it('PERF-BENCH-01: nearest-rank percentiles of unsorted latencies', () => {
    const latencies = Array.from({ length: 100 }, (_, i) => 100 - i); // 100 … 1, unsorted
    expect(latencySummary(latencies)).toEqual({ p50: 50, p99: 99, max: 100 });
    expect(percentile([1, 2, 3, 4], 75)).toBe(3);
    expect(percentile([7], 99)).toBe(7);
    expect(percentile([], 50)).toBeNaN();
    // The caller's array is left alone: the load generator keeps recording into it.
    expect(latencies[0]).toBe(100);
  });

  it('PERF-BENCH-01: one slow response in a hundred is the p99, not the p50', () => {
    const latencies = [...Array.from({ length: 99 }, () => 1), 40];
    const { p50, p99 } = latencySummary(latencies);
    expect(p50).toBe(1);
    expect(p99).toBe(1);
    expect(latencySummary([...latencies, 40]).p99).toBe(40);
  });
});

describe('bench targets', () => {
  const target = ratioTargets().find((t) => t.subject === 'keyward.cached.hono')!;

  it('PERF-BENCH-02: a ratio at or above the goal passes, below it fails, a missing peer is MISSING', () => {
    expect(target).toMatchObject({ peer: 'bare.hello.hono', min: 0.7 });
    const figures = (subject: number, peer: number) => new Map([[target.subject, { perSec: subject }], [target.peer, { perSec: peer }]]);
    expect(evaluateRatio(target, figures(700, 1000))).toMatchObject({ status: 'PASS', value: 0.7 });
    expect(evaluateRatio(target, figures(699, 1000))).toMatchObject({ status: 'FAIL' });
    expect(evaluateRatio(target, new Map([[target.subject, { perSec: 700 }]])).status).toBe('MISSING');
    expect(evaluateRatio(target, figures(700, 0)).status).toBe('MISSING');
  });

  it('PERF-BENCH-02: a run with unexpected statuses fails its target whatever the ratio', () => {
    const figures = new Map([
      [target.subject, { perSec: 5000, bad: 3, errors: 0 }],
      [target.peer, { perSec: 1000 }],
    ]);
    expect(evaluateRatio(target, figures)).toMatchObject({ status: 'FAIL', note: expect.stringContaining('non-2xx') });
  });

  it('PERF-BENCH-02: every performance target is there once, against the right peer', () => {
    const byName = new Map(ratioTargets().map((t) => [`${t.subject} ${t.peer}`, t.min]));
    expect(byName.get('keyward.cached.express sdk.cached')).toBe(2.5);
    expect(byName.get('keyward.fresh.fastify bare.joseFresh.fastify')).toBe(0.95);
    expect(byName.get('keyward.code.express sdk.code')).toBe(2);
    expect(byName.get('keyward.code.hono ceiling.sign')).toBe(0.4);
    expect(byName.get('keyward.cc.express oidc.cc')).toBe(1.5);
    expect(byName.get('keyward.discovery.express bare.hello.express')).toBe(0.9);
    expect(byName.get('keyward.register.express sdk.register')).toBe(2);
    expect(byName.has('keyward.code.express ceiling.sign')).toBe(false);
    expect(ratioTargets().length).toBe(new Set(ratioTargets().map((t) => t.name)).size);
  });

  it('PERF-BENCH-02: p99 is held to 5 ms on the frameworks named, Keyward rows only', () => {
    const results = evaluateLatency(
      [measurement('keyward.cc.hono', 1, { p99: 5 }), measurement('keyward.cc.fastify', 1, { p99: 5.01 }), measurement('keyward.cc.express', 1, { p99: 50 }), measurement('bare.hello.hono', 1, { p99: 50 })],
      ['hono', 'fastify'],
    );
    expect(results.map((r) => [r.name, r.status])).toEqual([
      ['p99 keyward.cc.hono', 'PASS'],
      ['p99 keyward.cc.fastify', 'FAIL'],
    ]);
  });

  it('PERF-BENCH-04: RSS growth compares the floors (lowest samples) of the first and last quarter', () => {
    const flat = [100, 130, 100, 101, 99, 100, 102, 100]; // one GC peak, no trend
    expect(rssGrowth(flat).growth).toBeCloseTo(0, 1);
    expect(evaluateRss({ framework: 'hono', seconds: 60, samples: flat.map((v) => v * 1e6) }).status).toBe('PASS');
    const leaking = [100, 104, 108, 112, 116, 120, 124, 128];
    expect(rssGrowth(leaking).growth).toBeCloseTo(0.24, 2);
    expect(evaluateRss({ framework: 'hono', seconds: 60, samples: leaking }).status).toBe('FAIL');
    expect(evaluateRss({ framework: 'hono', seconds: 60, samples: [1, 2] }).status).toBe('MISSING');
    // A GC sawtooth sampled near its peaks early and near its floor late: no growth, whatever the medians say.
    const sawtooth = [150, 190, 200, 195, 180, 150, 170, 185, 160, 150, 175, 190, 150, 155, 160, 150];
    expect(rssGrowth(sawtooth).growth).toBe(0);
    // The same sawtooth riding up 20 %: the floor rises with it.
    const leakingSawtooth = sawtooth.map((value, index) => value * (1 + (0.2 * index) / (sawtooth.length - 1)));
    expect(rssGrowth(leakingSawtooth).growth).toBeGreaterThan(0.15);
    expect(evaluateRss({ framework: 'hono', seconds: 60, samples: leakingSawtooth }).status).toBe('FAIL');
  });
});

describe('bench table', () => {
  it('PERF-BENCH-03: one line per row and peer, with the ratio and the flags of unclean figures', () => {
    const measurements = new Map(
      [
        measurement('keyward.code.hono', 1500, { p99: 4.2 }),
        measurement('sdk.code', 1000, { bad: 2 }),
        measurement('keyward.discovery.hono', 9000, { loaderCpu: 0.95 }),
        measurement('bare.hello.hono', 10000, { exhausted: true }),
      ].map((m) => [m.id, m]),
    );
    const rows = tableRows(['hono']).filter((row) => measurements.has(row.subject));
    const table = formatTable(rows, measurements, { sign: 3000, verify: 6000 }).split('\n');
    expect(table[0]).toMatch(/^\| path \| framework \| Keyward req\/s/);
    expect(table).toContain('| token: authorization_code + PKCE → ES256 JWT | hono | 1,500 | 4.20 | MCP SDK token endpoint (Express) | 1,000 ⚠2 bad | 2.00 | 1.50× |');
    expect(table).toContain('| token: authorization_code + PKCE → ES256 JWT | hono | 1,500 | 4.20 | jose ES256 sign ceiling (ops/s) | 3,000 |  | 0.50× |');
    expect(table).toContain('| discovery document | hono | 9,000 (load-bound) | 2.00 | bare hono hello | 10,000 (ran out) | 2.00 | 0.90× |');
    // A peer not measured in this run shows a dash, never a ratio against nothing.
    expect(table).toContain('| discovery document | hono | 9,000 (load-bound) | 2.00 | MCP SDK metadata (Express) | — | — | — |');
    expect(table).toHaveLength(2 + 4);
  });

  it('PERF-BENCH-03: targets print their status, value and goal', () => {
    const text = formatTargets([
      { name: 'a', status: 'PASS', value: 2.345, goal: '≥ 2.00' },
      { name: 'b', status: 'FAIL', value: 7.5, goal: '≤ 5 ms' },
      { name: 'c', status: 'MISSING', value: Number.NaN, goal: 'within 10 %' },
    ]);
    expect(text.split('\n')).toEqual(['PASS    a: 2.35 (goal ≥ 2.00)', 'FAIL    b: 7.50 ms (goal ≤ 5 ms)', 'MISSING c: — (goal within 10 %)']);
  });
});

describe('bench profiles', () => {
  // Three functions; samples every 1 ms; `sign` is hit twice inside the window, `parse` once, idle once.
  const profile: CpuProfile = {
    nodes: [
      { id: 1, callFrame: { functionName: '(root)', url: '', lineNumber: -1 } },
      { id: 2, callFrame: { functionName: 'sign', url: 'file:///x/node_modules/.pnpm/jose@6/node_modules/jose/dist/sign.js', lineNumber: 9 } },
      { id: 3, callFrame: { functionName: 'parse', url: 'file:///w/packages/core/src/http.ts', lineNumber: 0 } },
      { id: 4, callFrame: { functionName: '(idle)', url: '', lineNumber: -1 } },
      { id: 5, callFrame: { functionName: 'sign', url: 'file:///x/node_modules/.pnpm/jose@6/node_modules/jose/dist/sign.js', lineNumber: 9 } },
    ],
    startTime: 1_000_000,
    endTime: 1_007_000,
    samples: [3, 2, 5, 3, 4, 3, 1],
    timeDeltas: [0, 1000, 1000, 1000, 1000, 1000, 1000],
  };

  it('PERF-BENCH-05: self time per function inside the timed window, same function merged, idle apart', () => {
    const summary = topSelfTime(profile, 15, { fromMicros: 1_001_000, toMicros: 1_004_000 });
    expect(summary.idleMs).toBe(1);
    expect(summary.totalMs).toBe(3);
    expect(summary.entries).toEqual([
      { name: 'sign', where: 'jose/dist/sign.js:10', ms: 2, share: 2 / 3 },
      { name: 'parse', where: 'packages/core/src/http.ts:1', ms: 1, share: 1 / 3 },
    ]);
    // Without a window: parse 3 ms against sign 2 ms (the last sample has no interval after it).
    expect(topSelfTime(profile, 1).entries).toMatchObject([{ name: 'parse', ms: 3 }]);
  });
});

describe('server CPU per response', () => {
  it('PERF-BENCH-05: each measurement is listed with its server CPU per response, or a dash where none was read', () => {
    const base = { p50: 1, p99: 2, ok: 10, bad: 0, errors: 0, seconds: 1, exhausted: false };
    const table = formatServerCpu([
      { ...base, id: 'a', label: 'Keyward hono: discovery', perSec: 40196.4, loaderCpu: 0.81, serverCpuMicros: 23.456 },
      { ...base, id: 'b', label: 'bare hono: hello', perSec: 52603, loaderCpu: 0.83 },
    ]);
    expect(table.split('\n').slice(2)).toEqual(['| Keyward hono: discovery | 40,196 | 23.5 | 81 % |', '| bare hono: hello | 52,603 | — | 83 % |']);
  });
});

