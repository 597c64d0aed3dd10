/**
 * SEC-JSON-01: the duplicate-member check behind every JSON body Keyward parses. JSON.parse keeps the last
 * of two equal names silently; a request that repeats one is refused, like a repeated form parameter.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseJSONBody } from '../../src/protocol/http.js';

const SEED = Number(process.env.FUZZ_SEED ?? 0x5eed);

describe('SEC-JSON-01: repeated member names are found in any object, after unescaping', () => {
  it('SEC-JSON-01: a repeated name at the top, in nested objects and in objects inside arrays is refused', () => {
    const refused = [
      '{"a":1,"a":2}',
      '{"a":1,"\\u0061":2}', // the same name, escaped
      '{"\\u0061":1,"a":2}',
      '{"a\\"b":1,"a\\u0022b":2}',
      '{"x":{"a":1,"b":{"c":[1,{"d":1,"d":2}]}}}',
      '[{"ok":1},{"a":1,"b":2,"a":3}]',
      '{"outer":{"a":1,"a":1}}',
      '{"redirect_uris":["https://a.example/cb"],"redirect_uris":["https://evil.example/cb"]}',
      ' { "grant_type" : "x" , "grant_type" : "y" } ',
      '{"__proto__":1,"__proto__":2}',
      '{"":1,"":2}',
    ];
    for (const text of refused) expect(() => parseJSONBody(text), text).toThrow(/appears twice/);
  });

  it('SEC-JSON-01: equal names in different objects, names inside string values, and look-alikes are accepted', () => {
    const accepted = [
      '{"a":{"a":{"a":1}}}',
      '[{"a":1},{"a":2}]',
      '{"a":"\\"a\\":1,","b":"{\\"a\\":2}"}',
      '{"a":["a","a"],"b":"a"}',
      '{"a":1,"A":2,"a ":3}',
      '{"a\\\\":1,"a":2}',
      '{"x":{"a":1},"a":2}',
      '{"x":[],"y":{},"z":[{}]}',
      '"just a string"',
      '[1,2,3]',
    ];
    for (const text of accepted) expect(parseJSONBody(text), text).toEqual(JSON.parse(text));
  });

  it('SEC-JSON-01: syntax errors are still syntax errors', () => {
    for (const text of ['', '{', '{"a":1,}', '{"a" 1}', "{'a':1}"]) expect(() => parseJSONBody(text), text).toThrow(SyntaxError);
    for (const text of ['', '{', '{"a":1,}']) expect(() => parseJSONBody(text), text).not.toThrow(/appears twice/);
  });

  it('SEC-JSON-01: property: any JSON text without repeats parses as JSON.parse does; adding a repeat is always found', () => {
    const runs = Number(process.env.FUZZ_RUNS ?? 300);
    // Member names drawn from a tiny alphabet, so nesting often reuses them across objects.
    const name = fc.constantFrom('a', 'b', 'é', 'a"', '\\', '\u2028', 'ab');
    const value = fc.letrec((tie) => ({
      node: fc.oneof({ depthSize: 'small' }, fc.string(), fc.integer(), fc.boolean(), fc.constant(null), fc.array(tie('node'), { maxLength: 3 }), tie('object')),
      object: fc.uniqueArray(fc.tuple(name, tie('node')), { selector: ([key]) => key, maxLength: 4 }).map((entries) => Object.fromEntries(entries)),
    })).node;
    // Serialises like JSON.stringify, escaping some member names as a client is free to (`a` as `\u0061`).
    const serialize = (node: unknown, mask: number): string => {
      if (Array.isArray(node)) return `[${node.map((item) => serialize(item, mask)).join(',')}]`;
      if (node === null || typeof node !== 'object') return JSON.stringify(node);
      return `{${Object.entries(node)
        .map(([key, item], index) => `${(mask >> index) & 1 ? JSON.stringify(key).replace(/a/g, '\\u0061') : JSON.stringify(key)}:${serialize(item, mask)}`)
        .join(',')}}`;
    };
    fc.assert(
      fc.property(value, fc.nat(), (tree, mask) => {
        const text = serialize(tree, mask);
        expect(parseJSONBody(text)).toEqual(JSON.parse(text));
        if (tree && typeof tree === 'object' && !Array.isArray(tree) && Object.keys(tree).length) {
          const [first] = Object.keys(tree);
          const repeated = `${text.slice(0, -1)},${JSON.stringify(first).replace(/a/g, '\\u0061')}:0}`;
          expect(() => parseJSONBody(repeated), repeated).toThrow(/appears twice/);
        }
      }),
      { seed: SEED, numRuns: runs },
    );
  });
});
