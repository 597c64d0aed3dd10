import { MemoryStore } from '@keyward/core/memory';
import { describeThrottleBursts } from './bursts.js';

describeThrottleBursts({ name: 'memory', create: (clock) => new MemoryStore({ clock }) });
