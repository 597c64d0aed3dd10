import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll } from 'vitest';
import { describeThrottleBursts } from '../../../core/test/throttle/bursts.js';
import { SQLiteStore } from '../src/index.js';

// A file in WAL mode, as in production: the counters' atomicity is what the bursts test.
const directory = mkdtempSync(join(tmpdir(), 'keyward-sqlite-throttle-'));
let files = 0;
afterAll(() => rmSync(directory, { recursive: true, force: true }));

describeThrottleBursts({
  name: 'sqlite (WAL file)',
  create: (clock) => new SQLiteStore({ filename: join(directory, `throttle-${++files}.db`), clock }),
  cleanup: (store) => store.close?.(),
});
