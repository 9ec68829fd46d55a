/**
 * Script preparation: turns a user's script (JavaScript or TypeScript, with top-level
 * `await` and `return`) into the classic script a runtime evaluates after the prelude.
 *
 *   __toolexec_start(async function () {
 *   <user script, line for line>
 *   });
 *
 * The user's line N is line N + 1 of the program, so positions map back by subtracting one.
 * When the last top-level statement is an expression, it becomes `return (<expr>);` on the same
 * lines, which gives "the value of the last expression" without changing any line number.
 */
import { createRequire } from 'node:module';
import { parse, type Node } from 'acorn';

type SucraseTransform = typeof import('sucrase').transform;
let sucraseTransform: SucraseTransform | undefined;
/** Sucrase is loaded on the first TypeScript script only: plain JavaScript never needs it. */
function transform(...args: Parameters<SucraseTransform>): ReturnType<SucraseTransform> {
  sucraseTransform ??= (createRequire(import.meta.url)('sucrase') as typeof import('sucrase')).transform;
  return sucraseTransform(...args);
}

/** Lines the wrapper puts before the user's first line. */
export const WRAPPER_LINE_OFFSET = 1;
const HEAD = '__toolexec_start(async function () {\n';
const TAIL = '\n});\n';
const RETURN_PREFIX = 'return (';

export interface PreparedScript {
  ok: true;
  code: string;
  lineOffset: number;
  /** Whether TypeScript syntax was stripped. */
  typescript: boolean;
  /** Where `return (` was inserted (user coordinates, 1-based line, 1-based column), to correct error columns. */
  returnInsertedAt?: { line: number; column: number };
}

export interface PrepareFailure {
  ok: false;
  error: { code: 'SYNTAX_ERROR'; message: string; line?: number; column?: number };
}

const ACORN_OPTIONS = { ecmaVersion: 'latest', sourceType: 'script', locations: true, allowHashBang: false } as const;

const cache = new Map<string, PreparedScript | PrepareFailure>();
const CACHE_MAX = 200;

/**
 * Prepares a script. Results are cached by source text: agents resend the same scripts, and
 * parsing costs more than a small execution.
 */
export function prepareScript(source: string): PreparedScript | PrepareFailure {
  const hit = cache.get(source);
  if (hit) return hit;
  const out = prepareUncached(source);
  if (cache.size >= CACHE_MAX) cache.delete(cache.keys().next().value as string);
  cache.set(source, out);
  return out;
}

function prepareUncached(source: string): PreparedScript | PrepareFailure {
  // A leading hashbang (`#!/usr/bin/env ...`) is allowed in files run by the CLI; keep its line.
  const body = source.startsWith('#!') ? '//' + source.slice(2) : source;
  let program = HEAD + body + TAIL;
  let typescript = false;
  let ast: Node;
  try {
    ast = parse(program, ACORN_OPTIONS) as Node;
  } catch (jsError) {
    // Not plain JavaScript: try TypeScript. Sucrase strips types and keeps every line.
    let stripped: string;
    try {
      stripped = transform(program, { transforms: ['typescript'], disableESTransforms: true }).code;
    } catch (tsErrorRaw) {
      // Sucrase's columns are one past acorn's 0-based ones.
      const tsError = withLoc(tsErrorRaw, -1);
      // Both parsers refuse: the one that got further is nearer the real mistake (JavaScript
      // stops at the first type annotation of TypeScript input). On a tie, acorn's position is exact.
      const further = positionOf(tsError) > positionOf(jsError) ? tsError : jsError;
      return syntaxFailure(further, undefined, lineCount(body));
    }
    try {
      ast = parse(stripped, ACORN_OPTIONS) as Node;
    } catch (e) {
      return syntaxFailure(e, undefined, lineCount(body));
    }
    program = stripped;
    typescript = true;
  }
  const fn = findMainFunction(ast);
  if (!fn) {
    // Only possible when the script closes the wrapper's function itself (`});` at top level).
    return { ok: false, error: { code: 'SYNTAX_ERROR', message: "SyntaxError: the script closes more braces or parentheses than it opens" } };
  }
  let returnInsertedAt: PreparedScript['returnInsertedAt'];
  const last = fn.body.body.at(-1) as (Node & { expression?: Node; directive?: string }) | undefined;
  if (last && last.type === 'ExpressionStatement' && last.expression && last.directive === undefined) {
    // The statement's text, parentheses included, minus its own semicolon, becomes
    // `return (<text>);` (the expression node alone would leave its parentheses outside).
    let end = last.end;
    if (program[end - 1] === ';') end--;
    program = program.slice(0, last.start) + RETURN_PREFIX + program.slice(last.start, end) + ');' + program.slice(last.end);
    const loc = (last as Node & { loc: { start: { line: number; column: number } } }).loc.start;
    returnInsertedAt = { line: loc.line - WRAPPER_LINE_OFFSET, column: loc.column + 1 };
  }
  return { ok: true, code: program, lineOffset: WRAPPER_LINE_OFFSET, typescript, returnInsertedAt };
}

function findMainFunction(ast: Node): { body: { body: Node[] } } | undefined {
  if ((ast as unknown as { body: Node[] }).body.length !== 1) return undefined;
  const stmt = (ast as unknown as { body: Node[] }).body[0] as Node & { expression?: { arguments?: Node[] } };
  const fn = stmt?.expression?.arguments?.[0] as (Node & { body: { body: Node[] } }) | undefined;
  return fn && fn.type === 'FunctionExpression' ? fn : undefined;
}

function withLoc(e: unknown, columnShift: number): unknown {
  const loc = (e as { loc?: { line: number; column: number } })?.loc;
  if (!loc) return e;
  return { message: (e as Error).message, loc: { line: loc.line, column: Math.max(0, loc.column + columnShift) } };
}

function positionOf(e: unknown): number {
  const loc = (e as { loc?: { line: number; column: number } })?.loc;
  return loc ? loc.line * 1e6 + loc.column : -1;
}

function lineCount(text: string): number {
  let n = 1;
  for (let i = text.indexOf('\n'); i !== -1; i = text.indexOf('\n', i + 1)) n++;
  return n;
}

function syntaxFailure(primary: unknown, fallback: unknown, userLines: number): PrepareFailure {
  const e = (primary ?? fallback) as { message?: string; loc?: { line: number; column: number } };
  const raw = String(e?.message ?? 'invalid syntax').replace(/\s*\(\d+:\d+\)\s*$/, '');
  const out: PrepareFailure['error'] = { code: 'SYNTAX_ERROR', message: `SyntaxError: ${raw}` };
  if (e?.loc && typeof e.loc.line === 'number') {
    const line = e.loc.line - WRAPPER_LINE_OFFSET;
    if (line >= 1 && line <= userLines) {
      out.line = line;
      out.column = e.loc.column + 1;
      out.message += ` (line ${line}, column ${out.column})`;
    } else {
      // The error is in the wrapper's closing line: the script ended early (an unclosed brace).
      out.message += ' (at the end of the script)';
    }
  }
  return { ok: false, error: out };
}
