// The race every adapter's oversized-body test runs. An oversized body must reach the client as a 413
// answer, never as a reset. A server that answers before it has read the body and then closes the connection
// leaves the client's unsent bytes to meet a TCP reset, which can erase the 413 before the client reads it
// (RFC 9112 §9.6): the client sees write EPIPE or ECONNRESET. Each request asks for its connection to be
// closed (`agent: false` sends `Connection: close`), which is when Node closes at once; fifty, ten at a time,
// from another process. A bare node:http server that answers before reading loses 1 to 9 of such fifty 2 MiB
// requests on a 2-core machine, so the race does show.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { describe, expect, it } from 'vitest';
import { MAX_BODY_BYTES } from '../src/protocol/http.js';

/**
 * Sends `rounds` × `concurrency` POSTs of `size` bytes of form to `url`, each on a connection of its own that
 * asks to be closed, from a separate Node process (as a real client is: in this process the server would
 * read the bytes in step with the writes and hide the race). Resolves with each answer's status, or the
 * socket error's code.
 */
export async function postOversized(url: string, size: number, framing: 'content-length' | 'chunked', rounds = 5, concurrency = 10): Promise<(number | string)[]> {
  const child = spawn(process.execPath, ['--input-type=module', '-e', CLIENT, url, String(size), framing, String(rounds), String(concurrency)], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const [code] = (await once(child, 'exit')) as [number | null];
  if (code !== 0) throw new Error(`the client process exited with ${code}: ${output}`);
  return JSON.parse(output) as (number | string)[];
}

const CLIENT = `
import { request } from 'node:http';
const [url, size, framing, rounds, concurrency] = process.argv.slice(1);
const body = Buffer.from('grant_type=client_credentials&padding=' + 'x'.repeat(Number(size)));
const post = () => new Promise((resolve) => {
  const sent = request(url, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, agent: false }, (response) => {
    response.resume();
    resolve(response.statusCode);
  });
  sent.on('error', (error) => resolve(error.code));
  if (framing === 'content-length') sent.end(body);
  else {
    // No Content-Length: the size is only known once the server has read past its limit.
    for (let offset = 0; offset < body.length; offset += 16384) sent.write(body.subarray(offset, offset + 16384));
    sent.end();
  }
});
const answers = [];
for (let round = 0; round < Number(rounds); round++) answers.push(...(await Promise.all(Array.from({ length: Number(concurrency) }, post))));
process.stdout.write(JSON.stringify(answers));
`;

/**
 * The four cases for one adapter: over core's 64 KiB and over 2 MiB (`largeLimit` names what answers that
 * one), each with a Content-Length and chunked; `serve` starts a fresh server and gives its base URL.
 */
export function describeOversizedBodies(adapter: string, largeLimit: string, serve: () => Promise<string>): void {
  describe(`${adapter}: an oversized body gets its 413, never a reset`, () => {
    const cases = [
      { limit: "core's MAX_BODY_BYTES (64 KiB)", size: MAX_BODY_BYTES + 36 * 1024 },
      { limit: largeLimit, size: 2 * 1024 * 1024 },
    ];
    for (const { limit, size } of cases) {
      for (const framing of ['content-length', 'chunked'] as const) {
        it(`AUTHZ-TOK-02: over ${limit}, ${framing}: fifty closing connections all read 413`, async () => {
          const url = `${await serve()}/oauth/token`;
          expect(await postOversized(url, size, framing)).toEqual(Array(50).fill(413));
        });
      }
    }
  });
}
