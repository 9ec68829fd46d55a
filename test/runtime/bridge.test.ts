import { describe, expect, it } from 'vitest';
import { MAX_VALUE_DEPTH, encodeReply, encodeSuccess, jsonDepth, parseGuestMessage } from '../../src/runtime/bridge.js';

describe('the bridge', () => {
  it('measures nesting, ignoring brackets inside strings and escapes, and stops past the bound', () => {
    expect(jsonDepth('1')).toBe(0);
    expect(jsonDepth('[[{"a":[1]}]]')).toBe(4);
    expect(jsonDepth('["[[[[", "\\"[[[", {"k": "]]]"}]')).toBe(2);
    expect(jsonDepth('['.repeat(10_000) + ']'.repeat(10_000), 50)).toBe(51);
  });

  it('parses requests and results, with the depth of what the host would re-serialise', () => {
    const deep = '['.repeat(MAX_VALUE_DEPTH + 10) + ']'.repeat(MAX_VALUE_DEPTH + 10);
    const run = parseGuestMessage(`{"id":3,"op":"run","toolId":"a:b","args":{"v":${deep}}}`);
    expect(run).toMatchObject({ op: 'run', id: 3, toolId: 'a:b' });
    expect((run as { depth: number }).depth).toBeGreaterThan(MAX_VALUE_DEPTH);
    const shallow = parseGuestMessage('{"op":"done","ok":true,"value":[1,[2]]}');
    expect(shallow).toMatchObject({ op: 'done', ok: true, hasValue: true, depth: 1 });
    expect(parseGuestMessage('{"op":"done","ok":true}')).toMatchObject({ hasValue: false });
  });

  it('refuses what is not a message, naming it', () => {
    expect(parseGuestMessage('nope')).toEqual({ violation: 'a message that is not JSON' });
    expect(parseGuestMessage('[1]')).toEqual({ violation: 'a message that is not an object' });
    expect(parseGuestMessage('{"op":"run","id":0}')).toEqual({ violation: 'a run request without a valid id' });
    expect(parseGuestMessage('{"op":"exec"}')).toEqual({ violation: 'an unknown op "exec"' });
  });

  it('a reply the host cannot serialise becomes an error reply', () => {
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    expect(JSON.parse(encodeReply({ id: 1, ok: true, value: cyclic }))).toMatchObject({ id: 1, ok: false, error: { code: 'EXECUTION' } });
    expect(encodeReply({ id: 2, ok: true, value: { a: 1 } })).toBe('{"id":2,"ok":true,"value":{"a":1}}');
    expect(JSON.parse(encodeSuccess(3, cyclic))).toMatchObject({ id: 3, ok: false, error: { code: 'EXECUTION' } });
    expect(JSON.parse(encodeSuccess(4, 10n))).toMatchObject({ id: 4, ok: false, error: { code: 'EXECUTION' } });
  });

  it('a success is [id, value]; no value (or none JSON can carry) is [id], never null', () => {
    expect(encodeSuccess(2, { a: 1 })).toBe('[2,{"a":1}]');
    expect(encodeSuccess(5, null)).toBe('[5,null]');
    expect(encodeSuccess(6, undefined)).toBe('[6]');
    expect(encodeSuccess(7, () => 1)).toBe('[7]');
    expect(encodeSuccess(8, undefined, '"typed"')).toBe('[8,"typed"]');
  });
});
