/**
 * Every public export carries JSDoc, and every exported function, class and constant an `@example`: the
 * docs site is generated from it, so an undocumented export is a hole in the documentation.
 */
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const require = createRequire(import.meta.url);
const ts = require('typescript') as typeof import('typescript');
const root = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');

const ENTRY_POINTS = [
  'packages/core/src/index.ts',
  'packages/core/src/store/memory-store.ts',
  'packages/core/src/testing/index.ts',
  'packages/express/src/index.ts',
  'packages/fastify/src/index.ts',
  'packages/hono/src/index.ts',
  'packages/upstream/src/index.ts',
  'packages/stores/sqlite/src/index.ts',
  'packages/stores/postgres/src/index.ts',
  'packages/stores/redis/src/index.ts',
];

interface Finding {
  name: string;
  problem: string;
}

function auditEntryPoint(entry: string): Finding[] {
  const program = ts.createProgram([join(root, entry)], {
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
    target: ts.ScriptTarget.ES2022,
    customConditions: ['@keyward/source'],
    allowJs: false,
    noEmit: true,
    skipLibCheck: true,
  });
  const checker = program.getTypeChecker();
  const source = program.getSourceFile(join(root, entry));
  if (!source) throw new Error(`cannot read ${entry}`);
  const moduleSymbol = checker.getSymbolAtLocation(source);
  if (!moduleSymbol) return [];
  const findings: Finding[] = [];
  for (const exported of checker.getExportsOfModule(moduleSymbol)) {
    const symbol = exported.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(exported) : exported;
    const declaration = symbol.declarations?.[0];
    if (!declaration || declaration.getSourceFile().fileName.includes('node_modules')) continue;
    const docs = ts.getJSDocCommentsAndTags(declaration).length
      ? ts.getJSDocCommentsAndTags(declaration)
      : ts.isVariableDeclaration(declaration)
        ? ts.getJSDocCommentsAndTags(declaration.parent.parent)
        : [];
    const text = docs.map((doc) => doc.getText()).join('\n');
    if (!text.trim()) {
      findings.push({ name: exported.name, problem: 'no JSDoc' });
      continue;
    }
    const needsExample = ts.isFunctionDeclaration(declaration) || ts.isClassDeclaration(declaration) || ts.isVariableDeclaration(declaration);
    if (needsExample && !text.includes('@example')) findings.push({ name: exported.name, problem: 'no @example' });
  }
  return findings;
}

describe('public API documentation', () => {
  for (const entry of ENTRY_POINTS) {
    it(`every export of ${entry} has JSDoc, and functions, classes and constants an @example`, () => {
      const findings = auditEntryPoint(entry).map((finding) => `${finding.name}: ${finding.problem}`);
      expect(findings).toEqual([]);
    });
  }
});
