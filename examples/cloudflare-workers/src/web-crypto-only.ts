// TODO(core): remove this module once Keyward core no longer reaches for node:crypto on workerd.
//
// Core signs tokens with node:crypto wherever `process.getBuiltinModule` exists, and under `nodejs_compat`
// workerd has it, but workerd's node:crypto `sign()` refuses the KeyObject core passes (the token endpoint
// then answers server_error). Hiding it makes core take its Web Crypto path (jose), as on any Web runtime.
// Imported first by worker.ts, so it runs before core's modules are evaluated.
const runtime = (globalThis as { process?: { getBuiltinModule?: unknown } }).process;
if (runtime?.getBuiltinModule) runtime.getBuiltinModule = undefined;

export {};
