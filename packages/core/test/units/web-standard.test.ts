import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { safeFetch as mainSafeFetch } from '../../src/node/safe-fetch.js';
import { sha256 } from '../../src/protocol/crypto.js';
import { readBodyText } from '../../src/protocol/http.js';
import { parseBasicCredentials } from '../../src/server/client-auth.js';
import { OutboundFetchError, safeFetch } from '@keyward/core/node';
import { sha256Sync } from '../../src/testing/sha256-sync.js';
import { webOutboundFetch } from '../../src/server/outbound-fetch.js';

const SRC = resolve(dirname(fileURLToPath(import.meta.url)), '../../src');


/** Every source file reachable from `entry` through relative value imports and re-exports. */
function graphOf(entry: string): Set<string> {
  const seen = new Set<string>();
  const visit = (file: string) => {
    if (seen.has(file)) return;
    seen.add(file);
    const text = readFileSync(file, 'utf8');
    // `import type` / `export type` are erased from the JavaScript, so they do not count.
    for (const match of text.matchAll(/^(?:import|export)(?!\s+type\b)[^;]*?from\s+'(\.[^']+)'/gms)) {
      visit(resolve(dirname(file), match[1]!.replace(/\.js$/, '.ts')));
    }
  };
  visit(resolve(SRC, entry));
  return seen;
}

/** The source with comments removed, so JSDoc that mentions Buffer or node: is not taken for code. */
function code(file: string): string {
  return readFileSync(file, 'utf8').replace(/\/\*[\s\S]*?\*\//g, '').replace(/^\s*\/\/.*$/gm, '');
}

describe('RUNTIME-WEB: the main entry runs on any runtime with Web Crypto and fetch', () => {
  const mainGraph = [...graphOf('index.ts')];

  it('RUNTIME-WEB-01: no module reachable from the main entry imports a node: built-in as a value', () => {
    expect(mainGraph.length).toBeGreaterThan(30);
    // A dynamic import() counts; `typeof import('node:…')` and `as import('node:…')` are types.
    const offenders = mainGraph.filter((file) => /(?:^|\n)\s*(?:import|export)(?!\s+type\b)[^;]*?from\s+'node:|(?<!(?:typeof|as)\s+)import\(\s*'node:/.test(code(file)));
    expect(offenders.map((file) => relative(SRC, file))).toEqual([]);
  });

  it('RUNTIME-WEB-02: no module reachable from the main entry uses Node Buffer', () => {
    const offenders = mainGraph.map((file) => relative(SRC, file)).filter((file) => /\bBuffer\b/.test(code(join(SRC, file))));
    expect(offenders).toEqual([]);
  });

  it('RUNTIME-WEB-03: the test suites other runtimes run (store, HTTP) import no node: built-in', () => {
    const suites = [...graphOf('testing/index.ts')].filter((file) => relative(SRC, file).startsWith('testing/'));
    expect(suites.length).toBeGreaterThanOrEqual(3);
    for (const file of suites) expect(code(file), relative(SRC, file)).not.toMatch(/from\s+'node:|import\(\s*'node:|\bBuffer\b/);
    // Sanity check of the scanner itself: it does see this test's own node: imports.
    expect(readdirSync(SRC)).toContain('index.ts');
  });

  it('RUNTIME-WEB-04: the store suite hashes as the server does (sync SHA-256 equals sha256)', async () => {
    const inputs = ['', 'abc', 'code-1', 'é'.repeat(40), 'x'.repeat(55), 'x'.repeat(56), 'x'.repeat(64), 'y'.repeat(1000)];
    for (const input of inputs) expect(sha256Sync(input), JSON.stringify(input)).toBe(await sha256(input));
    // FIPS 180-4 example: SHA-256("abc").
    expect(sha256Sync('abc')).toBe('ungWv48Bz-pBQUDeXa4iI7ADYaOWF3qctBD_YfIAFa0');
  });

  it('RUNTIME-WEB-05: Basic credentials decode as UTF-8 with atob; what is not Base64 fails', () => {
    const basic = (raw: string) => `Basic ${btoa(String.fromCharCode(...new TextEncoder().encode(raw)))}`;
    expect(parseBasicCredentials(basic('clïent:sécret'))).toEqual({ clientId: 'clïent', clientSecret: 'sécret' });
    // Padding where none belongs, and a length no Base64 text has.
    expect(parseBasicCredentials('Basic YQ=')).toBeNull();
    expect(parseBasicCredentials('Basic YWJjZ')).toBeNull();
  });

  it('RUNTIME-WEB-06: a body split inside a multi-byte character is read whole', async () => {
    const bytes = new TextEncoder().encode('name=été&x=✓');
    const body = new ReadableStream<Uint8Array>({
      start(controller) {
        controller.enqueue(bytes.slice(0, 6));
        controller.enqueue(bytes.slice(6, 11));
        controller.enqueue(bytes.slice(11));
        controller.close();
      },
    });
    const request = new Request('https://as.example/token', { method: 'POST', body, duplex: 'half' } as RequestInit);
    expect(await readBodyText(request)).toBe('name=été&x=✓');
  });

  it('RUNTIME-NODE-01: @keyward/core/node offers the DNS-pinning safe fetch (the same function as the main entry)', async () => {
    expect(safeFetch).toBe(mainSafeFetch);
    await expect(safeFetch('https://127.0.0.1/metadata.json')).rejects.toBeInstanceOf(OutboundFetchError);
  });

  it('RUNTIME-WEB-07: off Node, the default fetcher still refuses plain http, user information and special-purpose IP literals before any request', async () => {
    const fetcher = webOutboundFetch();
    for (const url of ['http://client.example/a.json', 'https://user:pw@client.example/a.json', 'https://127.0.0.1/a.json', 'https://[::1]/a.json', 'https://169.254.169.254/latest']) {
      await expect(fetcher(url), url).rejects.toBeInstanceOf(OutboundFetchError);
    }
  });
});
