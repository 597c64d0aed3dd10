import type { LookupAddress } from 'node:dns';

/** Options of {@link safeFetch}. */
export interface SafeFetchOptions {
  /** Give up after this many milliseconds; default 5000. */
  timeoutMs?: number;
  /** Refuse bodies larger than this; default 5120 (the 5 KB that CIMD §6.6 recommends). */
  maxBytes?: number;
  /**
   * Hosts (`host` or `host:port`) that may resolve to loopback or private addresses, for development and
   * tests. Everything else must resolve to public addresses only.
   */
  allowPrivateHosts?: readonly string[];
  /** Extra trusted CA certificates (PEM), for a development server with its own certificate authority. */
  ca?: string | readonly string[];
}

/** What {@link safeFetch} read. */
export interface SafeFetchResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

// RFC 6890 special-use ranges: a URL supplied by a client must not make the server reach into the
// network it sits in (SSRF; CIMD §6.5).
const SPECIAL_USE: Array<[string, number, 'ipv4' | 'ipv6']> = [
  ['0.0.0.0', 8, 'ipv4'], ['10.0.0.0', 8, 'ipv4'], ['100.64.0.0', 10, 'ipv4'], ['127.0.0.0', 8, 'ipv4'],
  ['169.254.0.0', 16, 'ipv4'], ['172.16.0.0', 12, 'ipv4'], ['192.0.0.0', 24, 'ipv4'], ['192.0.2.0', 24, 'ipv4'],
  ['192.88.99.0', 24, 'ipv4'], ['192.168.0.0', 16, 'ipv4'], ['198.18.0.0', 15, 'ipv4'], ['198.51.100.0', 24, 'ipv4'],
  ['203.0.113.0', 24, 'ipv4'], ['224.0.0.0', 4, 'ipv4'], ['240.0.0.0', 4, 'ipv4'],
  ['::', 128, 'ipv6'], ['::1', 128, 'ipv6'], ['::ffff:0:0', 96, 'ipv6'], ['64:ff9b::', 96, 'ipv6'], ['100::', 64, 'ipv6'],
  ['2001::', 23, 'ipv6'], ['2001:db8::', 32, 'ipv6'], ['fc00::', 7, 'ipv6'], ['fe80::', 10, 'ipv6'], ['ff00::', 8, 'ipv6'],
];

let blockList: import('node:net').BlockList | undefined;

async function isSpecialUse(address: string): Promise<boolean> {
  const net = await import('node:net');
  if (!blockList) {
    blockList = new net.BlockList();
    for (const [network, prefix, family] of SPECIAL_USE) blockList.addSubnet(network, prefix, family);
  }
  const family = net.isIPv6(address) ? 'ipv6' : 'ipv4';
  // An IPv4-mapped IPv6 address is judged by the IPv4 address inside it.
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  if (mapped) return blockList.check(mapped[1]!, 'ipv4');
  return blockList.check(address, family);
}

/**
 * Fetches a URL that a client supplied (a client ID metadata document, a `jwks_uri`) without letting it
 * reach private networks: https only, every resolved address checked at connection time (so DNS rebinding
 * cannot swap in a private one), no redirects, a size cap and a timeout.
 *
 * @example
 * ```ts
 * const { status, body } = await safeFetch('https://client.example/oauth/metadata.json');
 * ```
 * @see [RFC 6890](https://www.rfc-editor.org/rfc/rfc6890)
 * @see [OAuth Client ID Metadata Document §6.5](https://datatracker.ietf.org/doc/draft-ietf-oauth-client-id-metadata-document/)
 */
export async function safeFetch(input: string, options: SafeFetchOptions = {}): Promise<SafeFetchResponse> {
  const url = new URL(input);
  if (url.protocol !== 'https:') throw new Error('only https URLs are fetched');
  if (url.username || url.password) throw new Error('URLs with user information are not fetched');
  const [https, dns, net] = await Promise.all([import('node:https'), import('node:dns'), import('node:net')]);
  const hostname = url.hostname.replace(/^\[|\]$/g, '');
  const allowed = options.allowPrivateHosts?.some((entry) => entry === url.host || entry === url.hostname) ?? false;
  if (net.isIP(hostname) && !allowed && (await isSpecialUse(hostname))) throw new Error(`${hostname} is a special-use address`);

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
      reject(error);
      request.destroy();
    };
    // A total deadline, not only the socket's idle timeout: a server that trickles one byte at a time is
    // never idle (CIMD §6.6 asks for limits on what a fetch may cost).
    const timer = setTimeout(() => fail(new Error('request timed out')), timeoutMs);
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
            const list = addresses as unknown as LookupAddress[];
            void Promise.all(list.map((entry) => isSpecialUse(entry.address))).then((special) => {
              const usable = list.filter((_, index) => allowed || !special[index]);
              if (!usable.length) return callback(new Error(`${host} resolves to a special-use address`), '', 4);
              if ((lookupOptions as { all?: boolean }).all) return (callback as unknown as (e: null, a: LookupAddress[]) => void)(null, usable);
              callback(null, usable[0]!.address, usable[0]!.family);
            });
          });
        },
      },
      (response) => {
        const chunks: Buffer[] = [];
        let size = 0;
        response.on('data', (chunk: Buffer) => {
          size += chunk.length;
          if (size > maxBytes) return fail(new Error(`response larger than ${maxBytes} bytes`));
          chunks.push(chunk);
        });
        response.on('end', () => {
          if (settled) return;
          settled = true;
          clearTimeout(timer);
          resolve({ status: response.statusCode ?? 0, headers: response.headers, body: Buffer.concat(chunks).toString('utf8') });
        });
        response.on('error', fail);
      },
    );
    request.on('timeout', () => fail(new Error('request timed out')));
    request.on('error', fail);
    request.end();
  });
}
