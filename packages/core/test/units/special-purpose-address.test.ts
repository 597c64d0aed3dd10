/**
 * SEC-SSRF-01..03: the address check behind every outbound fetch (client ID metadata documents, jwks_uri),
 * one row per IANA special-purpose block: an address inside is refused, and the addresses just outside are
 * allowed where they are public unicast (a neighbour that is itself special or reserved is listed as such).
 */
import { describe, expect, it } from 'vitest';
import { specialPurposeRange } from '../../src/node/safe-fetch.js';

interface Row {
  block: string;
  inside: string[];
  /** The first address after the block and the last one before it, where those are public. */
  publicNeighbours: string[];
}

const IPV4: Row[] = [
  { block: '0.0.0.0/8', inside: ['0.0.0.0', '0.255.255.255'], publicNeighbours: ['1.0.0.0'] },
  { block: '10.0.0.0/8', inside: ['10.0.0.0', '10.255.255.255'], publicNeighbours: ['11.0.0.0', '9.255.255.255'] },
  { block: '100.64.0.0/10', inside: ['100.64.0.0', '100.127.255.255'], publicNeighbours: ['100.128.0.0', '100.63.255.255'] },
  { block: '127.0.0.0/8', inside: ['127.0.0.1', '127.255.255.255'], publicNeighbours: ['128.0.0.0', '126.255.255.255'] },
  { block: '169.254.0.0/16', inside: ['169.254.169.254', '169.254.0.0'], publicNeighbours: ['169.255.0.0', '169.253.255.255'] },
  { block: '172.16.0.0/12', inside: ['172.16.0.1', '172.31.255.255'], publicNeighbours: ['172.32.0.0', '172.15.255.255'] },
  { block: '192.0.0.0/24', inside: ['192.0.0.0', '192.0.0.255'], publicNeighbours: ['192.0.1.0', '191.255.255.255'] },
  { block: '192.0.2.0/24', inside: ['192.0.2.1', '192.0.2.255'], publicNeighbours: ['192.0.3.0', '192.0.1.255'] },
  { block: '192.88.99.0/24', inside: ['192.88.99.1'], publicNeighbours: ['192.88.100.0', '192.88.98.255'] },
  { block: '192.168.0.0/16', inside: ['192.168.0.1', '192.168.255.255'], publicNeighbours: ['192.169.0.0', '192.167.255.255'] },
  { block: '198.18.0.0/15', inside: ['198.18.0.0', '198.19.255.255'], publicNeighbours: ['198.20.0.0', '198.17.255.255'] },
  { block: '198.51.100.0/24', inside: ['198.51.100.7'], publicNeighbours: ['198.51.101.0', '198.51.99.255'] },
  { block: '203.0.113.0/24', inside: ['203.0.113.9'], publicNeighbours: ['203.0.114.0', '203.0.112.255'] },
  // 224/4 is followed by 240/4, also special.
  { block: '224.0.0.0/4', inside: ['224.0.0.1', '239.255.255.255'], publicNeighbours: ['223.255.255.255'] },
  { block: '240.0.0.0/4', inside: ['240.0.0.0', '255.255.255.254'], publicNeighbours: [] },
  { block: '255.255.255.255/32', inside: ['255.255.255.255'], publicNeighbours: [] },
];

const IPV6: Row[] = [
  { block: '::/128', inside: ['::', '0:0:0:0:0:0:0:0'], publicNeighbours: [] },
  { block: '::1/128', inside: ['::1', '0:0:0:0:0:0:0:1', '0::1', '::0:1'], publicNeighbours: [] },
  // IPv4-compatible: refused whatever the IPv4 address inside, public ones included.
  { block: '::/96', inside: ['::7f00:1', '::127.0.0.1', '0:0:0:0:0:0:127.0.0.1', '::a00:5', '::8.8.8.8'], publicNeighbours: [] },
  { block: '64:ff9b::/96', inside: ['64:ff9b::7f00:1', '64:ff9b::8.8.8.8', '64:ff9b::ffff:ffff'], publicNeighbours: [] },
  { block: '64:ff9b:1::/48', inside: ['64:ff9b:1::1', '64:ff9b:1:ffff:ffff:ffff:ffff:ffff'], publicNeighbours: [] },
  { block: '100::/64', inside: ['100::', '100::ffff:ffff:ffff:ffff'], publicNeighbours: [] },
  { block: '2001::/23', inside: ['2001:1ff:ffff:ffff:ffff:ffff:ffff:ffff', '2001:2::1'], publicNeighbours: ['2001:200::', '2000:ffff:ffff:ffff:ffff:ffff:ffff:ffff'] },
  { block: '2001::/32 (Teredo)', inside: ['2001:0:4136:e378:8000:63bf:3fff:fdd2', '2001::'], publicNeighbours: [] },
  { block: '2001:10::/28', inside: ['2001:10::1', '2001:1f:ffff:ffff:ffff:ffff:ffff:ffff'], publicNeighbours: [] },
  { block: '2001:20::/28', inside: ['2001:20::1', '2001:2f::1'], publicNeighbours: [] },
  { block: '2001:db8::/32', inside: ['2001:db8::1', '2001:DB8:ffff:ffff:ffff:ffff:ffff:ffff'], publicNeighbours: ['2001:db9::', '2001:db7:ffff:ffff:ffff:ffff:ffff:ffff'] },
  { block: '2002::/16', inside: ['2002:7f00:1::', '2002:c000:204::1'], publicNeighbours: ['2003::', '2001:ffff:ffff:ffff:ffff:ffff:ffff:ffff'] },
  { block: '3fff::/20', inside: ['3fff::1', '3fff:fff:ffff:ffff:ffff:ffff:ffff:ffff'], publicNeighbours: ['3fff:1000::', '3ffe:ffff:ffff:ffff:ffff:ffff:ffff:ffff'] },
  { block: '5f00::/16', inside: ['5f00::1'], publicNeighbours: [] },
  { block: 'fc00::/7', inside: ['fc00::', 'fd00::1', 'fdff:ffff:ffff:ffff:ffff:ffff:ffff:ffff'], publicNeighbours: [] },
  { block: 'fe80::/10', inside: ['fe80::1', 'FE80::1', 'febf:ffff:ffff:ffff:ffff:ffff:ffff:ffff'], publicNeighbours: [] },
  { block: 'ff00::/8', inside: ['ff02::1', 'ff05::1:3', 'ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff'], publicNeighbours: [] },
];

describe('SEC-SSRF-01: every IANA special-purpose IPv4 block is refused; its public neighbours are not', () => {
  it.each(IPV4)('SEC-SSRF-01: $block', ({ inside, publicNeighbours }) => {
    for (const address of inside) expect(specialPurposeRange(address), address).not.toBeNull();
    for (const address of publicNeighbours) expect(specialPurposeRange(address), address).toBeNull();
  });
});

describe('SEC-SSRF-02: every IANA special-purpose IPv6 block is refused; its public neighbours are not', () => {
  it.each(IPV6)('SEC-SSRF-02: $block', ({ inside, publicNeighbours }) => {
    for (const address of inside) expect(specialPurposeRange(address), address).not.toBeNull();
    for (const address of publicNeighbours) expect(specialPurposeRange(address), address).toBeNull();
  });

  it('SEC-SSRF-02: IPv4-mapped addresses are judged by the IPv4 address inside, in every text form', () => {
    for (const address of ['::ffff:127.0.0.1', '::ffff:7f00:1', '0:0:0:0:0:ffff:7f00:0001', '::FFFF:10.0.0.5', '::ffff:a9fe:a9fe', '::ffff:0.0.0.0']) {
      expect(specialPurposeRange(address), address).toMatch(/^IPv4-mapped /);
    }
    for (const address of ['::ffff:8.8.8.8', '::ffff:808:808', '0:0:0:0:0:ffff:0808:0808']) expect(specialPurposeRange(address), address).toBeNull();
  });

  it('SEC-SSRF-02: outside global unicast (2000::/3) nothing is public; inside it, ordinary addresses are', () => {
    for (const address of ['4000::1', '::1:0:0', '::ffff:0:7f00:1', 'fec0::1', '1::', '8000::']) expect(specialPurposeRange(address), address).not.toBeNull();
    for (const address of ['2606:4700:4700::1111', '2a00:1450:4001:80b::200e', '2001:4860:4860::8888', '3ffe::1']) expect(specialPurposeRange(address), address).toBeNull();
  });
});

describe('SEC-SSRF-03: addresses are parsed, not pattern-matched', () => {
  it('SEC-SSRF-03: brackets and every compressed or expanded form of one address give one answer', () => {
    const forms = ['::1', '[::1]', '0:0:0:0:0:0:0:1', '0000:0000:0000:0000:0000:0000:0000:0001', '0::0:1', '::0.0.0.1'];
    for (const form of forms) expect(specialPurposeRange(form), form).toMatch(/::1\/128|::\/96/);
    expect(specialPurposeRange('2001:db8:0:0:1:0:0:1')).toBe(specialPurposeRange('2001:db8::1:0:0:1'));
    expect(specialPurposeRange('1:2:3:4:5:6:7::')).not.toBeNull(); // 1::/16 is reserved
  });

  it('SEC-SSRF-03: zone identifiers make any address scoped, so refused', () => {
    for (const address of ['fe80::1%eth0', 'fe80::1%25en0', '2606:4700::1111%1']) expect(specialPurposeRange(address), address).toMatch(/zone/);
  });

  it('SEC-SSRF-03: text that is not exactly one IP address is refused, never guessed at', () => {
    const malformed = ['', 'localhost', '1.2.3', '1.2.3.4.5', '256.1.1.1', '01.2.3.4', '1.2.3.04', '0x7f.0.0.1', '::1::', '1::2::3', '12345::', ':::',
      '1:2:3:4:5:6:7:8:9', '1:2:3:4:5:6:7::8', '::g', '::1.2.3', '1.2.3.4::', '::1.2.3.4:5', 'fe80::1%', ' ::1', '::1 ', '[::1', '1:2:3:4:5:6:7'];
    for (const text of malformed) expect(specialPurposeRange(text), JSON.stringify(text)).toBe('not an IP address');
  });

  it('SEC-SSRF-03: public IPv4 addresses pass', () => {
    for (const address of ['8.8.8.8', '1.1.1.1', '93.184.215.14', '223.255.255.255']) expect(specialPurposeRange(address), address).toBeNull();
  });
});
