// The propagation bound measured in real time (about 40 s: twenty revocations wait out the 2 s poll
// interval). The other multi-instance properties, on an injected clock, are in multi-instance.test.ts. A
// *.heavy.test.ts file runs in the full suite (the `heavy` project), not in `pnpm test:fast`.
import { writeFileSync } from 'node:fs';
import { AuthorizationServer } from '@keyward/core';
import { describe, expect, it } from 'vitest';
import { instance as instanceOf, measurePropagation, summary, withoutPush } from '../../test-support/multi-instance.js';
import { sharedSchema } from './shared-schema.js';

const { skip, store } = await sharedSchema();

describe.skipIf(skip)('several instances on one PostgreSQL, measured in real time', () => {
  it('MULTI-03 measures the propagation bound in real time, polling and push', async () => {
    const polling = summary(await measurePropagation(instanceOf(AuthorizationServer, withoutPush(store()), Date.now), instanceOf(AuthorizationServer, withoutPush(store()), Date.now), 20, 3_000));
    const push = summary(await measurePropagation(instanceOf(AuthorizationServer, store(), Date.now), instanceOf(AuthorizationServer, store(), Date.now), 50, 1_000));
    if (process.env.KEYWARD_MULTI_REPORT) writeFileSync(process.env.KEYWARD_MULTI_REPORT, JSON.stringify({ store: 'postgres', polling, push }));
    expect(polling.max).toBeLessThanOrEqual(2_500);
    expect(push.max).toBeLessThan(1_000);
  }, 90_000);
});
