/**
 * SEC-FUZZ-05: the endpoint fuzzer of core, through the Express adapter over real HTTP on 127.0.0.1:
 * what the adapter adds (body reading, header and status copying, Express's own error handling) must keep
 * the same properties. Smaller than the in-process run; the seed is printed for replay.
 */
import type { AddressInfo } from 'node:net';
import express from 'express';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { keyward } from '../src/index.js';
import { fuzzEndpoints, fuzzServer, fuzzSettings, Model, TEMPLATES, type Target } from '../../core/test/fuzz/model.js';

// Hop-by-hop and framing headers are the HTTP client's to write; a fuzzed value would only break the client.
const CLIENT_OWNED = new Set(['host', 'content-length', 'transfer-encoding', 'connection', 'keep-alive', 'upgrade', 'expect', 'te', 'trailer']);

let close: () => Promise<void>;
let base: string;
const unexpected: unknown[] = [];
const fuzzed = fuzzServer({ onError: (error) => unexpected.push(error) });

beforeAll(async () => {
  const app = express();
  app.use(keyward(fuzzed.server));
  const http = app.listen(0, '127.0.0.1');
  await new Promise((resolve) => http.once('listening', resolve));
  base = `http://127.0.0.1:${(http.address() as AddressInfo).port}`;
  close = () =>
    new Promise((resolve) => {
      http.close(() => resolve());
      http.closeAllConnections();
    });
});
afterAll(() => close());

/** Sends the model's request to the Express server over HTTP, the path and query unchanged. */
const overHTTP: Target = {
  async send(request) {
    const url = new URL(request.url);
    const headers = new Headers();
    request.headers.forEach((value, name) => {
      if (!CLIENT_OWNED.has(name)) headers.append(name, value);
    });
    const body = request.method === 'GET' || request.method === 'HEAD' ? undefined : await request.arrayBuffer();
    return fetch(`${base}${url.pathname}${url.search}`, { method: request.method, headers, ...(body && { body }), redirect: 'manual' });
  },
};

const HTTP_RUN = fuzzSettings(60);

describe('SEC-FUZZ-05: Express adapter over HTTP under generated requests', () => {
  it('SEC-FUZZ-05: no 5xx, no foreign redirect, no unearned token, RFC-shaped errors through Express', async () => {
    const { seed, runs } = HTTP_RUN;
    const model = new Model();
    model.ownsPath = (path) => {
      try {
        return fuzzed.server.handles(new URL(path, base).pathname);
      } catch {
        return false;
      }
    };
    await fuzzEndpoints(overHTTP, model, { seed, runs, templates: TEMPLATES, label: 'express over HTTP' });
    expect(model.stats.tokensIssued).toBeGreaterThan(0);
    expect(unexpected.filter((error) => (error as Error).name !== 'OutboundFetchError')).toEqual([]);
  }, HTTP_RUN.timeout);
});
