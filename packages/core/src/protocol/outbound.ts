/**
 * Outbound requests to URLs that clients supply (client ID metadata documents, `jwks_uri` key sets): the
 * shape of the fetcher the server calls, the error that keeps network detail out of responses, and the
 * special-purpose address rules that keep such requests out of private networks. Pure: no I/O here.
 *
 * @module
 */

/** Limits of the outbound fetch of client-supplied URLs (the server's default fetchers honour them). */
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

/** What an outbound fetch read: the status, the header fields (lower-case names) and the body as text. */
export interface SafeFetchResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/**
 * The fetcher of every outbound request the authorization server makes: client ID metadata documents and
 * the `jwks_uri` key sets of `private_key_jwt` clients. It must not follow redirects, and should cap the
 * body and the time it takes; throw an {@link OutboundFetchError} to have a failure logged through the
 * server's `onError` while the client learns only that the URL could not be fetched.
 *
 * @example
 * ```ts
 * const fetchThroughEgressProxy: OutboundFetch = async (url) => {
 *   const response = await fetch(url, { redirect: 'manual', signal: AbortSignal.timeout(5000) });
 *   return { status: response.status, headers: Object.fromEntries(response.headers), body: await response.text() };
 * };
 * ```
 * @see [OAuth Client ID Metadata Document §6.5](https://datatracker.ietf.org/doc/draft-ietf-oauth-client-id-metadata-document/)
 */
export type OutboundFetch = (url: string) => Promise<SafeFetchResponse>;

/**
 * Why a URL that a client supplied could not be fetched. The message names the URL and the network detail
 * (`connect EHOSTUNREACH …`, a special-use address, a size or time limit, an HTTP status) for the server's
 * log; callers of the authorization server only learn that the URL "could not be fetched", so the server
 * cannot be used to scan the networks it sits in. Keyward hands it to the `onError` option.
 *
 * @example
 * ```ts
 * new AuthorizationServer({
 *   // …
 *   onError: (error, request) => {
 *     if (error instanceof OutboundFetchError) logger.warn({ url: error.url }, error.message);
 *     else logger.error({ url: request.url }, error);
 *   },
 * });
 * ```
 * @see [OAuth Client ID Metadata Document §6.5](https://datatracker.ietf.org/doc/draft-ietf-oauth-client-id-metadata-document/)
 */
export class OutboundFetchError extends Error {
  /** The URL that was (or would have been) fetched. */
  readonly url: string;

  constructor(url: string, reason: string, options?: { cause?: unknown }) {
    super(`could not fetch ${url}: ${reason}`, options);
    this.name = 'OutboundFetchError';
    this.url = url;
  }
}

/** @internal The {@link OutboundFetchError} behind `error`, following `cause` a few levels deep. */
export function outboundFetchFailure(error: unknown): OutboundFetchError | undefined {
  let current = error;
  for (let depth = 0; depth < 5 && typeof current === 'object' && current !== null; depth++) {
    if (current instanceof OutboundFetchError) return current;
    current = (current as { cause?: unknown }).cause;
  }
  return undefined;
}

type Family = 'ipv4' | 'ipv6';

/** A strict dotted quad (four decimal octets, no leading zeros) as a 32-bit number, or null. */
function parseIPv4(text: string): number | null {
  const parts = text.split('.');
  if (parts.length !== 4) return null;
  let value = 0;
  for (const part of parts) {
    // Leading zeros read as octal to some resolvers (`010` = 8): such a text is not an address we judge.
    if (!/^(?:0|[1-9][0-9]{0,2})$/.test(part)) return null;
    const octet = Number(part);
    if (octet > 255) return null;
    value = value * 256 + octet;
  }
  return value;
}

/**
 * An IPv6 address in any RFC 4291 §2.2 text form (full, `::`-compressed, with a trailing dotted quad, an
 * optional `%zone`) as a 128-bit number, or null when it is not one.
 */
function parseIPv6(text: string): { value: bigint; zoned: boolean } | null {
  const percent = text.indexOf('%');
  const zoned = percent >= 0;
  const address = zoned ? text.slice(0, percent) : text;
  if (zoned && percent === text.length - 1) return null;
  const halves = address.split('::');
  if (halves.length > 2) return null;
  const groupsOf = (half: string): number[] | null => {
    if (half === '') return [];
    const pieces = half.split(':');
    const groups: number[] = [];
    for (let index = 0; index < pieces.length; index++) {
      const piece = pieces[index]!;
      if (piece.includes('.')) {
        // RFC 4291 §2.2 form 3: a dotted quad may only stand in for the last 32 bits.
        const v4 = index === pieces.length - 1 ? parseIPv4(piece) : null;
        if (v4 === null) return null;
        groups.push(Math.floor(v4 / 65536), v4 % 65536);
      } else {
        if (!/^[0-9a-f]{1,4}$/i.test(piece)) return null;
        groups.push(parseInt(piece, 16));
      }
    }
    return groups;
  };
  const head = groupsOf(halves[0]!);
  const tail = halves.length === 2 ? groupsOf(halves[1]!) : [];
  if (!head || !tail) return null;
  // A dotted quad must end the address: `::1.2.3.4:5` is not one.
  if (halves.length === 2 && halves[0]!.includes('.')) return null;
  const missing = 8 - head.length - tail.length;
  if (halves.length === 1 ? missing !== 0 : missing < 1) return null;
  const groups = [...head, ...new Array<number>(halves.length === 2 ? missing : 0).fill(0), ...tail];
  let value = 0n;
  for (const group of groups) value = (value << 16n) | BigInt(group);
  return { value, zoned };
}

/**
 * The IANA IPv4 and IPv6 Special-Purpose Address Registries (RFC 6890 and its updates): a URL supplied by
 * a client must not make the server reach into the network it sits in (SSRF; CIMD §6.5). Whole blocks are
 * refused even where a few addresses inside are marked globally reachable (192.0.0.9, 2001:3::/32): a
 * client's metadata never needs them.
 */
const SPECIAL_PURPOSE: ReadonlyArray<readonly [cidr: string, name: string]> = [
  ['0.0.0.0/8', '"this network" (RFC 791)'],
  ['10.0.0.0/8', 'private use (RFC 1918)'],
  ['100.64.0.0/10', 'shared address space (RFC 6598)'],
  ['127.0.0.0/8', 'loopback (RFC 1122)'],
  ['169.254.0.0/16', 'link local (RFC 3927)'],
  ['172.16.0.0/12', 'private use (RFC 1918)'],
  ['192.0.0.0/24', 'IETF protocol assignments (RFC 6890)'],
  ['192.0.2.0/24', 'documentation TEST-NET-1 (RFC 5737)'],
  ['192.88.99.0/24', '6to4 relay anycast (RFC 7526)'],
  ['192.168.0.0/16', 'private use (RFC 1918)'],
  ['198.18.0.0/15', 'benchmarking (RFC 2544)'],
  ['198.51.100.0/24', 'documentation TEST-NET-2 (RFC 5737)'],
  ['203.0.113.0/24', 'documentation TEST-NET-3 (RFC 5737)'],
  ['224.0.0.0/4', 'multicast (RFC 5771)'],
  ['240.0.0.0/4', 'reserved (RFC 1112)'],
  ['255.255.255.255/32', 'limited broadcast (RFC 919)'],
  ['::/128', 'unspecified (RFC 4291)'],
  ['::1/128', 'loopback (RFC 4291)'],
  ['::/96', 'IPv4-compatible, deprecated (RFC 4291 §2.5.5.1)'],
  ['64:ff9b::/96', 'IPv4/IPv6 translation, NAT64 (RFC 6052)'],
  ['64:ff9b:1::/48', 'local-use IPv4/IPv6 translation (RFC 8215)'],
  ['100::/64', 'discard-only (RFC 6666)'],
  ['2001::/23', 'IETF protocol assignments (RFC 2928)'],
  ['2001::/32', 'Teredo (RFC 4380)'],
  ['2001:10::/28', 'ORCHID, deprecated (RFC 4843)'],
  ['2001:20::/28', 'ORCHIDv2 (RFC 7343)'],
  ['2001:db8::/32', 'documentation (RFC 3849)'],
  ['2002::/16', '6to4 (RFC 3056)'],
  ['3fff::/20', 'documentation (RFC 9637)'],
  ['5f00::/16', 'segment routing SIDs (RFC 9602)'],
  ['fc00::/7', 'unique local (RFC 4193)'],
  ['fe80::/10', 'link-local unicast (RFC 4291)'],
  ['ff00::/8', 'multicast (RFC 4291)'],
];

const RANGES = SPECIAL_PURPOSE.map(([cidr, name]) => {
  const [network, bits] = cidr.split('/') as [string, string];
  const family: Family = network.includes(':') ? 'ipv6' : 'ipv4';
  const width = family === 'ipv6' ? 128n : 32n;
  const base = family === 'ipv6' ? parseIPv6(network)!.value : BigInt(parseIPv4(network)!);
  const shift = width - BigInt(bits);
  return { cidr, name, family, shift, prefix: base >> shift };
});

// Everything outside global unicast (RFC 4291 §2.4) is reserved by the IETF or not unicast at all.
const IPV6_GLOBAL_UNICAST = { prefix: 1n, shift: 125n };
const IPV4_MAPPED = { prefix: 0xffffn, shift: 32n };

function rangeOf(family: Family, value: bigint): string | null {
  for (const range of RANGES) {
    if (range.family === family && value >> range.shift === range.prefix) return `${range.cidr} ${range.name}`;
  }
  return null;
}

/**
 * Why `address` may not be fetched from (the special-purpose block it falls in), or null for a public
 * unicast address. IPv4-mapped IPv6 (`::ffff:a.b.c.d`) is judged by the IPv4 address inside it; every other
 * IPv6 address outside global unicast (2000::/3), every zoned (scoped) address and anything that does not
 * parse as an IP address is refused.
 *
 * @example
 * ```ts
 * specialPurposeRange('::7f00:1'); // '::/96 IPv4-compatible, deprecated (RFC 4291 §2.5.5.1)'
 * specialPurposeRange('93.184.215.14'); // null
 * ```
 * @see [RFC 6890](https://www.rfc-editor.org/rfc/rfc6890)
 * @see [IANA IPv6 Special-Purpose Address Registry](https://www.iana.org/assignments/iana-ipv6-special-registry/)
 */
export function specialPurposeRange(address: string): string | null {
  const v4 = parseIPv4(address);
  if (v4 !== null) return rangeOf('ipv4', BigInt(v4));
  const v6 = parseIPv6(address.startsWith('[') && address.endsWith(']') ? address.slice(1, -1) : address);
  if (!v6) return 'not an IP address';
  if (v6.zoned) return 'scoped address with a zone identifier';
  if (v6.value >> IPV4_MAPPED.shift === IPV4_MAPPED.prefix) {
    const inner = rangeOf('ipv4', v6.value & 0xffffffffn);
    return inner && `IPv4-mapped ${inner}`;
  }
  return rangeOf('ipv6', v6.value) ?? (v6.value >> IPV6_GLOBAL_UNICAST.shift === IPV6_GLOBAL_UNICAST.prefix ? null : 'outside IPv6 global unicast (RFC 4291 §2.4)');
}

/** @internal True when the host of a URL is an IP literal rather than a name to resolve. */
export function isIPLiteral(hostname: string): boolean {
  return hostname.startsWith('[') || parseIPv4(hostname) !== null;
}


/**
 * @internal The checks every outbound fetcher makes before any connection: an https URL without user
 * information, and no IP literal in a special-purpose range (an IP literal is connected to without a
 * lookup, so it is judged here). `allowed` says the host is one of `allowPrivateHosts`.
 */
export function checkOutboundURL(input: string, options: SafeFetchOptions): { url: URL; allowed: boolean } {
  const failure = (reason: string) => new OutboundFetchError(input, reason);
  if (!URL.canParse(input)) throw failure('not a URL');
  const url = new URL(input);
  if (url.protocol !== 'https:') throw failure('only https URLs are fetched');
  if (url.username || url.password) throw failure('URLs with user information are not fetched');
  const allowed = options.allowPrivateHosts?.some((entry) => entry === url.host || entry === url.hostname) ?? false;
  const literalRange = isIPLiteral(url.hostname) ? specialPurposeRange(url.hostname) : null;
  if (literalRange && !allowed) throw failure(`${url.hostname} is a special-purpose address (${literalRange})`);
  return { url, allowed };
}
