#!/usr/bin/env node
// What a user gets from npm: packs every public package with pnpm (as `changeset publish` will), checks what
// the tarballs hold, installs them with plain npm into scratch projects outside the workspace (one ESM, one
// CommonJS), compiles every TypeScript block of the shipped READMEs there (strict, skipLibCheck off), then
// starts the Express, Fastify and Hono servers of those READMEs and checks discovery and the 401 challenge
// over HTTP. Any failure exits 1. Needs the packages built (`pnpm build`) and the npm registry.
//
// Usage: node .ci/pack-smoke.mjs [--keep]   (--keep leaves the scratch folder for a look)
import { execFileSync, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const PACKAGES = ['core', 'express', 'fastify', 'hono', 'upstream', 'stores/sqlite', 'stores/postgres', 'stores/mysql', 'stores/redis'];
/** What the READMEs tell users to install beside Keyward, at the versions a new project gets today. */
const REGISTRY_DEPENDENCIES = ['express@^5', 'fastify@^5', 'hono@^4', '@hono/node-server@^1', 'vitest@^4'];
const REGISTRY_DEV_DEPENDENCIES = ['typescript@~5.9.3', '@types/node@^20.19', '@types/express@^5'];
const SERVERS = { express: '@keyward/express', fastify: '@keyward/fastify', hono: '@keyward/hono' };

const started = Date.now();
const failures = [];
const fail = (message) => {
  failures.push(message);
  console.error(`FAIL ${message}`);
};
const step = (message) => console.log(`\n== ${message} (${((Date.now() - started) / 1000).toFixed(0)} s)`);
const run = (command, args, cwd, options = {}) =>
  execFileSync(command, args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 64 << 20, ...options });

const scratch = mkdtempSync(join(tmpdir(), 'keyward-pack-smoke-'));
const tarballs = join(scratch, 'tarballs');
mkdirSync(tarballs);

try {
  step('pack');
  for (const dir of PACKAGES) {
    if (!existsSync(join(root, 'packages', dir, 'dist', 'index.js'))) throw new Error(`packages/${dir} is not built: run pnpm build first`);
  }
  // One pnpm run packs them all; pnpm applies publishConfig and rewrites workspace: ranges, as publishing does.
  const filters = PACKAGES.flatMap((dir) => ['--filter', `./packages/${dir}`]);
  run('npx', ['-y', 'pnpm@10', '-r', ...filters, 'pack', '--pack-destination', tarballs], root);
  const files = readdirSync(tarballs).filter((name) => name.endsWith('.tgz')).sort();
  if (files.length !== PACKAGES.length) throw new Error(`expected ${PACKAGES.length} tarballs, got ${files.join(', ')}`);

  step('inspect the tarballs');
  for (const file of files) {
    const tarball = join(tarballs, file);
    const entries = run('tar', ['-tzf', tarball], scratch).trim().split('\n');
    const manifest = JSON.parse(run('tar', ['-xzOf', tarball, 'package/package.json'], scratch));
    const size = readFileSync(tarball).length;
    console.log(`${file}: ${entries.length} files, ${(size / 1024).toFixed(1)} KiB packed`);
    const check = (ok, message) => ok || fail(`${file}: ${message}`);
    check(!entries.some((entry) => entry.startsWith('package/src/')), 'ships src/');
    check(!JSON.stringify(manifest.exports).includes('src/') && !JSON.stringify(manifest).includes('@keyward/source'), 'the published package.json still points at src/');
    check(!JSON.stringify(manifest).includes('workspace:'), 'a workspace: range was not rewritten');
    for (const required of ['package/LICENSE', 'package/README.md', 'package/CHANGELOG.md', 'package/dist/index.js', 'package/dist/index.d.ts', 'package/dist/index.js.map']) {
      check(entries.includes(required), `lacks ${required.slice('package/'.length)}`);
    }
    check(manifest.license === 'MIT' && manifest.repository?.directory && manifest.homepage && manifest.bugs?.url, 'incomplete metadata (license, repository.directory, homepage, bugs)');
    const corePeer = manifest.peerDependencies?.['@keyward/core'];
    if (manifest.name !== '@keyward/core') check(corePeer === '>=0.1.0 <1.0.0', `peer range on @keyward/core is ${corePeer}`);
  }

  step('install the tarballs with npm, outside the workspace');
  const app = join(scratch, 'app');
  mkdirSync(app);
  writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'keyward-smoke', version: '1.0.0', private: true }, null, 2));
  const npmFlags = ['--no-audit', '--no-fund', '--loglevel=error', '--ignore-scripts'];
  // --ignore-scripts: better-sqlite3 would compile its native module (minutes); the SQLite store's own tests
  // cover that. Everything here is types and the in-memory store.
  run('npm', ['install', ...npmFlags, ...files.map((file) => join(tarballs, file)), ...REGISTRY_DEPENDENCIES], app, { timeout: 600_000 });
  run('npm', ['install', '--save-dev', ...npmFlags, ...REGISTRY_DEV_DEPENDENCIES], app, { timeout: 600_000 });

  // Every TypeScript block of every shipped README, taken from the installed package.
  const snippets = [];
  for (const dir of readdirSync(join(app, 'node_modules/@keyward'))) {
    const readme = readFileSync(join(app, 'node_modules/@keyward', dir, 'README.md'), 'utf8');
    let n = 0;
    for (const match of readme.matchAll(/^```(?:ts|typescript)\n([\s\S]*?)^```$/gm)) {
      n++;
      const isModule = /^\s*(import|export)\b/m.test(match[1]);
      snippets.push({ name: `${dir}-${n}`, code: isModule ? match[1] : `${match[1]}export {};\n` });
    }
  }
  console.log(`${snippets.length} README code blocks`);

  for (const kind of ['esm', 'cjs']) {
    step(`compile the README code blocks in a${kind === 'esm' ? 'n ESM' : ' CommonJS'} project`);
    const project = join(app, kind);
    mkdirSync(join(project, 'src'), { recursive: true });
    writeFileSync(join(project, 'package.json'), JSON.stringify({ name: `keyward-smoke-${kind}`, private: true, type: kind === 'esm' ? 'module' : 'commonjs' }, null, 2));
    writeFileSync(
      join(project, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: { target: 'ES2022', module: 'nodenext', moduleResolution: 'nodenext', strict: true, skipLibCheck: false, outDir: 'dist', rootDir: 'src', types: ['node'], lib: ['ES2022', 'DOM'] },
        include: ['src'],
      }),
    );
    for (const { name, code } of snippets) writeFileSync(join(project, 'src', `${name}.ts`), code);
    try {
      run(process.execPath, [join(app, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.json', '--pretty', 'false'], project);
      console.log(`${kind}: tsc passed (${snippets.length} files)`);
    } catch (error) {
      fail(`${kind}: tsc failed\n${error.stdout}${error.stderr}`);
      continue;
    }
    const emitted = readFileSync(join(project, 'dist', 'express-1.js'), 'utf8');
    if (kind === 'cjs' && !emitted.includes('require("@keyward/express")')) fail('cjs: the Express server was not emitted as CommonJS');

    step(`start the README servers (${kind})`);
    const hash = run(process.execPath, ['--input-type=module', '-e', "import('@keyward/upstream').then(async (m) => process.stdout.write(await m.hashPassword('smoke-test')))"], app);
    for (const [framework, pkg] of Object.entries(SERVERS)) {
      const entry = join(project, 'dist', `${pkg.split('/')[1]}-1.js`);
      await checkServer(`${kind} ${framework}`, entry, { DEMO_PASSWORD_HASH: hash });
    }
  }
} catch (error) {
  fail(error instanceof Error ? `${error.message}${error.stderr ? `\n${error.stderr}` : ''}` : String(error));
} finally {
  if (process.argv.includes('--keep')) console.log(`scratch folder kept: ${scratch}`);
  else rmSync(scratch, { recursive: true, force: true });
}

const seconds = ((Date.now() - started) / 1000).toFixed(0);
if (failures.length) {
  console.error(`\npack-smoke: ${failures.length} failure(s) in ${seconds} s`);
  process.exit(1);
}
console.log(`\npack-smoke: every tarball installs, compiles (ESM and CommonJS) and serves, in ${seconds} s`);

/** A free port on 127.0.0.1, for one server. */
function freePort() {
  return new Promise((resolve, reject) => {
    const probe = createServer().listen(0, '127.0.0.1', () => {
      const { port } = probe.address();
      probe.close(() => resolve(port));
    });
    probe.on('error', reject);
  });
}

/** Starts one compiled README server and checks what an MCP client sees first: discovery and the challenge. */
async function checkServer(label, entry, env) {
  const port = await freePort();
  const issuer = `http://localhost:${port}`;
  const child = spawn(process.execPath, [entry], { env: { ...process.env, ...env, PORT: String(port) }, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (chunk) => (output += chunk));
  child.stderr.on('data', (chunk) => (output += chunk));
  const exited = new Promise((resolve) => child.on('exit', (code) => resolve(code)));
  try {
    const base = `http://127.0.0.1:${port}`;
    let metadata;
    for (let attempt = 0; ; attempt++) {
      const early = await Promise.race([exited, new Promise((resolve) => setTimeout(() => resolve('running'), 100))]);
      if (early !== 'running') throw new Error(`exited with ${early} before serving:\n${output}`);
      try {
        metadata = await fetch(`${base}/.well-known/oauth-authorization-server`);
        break;
      } catch (error) {
        if (attempt > 100) throw new Error(`did not answer on ${base} within 10 s:\n${output}`, { cause: error });
      }
    }
    const document = await metadata.json();
    if (metadata.status !== 200 || document.issuer !== issuer || !document.token_endpoint) throw new Error(`discovery answered ${metadata.status} ${JSON.stringify(document)}`);
    const challenge = await fetch(`${base}/mcp`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"jsonrpc":"2.0","id":1,"method":"tools/list"}' });
    const header = challenge.headers.get('www-authenticate') ?? '';
    const resourceMetadata = `${issuer}/.well-known/oauth-protected-resource/mcp`;
    if (challenge.status !== 401 || !header.startsWith('Bearer ') || !header.includes(`resource_metadata="${resourceMetadata}"`)) {
      throw new Error(`POST /mcp without a token answered ${challenge.status}, WWW-Authenticate: ${header}`);
    }
    const resource = await fetch(`${base}/.well-known/oauth-protected-resource/mcp`);
    const resourceDocument = await resource.json();
    if (resource.status !== 200 || resourceDocument.resource !== `${issuer}/mcp` || !resourceDocument.authorization_servers?.includes(issuer)) {
      throw new Error(`protected-resource metadata answered ${resource.status} ${JSON.stringify(resourceDocument)}`);
    }
    console.log(`${label}: discovery 200, POST /mcp 401 with resource_metadata, protected-resource metadata 200`);
  } catch (error) {
    fail(`${label}: ${error.message}`);
  } finally {
    child.kill('SIGTERM');
    await exited;
  }
}
