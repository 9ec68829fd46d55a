/**
 * Script preparation: turns a user's script (JavaScript or TypeScript, with top-level
 * `await` and `return`) into the classic script a runtime evaluates after the prelude.
 *
 *   __toolexec_start(async function () {
 *   <user script, line for line>
 *   }
 *
 * The user's line N is line N + 1 of the program, so positions map back by subtracting one.
 * The prepared text stops before the call's closing `);`: each execution appends
 * `, <flags>, <env JSON>);` (see `closeProgram`), so the text stays cached while every execution
 * gets its own environment (seed, clock, durability) and flags (1: the prelude fetches the input
 * from the host, as JSON over the bridge, and defines the `input` global before the script starts).
 *
 * Preparation runs on the host before any deadline has started, so every step is linear in
 * the script's size and the size is bounded first (`maxScriptBytes`):
 *
 * 1. The user's text is parsed on its own (acorn, top-level `return` and `await` allowed).
 *    Only a complete program is accepted, so no text can close the wrapper, and positions in
 *    errors are the user's own.
 * 2. Text acorn refuses is tried as TypeScript: amaro (Node's own type stripper, swc compiled to
 *    WebAssembly) replaces types with whitespace, so every line and column stays where it was;
 *    the result must then parse as JavaScript. amaro loads on the first such script only.
 * 3. When the last statement is an expression it becomes `return (<expr>);` on the same lines,
 *    which gives "the value of the last expression" without moving any line.
 * 4. The wrapped program is parsed again and its shape checked: defence in depth for step 1.
 *
 * Syntax errors carry the line, column and message Node reports for the same text (V8 compiles
 * the wrapped text, without running it, only when a script has already failed to parse).
 */
import { createRequire } from 'node:module';
import { dirname, sep } from 'node:path';
import { Script } from 'node:vm';
import { parse, type Node } from 'acorn';

/** Lines the wrapper puts before the user's first line. */
export const WRAPPER_LINE_OFFSET = 1;
/** Default of the `maxScriptBytes` limit: the largest script (UTF-8 bytes) an execution prepares. */
export const DEFAULT_MAX_SCRIPT_BYTES = 256 * 1024;

const START = '__toolexec_start';
const HEAD = `${START}(async function () {\n`;
/** The prepared text ends here; `closeProgram` adds the arguments and the call's `);`. */
const TAIL = '\n}';
/** What `wrapperShapeProblem` closes the text with to parse it (the executor's own tail has this shape). */
const CHECK_TAIL = ', 0, {});\n';

/** The per-execution environment the prelude's `start` reads (DESIGN.md "Durable executions"). */
export interface GuestEnv {
  /** 64 hex digits (32 bytes of the host's entropy): the guest's CSPRNG seed. */
  seed: string;
  /** The host's `Date.now()` when the execution started. */
  now: number;
  /** When true, the guest's clock advances only to the `t` of the host's replies, and Math.random is seeded. */
  durable: boolean;
}

/**
 * Closes a prepared program for one execution: `, <flags>, <env JSON>);`. Cheap string
 * concatenation, so the prepared text stays cached. Flag 1: the execution has an input. Flag 2:
 * it has egress (the prelude then defines `fetch`, `Headers` and `Response`, whose library it
 * loads on first use).
 */
export function closeProgram(code: string, input: boolean, env: GuestEnv, egress = false): string {
  const e = `{"seed":${JSON.stringify(String(env.seed))},"now":${Number.isFinite(env.now) ? env.now : 0},"durable":${env.durable === true}}`;
  return `${code}, ${(input ? 1 : 0) | (egress ? 2 : 0)}, ${e});\n`;
}
const RETURN_PREFIX = 'return (';
/**
 * What `import(...)` is renamed to: a prelude function of the same length (so no column moves)
 * that rejects with the "no modules" message, the same in every runtime.
 */
const IMPORT_STAND_IN = '$__imp';

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
  error: { code: 'SYNTAX_ERROR' | 'SCRIPT_TOO_LARGE'; message: string; line?: number; column?: number };
}

/** Options of `prepareScript`. */
export interface PrepareOptions {
  /** Largest script accepted, in UTF-8 bytes (default `DEFAULT_MAX_SCRIPT_BYTES`). */
  maxScriptBytes?: number;
  /**
   * Whether the execution has an input: the wrapper then has the prelude ask the host for it
   * (an `input` request, answered with JSON) and define the `input` global before the script
   * starts. Arguments travel as data this way, never as source text.
   */
  input?: boolean;
}

// `locations` stays off: line and column are computed only where needed, and acorn's
// location objects cost as much as the rest of the parse.
const USER_OPTIONS = { ecmaVersion: 'latest', sourceType: 'script', allowReturnOutsideFunction: true, allowAwaitOutsideFunction: true, allowHashBang: false } as const;
const WRAPPED_OPTIONS = { ecmaVersion: 'latest', sourceType: 'script', allowHashBang: false } as const;

// A cache bounded in entries and in characters: agents resend the same scripts, and a script
// near maxScriptBytes must not pin hundreds of copies of itself.
const cache = new Map<string, PreparedScript | PrepareFailure>();
const CACHE_MAX = 200;
const CACHE_MAX_CHARS = 4_000_000;
let cachedChars = 0;
let preparations = 0;

/** @internal How many scripts were prepared without the cache's help (for tests). */
export function preparationCount(): number {
  return preparations;
}

const sizeOf = (source: string, out: PreparedScript | PrepareFailure) => source.length + (out.ok ? out.code.length : 0);

/**
 * Prepares a script, or says why it cannot run. Results are cached by source text: agents resend the same scripts, and parsing costs more than a small execution.
 */
export function prepareScript(source: string, options: PrepareOptions = {}): PreparedScript | PrepareFailure {
  const max = options.maxScriptBytes ?? DEFAULT_MAX_SCRIPT_BYTES;
  // UTF-8 never takes fewer bytes than UTF-16 code units, nor more than three per unit: only a
  // script between the two bounds needs counting.
  if (source.length > max || (source.length * 3 > max && Buffer.byteLength(source, 'utf8') > max)) {
    const bytes = Buffer.byteLength(source, 'utf8');
    return {
      ok: false,
      error: {
        code: 'SCRIPT_TOO_LARGE',
        message: `The script is ${bytes} bytes; maxScriptBytes is ${max}. Send a shorter script (pass data as the execution's input, or keep it in tools), or raise the maxScriptBytes limit`,
      },
    };
  }
  // The input flag is the executor's to append (`closeProgram`): one text serves both.
  const key = source;
  const hit = cache.get(key);
  if (hit) {
    cache.delete(key);
    cache.set(key, hit);
    return hit;
  }
  preparations++;
  const out = prepareUncached(source);
  const size = sizeOf(key, out);
  if (size <= CACHE_MAX_CHARS / 4) {
    cache.set(key, out);
    cachedChars += size;
    while (cache.size > CACHE_MAX || cachedChars > CACHE_MAX_CHARS) {
      const [oldest, value] = cache.entries().next().value as [string, PreparedScript | PrepareFailure];
      cache.delete(oldest);
      cachedChars -= sizeOf(oldest, value);
    }
  }
  return out;
}

type Program = Node & { body: Statement[] };
type Statement = Node & { expression?: Node & Record<string, unknown>; directive?: string };

function prepareUncached(source: string): PreparedScript | PrepareFailure {
  // A leading hashbang (`#!/usr/bin/env ...`) is allowed in files run by the CLI; keep its line.
  const body = source.startsWith('#!') ? '//' + source.slice(2) : source;
  let code = body;
  let typescript = false;
  let ast: Program;
  try {
    ast = parse(body, USER_OPTIONS) as unknown as Program;
  } catch (jsError) {
    if (!isAcornError(jsError)) return tooDeep();
    const moduleFailure = modulesFailure(body, jsError);
    if (moduleFailure) return moduleFailure;
    // Not plain JavaScript: try TypeScript.
    const stripped = stripTypes(body);
    if ('code' in stripped) {
      try {
        ast = parse(stripped.code, USER_OPTIONS) as unknown as Program;
      } catch (e) {
        if (!isAcornError(e)) return tooDeep();
        return modulesFailure(stripped.code, e) ?? failure(javaScriptError(stripped.code, e));
      }
      code = stripped.code;
      typescript = true;
    } else if (stripped.kind === 'crashed') {
      return tooDeep();
    } else if (stripped.kind === 'unsupported') {
      return failure(stripped.error);
    } else {
      // Both parsers refuse. When acorn stopped at TypeScript syntax that the TypeScript
      // parser got past, the script is TypeScript and its error is the TypeScript parser's;
      // otherwise it is JavaScript, and Node's own position for it is the honest one.
      const tsError = stripped.error;
      if (tsError.offset > jsError.pos && looksLikeTypeScript(body, jsError.pos)) {
        if (/'import', and 'export' cannot be used/.test(tsError.message)) return modulesAt(body, tsError.offset);
        return failure(tsError);
      }
      return failure(javaScriptError(body, jsError));
    }
  }
  return finish(ast, code, typescript);
}

function finish(ast: Program, program: string, typescript: boolean): PreparedScript | PrepareFailure {
  if (program.includes('import')) program = renameDynamicImports(ast, program);
  let returnInsertedAt: PreparedScript['returnInsertedAt'];
  const last = ast.body.at(-1);
  // A string literal alone is a directive to the parser, but still the script's last
  // expression: `"done"` returns "done", as eval would.
  if (last && last.type === 'ExpressionStatement' && last.expression) {
    // The statement's text, parentheses included, minus its own semicolon, becomes
    // `return (<text>);` (the expression node alone would leave its parentheses outside).
    let end = last.end;
    if (program[end - 1] === ';') end--;
    program = program.slice(0, last.start) + RETURN_PREFIX + program.slice(last.start, end) + ');' + program.slice(last.end);
    const at = lineColumnAt(program, last.start);
    returnInsertedAt = { line: at.line, column: at.column };
  }
  const wrapped = HEAD + program + TAIL;
  const problem = wrapperShapeProblem(wrapped, program.length);
  if (problem) return { ok: false, error: { code: 'SYNTAX_ERROR', message: `SyntaxError: ${problem}` } };
  return { ok: true, code: wrapped, lineOffset: WRAPPER_LINE_OFFSET, typescript, returnInsertedAt };
}

/**
 * Why `wrapped` is not exactly `__toolexec_start(async function () { <user text> })`, or
 * undefined. The user's text parsed alone already guarantees it; this checks the result
 * independently, so a parser quirk cannot turn into a script that escapes the wrapper.
 * @internal exported for tests
 */
export function wrapperShapeProblem(wrapped: string, userLength: number): string | undefined {
  let ast: Program;
  try {
    ast = parse(wrapped + CHECK_TAIL, WRAPPED_OPTIONS) as unknown as Program;
  } catch (e) {
    return `the wrapped script does not parse (${isAcornError(e) ? stripPosition(e.message) : 'too deeply nested'})`;
  }
  const call = ast.body.length === 1 && ast.body[0]!.type === 'ExpressionStatement' ? (ast.body[0]!.expression as unknown as CallShape) : undefined;
  const args = call?.type === 'CallExpression' && call.callee.type === 'Identifier' && call.callee.name === START ? call.arguments : undefined;
  const argsOk = args !== undefined && args.length === 3 && args[1]!.type === 'Literal' && args[1]!.value === 0 && args[2]!.type === 'ObjectExpression';
  const fn = argsOk ? args[0] : undefined;
  const ok =
    fn !== undefined &&
    fn.type === 'FunctionExpression' &&
    fn.async === true &&
    fn.generator === false &&
    fn.params.length === 0 &&
    fn.body.start === HEAD.length - 2 &&
    fn.body.end === HEAD.length + userLength + 2;
  return ok ? undefined : "the script closes the executor's wrapper (it has more closing braces or parentheses than opening ones)";
}

interface CallShape {
  type: string;
  callee: { type: string; name?: string };
  arguments: Array<{ type: string; value?: unknown; async?: boolean; generator?: boolean; params: unknown[]; body: { start: number; end: number } }>;
}

/**
 * `import(x)` can never load anything in a sandbox; renaming the keyword to a prelude function
 * of the same length lets every runtime reject it with the same message instead of three
 * different engine errors.
 */
function renameDynamicImports(ast: Program, program: string): string {
  const starts: number[] = [];
  // Iterative walk: acorn's own recursion bounded the depth already, but this adds no frames.
  const stack: unknown[] = [ast];
  while (stack.length > 0) {
    const node = stack.pop() as Record<string, unknown>;
    if (node.type === 'ImportExpression') starts.push(node.start as number);
    for (const key in node) {
      const v = node[key];
      if (v === null || typeof v !== 'object') continue;
      if (Array.isArray(v)) {
        for (const item of v) if (item !== null && typeof item === 'object' && typeof (item as Node).type === 'string') stack.push(item);
      } else if (typeof (v as Node).type === 'string') stack.push(v);
    }
  }
  if (starts.length === 0) return program;
  starts.sort((a, b) => a - b);
  let out = '';
  let from = 0;
  for (const s of starts) {
    out += program.slice(from, s) + IMPORT_STAND_IN;
    from = s + IMPORT_STAND_IN.length;
  }
  return out + program.slice(from);
}

// ---------------------------------------------------------------- TypeScript

interface SyntaxInfo {
  message: string;
  line?: number;
  column?: number;
}

interface AmaroError {
  code?: string;
  message?: string;
  startLine?: number;
  startColumn?: number;
  snippet?: string;
}

type Amaro = { transformSync(source: string, options: { mode: 'strip-only' }): { code: string } };
let amaro: Amaro | undefined;

/**
 * Loads a fresh amaro. Its WebAssembly instance is unusable after a trap (a stack overflow in
 * a deeply nested script leaves the instance's own stack pointer behind), so the module is
 * forgotten by the require cache at once: the next load after a crash builds a new instance,
 * and the old one is collected.
 */
function loadAmaro(): Amaro {
  const req = createRequire(import.meta.url);
  const main = req.resolve('amaro');
  const loaded = req(main) as Amaro;
  const dir = dirname(main) + sep;
  for (const key of Object.keys(req.cache)) if (key.startsWith(dir)) delete req.cache[key];
  return loaded;
}

// The TypeScript parser sees the script as the body of an async function, like the runtime.
const TS_HEAD = 'async function __toolexec_ts() {\n';
const TS_TAIL = '\n}';

const TS_HINTS: Array<[RegExp, string]> = [
  [/enum/, 'use an object instead, e.g. `const Color = { Red: 0, Green: 1 } as const`'],
  [/namespace|module/, 'use a plain object or separate functions instead'],
  [/parameter propert/, 'declare the field in the class and assign it in the constructor'],
];

function stripTypes(text: string): { code: string } | { kind: 'invalid' | 'unsupported'; error: SyntaxInfo & { offset: number } } | { kind: 'crashed' } {
  let out: string;
  try {
    amaro ??= loadAmaro();
    out = amaro.transformSync(TS_HEAD + text + TS_TAIL, { mode: 'strip-only' }).code;
  } catch (e) {
    const err = e as AmaroError;
    if (typeof err?.code !== 'string') {
      // A trap or a stack overflow inside WebAssembly: this instance is done for.
      amaro = undefined;
      return { kind: 'crashed' };
    }
    const lines = lineCount(text);
    const line = (err.startLine ?? 1) - 1;
    let offset: number;
    if (line > lines) {
      // At the wrapper's closing line: the script ended early.
      offset = text.length;
    } else {
      // The snippet's caret marks the column in characters (the error's own column counts
      // differ for characters outside the Basic Multilingual Plane).
      const caret = typeof err.snippet === 'string' ? /\n([ \t]*)\^/.exec(err.snippet) : null;
      offset = offsetOf(text, Math.max(line, 1), caret ? caret[1]!.length : (err.startColumn ?? 0));
    }
    const at = lineColumnAt(text, offset);
    let message = String(err.message ?? 'invalid TypeScript');
    const unsupported = err.code === 'UnsupportedSyntax';
    if (unsupported) {
      const hint = TS_HINTS.find(([re]) => re.test(message))?.[1];
      message += `: TypeScript runs with its types stripped, not compiled, so that positions stay exact${hint ? `; ${hint}` : ''}`;
    }
    return { kind: unsupported ? 'unsupported' : 'invalid', error: { message, line: at.line, column: at.column, offset } };
  }
  // Types become whitespace: the same length, the same line breaks. Anything else would break
  // every position, so check rather than trust.
  const stripped = out.slice(TS_HEAD.length, out.length - TS_TAIL.length);
  if (out.length !== TS_HEAD.length + text.length + TS_TAIL.length || !out.startsWith(TS_HEAD) || !sameLineBreaks(text, stripped)) {
    return { kind: 'unsupported', error: { message: 'this TypeScript cannot be stripped without moving code', offset: 0 } };
  }
  return { code: stripped };
}

function sameLineBreaks(a: string, b: string): boolean {
  for (let i = 0; i < a.length; i++) {
    const ca = a.charCodeAt(i);
    const cb = b.charCodeAt(i);
    if (isLineBreakCode(ca) ? ca !== cb : isLineBreakCode(cb)) return false;
  }
  return true;
}

function isLineBreakCode(c: number): boolean {
  return c === 10 || c === 13 || c === 0x2028 || c === 0x2029;
}

const TS_WORDS = new Set([
  'interface', 'type', 'enum', 'namespace', 'module', 'declare', 'abstract', 'as', 'satisfies', 'implements',
  'private', 'public', 'protected', 'readonly', 'override', 'keyof', 'infer', 'is', 'asserts', 'unique',
]);

/** Whether acorn stopped at syntax only TypeScript has: an annotation, an assertion, a declaration keyword. */
function looksLikeTypeScript(text: string, pos: number): boolean {
  const c = text[pos];
  if (c === ':' || c === '<' || c === '?' || c === '!' || c === '@') return true;
  const word = /^[A-Za-z_$][\w$]*/.exec(text.slice(pos, pos + 32))?.[0];
  if (word && TS_WORDS.has(word)) return true;
  const before = /([A-Za-z_$][\w$]*)\s*$/.exec(text.slice(Math.max(0, pos - 48), pos))?.[1];
  return before !== undefined && TS_WORDS.has(before);
}

// ---------------------------------------------------------------- errors

interface AcornError {
  message: string;
  pos: number;
  loc: { line: number; column: number };
}

function isAcornError(e: unknown): e is AcornError {
  return e instanceof SyntaxError && typeof (e as unknown as AcornError).pos === 'number';
}

function stripPosition(message: string): string {
  return message.replace(/\s*\(\d+:\d+\)\s*$/, '');
}

function failure(info: SyntaxInfo): PrepareFailure {
  const error: PrepareFailure['error'] = { code: 'SYNTAX_ERROR', message: `SyntaxError: ${info.message}` };
  if (info.line !== undefined) {
    error.line = info.line;
    if (info.column !== undefined) error.column = info.column;
    error.message += info.column !== undefined ? ` (line ${info.line}, column ${info.column})` : ` (line ${info.line})`;
  }
  return { ok: false, error };
}

/** A parser ran out of stack: brackets, blocks or chained operators thousands of levels deep. */
function tooDeep(): PrepareFailure {
  return {
    ok: false,
    error: {
      code: 'SYNTAX_ERROR',
      message: 'SyntaxError: the script nests too deeply to be parsed (brackets, blocks or chained operators thousands of levels deep); split it into smaller expressions',
    },
  };
}

const MODULES_HINT = 'a script has no modules. Reach tools with `await run("namespace:tool", args)` or `tools.<namespace>.<tool>(args)`, and `return` the result';

/** `import` and `export` statements get a message that says what to do instead. */
function modulesFailure(text: string, e: AcornError): PrepareFailure | undefined {
  if (!/'import' and 'export' may appear only|Cannot use 'import\.meta' outside a module/.test(e.message)) return undefined;
  return modulesAt(text, e.pos);
}

function modulesAt(text: string, pos: number): PrepareFailure {
  const keyword = /^(import|export)/.exec(text.slice(pos, pos + 6))?.[1] ?? 'import';
  const at = lineColumnAt(text, pos);
  const f = failure({ message: `\`${keyword}\` is not available in the sandbox: ${MODULES_HINT}`, line: at.line, column: at.column });
  return f;
}

/**
 * A JavaScript syntax error as Node reports it: V8 compiles the wrapped text (nothing runs)
 * and its position is used when it falls inside the user's text. V8 accepting the text (the
 * script closed the wrapper), or failing past its end (an unclosed brace), leaves acorn's
 * position in the text alone, which is where `node --check` points.
 */
function javaScriptError(text: string, e: AcornError): SyntaxInfo {
  const v8 = v8SyntaxError(text);
  const lines = lineCount(text);
  if (v8 && v8.line >= 1 && v8.line <= lines) {
    if (v8.column === undefined && v8.line === e.loc.line) v8.column = e.loc.column + 1;
    // One `}` too many closes the wrapper's function, and V8 then misses the wrapper's `)`;
    // in the text alone (what `node --check` reads) that brace is simply unexpected.
    if (/^missing \) after argument list/.test(v8.message) && text[e.pos] === '}' && v8.line === e.loc.line && v8.column === e.loc.column + 1) {
      v8.message = "Unexpected token '}'";
    }
    return v8;
  }
  if (v8 && v8.line > lines && /end of input/.test(v8.message)) {
    // An unterminated template or comment swallows the wrapper's last line: the input ended.
    const at = lineColumnAt(text, text.length);
    return { message: v8.message, line: at.line, column: at.column };
  }
  let message = stripPosition(e.message);
  if (message === 'Unexpected token') {
    if (text.slice(e.pos).trim() === '') message = 'Unexpected end of input';
    else message = `Unexpected token '${/^[A-Za-z_$][\w$]*/.exec(text.slice(e.pos, e.pos + 64))?.[0] ?? text[e.pos]}'`;
  }
  return { message, line: e.loc.line, column: e.loc.column + 1 };
}

const V8_FILENAME = 'toolexec-syntax-check.js';

function v8SyntaxError(text: string): (SyntaxInfo & { line: number }) | undefined {
  try {
    new Script(HEAD + text + '\n});\n', { filename: V8_FILENAME, lineOffset: -WRAPPER_LINE_OFFSET });
    return undefined;
  } catch (e) {
    if (!(e instanceof SyntaxError)) return undefined;
    // Node puts `file:line`, the source line and a caret under the offending token in front
    // of a compile error's stack.
    const stack = String(e.stack);
    const head = `${V8_FILENAME}:`;
    if (!stack.startsWith(head)) return undefined;
    const [first, , caretLine] = stack.split('\n', 3);
    const line = Number(first!.slice(head.length));
    if (!Number.isSafeInteger(line)) return undefined;
    const caret = caretLine === undefined ? -1 : caretLine.indexOf('^');
    const info: SyntaxInfo & { line: number } = { message: e.message, line };
    if (caret >= 0) info.column = caret + 1;
    else if (caretLine !== undefined && /^[ \t]+$/.test(caretLine) && caretLine.length < 1000) info.column = caretLine.length + 1;
    return info;
  }
}

// ---------------------------------------------------------------- positions

function isLineBreakAt(text: string, i: number): boolean {
  return isLineBreakCode(text.charCodeAt(i));
}

/** 1-based line and column of an offset, with the line breaks JavaScript counts. */
function lineColumnAt(text: string, offset: number): { line: number; column: number } {
  let line = 1;
  let lineStart = 0;
  for (let i = 0; i < offset && i < text.length; i++) {
    if (isLineBreakAt(text, i)) {
      if (text.charCodeAt(i) === 13 && text.charCodeAt(i + 1) === 10) i++;
      line++;
      lineStart = i + 1;
    }
  }
  return { line, column: offset - lineStart + 1 };
}

/** Offset of a 1-based line and 0-based column. */
function offsetOf(text: string, line: number, column0: number): number {
  let current = 1;
  let i = 0;
  for (; i < text.length && current < line; i++) {
    if (isLineBreakAt(text, i)) {
      if (text.charCodeAt(i) === 13 && text.charCodeAt(i + 1) === 10) i++;
      current++;
    }
  }
  return Math.min(text.length, i + column0);
}

function lineCount(text: string): number {
  return lineColumnAt(text, text.length).line;
}
