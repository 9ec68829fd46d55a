/**
 * The execution-store contract: one set of behaviours every store must show, run against the
 * real thing (memory, a SQLite file, a real redis-server). Each store's test file calls
 * `defineStoreContract(name, env)`, where `env(options)` opens two store instances on the same
 * backing data (two connections to one file or server; for memory, one instance twice) and a way
 * to let time pass (a shared fake clock, or real sleeping where the clock is the server's).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { StoreError, type StoreErrorCode } from '../../src/store/errors.js';
import { isExecutionId } from '../../src/store/ids.js';
import type { ExecutionStore, JournalEntry, StoreOptions, WriterRef } from '../../src/store/types.js';

export interface StoreEnv {
  a: ExecutionStore;
  b: ExecutionStore;
  /** Lets `ms` pass for leases and expiry: advances a fake clock, or sleeps. */
  elapse(ms: number): Promise<void>;
  close(): Promise<void>;
}

export type StoreEnvFactory = (options?: StoreOptions) => Promise<StoreEnv>;

/** Rejects with a StoreError of `code`; returns it for further checks. */
export async function storeError(p: Promise<unknown>, code: StoreErrorCode): Promise<StoreError> {
  try {
    await p;
  } catch (e) {
    expect(e, `expected StoreError ${code}, got ${String(e)}`).toBeInstanceOf(StoreError);
    expect((e as StoreError).code, (e as Error).message).toBe(code);
    return e as StoreError;
  }
  throw new Error(`expected a StoreError ${code}, but the call succeeded`);
}

const P = 'principal-alice';
const MALLORY = 'principal-mallory';
const HOST_A = 'host-a:1:x';
const HOST_B = 'host-b:2:y';

export function defineStoreContract(name: string, makeEnv: StoreEnvFactory): void {
  describe(`${name} store contract`, () => {
    const open: StoreEnv[] = [];
    async function env(options?: StoreOptions): Promise<StoreEnv> {
      const e = await makeEnv(options);
      open.push(e);
      return e;
    }
    afterEach(async () => {
      while (open.length) await open.pop()!.close();
    });

    async function started(store: ExecutionStore, extra: Record<string, unknown> = {}) {
      const rec = await store.create({ principal: P, owner: HOST_A, script: 'return await run("math:add", { a: 1, b: 2 })', options: { runtime: 'quickjs', limits: { timeoutMs: 5000 } }, ...extra });
      const ref: WriterRef = { executionId: rec.executionId, principal: P, owner: HOST_A };
      return { rec, ref };
    }

    it('creates a running execution leased to its creator, and reads it back whole', async () => {
      const { a, b } = await env();
      const { rec } = await started(a);
      expect(isExecutionId(rec.executionId)).toBe(true);
      expect(rec).toMatchObject({ principal: P, status: 'running', journalLength: 0, journal: [], pending: [], lease: { owner: HOST_A } });
      expect(rec.options).toEqual({ runtime: 'quickjs', limits: { timeoutMs: 5000 } });
      expect(rec.result).toBeUndefined();
      expect(rec.expiresAt).toBe(rec.createdAt + rec.ttlMs);
      expect(rec.lease!.expiresAt).toBeGreaterThan(rec.createdAt);
      // The other instance (another connection to the same file or server) sees the same record.
      expect(await b.get(rec.executionId, P)).toEqual(rec);
    });

    it('hands out IDs of 128 random bits: distinct, well-formed, with no bit stuck', async () => {
      const { a } = await env();
      const ids = new Set<string>();
      for (let i = 0; i < 300; i++) ids.add((await a.create({ principal: P, owner: HOST_A, script: '' })).executionId);
      expect(ids.size).toBe(300);
      const ones = new Array(128).fill(0);
      for (const id of ids) {
        expect(isExecutionId(id)).toBe(true);
        const bytes = Buffer.from(id, 'base64url');
        expect(bytes.length).toBe(16);
        for (let bit = 0; bit < 128; bit++) ones[bit] += (bytes[bit >> 3]! >> (7 - (bit & 7))) & 1;
      }
      // A counter or a timestamp in the ID leaves bits (nearly) constant; random bits are set
      // about half the time. 300 draws: mean 150, sd 8.7; [60, 240] is over 10 sd wide.
      for (let bit = 0; bit < 128; bit++) expect(ones[bit], `bit ${bit}`).toBeGreaterThan(60);
      for (let bit = 0; bit < 128; bit++) expect(ones[bit], `bit ${bit}`).toBeLessThan(240);
    });

    it('keeps principals apart: another principal is told exactly what a missing ID gets', async () => {
      const { a, b } = await env();
      const { rec, ref } = await started(a);
      await a.append(ref, [{ type: 'result', index: 0, value: 'secret' }], 0);
      const missing = 'AAAAAAAAAAAAAAAAAAAAAA';
      expect(await b.get(rec.executionId, MALLORY)).toBeUndefined();
      expect(await b.list(MALLORY)).toEqual({ executions: [] });
      expect(await b.delete(rec.executionId, MALLORY)).toBe(false);
      const theirs = { ...ref, principal: MALLORY };
      const attempts: Array<[string, (id: string) => Promise<unknown>]> = [
        ['append', (id) => b.append({ ...theirs, executionId: id }, [{ type: 'x' }], 1)],
        ['renew', (id) => b.renew({ ...theirs, executionId: id })],
        ['release', (id) => b.release({ ...theirs, executionId: id })],
        ['suspend', (id) => b.suspend({ ...theirs, executionId: id }, { pending: [{ callId: 'c0', toolId: 't:x', args: {} }], expectedLength: 1 })],
        ['complete', (id) => b.complete({ ...theirs, executionId: id }, { status: 'completed', result: 1, expectedLength: 1 })],
        ['decide', (id) => b.decide(id, MALLORY, [{ callId: 'c0', action: 'approve' }])],
        ['claim', (id) => b.claim(id, MALLORY, HOST_B)],
      ];
      for (const [op, attempt] of attempts) {
        const forTheirs = await storeError(attempt(rec.executionId), 'NOT_FOUND');
        const forMissing = await storeError(attempt(missing), 'NOT_FOUND');
        expect(forTheirs.message.replace(rec.executionId, 'ID'), op).toBe(forMissing.message.replace(missing, 'ID'));
        expect(forTheirs.message, op).not.toMatch(/secret|alice/);
        expect(Object.keys(forTheirs.data), op).toEqual(['executionId']);
      }
      // Nothing of the above touched the owner's execution.
      const mine = await a.get(rec.executionId, P);
      expect(mine).toMatchObject({ status: 'running', journalLength: 1, lease: { owner: HOST_A } });
      expect(mine!.journal).toEqual([{ type: 'result', index: 0, value: 'secret' }]);
    });

    it('answers malformed IDs as missing, and misuse with INVALID_ARGUMENT naming the problem', async () => {
      const { a } = await env();
      const { ref } = await started(a);
      for (const id of ['', 'short', '../../../etc/passwd', 'x'.repeat(10_000), 'AAAAAAAAAAAAAAAAAAAAA*', "AAAAAAAAAAAAAAAAAAAAA' OR 1=1"]) {
        expect(await a.get(id, P)).toBeUndefined();
        await storeError(a.claim(id, P, HOST_B), 'NOT_FOUND');
        await storeError(a.append({ ...ref, executionId: id }, [{ type: 'x' }], 0), 'NOT_FOUND');
        // Every other way in says the same: the ID checks are shared by all stores.
        const bad = { ...ref, executionId: id };
        await storeError(a.renew(bad), 'NOT_FOUND');
        await storeError(a.release(bad), 'NOT_FOUND');
        await storeError(a.suspend(bad, { pending: [{ callId: 'c0', toolId: 't:x', args: {} }], expectedLength: 0 }), 'NOT_FOUND');
        await storeError(a.complete(bad, { status: 'completed', result: 1, expectedLength: 0 }), 'NOT_FOUND');
        await storeError(a.decide(id, P, [{ callId: 'c0', action: 'approve' }]), 'NOT_FOUND');
        expect(await a.delete(id, P)).toBe(false);
      }
      expect((await storeError(a.get(42 as unknown as string, P), 'INVALID_ARGUMENT')).message).toMatch(/executionId must be a string/);
      expect((await storeError(a.get(ref.executionId, ''), 'INVALID_ARGUMENT')).message).toMatch(/principal must be a non-empty string/);
      expect((await storeError(a.create({ principal: P, owner: '', script: '' }), 'INVALID_ARGUMENT')).message).toMatch(/owner must be/);
      expect((await storeError(a.create({ principal: P, owner: HOST_A, script: 1 as unknown as string }), 'INVALID_ARGUMENT')).message).toMatch(/script must be a string/);
      expect((await storeError(a.create({ principal: P, owner: HOST_A, script: '', ttlMs: 0 }), 'INVALID_ARGUMENT')).message).toMatch(/ttlMs must be an integer/);
      expect((await storeError(a.create({ principal: P, owner: HOST_A, script: '', options: { n: 1n } as never }), 'INVALID_ARGUMENT')).message).toMatch(/options is not JSON-serializable/);
      expect((await storeError(a.append(ref, [], 0), 'INVALID_ARGUMENT')).message).toMatch(/at least one entry/);
      expect((await storeError(a.append(ref, [{ type: 'ok' }, { kind: 'no type' } as unknown as JournalEntry], 0), 'INVALID_ARGUMENT')).message).toMatch(/entries\[1\] must be an object with a non-empty string "type"/);
      expect((await storeError(a.append(ref, [{ type: 'x', v: 1n }], 0), 'INVALID_ARGUMENT')).message).toMatch(/entries\[0\] is not JSON-serializable/);
      expect((await storeError(a.append(ref, [{ type: 'x' }], -1), 'INVALID_ARGUMENT')).message).toMatch(/expectedLength must be/);
      expect((await storeError(a.renew(ref, 0), 'INVALID_ARGUMENT')).message).toMatch(/leaseMs must be an integer/);
      expect((await storeError(a.list(P, { status: 'done' as never }), 'INVALID_ARGUMENT')).message).toMatch(/status filter "done" is not one of running, suspended, completed, failed/);
      expect((await storeError(a.list(P, { cursor: 'bogus' }), 'INVALID_ARGUMENT')).message).toMatch(/cursor is not one this store issued/);
      const dup = [{ callId: 'c0', toolId: 't:x', args: {} }, { callId: 'c0', toolId: 't:y', args: {} }];
      expect((await storeError(a.suspend(ref, { pending: dup, expectedLength: 0 }), 'INVALID_ARGUMENT')).message).toMatch(/appears twice/);
      expect((await storeError(a.suspend(ref, { pending: [], expectedLength: 0 }), 'INVALID_ARGUMENT')).message).toMatch(/non-empty array/);
      expect((await storeError(a.suspend(ref, { pending: [{ callId: 'c 0', toolId: 't:x', args: {} }], expectedLength: 0 }), 'INVALID_ARGUMENT')).message).toMatch(/visible ASCII/);
      expect((await storeError(a.complete(ref, { status: 'done' as never, result: 1, expectedLength: 0 }), 'INVALID_ARGUMENT')).message).toMatch(/'completed' or 'failed'/);
      // None of that wrote anything.
      expect((await a.get(ref.executionId, P))!.journalLength).toBe(0);
    });

    it('appends in order and refuses a stale expectedLength without writing anything', async () => {
      const { a } = await env();
      const { ref } = await started(a);
      let w = await a.append(ref, [{ type: 'call', index: 0, toolId: 'math:add', argsHash: 'h0' }], 0);
      expect(w.journalLength).toBe(1);
      w = await a.append(ref, [{ type: 'result', index: 0, value: { sum: 3 } }, { type: 'deliver', index: 0 }], w.journalLength);
      expect(w.journalLength).toBe(3);
      const conflict = await storeError(a.append(ref, [{ type: 'late' }], 1), 'CONFLICT');
      expect(conflict.data).toMatchObject({ expectedLength: 1, journalLength: 3 });
      expect(conflict.message).toMatch(/expected a journal of 1 entries, found 3/);
      const rec = (await a.get(ref.executionId, P))!;
      expect(rec.journal).toEqual([
        { type: 'call', index: 0, toolId: 'math:add', argsHash: 'h0' },
        { type: 'result', index: 0, value: { sum: 3 } },
        { type: 'deliver', index: 0 },
      ]);
      expect(rec.journalLength).toBe(3);
      expect(rec.bytes).toBe(w.bytes);
      expect(rec.updatedAt).toBe(w.updatedAt);
      // Reads are copies: changing one changes nothing stored.
      (rec.journal[0] as unknown as { toolId: string }).toolId = 'evil:tool';
      expect((await a.get(ref.executionId, P))!.journal[0]).toMatchObject({ toolId: 'math:add' });
    });

    it('two writers on two instances never interleave: every batch lands whole, each in its writer\'s order', async () => {
      const { a, b } = await env();
      const { ref } = await started(a);
      const batches = 15;
      let conflicts = 0;
      const writer = async (store: ExecutionStore, w: string) => {
        let length = 0;
        for (let i = 0; i < batches; i++) {
          const batch = [0, 1, 2].map((k) => ({ type: 'x', w, i, k }));
          for (;;) {
            try {
              length = (await store.append(ref, batch, length)).journalLength;
              break;
            } catch (e) {
              if (!StoreError.is(e, 'CONFLICT')) throw e;
              conflicts++;
              length = e.data.journalLength as number;
            }
          }
        }
      };
      await Promise.all([writer(a, 'A'), writer(b, 'B')]);
      const { journal } = (await a.get(ref.executionId, P))!;
      expect(journal.length).toBe(2 * batches * 3);
      const seen = { A: -1, B: -1 };
      for (let j = 0; j < journal.length; j += 3) {
        const [x, y, z] = journal.slice(j, j + 3) as unknown as Array<{ w: 'A' | 'B'; i: number; k: number }>;
        expect([x!.k, y!.k, z!.k]).toEqual([0, 1, 2]);
        expect(new Set([x!.w, y!.w, z!.w]).size).toBe(1);
        expect(new Set([x!.i, y!.i, z!.i]).size).toBe(1);
        expect(x!.i).toBe(seen[x!.w] + 1);
        seen[x!.w] = x!.i;
      }
      expect(seen).toEqual({ A: batches - 1, B: batches - 1 });
      // Both started at length 0, so at least the first append of one of them conflicted.
      expect(conflicts).toBeGreaterThan(0);
    });

    it('bounds the bytes an execution holds, refusing the write that would pass maxJournalBytes', async () => {
      const { a } = await env({ maxJournalBytes: 2000 });
      await storeError(a.create({ principal: P, owner: HOST_A, script: 'x'.repeat(2001) }), 'JOURNAL_LIMIT');
      // A per-execution bound may be lower than the store's, never higher.
      const capped = await a.create({ principal: P, owner: HOST_A, script: '', maxJournalBytes: 10_000 });
      expect(capped.maxJournalBytes).toBe(2000);
      const { rec, ref } = await started(a);
      const base = rec.bytes;
      expect(base).toBe(Buffer.byteLength(rec.script) + Buffer.byteLength(JSON.stringify(rec.options)));
      const big = { type: 'result', index: 0, value: 'é'.repeat(500) }; // 1000 bytes of UTF-8 in the value
      const w = await a.append(ref, [big], 0);
      expect(w.bytes).toBe(base + Buffer.byteLength(JSON.stringify(big)));
      const over = await storeError(a.append(ref, [big, big], 1), 'JOURNAL_LIMIT');
      expect(over.message).toMatch(/past maxJournalBytes \(2000\)/);
      expect(over.data).toMatchObject({ bytes: w.bytes, maxJournalBytes: 2000 });
      await storeError(a.complete(ref, { status: 'completed', result: 'r'.repeat(2000), expectedLength: 1 }), 'JOURNAL_LIMIT');
      await storeError(a.suspend(ref, { pending: [{ callId: 'c0', toolId: 't:x', args: 'a'.repeat(2000) }], expectedLength: 1 }), 'JOURNAL_LIMIT');
      const after = (await a.get(ref.executionId, P))!;
      expect(after).toMatchObject({ journalLength: 1, bytes: w.bytes, status: 'running' });
      // What fits still fits.
      await a.complete(ref, { status: 'completed', result: 'ok', expectedLength: 1 });
    });

    it('expires executions after their TTL, and every write slides the expiry', async () => {
      const { a, elapse } = await env();
      const keep = await a.create({ principal: P, owner: HOST_A, script: 'keep', ttlMs: 60_000 });
      const gone = await a.create({ principal: P, owner: HOST_A, script: 'gone', ttlMs: 150 });
      const slide = await a.create({ principal: P, owner: HOST_A, script: 'slide', ttlMs: 60_000 });
      await elapse(20);
      const w = await a.append({ executionId: slide.executionId, principal: P, owner: HOST_A }, [{ type: 'x' }], 0);
      expect(w.expiresAt).toBeGreaterThan(slide.expiresAt);
      expect(w.expiresAt - w.updatedAt).toBe(60_000);
      await elapse(400);
      expect(await a.get(gone.executionId, P)).toBeUndefined();
      expect(await a.get(keep.executionId, P)).toMatchObject({ script: 'keep' });
      await storeError(a.append({ executionId: gone.executionId, principal: P, owner: HOST_A }, [{ type: 'x' }], 0), 'NOT_FOUND');
      await storeError(a.claim(gone.executionId, P, HOST_B), 'NOT_FOUND');
      const ids = (await a.list(P)).executions.map((e) => e.executionId);
      expect(ids).toContain(keep.executionId);
      expect(ids).not.toContain(gone.executionId);
      await a.purgeExpired();
      expect(await a.get(keep.executionId, P)).toBeDefined();
    });

    it('leases: a live lease cannot be stolen; an expired one can, once, and the old holder is fenced off', async () => {
      const { a, b, elapse } = await env();
      const { rec, ref } = await started(a, { leaseMs: 60_000 });
      const held = await storeError(b.claim(rec.executionId, P, HOST_B), 'LEASE_HELD');
      expect(held.data.retryAfterMs).toBeGreaterThan(0);
      expect(held.message).toMatch(/another owner's lease/);
      // The holder renews (the heartbeat) and re-claims its own lease freely.
      const lease = await a.renew(ref, 60_000);
      expect(lease.owner).toBe(HOST_A);
      expect((await a.claim(rec.executionId, P, HOST_A)).previousStatus).toBe('running');

      const short = await started(a, { leaseMs: 100 });
      await a.append(short.ref, [{ type: 'call', index: 0 }], 0);
      await elapse(300);
      // Two processes race for the dead host's execution: exactly one wins.
      const claims = await Promise.allSettled([a.claim(short.rec.executionId, P, HOST_B, { leaseMs: 60_000 }), b.claim(short.rec.executionId, P, 'host-c:3:z', { leaseMs: 60_000 })]);
      const won = claims.filter((c) => c.status === 'fulfilled');
      expect(won.length).toBe(1);
      const lost = claims.find((c) => c.status === 'rejected') as PromiseRejectedResult;
      expect((lost.reason as StoreError).code).toBe('LEASE_HELD');
      const claim = (won[0] as PromiseFulfilledResult<Awaited<ReturnType<ExecutionStore['claim']>>>).value;
      expect(claim.previousStatus).toBe('running');
      expect(claim.previousOwner).toBe(HOST_A);
      expect(claim.record.journal).toEqual([{ type: 'call', index: 0 }]);
      const winner = claim.record.lease!.owner;
      expect([HOST_B, 'host-c:3:z']).toContain(winner);
      // The old holder comes back from its pause: every write is refused.
      await storeError(a.append(short.ref, [{ type: 'result', index: 0 }], 1), 'LEASE_LOST');
      await storeError(a.renew(short.ref), 'LEASE_LOST');
      await storeError(a.complete(short.ref, { status: 'completed', result: null, expectedLength: 1 }), 'LEASE_LOST');
      const newRef = { ...short.ref, owner: winner };
      expect((await b.append(newRef, [{ type: 'result', index: 0, error: { code: 'INTERRUPTED' } }], claim.record.journalLength)).journalLength).toBe(2);
      // A graceful release lets another process claim at once.
      await b.release(newRef);
      await storeError(b.append(newRef, [{ type: 'x' }], 2), 'LEASE_LOST');
      expect((await a.claim(rec.executionId, P, HOST_A)).record.lease!.owner).toBe(HOST_A);
      const again = await a.claim(short.rec.executionId, P, HOST_A);
      expect(again).toMatchObject({ previousStatus: 'running' });
      expect(again.previousOwner).toBeUndefined();
    });

    it('suspends with pending calls, takes decisions atomically, and resumes only when they are in', async () => {
      const { a, b } = await env();
      const { rec, ref } = await started(a);
      const pending = [
        { callId: 'c1', toolId: 'github:create_issue', args: { title: 'one' } },
        { callId: 'c2', toolId: 'github:create_issue', args: { title: 'two' } },
        { callId: 'c3', toolId: 'fs:delete', args: { path: '/tmp/x' } },
      ];
      let w = await a.append(ref, [{ type: 'call', index: 0, toolId: 'math:add', argsHash: 'h' }], 0);
      w = await a.suspend(ref, { pending, entries: [{ type: 'result', index: 0, value: 3 }], expectedLength: w.journalLength });
      expect(w.journalLength).toBe(3);
      let s = (await b.get(rec.executionId, P))!;
      expect(s.status).toBe('suspended');
      expect(s.lease).toBeUndefined();
      expect(s.pending).toEqual(pending);
      expect(s.journal.at(-1)).toEqual({ type: 'suspend', pending });
      // The lease went with the suspension.
      await storeError(a.append(ref, [{ type: 'x' }], 3), 'LEASE_LOST');
      expect((await b.list(P, { status: 'suspended' })).executions.map((e) => e.executionId)).toEqual([rec.executionId]);

      // A batch with one bad call records nothing.
      await storeError(b.decide(rec.executionId, P, [{ callId: 'c1', action: 'approve' }, { callId: 'nope', action: 'deny' }]), 'INVALID_STATE');
      expect((await b.get(rec.executionId, P))!.journalLength).toBe(3);
      const undecided = await storeError(a.claim(rec.executionId, P, HOST_B, { requireDecisions: true }), 'UNDECIDED');
      expect(undecided.data.undecided).toEqual(['c1', 'c2', 'c3']);

      const summary = await b.decide(rec.executionId, P, [{ callId: 'c1', action: 'approve', args: { title: 'one (edited)' }, by: 'cli:alice' }]);
      expect(summary.pending[0]!.decision).toMatchObject({ type: 'decision', callId: 'c1', action: 'approve', args: { title: 'one (edited)' }, by: 'cli:alice' });
      expect(summary.pending[0]!.decision!.decidedAt).toBeGreaterThan(0);
      expect(summary.pending[1]!.decision).toBeUndefined();
      const twice = await storeError(a.decide(rec.executionId, P, [{ callId: 'c1', action: 'deny', reason: 'changed my mind' }]), 'CONFLICT');
      expect(twice.message).toMatch(/already approved; the first decision stands/);
      expect((await storeError(a.claim(rec.executionId, P, HOST_B, { requireDecisions: true }), 'UNDECIDED')).data.undecided).toEqual(['c2', 'c3']);
      await a.decide(rec.executionId, P, [{ callId: 'c2', action: 'deny', reason: 'duplicate' }, { callId: 'c3', action: 'deny' }]);

      const claim = await b.claim(rec.executionId, P, HOST_B, { requireDecisions: true });
      expect(claim.previousStatus).toBe('suspended');
      expect(claim.previousOwner).toBeUndefined();
      expect(claim.record).toMatchObject({ status: 'running', lease: { owner: HOST_B }, journalLength: 6 });
      const decisions = claim.record.journal.slice(3) as Array<{ type: string; callId: string; action: string; reason?: string }>;
      expect(decisions.map((d) => [d.type, d.callId, d.action, d.reason])).toEqual([
        ['decision', 'c1', 'approve', undefined],
        ['decision', 'c2', 'deny', 'duplicate'],
        ['decision', 'c3', 'deny', undefined],
      ]);
      // The decisions stay visible while it runs again, and nobody can add more.
      expect(claim.record.pending.map((p) => p.decision?.action)).toEqual(['approve', 'deny', 'deny']);
      await storeError(a.decide(rec.executionId, P, [{ callId: 'c1', action: 'approve' }]), 'INVALID_STATE');

      const ref2 = { ...ref, owner: HOST_B };
      w = await b.append(ref2, [{ type: 'result', index: 1, value: { number: 1 } }], claim.record.journalLength);
      // A second suspension replaces the pending calls and their decisions.
      w = await b.suspend(ref2, { pending: [{ callId: 'c4', toolId: 'fs:delete', args: {} }], expectedLength: w.journalLength });
      s = (await a.get(rec.executionId, P))!;
      expect(s.pending).toEqual([{ callId: 'c4', toolId: 'fs:delete', args: {} }]);
      await a.decide(rec.executionId, P, [{ callId: 'c4', action: 'approve' }]);
      const third = await a.claim(rec.executionId, P, HOST_A, { requireDecisions: true });
      const ref3 = { ...ref, owner: HOST_A };
      const done = await a.complete(ref3, { status: 'completed', result: { ok: true, value: 10 }, entries: [{ type: 'result', index: 2, value: 7 }], expectedLength: third.record.journalLength });
      const final = (await b.get(rec.executionId, P))!;
      expect(final).toMatchObject({ status: 'completed', result: { ok: true, value: 10 }, pending: [], journalLength: done.journalLength });
      expect(final.lease).toBeUndefined();
      expect((await storeError(b.claim(rec.executionId, P, HOST_B), 'INVALID_STATE')).message).toMatch(/has completed; there is nothing to resume/);
      await storeError(a.append(ref3, [{ type: 'x' }], done.journalLength), 'LEASE_LOST');
    });

    it('lists a principal\'s executions newest first, by status, a page at a time', async () => {
      const { a, b, elapse } = await env();
      const made: string[] = [];
      for (let i = 0; i < 7; i++) {
        const r = await a.create({ principal: P, owner: HOST_A, script: `s${i}` });
        made.push(r.executionId);
        await elapse(5);
      }
      await a.create({ principal: MALLORY, owner: HOST_A, script: 'not yours' });
      const failed = { executionId: made[2]!, principal: P, owner: HOST_A };
      await a.complete(failed, { status: 'failed', result: { code: 'TIMEOUT' }, expectedLength: 0 });

      const seen: string[] = [];
      let cursor: string | undefined;
      let pages = 0;
      do {
        const page = await b.list(P, { limit: 3, ...(cursor ? { cursor } : {}) });
        expect(page.executions.length).toBeLessThanOrEqual(3);
        for (const e of page.executions) {
          expect(e).not.toHaveProperty('journal');
          expect(e).not.toHaveProperty('script');
          seen.push(e.executionId);
        }
        cursor = page.nextCursor;
        pages++;
      } while (cursor);
      expect(pages).toBe(3);
      expect(seen).toEqual([...made].reverse());
      expect((await b.list(P, { status: 'failed' })).executions.map((e) => e.executionId)).toEqual([made[2]]);
      expect((await b.list(P, { status: ['running', 'failed'] })).executions.length).toBe(7);
      expect((await b.list(P, { status: 'suspended' })).executions).toEqual([]);
      expect((await b.list(MALLORY)).executions.map((e) => e.principal)).toEqual([MALLORY]);
    });

    it('deletes an execution with its journal', async () => {
      const { a, b } = await env();
      const { rec, ref } = await started(a);
      await a.append(ref, [{ type: 'x' }], 0);
      expect(await b.delete(rec.executionId, P)).toBe(true);
      expect(await a.get(rec.executionId, P)).toBeUndefined();
      expect(await a.delete(rec.executionId, P)).toBe(false);
      await storeError(a.append(ref, [{ type: 'x' }], 1), 'NOT_FOUND');
      expect((await a.list(P)).executions).toEqual([]);
    });

    it('refuses use after close, and closes once', async () => {
      const e = await makeEnv();
      await e.a.close();
      await e.a.close();
      await storeError(e.a.get('AAAAAAAAAAAAAAAAAAAAAA', P), 'CLOSED');
      await storeError(e.a.create({ principal: P, owner: HOST_A, script: '' }), 'CLOSED');
      const ref = { executionId: 'AAAAAAAAAAAAAAAAAAAAAA', principal: P, owner: HOST_A };
      // Closed comes before any other check, arguments included.
      await storeError(e.a.list(P, { limit: -1 }), 'CLOSED');
      await storeError(e.a.append(ref, [], -1), 'CLOSED');
      await storeError(e.a.renew(ref), 'CLOSED');
      await storeError(e.a.release(ref), 'CLOSED');
      await storeError(e.a.suspend(ref, { pending: [], expectedLength: 0 }), 'CLOSED');
      await storeError(e.a.complete(ref, { status: 'completed', result: 1, expectedLength: 0 }), 'CLOSED');
      await storeError(e.a.decide(ref.executionId, P, []), 'CLOSED');
      await storeError(e.a.claim(ref.executionId, P, HOST_B), 'CLOSED');
      await storeError(e.a.delete(ref.executionId, P), 'CLOSED');
      await storeError(e.a.purgeExpired(), 'CLOSED');
      await e.close();
    });
  });
}
