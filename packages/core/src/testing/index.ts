export { testStore, type TestStoreOptions } from './store-suite.js';
export {
  testHTTPConformance,
  conformanceServerOptions,
  CONFORMANCE_ISSUER,
  type TestHTTPConformanceOptions,
  type ConformanceFetch,
} from './http-suite.js';
