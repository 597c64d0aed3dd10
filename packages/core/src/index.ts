/**
 * `@keyward/core`: what an application mounts and implements. The authorization server, the resource-server
 * guard, MCP session binding, the errors Keyward throws, the `Store` contract and its records, the options
 * types, operations hooks (events, metrics, rate limits) and the login extension points.
 *
 * Pure OAuth helpers (PKCE, scope strings, redirect URI matching, metadata builders) are in
 * `@keyward/core/protocol`; Node-only pieces in `@keyward/core/node`; the in-memory store in
 * `@keyward/core/memory`; proxy address handling in `@keyward/core/proxy`; the conformance suites in
 * `@keyward/core/testing`. Nothing else is public: the API report in `packages/core/etc/` pins this list.
 *
 * @example
 * ```ts
 * import { AuthorizationServer } from '@keyward/core';
 * import { MemoryStore } from '@keyward/core/memory';
 *
 * const server = new AuthorizationServer({ issuer: 'https://auth.example.com', store: new MemoryStore() });
 * ```
 *
 * @module
 */

// Authorization server: the one fetch(Request) handler and its options.
export { AuthorizationServer } from './server/server.js';
export type { CreateGuardOptions, GrantSummary, RequestContext, StaticResponse } from './server/server.js';
export type {
  AuthorizationServerOptions,
  EndpointPaths,
  EndpointURLs,
  GrantableScopes,
  ProtectedResourceOptions,
  ScopeGrantRequest,
  StaticClientAuthMethod,
  StaticClientOptions,
} from './server/options.js';
export type { SigningAlgorithm } from './server/keys.js';
export type { InteractionHandler, InteractionResult, PendingAuthorization } from './login/interaction.js';
export type { ClientIdMetadataDocumentOptions, IntrospectionOptions, RegistrationOptions, RegistrationPolicy } from './server/options.js';
export type { OutboundFetch, SafeFetchOptions, SafeFetchResponse } from './protocol/outbound.js';
export type { ClientMetadata } from './protocol/client-metadata.js';

// Resource server: the bearer-token guard, MCP session binding, and the revocation list a standalone guard shares.
export { ResourceServerGuard } from './resource-server/guard.js';
export type { AuthInfo, GuardHeaderOptions, GuardRequestOptions, GuardResult, ResourceServerGuardOptions } from './resource-server/guard.js';
export { MCPSessionBinding, MCP_SESSION_NOT_FOUND } from './resource-server/mcp-session.js';
export type { SessionCheck } from './resource-server/mcp-session.js';
export { RevocationList } from './store/revocation-list.js';
export type { RevocationListOptions } from './store/revocation-list.js';

// Errors.
export { OAuthError, isOAuthError, KeywardConfigError } from './protocol/errors.js';
export type { OAuthErrorCode, OAuthErrorOptions } from './protocol/errors.js';
export { StoreUnavailableError, isTransientStoreError } from './store/store-errors.js';

// Store contract: the interface, its records, and the clock stores take.
export type * from './store/store.js';
export { accessTokenRevocationKey, clientRevocationKey, grantRevocationKey, hasLoginStore } from './store/store.js';
export { keyEncryptionFromSecret } from './store/key-encryption.js';
export type { KeyEncryption, KeyEncryptionOptions } from './store/key-encryption.js';
export { systemClock } from './protocol/clock.js';
export type { Clock } from './protocol/clock.js';

// Operations: events, metrics, rate limits.
export type { KeywardEvent, KeywardEventBase, KeywardEventType, KeywardLogger, ResponseInfo } from './operations/events.js';
export { createMetrics } from './operations/metrics.js';
export type { KeywardMetrics } from './operations/metrics.js';
export { DEFAULT_GUARD_RATE_LIMIT, DEFAULT_RATE_LIMITS } from './operations/rate-limit.js';
export type { RateLimit, RateLimitedEndpoint } from './operations/rate-limit.js';

// Login: sign-in providers and the built-in pages.
export type { PasswordAuthenticator, RedirectLoginProvider, TokenLoginProvider, UpstreamIdentity, UpstreamLoginProvider } from './login/providers.js';
export type { LoginOptions, SignInAttemptLimits } from './login/flow.js';
export { defaultLoginPages, DEFAULT_SCOPE_DESCRIPTIONS } from './login/pages.js';
export type { ConsentPageModel, LoginPageModel, LoginPageRenderer } from './login/pages.js';
