import { defineConfig } from 'tsup';

export default defineConfig({
  // Named entries keep the published file layout flat (dist/memory-store.js, dist/proxy.js) whatever the source
  // folders are.
  entry: {
    index: 'src/index.ts',
    protocol: 'src/protocol/index.ts',
    'memory-store': 'src/store/memory-store.ts',
    node: 'src/node/index.ts',
    proxy: 'src/protocol/proxy.ts',
    'testing/index': 'src/testing/index.ts',
  },
  format: ['esm'],
  dts: true,
  clean: true,
  target: 'node20',
  sourcemap: true,
  external: ['vitest'],
});
