export { UpstreamLoginError, isUpstreamLoginError } from './errors.js';
export type { UpstreamLoginErrorCode } from './errors.js';
export { oidcProvider } from './oidc.js';
export type { OIDCLoginProvider, OIDCProviderOptions, TokenEndpointAuthMethod } from './oidc.js';
export { auth0Provider } from './auth0.js';
export type { Auth0ProviderOptions } from './auth0.js';
