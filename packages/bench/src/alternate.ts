/**
 * `pnpm bench alternate <variant>:<request>,… [rounds] [seconds]`: the variants of `servers/variants.ts`,
 * all in one server process on the server core, loaded one after another in alternating rounds (the order
 * reversed every other round) by autocannon on the load core, 10 connections. Prints each variant's server
 * CPU time per response, median and every round, and each variant's paired difference from the first one.
 * Requests: `discovery` (GET metadata), `token` (POST client_credentials), `guarded` (GET /guarded with a
 * valid bearer token).
 *
 *   pnpm bench alternate node-static:discovery,express-static:discovery,express-keyward:discovery
 *   pnpm bench alternate express-hello:guarded,express-second-handler:guarded,express-guard:guarded 10 3
 */
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import autocannon from 'autocannon';
import { bearerRequests, clientCredentials, CONNECTIONS, type RequestSpec } from './load.js';
import { cpuMicrosOf, spawnPinnedNode } from './processes.js';
import { VARIANTS_ISSUER as ISSUER } from './servers/common.js';

const REQUESTS: Record<string, (token: string) => RequestSpec> = {
  discovery: () => ({ method: 'GET', path: '/.well-known/oauth-authorization-server' }),
  token: () => clientCredentials('/oauth/token', `${ISSUER}/mcp`),
  guarded: (token) => bearerRequests('/guarded', [token])[0]!,
};

const median = (values: readonly number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  return sorted.length % 2 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
};

export async function alternateRun(args: readonly string[]): Promise<void> {
  const [list, roundsText = '10', secondsText = '3'] = args;
  if (!list) throw new Error('usage: pnpm bench alternate <variant>:<request>,… [rounds] [seconds]');
  const rounds = Number(roundsText);
  const seconds = Number(secondsText);
  const child = spawnPinnedNode('servers/variants.ts', []);
  const [line] = (await once(createInterface({ input: child.stdout! }), 'line')) as [string];
  const { ports, token } = JSON.parse(line) as { ports: Record<string, number>; token: string };
  const variants = list.split(',').map((item) => {
    const [name = '', kind = ''] = item.split(':');
    if (!(name in ports)) throw new Error(`unknown variant ${name}; known: ${Object.keys(ports).join(', ')}`);
    if (!(kind in REQUESTS)) throw new Error(`unknown request ${kind}; known: ${Object.keys(REQUESTS).join(', ')}`);
    return { label: item, port: ports[name]!, request: REQUESTS[kind]!(token), cpu: [] as number[] };
  });
  const round = async (variant: (typeof variants)[number], duration: number): Promise<number> => {
    const before = cpuMicrosOf(child.pid!);
    const result = await autocannon({
      url: `http://127.0.0.1:${variant.port}${variant.request.path}`,
      method: variant.request.method,
      headers: { host: new URL(ISSUER).host, ...variant.request.headers },
      ...(variant.request.body !== undefined && { body: variant.request.body }),
      connections: CONNECTIONS,
      duration,
    });
    if (result.non2xx || result.errors) throw new Error(`${variant.label}: ${result.non2xx} responses other than 2xx, ${result.errors} errors`);
    return (cpuMicrosOf(child.pid!) - before) / result['2xx'];
  };
  try {
    for (const variant of variants) await round(variant, 2); // warm-up, not counted
    for (let i = 0; i < rounds; i++) {
      for (const variant of i % 2 ? [...variants].reverse() : variants) variant.cpu.push(await round(variant, seconds));
    }
  } finally {
    child.stdin!.end();
  }
  console.log(`server CPU per response (µs), ${rounds} alternating rounds of ${seconds} s, ${CONNECTIONS} connections`);
  const first = variants[0]!;
  for (const variant of variants) {
    const paired = variant === first ? '' : `  paired − ${first.label}: ${median(variant.cpu.map((cpu, i) => cpu - first.cpu[i]!)).toFixed(1)}`;
    console.log(`${variant.label.padEnd(36)} median ${median(variant.cpu).toFixed(1).padStart(6)}${paired}   rounds ${variant.cpu.map((cpu) => cpu.toFixed(1)).join(' ')}`);
  }
}
