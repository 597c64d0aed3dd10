// `pnpm start`: the Worker under Miniflare at http://127.0.0.1:8787 (PORT), D1 kept in .wrangler/state.
import { bundleWorker, startLocal } from './local.js';

const port = Number(process.env.PORT || 8787);
const vars: Record<string, string> = {};
for (const name of ['OAUTH_DEV_LOGIN', 'OAUTH_DEMO_PASSWORD', 'OAUTH_REDIRECT_URIS']) if (process.env[name]) vars[name] = process.env[name]!;
if (!vars.OAUTH_DEV_LOGIN && !vars.OAUTH_DEMO_PASSWORD) vars.OAUTH_DEV_LOGIN = 'demo';

await bundleWorker();
const { miniflare, url } = await startLocal({ port, vars, persist: true });
console.log(`Keyward example MCP server on Cloudflare Workers (Miniflare, local D1)
  MCP endpoint:  ${url}/mcp
  OAuth issuer:  ${url}
  sign-in:       ${vars.OAUTH_DEV_LOGIN ? `OAUTH_DEV_LOGIN=${vars.OAUTH_DEV_LOGIN}: every authorization is approved as "${vars.OAUTH_DEV_LOGIN}" (development only)` : 'the login page, user "demo" with OAUTH_DEMO_PASSWORD'}`);

const stop = () => void miniflare.dispose().then(() => process.exit(0));
process.once('SIGINT', stop);
process.once('SIGTERM', stop);
