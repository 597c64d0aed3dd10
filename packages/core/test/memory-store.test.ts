import { MemoryStore } from '@keyward/core/memory';
import { testStore } from '@keyward/core/testing';

testStore({ name: 'memory', create: (clock) => new MemoryStore({ clock }) });
