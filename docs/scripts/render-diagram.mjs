#!/usr/bin/env node
// Renders docs/diagrams/*.mmd to static SVG in docs/public/ with mermaid in headless Chromium, so the site
// ships a plain image (no diagram JavaScript in the browser). Run after editing a diagram, and commit the SVG:
//   node docs/scripts/render-diagram.mjs
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const docs = join(dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(import.meta.url);
const mermaidScript = join(dirname(require.resolve('mermaid/package.json')), 'dist/mermaid.min.js');

const browser = await chromium.launch({ executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium' });
try {
  const page = await browser.newPage();
  await page.setContent('<!doctype html><html><body></body></html>');
  await page.addScriptTag({ path: mermaidScript });
  for (const file of readdirSync(join(docs, 'diagrams')).filter((name) => name.endsWith('.mmd'))) {
    const source = readFileSync(join(docs, 'diagrams', file), 'utf8');
    const svg = await page.evaluate(async (definition) => {
      const { mermaid } = globalThis;
      // Plain SVG text (no HTML labels), so the file renders the same as an <img> anywhere.
      mermaid.initialize({ startOnLoad: false, theme: 'neutral', htmlLabels: false, flowchart: { htmlLabels: false }, securityLevel: 'strict' });
      return (await mermaid.render('diagram', definition)).svg;
    }, source);
    const target = join(docs, 'public', file.replace(/\.mmd$/, '.svg'));
    writeFileSync(target, `${svg}\n`);
    console.log(`rendered ${file} → ${target}`);
  }
} finally {
  await browser.close();
}
