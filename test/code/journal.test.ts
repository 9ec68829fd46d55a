// The journal's own parts: the request hash and how a journal is read back (leniently: entries it
// does not know, or that are malformed, are skipped; a crash leaves calls without a reply).
import { describe, expect, it } from 'vitest';
import { readJournal, requestHash } from '../../src/code/journal.js';
import type { ExecutionRecord } from '../../src/store/types.js';

describe('requestHash', () => {
  it('ignores the request id, sees everything else', () => {
    const a = requestHash('{"id":1,"op":"run","toolId":"math:add","args":{"a":1,"b":2}}');
    expect(requestHash('{"id":99,"op":"run","toolId":"math:add","args":{"a":1,"b":2}}')).toBe(a);
    expect(requestHash('{"id":1,"op":"run","toolId":"math:add","args":{"a":1,"b":3}}')).not.toBe(a);
    expect(requestHash('{"id":1,"op":"run","toolId":"math:sub","args":{"a":1,"b":2}}')).not.toBe(a);
    expect(a).toMatch(/^[0-9a-z]+\.[0-9a-z]+$/);
  });
});

describe('readJournal', () => {
  const record = (journal: unknown[], pending: unknown[] = []) => ({ journal, pending }) as unknown as ExecutionRecord;

  it('keeps replies in delivery order, the calls they answer, and the last part', () => {
    const s = readJournal(
      record([
        { type: 'reply', i: 1, op: 'run', tool: 'b', h: 'h1', t: 10, ok: true, value: 2 },
        { type: 'call', i: 0, op: 'run', tool: 'a', h: 'h0' },
        { type: 'reply', i: 0, op: 'run', tool: 'a', h: 'h0', t: 11, ok: true, value: 1 },
        { type: 'part', n: 1, result: { logs: [{ message: 'x' }] } },
        { type: 'something-new' },
        { type: 'reply', i: -1, op: 'run', h: 'bad', t: 1, ok: true },
        { type: 'reply', i: 0, op: 'run', h: 'dup', t: 12, ok: true },
      ]),
    );
    expect(s.replies.map((r) => r.i)).toEqual([1, 0]);
    expect(s.calls.get(0)).toEqual({ op: 'run', tool: 'a', h: 'h0' });
    expect(s.parts).toBe(1);
    expect(s.prior?.logs).toEqual([{ message: 'x' }]);
    expect(s.interrupted.size).toBe(0);
  });

  it('a call issued and never answered (the host died) is interrupted; a pending one is not', () => {
    const s = readJournal(
      record(
        [
          { type: 'call', i: 0, op: 'run', tool: 'w', h: 'h0' },
          { type: 'call', i: 1, op: 'run', tool: 'w', h: 'h1' },
        ],
        [{ callId: 'c1', toolId: 'w', args: {}, i: 1, h: 'h1' }],
      ),
    );
    expect([...s.interrupted]).toEqual([0]);
    expect(s.pending.get(1)?.callId).toBe('c1');
  });
});
