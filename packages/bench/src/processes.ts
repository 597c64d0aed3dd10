/**
 * Child processes of the bench: every server on the server core, started with `taskset`, told apart by a
 * free loopback port, stopped on SIGTERM (then SIGKILL), and every one of them killed when the bench exits
 * for any reason, so no server outlives a failed run.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

export const SERVER_CORE = '0';
export const LOAD_CORE = '1';
export const benchRoot = fileURLToPath(new URL('..', import.meta.url));
const NODE_ARGS = ['--conditions=@keyward/source', '--import', 'tsx'];
const READY_TIMEOUT_MS = 60_000;
const canPin = process.platform === 'linux' && hasTaskset();

function hasTaskset(): boolean {
  try {
    execFileSync('taskset', ['-c', SERVER_CORE, 'true'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

const children = new Set<ChildProcess>();
function killAll(): void {
  for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
}
process.once('exit', killAll);
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    killAll();
    process.exit(130);
  });
}

/** Pins this process (all its threads) to the load core: it is the load generator. */
export function pinSelfToLoadCore(): string {
  if (!canPin) return 'not pinned (taskset unavailable)';
  execFileSync('taskset', ['-a', '-cp', LOAD_CORE, String(process.pid)], { stdio: 'ignore' });
  return `pinned to core ${LOAD_CORE}`;
}

export function pinningNote(): string {
  return canPin ? `servers on core ${SERVER_CORE}, load generator on core ${LOAD_CORE}` : 'NOT pinned: taskset unavailable, figures are not comparable';
}

export async function freePort(): Promise<number> {
  const server = createServer().listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** A node child on the server core running a TypeScript file of this package. */
export function spawnPinnedNode(script: string, args: string[], options: { env?: NodeJS.ProcessEnv; nodeFlags?: string[] } = {}): ChildProcess {
  const argv = [...(options.nodeFlags ?? []), ...NODE_ARGS, fileURLToPath(new URL(script, new URL('./', import.meta.url))), ...args];
  const child = spawn(canPin ? 'taskset' : process.execPath, canPin ? ['-c', SERVER_CORE, process.execPath, ...argv] : argv, {
    cwd: benchRoot,
    env: { ...process.env, ...options.env },
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  children.add(child);
  child.once('exit', () => children.delete(child));
  return child;
}

export interface RunningServer {
  base: string;
  port: number;
  pid: number;
  stop(): Promise<void>;
}

/** Starts `servers/<kind>.ts <framework> <port>` and waits for its `ready` line. */
export async function startServer(kind: string, framework: string, options: { env?: NodeJS.ProcessEnv; nodeFlags?: string[] } = {}): Promise<RunningServer> {
  const port = await freePort();
  const child = spawnPinnedNode(`servers/${kind}.ts`, [framework, String(port)], options);
  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = once(child, 'exit');
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(timer);
  };
  const lines = createInterface({ input: child.stdout! });
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${kind} ${framework} did not start within ${READY_TIMEOUT_MS / 1000} s`)), READY_TIMEOUT_MS);
      lines.on('line', (line) => {
        if (line.trim() === 'ready') {
          clearTimeout(timer);
          resolve();
        } else process.stderr.write(`[${kind} ${framework}] ${line}\n`);
      });
      child.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`${kind} ${framework} exited with ${code} before it was ready`));
      });
    });
  } catch (error) {
    await stop();
    throw error;
  }
  return { base: `http://127.0.0.1:${port}`, port, pid: child.pid!, stop };
}

/** Runs a script on the server core to its end and returns its last stdout line parsed as JSON. */
export async function runPinnedScript<T>(script: string, env: NodeJS.ProcessEnv = {}): Promise<T> {
  const child = spawnPinnedNode(script, [], { env });
  let output = '';
  child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stdin!.end();
  const [code] = (await once(child, 'exit')) as [number | null];
  if (code !== 0) throw new Error(`${script} exited with ${code}`);
  return JSON.parse(output.trim().split('\n').pop()!) as T;
}

/**
 * CPU time (user + system, all threads) a process has used, in microseconds (Linux, at the kernel's 100 Hz
 * accounting), or NaN elsewhere.
 */
export function cpuMicrosOf(pid: number): number {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    // Fields 14 and 15 of stat(5) (utime, stime), counted after the command name.
    return (Number(fields[11]) + Number(fields[12])) * 10_000;
  } catch {
    return Number.NaN;
  }
}

/** Resident set size of a process in bytes (Linux), or NaN elsewhere. */
export function rssOf(pid: number): number {
  try {
    const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match ? Number(match[1]) * 1024 : Number.NaN;
  } catch {
    return Number.NaN;
  }
}
