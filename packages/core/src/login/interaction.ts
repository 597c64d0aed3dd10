/**
 * The contract between the authorization server and whatever signs the user in: what a pending
 * authorization looks like, what the sign-in step answers, and (for the built-in pages) the narrow part of
 * the server they may use. The server implements {@link LoginHost} and mounts the login flow; the login
 * flow never imports the server.
 *
 * @module
 */
import type { Clock } from '../protocol/clock.js';
import type { PendingEvent } from '../operations/events.js';
import type { ClientRecord, Store } from '../store/store.js';

/** What the login and consent step learns about the user. */
export interface InteractionResult {
  /** A stable identifier of the user (for upstream providers: provider plus upstream id). */
  subject: string;
  /** Claims for userinfo and the ID token: name, email, … */
  claims?: Record<string, unknown>;
  /**
   * The scopes the user approved, a subset of those requested; default all of them. The server's
   * `grantableScopes` then keeps only those this user may grant.
   */
  scopes?: string[];
  /** Epoch milliseconds of the authentication; default now. */
  authTime?: number;
  /** The upstream provider's tokens, already encrypted (compact JWE); kept on the grant, never sent out. */
  upstreamTokens?: string;
}

/**
 * A validated authorization request waiting for login and consent, as the interaction hook sees it.
 */
export interface PendingAuthorization {
  interactionId: string;
  client: { clientId: string; clientName?: string | undefined; redirectUri: string };
  scopes: string[];
  resources: string[];
  prompt?: string | undefined;
  maxAge?: number | undefined;
}

/**
 * Renders login and consent (or redirects to the application's own pages). Whatever it does, the flow ends
 * with `server.completeInteraction(interactionId, result)` or `server.denyInteraction(interactionId)`.
 */
export type InteractionHandler = (pending: PendingAuthorization, request: Request) => Response | Promise<Response>;

/**
 * @internal What the built-in login and consent pages need from the server that mounts them, and nothing
 * more: the issuer, the Store and clock, client lookup, the user's grantable scopes and the event hook.
 */
export interface LoginHost {
  issuer: string;
  store: Store;
  clock: Clock;
  getClient(clientId: string): Promise<ClientRecord | null>;
  grantableScopes(input: {
    client: ClientRecord | string;
    subject: string;
    claims: Record<string, unknown> | undefined;
    scopes: string[];
    resources: string[];
    stage: 'authorization' | 'refresh';
  }): Promise<string[]>;
  emit?: ((event: PendingEvent, request?: Request) => void) | undefined;
}
