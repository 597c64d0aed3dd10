#!/usr/bin/env node
// Plays the browser for the conformance suite's `authorization-code-grant` scenario. The suite prints the
// authorization URL and waits (up to five minutes) for a redirect to its own loopback callback server; this
// watches the suite's output for that URL, follows the authorization server's redirects one hop at a time
// (printing each, so a failure shows the exact exchange), and delivers the final redirect to the callback.
// With OAUTH_DEV_LOGIN the first answer is already the redirect to the callback; a login page instead means
// the server is not approving headlessly, and this fails at once rather than letting the suite wait.
//
//   node drive-authorize.mjs --log <file the suite writes> --callback-port <its --port> [--pid <suite pid>] [--timeout 60]
import { readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';

const { values: args } = parseArgs({
  options: { log: { type: 'string' }, 'callback-port': { type: 'string' }, pid: { type: 'string' }, timeout: { type: 'string', default: '60' } },
});
if (!args.log || !args['callback-port']) {
  console.error('usage: drive-authorize.mjs --log FILE --callback-port PORT [--pid PID] [--timeout SECONDS]');
  process.exit(2);
}
const callbackOrigin = `http://127.0.0.1:${args['callback-port']}`;
const deadline = Date.now() + Number(args.timeout) * 1000;

function alive(pid) {
  try {
    process.kill(Number(pid), 0);
    return true;
  } catch {
    return false;
  }
}

function fail(message) {
  console.error(`drive-authorize: ${message}`);
  process.exit(1);
}

/** The authorization URL, once the suite has also started listening on its callback port. */
async function waitForAuthorizationURL() {
  for (;;) {
    let text = '';
    try {
      text = readFileSync(args.log, 'utf8');
    } catch {}
    const url = text.split('\n').find((line) => /^https?:\/\/\S+\?\S*response_type=code/.test(line.trim()));
    if (url && text.includes(`Callback server started: ${callbackOrigin}`)) return url.trim();
    if (args.pid && !alive(args.pid)) fail('the suite exited before printing an authorization URL (see its log)');
    if (Date.now() > deadline) fail(`no authorization URL and callback server within ${args.timeout}s`);
    await sleep(100);
  }
}

const authorizationURL = await waitForAuthorizationURL();
let url = authorizationURL;
for (let hop = 0; hop < 10; hop++) {
  const target = new URL(url);
  const isCallback = target.origin === callbackOrigin;
  let response;
  try {
    response = await fetch(url, { redirect: 'manual', headers: { accept: 'text/html' }, signal: AbortSignal.timeout(15_000) });
  } catch (error) {
    fail(`GET ${url} failed: ${error.cause?.message ?? error.message}`);
  }
  const location = response.headers.get('location');
  console.log(`GET ${url}\n  -> ${response.status}${location ? ` Location: ${location}` : ''}`);
  if (isCallback) {
    if (response.status !== 200) fail(`the suite's callback answered ${response.status}`);
    console.log('callback delivered');
    process.exit(0);
  }
  if (response.status < 300 || response.status > 399 || !location) {
    const body = (await response.text()).replace(/\s+/g, ' ').slice(0, 400);
    fail(`expected a redirect towards ${callbackOrigin}/callback, got ${response.status} (a login page means OAUTH_DEV_LOGIN is not honoured): ${body}`);
  }
  url = new URL(location, url).href;
}
fail('more than 10 redirects');
