// The memory store: the shared contract with a fake clock, plus its own bound on how many
// executions it holds.
import { describe, expect, it } from 'vitest';
import { MemoryExecutionStore } from '../../src/store/memory.js';
import { defineStoreContract, storeError } from './contract.js';

defineStoreContract('memory', async (options) => {
  let now = Date.now();
  const store = new MemoryExecutionStore({ ...options, clock: () => now });
  // One process, one heap: the "second instance" is the same store.
  return { a: store, b: store, elapse: async (ms) => void (now += ms), close: () => store.close() };
});

describe('memory store', () => {
  it('says it is not durable', () => {
    const store = new MemoryExecutionStore();
    expect(store.durability.level).toBe('none');
    expect(store.durability.summary).toMatch(/lost when this process exits/);
  });

  it('holds at most maxExecutions live executions, reclaiming expired ones first', async () => {
    let now = 1_000_000;
    const store = new MemoryExecutionStore({ maxExecutions: 3, clock: () => now });
    const make = (ttlMs: number) => store.create({ principal: 'p', owner: 'o', script: '', ttlMs });
    await make(100);
    await make(60_000);
    await make(60_000);
    const full = await storeError(make(60_000), 'STORE_FULL');
    expect(full.message).toMatch(/holds 3 live executions, its maxExecutions/);
    now += 200;
    await make(60_000); // the expired one made room
    await storeError(make(60_000), 'STORE_FULL');
  });

  it('rejects bad options by name', () => {
    expect(() => new MemoryExecutionStore({ maxExecutions: 0 })).toThrow(/maxExecutions must be an integer from 1/);
    expect(() => new MemoryExecutionStore({ leaseMs: 1.5 })).toThrow(/memory store option leaseMs must be an integer/);
    expect(() => new MemoryExecutionStore({ clock: 5 as never })).toThrow(/clock must be a function/);
  });
});
