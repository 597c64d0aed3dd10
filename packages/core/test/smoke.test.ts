import { expect, it } from 'vitest';
import { parseScope } from '@keyward/core';
it('resolves source', () => { expect(parseScope('a b')).toEqual(['a', 'b']); });
