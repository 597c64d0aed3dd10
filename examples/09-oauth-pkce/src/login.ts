import express, { type Response, type Router } from 'express';
import { escapeHTML, PAGE_SECURITY_HEADERS, randomToken, sha256, timingSafeEqual, type AuthorizationServer } from '@keyward/core';
import { sendWebResponse } from '@keyward/express';

/** The one local account of this example. */
export interface DemoUser {
  username: string;
  /** SHA-256 of the password; a real user store keeps scrypt or argon2 hashes instead. */
  passwordHash: string;
  claims: Record<string, unknown>;
}

export const DEMO_CLAIMS = { name: 'Demo User', preferred_username: 'demo', email: 'demo@example.com', email_verified: true };

/** The `demo` user; without OAUTH_DEMO_PASSWORD a random password is generated for this run. */
export async function createDemoUser(env: NodeJS.ProcessEnv): Promise<{ user: DemoUser; password: string; generated: boolean }> {
  const password = env.OAUTH_DEMO_PASSWORD || randomToken(12);
  const user = { username: 'demo', passwordHash: await sha256(password), claims: DEMO_CLAIMS };
  return { user, password, generated: !env.OAUTH_DEMO_PASSWORD };
}

async function checkCredentials(user: DemoUser, username: string, password: string): Promise<boolean> {
  // Hashes have one length, so the comparison takes the same time whatever was typed; both are always
  // compared, so a wrong username is not faster than a wrong password.
  const [nameOK, passwordOK] = [timingSafeEqual(await sha256(username), await sha256(user.username)), timingSafeEqual(await sha256(password), user.passwordHash)];
  return nameOK && passwordOK;
}

/**
 * Chrome and Safari apply `form-action` to the redirect a form submission answers with, so the core page
 * policy's `form-action 'self'` would block the 303 to the client. Allow that one redirect target as well.
 */
function pageHeaders(redirectUri: string): Record<string, string> {
  const target = new URL(redirectUri);
  const source = target.protocol === 'http:' || target.protocol === 'https:' ? target.origin : target.protocol;
  const csp = PAGE_SECURITY_HEADERS['content-security-policy']!.replace("form-action 'self'", `form-action 'self' ${source}`);
  return { ...PAGE_SECURITY_HEADERS, 'content-security-policy': csp, 'content-type': 'text/html; charset=utf-8' };
}

function sendPage(res: Response, status: number, body: string, headers: Record<string, string> = { ...PAGE_SECURITY_HEADERS, 'content-type': 'text/html; charset=utf-8' }): void {
  res.status(status).set(headers).send(`<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>Sign in</title></head><body><main>${body}</main></body></html>`);
}

const EXPIRED = '<h1>Sign-in request expired</h1><p>Go back to the application and start again.</p>';

interface LoginForm {
  action: string;
  interactionId: string;
  clientName: string;
  scopes: string[];
  error?: string;
}

function loginForm(form: LoginForm): string {
  return (
    `<h1>Sign in</h1><p><strong>${escapeHTML(form.clientName)}</strong> asks for: ${escapeHTML(form.scopes.join(' ') || '(no scopes)')}</p>` +
    (form.error ? `<p role="alert">${escapeHTML(form.error)}</p>` : '') +
    `<form method="post" action="${escapeHTML(form.action)}">` +
    `<input type="hidden" name="interaction" value="${escapeHTML(form.interactionId)}">` +
    `<p><label for="username">Username</label> <input id="username" name="username" autocomplete="username" required></p>` +
    `<p><label for="password">Password</label> <input id="password" name="password" type="password" autocomplete="current-password" required></p>` +
    `<button type="submit">Sign in</button></form>`
  );
}

/**
 * A minimal login page for the interaction hook: GET renders it, POST checks the password and finishes the
 * authorization with `server.completeInteraction`. No consent screen and no CSRF token yet; both come with
 * the login and consent pages of core.
 */
export function loginRoutes(server: AuthorizationServer, user: DemoUser, path: string): Router {
  const router = express.Router();
  const field = (value: unknown) => (typeof value === 'string' ? value : '');

  router.get(path, async (req, res) => {
    const interactionId = field(req.query.interaction);
    const pending = interactionId ? await server.getInteraction(interactionId) : null;
    if (!pending) return sendPage(res, 400, EXPIRED);
    sendPage(res, 200, loginForm({ action: path, interactionId, clientName: pending.clientId, scopes: pending.scopes }), pageHeaders(pending.redirectUri));
  });

  router.post(path, express.urlencoded({ extended: false, limit: '4kb' }), async (req, res) => {
    const interactionId = field(req.body?.interaction);
    const pending = interactionId ? await server.getInteraction(interactionId) : null;
    if (!pending) return sendPage(res, 400, EXPIRED);
    if (!(await checkCredentials(user, field(req.body.username), field(req.body.password)))) {
      // One message for a wrong username and a wrong password: the page must not reveal which accounts exist.
      const form = { action: path, interactionId, clientName: pending.clientId, scopes: pending.scopes, error: 'Wrong username or password.' };
      return sendPage(res, 401, loginForm(form), pageHeaders(pending.redirectUri));
    }
    await sendWebResponse(res, await server.completeInteraction(interactionId, { subject: user.username, claims: user.claims }));
  });

  return router;
}
