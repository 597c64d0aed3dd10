import { describe, expect, it } from 'vitest';
import { appendQuery, checkRedirectUriForRegistration, redirectUriMatches } from '../../src/protocol/redirect-uri.js';

describe('redirectUriMatches', () => {
  it('AUTHZ-RURI-02: exact simple string comparison, no normalisation', () => {
    const registered = ['https://app.example.com/cb'];
    expect(redirectUriMatches(registered, 'https://app.example.com/cb')).toBe(true);
    for (const candidate of [
      'https://app.example.com/cb/',
      'https://app.example.com/cb?x=1',
      'https://app.example.com/cb/x',
      'https://APP.example.com/cb',
      'https://app.example.com:443/cb',
      'https://app.example.com/%63b',
      'https://app.example.com.evil.io/cb',
      'https://app.example.com',
      '',
    ]) {
      expect(redirectUriMatches(registered, candidate), candidate).toBe(false);
    }
    expect(redirectUriMatches([], 'https://app.example.com/cb')).toBe(false);
  });

  it('AUTHZ-RURI-03: loopback http URIs match any port (127.0.0.1, [::1], and localhost by project decision)', () => {
    expect(redirectUriMatches(['http://127.0.0.1/cb'], 'http://127.0.0.1:51004/cb')).toBe(true);
    expect(redirectUriMatches(['http://127.0.0.1:8080/cb'], 'http://127.0.0.1:51004/cb')).toBe(true);
    expect(redirectUriMatches(['http://127.0.0.1:8080/cb'], 'http://127.0.0.1/cb')).toBe(true);
    expect(redirectUriMatches(['http://[::1]/cb'], 'http://[::1]:51004/cb')).toBe(true);
    expect(redirectUriMatches(['http://localhost/cb'], 'http://localhost:6274/cb')).toBe(true);
    expect(redirectUriMatches(['http://127.0.0.1/cb?x=1'], 'http://127.0.0.1:5/cb?x=1')).toBe(true);
    expect(redirectUriMatches(['http://127.0.0.1'], 'http://127.0.0.1:5000')).toBe(true);
    expect(redirectUriMatches(['http://127.0.0.1:65535/cb'], 'http://127.0.0.1:65535/cb')).toBe(true);
  });

  it('AUTHZ-RURI-04: the loopback exception is for the port only', () => {
    const cases: [string, string][] = [
      ['http://127.0.0.1/cb', 'http://127.0.0.1:5000/cb2'],
      ['http://127.0.0.1/cb', 'http://127.0.0.1:5000/cb/'],
      ['http://127.0.0.1/cb', 'http://127.0.0.1:5000/cb?x=1'],
      ['http://127.0.0.1/cb', 'http://127.0.0.1:5000'],
      ['http://127.0.0.1/cb', 'https://127.0.0.1:5000/cb'],
      ['http://127.0.0.1/cb', 'http://localhost:5000/cb'],
      ['http://localhost/cb', 'http://127.0.0.1:5000/cb'],
      ['http://127.0.0.1/cb', 'http://[::1]:5000/cb'],
      ['http://127.0.0.1/cb', 'http://127.0.0.2:5000/cb'],
      ['http://127.0.0.1/cb', 'http://127.0.0.1.evil.io:5000/cb'],
      ['http://127.0.0.1/cb', 'http://127.0.0.1:5000@evil.io/cb'],
      ['http://127.0.0.1/cb', 'http://127.0.0.1:5000#/cb'],
      ['http://127.0.0.1/cb', 'http://127.0.0.1:/cb'],
      ['http://127.0.0.1/cb', 'http://127.0.0.1:abc/cb'],
      ['http://127.0.0.1/cb', 'http://127.0.0.1:65536/cb'],
      ['http://127.0.0.1/cb', 'http://127.0.0.1:123456/cb'],
      ['http://127.0.0.1/cb', 'HTTP://127.0.0.1:5000/cb'],
      ['https://a.example/cb', 'https://a.example:8443/cb'],
      ['http://evil.example/cb', 'http://evil.example:8443/cb'],
    ];
    for (const [registered, requested] of cases) {
      expect(redirectUriMatches([registered], requested), `${registered} vs ${requested}`).toBe(false);
    }
  });
});

describe('checkRedirectUriForRegistration', () => {
  it('accepts https, loopback http and reverse-DNS private-use schemes', () => {
    for (const uri of [
      'https://app.example.com/cb',
      'https://app.example.com/cb?x=1',
      'http://127.0.0.1/cb',
      'http://127.0.0.1:8080/cb',
      'http://[::1]/cb',
      'http://localhost:6274/oauth/callback',
      'com.example.app:/cb',
      'com.example.app://callback',
    ]) {
      expect(checkRedirectUriForRegistration(uri), uri).toBeNull();
    }
  });

  it('AUTHZ-RURI-01: a relative URI or one with a fragment is refused', () => {
    expect(checkRedirectUriForRegistration('/cb')).toMatch(/absolute/);
    expect(checkRedirectUriForRegistration('cb')).toMatch(/absolute/);
    expect(checkRedirectUriForRegistration('https://a.example/cb#x')).toMatch(/fragment/);
    expect(checkRedirectUriForRegistration('https://a.example/cb#')).toMatch(/fragment/);
  });

  it('AUTHZ-RURI-08: http is refused except for loopback hosts', () => {
    for (const uri of ['http://evil.example/cb', 'http://localhost.evil.example/cb', 'http://127.0.0.1.evil.example/cb', 'http://10.0.0.1/cb', 'http://127.0.0.1:99999/cb']) {
      expect(checkRedirectUriForRegistration(uri), uri).not.toBeNull();
    }
  });

  it('AUTHZ-RURI-09: private-use schemes without a dot need the allow-list; web clients need https', () => {
    expect(checkRedirectUriForRegistration('myapp:/cb')).toMatch(/reverse-DNS/);
    expect(checkRedirectUriForRegistration('cursor://anysphere.cursor-mcp/oauth/callback')).not.toBeNull();
    expect(checkRedirectUriForRegistration('cursor://anysphere.cursor-mcp/oauth/callback', { allowedSchemes: ['cursor'] })).toBeNull();
    expect(checkRedirectUriForRegistration('com.example.app:/cb', { applicationType: 'web' })).toMatch(/https/);
    expect(checkRedirectUriForRegistration('https://a.example/cb', { applicationType: 'web' })).toBeNull();
  });

  it('AUTHZ-RURI-10: dangerous schemes and user information are refused, even when allow-listed', () => {
    for (const uri of ['javascript:alert(1)', 'JAVASCRIPT:alert(1)', 'data:text/html,<script>x</script>', 'file:///etc/passwd', 'vbscript:msgbox', 'blob:https://a/x', 'about:blank']) {
      expect(checkRedirectUriForRegistration(uri, { allowedSchemes: ['javascript', 'data', 'file', 'vbscript', 'blob', 'about'] }), uri).not.toBeNull();
    }
    expect(checkRedirectUriForRegistration('https://user:pass@app.example.com/cb')).toMatch(/user information/);
    expect(checkRedirectUriForRegistration('https://user@app.example.com/cb')).toMatch(/user information/);
  });
});

describe('appendQuery', () => {
  it('AUTHZ-RURI-01: keeps the redirect URI query component', () => {
    expect(appendQuery('https://a.example/cb?x=1', { code: 'abc' })).toBe('https://a.example/cb?x=1&code=abc');
    expect(appendQuery('https://a.example/cb', { code: 'abc', state: 's' })).toBe('https://a.example/cb?code=abc&state=s');
    expect(appendQuery('https://a.example/cb?', { code: 'abc' })).toBe('https://a.example/cb?code=abc');
    expect(appendQuery('https://a.example/cb?x=1&', { code: 'abc' })).toBe('https://a.example/cb?x=1&code=abc');
  });

  it('AUTHZ-RURI-10: encodes every value and skips undefined ones', () => {
    const uri = appendQuery('https://a.example/cb', { state: '<script>"&code=x#y', error: undefined, iss: 'http://localhost:3009' });
    expect(uri).toBe('https://a.example/cb?state=%3Cscript%3E%22%26code%3Dx%23y&iss=http%3A%2F%2Flocalhost%3A3009');
    expect(new URL(uri).searchParams.get('state')).toBe('<script>"&code=x#y');
    expect(appendQuery('https://a.example/cb', { state: undefined })).toBe('https://a.example/cb');
    expect(appendQuery('https://a.example/cb', { state: 'a b+c' })).toBe('https://a.example/cb?state=a+b%2Bc');
  });
});
