/**
 * Type tests of the public API, checked by `pnpm lint` (tsc over every test folder): nothing here runs.
 * A drift between a public type and what it promises is a compile error.
 */
import { expectTypeOf } from 'vitest';
import type { z } from 'zod';
import type {
  AuthorizationCodeRecord,
  AuthorizationServerOptions,
  ClientRecord,
  ConsumedAuthorizationCode,
  CounterState,
  GrantRecord,
  InteractionRecord,
  RefreshRotation,
  RefreshTokenRecord,
  RevocationRecord,
  SigningKeyRecord,
  StaticClientOptions,
  Store,
} from '@keyward/core';
import type { optionsSchema } from '../../src/server/options.js';

type SchemaInput = z.input<typeof optionsSchema>;

// Options: the runtime schema validates exactly the options the type declares (an option added to one
// and not the other fails here) ...
expectTypeOf<keyof SchemaInput>().toEqualTypeOf<keyof AuthorizationServerOptions>();
// ... and every options object the type allows gets past the schema's types: a schema narrower than the type
// (an option value the type promises that the server then refuses at start-up) fails here.
// The passthrough objects (login, devLogin, clientIdMetadataDocuments) are left out: zod gives them an index
// signature that no interface has; their keys are still compared above.
type Passthrough = 'login' | 'devLogin' | 'clientIdMetadataDocuments';
export const typedOptionsFitTheSchema = (options: Omit<AuthorizationServerOptions, Passthrough>): Omit<SchemaInput, Passthrough> => options;
export const typedClientsFitTheSchema = (client: StaticClientOptions): NonNullable<SchemaInput['clients']>[number] => client;
// The options the schema checks field by field have the same shape on both sides.
expectTypeOf<NonNullable<SchemaInput['ttl']>>().toEqualTypeOf<NonNullable<AuthorizationServerOptions['ttl']>>();
expectTypeOf<NonNullable<SchemaInput['paths']>>().toEqualTypeOf<NonNullable<AuthorizationServerOptions['paths']>>();
expectTypeOf<NonNullable<SchemaInput['scopes']>>().toEqualTypeOf<NonNullable<AuthorizationServerOptions['scopes']>>();
expectTypeOf<SchemaInput['issuer']>().toEqualTypeOf<AuthorizationServerOptions['issuer']>();

/**
 * Store: a minimal implementation from the exported types alone compiles, without the optional `close` and
 * without the login group (sessions and consents), which only the built-in login needs.
 */
export class MinimalStore implements Store {
  async getClient(_clientId: string): Promise<ClientRecord | null> { return null; }
  async saveClient(_client: ClientRecord): Promise<void> {}
  async deleteClient(_clientId: string): Promise<void> {}
  async saveGrant(_grant: GrantRecord): Promise<void> {}
  async getGrant(_grantId: string): Promise<GrantRecord | null> { return null; }
  async listGrants(_subject: string): Promise<GrantRecord[]> { return []; }
  async revokeGrant(_grantId: string, _revokedAt: number): Promise<void> {}
  async saveAuthorizationCode(_code: AuthorizationCodeRecord): Promise<void> {}
  async getAuthorizationCode(_codeHash: string): Promise<AuthorizationCodeRecord | null> { return null; }
  async consumeAuthorizationCode(_codeHash: string): Promise<ConsumedAuthorizationCode | null> { return null; }
  async saveRefreshToken(_token: RefreshTokenRecord): Promise<void> {}
  async getRefreshToken(_tokenHash: string): Promise<RefreshTokenRecord | null> { return null; }
  async rotateRefreshToken(_presentedHash: string, _successor: RefreshTokenRecord): Promise<RefreshRotation> { throw new Error('not implemented'); }
  async addRevocation(_revocation: RevocationRecord): Promise<void> {}
  async listRevocations(_since: number): Promise<RevocationRecord[]> { return []; }
  async saveInteraction(_interaction: InteractionRecord): Promise<void> {}
  async getInteraction(_interactionId: string): Promise<InteractionRecord | null> { return null; }
  async consumeInteraction(_interactionId: string): Promise<InteractionRecord | null> { return null; }
  async listSigningKeys(): Promise<SigningKeyRecord[]> { return []; }
  async saveSigningKey(_key: SigningKeyRecord): Promise<void> {}
  async markUsed(_key: string, _expiresAt: number): Promise<boolean> { return true; }
  async incrementCounter(_key: string, _windowMs: number): Promise<CounterState> { throw new Error('not implemented'); }
  async getCounter(_key: string): Promise<CounterState | null> { return null; }
  async purgeExpired(): Promise<number> { return 0; }
}

// A store without one of the required methods is not a Store.
// @ts-expect-error consumeAuthorizationCode is required
export const incomplete: Store = {} as Omit<Store, 'consumeAuthorizationCode'>;
// Nor is one whose single-use consume may answer a plain record instead of the consumed code.
// @ts-expect-error consumeAuthorizationCode resolves to ConsumedAuthorizationCode | null
export const wrongConsume: Store = { ...({} as Store), consumeAuthorizationCode: async (_hash: string): Promise<string> => '' };
// close() is optional.
expectTypeOf<Store['close']>().toEqualTypeOf<(() => Promise<void>) | undefined>();
