import { spawn, type ChildProcess } from 'node:child_process';
import { cpSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** An example process started by a test, with everything it printed, kept apart by stream. */
export interface ExampleProcess {
  child: ChildProcess;
  base: string;
  port: number;
  stdout(): string;
  stderr(): string;
  /** stdout and stderr together, in arrival order. */
  output(): string;
  /** Resolves with the exit code once the process ends. */
  exited: Promise<number | null>;
  stop(): Promise<void>;
}

export async function freePort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const { port } = probe.address() as AddressInfo;
  await new Promise((resolve) => probe.close(resolve));
  return port;
}

/**
 * Spawns an example's `src/server.ts` as `pnpm start` does, from `cwd` (the example's folder unless a copy is
 * given). `env` is the whole environment besides PATH-like basics: nothing of the test runner's own leaks in,
 * so a `.env` file is what decides anything `env` leaves out.
 */
export function spawnExample(dir: string, env: Record<string, string>, options: { script?: string } = {}): ExampleProcess {
  const port = Number(env.PORT ?? 0);
  const child = spawn(process.execPath, ['--conditions=@keyward/source', '--import', 'tsx', options.script ?? 'src/server.ts'], {
    cwd: dir,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', NODE_OPTIONS: '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  let output = '';
  child.stdout!.on('data', (chunk: Buffer) => {
    stdout += chunk.toString();
    output += chunk.toString();
  });
  child.stderr!.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
    output += chunk.toString();
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return {
    child,
    base: `http://localhost:${port}`,
    port,
    stdout: () => stdout,
    stderr: () => stderr,
    output: () => output,
    exited,
    stop: async () => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

/** Waits until `base` answers /health, or fails with what the process printed. */
export async function untilServing(example: ExampleProcess, base = example.base): Promise<ExampleProcess> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (example.child.exitCode !== null) throw new Error(`example exited with ${example.child.exitCode}:\n${example.output()}`);
    const ready = await fetch(`${base}/health`).then((response) => response.ok, () => false);
    if (ready) return example;
    if (Date.now() > deadline) {
      await example.stop();
      throw new Error(`example did not start within 30 s:\n${example.output()}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/**
 * Starts an example on 127.0.0.1 and a free port (memory store unless `env` says otherwise) and waits for it.
 * ENV_FILE=/dev/null keeps a developer's own `.env` in the example folder out of the test.
 */
export async function serveExample(dir: string, env: Record<string, string> = {}): Promise<ExampleProcess> {
  const port = await freePort();
  return untilServing(spawnExample(dir, { OAUTH_STORE: 'memory', HOST: '127.0.0.1', PORT: String(port), ENV_FILE: '/dev/null', ...env }));
}

/** Runs an example that is expected to stop by itself (a start-up error) and returns its exit code and output. */
export async function runToExit(dir: string, env: Record<string, string>, options: { script?: string } = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const example = spawnExample(dir, { OAUTH_STORE: 'memory', HOST: '127.0.0.1', ENV_FILE: '/dev/null', ...env }, options);
  const timer = setTimeout(() => example.child.kill('SIGKILL'), 30_000);
  const code = await example.exited;
  clearTimeout(timer);
  return { code, stdout: example.stdout(), stderr: example.stderr() };
}

/**
 * A copy of an example's sources in a temporary folder, sharing its node_modules through a link, so a test
 * can put a `.env` beside it without writing into the repository.
 */
export function exampleCopy(dir: string, files: Record<string, string>): { dir: string; remove(): void } {
  const copy = mkdtempSync(join(tmpdir(), 'keyward-example-copy-'));
  cpSync(join(dir, 'src'), join(copy, 'src'), { recursive: true });
  cpSync(join(dir, 'package.json'), join(copy, 'package.json'));
  symlinkSync(join(dir, 'node_modules'), join(copy, 'node_modules'), 'dir');
  for (const [name, content] of Object.entries(files)) writeFileSync(join(copy, name), content);
  return { dir: copy, remove: () => rmSync(copy, { recursive: true, force: true }) };
}
