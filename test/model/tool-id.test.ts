import { describe, expect, it } from 'vitest';
import {
  checkTags,
  isToolId,
  matchToolPattern,
  parseToolId,
  sanitizeNamespace,
  toolId,
  validateDefinition,
} from '../../src/model/tool-id.js';
import { ToolError } from '../../src/model/errors.js';

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (e) {
    return (e as ToolError).code;
  }
  return undefined;
}

describe('tool IDs', () => {
  it('parses bare, namespaced and versioned IDs', () => {
    expect(parseToolId('add')).toEqual({ name: 'add' });
    expect(parseToolId('math:add')).toEqual({ namespace: 'math', name: 'add' });
    expect(parseToolId('math:add:1.2.0')).toEqual({ namespace: 'math', name: 'add', version: '1.2.0' });
    expect(parseToolId('gh-v2.api:create_issue:2.0.0+build.5')).toEqual({ namespace: 'gh-v2.api', name: 'create_issue', version: '2.0.0+build.5' });
  });

  it.each([
    ['', 'empty'],
    [':add', 'empty namespace'],
    ['math:', 'empty name'],
    ['math::1', 'empty name between colons'],
    ['a:b:c:d', 'too many parts'],
    ['math:add two', 'space'],
    ['math:add/x', 'slash'],
    ['mäth:add', 'non-ASCII'],
    ['math:add:1 0', 'space in version'],
    ['x'.repeat(129), 'name too long'],
    [`${'n'.repeat(65)}:add`, 'namespace too long'],
  ])('rejects %j (%s) with INVALID_TOOL_ID', (id) => {
    expect(codeOf(() => parseToolId(id))).toBe('INVALID_TOOL_ID');
    expect(isToolId(id)).toBe(false);
  });

  it('rejects non-strings', () => {
    expect(codeOf(() => parseToolId(42))).toBe('INVALID_TOOL_ID');
    expect(codeOf(() => parseToolId(null))).toBe('INVALID_TOOL_ID');
  });

  it('accepts the longest allowed name and says why a bad one fails', () => {
    expect(parseToolId('x'.repeat(128)).name).toHaveLength(128);
    expect(() => parseToolId('math:add!')).toThrow(/contains "!"/);
  });

  it('builds canonical IDs and refuses ambiguous ones', () => {
    expect(toolId('math', 'add')).toBe('math:add');
    expect(toolId(undefined, 'add')).toBe('add');
    expect(toolId('math', 'add', '1.0')).toBe('math:add:1.0');
    expect(codeOf(() => toolId(undefined, 'add', '1.0'))).toBe('INVALID_TOOL_ID');
    expect(codeOf(() => toolId('a:b', 'add'))).toBe('INVALID_TOOL_ID');
  });

  it('round-trips', () => {
    for (const id of ['a', 'a:b', 'a:b:1', 'A_b-c.d:E.f-g_h:0.0.1-rc.1']) {
      const p = parseToolId(id);
      expect(toolId(p.namespace, p.name, p.version)).toBe(id);
    }
  });

  it('sanitizes server labels into namespaces', () => {
    expect(sanitizeNamespace('my server (prod)')).toBe('my_server_prod_');
    expect(sanitizeNamespace('')).toBe('_');
    expect(isToolId(`${sanitizeNamespace('a:b c')}:x`)).toBe(true);
  });

  it('matches allow patterns', () => {
    expect(matchToolPattern('github:*', 'github:create_issue')).toBe(true);
    expect(matchToolPattern('github:*', 'github:create_issue:2')).toBe(true);
    expect(matchToolPattern('github:*', 'gitlab:create_issue')).toBe(false);
    expect(matchToolPattern('*:read_*', 'fs:read_file')).toBe(true);
    expect(matchToolPattern('*:read_*', 'fs:write_file')).toBe(false);
    expect(matchToolPattern('math:add', 'math:add')).toBe(true);
    expect(matchToolPattern('math:add', 'math:addition')).toBe(false);
    expect(matchToolPattern('add', 'math:add')).toBe(false);
    expect(matchToolPattern('*', 'anything:at:all')).toBe(true);
    // regex metacharacters in patterns are literal
    expect(matchToolPattern('a.b:*', 'axb:c')).toBe(false);
  });
});

describe('tags and definitions', () => {
  it('validates tags', () => {
    expect(checkTags(undefined)).toBeUndefined();
    expect(checkTags(['read', 'github/issues', 'v:2'])).toBeUndefined();
    expect(checkTags('read')).toMatch(/array/);
    expect(checkTags([''])).toMatch(/1–64/);
    expect(checkTags(['has space'])).toMatch(/must start/);
    expect(checkTags([1])).toMatch(/not a string/);
    expect(checkTags(Array.from({ length: 33 }, (_, i) => `t${i}`))).toMatch(/at most 32/);
  });

  it('validates definitions, naming the tool', () => {
    expect(validateDefinition({ namespace: 'math', name: 'add' })).toBe('math:add');
    expect(() => validateDefinition({ namespace: 'math', name: 'add', tags: ['bad tag'] })).toThrow(/math:add: tag "bad tag"/);
    expect(codeOf(() => validateDefinition({ name: 'bad name' }))).toBe('INVALID_TOOL_ID');
  });
});

describe('ToolError', () => {
  it('serializes and rebuilds from data', () => {
    const e = new ToolError('INPUT_VALIDATION', 'bad', { toolId: 'a:b', issues: [{ path: '/x', keyword: 'type', message: 'must be number' }] });
    const back = ToolError.fromJSON(JSON.parse(JSON.stringify(e)));
    expect(back).toBeInstanceOf(ToolError);
    expect(back.code).toBe('INPUT_VALIDATION');
    expect(back.paths).toEqual(['/x']);
    expect(ToolError.fromJSON({ code: 'WHATEVER', message: 'm' }).code).toBe('EXECUTION');
    expect(new ToolError('TIMEOUT', 't').retryable).toBe(true);
  });
});
