import { defineConfig } from 'tsup';

export default defineConfig({
  entry: ['src/index.ts', 'src/memory-store.ts', 'src/proxy.ts', 'src/testing/index.ts'],
  format: ['esm'],
  dts: true,
  clean: true,
  target: 'node20',
  sourcemap: true,
  external: ['vitest'],
});
