import { describe, expect, it } from 'vitest';
import { ScriptPositions } from '../../src/code/positions.js';

describe('positions in the user script', () => {
  const p = new ScriptPositions({ lineOffset: 1, returnInsertedAt: { line: 3, column: 1 } }, 'script.js');
  it('maps program lines to user lines, undoing the inserted `return (`', () => {
    expect(p.map(2, 5)).toEqual({ line: 1, column: 5 });
    expect(p.map(4, 12)).toEqual({ line: 3, column: 4 });
    expect(p.map(4)).toEqual({ line: 3 });
    // The wrapper's own line is nobody's position.
    expect(p.map(1, 1)).toEqual({});
  });
  it('maps a stack, dropping prelude and wrapper frames', () => {
    const stack = ['Error: x', '    at f (script.js:3:7)', '    at run (toolexec-prelude.js:10:2)', '    at script.js:1:30', '    at script.js:4:15'].join('\n');
    expect(p.stack(stack)).toBe(['Error: x', '    at f (script.js:2:7)', '    at script.js:3:7'].join('\n'));
    expect(p.fromStack(stack)).toEqual({ line: 2, column: 7 });
  });
});
