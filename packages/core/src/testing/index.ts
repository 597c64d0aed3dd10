export { testStore, type TestStoreOptions } from './store-suite.js';
