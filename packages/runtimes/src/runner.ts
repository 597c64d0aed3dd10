/**
 * A runtime-neutral stand-in for the part of vitest that core's conformance suites use: `describe`, `it`,
 * the four hooks and vitest's own `expect` (from `@vitest/expect`, the same matchers and messages). The
 * suites are bundled with `vitest` aliased to this module, so they run unchanged where vitest itself cannot
 * run: Deno, Bun and workerd. It imports nothing from Node and reads no global that a Web runtime lacks.
 *
 * @module
 */
import { chai, JestAsymmetricMatchers, JestChaiExpect, JestExtend } from '@vitest/expect';

chai.use(JestExtend);
chai.use(JestChaiExpect);
chai.use(JestAsymmetricMatchers);

/**
 * vitest's `expect`: chai with vitest's matchers installed.
 *
 * @example
 * ```ts
 * expect({ active: false }).toEqual({ active: false });
 * ```
 */
export const expect: typeof chai.expect = chai.expect;

type Hook = () => unknown;

interface Test {
  name: string;
  fn: Hook | undefined;
}

interface Suite {
  name: string;
  skip: boolean;
  parent: Suite | undefined;
  children: Array<Suite | Test>;
  beforeAll: Hook[];
  afterAll: Hook[];
  beforeEach: Hook[];
  afterEach: Hook[];
}

function newSuite(name: string, parent: Suite | undefined, skip: boolean): Suite {
  return { name, skip, parent, children: [], beforeAll: [], afterAll: [], beforeEach: [], afterEach: [] };
}

const root = newSuite('', undefined, false);
let current = root;

function collect(name: string, body: () => void, skip: boolean): void {
  const suite = newSuite(name, current, skip || current.skip);
  current.children.push(suite);
  const parent = current;
  current = suite;
  try {
    body();
  } finally {
    current = parent;
  }
}

/**
 * Registers a group of tests, as vitest's `describe` does. The body runs at once and must be synchronous.
 *
 * @example
 * ```ts
 * describe('store conformance: memory', () => { it('round-trips a client', async () => {}); });
 * ```
 */
export const describe: ((name: string, body: () => void) => void) & { skip: (name: string, body: () => void) => void } =
  Object.assign((name: string, body: () => void) => collect(name, body, false), {
    skip: (name: string, body: () => void) => collect(name, body, true),
  });

/**
 * Registers a test, as vitest's `it` does.
 *
 * @example
 * ```ts
 * it('serves metadata', async () => { expect(1).toBe(1); });
 * ```
 */
type TestFunction = (name: string, fn: Hook) => void;
const add: TestFunction = (name, fn) => void current.children.push({ name, fn });
const skipTest = (name: string): void => void current.children.push({ name, fn: undefined });
export const it: TestFunction & { skip: (name: string, fn?: Hook) => void; skipIf: (condition: unknown) => TestFunction } = Object.assign(add, {
  skip: skipTest,
  skipIf: (condition: unknown): TestFunction => (condition ? skipTest : add),
});
/** vitest's `test`, the same as {@link it}. */
export const test = it;

/** Runs `fn` once before the tests of the enclosing `describe`. */
export function beforeAll(fn: Hook): void {
  current.beforeAll.push(fn);
}
/** Runs `fn` once after the tests of the enclosing `describe`. */
export function afterAll(fn: Hook): void {
  current.afterAll.push(fn);
}
/** Runs `fn` before each test of the enclosing `describe`, outer hooks first. */
export function beforeEach(fn: Hook): void {
  current.beforeEach.push(fn);
}
/** Runs `fn` after each test of the enclosing `describe`, inner hooks first. */
export function afterEach(fn: Hook): void {
  current.afterEach.push(fn);
}

/** The outcome of one test. */
export interface TestResult {
  name: string;
  state: 'pass' | 'fail' | 'skip';
  error?: string;
}

/** What {@link run} found: every test's outcome and the counts. */
export interface RunSummary {
  runtime: string;
  results: TestResult[];
  passed: number;
  failed: number;
  skipped: number;
}

const TEST_TIMEOUT_MS = 10_000;

async function withTimeout(fn: Hook, label: string): Promise<void> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${label} timed out after ${TEST_TIMEOUT_MS} ms`)), TEST_TIMEOUT_MS);
  });
  try {
    await Promise.race([Promise.resolve().then(fn), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

function describeError(error: unknown): string {
  if (error instanceof Error) return `${error.name}: ${error.message}`;
  return String(error);
}

function chain(suite: Suite | undefined, pick: (suite: Suite) => Hook[]): Hook[] {
  const hooks: Hook[] = [];
  for (let s = suite; s; s = s.parent) hooks.unshift(...pick(s));
  return hooks;
}

function tests(suite: Suite, prefix: string): string[] {
  return suite.children.flatMap((child) =>
    'children' in child ? tests(child, `${prefix}${child.name} > `) : [`${prefix}${child.name}`],
  );
}

async function runSuite(suite: Suite, prefix: string, results: TestResult[]): Promise<void> {
  if (suite.skip) {
    for (const name of tests(suite, prefix)) results.push({ name, state: 'skip' });
    return;
  }
  try {
    for (const hook of suite.beforeAll) await withTimeout(hook, 'beforeAll');
  } catch (error) {
    // A failed beforeAll fails every test it was meant to prepare, as vitest reports it.
    for (const name of tests(suite, prefix)) results.push({ name, state: 'fail', error: describeError(error) });
    return;
  }
  for (const child of suite.children) {
    if ('children' in child) {
      await runSuite(child, `${prefix}${child.name} > `, results);
      continue;
    }
    const name = `${prefix}${child.name}`;
    if (!child.fn) {
      results.push({ name, state: 'skip' });
      continue;
    }
    let error: unknown;
    let failed = false;
    try {
      for (const hook of chain(suite, (s) => s.beforeEach)) await withTimeout(hook, 'beforeEach');
      await withTimeout(child.fn, 'test');
    } catch (caught) {
      failed = true;
      error = caught;
    }
    try {
      for (const hook of chain(suite, (s) => s.afterEach).reverse()) await withTimeout(hook, 'afterEach');
    } catch (caught) {
      if (!failed) error = caught;
      failed = true;
    }
    results.push(failed ? { name, state: 'fail', error: describeError(error) } : { name, state: 'pass' });
  }
  for (const hook of suite.afterAll) {
    try {
      await withTimeout(hook, 'afterAll');
    } catch (error) {
      results.push({ name: `${prefix}afterAll`, state: 'fail', error: describeError(error) });
    }
  }
}

/**
 * Runs every test registered so far, one after another, and returns the outcomes.
 *
 * @example
 * ```ts
 * const summary = await run('deno 2.9.6');
 * console.log(formatSummary(summary));
 * ```
 */
export async function run(runtime: string): Promise<RunSummary> {
  const results: TestResult[] = [];
  await runSuite(root, '', results);
  const count = (state: TestResult['state']): number => results.filter((result) => result.state === state).length;
  return { runtime, results, passed: count('pass'), failed: count('fail'), skipped: count('skip') };
}

/**
 * One line per test and a closing `runtime: N passed, N failed, N skipped` line, which the Node driver reads.
 *
 * @example
 * ```ts
 * formatSummary(await run('bun 1.4.4')).endsWith('0 failed, 0 skipped');
 * ```
 */
export function formatSummary(summary: RunSummary): string {
  const marks = { pass: 'ok', fail: 'FAIL', skip: 'skip' } as const;
  const lines = summary.results.map(
    (result) => `${marks[result.state]} ${result.name}${result.error ? `\n     ${result.error.replaceAll('\n', '\n     ')}` : ''}`,
  );
  lines.push(`${summary.runtime}: ${summary.passed} passed, ${summary.failed} failed, ${summary.skipped} skipped`);
  return lines.join('\n');
}
