#!/usr/bin/env node
// Opens the built site in headless Chromium, as a reader would: the home page, a guide and an API page must
// render (their h1, a screenshot that is not blank), and the local search must answer a query with a result.
// Serves docs/.vitepress/dist itself on 127.0.0.1 (no network). Screenshots go to --out (default
// node_modules/.cache/docs-check); `--out docs/screenshots` refreshes the committed ones.
// Usage: node docs/scripts/browser-check.mjs [--out DIR]; exits 1 when a check fails.
import { createReadStream, existsSync, mkdirSync, statSync } from 'node:fs';
import { createServer } from 'node:http';
import { dirname, extname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const docs = join(dirname(fileURLToPath(import.meta.url)), '..');
const dist = join(docs, '.vitepress', 'dist');
const outArg = process.argv.indexOf('--out');
const out = resolve(outArg > 0 ? process.argv[outArg + 1] : join(docs, '..', 'node_modules', '.cache', 'docs-check'));
mkdirSync(out, { recursive: true });

const PAGES = [
  { name: 'site-home', path: '/', h1: 'Keyward' },
  { name: 'site-guide', path: '/guide/express', h1: 'Getting started with Express' },
  { name: 'site-api', path: '/api/@keyward/core/index/classes/AuthorizationServer', h1: 'AuthorizationServer' },
];
const SEARCH = { query: 'mcpAuthRouter', expect: 'Migrating from mcpAuthRouter' };

const TYPES = { '.html': 'text/html; charset=utf-8', '.js': 'text/javascript', '.css': 'text/css', '.svg': 'image/svg+xml', '.png': 'image/png', '.json': 'application/json', '.woff2': 'font/woff2' };
const site = createServer((req, res) => {
  const path = decodeURIComponent(new URL(req.url ?? '/', 'http://site').pathname);
  const file = [path, `${path}.html`, join(path, 'index.html')].map((p) => join(dist, p)).find((p) => p.startsWith(dist) && existsSync(p) && statSync(p).isFile());
  if (!file) return void res.writeHead(404).end('not found');
  res.writeHead(200, { 'content-type': TYPES[extname(file)] ?? 'application/octet-stream' });
  createReadStream(file).pipe(res);
});
await new Promise((done) => site.listen(0, '127.0.0.1', done));
const base = `http://127.0.0.1:${site.address().port}`;

const failures = [];
const browser = await chromium.launch({ executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium' });
try {
  const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
  const errors = [];
  page.on('pageerror', (error) => errors.push(error.message));
  for (const { name, path, h1 } of PAGES) {
    const response = await page.goto(`${base}${path}`, { waitUntil: 'networkidle' });
    const heading = (await page.locator('h1').first().textContent({ timeout: 10_000 }))?.trim() ?? '';
    const file = join(out, `${name}.png`);
    const png = await page.screenshot({ path: file });
    const ink = await inkRatio(page, png);
    const ok = response?.status() === 200 && heading.includes(h1) && ink > 0.01;
    console.log(`${ok ? 'ok  ' : 'FAIL'} ${path}: HTTP ${response?.status()}, h1 "${heading}", ${(ink * 100).toFixed(1)}% of the screenshot not background → ${file}`);
    if (!ok) failures.push(path);
  }

  // The local search: open it the way a reader does, type, and wait for a result naming the expected page.
  await page.goto(`${base}/guide/`, { waitUntil: 'networkidle' });
  await page.locator('.VPNavBarSearch button').first().click();
  const input = page.locator('.VPLocalSearchBox input');
  await input.fill(SEARCH.query);
  const results = page.locator('.VPLocalSearchBox .results li');
  try {
    await results.first().waitFor({ timeout: 10_000 });
    const texts = await results.allTextContents();
    const found = texts.some((text) => text.includes(SEARCH.expect));
    console.log(`${found ? 'ok  ' : 'FAIL'} search "${SEARCH.query}": ${texts.length} results${found ? `, including "${SEARCH.expect}"` : `: ${texts.slice(0, 3).join(' | ')}`}`);
    if (!found) failures.push('search');
  } catch {
    console.log(`FAIL search "${SEARCH.query}": no result`);
    failures.push('search');
  }
  await page.screenshot({ path: join(out, 'site-search.png') });
  if (errors.length) {
    console.log(`FAIL JavaScript errors in the pages: ${errors.join('; ')}`);
    failures.push('page errors');
  }
} finally {
  await browser.close();
  site.close();
}

if (failures.length) {
  console.error(`browser: ${failures.length} check(s) failed: ${failures.join(', ')}`);
  process.exit(1);
}
console.log(`browser: ${PAGES.length} pages rendered and search answered`);

/**
 * The share of pixels that differ from the page's background colour, measured in the browser itself (a canvas
 * decodes the PNG), so a white or half-loaded page fails.
 */
async function inkRatio(page, png) {
  return page.evaluate(async (dataURL) => {
    const image = new Image();
    image.src = dataURL;
    await image.decode();
    const canvas = document.createElement('canvas');
    canvas.width = image.width;
    canvas.height = image.height;
    const context = canvas.getContext('2d');
    context.drawImage(image, 0, 0);
    const { data } = context.getImageData(0, 0, image.width, image.height);
    const [r, g, b] = [data[0], data[1], data[2]];
    let ink = 0;
    for (let i = 0; i < data.length; i += 4) if (Math.abs(data[i] - r) + Math.abs(data[i + 1] - g) + Math.abs(data[i + 2] - b) > 48) ink++;
    return ink / (data.length / 4);
  }, `data:image/png;base64,${png.toString('base64')}`);
}
