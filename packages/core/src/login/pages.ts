import { escapeHTML } from '../protocol/http.js';

/** What the login page shows. */
export interface LoginPageModel {
  /** Where the form posts. */
  action: string;
  interactionId: string;
  csrfToken: string;
  clientName: string;
  /** Whether the local username/password form is offered. */
  passwordLogin: boolean;
  /** One button per upstream redirect provider. */
  providers: { id: string; displayName: string }[];
  /** A message that names no detail (never whether the user exists). */
  error?: string | undefined;
  username?: string | undefined;
}

/** What the consent page shows. */
export interface ConsentPageModel {
  action: string;
  interactionId: string;
  csrfToken: string;
  clientName: string;
  clientId: string;
  /** The host the browser will be sent to, which is what a user can actually judge. */
  redirectHost: string;
  /** What will be granted: the requested scopes this user may grant (the server's `grantableScopes`). */
  scopes: { scope: string; description: string }[];
  resources: string[];
  /** Dynamically registered or metadata-document clients: their name is self-asserted. */
  unverified: boolean;
  userName: string;
}

/** Replaces the built-in HTML; each function returns a whole document. */
export interface LoginPageRenderer {
  loginPage(model: LoginPageModel): string;
  consentPage(model: ConsentPageModel): string;
}

const STYLE = `
body{font:16px/1.5 system-ui,sans-serif;background:#f4f5f7;color:#1d2330;margin:0;display:grid;place-items:center;min-height:100vh}
main{background:#fff;border-radius:12px;box-shadow:0 2px 12px rgba(0,0,0,.08);padding:2rem;width:min(26rem,90vw)}
h1{font-size:1.35rem;margin:0 0 .25rem}p.lead{margin:0 0 1.25rem;color:#4a5263}
label{display:block;font-weight:600;margin:.75rem 0 .25rem}
input[type=text],input[type=password]{width:100%;box-sizing:border-box;padding:.6rem;border:1px solid #c5cad3;border-radius:6px;font:inherit}
button{font:inherit;padding:.65rem 1rem;border-radius:6px;border:1px solid #2f5bd3;background:#2f5bd3;color:#fff;cursor:pointer;width:100%;margin-top:1rem}
button.secondary{background:#fff;color:#2f5bd3}
.error{background:#fdecec;color:#8a1c1c;padding:.6rem;border-radius:6px}
.warn{background:#fff6e0;color:#6b4a00;padding:.6rem;border-radius:6px}
ul{padding-left:1.2rem}.actions{display:flex;gap:.75rem}.actions button{flex:1}
.divider{text-align:center;color:#7a8190;margin:1rem 0 0}
`;

function page(title: string, body: string): string {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">` +
    `<title>${escapeHTML(title)}</title><style>${STYLE}</style></head><body><main>${body}</main></body></html>`;
}

function hidden(model: { interactionId: string; csrfToken: string }): string {
  return `<input type="hidden" name="interaction" value="${escapeHTML(model.interactionId)}">` +
    `<input type="hidden" name="csrf" value="${escapeHTML(model.csrfToken)}">`;
}

/**
 * The built-in pages: plain HTML forms, no script, labelled fields. Every value is escaped.
 *
 * @example
 * ```ts
 * const html = defaultLoginPages.loginPage({ action: '/oauth/login', interactionId, csrfToken, clientName: 'Claude', passwordLogin: true, providers: [] });
 * ```
 * @see [RFC 9700 §4.16](https://www.rfc-editor.org/rfc/rfc9700#section-4.16)
 */
export const defaultLoginPages: LoginPageRenderer = {
  loginPage(model) {
    const error = model.error ? `<p class="error" role="alert">${escapeHTML(model.error)}</p>` : '';
    const password = model.passwordLogin
      ? `<label for="username">Username</label><input id="username" name="username" type="text" autocomplete="username" required value="${escapeHTML(model.username ?? '')}">` +
        `<label for="password">Password</label><input id="password" name="password" type="password" autocomplete="current-password" required>` +
        `<button type="submit" name="method" value="password">Sign in</button>`
      : '';
    const providers = model.providers
      .map((provider) => `<button class="secondary" type="submit" name="provider" value="${escapeHTML(provider.id)}" formnovalidate>Sign in with ${escapeHTML(provider.displayName)}</button>`)
      .join('');
    const divider = password && providers ? '<p class="divider">or</p>' : '';
    return page(
      'Sign in',
      `<h1>Sign in</h1><p class="lead">to continue to <strong>${escapeHTML(model.clientName)}</strong></p>${error}` +
        `<form method="post" action="${escapeHTML(model.action)}">${hidden(model)}${password}${divider}${providers}</form>`,
    );
  },

  consentPage(model) {
    const scopes = model.scopes.map((item) => `<li><strong>${escapeHTML(item.description)}</strong> <small>(${escapeHTML(item.scope)})</small></li>`).join('');
    const unverified = model.unverified
      ? `<p class="warn">This application registered itself. Its name is not verified: check that you expect to be sent to <strong>${escapeHTML(model.redirectHost)}</strong>.</p>`
      : '';
    const resources = model.resources.length
      ? `<p>For use with: ${model.resources.map((resource) => `<code>${escapeHTML(resource)}</code>`).join(', ')}</p>`
      : '';
    return page(
      'Allow access?',
      `<h1>Allow access?</h1><p class="lead"><strong>${escapeHTML(model.clientName)}</strong> wants access to your account (${escapeHTML(model.userName)}).</p>` +
        `${unverified}<p>It will be able to:</p><ul>${scopes || '<li>Confirm you are signed in</li>'}</ul>${resources}` +
        `<p>After you decide you will return to <strong>${escapeHTML(model.redirectHost)}</strong>.</p>` +
        `<form method="post" action="${escapeHTML(model.action)}">${hidden(model)}<div class="actions">` +
        `<button class="secondary" type="submit" name="decision" value="deny">Deny</button>` +
        `<button type="submit" name="decision" value="allow">Allow</button></div></form>`,
    );
  },
};

/**
 * Words for the scopes Keyward's examples use; applications add their own through `scopeDescriptions`.
 *
 * @example
 * ```ts
 * new AuthorizationServer({ issuer, store, login: { users, scopeDescriptions: { ...DEFAULT_SCOPE_DESCRIPTIONS, 'files:read': 'Read your files' } } });
 * ```
 */
export const DEFAULT_SCOPE_DESCRIPTIONS: Readonly<Record<string, string>> = {
  openid: 'Confirm who you are',
  profile: 'See your name and profile',
  email: 'See your email address',
  offline_access: 'Stay connected while you are away',
  'mcp:tools': "Use this server's tools on your behalf",
  'mcp:resources': "Read this server's resources",
  'mcp:admin': 'Administer this server',
};
