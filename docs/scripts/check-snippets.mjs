#!/usr/bin/env node
// Type-checks every TypeScript code block of the guides and READMEs against the built packages (dist/*.d.ts,
// never src/), as a user's project would see them: each block is its own ES module, strict, skipLibCheck off.
// A block that is not a whole program declares what it leaves out (`declare const app: …`), so readers see it too.
// A block after `<!-- snippet: separate -->` is type-checked in a program of its own (code that must not meet
// the others, such as the MCP SDK's auth middleware, whose Express typings clash with Keyward's).
// Usage: node docs/scripts/check-snippets.mjs   (after `pnpm build`); exits 1 on any error.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const docs = join(dirname(fileURLToPath(import.meta.url)), '..');
const root = join(docs, '..');
const out = join(docs, '.snippets');

const sources = [
  'README.md',
  ...['packages', 'packages/stores'].flatMap((dir) =>
    readdirSync(join(root, dir), { withFileTypes: true })
      .filter((entry) => entry.isDirectory() && existsSync(join(root, dir, entry.name, 'README.md')))
      .map((entry) => `${dir}/${entry.name}/README.md`),
  ),
  ...readdirSync(join(docs, 'guide')).filter((name) => name.endsWith('.md')).map((name) => `docs/guide/${name}`),
  'docs/stores.md',
  'CONTRIBUTING.md',
].filter((file) => existsSync(join(root, file)));

rmSync(out, { recursive: true, force: true });
mkdirSync(out, { recursive: true });
/** snippet file → where it came from */
const origin = new Map();
let count = 0;
for (const source of sources) {
  const lines = readFileSync(join(root, source), 'utf8').split('\n');
  for (let i = 0; i < lines.length; i++) {
    const fence = /^(\s*)```(ts|typescript)\b/.exec(lines[i]);
    if (!fence) continue;
    const start = i + 1;
    let end = start;
    while (end < lines.length && !/^\s*```\s*$/.test(lines[end])) end++;
    const body = lines.slice(start, end).map((line) => line.slice(fence[1].length));
    i = end;
    let previous = start - 2;
    while (previous >= 0 && lines[previous].trim() === '') previous--;
    const separate = previous >= 0 && lines[previous].trim() === '<!-- snippet: separate -->';
    const name = `${separate ? 'separate-' : ''}${source.replace(/[^a-z0-9]+/gi, '-')}-${start + 1}.ts`;
    // A block without import or export would be a script sharing one global scope with the others.
    const isModule = body.some((line) => /^\s*(import|export)\b/.test(line));
    writeFileSync(join(out, name), [...body, ...(isModule ? [] : ['export {};'])].join('\n') + '\n');
    origin.set(name, { source, line: start + 1 });
    count++;
  }
}

const compilerOptions = {
  target: 'ES2022',
  lib: ['ES2022', 'DOM', 'DOM.Iterable'],
  module: 'NodeNext',
  moduleResolution: 'NodeNext',
  strict: true,
  skipLibCheck: false,
  noEmit: true,
  types: ['node'],
  // Unused names are fine in a sample; what matters is that every name exists and every call type-checks.
  noUnusedLocals: false,
};
const separate = [...origin.keys()].filter((name) => name.startsWith('separate-'));
const programs = [
  { config: 'tsconfig.json', files: [...origin.keys()].filter((name) => !name.startsWith('separate-')) },
  ...separate.map((name) => ({ config: `tsconfig.${name}.json`, files: [name] })),
];
for (const { config, files } of programs) writeFileSync(join(out, config), JSON.stringify({ compilerOptions, files }, null, 2));

const tsc = join(root, 'node_modules/typescript/bin/tsc');
let failed = false;
for (const { config } of programs) {
  try {
    execFileSync(process.execPath, [tsc, '-p', join(out, config), '--pretty', 'false'], { cwd: out, encoding: 'utf8', stdio: 'pipe' });
  } catch (error) {
    failed = true;
    const output = `${error.stdout ?? ''}${error.stderr ?? ''}`;
    for (const line of output.split('\n')) {
      const match = /^(\S+?\.ts)\((\d+),(\d+)\): (.*)$/.exec(line);
      const from = match && origin.get(match[1].split('/').pop());
      console.error(from ? `${from.source}:${from.line + Number(match[2]) - 1}:${match[3]} ${match[4]}` : line);
    }
  }
}
if (failed) {
  console.error(`snippets: type errors in the code blocks above (the files are in ${relative(process.cwd(), out)})`);
  process.exit(1);
}
console.log(`snippets: ${count} TypeScript blocks from ${sources.length} files type-check against the built packages`);
