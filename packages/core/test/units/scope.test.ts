import { describe, expect, it } from 'vitest';
import { formatScope, isScopeSubset, parseScope } from '../../src/protocol/scope.js';

describe('scope.ts', () => {
  it('parses space-delimited scope tokens, in order, without duplicates or empty tokens', () => {
    expect(parseScope(undefined)).toEqual([]);
    expect(parseScope('')).toEqual([]);
    expect(parseScope('   ')).toEqual([]);
    expect(parseScope('mcp:tools  openid')).toEqual(['mcp:tools', 'openid']);
    expect(parseScope(' openid mcp:tools openid ')).toEqual(['openid', 'mcp:tools']);
    expect(parseScope('https://api.example.com/read')).toEqual(['https://api.example.com/read']);
  });

  it('AUTHZ-AZ-05: tokens outside %x21 / %x23-5B / %x5D-7E make the whole scope malformed', () => {
    for (const bad of ['a"b', 'a\\b', 'é', 'a\tb', 'a\nb', '\u007f', 'a\u0000']) {
      expect(parseScope(`mcp:tools ${bad}`), JSON.stringify(bad)).toBeNull();
    }
    expect(parseScope('!#[]~')).toEqual(['!#[]~']);
  });

  it('formats with single spaces and compares as sets', () => {
    expect(formatScope(['mcp:tools', 'openid'])).toBe('mcp:tools openid');
    expect(formatScope([])).toBe('');
    expect(isScopeSubset([], [])).toBe(true);
    expect(isScopeSubset(['a'], ['a', 'b'])).toBe(true);
    expect(isScopeSubset(['b', 'a'], ['a', 'b'])).toBe(true);
    expect(isScopeSubset(['a', 'c'], ['a', 'b'])).toBe(false);
    // Case-sensitive, no prefix matching.
    expect(isScopeSubset(['A'], ['a'])).toBe(false);
    expect(isScopeSubset(['mcp:tool'], ['mcp:tools'])).toBe(false);
  });
});
