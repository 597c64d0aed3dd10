/**
 * Sign-in with the identity providers whose browser SDK signs the user in and hands over a token: Firebase
 * (FIREBASE_PROJECT_ID or FIREBASE_SERVICE_ACCOUNT_KEY, plus FIREBASE_API_KEY for the web SDK), Clerk
 * (CLERK_PUBLISHABLE_KEY, and CLERK_SECRET_KEY for the user's profile) and Supabase (SUPABASE_URL and
 * SUPABASE_ANON_KEY). Each gets a button on Keyward's login page leading to a page of this example,
 * `/login/<provider>`, which loads the vendor's SDK, signs in, and posts the token to Keyward's token login
 * endpoint (`/oauth/login/token`) with the pending request and its CSRF token. Keyward verifies the token
 * (signature against the vendor's published keys, issuer, audience, expiry) before anyone is signed in.
 */
import { randomBytes } from 'node:crypto';
import { defaultLoginPages, KeywardConfigError, type LoginPageRenderer, type TokenLoginProvider } from '@keyward/core';
import { escapeHTML } from '@keyward/core/protocol';
import { clerkProviderFromEnv, firebaseProviderFromEnv, supabaseProviderFromEnv } from '@keyward/upstream';
import { ConfigError } from './ops.js';

/** A provider's page: where its SDK comes from (for the page's CSP) and the script that signs in. */
export interface TokenSignInPage {
  id: string;
  displayName: string;
  /** Script tags of the vendor's SDK. */
  sdk: string;
  /** Data the page script reads (public values only: API keys of web SDKs are public by design). */
  config: Record<string, string>;
  /** Markup of the sign-in controls. */
  controls: string;
  /** The page script: signs in with the SDK, then calls `finish(token)`. */
  script: string;
  csp: { script: string[]; connect: string[]; frame: string[]; img: string[] };
}

/** The token providers configured from the environment, with their pages. */
export interface TokenSignIn {
  providers: TokenLoginProvider[];
  pages: TokenSignInPage[];
}

function value(env: NodeJS.ProcessEnv, name: string): string | undefined {
  return env[name] === '' ? undefined : env[name];
}

/** Turns a configuration error of @keyward/upstream into the example's one-line form. */
function rethrow(error: unknown, variable: string, what: string): never {
  if (error instanceof KeywardConfigError) throw new ConfigError(`${variable} ${what}`);
  throw error;
}

function firebase(env: NodeJS.ProcessEnv): { provider: TokenLoginProvider; page: TokenSignInPage } | null {
  const projectIdVar = value(env, 'FIREBASE_PROJECT_ID');
  const serviceAccount = value(env, 'FIREBASE_SERVICE_ACCOUNT_KEY');
  const apiKey = value(env, 'FIREBASE_API_KEY');
  if (!projectIdVar && !serviceAccount) {
    if (apiKey || value(env, 'FIREBASE_AUTH_DOMAIN')) throw new ConfigError('FIREBASE_API_KEY is set but FIREBASE_PROJECT_ID (or FIREBASE_SERVICE_ACCOUNT_KEY) is not');
    return null;
  }
  const named = projectIdVar ? 'FIREBASE_PROJECT_ID' : 'FIREBASE_SERVICE_ACCOUNT_KEY';
  if (projectIdVar && !/^[a-z0-9][a-z0-9-]{1,61}$/.test(projectIdVar)) throw new ConfigError(`FIREBASE_PROJECT_ID "${projectIdVar}" is not a Firebase project id (lowercase letters, digits and hyphens)`);
  if (!apiKey) throw new ConfigError(`${named} is set but FIREBASE_API_KEY is not: the sign-in page's Firebase SDK needs the web API key (Firebase console → Project settings)`);
  let provider: TokenLoginProvider & { issuer: string };
  try {
    // FIREBASE_PROJECT_ID or FIREBASE_SERVICE_ACCOUNT_KEY, and FIREBASE_JWKS_URI, from this environment only.
    provider = firebaseProviderFromEnv({}, env);
  } catch (error) {
    rethrow(error, named, projectIdVar ? 'is not usable' : 'is neither service-account JSON nor a readable JSON file with a project_id');
  }
  const projectId = provider.issuer.slice('https://securetoken.google.com/'.length);
  const authDomain = value(env, 'FIREBASE_AUTH_DOMAIN') ?? `${projectId}.firebaseapp.com`;
  const sdkVersion = '10.14.1';
  return {
    provider,
    page: {
      id: provider.id,
      displayName: provider.displayName,
      sdk:
        `<script src="https://www.gstatic.com/firebasejs/${sdkVersion}/firebase-app-compat.js"></script>` +
        `<script src="https://www.gstatic.com/firebasejs/${sdkVersion}/firebase-auth-compat.js"></script>`,
      config: { apiKey, authDomain, projectId },
      controls:
        '<form id="password"><label for="email">Email</label><input type="text" id="email" autocomplete="username" required>' +
        '<label for="pw">Password</label><input type="password" id="pw" autocomplete="current-password" required>' +
        '<button type="submit">Sign in</button></form><p class="divider">or</p><button class="secondary" id="google" type="button">Sign in with Google</button>',
      script: `
firebase.initializeApp(config);
const auth = firebase.auth();
const done = (credential) => credential.user.getIdToken().then(finish);
document.getElementById('google').onclick = () => auth.signInWithPopup(new firebase.auth.GoogleAuthProvider()).then(done, fail);
document.getElementById('password').onsubmit = (event) => {
  event.preventDefault();
  auth.signInWithEmailAndPassword(document.getElementById('email').value, document.getElementById('pw').value).then(done, fail);
};`,
      csp: {
        script: ['https://www.gstatic.com', 'https://apis.google.com'],
        connect: ['https://identitytoolkit.googleapis.com', 'https://securetoken.googleapis.com'],
        frame: [`https://${authDomain}`],
        img: [],
      },
    },
  };
}

function clerk(env: NodeJS.ProcessEnv, issuerOrigin: string): { provider: TokenLoginProvider; page: TokenSignInPage } | null {
  const publishableKey = value(env, 'CLERK_PUBLISHABLE_KEY');
  const secretKey = value(env, 'CLERK_SECRET_KEY');
  if (!publishableKey && !secretKey) return null;
  if (!publishableKey) throw new ConfigError('CLERK_SECRET_KEY is set but CLERK_PUBLISHABLE_KEY is not: the sign-in page needs it (Clerk dashboard → API keys)');
  if (secretKey && !/^sk_(test|live)_\S+$/.test(secretKey)) throw new ConfigError('CLERK_SECRET_KEY is malformed: expected sk_test_… or sk_live_… (Clerk dashboard → API keys)');
  let provider: TokenLoginProvider & { issuer: string };
  try {
    // CLERK_PUBLISHABLE_KEY, and CLERK_SECRET_KEY for the user's name and email (fetchUserDetails).
    // A session token names the page that asked for it (azp): only this server's own sign-in page counts.
    provider = clerkProviderFromEnv({ authorizedParties: [issuerOrigin] }, env);
  } catch (error) {
    rethrow(error, 'CLERK_PUBLISHABLE_KEY', 'is malformed: expected pk_test_… or pk_live_… (Clerk dashboard → API keys)');
  }
  const frontendApi = provider.issuer;
  return {
    provider,
    page: {
      id: provider.id,
      displayName: provider.displayName,
      sdk: `<script crossorigin="anonymous" data-clerk-publishable-key="${escapeHTML(publishableKey)}" src="${escapeHTML(frontendApi)}/npm/@clerk/clerk-js@5/dist/clerk.browser.js"></script>`,
      config: {},
      controls: '<div id="clerk-sign-in"></div>',
      script: `
window.addEventListener('load', async () => {
  try {
    await Clerk.load();
    const send = () => Clerk.session.getToken().then(finish, fail);
    if (Clerk.session) return send();
    Clerk.addListener(({ session }) => session && send());
    Clerk.mountSignIn(document.getElementById('clerk-sign-in'));
  } catch (error) { fail(error); }
});`,
      csp: {
        script: [frontendApi, 'https://challenges.cloudflare.com'],
        connect: [frontendApi],
        frame: ['https://challenges.cloudflare.com'],
        img: ['https://img.clerk.com'],
      },
    },
  };
}

function supabase(env: NodeJS.ProcessEnv): { provider: TokenLoginProvider; page: TokenSignInPage } | null {
  const url = value(env, 'SUPABASE_URL');
  const anonKey = value(env, 'SUPABASE_ANON_KEY');
  if (!url) {
    if (anonKey || value(env, 'SUPABASE_JWT_SECRET')) throw new ConfigError(`${anonKey ? 'SUPABASE_ANON_KEY' : 'SUPABASE_JWT_SECRET'} is set but SUPABASE_URL is not`);
    return null;
  }
  if (!/^https?:\/\//.test(url) || !URL.canParse(url)) throw new ConfigError(`SUPABASE_URL must be the project URL, e.g. https://abcd.supabase.co, got "${url}"`);
  if (!anonKey) throw new ConfigError('SUPABASE_URL is set but SUPABASE_ANON_KEY is not: the sign-in page needs the anon (publishable) key (Supabase dashboard → Project settings → API)');
  let provider: TokenLoginProvider & { issuer: string };
  try {
    // SUPABASE_URL, and SUPABASE_JWT_SECRET for projects still signing with HS256.
    provider = supabaseProviderFromEnv({}, env);
  } catch (error) {
    rethrow(error, 'SUPABASE_URL', 'is not usable as the project URL');
  }
  const origin = new URL(url).origin;
  return {
    provider,
    page: {
      id: provider.id,
      displayName: provider.displayName,
      sdk: '<script src="https://cdn.jsdelivr.net/npm/@supabase/supabase-js@2"></script>',
      config: { url: url.replace(/\/+$/, ''), anonKey },
      controls:
        '<form id="password"><label for="email">Email</label><input type="text" id="email" autocomplete="username" required>' +
        '<label for="pw">Password</label><input type="password" id="pw" autocomplete="current-password" required>' +
        '<button type="submit">Sign in</button></form>',
      script: `
const client = supabase.createClient(config.url, config.anonKey, { auth: { persistSession: false } });
document.getElementById('password').onsubmit = async (event) => {
  event.preventDefault();
  const { data, error } = await client.auth.signInWithPassword({ email: document.getElementById('email').value, password: document.getElementById('pw').value });
  if (error) return fail(error);
  finish(data.session.access_token);
};`,
      csp: { script: ['https://cdn.jsdelivr.net'], connect: [origin], frame: [], img: [] },
    },
  };
}

/**
 * The token providers of the environment. A variable that is set but cannot work (a missing companion, a
 * malformed key, an unreadable service-account file) stops the start with a ConfigError naming it.
 */
export function tokenSignIn(env: NodeJS.ProcessEnv, issuer: string): TokenSignIn {
  const configured = [firebase(env), clerk(env, new URL(issuer).origin), supabase(env)].filter((entry) => entry !== null);
  return { providers: configured.map((entry) => entry.provider), pages: configured.map((entry) => entry.page) };
}

/**
 * Keyward's login page with a button per token provider below its own form. The button carries the pending
 * request and the page's CSRF token to `/login/<provider>`, which hands both back with the token.
 */
export function loginPagesWith(pages: TokenSignInPage[], base: string): LoginPageRenderer {
  return {
    loginPage: (model) => {
      const html = defaultLoginPages.loginPage(model);
      const buttons = pages
        .map(
          (page) =>
            `<form method="get" action="${escapeHTML(`${base}/login/${page.id}`)}">` +
            `<input type="hidden" name="interaction" value="${escapeHTML(model.interactionId)}"><input type="hidden" name="csrf" value="${escapeHTML(model.csrfToken)}">` +
            `<button class="secondary" type="submit">Sign in with ${escapeHTML(page.displayName)}</button></form>`,
        )
        .join('');
      return html.replace('</main>', `<p class="divider">or</p>${buttons}</main>`);
    },
    consentPage: (model) => defaultLoginPages.consentPage(model),
  };
}

/** The `/login/<provider>` page: its HTML and the headers it needs (a CSP naming the vendor's origins). */
export function signInPage(page: TokenSignInPage, base: string, query: { interaction?: unknown; csrf?: unknown }): { html: string; headers: Record<string, string> } {
  const field = (name: string, raw: unknown) => `<input type="hidden" name="${name}" value="${escapeHTML(typeof raw === 'string' ? raw : '')}">`;
  const nonce = randomBytes(16).toString('base64');
  // The config travels as JSON in a data block: values are never spliced into script text.
  const config = JSON.stringify(page.config).replace(/</g, '\\u003c');
  const html =
    `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">` +
    `<title>Sign in with ${escapeHTML(page.displayName)}</title><style>body{font:16px/1.5 system-ui,sans-serif;display:grid;place-items:center;min-height:100vh;margin:0;background:#f4f5f7}` +
    `main{background:#fff;border-radius:12px;padding:2rem;width:min(26rem,90vw)}label{display:block;font-weight:600;margin:.75rem 0 .25rem}input{width:100%;box-sizing:border-box;padding:.6rem}` +
    `button{width:100%;margin-top:1rem;padding:.65rem}.error{color:#8a1c1c}.divider{text-align:center}</style>${page.sdk}</head><body><main>` +
    `<h1>Sign in with ${escapeHTML(page.displayName)}</h1>${page.controls}<p class="error" id="error" role="alert"></p>` +
    `<form id="keyward" method="post" action="${escapeHTML(`${base}/oauth/login/token`)}">` +
    `${field('interaction', query.interaction)}${field('csrf', query.csrf)}${field('provider', page.id)}<input type="hidden" name="token" value=""></form>` +
    `<script type="application/json" id="config">${config}</script>` +
    `<script nonce="${nonce}">
const config = JSON.parse(document.getElementById('config').textContent);
const form = document.getElementById('keyward');
const finish = (token) => { form.elements.token.value = token; form.submit(); };
const fail = (error) => { document.getElementById('error').textContent = 'Sign-in failed: ' + (error && error.message ? error.message : 'try again'); };
${page.script}
</script></main></body></html>`;
  const list = (sources: string[]) => sources.join(' ');
  const csp = [
    "default-src 'none'",
    `script-src 'nonce-${nonce}' ${list(page.csp.script)}`,
    `connect-src ${list(page.csp.connect)}`.trim(),
    `frame-src ${list(page.csp.frame)}`.trim(),
    `img-src 'self' data: ${list(page.csp.img)}`.trim(),
    "style-src 'unsafe-inline'",
    "worker-src 'self' blob:",
    `form-action ${new URL(base).origin}`,
    "frame-ancestors 'none'",
    "base-uri 'none'",
  ].join('; ');
  return {
    html,
    headers: {
      'content-type': 'text/html; charset=utf-8',
      'content-security-policy': csp,
      'x-frame-options': 'DENY',
      'referrer-policy': 'no-referrer',
      'x-content-type-options': 'nosniff',
      'cache-control': 'no-store',
    },
  };
}
