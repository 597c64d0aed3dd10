import { describe, expect, it } from 'vitest';
import { parseBasicCredentials } from '../../src/server/client-auth.js';

const basic = (raw: string) => `Basic ${Buffer.from(raw, 'utf8').toString('base64')}`;

describe('parseBasicCredentials', () => {
  it("AUTHZ-CAUTH-03: form-urldecodes id and secret: 'a%3Ab%25' is the client id a:b%", () => {
    expect(parseBasicCredentials(basic('a%3Ab%25:secret'))).toEqual({ clientId: 'a:b%', clientSecret: 'secret' });
    expect(parseBasicCredentials(basic('client:p%40ss+word%3A%25'))).toEqual({ clientId: 'client', clientSecret: 'p@ss word:%' });
    expect(parseBasicCredentials(basic('client:%C3%A9t%C3%A9'))).toEqual({ clientId: 'client', clientSecret: 'été' });
  });

  it('AUTHZ-CAUTH-03: splits at the first colon; the secret may hold more', () => {
    expect(parseBasicCredentials(basic('client:a:b'))).toEqual({ clientId: 'client', clientSecret: 'a:b' });
    expect(parseBasicCredentials(basic('client:'))).toEqual({ clientId: 'client', clientSecret: '' });
  });

  it('AUTHZ-CAUTH-03: strict: malformed escapes, a missing colon or an empty id are failures', () => {
    expect(parseBasicCredentials(basic('a%3Ab%2:secret'))).toBeNull();
    expect(parseBasicCredentials(basic('client:p%ZZ'))).toBeNull();
    expect(parseBasicCredentials(basic('client:%'))).toBeNull();
    expect(parseBasicCredentials(basic('no-colon'))).toBeNull();
    expect(parseBasicCredentials(basic(':secret'))).toBeNull();
    expect(parseBasicCredentials('Basic !!!')).toBeNull();
    expect(parseBasicCredentials('Basic')).toBeNull();
    expect(parseBasicCredentials('Bearer abc')).toBeNull();
    expect(parseBasicCredentials(`Basic ${Buffer.from('a:b').toString('base64')} extra`)).toBeNull();
  });

  it('accepts the scheme in any case and extra spaces around the token', () => {
    const token = Buffer.from('client:secret').toString('base64');
    expect(parseBasicCredentials(`basic ${token}`)).toEqual({ clientId: 'client', clientSecret: 'secret' });
    expect(parseBasicCredentials(`BASIC   ${token}  `)).toEqual({ clientId: 'client', clientSecret: 'secret' });
  });
});
