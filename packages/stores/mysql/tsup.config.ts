import { defineConfig } from 'tsup';

// The SQL kit is a private workspace package: its code and its types are bundled into this package's dist,
// so the published package installs standalone.
export default defineConfig({
  entry: ['src/index.ts'],
  format: ['esm'],
  dts: { resolve: ['@keyward/sql-kit'] },
  noExternal: ['@keyward/sql-kit'],
  clean: true,
  target: 'node20',
  sourcemap: true,
});
