/**
 * The ajv-backed `SchemaValidator`.
 *
 * - JSON Schema 2020-12 by default; draft-07 and 2019-09 when a schema's `$schema` says so
 *   (MCP servers in the wild send draft-07). Draft-06 uses its own meta-schema on the
 *   draft-07 engine; draft-04 is rewritten to draft-07 (`id`, boolean `exclusiveMaximum`).
 *   An unknown `$schema` is ignored and the default dialect applies.
 * - `ajv-formats` on every engine; formats are asserted (also under 2020-12, where the
 *   spec makes them annotations only: a tool that declares `format: "email"` wants emails).
 * - `strict: false`: schemas from the wild carry unknown keywords and loose typing. A
 *   `pattern` that is a syntax error under the `u` regex flag (Python-style `\#`) is
 *   retried without it. `required` ignores Object.prototype (`ownProperties`).
 * - `allErrors`, bounded: at most `maxIssues` issues are reported, the rest counted.
 * - Compiled validators are cached by schema identity (WeakMap) and by canonical JSON text
 *   in a bounded LRU, so identical schemas from different sources share one compile.
 * - External `$ref` is refused: nothing is ever fetched. Only the `remotes` given to the
 *   constructor (the conformance suite uses this) can be referenced across documents.
 */
import { createRequire } from 'node:module';
import type { ValidationIssue } from '../model/errors.js';
import { canonicalJson, type JsonSchema } from '../model/json.js';
import type { CompiledValidator, SchemaValidator, ValidationResult } from './types.js';

// ajv ships CommonJS with `exports.default`; createRequire sidesteps the ESM/CJS interop
// differences between tsc's NodeNext output and vitest.
const require = createRequire(import.meta.url);

/** The minimal slice of ajv's API this file uses (keeps ajv's types out of our public surface). */
interface AjvErrorObject {
  keyword: string;
  instancePath: string;
  schemaPath: string;
  params: Record<string, unknown>;
  message?: string;
}
interface AjvValidateFunction {
  (data: unknown): boolean;
  errors?: AjvErrorObject[] | null;
}
interface AjvInstance {
  compile(schema: unknown): AjvValidateFunction;
  addSchema(schema: unknown, key?: string, meta?: boolean, validateSchema?: boolean): AjvInstance;
  addMetaSchema(schema: unknown, key?: string, validateSchema?: boolean): AjvInstance;
  removeSchema(schema: unknown): AjvInstance;
  getSchema(key: string): AjvValidateFunction | undefined;
}
type AjvClass = new (options: Record<string, unknown>) => AjvInstance;

function loadClass(mod: string): AjvClass {
  const m = require(mod) as { default?: AjvClass } & AjvClass;
  return m.default ?? m;
}

/** The dialects the validator tells apart. */
export type SchemaDraft = '2020-12' | '2019-09' | 'draft-07';

export const SCHEMA_DRAFT_URIS: Readonly<Record<SchemaDraft, string>> = {
  '2020-12': 'https://json-schema.org/draft/2020-12/schema',
  '2019-09': 'https://json-schema.org/draft/2019-09/schema',
  'draft-07': 'http://json-schema.org/draft-07/schema#',
};

const DRAFT_06_URI = 'http://json-schema.org/draft-06/schema#';

/** Default bound of the canonical-text compile cache. */
export const DEFAULT_SCHEMA_CACHE_SIZE = 500;
/** Default bound on the issues reported for one value (ajv runs with `allErrors`). */
export const DEFAULT_MAX_ISSUES = 20;

export interface AjvSchemaValidatorOptions {
  /** Dialect for schemas without (or with an unrecognized) `$schema`. Default `2020-12`. */
  defaultDraft?: SchemaDraft;
  /**
   * Preloaded documents that `$ref` may point to, keyed by URI. For conformance tests and
   * closed deployments; the product default is none, so every cross-document `$ref` fails.
   */
  remotes?: Record<string, JsonSchema>;
  /** Bound of the canonical-JSON compile cache (entries). Default 500. */
  cacheSize?: number;
  /** Most issues reported for one value (more are counted in the message). Default 20. */
  maxIssues?: number;
  /** Assert `format` (default true). */
  validateFormats?: boolean;
}

/** Cache counters, for tests and diagnostics. */
export interface SchemaCacheStats {
  /** Lookups answered by schema object identity. */
  identityHits: number;
  /** Lookups answered by canonical JSON text (another object with the same content). */
  textHits: number;
  /** Real compiles. */
  compiles: number;
  /** Entries in the canonical-text LRU. */
  size: number;
}

const VALID: ValidationResult = Object.freeze({ valid: true }) as ValidationResult;

/** Detects the dialect from `$schema`; `undefined` means "not recognized". */
export function detectDraft(schema: JsonSchema): SchemaDraft | 'draft-06' | 'draft-04' | undefined {
  if (typeof schema !== 'object' || schema === null) return undefined;
  const uri = schema.$schema;
  if (typeof uri !== 'string') return undefined;
  if (/json-schema\.org\/draft\/2020-12\/schema/.test(uri)) return '2020-12';
  if (/json-schema\.org\/draft\/2019-09\/schema/.test(uri)) return '2019-09';
  if (/json-schema\.org\/draft-07\/schema/.test(uri)) return 'draft-07';
  if (/json-schema\.org\/draft-06\/schema/.test(uri)) return 'draft-06';
  if (/json-schema\.org\/draft-04\/schema/.test(uri)) return 'draft-04';
  return undefined;
}

/** Escapes one JSON pointer segment (RFC 6901). */
function pointerSegment(s: string): string {
  return s.replace(/~/g, '~0').replace(/\//g, '~1');
}

/** Keywords whose values are data, not subschemas: never rewritten. */
const DATA_KEYWORDS = new Set(['enum', 'const', 'default', 'examples', 'example']);

/** Rewrites the draft-04 differences ajv's draft-07 engine would reject (`id`, boolean exclusive bounds). */
function upgradeDraft04(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(upgradeDraft04);
  if (typeof node !== 'object' || node === null) return node;
  const src = node as Record<string, unknown>;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(src)) out[k] = DATA_KEYWORDS.has(k) ? v : upgradeDraft04(v);
  if (typeof out.id === 'string' && out.$id === undefined) {
    // A string `id` is the keyword (a property named "id" sits under `properties`, as an object).
    out.$id = out.id;
    delete out.id;
  }
  for (const [flag, bound] of [
    ['exclusiveMaximum', 'maximum'],
    ['exclusiveMinimum', 'minimum'],
  ] as const) {
    if (typeof out[flag] === 'boolean') {
      if (out[flag] === true && typeof out[bound] === 'number') {
        out[flag] = out[bound];
        delete out[bound];
      } else {
        delete out[flag];
      }
    }
  }
  return out;
}

function formatValue(v: unknown): string {
  const s = JSON.stringify(v);
  if (s === undefined) return String(v);
  return s.length > 60 ? s.slice(0, 57) + '...' : s;
}

/** Parent location for keywords that name a child property, as written in the sentence. */
function where(path: string): string {
  return path || '/';
}

/**
 * Turns one ajv error into an issue (whose path points at the offending location: the
 * missing or extra property itself) and the sentence part naming it.
 */
function toIssue(e: AjvErrorObject): { issue: ValidationIssue; text: string } {
  const p = e.params ?? {};
  let path = e.instancePath;
  let message = e.message ?? `must pass "${e.keyword}"`;
  const at = path;
  const child = (name: unknown): void => {
    if (typeof name === 'string') path = `${e.instancePath}/${pointerSegment(name)}`;
  };
  switch (e.keyword) {
    case 'required':
      child(p.missingProperty);
      if (typeof p.missingProperty === 'string') message = `must have required property ${JSON.stringify(p.missingProperty)}`;
      break;
    case 'dependentRequired':
    case 'dependencies':
      child(p.missingProperty);
      if (typeof p.missingProperty === 'string') {
        message = `must have property ${JSON.stringify(p.missingProperty)} when property ${JSON.stringify(p.property)} is present`;
      }
      break;
    case 'additionalProperties':
      child(p.additionalProperty);
      if (typeof p.additionalProperty === 'string') message = `must NOT have additional property ${JSON.stringify(p.additionalProperty)}`;
      break;
    case 'unevaluatedProperties':
      child(p.unevaluatedProperty);
      if (typeof p.unevaluatedProperty === 'string') message = `must NOT have unevaluated property ${JSON.stringify(p.unevaluatedProperty)}`;
      break;
    case 'enum':
      if (Array.isArray(p.allowedValues)) {
        const vals = p.allowedValues.slice(0, 10).map(formatValue).join(', ');
        message = `must be one of ${vals}${p.allowedValues.length > 10 ? ', ...' : ''}`;
      }
      break;
    case 'const':
      message = `must be equal to ${formatValue(p.allowedValue)}`;
      break;
    case 'propertyNames':
      if (typeof p.propertyName === 'string') message = `has an invalid property name ${JSON.stringify(p.propertyName)}`;
      break;
    default:
      break;
  }
  const issue: ValidationIssue = { path, keyword: e.keyword, message, schemaPath: e.schemaPath.replace(/^#/, '') };
  if (Object.keys(p).length > 0) issue.params = { ...p };
  return { issue, text: `${where(at)} ${message} (${e.keyword})` };
}

/** Joins the sentence parts; `omitted` counts issues beyond the bound. */
function joinSentence(parts: string[], omitted: number): string {
  if (parts.length === 0) return 'value is invalid';
  let msg = parts.join('; ');
  if (omitted > 0) msg += `; and ${omitted} more`;
  return msg;
}

/**
 * One sentence naming every failing location of an issue list (for issues built elsewhere,
 * e.g. rebuilt from JSON). The validator's own `message` is worded the same way.
 */
export function formatIssues(issues: ValidationIssue[], omitted = 0): string {
  return joinSentence(
    issues.map((i) => {
      const childKeyword = ['required', 'dependentRequired', 'dependencies', 'additionalProperties', 'unevaluatedProperties'].includes(i.keyword);
      const at = childKeyword ? i.path.replace(/\/[^/]*$/, '') : i.path;
      return `${where(at)} ${i.message} (${i.keyword})`;
    }),
    omitted,
  );
}

class LruCache<K, V> {
  private readonly map = new Map<K, V>();
  constructor(private readonly max: number) {}
  get(key: K): V | undefined {
    const v = this.map.get(key);
    if (v !== undefined) {
      this.map.delete(key);
      this.map.set(key, v);
    }
    return v;
  }
  set(key: K, value: V): void {
    this.map.delete(key);
    this.map.set(key, value);
    while (this.map.size > this.max) {
      const oldest = this.map.keys().next().value as K;
      this.map.delete(oldest);
    }
  }
  get size(): number {
    return this.map.size;
  }
  clear(): void {
    this.map.clear();
  }
}

/**
 * ajv behind the `SchemaValidator` interface. One instance per dialect, created on first use.
 * Use the shared `defaultValidator` unless you need remotes or other options.
 */
export class AjvSchemaValidator implements SchemaValidator {
  /** Keyed by dialect, plus `:legacy-regexp` for the engine without the `u` regex flag. */
  private readonly engines = new Map<string, AjvInstance>();
  private readonly byIdentity = new WeakMap<object, CompiledValidator>();
  private readonly byText: LruCache<string, CompiledValidator>;
  private readonly booleans = new Map<boolean, CompiledValidator>();
  private readonly options: Required<Omit<AjvSchemaValidatorOptions, 'remotes'>> & { remotes: Record<string, JsonSchema> };
  private counters = { identityHits: 0, textHits: 0, compiles: 0 };

  constructor(options: AjvSchemaValidatorOptions = {}) {
    this.options = {
      defaultDraft: options.defaultDraft ?? '2020-12',
      remotes: options.remotes ?? {},
      cacheSize: options.cacheSize ?? DEFAULT_SCHEMA_CACHE_SIZE,
      maxIssues: options.maxIssues ?? DEFAULT_MAX_ISSUES,
      validateFormats: options.validateFormats ?? true,
    };
    if (!(this.options.cacheSize >= 1)) throw new TypeError('cacheSize must be at least 1');
    if (!(this.options.maxIssues >= 1)) throw new TypeError('maxIssues must be at least 1');
    if (!(this.options.defaultDraft in SCHEMA_DRAFT_URIS)) {
      throw new TypeError(`Unknown defaultDraft ${JSON.stringify(this.options.defaultDraft)}; use one of ${Object.keys(SCHEMA_DRAFT_URIS).join(', ')}`);
    }
    this.byText = new LruCache(this.options.cacheSize);
  }

  /** Cache counters since construction. */
  get stats(): SchemaCacheStats {
    return { ...this.counters, size: this.byText.size };
  }

  compile(schema: JsonSchema): CompiledValidator {
    if (typeof schema === 'boolean') {
      let v = this.booleans.get(schema);
      if (!v) {
        v = this.build(schema, this.options.defaultDraft);
        this.booleans.set(schema, v);
      }
      return v;
    }
    if (typeof schema !== 'object' || schema === null || Array.isArray(schema)) {
      throw new Error(`Invalid JSON Schema: expected an object or a boolean, got ${schema === null ? 'null' : Array.isArray(schema) ? 'an array' : typeof schema}`);
    }
    const hit = this.byIdentity.get(schema);
    if (hit) {
      this.counters.identityHits++;
      return hit;
    }
    const detected = detectDraft(schema);
    let draft: SchemaDraft;
    let prepared: Record<string, unknown> = schema;
    switch (detected) {
      case undefined:
        draft = this.options.defaultDraft;
        if (schema.$schema !== undefined) {
          // Unknown meta-schema: ajv would refuse to find it; apply the default dialect instead.
          const { $schema: _ignored, ...rest } = schema;
          prepared = rest;
        }
        break;
      case 'draft-04':
        draft = 'draft-07';
        prepared = { ...(upgradeDraft04(schema) as Record<string, unknown>), $schema: SCHEMA_DRAFT_URIS['draft-07'] };
        break;
      case 'draft-06':
        draft = 'draft-07';
        if (schema.$schema !== DRAFT_06_URI) prepared = { ...schema, $schema: DRAFT_06_URI };
        break;
      default:
        draft = detected;
        // "…/draft-07/schema" without "#", https variants: use the URI the engine knows.
        if (schema.$schema !== SCHEMA_DRAFT_URIS[draft]) prepared = { ...schema, $schema: SCHEMA_DRAFT_URIS[draft] };
    }
    // Canonical text, so key order does not split the cache. Only computed on a WeakMap miss.
    const key = draft + '\n' + canonicalJson(prepared);
    let v = this.byText.get(key);
    if (v) {
      this.counters.textHits++;
    } else {
      v = this.build(prepared, draft);
      this.byText.set(key, v);
    }
    this.byIdentity.set(schema, v);
    return v;
  }

  validate(schema: JsonSchema, value: unknown): ValidationResult {
    return this.compile(schema)(value);
  }

  private engine(draft: SchemaDraft, unicodeRegExp = true): AjvInstance {
    const key = unicodeRegExp ? draft : `${draft}:legacy-regexp`;
    let ajv = this.engines.get(key);
    if (ajv) return ajv;
    const Cls = loadClass(draft === '2020-12' ? 'ajv/dist/2020' : draft === '2019-09' ? 'ajv/dist/2019' : 'ajv');
    ajv = new Cls({
      strict: false,
      allErrors: true,
      validateFormats: this.options.validateFormats,
      // `required: ["constructor"]` must not be satisfied by Object.prototype.
      ownProperties: true,
      unicodeRegExp,
      // Library code must not write to the console; problems surface as thrown errors.
      logger: false,
    });
    if (draft === 'draft-07') ajv.addMetaSchema(require('ajv/dist/refs/json-schema-draft-06.json'));
    const addFormats = require('ajv-formats') as { default?: (a: AjvInstance) => void } & ((a: AjvInstance) => void);
    (addFormats.default ?? addFormats)(ajv);
    for (const [uri, doc] of Object.entries(this.options.remotes)) {
      try {
        // Not validated against a meta-schema: a remote may belong to another dialect.
        ajv.addSchema(doc, uri, undefined, false);
      } catch {
        // A remote another engine can use but this one cannot (duplicate id): skip it here.
      }
    }
    this.engines.set(key, ajv);
    return ajv;
  }

  private build(schema: JsonSchema, draft: SchemaDraft): CompiledValidator {
    let fn: AjvValidateFunction;
    try {
      fn = this.compileOn(this.engine(draft), schema);
    } catch (err) {
      // Patterns written for other regex engines (Python's re.escape gives "\#", "\ ") are
      // syntax errors under the `u` flag ajv uses by default: retry without it.
      if (!(err instanceof SyntaxError && /Invalid regular expression/.test(err.message))) throw this.compileError(err, schema);
      try {
        fn = this.compileOn(this.engine(draft, false), schema);
      } catch (err2) {
        throw this.compileError(err2, schema);
      }
    }
    this.counters.compiles++;
    const maxIssues = this.options.maxIssues;
    return (value: unknown): ValidationResult => {
      if (fn(value)) return VALID;
      const errors = fn.errors ?? [];
      const shown = errors.slice(0, maxIssues).map(toIssue);
      return {
        valid: false,
        issues: shown.map((s) => s.issue),
        message: joinSentence(
          shown.map((s) => s.text),
          errors.length - shown.length,
        ),
      };
    };
  }

  private compileOn(ajv: AjvInstance, schema: JsonSchema): AjvValidateFunction {
    try {
      return ajv.compile(schema);
    } finally {
      // ajv keeps its own strong cache and an `$id` registry: drop both, our caches own the
      // function (and two tools may declare the same `$id` with different content).
      if (typeof schema === 'object') {
        try {
          ajv.removeSchema(schema);
        } catch {
          /* nothing registered */
        }
      }
    }
  }

  private compileError(err: unknown, schema: JsonSchema): Error {
    const e = err as { missingRef?: string; missingSchema?: string; message?: string };
    if (typeof e?.missingRef === 'string') {
      const rootId = typeof schema === 'object' && typeof schema.$id === 'string' ? schema.$id.replace(/#.*$/, '') : '';
      const local = e.missingSchema === '' || e.missingSchema === rootId;
      const ref = e.missingRef;
      const msg = local
        ? `Invalid JSON Schema: $ref ${JSON.stringify(ref)} points to nothing in this schema`
        : `Invalid JSON Schema: external $ref ${JSON.stringify(ref)} is not supported; toolexec never loads schemas from other documents or URLs, so inline the referenced schema under "$defs"`;
      return new Error(msg, { cause: err });
    }
    // ajv words meta-schema failures as "data/type must be ..."; here the data is the schema.
    const detail = (e?.message ?? String(err)).replace(/^schema is invalid: /, '').replace(/(^|, )data(?=[/ ])/g, '$1schema');
    return new Error(`Invalid JSON Schema: ${detail}`, { cause: err });
  }
}

/** The shared validator: 2020-12 by default, no remotes. */
export const defaultValidator = new AjvSchemaValidator();
