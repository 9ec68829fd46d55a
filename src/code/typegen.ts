/**
 * TypeScript declarations for the in-sandbox API, generated from tool schemas: what a model
 * reads to write a correct script, and what the type checker checks a script against.
 *
 *   declare const tools: { github: { /** Create an issue. *\/ create_issue(args: { title: string }): Promise<{ number: number }> } };
 *   declare function run<Id extends string>(toolId: ..., ...args: ArgsOf<Id>): ResultOf<Id>;
 *
 * Each tool is declared once, in `tools`; `run(id, args)` is typed from `tools` by a generic
 * mapping (a tool ID is mapped to its `tools.<namespace>.<name>` member), so its cost does not
 * grow with the number of tools. A description is trimmed to its first paragraph and a budget;
 * what a tool without an output schema returns is named (`Unstructured`) and explained once.
 *
 * For prompts with many tools, `declarationsWithinBudget` degrades step by step, tool by tool
 * and then namespace by namespace: full signatures, signatures without docs, one line per tool
 * (to be described on demand), one line per namespace.
 *
 * JSON Schema to TypeScript covers what tool schemas use: `$ref` into `$defs`/`definitions`,
 * `enum`/`const`, `anyOf`/`oneOf`/`allOf`, type lists, `nullable`, objects with required and
 * optional properties and `additionalProperties`, arrays and tuples. What has no TypeScript
 * counterpart (formats, ranges, patterns, defaults) goes into the property's JSDoc.
 */
import type { ToolIndex } from '../index/types.js';
import { matchToolPattern } from '../model/tool-id.js';
import type { Tool } from '../model/tool.js';
import { jsSafeName } from './names.js';
import { sandboxParagraph } from './sandbox-globals.js';

/** Which tools to include: ID patterns (`github:*`), or a predicate. All tools when absent. */
export type TypegenFilter = string | readonly string[] | ((tool: Tool) => boolean);

/** How declarations are written. */
export interface TypegenOptions {
  /** JSDoc from tool and property descriptions (default true). */
  docs?: boolean;
  /** Most characters of one tool's JSDoc: its description's first paragraph, trimmed (default 300). */
  toolDocChars?: number;
  /** Most characters of one property's description in its JSDoc (default 120). */
  propertyDocChars?: number;
  /** The shared part: the sandbox paragraph, `searchTools`, `describeTool`, `run` and its types (default true). */
  preamble?: boolean;
  /**
   * Declare `run(id, args)` with the generic types that give each tool ID its signature (what
   * the type checker needs; default true), or as one plain signature whose doc says so (what a
   * model needs to read; the default of `declarationsWithinBudget`).
   */
  typedRun?: boolean;
}

/** Default of `TypegenOptions.toolDocChars`. */
export const DEFAULT_TOOL_DOC_CHARS = 300;
/** Default of `TypegenOptions.propertyDocChars`. */
export const DEFAULT_PROPERTY_DOC_CHARS = 120;

type Schema = Record<string, unknown> | boolean;

const IDENT = /^[A-Za-z_$][A-Za-z0-9_$]*$/;
const MAX_DEPTH = 12;
/** An object type this short (and without docs) is written on one line. */
const INLINE_OBJECT_CHARS = 80;
/** Most characters of the description on a tool's line when only its name is listed. */
const LISTED_DESCRIPTION_CHARS = 80;
/** Longest JSON of one constraint value (a `default`, a `pattern`) in a JSDoc. */
const MAX_NOTE_CHARS = 60;

function key(name: string): string {
  return IDENT.test(name) ? name : JSON.stringify(name);
}

/** Text safe inside a `/** *\/` comment, on one line. */
function docText(text: string): string {
  return text.replace(/\*\//g, '*\\/').replace(/\s+/g, ' ').trim();
}

/**
 * The first paragraph of `text`, on one line, at most `max` characters: cut at the end of a
 * sentence when one ends in the second half, else at a word, with an ellipsis.
 */
export function trimDescription(text: string, max: number): string {
  const first = docText(text.split(/\n\s*\n/).find((p) => p.trim() !== '') ?? '');
  if (first.length <= max) return first;
  const cut = first.slice(0, max);
  const sentence = Math.max(cut.lastIndexOf('. '), cut.lastIndexOf('? '), cut.lastIndexOf('! '));
  if (sentence >= max / 2) return cut.slice(0, sentence + 1);
  const space = cut.lastIndexOf(' ');
  return `${cut.slice(0, space > max / 2 ? space : max - 1).replace(/[\s,;:.]+$/, '')}…`;
}

/** JSON of a schema value; a local tool's schema is a JavaScript object and may not be JSON. */
function jsonOf(v: unknown): string {
  try {
    return JSON.stringify(v) ?? 'undefined';
  } catch {
    return '…';
  }
}

function clip(s: string, max: number): string {
  return s.length <= max ? s : `${s.slice(0, max - 1)}…`;
}

/** Constraints TypeScript cannot express, for the JSDoc of a property. */
function constraintNotes(s: Record<string, unknown>): string[] {
  const notes: string[] = [];
  const num = (k: string) => (typeof s[k] === 'number' ? (s[k] as number) : undefined);
  const range = (lo: number | undefined, hi: number | undefined, what: string) => {
    if (lo !== undefined && hi !== undefined) notes.push(`${what}${lo}..${hi}`);
    else if (lo !== undefined) notes.push(`${what}>= ${lo}`);
    else if (hi !== undefined) notes.push(`${what}<= ${hi}`);
  };
  range(num('minimum'), num('maximum'), '');
  if (num('exclusiveMinimum') !== undefined) notes.push(`> ${num('exclusiveMinimum')}`);
  if (num('exclusiveMaximum') !== undefined) notes.push(`< ${num('exclusiveMaximum')}`);
  range(num('minLength'), num('maxLength'), 'length ');
  range(num('minItems'), num('maxItems'), 'items ');
  if (num('multipleOf') !== undefined) notes.push(`multiple of ${num('multipleOf')}`);
  if (typeof s.format === 'string') notes.push(`format ${clip(s.format, MAX_NOTE_CHARS)}`);
  if (typeof s.pattern === 'string') notes.push(`pattern ${clip(JSON.stringify(s.pattern), MAX_NOTE_CHARS)}`);
  if (s.default !== undefined) notes.push(`default ${clip(jsonOf(s.default), MAX_NOTE_CHARS)}`);
  return notes;
}

interface PrintOptions {
  docs: boolean;
  propertyDocChars: number;
}

class SchemaPrinter {
  private readonly expanding = new Set<string>();

  constructor(
    private readonly root: Schema,
    private readonly options: PrintOptions,
  ) {}

  private resolveRef(ref: string): Schema | undefined {
    if (!ref.startsWith('#')) return undefined;
    if (ref === '#') return this.root;
    const parts = ref
      .slice(2)
      .split('/')
      .map((p) => decodeURIComponent(p).replace(/~1/g, '/').replace(/~0/g, '~'));
    let cur: unknown = this.root;
    for (const p of parts) {
      if (cur === null || typeof cur !== 'object') return undefined;
      cur = (cur as Record<string, unknown>)[p];
    }
    return typeof cur === 'object' || typeof cur === 'boolean' ? (cur as Schema) : undefined;
  }

  print(schema: unknown, indent: string, depth = 0): string {
    if (schema === true || schema === undefined) return 'unknown';
    if (schema === false) return 'never';
    if (schema === null || typeof schema !== 'object' || depth > MAX_DEPTH) return 'unknown';
    const s = schema as Record<string, unknown>;
    let type = this.printBare(s, indent, depth);
    if (s.nullable === true && type !== 'unknown') type = `${wrap(type)} | null`;
    return type;
  }

  private printBare(s: Record<string, unknown>, indent: string, depth: number): string {
    if (typeof s.$ref === 'string') {
      const ref = s.$ref;
      // A recursive type is cut where it recurs: the declaration stays finite.
      if (this.expanding.has(ref)) return 'unknown';
      const target = this.resolveRef(ref);
      if (target === undefined) return 'unknown';
      this.expanding.add(ref);
      try {
        return this.print(target, indent, depth + 1);
      } finally {
        this.expanding.delete(ref);
      }
    }
    if ('const' in s) return literal(s.const);
    if (Array.isArray(s.enum)) return s.enum.length ? unique(s.enum.map(literal)).join(' | ') : 'never';
    for (const k of ['anyOf', 'oneOf'] as const) {
      const list = s[k];
      if (Array.isArray(list) && list.length) {
        const base = stripCombinator(s, k);
        const parts = unique(list.map((x) => this.print(mergeBase(base, x), indent, depth + 1)));
        return parts.includes('unknown') ? 'unknown' : parts.map(wrap).join(' | ');
      }
    }
    if (Array.isArray(s.allOf) && s.allOf.length) {
      const base = stripCombinator(s, 'allOf');
      const parts = unique([...(Object.keys(base).length ? [this.print(base, indent, depth + 1)] : []), ...s.allOf.map((x) => this.print(x, indent, depth + 1))]).filter((p) => p !== 'unknown');
      return parts.length ? parts.map(wrap).join(' & ') : 'unknown';
    }
    const t = s.type;
    if (Array.isArray(t)) {
      const parts = unique(t.map((one) => this.printType(String(one), s, indent, depth)));
      return parts.map(wrap).join(' | ');
    }
    if (typeof t === 'string') return this.printType(t, s, indent, depth);
    if (s.properties || s.additionalProperties !== undefined || s.required) return this.printType('object', s, indent, depth);
    if (s.items || s.prefixItems) return this.printType('array', s, indent, depth);
    return 'unknown';
  }

  private printType(t: string, s: Record<string, unknown>, indent: string, depth: number): string {
    switch (t) {
      case 'string':
        return 'string';
      case 'number':
      case 'integer':
        return 'number';
      case 'boolean':
        return 'boolean';
      case 'null':
        return 'null';
      case 'array':
        return this.printArray(s, indent, depth);
      case 'object':
        return this.printObject(s, indent, depth);
      default:
        return 'unknown';
    }
  }

  private printArray(s: Record<string, unknown>, indent: string, depth: number): string {
    const tuple = Array.isArray(s.prefixItems) ? s.prefixItems : Array.isArray(s.items) ? s.items : undefined;
    if (tuple) {
      const parts = tuple.map((x) => this.print(x, indent, depth + 1));
      const rest = Array.isArray(s.prefixItems) && s.items !== undefined && s.items !== false ? [`...${wrap(this.print(s.items, indent, depth + 1))}[]`] : [];
      return `[${[...parts, ...rest].join(', ')}]`;
    }
    return `${wrap(this.print(s.items, indent, depth + 1))}[]`;
  }

  private printObject(s: Record<string, unknown>, indent: string, depth: number): string {
    const props = s.properties && typeof s.properties === 'object' ? (s.properties as Record<string, unknown>) : {};
    const required = new Set(Array.isArray(s.required) ? s.required.filter((x): x is string => typeof x === 'string') : []);
    const names = Object.keys(props);
    const extra = s.additionalProperties;
    if (names.length === 0) {
      if (extra === false) return 'Record<string, never>';
      const value = extra === undefined || extra === true ? 'unknown' : this.print(extra, indent, depth + 1);
      return `Record<string, ${value}>`;
    }
    const inner = indent + '  ';
    const members: { doc: string; text: string }[] = [];
    for (const name of names) {
      const p = props[name];
      const ps = p && typeof p === 'object' ? (p as Record<string, unknown>) : {};
      let doc = '';
      if (this.options.docs) {
        const text = typeof ps.description === 'string' ? ps.description : typeof ps.title === 'string' ? ps.title : '';
        const described = text ? trimDescription(text, this.options.propertyDocChars) : '';
        const notes = constraintNotes(ps).map(docText);
        doc = described && notes.length ? `${described} (${notes.join(', ')})` : described || notes.join(', ');
      }
      members.push({ doc, text: `${key(name)}${required.has(name) ? '' : '?'}: ${this.print(p, inner, depth + 1)};` });
    }
    if (extra !== undefined && extra !== false && extra !== true) {
      // Declared properties must fit the index signature, so it stays loose.
      members.push({ doc: '', text: '[key: string]: unknown;' });
    }
    if (members.every((m) => !m.doc && !m.text.includes('\n'))) {
      const one = `{ ${members.map((m) => m.text).join(' ').replace(/;$/, '')} }`;
      if (one.length <= INLINE_OBJECT_CHARS) return one;
    }
    return `{\n${members.map((m) => `${inner}${m.doc ? `/** ${m.doc} */ ` : ''}${m.text}`).join('\n')}\n${indent}}`;
  }
}

function stripCombinator(s: Record<string, unknown>, k: string): Record<string, unknown> {
  const { [k]: _omit, ...rest } = s;
  return rest;
}

/** Sibling keywords (`type`, `properties`) apply to each branch of an anyOf/oneOf. */
function mergeBase(base: Record<string, unknown>, branch: unknown): unknown {
  const meaningful = Object.keys(base).filter((k) => !['description', 'title', '$schema', '$id', '$defs', 'definitions', 'examples', 'default'].includes(k));
  if (meaningful.length === 0 || branch === null || typeof branch !== 'object') return branch;
  return { ...Object.fromEntries(meaningful.map((k) => [k, base[k]])), ...(branch as Record<string, unknown>) };
}

function literal(v: unknown): string {
  if (v === null || typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') return JSON.stringify(v);
  return 'unknown';
}

/** Parenthesizes a type that has a top-level `|` or `&`, so it can be an array element or union member. */
function wrap(t: string): string {
  let depth = 0;
  let quote: string | undefined;
  for (let i = 0; i < t.length; i++) {
    const c = t[i]!;
    if (quote) {
      if (c === '\\') i++;
      else if (c === quote) quote = undefined;
    } else if (c === '"' || c === "'") quote = c;
    else if (c === '{' || c === '[' || c === '(' || c === '<') depth++;
    else if (c === '}' || c === ']' || c === ')' || c === '>') depth--;
    else if (depth === 0 && (c === '|' || c === '&')) return `(${t})`;
  }
  return t;
}

function unique(xs: string[]): string[] {
  return [...new Set(xs)];
}

function selectTools(index: ToolIndex, filter?: TypegenFilter): Tool[] {
  const all = index.list();
  if (filter === undefined) return all;
  if (typeof filter === 'function') return all.filter(filter);
  const patterns = typeof filter === 'string' ? [filter] : [...filter];
  return all.filter((t) => patterns.some((p) => matchToolPattern(p, t.id)));
}

// ------------------------------------------------------------------ layout

/** Where a tool is declared: as `tools.<ns>.<name>` (or `tools.<name>`), or reachable by `run(id)` only. */
interface Placed {
  tool: Tool;
  /** JavaScript-safe namespace (`''` for a tool without one). */
  ns: string;
  /** JavaScript-safe name. */
  name: string;
  /** Declared in `tools` (else only in `RunOnly`, by its ID). */
  inTools: boolean;
  /**
   * For a tool in `tools` whose ID the generic mapping cannot find (a safe spelling that adds
   * a leading `_`): `RunOnly` maps the ID to its member.
   */
  alias: boolean;
}

/** What the generic `SafeId` type computes for an ID: `-` and `.` become `_`. */
function typeLevelSafe(id: string): string {
  return id.replace(/[-.]/g, '_');
}

/**
 * Decides where each tool is declared, mirroring what the sandbox does: `tools.ns.x` calls
 * `run("ns:x")`, which reaches the tool whose ID is exactly that, else the first registered
 * tool whose safe spelling it is. A versioned tool, or one that loses such a tie, is
 * reachable only through `run()` with its own ID.
 */
function layout(tools: Tool[]): Placed[] {
  const out: Placed[] = [];
  const taken = new Map<string, Placed>();
  const namespaces = new Set(tools.filter((t) => t.namespace !== undefined).map((t) => jsSafeName(t.namespace!)));
  // Exact spellings first, then registration order: that is the order resolveToolId picks in.
  const order = [...tools].sort((a, b) => rank(a) - rank(b));
  for (const tool of order) {
    const ns = tool.namespace === undefined ? '' : jsSafeName(tool.namespace);
    const name = jsSafeName(tool.name);
    const slot = `${ns}:${name}`;
    // A bare tool named like a namespace would be shadowed by it.
    const free = tool.version === undefined && !taken.has(slot) && !(ns === '' && namespaces.has(name));
    const placed: Placed = { tool, ns, name, inTools: free, alias: false };
    if (free) {
      taken.set(slot, placed);
      const expected = ns === '' ? name : `${ns}:${name}`;
      placed.alias = typeLevelSafe(tool.id) !== expected;
    }
    out.push(placed);
  }
  return out.sort((a, b) => (a.tool.id < b.tool.id ? -1 : a.tool.id > b.tool.id ? 1 : 0));
}

function rank(t: Tool): number {
  const exact = jsSafeName(t.name) === t.name && (t.namespace === undefined || jsSafeName(t.namespace) === t.namespace);
  return t.version !== undefined ? 2 : exact ? 0 : 1;
}

// ------------------------------------------------------------------ one tool

interface Resolved {
  docs: boolean;
  toolDocChars: number;
  propertyDocChars: number;
  preamble: boolean;
  typedRun: boolean;
}

function resolveOptions(o: TypegenOptions = {}, typedRun = true): Resolved {
  return {
    docs: o.docs ?? true,
    toolDocChars: o.toolDocChars ?? DEFAULT_TOOL_DOC_CHARS,
    propertyDocChars: o.propertyDocChars ?? DEFAULT_PROPERTY_DOC_CHARS,
    preamble: o.preamble ?? true,
    typedRun: o.typedRun ?? typedRun,
  };
}

function toolDoc(t: Tool, max: number): string {
  const text = t.description ? trimDescription(t.description, max) : t.title ? trimDescription(t.title, max) : '';
  const hints = [t.annotations?.readOnlyHint ? 'Read-only.' : '', t.annotations?.destructiveHint ? 'Destructive.' : ''].filter(Boolean);
  // Hints read as sentences of their own after the description.
  const lead = text && hints.length && !/[.!?…)]$/.test(text) ? `${text}.` : text;
  return [lead, ...hints].filter(Boolean).join(' ');
}

/** `name(args: {...}): Promise<...>;` with its JSDoc, at `indent`. */
function signature(t: Tool, name: string, indent: string, o: Resolved): string {
  const print: PrintOptions = { docs: o.docs, propertyDocChars: o.propertyDocChars };
  const input = t.inputSchema === undefined ? undefined : new SchemaPrinter(t.inputSchema as Schema, print).print(t.inputSchema, indent);
  const output = t.outputSchema === undefined ? 'Unstructured' : new SchemaPrinter(t.outputSchema as Schema, print).print(t.outputSchema, indent);
  const required = Array.isArray((t.inputSchema as Record<string, unknown> | undefined)?.required) && ((t.inputSchema as Record<string, unknown>).required as unknown[]).length > 0;
  const args = input === undefined ? 'args?: Record<string, unknown>' : `args${required ? '' : '?'}: ${input}`;
  const doc = o.docs ? toolDoc(t, o.toolDocChars) : '';
  return `${doc ? `${indent}/** ${doc} */\n` : ''}${indent}${name}(${args}): Promise<${output}>;`;
}

// ------------------------------------------------------------------ the whole text

const PREAMBLE_HEAD = `// A script is JavaScript or TypeScript with top-level await. Its result is the value of a top-level
// \`return\`, else of its last expression, and must be JSON (await your tool calls).`;

const PREAMBLE_TYPES = `/** A failed tool call throws this: \`code\` is INPUT_VALIDATION, TOOL_NOT_FOUND, TOOL_NOT_ALLOWED, EXECUTION, TIMEOUT, ... */
interface ToolCallError extends Error { code: string; toolId?: string; retryable?: boolean; issues?: { path: string; message: string }[] }
/**
 * What a tool without an output schema resolves to. From an MCP server: a single text item
 * arrives as that string (parsed when the text is JSON), other content as its list of items
 * ({ type: "text", text } | { type: "image", data, mimeType } | ...)[]. From a local tool: the
 * value it returned. Not checked: look at it before you rely on its shape.
 */
type Unstructured = any;
/** Tools matching a query (at most \`limit\`, default 10). */
declare function searchTools(query: string, limit?: number): Promise<{ id: string; name: string; namespace?: string; title?: string; description?: string; score?: number }[]>;
/** One tool's description and JSON Schemas. */
declare function describeTool(toolId: string): Promise<{ id: string; name: string; namespace?: string; description?: string; inputSchema?: object; outputSchema?: object; annotations?: object }>;`;

const TOOLS_DOC =
  '/** The tools: `tools.<namespace>.<name>(args)`. Characters other than letters, digits, `_` and `$` are spelled `_` (`my-server:get-item` is `tools.my_server.get_item`). */';

/**
 * The generic typing of `run()`: an ID maps to its `tools` member (after the same `-`/`.` to
 * `_` spelling), `RunOnly` holds the IDs that mapping cannot reach, and an ID that is not a
 * literal (a computed string) or names a version is untyped. A literal ID of no declared tool
 * is an error: at run time it would be TOOL_NOT_FOUND or TOOL_NOT_ALLOWED.
 */
const RUN_TYPES = `type Tools = typeof tools;
type ToolId = { [N in keyof Tools]: Tools[N] extends Function ? N : \`\${N & string}:\${keyof Tools[N] & string}\` }[keyof Tools] | keyof RunOnly;
type SafeId<S extends string> = S extends \`\${infer A}-\${infer B}\` ? SafeId<\`\${A}_\${B}\`> : S extends \`\${infer A}.\${infer B}\` ? SafeId<\`\${A}_\${B}\`> : S;
type ToolOf<Id extends string> = {} extends Record<Id, 1> ? never : Id extends keyof RunOnly ? RunOnly[Id] : SafeId<Id> extends \`\${infer N extends keyof Tools & string}:\${infer T}\` ? (T extends keyof Tools[N] ? Tools[N][T] : never) : Id extends keyof Tools ? Tools[Id] : never;
type ArgsOf<Id extends string> = Id extends any ? ([ToolOf<Id>] extends [never] ? [args?: Record<string, unknown>] : ToolOf<Id> extends (...a: infer A) => any ? A : never) : never;
type ResultOf<Id extends string> = Id extends any ? ([ToolOf<Id>] extends [never] ? Promise<Unstructured> : ToolOf<Id> extends (...a: any) => infer R ? R : never) : never;
/** Calls a tool by ID: \`run("my-server:get-item", args)\` is \`tools.my_server.get_item(args)\`. Computed IDs and versioned ones (\`ns:name:1.2\`) are not type-checked. */
declare function run<Id extends string>(toolId: [ToolOf<Id>] extends [never] ? (Id extends \`\${string}:\${string}:\${string}\` ? Id : {} extends Record<Id, 1> ? Id : ToolId) : Id, ...args: ArgsOf<Id>): ResultOf<Id>;`;

/** `run` as a model reads it: the same typing, said in words. */
const RUN_BRIEF = `/** Calls a tool by ID, typed like its \`tools\` member: \`run("my-server:get-item", args)\` is \`tools.my_server.get_item(args)\`. */
declare function run(toolId: string, args?: Record<string, unknown>): Promise<any>;`;

/** How much one tool is told about, from most to least. */
export type DeclarationLevel = 'full' | 'signature' | 'listed' | 'namespace';

interface Unit {
  placed: Placed;
  level: DeclarationLevel;
  /** Rendered text at each level (computed on demand). */
  full?: string;
  signature?: string;
  listed: string;
}

function renderUnit(u: Unit, level: 'full' | 'signature', o: Resolved): string {
  const cached = u[level];
  if (cached !== undefined) return cached;
  const { placed } = u;
  const oo = { ...o, docs: level === 'full' && o.docs };
  let text: string;
  if (!placed.inTools) {
    text = signature(placed.tool, JSON.stringify(placed.tool.id), '  ', oo);
  } else {
    text = signature(placed.tool, key(placed.name), placed.ns === '' ? '  ' : '    ', oo);
  }
  u[level] = text;
  return text;
}

function listedLine(t: Tool): string {
  const d = t.description ?? t.title;
  return `//   ${t.id}${d ? `: ${trimDescription(d, LISTED_DESCRIPTION_CHARS)}` : ''}`;
}

interface Assembly {
  units: Unit[];
  /** Namespaces (safe spelling, '' for bare tools) shown only by their count. */
  collapsed: Set<string>;
  /** Namespaces left out entirely (past the budget even as counts). */
  omitted: number;
}

function assemble(a: Assembly, o: Resolved): string {
  const byNs = new Map<string, string[]>();
  const bare: string[] = [];
  const runOnly: string[] = [];
  const listed: string[] = [];
  for (const u of a.units) {
    const p = u.placed;
    if (u.level === 'namespace' || a.collapsed.has(p.ns)) continue;
    if (u.level === 'listed') {
      listed.push(u.listed);
      continue;
    }
    const text = renderUnit(u, u.level, o);
    if (!p.inTools) runOnly.push(text);
    else if (p.ns === '') bare.push(text);
    else {
      const list = byNs.get(p.ns) ?? [];
      list.push(text);
      byNs.set(p.ns, list);
    }
    if (p.alias && o.preamble && o.typedRun) runOnly.push(`  ${JSON.stringify(p.tool.id)}: Tools[${JSON.stringify(p.ns || p.name)}]${p.ns ? `[${JSON.stringify(p.name)}]` : ''};`);
  }
  const members = [...[...byNs].map(([ns, fns]) => `  ${key(ns)}: {\n${fns.join('\n')}\n  };`), ...bare];
  const parts: string[] = [];
  if (o.preamble) parts.push(PREAMBLE_HEAD, sandboxParagraph(), '', PREAMBLE_TYPES, '');
  if (o.preamble) parts.push(TOOLS_DOC);
  parts.push(members.length ? `declare const tools: {\n${members.join('\n')}\n};` : 'declare const tools: {};');
  if (runOnly.length) parts.push(`/** Tools reached only by ID, with run(): versions, and names another tool's spelling takes. */\ninterface RunOnly {\n${runOnly.join('\n')}\n}`);
  else if (o.preamble && o.typedRun) parts.push('interface RunOnly {}');
  if (o.preamble) parts.push(o.typedRun ? RUN_TYPES : RUN_BRIEF);
  if (listed.length) parts.push(`// More tools (their types: describeTool(id) in a script, describe_tool outside):\n${listed.join('\n')}`);
  const collapsed = countsByNamespace(a);
  if (collapsed.length || a.omitted) {
    parts.push(`// More namespaces (their tools: searchTools(query) in a script, search_tools outside):\n${collapsed.join('\n')}${a.omitted ? `${collapsed.length ? '\n' : ''}//   … and ${a.omitted} more` : ''}`);
  }
  return `${parts.join('\n')}\n`;
}

function countsByNamespace(a: Assembly): string[] {
  const counts = new Map<string, { shown: string; n: number }>();
  for (const u of a.units) {
    const p = u.placed;
    if (!a.collapsed.has(p.ns)) continue;
    const c = counts.get(p.ns) ?? { shown: p.tool.namespace ?? '(tools without a namespace)', n: 0 };
    c.n++;
    counts.set(p.ns, c);
  }
  return [...counts.values()].map((c) => `//   ${c.shown}: ${c.n} tool${c.n === 1 ? '' : 's'}`);
}

/**
 * TypeScript declarations for `tools`, `run`, `searchTools` and `describeTool`, covering the
 * index's tools (or those the filter selects), with JSDoc from their descriptions.
 */
export function generateTypes(index: ToolIndex, filter?: TypegenFilter, options?: TypegenOptions): string {
  const o = resolveOptions(options);
  const units: Unit[] = layout(selectTools(index, filter)).map((placed) => ({ placed, level: o.docs ? 'full' : 'signature', listed: listedLine(placed.tool) }));
  return assemble({ units, collapsed: new Set(), omitted: 0 }, o);
}

/** What `declarationsWithinBudget` produced. */
export interface BudgetedDeclarations {
  text: string;
  /** How many tools are told about at each level. */
  levels: Record<DeclarationLevel, number>;
  /** Namespaces left out even as a count. */
  omittedNamespaces: number;
  /** Whether the text fits the budget (false only when even the fixed part does not). */
  fits: boolean;
}

/**
 * Declarations that fit in `budget` characters, degrading step by step only as far as
 * needed: first the tools with the longest declarations lose their docs, then (all docs gone)
 * the longest signatures become one line each (`id: description`), then the largest
 * namespaces become one line each (`namespace: N tools`), then the last namespaces are only
 * counted. The preamble is always there; a budget smaller than it gives the preamble alone.
 */
export function declarationsWithinBudget(index: ToolIndex, budget: number, filter?: TypegenFilter, options?: TypegenOptions): BudgetedDeclarations {
  if (!Number.isFinite(budget) || budget <= 0) throw new TypeError(`declarationsWithinBudget: budget must be a positive number of characters, got ${budget}`);
  const o = resolveOptions(options, false);
  const units: Unit[] = layout(selectTools(index, filter)).map((placed) => ({ placed, level: o.docs ? 'full' : 'signature', listed: listedLine(placed.tool) }));
  const a: Assembly = { units, collapsed: new Set(), omitted: 0 };
  const initial: DeclarationLevel = o.docs ? 'full' : 'signature';
  // Lengths of one unit at each level; the difference is what degrading it saves. Block
  // overheads (a namespace's braces, a list's header) are settled by re-assembling.
  const size = (u: Unit) => (u.level === 'full' || u.level === 'signature' ? renderUnit(u, u.level, o).length + 1 : u.level === 'listed' ? u.listed.length + 1 : 0);
  let text = '';
  let total = 0;
  const measure = () => {
    text = assemble(a, o);
    total = text.length;
  };
  /** Moves tools from one level to the next until the text fits; false when none is left to move. */
  const degrade = (from: DeclarationLevel, to: DeclarationLevel): void => {
    while (total > budget) {
      // The ones that save the most go first; one that would save nothing keeps its detail.
      const candidates = units
        .filter((u) => u.level === from && !a.collapsed.has(u.placed.ns))
        .map((u) => {
          const before = size(u);
          u.level = to;
          const saves = before - size(u);
          u.level = from;
          return { u, saves };
        })
        .filter((c) => c.saves > 0)
        .sort((x, y) => y.saves - x.saves || cmp(x.u.placed.tool.id, y.u.placed.tool.id));
      if (candidates.length === 0) return;
      let estimate = total;
      for (const { u, saves } of candidates) {
        if (estimate <= budget) break;
        u.level = to;
        estimate -= saves;
      }
      measure();
    }
  };
  /** The most detail the tools of the namespaces still shown can have. */
  const fit = () => {
    for (const u of units) if (!a.collapsed.has(u.placed.ns)) u.level = initial;
    measure();
    if (initial === 'full') degrade('full', 'signature');
    degrade('signature', 'listed');
  };
  fit();
  if (total > budget) {
    // Whole namespaces become a count, largest first; the others get back all the detail
    // that then fits.
    const groups = new Map<string, number>();
    for (const u of units) groups.set(u.placed.ns, (groups.get(u.placed.ns) ?? 0) + renderUnit(u, initial, o).length);
    for (const [ns] of [...groups].sort((x, y) => y[1] - x[1] || cmp(x[0], y[0]))) {
      if (total <= budget) break;
      a.collapsed.add(ns);
      fit();
    }
  }
  // Counting namespaces out helps only when it brings the text under the budget at all.
  const floor = total > budget ? assemble({ units: [], collapsed: new Set(), omitted: a.collapsed.size }, o).length : 0;
  while (total > budget && floor <= budget && a.collapsed.size > 0) {
    // Even the counts do not fit: drop namespace lines from the end, keeping a tally.
    const last = [...a.collapsed].sort(cmp).at(-1)!;
    a.collapsed.delete(last);
    for (const u of units) if (u.placed.ns === last) u.level = 'namespace';
    a.omitted++;
    measure();
  }
  const levels: Record<DeclarationLevel, number> = { full: 0, signature: 0, listed: 0, namespace: 0 };
  for (const u of units) levels[a.collapsed.has(u.placed.ns) || u.level === 'namespace' ? 'namespace' : u.level]++;
  return { text, levels, omittedNamespaces: a.omitted, fits: total <= budget };
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
