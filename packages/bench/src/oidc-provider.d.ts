// oidc-provider ships no types; servers/oidc-provider.ts declares the part of its Provider it uses.
declare module 'oidc-provider' {
  const Provider: unknown;
  export default Provider;
}
