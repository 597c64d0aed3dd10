/**
 * Whether a store test can reach its server. Shared by the store packages: imported relatively, not a
 * package, never published.
 *
 * @module
 */

/**
 * Probes a server that a store's tests need. Returns `false` when it answered within `timeoutMs`; otherwise
 * the reason to pass as `testStore({ skip })`, except under CI (`process.env.CI` set), where a missing
 * server is a failure, not a skip: it throws, failing the test file with the reason.
 */
export async function skipUnlessReachable(
  server: string,
  address: string,
  probe: () => Promise<unknown>,
  timeoutMs = 2_000,
): Promise<string | false> {
  try {
    await withTimeout(probe(), timeoutMs);
    return false;
  } catch (error) {
    const reason = `${server} not reachable at ${address} (${error instanceof Error ? error.message : String(error)})`;
    if (process.env.CI) throw new Error(`${reason}; CI requires it`);
    return reason;
  }
}

async function withTimeout<T>(promise: Promise<T>, timeoutMs: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
