/**
 * Who sent a request and over which scheme, when reverse proxies stand in between: `X-Forwarded-For` and
 * `X-Forwarded-Proto` count only when the socket peer is a proxy the operator trusts. Pure functions, no
 * runtime dependency; the adapters call them with the socket's address.
 *
 * @module
 */

type Range = { v6: boolean; bits: bigint; prefix: number };

/**
 * A compiled list of trusted proxies (addresses and CIDR ranges), from {@link trustedProxies}.
 *
 * @example
 * ```ts
 * const trusted: TrustedProxies = trustedProxies(['loopback']);
 * ```
 * @see [RFC 4632 §3.1](https://www.rfc-editor.org/rfc/rfc4632#section-3.1)
 */
export interface TrustedProxies {
  /** True when `address` is one of the trusted proxies. */
  has(address: string): boolean;
}

const NAMED_RANGES: Record<string, string[]> = {
  loopback: ['127.0.0.1/8', '::1/128'],
  linklocal: ['169.254.0.0/16', 'fe80::/10'],
  uniquelocal: ['10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16', 'fc00::/7'],
};

function parseIPv4(text: string): bigint | null {
  const parts = text.split('.');
  if (parts.length !== 4) return null;
  let value = 0n;
  for (const part of parts) {
    if (!/^\d{1,3}$/.test(part) || Number(part) > 255) return null;
    value = (value << 8n) | BigInt(Number(part));
  }
  return value;
}

function parseIPv6(text: string): bigint | null {
  const zone = text.indexOf('%');
  if (zone >= 0) text = text.slice(0, zone);
  let tail: bigint[] = [];
  // An embedded IPv4 (::ffff:10.0.0.1) supplies the last two groups.
  const lastColon = text.lastIndexOf(':');
  if (text.includes('.', lastColon)) {
    const v4 = parseIPv4(text.slice(lastColon + 1));
    if (v4 === null) return null;
    tail = [v4 >> 16n, v4 & 0xffffn];
    text = text.slice(0, lastColon + 1);
    if (!text.endsWith('::')) text = text.slice(0, -1);
  }
  const halves = text.split('::');
  if (halves.length > 2) return null;
  const group = (value: string): bigint[] | null => {
    if (value === '') return [];
    const groups = value.split(':');
    if (groups.some((g) => !/^[0-9a-f]{1,4}$/i.test(g))) return null;
    return groups.map((g) => BigInt(parseInt(g, 16)));
  };
  const head = group(halves[0]!);
  const rest = halves.length === 2 ? group(halves[1]!) : [];
  if (!head || !rest) return null;
  const total = head.length + rest.length + tail.length;
  if (halves.length === 1 ? total !== 8 : total > 7) return null;
  const groups = [...head, ...Array<bigint>(8 - total).fill(0n), ...rest, ...tail];
  return groups.reduce((value, g) => (value << 16n) | g, 0n);
}

/** An address as a number, IPv4-mapped IPv6 folded to IPv4 (Node reports `::ffff:127.0.0.1` on dual-stack sockets). */
function parseAddress(text: string): { v6: boolean; bits: bigint } | null {
  const trimmed = text.trim().replace(/^\[(.*)\]$/, '$1');
  const v4 = parseIPv4(trimmed);
  if (v4 !== null) return { v6: false, bits: v4 };
  const v6 = parseIPv6(trimmed);
  if (v6 === null) return null;
  if (v6 >> 32n === 0xffffn) return { v6: false, bits: v6 & 0xffffffffn };
  return { v6: true, bits: v6 };
}

function parseRange(entry: string): Range {
  const [address, prefixText] = entry.split('/');
  const parsed = parseAddress(address!);
  const width = parsed?.v6 ? 128 : 32;
  const prefix = prefixText === undefined ? width : Number(prefixText);
  if (!parsed || !Number.isInteger(prefix) || prefix < 0 || prefix > width || (prefixText !== undefined && !/^\d+$/.test(prefixText))) {
    throw new TypeError(`trustProxy entry ${entry} is not an IP address or CIDR range`);
  }
  return { v6: parsed.v6, bits: parsed.bits, prefix };
}

/**
 * Compiles trusted proxy addresses: IPv4 and IPv6 addresses, CIDR ranges (`10.0.0.0/8`, `fd00::/8`) and
 * the names `loopback`, `linklocal` and `uniquelocal`. Throws a `TypeError` naming a malformed entry.
 *
 * @example
 * ```ts
 * const trusted = trustedProxies(['loopback', '10.0.0.0/8']);
 * trusted.has('::ffff:10.1.2.3'); // true
 * ```
 * @see [RFC 4632 §3.1](https://www.rfc-editor.org/rfc/rfc4632#section-3.1)
 */
export function trustedProxies(entries: readonly string[]): TrustedProxies {
  const ranges = entries.flatMap((entry) => NAMED_RANGES[entry] ?? [entry]).map(parseRange);
  return {
    has(address: string): boolean {
      const parsed = parseAddress(address);
      if (!parsed) return false;
      return ranges.some((range) => {
        if (range.v6 !== parsed.v6) return false;
        const shift = BigInt((range.v6 ? 128 : 32) - range.prefix);
        return parsed.bits >> shift === range.bits >> shift;
      });
    },
  };
}

/**
 * What an adapter knows about a connection before proxies are considered.
 *
 * @example
 * ```ts
 * const connection: ConnectionInfo = { peer: socket.remoteAddress, encrypted: false, forwardedFor: headers['x-forwarded-for'] };
 * ```
 * @see [RFC 7239 §4](https://www.rfc-editor.org/rfc/rfc7239#section-4)
 */
export interface ConnectionInfo {
  /** The socket peer's address. */
  peer: string | undefined;
  /** Whether the socket itself is TLS. */
  encrypted: boolean;
  /** The `X-Forwarded-For` header (every occurrence joined with commas), if any. */
  forwardedFor?: string | null | undefined;
  /** The `X-Forwarded-Proto` header, if any. */
  forwardedProto?: string | null | undefined;
}

/**
 * The client's address and the scheme it used. Forwarded headers count only when the socket peer is a
 * trusted proxy; `X-Forwarded-For` is then read right to left, skipping trusted hops, and the first
 * untrusted address is the client (entries further left were written by the client and prove nothing).
 * `X-Forwarded-Proto` is taken from its last value, the one the nearest proxy wrote.
 *
 * @example
 * ```ts
 * const trusted = trustedProxies(['10.0.0.0/8']);
 * clientAddressFrom({ peer: '10.0.0.5', encrypted: false, forwardedFor: '6.6.6.6, 203.0.113.9', forwardedProto: 'https' }, trusted);
 * // { address: '203.0.113.9', protocol: 'https' }
 * ```
 * @see [RFC 7239 §5.2](https://www.rfc-editor.org/rfc/rfc7239#section-5.2)
 */
export function clientAddressFrom(connection: ConnectionInfo, trusted: TrustedProxies | undefined): { address: string | undefined; protocol: 'http' | 'https' } {
  const socketProtocol = connection.encrypted ? 'https' : 'http';
  const peer = connection.peer;
  if (!trusted || peer === undefined || !trusted.has(peer)) return { address: peer, protocol: socketProtocol };
  let address = peer;
  const hops = (connection.forwardedFor ?? '').split(',').map((hop) => hop.trim()).filter(Boolean);
  for (let i = hops.length - 1; i >= 0; i--) {
    const hop = hops[i]!;
    // A malformed entry ends the walk: nothing left of it can be trusted, and it is no address to count by.
    if (!parseAddress(hop)) break;
    address = hop.replace(/^\[(.*)\]$/, '$1');
    if (!trusted.has(hop)) break;
  }
  const proto = (connection.forwardedProto ?? '').split(',').pop()?.trim().toLowerCase();
  return { address, protocol: proto === 'https' || proto === 'http' ? proto : socketProtocol };
}
