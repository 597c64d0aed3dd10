import { createServer, request as httpRequest, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { MAX_BODY_BYTES } from '../../src/protocol/http.js';
import { trustedProxies } from '../../src/protocol/proxy.js';
import { encodeParsedBody, formBodyHasToken, headerField, nodeRequestContext, PayloadTooLargeError, readNodeBody, writeWebResponse } from '../../src/node/adapter.js';

const open: Server[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((server) => new Promise((resolve) => (server.closeAllConnections(), server.close(resolve)))));
});

/** A node:http server that reads each body with readNodeBody and answers its size, or the 413. */
async function bodyServer(): Promise<number> {
  const server = createServer((req, res) => {
    readNodeBody(req)
      .then((body): Promise<void> => writeWebResponse(res, Response.json({ size: body.length })))
      .catch((error: unknown) => (error instanceof PayloadTooLargeError ? writeWebResponse(res, error.toResponse()) : void res.destroy()));
  });
  open.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return (server.address() as AddressInfo).port;
}

/** One raw POST of `size` bytes, written in chunks without a declared length; resolves with the status or the socket error. */
function post(port: number, size: number, declare: boolean): Promise<{ status?: number; body?: string; error?: string }> {
  return new Promise((resolve) => {
    const req = httpRequest({ host: '127.0.0.1', port, method: 'POST', path: '/', headers: declare ? { 'content-length': String(size) } : {} }, (res) => {
      let body = '';
      res.on('data', (chunk: Buffer) => (body += chunk.toString()));
      res.on('end', () => resolve({ status: res.statusCode!, body }));
    });
    req.on('error', (error: NodeJS.ErrnoException) => resolve({ error: error.code ?? error.message }));
    const chunk = Buffer.alloc(16 * 1024, 'a');
    let left = size;
    const write = (): void => {
      while (left > 0) {
        const piece = chunk.subarray(0, Math.min(chunk.length, left));
        left -= piece.length;
        if (!req.write(piece)) return void req.once('drain', write);
      }
      req.end();
    };
    write();
  });
}

describe('@keyward/core/node adapter glue', () => {
  it('ADP-BODY-01: a body within MAX_BODY_BYTES is read whole', async () => {
    const port = await bodyServer();
    expect(await post(port, MAX_BODY_BYTES, false)).toEqual({ status: 200, body: JSON.stringify({ size: MAX_BODY_BYTES }) });
  });

  it.each([false, true])('ADP-BODY-02: an oversized body (declared length: %s) is drained and the client receives the RFC-shaped 413', async (declare) => {
    const port = await bodyServer();
    const answer = await post(port, 4 * MAX_BODY_BYTES, declare);
    expect(answer.error).toBeUndefined();
    expect(answer.status).toBe(413);
    expect(JSON.parse(answer.body!)).toMatchObject({ error: 'invalid_request', error_description: `request body exceeds ${MAX_BODY_BYTES} bytes` });
  });

  it('ADP-BODY-03: nested and repeated pre-parsed form values are encoded back with their brackets, never as [object Object]', () => {
    const form = 'application/x-www-form-urlencoded';
    expect(encodeParsedBody({ grant_type: { x: 'client_credentials' }, scope: ['a', 'b'] }, form)).toBe('grant_type%5Bx%5D=client_credentials&scope=a&scope=b');
    expect(encodeParsedBody({ a: 1 }, 'application/json')).toBe('{"a":1}');
    expect(encodeParsedBody(undefined, form)).toBeNull();
  });

  it('ADP-BODY-04: a form body token is seen in strings and bytes alike, empty values not', () => {
    const form = 'application/x-www-form-urlencoded';
    expect(formBodyHasToken(form, 'access_token=abc')).toBe(true);
    expect(formBodyHasToken(form, Buffer.from('a=1&access_token='))).toBe(false);
    expect(formBodyHasToken(form, { access_token: ['', 'abc'] })).toBe(true);
    expect(formBodyHasToken('application/json', '{"access_token":"abc"}')).toBe(false);
  });

  it('ADP-HDR-01: headerField joins a repeated Authorization as Headers.get does', () => {
    expect(headerField(['Authorization', 'Bearer a', 'Host', 'x', 'authorization', 'Bearer b'], 'authorization')).toBe('Bearer a, Bearer b');
    expect(headerField(['Host', 'x'], 'authorization')).toBeNull();
  });

  it('ADP-PRX-01: nodeRequestContext believes X-Forwarded-* only from a trusted peer', () => {
    const req = { socket: { remoteAddress: '10.0.0.5' }, headers: { 'x-forwarded-for': '203.0.113.9', 'x-forwarded-proto': 'https' } } as never;
    expect(nodeRequestContext(req)).toEqual({ clientAddress: '10.0.0.5', protocol: 'http' });
    expect(nodeRequestContext(req, { trusted: trustedProxies(['10.0.0.0/8']) })).toEqual({ clientAddress: '203.0.113.9', protocol: 'https' });
    expect(nodeRequestContext(req, { peer: '198.51.100.1', trusted: trustedProxies(['10.0.0.0/8']) })).toEqual({ clientAddress: '198.51.100.1', protocol: 'http' });
  });
});
