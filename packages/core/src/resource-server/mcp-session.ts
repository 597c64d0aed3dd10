import type { AuthInfo } from './guard.js';

/** Whose an MCP session is: the grant (user × client) of the token that opened it. */
interface SessionOwner {
  owner: string;
  clientId: string;
  subject: string | undefined;
}

/** The outcome of {@link MCPSessionBinding.check}. */
export type SessionCheck = 'ok' | 'unknown' | 'foreign';

function ownerOf(auth: AuthInfo): SessionOwner {
  const grantId = auth.extra?.grantId;
  const subject = auth.extra?.subject;
  // A client_credentials token speaks for the client itself (sub = client_id) and each one has a fresh
  // grant, so the client, not the grant, owns its sessions.
  const owner = subject === auth.clientId || !grantId ? `client:${auth.clientId}` : `grant:${grantId}`;
  return { owner, clientId: auth.clientId, subject };
}

/**
 * Binds MCP sessions (`Mcp-Session-Id`) to the grant and client of the access token that opened them. A
 * refreshed token of the same grant keeps its sessions, so reconnects resume; a token of another grant or
 * client cannot use them, so a stolen session id is worthless without the matching token. Answer a
 * `foreign` session exactly like an unknown one (404), so session ids cannot be probed.
 *
 * @example
 * ```ts
 * const sessions = new MCPSessionBinding();
 * // after the transport created a session:
 * sessions.bind(sessionId, req.auth!);
 * // on every later request carrying Mcp-Session-Id:
 * if (sessions.check(sessionId, req.auth!) !== 'ok') return res.status(404).json(sessionNotFound);
 * ```
 * @see [MCP Streamable HTTP: session management](https://modelcontextprotocol.io/specification/2025-06-18/basic/transports#session-management)
 * @see [RFC 9700 §4.10](https://www.rfc-editor.org/rfc/rfc9700#section-4.10)
 */
export class MCPSessionBinding {
  readonly #sessions = new Map<string, SessionOwner>();
  readonly #acrossGrants: boolean;

  /**
   * @param options.acrossGrants Let a session belong to the user and client rather than to one grant, so
   * that a re-authorization (a step-up to more scopes creates a new grant) keeps it. Another user or
   * another client is still refused. Default false: a session belongs to exactly one grant.
   */
  constructor(options: { acrossGrants?: boolean } = {}) {
    this.#acrossGrants = options.acrossGrants ?? false;
  }

  /** Records that `sessionId` belongs to the grant and client of `auth`. */
  bind(sessionId: string, auth: AuthInfo): void {
    this.#sessions.set(sessionId, ownerOf(auth));
  }

  /** Whether `auth` may use `sessionId`: `ok`, `unknown` (never bound or released), or `foreign`. */
  check(sessionId: string, auth: AuthInfo): SessionCheck {
    const bound = this.#sessions.get(sessionId);
    if (!bound) return 'unknown';
    const presented = ownerOf(auth);
    if (bound.owner === presented.owner && bound.clientId === presented.clientId) return 'ok';
    const sameUser = bound.subject !== undefined && bound.subject === presented.subject;
    return this.#acrossGrants && bound.clientId === presented.clientId && sameUser ? 'ok' : 'foreign';
  }

  /** Forgets a closed session. */
  release(sessionId: string): void {
    this.#sessions.delete(sessionId);
  }

  /** How many sessions are bound. */
  get size(): number {
    return this.#sessions.size;
  }
}

/**
 * The JSON-RPC error body for a session that does not exist (or belongs to someone else), sent with 404.
 *
 * @example
 * ```ts
 * res.status(404).json(MCP_SESSION_NOT_FOUND);
 * ```
 */
export const MCP_SESSION_NOT_FOUND = Object.freeze({
  jsonrpc: '2.0',
  error: { code: -32001, message: 'Session not found' },
  id: null,
});
