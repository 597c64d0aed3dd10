import { testHTTPConformance } from '@keyward/core/testing';

// The reference run: the same suite every adapter runs, straight against server.fetch.
testHTTPConformance({
  name: 'core server.fetch',
  start: async (server) => ({ fetch: (path, init) => server.request(path, init) }),
});
