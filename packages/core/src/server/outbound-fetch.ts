/**
 * The server's default fetcher of client-supplied URLs: the DNS-pinning safe fetch where Node's networking
 * built-ins exist, and the runtime's own `fetch` with Keyward's URL checks and limits everywhere else.
 *
 * This module is the one place outside `src/node` that imports it: the server must pick its default without
 * the application wiring anything, and `safeFetch` reaches Node only at call time, so importing it costs a
 * Web runtime nothing.
 *
 * @module
 */
import { nodeNetworking, safeFetch } from '../node/safe-fetch.js';

export { safeFetch };
import { checkOutboundURL, OutboundFetchError, type OutboundFetch, type SafeFetchOptions, type SafeFetchResponse } from '../protocol/outbound.js';

/**
 * @internal The runtime's `fetch` with the checks that need no DNS: https only, no user information, no
 * special-purpose IP literal, no redirects, a size cap and a deadline. A host name that resolves to a
 * private address is NOT refused here (the runtime resolves it out of sight); docs/security.md says what
 * that means and when it is safe.
 */
export function webOutboundFetch(options: SafeFetchOptions = {}): OutboundFetch {
  const maxBytes = options.maxBytes ?? 5120;
  const timeoutMs = options.timeoutMs ?? 5000;
  return async (input) => {
    const { url } = checkOutboundURL(input, options);
    const failure = (reason: string, cause?: unknown) => new OutboundFetchError(input, reason, cause === undefined ? undefined : { cause });
    let response: Response;
    const signal = AbortSignal.timeout(timeoutMs);
    try {
      response = await globalThis.fetch(url, { method: 'GET', headers: { accept: 'application/json' }, redirect: 'manual', signal });
    } catch (error) {
      throw failure(signal.aborted ? `no complete response within ${timeoutMs} ms` : String((error as Error)?.message ?? error), error);
    }
    const declared = Number(response.headers.get('content-length') ?? '0');
    if (declared > maxBytes) throw failure(`response larger than ${maxBytes} bytes`);
    const chunks: Uint8Array[] = [];
    let size = 0;
    if (response.body) {
      const reader = response.body.getReader();
      try {
        for (;;) {
          const { done, value } = await reader.read();
          if (done) break;
          size += value.byteLength;
          if (size > maxBytes) {
            await reader.cancel();
            throw failure(`response larger than ${maxBytes} bytes`);
          }
          chunks.push(value);
        }
      } catch (error) {
        if (error instanceof OutboundFetchError) throw error;
        throw failure(signal.aborted ? `no complete response within ${timeoutMs} ms` : String((error as Error)?.message ?? error), error);
      }
    }
    const bytes = new Uint8Array(size);
    let offset = 0;
    for (const chunk of chunks) {
      bytes.set(chunk, offset);
      offset += chunk.byteLength;
    }
    const headers: SafeFetchResponse['headers'] = {};
    response.headers.forEach((value, name) => void (headers[name] = value));
    return { status: response.status, headers, body: new TextDecoder().decode(bytes) };
  };
}

/** @internal The fetcher a server uses when the application gives it none. */
export function defaultOutboundFetch(options: SafeFetchOptions = {}): OutboundFetch {
  return nodeNetworking() ? (url) => safeFetch(url, options) : webOutboundFetch(options);
}
