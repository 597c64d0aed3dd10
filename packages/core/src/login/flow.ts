import { CompactEncrypt } from 'jose';
import type { InteractionResult, LoginHost, PendingAuthorization } from './interaction.js';
import { randomToken, sha256, timingSafeEqual } from '../protocol/crypto.js';
import { KeywardConfigError } from '../protocol/errors.js';
import { escapeHTML, htmlResponse, readBodyText, RequestParams } from '../protocol/http.js';
import type { PasswordAuthenticator, UpstreamIdentity, UpstreamLoginProvider } from './providers.js';
import type { BrowserSessionRecord, InteractionRecord, LoginStore } from '../store/store.js';
import { AttemptThrottle, throttleSource, type ThrottleCount, type ThrottleKey } from '../operations/throttle.js';
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
  /** How many password guesses Keyward lets through; see {@link SignInAttemptLimits}. */
  attemptLimits?: SignInAttemptLimits;
  /** Words shown for each scope on the consent page. */
  scopeDescriptions?: Record<string, string>;
  /** Replaces the built-in HTML. */
  pages?: LoginPageRenderer;
}

/**
 * Limits on password sign-ins, counted in 15-minute windows through the Store, so they hold across
 * concurrent requests and server instances. Every attempt is counted before its password is checked (a
 * burst of N guesses costs N attempts, and an attempt over a limit never reaches the password check); a
 * successful sign-in hands its attempt back, so the owner's own sign-ins never add up to a lock-out.
 *
 * Nothing here refuses a source address that has not failed for a username: a guesser elsewhere can slow
 * the owner's account down, never lock its owner out. A source is an IPv4 address or an IPv6 /64.
 *
 * @example
 * ```ts
 * // 5 guesses per username and address, 50 per address, and 2 a minute for failed sources once the
 * // username has 10 failures across all addresses.
 * const server = new AuthorizationServer({
 *   issuer, store,
 *   login: { users, attemptLimits: { perUserAndSource: 5, perSource: 50, perUser: 10, slowedPerMinute: 2 } },
 * });
 * ```
 * @see [RFC 9700 §4.16](https://www.rfc-editor.org/rfc/rfc9700#section-4.16)
 * @see [NIST SP 800-63B §5.2.2](https://pages.nist.gov/800-63-3/sp800-63b.html#throttle)
 */
export interface SignInAttemptLimits {
  /** Failed sign-ins for one username from one source; then that source waits for the window to close. Default 10. */
  perUserAndSource?: number;
  /** Failed sign-ins from one source, whatever the usernames; then that source waits. Default 50. */
  perSource?: number;
  /**
   * Failed sign-ins for one username across all sources after which the username is treated as under a
   * distributed attack: sources that have already failed for it share {@link slowedPerMinute} attempts a
   * minute, while a source that has not failed for it is never refused. Default 10.
   */
  perUser?: number;
  /** Attempts a minute shared by the failed sources of a username under attack (see {@link perUser}). Default 3. */
  slowedPerMinute?: number;
}

/** @internal How the flow finishes an interaction (the server's own methods). */
export interface LoginFlowHooks {
  complete(interactionId: string, result: InteractionResult, method: string): Promise<Response>;
  deny(interactionId: string, error: { error?: 'login_required' | 'consent_required'; description?: string }, method: string): Promise<Response>;
  isConfiguredClient(clientId: string): boolean;
  /** A configured client marked `trusted`, which may be approved silently even when it is public. */
  isTrustedClient(clientId: string): boolean;
}

const ATTEMPT_WINDOW_MS = 15 * 60 * 1000;
const SLOWED_WINDOW_MS = 60 * 1000;
const DEFAULT_ATTEMPT_LIMITS: Required<SignInAttemptLimits> = { perUserAndSource: 10, perSource: 50, perUser: 10, slowedPerMinute: 3 };

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
  readonly #ctx: LoginHost;
  /** The store's login group (sessions, consents), which the server checked it has. */
  readonly #login: LoginStore;
  readonly #options: LoginOptions;
  readonly #hooks: LoginFlowHooks;
  readonly #paths: { login: string; consent: string; tokenLogin: string; callback: string };
  readonly #urls: { login: string; consent: string; tokenLogin: string; callback: string };
  readonly #cookies: Cookies;
  readonly #secure: boolean;
  readonly #pages: LoginPageRenderer;
  readonly #throttle: AttemptThrottle;
  readonly #limits: Required<SignInAttemptLimits>;
  #encryptionKey: Promise<Uint8Array> | undefined;

  constructor(ctx: LoginHost, options: LoginOptions, hooks: LoginFlowHooks, base: string, login: LoginStore) {
    this.#ctx = ctx;
    this.#login = login;
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
    this.#throttle = new AttemptThrottle(ctx.store, ctx.clock);
    this.#limits = { ...DEFAULT_ATTEMPT_LIMITS };
    for (const [name, value] of Object.entries(options.attemptLimits ?? {})) {
      if (!(name in DEFAULT_ATTEMPT_LIMITS)) throw new KeywardConfigError(`login.attemptLimits.${name} is not a known limit`);
      if (value === undefined) continue;
      if (!Number.isInteger(value) || value < 1) throw new KeywardConfigError(`login.attemptLimits.${name} must be a positive integer`);
      this.#limits[name as keyof SignInAttemptLimits] = value;
    }
  }

  /** The pathnames this flow answers, and their handlers. */
  routes(): Map<string, (request: Request, clientAddress: string | undefined) => Promise<Response>> {
    const routes = new Map<string, (request: Request, clientAddress: string | undefined) => Promise<Response>>([
      [this.#paths.login, (request, address) => (request.method === 'POST' ? this.#postLogin(request, address) : this.#getLogin(request))],
      [this.#paths.consent, (request, address) => (request.method === 'POST' ? this.#postConsent(request, address) : this.#getConsent(request))],
      [this.#paths.tokenLogin, (request, address) => this.#postTokenLogin(request, address)],
    ]);
    for (const provider of this.#options.providers ?? []) {
      if (provider.kind === 'redirect') routes.set(`${this.#paths.callback}/${provider.id}`, (request, address) => this.#callback(request, provider.id, address));
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
    const fresh = session && (interaction.maxAge === undefined || this.#ctx.clock() - session.authTime <= interaction.maxAge * 1000);
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
    const fresh = session && (interaction.maxAge === undefined || this.#ctx.clock() - session.authTime <= interaction.maxAge * 1000);
    if (!session || !fresh) return this.#hooks.deny(interaction.interactionId, { error: 'login_required', description: 'the user is not signed in' }, method);
    const scopes = await this.#grantable(interaction, session);
    // Nothing this user may grant: completing lets the server answer invalid_scope.
    if (interaction.scopes.length && !scopes.length) return this.#hooks.complete(interaction.interactionId, this.#result(session), method);
    if (!(await this.#consentCovers(interaction, session, scopes))) {
      return this.#hooks.deny(interaction.interactionId, { error: 'consent_required', description: 'the user has not consented to these scopes' }, method);
    }
    return this.#hooks.complete(interaction.interactionId, this.#result(session, scopes), method);
  };

  /** The requested scopes this user may grant (the server's `grantableScopes`): all the consent page shows. */
  #grantable(interaction: InteractionRecord, session: BrowserSessionRecord): Promise<string[]> {
    return this.#ctx.grantableScopes({
      client: interaction.clientId,
      subject: session.subject,
      claims: session.claims,
      scopes: interaction.scopes,
      resources: interaction.resources,
      stage: 'authorization',
    });
  }

  /**
   * Remembered consent covers a request only for clients whose identity is established: confidential ones,
   * which prove it at the token endpoint, and public ones configured as `trusted`. Any other public client
   * is asked every time: anyone can register one under any name (RFC 6749 §10.2), and any local program can
   * pose as a native one on a loopback port (RFC 8252 §8.6, RFC 9700 §4.15), so silent approval would hand
   * it the user's tokens.
   */
  async #consentCovers(interaction: InteractionRecord, session: BrowserSessionRecord, scopes: string[]): Promise<boolean> {
    const client = await this.#ctx.getClient(interaction.clientId);
    const established = this.#hooks.isTrustedClient(interaction.clientId) || (client !== null && client.tokenEndpointAuthMethod !== 'none');
    if (!established) return false;
    const consent = await this.#login.getConsent(session.subject, interaction.clientId);
    return consent !== null && scopes.every((scope) => consent.scopes.includes(scope));
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

  async #postLogin(request: Request, clientAddress: string | undefined): Promise<Response> {
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
    const reserved = await this.#reservePasswordAttempt(username, clientAddress);
    if (!Array.isArray(reserved)) {
      this.#ctx.emit?.({ type: 'signin.throttled', method: 'password', clientId: interaction.clientId, sourceAddress: clientAddress }, request);
      const page = await rerender('Too many failed sign-in attempts. Wait a few minutes and try again.', username, 429);
      page.headers.set('retry-after', String(reserved.retryAfter));
      return page;
    }
    const identity = await users.verify(username, params.get('password') ?? '');
    // A failure keeps its reserved attempt: that is what counts it.
    // One message for an unknown user and a wrong password, so the form does not reveal who has an account.
    if (!identity) {
      this.#ctx.emit?.({ type: 'signin.failed', method: 'password', clientId: interaction.clientId, sourceAddress: clientAddress }, request);
      return rerender('The username or password is incorrect.', username, 401);
    }
    await this.#throttle.refund(reserved);
    this.#ctx.emit?.({ type: 'signin.succeeded', method: 'password', clientId: interaction.clientId, subject: identity.subject, sourceAddress: clientAddress }, request);
    return this.#signIn(interaction, identity);
  }

  /**
   * Counts a password attempt before the password is checked (see {@link SignInAttemptLimits}): tight per
   * username and source and per source; across sources, a username with many failures only slows down the
   * sources that have failed for it, so a guesser elsewhere cannot lock the owner out.
   */
  async #reservePasswordAttempt(username: string, clientAddress: string | undefined): Promise<ThrottleCount[] | { retryAfter: number }> {
    const limits = this.#limits;
    // Hashed: what people type into the username field is sometimes their password.
    const user = await sha256(username.toLowerCase());
    // Without the client's address there is no source to count per, and these limits are not applied
    // (docs/decisions.md): one bucket shared by every such request would let any one caller lock out all.
    if (clientAddress === undefined) return [];
    const source = throttleSource(clientAddress);
    const keys: ThrottleKey[] = [
      { key: `login:user-source:${user}:${source}`, limit: limits.perUserAndSource, windowMs: ATTEMPT_WINDOW_MS },
      { key: `login:source:${source}`, limit: limits.perSource, windowMs: ATTEMPT_WINDOW_MS },
      { key: `login:user:${user}`, limit: Infinity, windowMs: ATTEMPT_WINDOW_MS },
    ];
    const reserved = await this.#throttle.reserve(keys);
    const [pair, , account] = reserved as [ThrottleCount, ThrottleCount, ThrottleCount];
    let retryAfter = this.#throttle.retryAfter(reserved);
    if (retryAfter === null && pair.before > 0 && account.before >= limits.perUser) {
      const slowed = await this.#throttle.reserve([{ key: `login:user-slowed:${user}`, limit: limits.slowedPerMinute, windowMs: SLOWED_WINDOW_MS }]);
      reserved.push(...slowed);
      retryAfter = this.#throttle.retryAfter(slowed);
    }
    return retryAfter === null ? reserved : { retryAfter };
  }

  async #postTokenLogin(request: Request, clientAddress: string | undefined): Promise<Response> {
    if (request.method !== 'POST') return new Response(null, { status: 405, headers: { allow: 'POST' } });
    const params = await this.#form(request);
    if (params instanceof Response) return params;
    const checked = await this.#checkInteraction(request, params, true);
    if (checked instanceof Response) return checked;
    const provider = this.#options.providers?.find((candidate) => candidate.id === params.get('provider') && candidate.kind === 'token');
    const token = params.get('token');
    if (!provider || provider.kind !== 'token' || !token) return this.#error('Unknown sign-in method or missing token.');
    // Counted before the upstream check, like a password; a failure keeps its attempt.
    const reserved =
      clientAddress === undefined ? [] : await this.#throttle.reserve([{ key: `login:source:${throttleSource(clientAddress)}`, limit: this.#limits.perSource, windowMs: ATTEMPT_WINDOW_MS }]);
    const retryAfter = this.#throttle.retryAfter(reserved);
    if (retryAfter !== null) {
      this.#ctx.emit?.({ type: 'signin.throttled', method: 'token', clientId: checked.interaction.clientId, sourceAddress: clientAddress }, request);
      const page = this.#error('Too many failed sign-in attempts.', 429);
      page.headers.set('retry-after', String(retryAfter));
      return page;
    }
    let identity: UpstreamIdentity;
    try {
      identity = await provider.verifyToken(token);
    } catch {
      this.#ctx.emit?.({ type: 'signin.failed', method: 'token', provider: provider.id, clientId: checked.interaction.clientId, sourceAddress: clientAddress }, request);
      return this.#error(`Sign-in with ${provider.displayName} failed.`, 401);
    }
    await this.#throttle.refund(reserved);
    this.#ctx.emit?.({ type: 'signin.succeeded', method: 'token', provider: provider.id, clientId: checked.interaction.clientId, subject: identity.subject, sourceAddress: clientAddress }, request);
    return this.#signIn(checked.interaction, identity);
  }

  async #callback(request: Request, providerId: string, clientAddress: string | undefined): Promise<Response> {
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
      this.#ctx.emit?.({ type: 'signin.failed', method: 'redirect', provider: provider.id, clientId: interaction.clientId, sourceAddress: clientAddress }, request);
      return this.#error(`Sign-in with ${provider.displayName} failed. Start again from the application.`, 401);
    }
    // The upstream state is single-use: drop it before going on.
    await this.#ctx.store.saveInteraction({ ...interaction, loginState: undefined });
    this.#ctx.emit?.({ type: 'signin.succeeded', method: 'redirect', provider: provider.id, clientId: interaction.clientId, subject: identity.subject, sourceAddress: clientAddress }, request);
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
      authTime: this.#ctx.clock(),
      createdAt: now,
      expiresAt: now + timeout * 1000,
    };
    await this.#login.saveSession(session);
    return this.#afterLogin(interaction, session, [...setCookies, this.#cookie(this.#cookies.session, value, timeout)]);
  }

  async #afterLogin(interaction: InteractionRecord, session: BrowserSessionRecord, setCookies: string[]): Promise<Response> {
    const prompts = interaction.prompt?.split(' ') ?? [];
    const scopes = await this.#grantable(interaction, session);
    // Nothing to ask: the user may grant none of the requested scopes, and the server answers invalid_scope.
    if (interaction.scopes.length && !scopes.length) {
      return this.#withCookies(await this.#hooks.complete(interaction.interactionId, this.#result(session), 'POST'), setCookies);
    }
    if (!prompts.includes('consent') && (await this.#consentCovers(interaction, session, scopes))) {
      return this.#withCookies(await this.#hooks.complete(interaction.interactionId, this.#result(session, scopes), 'POST'), setCookies);
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
    const scopes = await this.#grantable(interaction, session);
    const descriptions = { ...DEFAULT_SCOPE_DESCRIPTIONS, ...this.#options.scopeDescriptions };
    const html = this.#pages.consentPage({
      action: this.#urls.consent,
      interactionId: interaction.interactionId,
      csrfToken,
      clientName: client?.clientName ?? interaction.clientId,
      clientId: interaction.clientId,
      redirectHost: URL.canParse(interaction.redirectUri) ? new URL(interaction.redirectUri).host || interaction.redirectUri : interaction.redirectUri,
      // Only what will be granted: scopes this user may not grant are not the user's to approve.
      scopes: scopes.map((scope) => ({ scope, description: descriptions[scope] ?? scope })),
      resources: interaction.resources,
      unverified: !this.#hooks.isConfiguredClient(interaction.clientId),
      userName: String(session.claims?.name ?? session.claims?.preferred_username ?? session.claims?.email ?? session.subject),
    });
    return htmlResponse(html);
  }

  async #postConsent(request: Request, clientAddress: string | undefined): Promise<Response> {
    const params = await this.#form(request);
    if (params instanceof Response) return params;
    const checked = await this.#checkInteraction(request, params, true);
    if (checked instanceof Response) return checked;
    const { interaction } = checked;
    const session = await this.#session(request);
    if (!session) return this.#redirect(`${this.#urls.login}?interaction=${encodeURIComponent(interaction.interactionId)}`);
    if (params.get('decision') !== 'allow') return this.#hooks.deny(interaction.interactionId, {}, 'POST');
    const scopes = await this.#grantable(interaction, session);
    if (interaction.scopes.length && !scopes.length) return this.#hooks.complete(interaction.interactionId, this.#result(session), 'POST');
    const now = this.#ctx.clock();
    const previous = await this.#login.getConsent(session.subject, interaction.clientId);
    // Remembered: what the page showed, never a scope the user could not grant.
    await this.#login.saveConsent({
      subject: session.subject,
      clientId: interaction.clientId,
      scopes: [...new Set([...(previous?.scopes ?? []), ...scopes])],
      createdAt: now,
      expiresAt: now + (this.#options.consentLifetime ?? 30 * 24 * 3600) * 1000,
    });
    this.#ctx.emit?.({ type: 'consent.given', clientId: interaction.clientId, subject: session.subject, scopes, sourceAddress: clientAddress }, request);
    return this.#hooks.complete(interaction.interactionId, this.#result(session, scopes), 'POST');
  }

  /** What the server is told: the user, and (when known) exactly the scopes the user approved. */
  #result(session: BrowserSessionRecord, scopes?: string[]): InteractionResult {
    return {
      subject: session.subject,
      ...(scopes && scopes.length > 0 && { scopes }),
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
    const session = await this.#login.getSession(await sha256(value));
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
