/**
 * TypeScript declarations for the in-sandbox API, generated from tool schemas: what a model
 * needs in its prompt to write a correct `toolexec exec` script.
 *
 *   declare const tools: { github: { create_issue(args: { title: string; ... }): Promise<{ ... }> } };
 *
 * JSON Schema to TypeScript covers what tool schemas use: `$ref` into `$defs`/`definitions`,
 * `enum`/`const`, `anyOf`/`oneOf`/`allOf`, type lists, `nullable`, objects with required and
 * optional properties and `additionalProperties`, arrays and tuples. What has no TypeScript
 * counterpart (formats, ranges, patterns) is kept in the JSDoc.
 */
import type { ToolIndex } from '../index/types.js';
import { matchToolPattern } from '../model/tool-id.js';
import type { Tool } from '../model/tool.js';
import { jsSafeName } from './names.js';

/** Which tools to include: ID patterns (`github:*`), or a predicate. All tools when absent. */
export type TypegenFilter = string | readonly string[] | ((tool: Tool) => boolean);

type Schema = Record<string, unknown> | boolean;

const IDENT = /^[A-Za-z_$][A-Za-z0-9_$]*$/;
const MAX_DEPTH = 12;

function key(name: string): string {
  return IDENT.test(name) ? name : JSON.stringify(name);
}

function docText(text: string): string {
  return text.replace(/\*\//g, '*\\/');
}

/** A JSDoc block at the given indentation, or '' when there is nothing to say. */
function jsdoc(lines: string[], indent: string): string {
  const clean = lines.flatMap((l) => docText(l).split('\n')).map((l) => l.trimEnd());
  while (clean.length && clean[clean.length - 1] === '') clean.pop();
  if (clean.length === 0) return '';
  if (clean.length === 1) return `${indent}/** ${clean[0]} */\n`;
  return `${indent}/**\n${clean.map((l) => `${indent} *${l ? ` ${l}` : ''}`).join('\n')}\n${indent} */\n`;
}

/** Constraints TypeScript cannot express, for the JSDoc of a property. */
function constraintNotes(s: Record<string, unknown>): string[] {
  const notes: string[] = [];
  for (const k of ['format', 'pattern', 'minimum', 'maximum', 'exclusiveMinimum', 'exclusiveMaximum', 'minLength', 'maxLength', 'minItems', 'maxItems', 'multipleOf']) {
    if (s[k] !== undefined) notes.push(`${k}: ${JSON.stringify(s[k])}`);
  }
  if (s.default !== undefined) notes.push(`@default ${JSON.stringify(s.default)}`);
  return notes;
}

class SchemaPrinter {
  private readonly expanding = new Set<string>();

  constructor(private readonly root: Schema) {}

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
    if (Array.isArray(s.enum)) return s.enum.length ? s.enum.map(literal).join(' | ') : 'never';
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
    const lines: string[] = [];
    for (const name of names) {
      const p = props[name];
      const ps = p && typeof p === 'object' ? (p as Record<string, unknown>) : {};
      const doc = [
        ...(typeof ps.title === 'string' && typeof ps.description !== 'string' ? [ps.title] : []),
        ...(typeof ps.description === 'string' ? [ps.description] : []),
        ...constraintNotes(ps),
      ];
      lines.push(`${jsdoc(doc, inner)}${inner}${key(name)}${required.has(name) ? '' : '?'}: ${this.print(p, inner, depth + 1)};`);
    }
    if (extra !== undefined && extra !== false && extra !== true) {
      // Declared properties must fit the index signature, so it stays loose.
      lines.push(`${inner}[key: string]: unknown;`);
    }
    return `{\n${lines.join('\n')}\n${indent}}`;
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

function toolDoc(t: Tool): string[] {
  const lines: string[] = [];
  if (t.title) lines.push(t.title, '');
  if (t.description) lines.push(t.description, '');
  const hints: string[] = [];
  if (t.annotations?.readOnlyHint) hints.push('read-only');
  if (t.annotations?.destructiveHint) hints.push('destructive');
  if (t.annotations?.idempotentHint) hints.push('idempotent');
  if (hints.length) lines.push(`Hints: ${hints.join(', ')}.`);
  lines.push(`Tool ID: \`${t.id}\` (also \`run(${JSON.stringify(t.id)}, args)\`).`);
  return lines;
}

function signature(t: Tool, name: string, indent: string): string {
  const input = t.inputSchema === undefined ? undefined : new SchemaPrinter(t.inputSchema as Schema).print(t.inputSchema, indent);
  const output = t.outputSchema === undefined ? 'unknown' : new SchemaPrinter(t.outputSchema as Schema).print(t.outputSchema, indent);
  const required = Array.isArray((t.inputSchema as Record<string, unknown> | undefined)?.required) && ((t.inputSchema as Record<string, unknown>).required as unknown[]).length > 0;
  const args = input === undefined ? 'args?: Record<string, unknown>' : `args${required ? '' : '?'}: ${input}`;
  return `${jsdoc(toolDoc(t), indent)}${indent}${key(name)}(${args}): Promise<${output}>;`;
}

const PREAMBLE = `// The API available to scripts run by toolexec (\`toolexec exec\`, Executor.execute).
// Scripts are JavaScript or TypeScript with top-level await; the value of the last expression
// (or of a top-level \`return\`) is the result. Tool failures throw an Error with \`code\`
// (e.g. "INPUT_VALIDATION", "TOOL_NOT_FOUND"), \`toolId\` and, for validation, \`issues\`.

/** A failed tool call, as thrown inside the sandbox. */
interface ToolCallError extends Error {
  code: string;
  toolId?: string;
  retryable?: boolean;
  issues?: { path: string; keyword: string; message: string }[];
}

/** A search hit from \`searchTools\`. */
interface ToolSummary {
  id: string;
  name: string;
  namespace?: string;
  title?: string;
  description?: string;
  tags?: string[];
  score?: number;
}

/** Finds tools by keywords (at most \`limit\`, default 10). */
declare function searchTools(query: string, limit?: number): Promise<ToolSummary[]>;
/** A tool's description and JSON schemas. */
declare function describeTool(toolId: string): Promise<ToolSummary & { inputSchema?: object; outputSchema?: object; annotations?: object; version?: string }>;
`;

/**
 * TypeScript declarations for `tools`, `run`, `searchTools` and `describeTool`, covering the
 * index's tools (or those the filter selects), with JSDoc from their descriptions.
 */
export function generateTypes(index: ToolIndex, filter?: TypegenFilter): string {
  const selected = selectTools(index, filter).sort((a, b) => a.id.localeCompare(b.id));
  const byNamespace = new Map<string, Tool[]>();
  const bare: Tool[] = [];
  for (const t of selected) {
    if (t.namespace === undefined) bare.push(t);
    else {
      const ns = jsSafeName(t.namespace);
      const list = byNamespace.get(ns) ?? [];
      list.push(t);
      byNamespace.set(ns, list);
    }
  }
  const members: string[] = [];
  for (const [ns, list] of byNamespace) {
    const seen = new Set<string>();
    const fns: string[] = [];
    for (const t of list) {
      const name = jsSafeName(t.name);
      // Versioned IDs share a name; the first (unversioned sorts first) is the one `tools.` reaches.
      if (seen.has(name)) continue;
      seen.add(name);
      fns.push(signature(t, name, '    '));
    }
    members.push(`  ${key(ns)}: {\n${fns.join('\n')}\n  };`);
  }
  for (const t of bare) {
    const name = jsSafeName(t.name);
    if (byNamespace.has(name)) continue;
    members.push(signature(t, name, '  '));
  }
  const overloads = selected.map((t) => {
    const input = t.inputSchema === undefined ? 'Record<string, unknown>' : new SchemaPrinter(t.inputSchema as Schema).print(t.inputSchema, '');
    const output = t.outputSchema === undefined ? 'unknown' : new SchemaPrinter(t.outputSchema as Schema).print(t.outputSchema, '');
    return `declare function run(toolId: ${JSON.stringify(t.id)}, args: ${input}): Promise<${output}>;`;
  });
  return [
    PREAMBLE,
    '/** The tools, by namespace; names that are not JavaScript identifiers use `_` for other characters. */',
    `declare const tools: {\n${members.join('\n')}\n};`,
    '',
    ...overloads,
    '/** Calls a tool by ID (`namespace:name`); resolves to its structured result. */',
    'declare function run(toolId: string, args?: Record<string, unknown>): Promise<unknown>;',
    '',
  ].join('\n');
}
