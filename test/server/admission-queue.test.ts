// The admission queue on its own: caps, the order in which freed slots are handed out, and
// waiters that leave (budget spent, caller gone) without taking a slot with them.
import { describe, expect, it } from 'vitest';
import { AdmissionQueue, DEFAULT_MAX_CONCURRENT_EXECUTIONS, DEFAULT_MAX_EXECUTIONS_PER_SESSION, type AdmissionTicket } from '../../src/server/admission.js';

const LONG = 60_000;

describe('AdmissionQueue', () => {
  it('defaults leave one slot that a single session cannot take', async () => {
    const q = new AdmissionQueue();
    expect(q.maxPerSession).toBe(DEFAULT_MAX_EXECUTIONS_PER_SESSION);
    expect(q.maxPerSession).toBeLessThan(q.maxConcurrent);
    const held: AdmissionTicket[] = [];
    for (let i = 0; i < q.maxPerSession; i++) held.push((await q.acquire('hog', LONG)) as AdmissionTicket);
    expect(await q.acquire('hog', LONG)).toMatchObject({ ok: false, code: 'SERVER_BUSY', limit: 'maxExecutionsPerSession' });
    const other = await q.acquire('polite', LONG);
    expect(other.ok).toBe(true);
    expect(q.running).toBe(DEFAULT_MAX_CONCURRENT_EXECUTIONS);
    for (const t of [...held, other as AdmissionTicket]) t.release();
    expect(q.running).toBe(0);
  });

  it('hands a freed slot to the waiting session that runs the fewest executions, oldest first', async () => {
    const q = new AdmissionQueue({ maxConcurrentExecutions: 2, maxExecutionsPerSession: 3, maxQueuedExecutions: 10 });
    const a1 = (await q.acquire('a', LONG)) as AdmissionTicket;
    const a2 = (await q.acquire('a', LONG)) as AdmissionTicket;
    const order: string[] = [];
    const waitA = q.acquire('a', LONG).then((t) => (order.push('a3'), t as AdmissionTicket));
    const waitB1 = q.acquire('b', LONG).then((t) => (order.push('b1'), t as AdmissionTicket));
    const waitB2 = q.acquire('b', LONG).then((t) => (order.push('b2'), t as AdmissionTicket));
    expect(q.queued).toBe(3);
    // A queued first, but runs two already: B's first waiter goes ahead of it.
    a1.release();
    const b1 = await waitB1;
    expect(order).toEqual(['b1']);
    // Now A runs one and B one: the older waiter (A's) wins the tie.
    a2.release();
    const a3 = await waitA;
    expect(order).toEqual(['b1', 'a3']);
    b1.release();
    const b2 = await waitB2;
    expect(order).toEqual(['b1', 'a3', 'b2']);
    a3.release();
    b2.release();
    // Releasing twice changes nothing.
    b2.release();
    expect(q.running).toBe(0);
    expect(q.queued).toBe(0);
  });

  it('only an execution that waited in the queue reports time queued', async () => {
    const q = new AdmissionQueue({ maxConcurrentExecutions: 1, maxQueuedExecutions: 1 });
    // Granted on the spot: whatever the clock read between the call and the grant (a GC pause,
    // a stolen vCPU) is not queueing, and `--verbose` printed it as "queued 4ms".
    const first = (await q.acquire('a', LONG)) as AdmissionTicket;
    expect(first.waitedMs).toBe(0);
    const waiting = q.acquire('b', LONG);
    await new Promise((r) => setTimeout(r, 20));
    first.release();
    const second = (await waiting) as AdmissionTicket;
    expect(second.waitedMs).toBeGreaterThan(10);
    second.release();
  });

  it('a waiter whose budget runs out leaves as TIMEOUT, one whose caller aborts as CANCELLED; neither takes a slot', async () => {
    const q = new AdmissionQueue({ maxConcurrentExecutions: 1, maxQueuedExecutions: 2 });
    const held = (await q.acquire('a', LONG)) as AdmissionTicket;
    const timedOut = await q.acquire('b', 30);
    expect(timedOut).toMatchObject({ ok: false, code: 'TIMEOUT' });
    expect((timedOut as { message: string }).message).toMatch(/waited \d+ ms for a sandbox and its timeoutMs \(30 ms\) ran out/);
    const ac = new AbortController();
    const cancelled = q.acquire('c', LONG, ac.signal);
    expect(q.queued).toBe(1);
    ac.abort();
    expect(await cancelled).toMatchObject({ ok: false, code: 'CANCELLED' });
    expect(q.queued).toBe(0);
    const aborted = new AbortController();
    aborted.abort();
    expect(await q.acquire('d', LONG, aborted.signal)).toMatchObject({ ok: false, code: 'CANCELLED' });
    held.release();
    expect(q.running).toBe(0);
    const next = await q.acquire('e', LONG);
    expect(next).toMatchObject({ ok: true });
    (next as AdmissionTicket).release();
  });

  it('refuses a full queue at once and rejects nonsense settings by name', async () => {
    const q = new AdmissionQueue({ maxConcurrentExecutions: 1, maxQueuedExecutions: 1, maxExecutionsPerSession: 5 });
    const held = (await q.acquire('a', LONG)) as AdmissionTicket;
    const waiting = q.acquire('b', LONG);
    expect(await q.acquire('c', LONG)).toMatchObject({ ok: false, code: 'SERVER_BUSY', limit: 'maxQueuedExecutions' });
    held.release();
    ((await waiting) as AdmissionTicket).release();
    expect(() => new AdmissionQueue({ maxConcurrentExecutions: 0 })).toThrow(/maxConcurrentExecutions must be a positive integer, got 0/);
    expect(() => new AdmissionQueue({ maxQueuedExecutions: 1.5 })).toThrow(/maxQueuedExecutions/);
    // With one slot the per-session default cannot be "one less": it stays 1.
    expect(new AdmissionQueue({ maxConcurrentExecutions: 1 }).maxPerSession).toBe(1);
  });
});
