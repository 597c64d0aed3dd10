import { describe, expect, it } from 'vitest';
import { clientAddressFrom, trustedProxies } from '../../src/protocol/proxy.js';

describe('trustedProxies', () => {
  it('OPS-PRX-10: matches IPv4 and IPv6 addresses and CIDR ranges, IPv4-mapped IPv6 as IPv4', () => {
    const trusted = trustedProxies(['10.0.0.0/8', '192.0.2.7', 'fd00::/8', '2001:db8::1']);
    for (const address of ['10.0.0.1', '10.255.255.255', '::ffff:10.1.2.3', '192.0.2.7', 'fd12:3456::1', '2001:db8::1', '[2001:db8::1]', '2001:0db8:0:0:0:0:0:1']) {
      expect(trusted.has(address), address).toBe(true);
    }
    for (const address of ['11.0.0.1', '192.0.2.8', 'fe00::1', '2001:db8::2', 'not-an-ip', '', '10.0.0', '1.2.3.256', '::ffff:11.0.0.1']) {
      expect(trusted.has(address), address).toBe(false);
    }
  });

  it('OPS-PRX-11: understands loopback, linklocal and uniquelocal, and /0 and /32 edges', () => {
    const named = trustedProxies(['loopback', 'uniquelocal']);
    expect(['127.0.0.1', '127.9.9.9', '::1', '::ffff:127.0.0.1', '172.16.0.1', '172.31.255.255', '192.168.1.1', 'fc00::1'].every((a) => named.has(a))).toBe(true);
    expect(['172.32.0.1', '8.8.8.8', '::2'].some((a) => named.has(a))).toBe(false);
    expect(trustedProxies(['0.0.0.0/0']).has('8.8.8.8')).toBe(true);
    expect(trustedProxies(['0.0.0.0/0']).has('2001:db8::1')).toBe(false);
    expect(trustedProxies(['203.0.113.9/32']).has('203.0.113.10')).toBe(false);
    expect(trustedProxies(['linklocal']).has('169.254.1.1')).toBe(true);
  });

  it('OPS-PRX-12: refuses malformed entries by name', () => {
    for (const entry of ['10.0.0.0/33', '10.0.0.0/x', 'example.com', '::1/129', '1.2.3.4/']) {
      expect(() => trustedProxies([entry]), entry).toThrow(entry);
    }
  });
});

describe('clientAddressFrom', () => {
  const trusted = trustedProxies(['10.0.0.0/8']);

  it('OPS-PRX-13: forwarded headers from an untrusted peer are ignored', () => {
    expect(clientAddressFrom({ peer: '198.51.100.1', encrypted: false, forwardedFor: '10.0.0.1', forwardedProto: 'https' }, trusted)).toEqual({ address: '198.51.100.1', protocol: 'http' });
    expect(clientAddressFrom({ peer: '198.51.100.1', encrypted: true, forwardedProto: 'http' }, undefined)).toEqual({ address: '198.51.100.1', protocol: 'https' });
  });

  it('OPS-PRX-14: X-Forwarded-For is walked right to left past trusted hops; spoofed entries to the left are never reached', () => {
    const from = (forwardedFor: string) => clientAddressFrom({ peer: '10.0.0.2', encrypted: false, forwardedFor }, trusted).address;
    expect(from('203.0.113.9')).toBe('203.0.113.9');
    expect(from('1.1.1.1, 203.0.113.9')).toBe('203.0.113.9');
    expect(from('1.1.1.1, 203.0.113.9, 10.0.0.7')).toBe('203.0.113.9');
    expect(from('10.0.0.9, 10.0.0.8')).toBe('10.0.0.9');
    expect(from('[2001:db8::5]')).toBe('2001:db8::5');
    // A malformed hop stops the walk at the last address that could be checked.
    expect(from('203.0.113.9, garbage')).toBe('10.0.0.2');
    expect(from('')).toBe('10.0.0.2');
  });

  it("OPS-PRX-15: X-Forwarded-Proto from a trusted proxy counts, its last value (the nearest proxy's)", () => {
    const proto = (forwardedProto: string | undefined, encrypted = false) => clientAddressFrom({ peer: '10.0.0.2', encrypted, forwardedProto }, trusted).protocol;
    expect(proto('https')).toBe('https');
    expect(proto('https, http')).toBe('http');
    expect(proto('HTTPS')).toBe('https');
    expect(proto('gopher')).toBe('http');
    expect(proto(undefined, true)).toBe('https');
  });
});
