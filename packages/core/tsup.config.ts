import { defineConfig } from 'tsup';

export default defineConfig({
  // Named entries keep the published file layout flat (dist/memory-store.js, dist/proxy.js) whatever the source
  // folders are.
  entry: {
    index: 'src/index.ts',
    'memory-store': 'src/store/memory-store.ts',
    proxy: 'src/protocol/proxy.ts',
    'node/index': 'src/node/index.ts',
    'testing/index': 'src/testing/index.ts',
  },
  format: ['esm'],
  dts: true,
  clean: true,
  target: 'node20',
  sourcemap: true,
  external: ['vitest'],
});
