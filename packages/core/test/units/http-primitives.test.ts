import { describe, expect, it } from 'vitest';
import { OAuthError } from '@keyward/core';
import { randomToken, sha256, timingSafeEqual } from '../../src/protocol/crypto.js';
import { sanitizeErrorDescription } from '../../src/protocol/errors.js';
import { DRAIN_BYTES, escapeHTML, MAX_BODY_BYTES, readBodyParams, readBodyText, RequestParams } from '../../src/protocol/http.js';
import { protectedResourceMetadata, wellKnownURL } from '../../src/protocol/metadata.js';
import { checkResourceIndicator } from '../../src/protocol/resource.js';
import { bearerChallenge } from '../../src/protocol/www-authenticate.js';

describe('wellKnownURL', () => {
  it('AUTHZ-DISC-01 / AUTHZ-RS-04: inserts the well-known segment before the path', () => {
    expect(wellKnownURL('https://a.example/tenant1', 'oauth-authorization-server')).toBe('https://a.example/.well-known/oauth-authorization-server/tenant1');
    expect(wellKnownURL('https://a.example/tenant1/', 'oauth-authorization-server')).toBe('https://a.example/.well-known/oauth-authorization-server/tenant1');
    expect(wellKnownURL('https://a.example', 'oauth-authorization-server')).toBe('https://a.example/.well-known/oauth-authorization-server');
    expect(wellKnownURL('https://a.example/', 'oauth-authorization-server')).toBe('https://a.example/.well-known/oauth-authorization-server');
    expect(wellKnownURL('http://localhost:3009/mcp', 'oauth-protected-resource')).toBe('http://localhost:3009/.well-known/oauth-protected-resource/mcp');
    expect(wellKnownURL('https://a.example/x/y/mcp', 'oauth-protected-resource')).toBe('https://a.example/.well-known/oauth-protected-resource/x/y/mcp');
  });
});

describe('protectedResourceMetadata', () => {
  it('AUTHZ-RS-04: resource byte for byte, authorization servers, header bearer method', () => {
    expect(protectedResourceMetadata({ resource: 'https://a.example/mcp/', authorizationServers: ['https://as.example'], scopesSupported: [] })).toEqual({
      resource: 'https://a.example/mcp/',
      authorization_servers: ['https://as.example'],
      bearer_methods_supported: ['header'],
    });
  });
});

describe('bearerChallenge', () => {
  it('AUTHZ-RS-02: no error attribute unless one is given', () => {
    expect(bearerChallenge({})).toBe('Bearer');
    expect(bearerChallenge({ resourceMetadata: 'https://a/.well-known/oauth-protected-resource/mcp' })).toBe(
      'Bearer resource_metadata="https://a/.well-known/oauth-protected-resource/mcp"',
    );
    expect(bearerChallenge({ resourceMetadata: 'https://a/m', error: 'insufficient_scope', errorDescription: 'need more', scope: 'a b', realm: 'r' })).toBe(
      'Bearer realm="r", resource_metadata="https://a/m", error="insufficient_scope", error_description="need more", scope="a b"',
    );
  });

  it('quotes values safely: escapes quote and backslash, replaces non-ASCII and control characters', () => {
    expect(bearerChallenge({ error: 'invalid_token', errorDescription: 'say "hi" \\ ü\r\n' })).toBe('Bearer error="invalid_token", error_description="say \\"hi\\" \\\\ ???"');
  });
});

describe('sanitizeErrorDescription', () => {
  it('AUTHZ-ARESP-06: keeps %x20-21 / %x23-5B / %x5D-7E and replaces everything else', () => {
    expect(sanitizeErrorDescription('plain text: ok! [x] {y} ~')).toBe('plain text: ok! [x] {y} ~');
    expect(sanitizeErrorDescription('"quote" \\back\\ é\n\t\u0000😀')).toBe('?quote? ?back? ??????');
    const all = Array.from({ length: 0x2ff }, (_, i) => String.fromCharCode(i)).join('');
    expect(sanitizeErrorDescription(all)).toMatch(/^[\x20-\x21\x23-\x5b\x5d-\x7e?]+$/);
  });

  it('OAuthError sanitises its description and defaults status and error_uri per code', () => {
    const error = new OAuthError('invalid_request', { description: 'bad "x" é' });
    expect(error.toJSON()).toEqual({ error: 'invalid_request', error_description: 'bad ?x? ?', error_uri: expect.stringMatching(/^https:/) });
    expect(new OAuthError('invalid_client').status).toBe(401);
    expect(new OAuthError('invalid_token').status).toBe(401);
    expect(new OAuthError('insufficient_scope').status).toBe(403);
    expect(new OAuthError('invalid_grant').status).toBe(400);
    expect(new OAuthError('temporarily_unavailable').status).toBe(503);
    const response = new OAuthError('invalid_grant').toResponse();
    expect(response.headers.get('cache-control')).toBe('no-store');
    expect(response.headers.get('content-type')).toBe('application/json');
  });
});

describe('timingSafeEqual', () => {
  it('compares strings exactly, whatever their lengths', () => {
    expect(timingSafeEqual('', '')).toBe(true);
    expect(timingSafeEqual('abc', 'abc')).toBe(true);
    expect(timingSafeEqual('abc', 'abd')).toBe(false);
    expect(timingSafeEqual('abc', 'ab')).toBe(false);
    expect(timingSafeEqual('ab', 'abc')).toBe(false);
    expect(timingSafeEqual('abc', '')).toBe(false);
    expect(timingSafeEqual('', 'abc')).toBe(false);
    expect(timingSafeEqual('é', 'e')).toBe(false);
    // Same length after a prefix: the loop covers every byte.
    expect(timingSafeEqual('aaaaaaaaaaaaaaaaaaab', 'aaaaaaaaaaaaaaaaaaaa')).toBe(false);
  });
});

describe('randomToken and sha256', () => {
  it('AUTHZ-ARESP-04: tokens are base64url CSPRNG output of the requested size', () => {
    expect(randomToken()).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(randomToken(16)).toMatch(/^[A-Za-z0-9_-]{22}$/);
    expect(new Set(Array.from({ length: 1000 }, () => randomToken(16))).size).toBe(1000);
  });

  it('PERF-RAND-01: tokens drawn from the refilled pool never repeat, across refills and mixed sizes', () => {
    const sizes = [32, 16, 12, 7, 4096, 4097, 9];
    const tokens = Array.from({ length: 20_000 }, (_, i) => randomToken(sizes[i % sizes.length]));
    expect(new Set(tokens).size).toBe(tokens.length);
    const wrongLength = tokens.filter((token, i) => token.length !== Math.ceil((sizes[i % sizes.length]! * 4) / 3));
    expect(wrongLength).toEqual([]);
  });

  it('sha256 is base64url without padding', async () => {
    expect(await sha256('abc')).toBe('ungWv48Bz-pBQUDeXa4iI7ADYaOWF3qctBD_YfIAFa0');
  });
});

describe('checkResourceIndicator', () => {
  it('AUTHZ-RES-01: absolute URI without fragment', () => {
    expect(checkResourceIndicator('https://mcp.example.com/mcp')).toBeNull();
    expect(checkResourceIndicator('https://mcp.example.com/mcp?x=1')).toBeNull();
    expect(checkResourceIndicator('/mcp')).toMatch(/absolute/);
    expect(checkResourceIndicator('mcp')).toMatch(/absolute/);
    expect(checkResourceIndicator('https://mcp.example.com/mcp#x')).toMatch(/fragment/);
    expect(checkResourceIndicator('https://mcp.example.com/mcp#')).toMatch(/fragment/);
  });
});

describe('RequestParams and readBodyParams', () => {
  it('AUTHZ-AZ-02 / AUTHZ-TOK-02: empty means absent, repeats are invalid_request, repeatable ones are listed', () => {
    const params = RequestParams.fromSearch(new URLSearchParams('a=1&b=&c=2&c=3&resource=x&resource=y'));
    expect(params.get('a')).toBe('1');
    expect(params.get('b')).toBeUndefined();
    expect(params.has('b')).toBe(false);
    expect(() => params.get('c')).toThrow(OAuthError);
    expect(params.getAll('resource')).toEqual(['x', 'y']);
    expect(params.getAll('missing')).toEqual([]);
  });

  it('AUTHZ-TOK-02: reads form and JSON bodies and refuses other media types', async () => {
    const form = await readBodyParams(new Request('https://a/t', { method: 'POST', body: new URLSearchParams({ grant_type: 'x' }) }));
    expect(form.get('grant_type')).toBe('x');
    const json = await readBodyParams(
      new Request('https://a/t', { method: 'POST', headers: { 'content-type': 'Application/JSON; charset=utf-8' }, body: '{"grant_type":"x","n":5,"resource":["a","b"],"z":null}' }),
    );
    expect(json.get('grant_type')).toBe('x');
    expect(json.get('n')).toBe('5');
    expect(json.getAll('resource')).toEqual(['a', 'b']);
    expect(json.has('z')).toBe(false);
    for (const body of ['{"a":{"b":1}}', '[1]', '"x"', 'null', '{']) {
      await expect(readBodyParams(new Request('https://a/t', { method: 'POST', headers: { 'content-type': 'application/json' }, body }))).rejects.toThrow(OAuthError);
    }
    await expect(readBodyParams(new Request('https://a/t', { method: 'POST', headers: { 'content-type': 'text/plain' }, body: 'a=1' }))).rejects.toThrow(OAuthError);
  });

  it('escapeHTML escapes the five HTML-significant characters', () => {
    expect(escapeHTML(`<a href="x" title='y'>&</a>`)).toBe('&lt;a href=&quot;x&quot; title=&#39;y&#39;&gt;&amp;&lt;/a&gt;');
  });
});

describe('readBodyText with an oversized body', () => {
  /** A POST whose body stream hands out `total` bytes in 16 KiB chunks and counts what was read. */
  function streamed(total: number, declare: boolean) {
    const seen = { bytes: 0, cancelled: false };
    const body = new ReadableStream<Uint8Array>({
      pull(controller) {
        const size = Math.min(16 * 1024, total - seen.bytes);
        if (size <= 0) return controller.close();
        seen.bytes += size;
        controller.enqueue(new Uint8Array(size));
      },
      cancel() {
        seen.cancelled = true;
      },
    });
    const headers: Record<string, string> = declare ? { 'content-length': String(total) } : {};
    return { request: new Request('https://as.example/oauth/token', { method: 'POST', headers, body, duplex: 'half' } as RequestInit), seen };
  }

  for (const declare of [true, false]) {
    it(`AUTHZ-TOK-02: ${declare ? 'declared' : 'chunked'}, up to the drain bound: the rest is read and dropped before the 413, and the connection may stay`, async () => {
      const { request, seen } = streamed(MAX_BODY_BYTES + 2 * 1024 * 1024, declare);
      const error = (await readBodyText(request).catch((caught: unknown) => caught)) as OAuthError;
      expect(error.status).toBe(413);
      expect(seen).toEqual({ bytes: MAX_BODY_BYTES + 2 * 1024 * 1024, cancelled: false });
      expect(error.headers.connection).toBeUndefined();
    });
  }

  it('AUTHZ-TOK-02: beyond the drain bound the stream is cancelled and the 413 closes the connection; a declared size beyond it is not read at all', async () => {
    const chunked = streamed(DRAIN_BYTES * 2, false);
    const cut = (await readBodyText(chunked.request).catch((caught: unknown) => caught)) as OAuthError;
    expect([cut.status, cut.headers.connection, chunked.seen.cancelled]).toEqual([413, 'close', true]);
    expect(chunked.seen.bytes).toBeLessThanOrEqual(DRAIN_BYTES + 32 * 1024);
    const declared = streamed(DRAIN_BYTES + 1, true);
    const refused = (await readBodyText(declared.request).catch((caught: unknown) => caught)) as OAuthError;
    expect([refused.status, refused.headers.connection]).toEqual([413, 'close']);
    // At most the one chunk a stream fetches ahead on its own.
    expect(declared.seen.bytes).toBeLessThanOrEqual(16 * 1024);
  });
});

