#!/usr/bin/env node
// Checks every internal link of the built site (docs/.vitepress/dist): each href/src that stays on the site must
// reach a file, and each #fragment an element with that id on the target page. No network: external links
// (http:, https:, mailto:) are not fetched. Usage: node docs/scripts/check-links.mjs [dist]; exits 1 on a broken link.
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const dist = process.argv[2] ?? join(dirname(fileURLToPath(import.meta.url)), '..', '.vitepress', 'dist');
if (!existsSync(join(dist, 'index.html'))) {
  console.error(`links: no built site at ${dist}; run pnpm docs:build first`);
  process.exit(1);
}

const pages = [];
(function walk(dir) {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) walk(path);
    else if (entry.name.endsWith('.html')) pages.push(path);
  }
})(dist);

const decode = (text) => text.replace(/&amp;/g, '&').replace(/&quot;/g, '"').replace(/&#39;/g, "'").replace(/&lt;/g, '<').replace(/&gt;/g, '>');
const idCache = new Map();
function idsOf(file) {
  if (!idCache.has(file)) {
    const html = readFileSync(file, 'utf8');
    idCache.set(file, new Set([...html.matchAll(/\s(?:id|name)="([^"]*)"/g)].map((m) => decode(m[1]))));
  }
  return idCache.get(file);
}

/** The file a site path serves, as VitePress's cleanUrls and a static host resolve it. */
function fileFor(path) {
  const clean = decodeURIComponent(path).replace(/^\//, '');
  for (const candidate of [clean, `${clean}.html`, join(clean, 'index.html')]) {
    const file = join(dist, candidate);
    if (existsSync(file) && statSync(file).isFile()) return file;
  }
  return null;
}

let links = 0;
const broken = [];
for (const page of pages) {
  const html = readFileSync(page, 'utf8');
  const pagePath = `/${relative(dist, page).split('\\').join('/')}`;
  for (const match of html.matchAll(/\s(?:href|src)="([^"]*)"/g)) {
    const raw = decode(match[1]);
    if (raw === '' || /^[a-z][a-z0-9+.-]*:/i.test(raw) || raw.startsWith('//')) continue;
    links++;
    const url = new URL(raw, `http://site${pagePath}`);
    const target = url.pathname === pagePath ? page : fileFor(url.pathname);
    const where = `${relative(dist, page)}: ${raw}`;
    if (!target) {
      broken.push(`${where} (no such page or file)`);
      continue;
    }
    if (url.hash.length > 1 && target.endsWith('.html') && !idsOf(target).has(decodeURIComponent(url.hash.slice(1)))) {
      broken.push(`${where} (no element with id "${decodeURIComponent(url.hash.slice(1))}")`);
    }
  }
}

if (broken.length) {
  for (const line of broken) console.error(`broken link: ${line}`);
  console.error(`links: ${broken.length} broken of ${links} internal links in ${pages.length} pages`);
  process.exit(1);
}
console.log(`links: ${links} internal links and anchors in ${pages.length} pages all resolve`);
