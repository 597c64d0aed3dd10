import { CompactEncrypt } from 'jose';
import { epochSeconds } from '../clock.js';
import type { InteractionResult, PendingAuthorization, ServerContext } from '../context.js';
import { randomToken, sha256, timingSafeEqual } from '../crypto.js';
import { escapeHTML, htmlResponse, readBodyText, RequestParams } from '../http.js';
import type { PasswordAuthenticator, UpstreamIdentity, UpstreamLoginProvider } from '../login-providers.js';
import type { BrowserSessionRecord, InteractionRecord } from '../store.js';
import { FailureThrottle } from '../throttle.js';
import { DEFAULT_SCOPE_DESCRIPTIONS, defaultLoginPages, type LoginPageRenderer } from './pages.js';

/** The built-in login and consent pages. */
export interface LoginOptions {
  /** Local username/password accounts (e.g. `localUsers()` of `@keyward/upstream`). */
  users?: PasswordAuthenticator;
  /** Upstream identity providers, one button (redirect) or token endpoint each. */
  providers?: UpstreamLoginProvider[];
  /** How long a browser stays signed in, in seconds (OAUTH_SESSION_TIMEOUT); default 3600. */
  sessionTimeout?: number;
  /** How long a consent is remembered, in seconds; default 30 days. */
  consentLifetime?: number;
  /** Encrypts upstream tokens kept on grants (at least 32 characters). Without it they are not kept. */
  encryptionSecret?: string;
  /** Failed sign-ins allowed per username and per source address in 15 minutes; default 10 and 50. Successes never count. */
  attemptLimits?: { perUser: number; perSource: number };
  /** Words shown for each scope on the consent page. */
  scopeDescriptions?: Record<string, string>;
  /** Replaces the built-in HTML. */
  pages?: LoginPageRenderer;
}

/** @internal How the flow finishes an interaction (the server's own methods). */
export interface LoginFlowHooks {
  complete(interactionId: string, result: InteractionResult, method: string): Promise<Response>;
  deny(interactionId: string, error: { error?: 'login_required' | 'consent_required'; description?: string }, method: string): Promise<Response>;
  isConfiguredClient(clientId: string): boolean;
}

const ATTEMPT_WINDOW_MS = 15 * 60 * 1000;

interface Cookies {
  binding: string;
  session: string;
  upstream: string;
}

function readCookies(request: Request): Map<string, string> {
  const cookies = new Map<string, string>();
  for (const part of (request.headers.get('cookie') ?? '').split(';')) {
    const index = part.indexOf('=');
    if (index > 0) cookies.set(part.slice(0, index).trim(), part.slice(index + 1).trim());
  }
  return cookies;
}

/**
 * Serves the login and consent pages for pending authorizations: CSRF tokens bound to the browser,
 * HttpOnly SameSite=Lax session cookies (`__Host-` and Secure on https), 303 after every POST, the pending
 * request kept server-side, attempts rate-limited per user and per source, consent remembered per user,
 * client and scopes.
 *
 * @see [RFC 6749 §10.12](https://www.rfc-editor.org/rfc/rfc6749#section-10.12)
 * @see [RFC 9700 §4.16](https://www.rfc-editor.org/rfc/rfc9700#section-4.16)
 */
export class LoginFlow {
  readonly #ctx: ServerContext;
  readonly #options: LoginOptions;
  readonly #hooks: LoginFlowHooks;
  readonly #paths: { login: string; consent: string; tokenLogin: string; callback: string };
  readonly #urls: { login: string; consent: string; tokenLogin: string; callback: string };
  readonly #cookies: Cookies;
  readonly #secure: boolean;
  readonly #pages: LoginPageRenderer;
  readonly #throttle: FailureThrottle;
  #encryptionKey: Promise<Uint8Array> | undefined;

  constructor(ctx: ServerContext, options: LoginOptions, hooks: LoginFlowHooks, base: string) {
    this.#ctx = ctx;
    this.#options = options;
    this.#hooks = hooks;
    this.#urls = { login: `${base}/oauth/login`, consent: `${base}/oauth/consent`, tokenLogin: `${base}/oauth/login/token`, callback: `${base}/oauth/callback` };
    const path = (url: string) => new URL(url).pathname;
    this.#paths = { login: path(this.#urls.login), consent: path(this.#urls.consent), tokenLogin: path(this.#urls.tokenLogin), callback: path(this.#urls.callback) };
    this.#secure = ctx.issuer.startsWith('https:');
    // The __Host- prefix pins a cookie to this exact origin and path /, but browsers accept it only over https.
    const prefix = this.#secure ? '__Host-' : '';
    this.#cookies = { binding: `${prefix}keyward-browser`, session: `${prefix}keyward-session`, upstream: `${prefix}keyward-upstream` };
    this.#pages = options.pages ?? defaultLoginPages;
    this.#throttle = new FailureThrottle(ctx.store, ctx.clock, ATTEMPT_WINDOW_MS);
  }

  /** The pathnames this flow answers, and their handlers. */
  routes(): Map<string, (request: Request, clientAddress: string) => Promise<Response>> {
    const routes = new Map<string, (request: Request, clientAddress: string) => Promise<Response>>([
      [this.#paths.login, (request, address) => (request.method === 'POST' ? this.#postLogin(request, address) : this.#getLogin(request))],
      [this.#paths.consent, (request) => (request.method === 'POST' ? this.#postConsent(request) : this.#getConsent(request))],
      [this.#paths.tokenLogin, (request, address) => this.#postTokenLogin(request, address)],
    ]);
    for (const provider of this.#options.providers ?? []) {
      if (provider.kind === 'redirect') routes.set(`${this.#paths.callback}/${provider.id}`, (request) => this.#callback(request, provider.id));
    }
    return routes;
  }

  /** The interaction hook: binds the pending request to this browser and starts at login or consent. */
  readonly interaction = async (pending: PendingAuthorization, request: Request): Promise<Response> => {
    const interaction = await this.#ctx.store.getInteraction(pending.interactionId);
    if (!interaction) return this.#error('This sign-in request has expired. Start again from the application.');
    const cookies = readCookies(request);
    let browser = cookies.get(this.#cookies.binding);
    const setCookies: string[] = [];
    if (!browser || !/^[A-Za-z0-9_-]{43}$/.test(browser)) {
      browser = randomToken();
      setCookies.push(this.#cookie(this.#cookies.binding, browser));
    }
    await this.#ctx.store.saveInteraction({ ...interaction, sessionBinding: await sha256(browser) });
    const session = await this.#session(request);
    const prompts = interaction.prompt?.split(' ') ?? [];
    const fresh = session && (interaction.maxAge === undefined || epochSeconds(this.#ctx.clock) - session.authTime <= interaction.maxAge);
    if (session && fresh && !prompts.includes('login')) return this.#afterLogin(interaction, session, setCookies);
    return this.#redirect(`${this.#urls.login}?interaction=${encodeURIComponent(interaction.interactionId)}`, setCookies);
  };

  /**
   * `prompt=none` (OIDC Core §3.1.2.1): approve from the browser's session and remembered consent, or
   * redirect `login_required` / `consent_required`. Never renders a page.
   */
  readonly silent = async (interaction: InteractionRecord, request: Request): Promise<Response> => {
    const method = request.method;
    const session = await this.#session(request);
    const fresh = session && (interaction.maxAge === undefined || epochSeconds(this.#ctx.clock) - session.authTime <= interaction.maxAge);
    if (!session || !fresh) return this.#hooks.deny(interaction.interactionId, { error: 'login_required', description: 'the user is not signed in' }, method);
    if (!(await this.#consentCovers(interaction, session))) {
      return this.#hooks.deny(interaction.interactionId, { error: 'consent_required', description: 'the user has not consented to these scopes' }, method);
    }
    return this.#hooks.complete(interaction.interactionId, this.#result(session), method);
  };

  /**
   * Remembered consent covers a request only for clients whose identity is established (configured in
   * code, or confidential): for self-registered public clients RFC 8252 §8.6 and RFC 6749 §10.2 advise
   * asking every time, since anyone can register one under any name.
   */
  async #consentCovers(interaction: InteractionRecord, session: BrowserSessionRecord): Promise<boolean> {
    const client = await this.#ctx.getClient(interaction.clientId);
    const established = this.#hooks.isConfiguredClient(interaction.clientId) || (client !== null && client.tokenEndpointAuthMethod !== 'none');
    if (!established) return false;
    const consent = await this.#ctx.store.getConsent(session.subject, interaction.clientId);
    return consent !== null && interaction.scopes.every((scope) => consent.scopes.includes(scope));
  }

  async #getLogin(request: Request, error?: string, username?: string, status = 200): Promise<Response> {
    const checked = await this.#checkInteraction(request, RequestParams.fromSearch(new URL(request.url).searchParams), false);
    if (checked instanceof Response) return checked;
    const { interaction, csrfToken } = checked;
    const client = await this.#ctx.getClient(interaction.clientId);
    const html = this.#pages.loginPage({
      action: this.#urls.login,
      interactionId: interaction.interactionId,
      csrfToken,
      clientName: client?.clientName ?? interaction.clientId,
      passwordLogin: this.#options.users !== undefined,
      providers: (this.#options.providers ?? []).filter((provider) => provider.kind === 'redirect').map(({ id, displayName }) => ({ id, displayName })),
      error,
      username,
    });
    return htmlResponse(html, status);
  }

  async #postLogin(request: Request, clientAddress: string): Promise<Response> {
    const params = await this.#form(request);
    if (params instanceof Response) return params;
    const checked = await this.#checkInteraction(request, params, true);
    if (checked instanceof Response) return checked;
    const { interaction } = checked;
    const rerender = (message: string, username?: string, status = 400) =>
      this.#getLogin(new Request(`${this.#urls.login}?interaction=${encodeURIComponent(interaction.interactionId)}`, { headers: request.headers }), message, username, status);

    const providerId = params.get('provider');
    if (providerId !== undefined) {
      const provider = this.#options.providers?.find((candidate) => candidate.id === providerId && candidate.kind === 'redirect');
      if (!provider || provider.kind !== 'redirect') return rerender('That sign-in method is not available.');
      const { location, state } = await provider.start({ callbackUrl: `${this.#urls.callback}/${provider.id}` });
      await this.#ctx.store.saveInteraction({ ...interaction, loginState: { provider: provider.id, state } });
      return this.#redirect(location, [this.#cookie(this.#cookies.upstream, interaction.interactionId, 600)]);
    }

    const users = this.#options.users;
    const username = params.get('username') ?? '';
    if (!users) return rerender('Password sign-in is not available.');
    const limits = this.#options.attemptLimits ?? { perUser: 10, perSource: 50 };
    const keys = [`login:user:${username.toLowerCase()}`, `login:source:${clientAddress}`] as const;
    if ((await this.#throttle.retryAfter([[keys[0], limits.perUser], [keys[1], limits.perSource]])) !== null) {
      this.#ctx.emit?.({ type: 'signin.throttled', method: 'password', clientId: interaction.clientId }, request);
      return rerender('Too many failed sign-in attempts. Wait a few minutes and try again.', username, 429);
    }
    const identity = await users.verify(username, params.get('password') ?? '');
    if (!identity) {
      await this.#throttle.recordFailure(keys);
      this.#ctx.emit?.({ type: 'signin.failed', method: 'password', clientId: interaction.clientId }, request);
      // One message for an unknown user and a wrong password, so the form does not reveal who has an account.
      return rerender('The username or password is incorrect.', username, 401);
    }
    this.#ctx.emit?.({ type: 'signin.succeeded', method: 'password', clientId: interaction.clientId, subject: identity.subject }, request);
    return this.#signIn(interaction, identity);
  }

  async #postTokenLogin(request: Request, clientAddress: string): Promise<Response> {
    if (request.method !== 'POST') return new Response(null, { status: 405, headers: { allow: 'POST' } });
    const params = await this.#form(request);
    if (params instanceof Response) return params;
    const checked = await this.#checkInteraction(request, params, true);
    if (checked instanceof Response) return checked;
    const provider = this.#options.providers?.find((candidate) => candidate.id === params.get('provider') && candidate.kind === 'token');
    const token = params.get('token');
    if (!provider || provider.kind !== 'token' || !token) return this.#error('Unknown sign-in method or missing token.');
    const sourceKey = `login:source:${clientAddress}`;
    if ((await this.#throttle.retryAfter([[sourceKey, this.#options.attemptLimits?.perSource ?? 50]])) !== null) {
      this.#ctx.emit?.({ type: 'signin.throttled', method: 'token', clientId: checked.interaction.clientId }, request);
      return this.#error('Too many failed sign-in attempts.', 429);
    }
    let identity: UpstreamIdentity;
    try {
      identity = await provider.verifyToken(token);
    } catch {
      await this.#throttle.recordFailure([sourceKey]);
      this.#ctx.emit?.({ type: 'signin.failed', method: 'token', provider: provider.id, clientId: checked.interaction.clientId }, request);
      return this.#error(`Sign-in with ${provider.displayName} failed.`, 401);
    }
    this.#ctx.emit?.({ type: 'signin.succeeded', method: 'token', provider: provider.id, clientId: checked.interaction.clientId, subject: identity.subject }, request);
    return this.#signIn(checked.interaction, identity);
  }

  async #callback(request: Request, providerId: string): Promise<Response> {
    const interactionId = readCookies(request).get(this.#cookies.upstream);
    const interaction = interactionId ? await this.#ctx.store.getInteraction(interactionId) : null;
    if (!interaction || !(await this.#boundToBrowser(request, interaction))) return this.#error('This sign-in request has expired. Start again from the application.');
    const loginState = interaction.loginState as { provider?: string; state?: Record<string, unknown> } | undefined;
    const provider = this.#options.providers?.find((candidate) => candidate.id === providerId);
    if (!provider || provider.kind !== 'redirect' || loginState?.provider !== providerId || !loginState.state) {
      return this.#error('This sign-in response does not match a sign-in in progress.');
    }
    let identity: UpstreamIdentity;
    try {
      identity = await provider.finish({ callbackUrl: `${this.#urls.callback}/${provider.id}`, currentUrl: new URL(request.url), state: loginState.state });
    } catch {
      this.#ctx.emit?.({ type: 'signin.failed', method: 'redirect', provider: provider.id, clientId: interaction.clientId }, request);
      return this.#error(`Sign-in with ${provider.displayName} failed. Start again from the application.`, 401);
    }
    // The upstream state is single-use: drop it before going on.
    await this.#ctx.store.saveInteraction({ ...interaction, loginState: undefined });
    this.#ctx.emit?.({ type: 'signin.succeeded', method: 'redirect', provider: provider.id, clientId: interaction.clientId, subject: identity.subject }, request);
    return this.#signIn(interaction, identity, [this.#cookie(this.#cookies.upstream, '', 0)]);
  }

  async #signIn(interaction: InteractionRecord, identity: UpstreamIdentity, setCookies: string[] = []): Promise<Response> {
    const now = this.#ctx.clock();
    const timeout = this.#options.sessionTimeout ?? 3600;
    // A new session value at every sign-in, so a session id planted before login is worthless (fixation).
    const value = randomToken();
    const session: BrowserSessionRecord = {
      sessionHash: await sha256(value),
      subject: identity.subject,
      claims: identity.claims,
      upstreamTokens: identity.upstreamTokens ? await this.#encrypt(identity.upstreamTokens) : undefined,
      authTime: epochSeconds(this.#ctx.clock),
      createdAt: now,
      expiresAt: now + timeout * 1000,
    };
    await this.#ctx.store.saveSession(session);
    return this.#afterLogin(interaction, session, [...setCookies, this.#cookie(this.#cookies.session, value, timeout)]);
  }

  async #afterLogin(interaction: InteractionRecord, session: BrowserSessionRecord, setCookies: string[]): Promise<Response> {
    const prompts = interaction.prompt?.split(' ') ?? [];
    if (!prompts.includes('consent') && (await this.#consentCovers(interaction, session))) {
      return this.#withCookies(await this.#hooks.complete(interaction.interactionId, this.#result(session), 'POST'), setCookies);
    }
    return this.#redirect(`${this.#urls.consent}?interaction=${encodeURIComponent(interaction.interactionId)}`, setCookies);
  }

  async #getConsent(request: Request): Promise<Response> {
    const checked = await this.#checkInteraction(request, RequestParams.fromSearch(new URL(request.url).searchParams), false);
    if (checked instanceof Response) return checked;
    const { interaction, csrfToken } = checked;
    const session = await this.#session(request);
    if (!session) return this.#redirect(`${this.#urls.login}?interaction=${encodeURIComponent(interaction.interactionId)}`);
    const client = await this.#ctx.getClient(interaction.clientId);
    const descriptions = { ...DEFAULT_SCOPE_DESCRIPTIONS, ...this.#options.scopeDescriptions };
    const html = this.#pages.consentPage({
      action: this.#urls.consent,
      interactionId: interaction.interactionId,
      csrfToken,
      clientName: client?.clientName ?? interaction.clientId,
      clientId: interaction.clientId,
      redirectHost: URL.canParse(interaction.redirectUri) ? new URL(interaction.redirectUri).host || interaction.redirectUri : interaction.redirectUri,
      scopes: interaction.scopes.map((scope) => ({ scope, description: descriptions[scope] ?? scope })),
      resources: interaction.resources,
      unverified: !this.#hooks.isConfiguredClient(interaction.clientId),
      userName: String(session.claims?.name ?? session.claims?.preferred_username ?? session.claims?.email ?? session.subject),
    });
    return htmlResponse(html);
  }

  async #postConsent(request: Request): Promise<Response> {
    const params = await this.#form(request);
    if (params instanceof Response) return params;
    const checked = await this.#checkInteraction(request, params, true);
    if (checked instanceof Response) return checked;
    const { interaction } = checked;
    const session = await this.#session(request);
    if (!session) return this.#redirect(`${this.#urls.login}?interaction=${encodeURIComponent(interaction.interactionId)}`);
    if (params.get('decision') !== 'allow') return this.#hooks.deny(interaction.interactionId, {}, 'POST');
    const now = this.#ctx.clock();
    const previous = await this.#ctx.store.getConsent(session.subject, interaction.clientId);
    await this.#ctx.store.saveConsent({
      subject: session.subject,
      clientId: interaction.clientId,
      scopes: [...new Set([...(previous?.scopes ?? []), ...interaction.scopes])],
      createdAt: now,
      expiresAt: now + (this.#options.consentLifetime ?? 30 * 24 * 3600) * 1000,
    });
    this.#ctx.emit?.({ type: 'consent.given', clientId: interaction.clientId, subject: session.subject, scopes: interaction.scopes }, request);
    return this.#hooks.complete(interaction.interactionId, this.#result(session), 'POST');
  }

  #result(session: BrowserSessionRecord): InteractionResult {
    return {
      subject: session.subject,
      ...(session.claims && { claims: session.claims }),
      authTime: session.authTime,
      ...(session.upstreamTokens && { upstreamTokens: session.upstreamTokens }),
    };
  }

  /** Loads the interaction named by the request and checks it belongs to this browser (and, for POSTs, the CSRF token). */
  async #checkInteraction(request: Request, params: RequestParams, requireCsrf: boolean): Promise<{ interaction: InteractionRecord; csrfToken: string } | Response> {
    let interactionId: string | undefined;
    let csrf: string | undefined;
    try {
      interactionId = params.get('interaction');
      csrf = params.get('csrf');
    } catch {
      return this.#error('The request is malformed.');
    }
    const interaction = interactionId ? await this.#ctx.store.getInteraction(interactionId) : null;
    if (!interaction || interaction.expiresAt <= this.#ctx.clock()) return this.#error('This sign-in request has expired. Start again from the application.');
    const browser = readCookies(request).get(this.#cookies.binding);
    if (!browser || !(await this.#boundToBrowser(request, interaction))) {
      return this.#error('This sign-in request belongs to another browser. Start again from the application.', 403);
    }
    const csrfToken = await sha256(`${browser}:${interaction.interactionId}`);
    if (requireCsrf && (!csrf || !timingSafeEqual(csrf, csrfToken))) return this.#error('The form has expired or was not sent from this site. Start again.', 403);
    return { interaction, csrfToken };
  }

  async #boundToBrowser(request: Request, interaction: InteractionRecord): Promise<boolean> {
    const browser = readCookies(request).get(this.#cookies.binding);
    return Boolean(browser && interaction.sessionBinding && timingSafeEqual(await sha256(browser), interaction.sessionBinding));
  }

  async #session(request: Request): Promise<BrowserSessionRecord | null> {
    const value = readCookies(request).get(this.#cookies.session);
    if (!value) return null;
    const session = await this.#ctx.store.getSession(await sha256(value));
    return session && session.expiresAt > this.#ctx.clock() ? session : null;
  }

  async #form(request: Request): Promise<RequestParams | Response> {
    const type = (request.headers.get('content-type') ?? '').split(';', 1)[0]!.trim().toLowerCase();
    if (type !== 'application/x-www-form-urlencoded') return this.#error('The form could not be read.');
    try {
      return RequestParams.fromSearch(new URLSearchParams(await readBodyText(request)));
    } catch {
      return this.#error('The form is too large.', 413);
    }
  }

  async #encrypt(tokens: NonNullable<UpstreamIdentity['upstreamTokens']>): Promise<string | undefined> {
    const secret = this.#options.encryptionSecret;
    if (!secret) return undefined;
    this.#encryptionKey ??= crypto.subtle.digest('SHA-256', new TextEncoder().encode(secret)).then((digest) => new Uint8Array(digest));
    return new CompactEncrypt(new TextEncoder().encode(JSON.stringify(tokens)))
      .setProtectedHeader({ alg: 'dir', enc: 'A256GCM' })
      .encrypt(await this.#encryptionKey);
  }

  #cookie(name: string, value: string, maxAge?: number): string {
    const attributes = [`${name}=${value}`, 'Path=/', 'HttpOnly', 'SameSite=Lax'];
    if (this.#secure) attributes.push('Secure');
    if (maxAge !== undefined) attributes.push(`Max-Age=${maxAge}`);
    return attributes.join('; ');
  }

  /** 303 See Other: after a POST the browser must follow with a GET (RFC 9700 §4.12, never 307). */
  #redirect(location: string, setCookies: string[] = []): Response {
    const headers = new Headers({ location, 'cache-control': 'no-store', 'referrer-policy': 'no-referrer' });
    for (const cookie of setCookies) headers.append('set-cookie', cookie);
    return new Response(null, { status: 303, headers });
  }

  #withCookies(response: Response, setCookies: string[]): Response {
    for (const cookie of setCookies) response.headers.append('set-cookie', cookie);
    return response;
  }

  #error(message: string, status = 400): Response {
    return htmlResponse(
      `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Sign-in problem</title></head><body><main><h1>Sign-in problem</h1><p>${escapeHTML(message)}</p></main></body></html>`,
      status,
    );
  }
}
