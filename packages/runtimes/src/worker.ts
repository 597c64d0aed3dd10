/**
 * The entry for workerd: a Worker whose `fetch` runs the suites inside a request (workerd allows no random
 * numbers or timers at module scope) and answers with the report as plain text.
 *
 * @module
 */
import { runtimeName } from './suites.js';
import { formatSummary, run } from './runner.js';

export default {
  async fetch(): Promise<Response> {
    return new Response(formatSummary(await run(runtimeName())));
  },
};
