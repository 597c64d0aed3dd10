import { describe, expect, it } from 'vitest';
import { accessTokenRevocationKey, clientRevocationKey, grantRevocationKey } from '../../src/store/store.js';

describe('STORE-V2 revocation keys', () => {
  it('keep the string form stores already hold, so existing revocations still match', () => {
    expect(grantRevocationKey('grant-1')).toBe('grant:grant-1');
    expect(accessTokenRevocationKey('4f1c9a')).toBe('jti:4f1c9a');
    expect(clientRevocationKey('client-1')).toBe('client:client-1');
  });

  it('keep ids containing the separator whole', () => {
    expect(grantRevocationKey('a:b')).toBe('grant:a:b');
    expect(grantRevocationKey('a:b')).not.toBe(clientRevocationKey('a:b'));
  });
});
