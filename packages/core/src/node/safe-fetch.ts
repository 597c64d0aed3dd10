/**
 * The DNS-pinning fetcher of client-supplied URLs for Node. It reaches Node's built-ins through
 * `process.getBuiltinModule` when it is called, never through an `import`, so a bundle for another runtime
 * that includes it still loads.
 *
 * @module
 */
import type * as NodeDNS from 'node:dns';
import type * as NodeHTTPS from 'node:https';
import { checkOutboundURL, OutboundFetchError, specialPurposeRange, type SafeFetchOptions, type SafeFetchResponse } from '../protocol/outbound.js';

export { OutboundFetchError, outboundFetchFailure, specialPurposeRange } from '../protocol/outbound.js';
export type { SafeFetchOptions, SafeFetchResponse } from '../protocol/outbound.js';

/** The Node built-ins the safe fetch needs, or undefined on a runtime that does not offer them. */
export function nodeNetworking(): { https: typeof NodeHTTPS; dns: typeof NodeDNS } | undefined {
  const nodeProcess = (globalThis as { process?: { getBuiltinModule?: (id: string) => unknown } }).process;
  if (typeof nodeProcess?.getBuiltinModule !== 'function') return undefined;
  try {
    const https = nodeProcess.getBuiltinModule('node:https') as typeof NodeHTTPS | undefined;
    const dns = nodeProcess.getBuiltinModule('node:dns') as typeof NodeDNS | undefined;
    return https && dns && typeof https.request === 'function' && typeof dns.lookup === 'function' ? { https, dns } : undefined;
  } catch {
    // A runtime with a partial Node layer may refuse a module it does not implement.
    return undefined;
  }
}

const utf8 = new TextDecoder();

/**
 * Fetches a URL that a client supplied (a client ID metadata document, a `jwks_uri`) without letting it
 * reach private networks: https only, every resolved address checked at connection time (so DNS rebinding
 * cannot swap in a private one), no redirects, a size cap and a timeout. Every failure is an
 * {@link OutboundFetchError} whose message carries the detail for the server's log, never for the client.
 *
 * @example
 * ```ts
 * const { status, body } = await safeFetch('https://client.example/oauth/metadata.json');
 * ```
 * @see [RFC 6890](https://www.rfc-editor.org/rfc/rfc6890)
 * @see [OAuth Client ID Metadata Document §6.5](https://datatracker.ietf.org/doc/draft-ietf-oauth-client-id-metadata-document/)
 */
export async function safeFetch(input: string, options: SafeFetchOptions = {}): Promise<SafeFetchResponse> {
  const failure = (reason: string, cause?: unknown) => new OutboundFetchError(input, reason, cause === undefined ? undefined : { cause });
  const { url, allowed } = checkOutboundURL(input, options);
  const networking = nodeNetworking();
  if (!networking) throw failure('this runtime has no node:https and node:dns; give the server a fetch option instead');
  const { https, dns } = networking;

  const maxBytes = options.maxBytes ?? 5120;
  const timeoutMs = options.timeoutMs ?? 5000;
  return new Promise<SafeFetchResponse>((resolve, reject) => {
    // Settles once. Failures end the exchange with a plain destroy(): destroy(error) after the response has
    // begun emits that error where no listener waits (an uncaught exception that stops the process, so one
    // oversized document could take the server down) and still lets 'end' resolve with a truncated body.
    let settled = false;
    const fail = (error: Error) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      reject(error instanceof OutboundFetchError ? error : failure(error.message, error));
      request.destroy();
    };
    // A total deadline, not only the socket's idle timeout: a server that trickles one byte at a time is
    // never idle (CIMD §6.6 asks for limits on what a fetch may cost).
    const timer = setTimeout(() => fail(failure(`no complete response within ${timeoutMs} ms`)), timeoutMs);
    const request = https.request(
      url,
      {
        method: 'GET',
        headers: { accept: 'application/json' },
        timeout: timeoutMs,
        ...(options.ca && { ca: options.ca as string | string[] }),
        lookup: (host, lookupOptions, callback) => {
          dns.lookup(host, { ...lookupOptions, all: true }, (error, addresses) => {
            if (error) return callback(error, '', 4);
            const list = addresses as unknown as NodeDNS.LookupAddress[];
            // Checked here, at connection time, so a name that resolves to a public address for a check and
            // to a private one for the connection (DNS rebinding) gains nothing.
            const usable = list.filter((entry) => allowed || specialPurposeRange(entry.address) === null);
            if (!usable.length) {
              const ranges = list.map((entry) => `${entry.address}: ${specialPurposeRange(entry.address)}`).join('; ');
              return callback(failure(`${host} resolves only to special-purpose addresses (${ranges})`), '', 4);
            }
            if ((lookupOptions as { all?: boolean }).all) return (callback as unknown as (e: null, a: NodeDNS.LookupAddress[]) => void)(null, usable);
            callback(null, usable[0]!.address, usable[0]!.family);
          });
        },
      },
      (response) => {
        const chunks: Uint8Array[] = [];
        let size = 0;
        response.on('data', (chunk: Uint8Array) => {
          size += chunk.length;
          if (size > maxBytes) return fail(failure(`response larger than ${maxBytes} bytes`));
          chunks.push(chunk);
        });
        response.on('end', () => {
          if (settled) return;
          settled = true;
          clearTimeout(timer);
          resolve({ status: response.statusCode ?? 0, headers: response.headers, body: utf8.decode(concatBytes(chunks, size)) });
        });
        response.on('error', fail);
      },
    );
    request.on('timeout', () => fail(failure(`no complete response within ${timeoutMs} ms`)));
    request.on('error', fail);
    request.end();
  });
}

/** The chunks of a body as one array of `size` bytes. */
function concatBytes(chunks: readonly Uint8Array[], size: number): Uint8Array {
  const bytes = new Uint8Array(size);
  let offset = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return bytes;
}
