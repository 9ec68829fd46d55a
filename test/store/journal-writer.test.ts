// JournalWriter on real stores (memory, a SQLite file): concurrent appends become one store write
// in call order, a failed write fails the writer for good, and the heartbeat keeps the lease or
// reports that it was lost.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { JournalWriter, MemoryExecutionStore } from '../../src/store/memory.js';
import { SqliteExecutionStore } from '../../src/store/sqlite.js';
import type { ExecutionStore } from '../../src/store/types.js';
import type { StoreError } from '../../src/store/errors.js';

const dir = mkdtempSync(join(tmpdir(), 'toolexec-writer-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const stores: Array<[string, () => Promise<ExecutionStore>]> = [
  ['memory', async () => new MemoryExecutionStore()],
  ['sqlite', () => SqliteExecutionStore.open({ path: join(dir, `w-${Math.random().toString(36).slice(2)}.db`) })],
];

for (const [name, open] of stores) {
  describe(`JournalWriter on ${name}`, () => {
    it('coalesces concurrent appends into one write, in call order', async () => {
      const store = await open();
      const rec = await store.create({ principal: 'p', owner: 'o', script: '' });
      const w = new JournalWriter(store, { executionId: rec.executionId, principal: 'p', owner: 'o' }, 0);
      await w.append({ type: 'call', index: 0 });
      expect(w.writes).toBe(1);
      // Eight results arriving together (Promise.all in the guest): one write for the first,
      // one for the seven that queued behind it.
      const results = await Promise.all(Array.from({ length: 8 }, (_, i) => w.append({ type: 'result', index: i })));
      expect(w.writes).toBe(3);
      expect(results.at(-1)!.journalLength).toBe(9);
      expect(w.length).toBe(9);
      const done = await w.complete({ status: 'completed', result: 'ok', entries: [{ type: 'deliver', index: 7 }] });
      expect(done.journalLength).toBe(10);
      const got = (await store.get(rec.executionId, 'p'))!;
      expect(got.status).toBe('completed');
      expect(got.journal.map((e) => `${e.type}${e.index}`)).toEqual(['call0', ...Array.from({ length: 8 }, (_, i) => `result${i}`), 'deliver7']);
      await expect(w.append({ type: 'late' })).rejects.toThrow(/journal writer is closed/);
      await store.close();
    });

    it('fails for good when a write fails, rejecting everything queued behind it', async () => {
      const store = await open();
      const rec = await store.create({ principal: 'p', owner: 'o', script: '', maxJournalBytes: 400 });
      const failures: StoreError[] = [];
      const w = new JournalWriter(store, { executionId: rec.executionId, principal: 'p', owner: 'o' }, 0, { onFailure: (e) => failures.push(e) });
      const outcomes = await Promise.allSettled([w.append({ type: 'small' }), w.append({ type: 'big', v: 'x'.repeat(500) }), w.append({ type: 'after' })]);
      expect(outcomes.map((o) => o.status)).toEqual(['fulfilled', 'rejected', 'rejected']);
      expect(failures.map((f) => f.code)).toEqual(['JOURNAL_LIMIT']);
      await expect(w.append({ type: 'more' })).rejects.toMatchObject({ code: 'JOURNAL_LIMIT' });
      await expect(w.complete({ status: 'failed', result: null })).rejects.toMatchObject({ code: 'JOURNAL_LIMIT' });
      expect((await store.get(rec.executionId, 'p'))!.journal).toEqual([{ type: 'small' }]);
      w.close();
      await store.close();
    });

    it('renews the lease in the background, and reports a lease lost to another owner', async () => {
      const store = await open();
      const rec = await store.create({ principal: 'p', owner: 'o', script: '', leaseMs: 300 });
      const lost: StoreError[] = [];
      const w = new JournalWriter(store, { executionId: rec.executionId, principal: 'p', owner: 'o' }, 0, { heartbeatMs: 50, leaseMs: 300, onFailure: (e) => lost.push(e) });
      const first = rec.lease!.expiresAt;
      for (let i = 0; i < 100 && (await store.get(rec.executionId, 'p'))!.lease!.expiresAt === first; i++) await new Promise((r) => setTimeout(r, 20));
      expect((await store.get(rec.executionId, 'p'))!.lease!.expiresAt).toBeGreaterThan(first);
      // Another owner takes over (as after a pause longer than the lease): the next beat notices.
      w.close();
      await new Promise((r) => setTimeout(r, 350));
      await store.claim(rec.executionId, 'p', 'other');
      const w2 = new JournalWriter(store, { executionId: rec.executionId, principal: 'p', owner: 'o' }, 0, { heartbeatMs: 20, onFailure: (e) => lost.push(e) });
      for (let i = 0; i < 100 && lost.length === 0; i++) await new Promise((r) => setTimeout(r, 20));
      expect(lost.map((e) => e.code)).toEqual(['LEASE_LOST']);
      await expect(w2.append({ type: 'x' })).rejects.toMatchObject({ code: 'LEASE_LOST' });
      await store.close();
    });
  });
}
