import { describe, expect, it } from 'vitest';
import { MIN_SECRET_LENGTH, Redactor } from '../../src/model/redact.js';
import { ToolError } from '../../src/model/errors.js';

const secret = 'sk-live-"quoted"/and spaces';
const r = new Redactor([{ name: 'API_KEY', value: secret }]);

describe('Redactor', () => {
  it('replaces a secret as is, quoted in JSON and percent-encoded', () => {
    expect(r.redact(`key=${secret}!`)).toBe('key=[redacted:API_KEY]!');
    expect(r.redact(JSON.stringify({ k: secret }))).toBe('{"k":"[redacted:API_KEY]"}');
    expect(r.redact(`https://x.test/?k=${encodeURIComponent(secret)}`)).toBe('https://x.test/?k=[redacted:API_KEY]');
    expect(r.leaks(`..${secret}..`)).toBe(true);
    expect(r.leaks('nothing here')).toBe(false);
    expect(r.names).toEqual(['API_KEY']);
  });

  it('ignores values too short to be secrets, and is a no-op when empty', () => {
    const short = new Redactor([{ name: 'DEBUG', value: 'true' }, { name: 'PORT', value: '3000' }]);
    expect('x'.repeat(MIN_SECRET_LENGTH - 1).length).toBeLessThan(MIN_SECRET_LENGTH);
    expect(short.empty).toBe(true);
    expect(short.redact('"ok":true on 3000')).toBe('"ok":true on 3000');
    const value = { a: 1 };
    expect(Redactor.none.redactValue(value)).toBe(value);
  });

  it('replaces the longer of two overlapping secrets whole', () => {
    const both = new Redactor([{ name: 'SHORT', value: 'abcdef' }, { name: 'LONG', value: 'abcdef-123456' }]);
    expect(both.redact('abcdef-123456 abcdef')).toBe('[redacted:LONG] [redacted:SHORT]');
  });

  it('copies a value only when it holds a secret, keys included', () => {
    const clean = { a: ['x', { b: 2 }] };
    expect(r.redactValue(clean)).toBe(clean);
    const dirty = { a: [`v ${secret}`], [secret]: 1, n: null, ok: true };
    expect(r.redactValue(dirty)).toEqual({ a: ['v [redacted:API_KEY]'], '[redacted:API_KEY]': 1, n: null, ok: true });
    expect(dirty.a[0]).toBe(`v ${secret}`);
  });

  it('walks cyclic values it cannot serialize, without showing what it cannot check', () => {
    const cyclic: Record<string, unknown> = { s: secret };
    cyclic.self = cyclic;
    const out = r.redactValue(cyclic) as Record<string, unknown>;
    expect(out.s).toBe('[redacted:API_KEY]');
    expect(out.self).toBe('[redacted: not checked]');
  });

  it('redacts errors in place: message, stack, data, issues, causes, aggregated errors', () => {
    const cause = new Error(`inner ${secret}`);
    const err = new ToolError('EXECUTION', `outer ${secret}`, { data: { stderr: [secret] }, cause, issues: [{ path: '', keyword: 'x', message: secret }] });
    const same = r.redactError(err);
    expect(same).toBe(err);
    expect(err).toBeInstanceOf(ToolError);
    expect(err.message).toBe('outer [redacted:API_KEY]');
    expect(err.stack).not.toContain(secret);
    expect(err.data).toEqual({ stderr: ['[redacted:API_KEY]'] });
    expect(err.issues?.[0]?.message).toBe('[redacted:API_KEY]');
    expect(cause.message).toBe('inner [redacted:API_KEY]');
    expect(JSON.stringify(err.toJSON())).not.toContain(secret);
    const agg = new AggregateError([new Error(secret)], 'many');
    r.redactError(agg);
    expect((agg.errors[0] as Error).message).toBe('[redacted:API_KEY]');
    expect(r.redactError(`a string ${secret}`)).toBe('a string [redacted:API_KEY]');
  });

  it('merges redactors', () => {
    const m = Redactor.merge(r, new Redactor([{ name: 'OTHER', value: 'other-secret' }]), undefined);
    expect(m.redact(`${secret} other-secret`)).toBe('[redacted:API_KEY] [redacted:OTHER]');
    expect(Redactor.merge()).toBe(Redactor.none);
  });
});
