// The approval policy and decisions as callers write them: a policy only grows, annotations opt in,
// and malformed decisions are TypeErrors that name the problem.
import { describe, expect, it } from 'vitest';
import { ApprovalPolicy, isRerunnable, toStoreDecisions } from '../../src/code/approval.js';
import { Executor } from '../../src/code/executor.js';
import { Runner } from '../../src/run/runner.js';

const tool = (annotations: Record<string, unknown>) => ({ id: 'ops:x', name: 'x', namespace: 'ops', annotations }) as never;

describe('ApprovalPolicy', () => {
  it('matches patterns, and destructive tools only when asked', () => {
    const p = ApprovalPolicy.from(['github:create_*'], undefined, 'x');
    expect(p.requires('github:create_issue', undefined)).toBe(true);
    expect(p.requires('github:search', undefined)).toBe(false);
    expect(p.requires('ops:x', tool({ destructiveHint: true }))).toBe(false);
    const d = ApprovalPolicy.from(undefined, true, 'x');
    expect(d.requires('ops:x', tool({ destructiveHint: true }))).toBe(true);
    expect(d.requires('ops:x', tool({ destructiveHint: false }))).toBe(false);
    expect(ApprovalPolicy.from([], false, 'x').empty).toBe(true);
  });

  it('merging only adds approvals; a stored policy is read leniently', () => {
    const base = ApprovalPolicy.from(['a:*'], true, 'x');
    const merged = base.merge(ApprovalPolicy.from(['b:*'], false, 'x'));
    expect(merged.toJSON()).toEqual({ approve: ['a:*', 'b:*'], destructive: true });
    expect(ApprovalPolicy.fromJson({ approve: ['c:*', 7, ''], destructive: 'yes' }).toJSON()).toEqual({ approve: ['c:*'], destructive: false });
  });

  it('refuses what is not a pattern list', () => {
    expect(() => ApprovalPolicy.from('github:*', undefined, 'opts')).toThrow(/opts\.approve must be an array of tool ID patterns/);
    expect(() => ApprovalPolicy.from(undefined, 'yes', 'opts')).toThrow(/opts\.approveDestructive must be true or false/);
  });

  it('a call cannot remove the executor approvals', async () => {
    const runner = new Runner();
    runner.register({ namespace: 'ops', name: 'deploy', handler: async () => ({ ok: true }) });
    const ex = new Executor({ runner, approve: ['ops:*'] });
    try {
      const r = await ex.execute('await run("ops:deploy", {})', { approve: [], approveDestructive: false, durable: false });
      expect(r.status).toBe('suspended');
    } finally {
      await ex.dispose();
    }
  });
});

describe('isRerunnable', () => {
  it('read-only and idempotent tools run again after a crash; others do not', () => {
    expect(isRerunnable(tool({ readOnlyHint: true }))).toBe(true);
    expect(isRerunnable(tool({ idempotentHint: true }))).toBe(true);
    expect(isRerunnable(tool({ destructiveHint: true }))).toBe(false);
    expect(isRerunnable(undefined)).toBe(false);
  });
});

describe('toStoreDecisions', () => {
  it('turns approvals (with edited arguments) and denials (with reasons) into store decisions', () => {
    expect(toStoreDecisions({ approve: ['c1', { callId: 'c2', args: { a: 1 } }], deny: ['c3', { callId: 'c4', reason: 'no' }] }, 'me', 'resume')).toEqual([
      { callId: 'c1', action: 'approve', by: 'me' },
      { callId: 'c2', action: 'approve', args: { a: 1 }, by: 'me' },
      { callId: 'c3', action: 'deny', by: 'me' },
      { callId: 'c4', action: 'deny', reason: 'no', by: 'me' },
    ]);
    expect(toStoreDecisions(undefined, undefined, 'x')).toEqual([]);
  });

  it('names what is wrong', () => {
    expect(() => toStoreDecisions({ approve: 'c1' } as never, undefined, 'resume')).toThrow(/resume: approve must be an array/);
    expect(() => toStoreDecisions({ approve: [{ callId: 'c1', args: [1] }] } as never, undefined, 'resume')).toThrow(/edited args of "c1" must be an object/);
    expect(() => toStoreDecisions({ approve: ['c1'], deny: ['c1'] }, undefined, 'resume')).toThrow(/call "c1" is decided twice/);
    expect(() => toStoreDecisions({ deny: [{ callId: 'c1', reason: 5 }] } as never, undefined, 'resume')).toThrow(/reason for denying "c1" must be a string/);
    expect(() => toStoreDecisions({ approve: [7] } as never, undefined, 'resume')).toThrow(/each approve entry is a callId/);
  });
});
