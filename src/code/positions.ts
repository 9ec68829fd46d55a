/**
 * Positions, mapped in one place: runtimes report lines and columns of the program they ran (the
 * prepared script, wrapper included), and everything a user sees (an error's `line` and `column`,
 * its stack) is turned into positions of the script they wrote here.
 */
import { PRELUDE_FILENAME } from '../runtime/guest.js';

/** Length of the `return (` that preparation inserts before a final expression. */
const RETURN_PREFIX_LENGTH = 'return ('.length;

/** What preparation tells about where the user's text sits in the program. */
export interface ProgramLayout {
  /** Lines of the program before the user's first line. */
  lineOffset: number;
  /** Where `return (` was inserted (user line, 1-based column), to undo its column shift. */
  returnInsertedAt?: { line: number; column: number } | undefined;
}

export interface UserPosition {
  line?: number;
  column?: number;
}

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

export class ScriptPositions {
  private readonly frame: RegExp;

  constructor(
    private readonly layout: ProgramLayout,
    private readonly filename: string,
  ) {
    this.frame = new RegExp(`${escape(filename)}:(\\d+)(?::(\\d+))?`);
  }

  /** A program position as a position in the user's script; empty when it is in the wrapper. */
  map(line: number | undefined, column?: number): UserPosition {
    if (line === undefined || !Number.isFinite(line)) return {};
    const userLine = line - this.layout.lineOffset;
    if (userLine < 1) return {};
    const at = this.layout.returnInsertedAt;
    let userColumn = column;
    if (userColumn !== undefined && at && userLine === at.line && userColumn > at.column) userColumn -= RETURN_PREFIX_LENGTH;
    return userColumn === undefined ? { line: userLine } : { line: userLine, column: userColumn };
  }

  /** The first frame of the script's own file in a stack, as a user position. */
  fromStack(stack: unknown): UserPosition {
    if (typeof stack !== 'string') return {};
    const m = this.frame.exec(stack);
    if (!m) return {};
    return this.map(Number(m[1]), m[2] === undefined ? undefined : Number(m[2]));
  }

  /**
   * The stack as the user's script sees it: its positions mapped back to its own lines and
   * columns, and the frames of the prelude and of the wrapper dropped.
   */
  stack(stack: string): string {
    const global = new RegExp(this.frame.source, 'g');
    const out: string[] = [];
    for (const frame of stack.split('\n')) {
      if (frame.includes(PRELUDE_FILENAME)) continue;
      let wrapper = false;
      const mapped = frame.replace(global, (_all, l: string, c: string | undefined) => {
        const p = this.map(Number(l), c === undefined ? undefined : Number(c));
        if (p.line === undefined) {
          wrapper = true;
          return _all;
        }
        return `${this.filename}:${p.line}${p.column !== undefined ? `:${p.column}` : ''}`;
      });
      if (!wrapper) out.push(mapped);
    }
    return out.join('\n');
  }
}
