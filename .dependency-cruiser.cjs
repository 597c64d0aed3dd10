/**
 * Keyward core's layer rules (docs/architecture.md). Run with `pnpm lint:boundaries`.
 *
 * Layers, lowest first; a module may import its own layer and the layers below it, never above:
 *   protocol < store < operations < resource-server < login < server
 * src/node holds Node-only glue: it may import anything; outside it only src/node, src/testing, the
 * barrel src/index.ts and the server's default-fetch chooser may import it.
 */
const CORE = '^packages/core/src/';
const LAYERS = ['protocol', 'store', 'operations', 'resource-server', 'login', 'server'];

const layerRules = LAYERS.map((layer, index) => ({
  name: `layer-${layer}`,
  comment: `${layer} may import only ${LAYERS.slice(0, index + 1).join(', ')} (docs/architecture.md)`,
  severity: 'error',
  from: { path: `${CORE}${layer}/` },
  to: { path: `${CORE}(${[...LAYERS.slice(index + 1), 'testing', 'node'].join('|')})/` },
}));

module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      comment: 'no import cycle anywhere in core, type-only imports included',
      severity: 'error',
      from: { path: CORE },
      to: { circular: true },
    },
    // The one exception to "nothing imports src/node": the server picks its default outbound fetch there.
    ...layerRules.map((rule) =>
      rule.name === 'layer-server' ? { ...rule, from: { ...rule.from, pathNot: `${CORE}server/outbound-fetch\\.ts$` } } : rule,
    ),
    {
      name: 'server-default-fetch-only',
      comment: 'server/outbound-fetch.ts may import src/node and nothing above server',
      severity: 'error',
      from: { path: `${CORE}server/outbound-fetch\\.ts$` },
      to: { path: `${CORE}testing/` },
    },
    {
      name: 'no-node-builtins-in-web-layers',
      comment: 'only src/node and src/testing may import node: built-ins as values',
      severity: 'error',
      from: { path: CORE, pathNot: `${CORE}(node|testing)/` },
      to: { dependencyTypes: ['core'], dependencyTypesNot: ['type-only', 'type-import'] },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '\\.test\\.ts$' },
    tsPreCompilationDeps: true,
    // No tsConfig: the sources import each other by relative paths, which need no compiler options.
    enhancedResolveOptions: { extensions: ['.ts', '.js'], conditionNames: ['@keyward/source', 'import', 'default'] },
  },
};
