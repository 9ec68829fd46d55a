/**
 * `InMemoryIndex`: the default `ToolIndex`. Tools live in a Map; a MiniSearch full-text
 * index over name, title, tags, namespace and description is kept in step with every
 * register/unregister (documents are added and removed one by one, never rebuilt).
 *
 * Search cursors are opaque base64url strings holding the offset plus a hash of the query,
 * the filters and the index version. A cursor reused with another query or filter, or after
 * the index changed, is **rejected** with `InvalidCursorError` rather than silently
 * restarting or skipping/duplicating hits: the caller repeats the search without a cursor.
 */
import MiniSearch from 'minisearch';
import { DEFAULT_BACKEND_ORDER, describeBackend, BACKEND_KINDS } from '../model/backend.js';
import type { BackendDescriptor, BackendKind } from '../model/backend.js';
import { ToolError } from '../model/errors.js';
import { validateDefinition } from '../model/tool-id.js';
import type { Tool, ToolDefinition } from '../model/tool.js';
import { canonicalJson } from '../model/json.js';
import { cursorBinding, decodeCursor, encodeCursor, pageLimit, searchKey } from './cursor.js';
import { checkQuery, checkQueryTerms, fuzziness } from './query.js';
import type {
  BackendSelector,
  IndexChange,
  IndexEntry,
  IndexListener,
  ListOptions,
  RegisterOptions,
  SearchHit,
  SearchOptions,
  SearchPage,
  ToolIndex,
} from './types.js';

export { DEFAULT_SEARCH_LIMIT, MAX_SEARCH_LIMIT } from './cursor.js';

/** Relative field weights: a hit in the name counts most, one in the description least. */
export const SEARCH_FIELD_BOOSTS: Readonly<Record<SearchField, number>> = Object.freeze({
  name: 6,
  title: 4,
  tags: 3,
  namespace: 2,
  description: 1,
});

type SearchField = 'name' | 'title' | 'tags' | 'namespace' | 'description';
const SEARCH_FIELDS: SearchField[] = ['name', 'title', 'tags', 'namespace', 'description'];

export { InvalidCursorError } from './cursor.js';
export { InvalidQueryError, MAX_QUERY_CHARS, MAX_QUERY_TERMS, MIN_FUZZY_TERM_CHARS, MAX_FUZZY_TERM_CHARS } from './query.js';

export interface InMemoryIndexOptions {
  /** Chooses the default backend of a tool; default: by `DEFAULT_BACKEND_ORDER`, then registration order. */
  selectBackend?: BackendSelector;
  /** Receives errors thrown by `onChange` listeners (which never break a registration). Default: ignored. */
  onListenerError?: (error: unknown, change: IndexChange) => void;
}

/** The default policy: local > provider > mcp > sandbox; first registered wins within a kind. */
export const defaultBackendSelector: BackendSelector = (backends) => {
  let best: BackendDescriptor | undefined;
  let bestRank = Infinity;
  for (const b of backends) {
    const rank = DEFAULT_BACKEND_ORDER.indexOf(b.kind);
    const r = rank < 0 ? DEFAULT_BACKEND_ORDER.length : rank;
    if (r < bestRank) {
      best = b;
      bestRank = r;
    }
  }
  return best;
};

/** Absent fields stay undefined (not ""): MiniSearch then leaves them out of the field's average length, so a sparse field such as tags is not penalized by BM25 length normalization. */
interface SearchDoc {
  id: string;
  name: string;
  namespace?: string;
  title?: string;
  description?: string;
  tags?: string;
}

interface Entry {
  tool: Tool;
  backends: BackendDescriptor[];
  /** The document as given to MiniSearch (needed to remove it exactly). */
  doc: SearchDoc;
  /** Cached `get` answer under the default selector; dropped on change. */
  cached?: IndexEntry;
}

const STOP_WORDS = new Set(['a', 'an', 'and', 'are', 'as', 'at', 'be', 'by', 'for', 'from', 'in', 'is', 'it', 'of', 'on', 'or', 'the', 'to', 'with']);

/**
 * Splits text into words on anything that is not a letter or digit, then splits camelCase
 * and letter/number runs inside identifiers: `createIssue` → create, issue;
 * `get_PRComments` → get, pr, comments.
 */
export function tokenize(text: string): string[] {
  const out: string[] = [];
  for (const word of text.split(/[^\p{L}\p{N}]+/u)) {
    if (!word) continue;
    const parts = word.split(/(?<=[\p{Ll}\p{N}])(?=\p{Lu})|(?<=\p{Lu})(?=\p{Lu}\p{Ll})/u);
    for (const p of parts) if (p) out.push(p);
  }
  return out;
}

function processTerm(term: string): string | null {
  const t = term.toLowerCase();
  return STOP_WORDS.has(t) ? null : t;
}

function backendKey(b: { kind: string; name: string }): string {
  return `${b.kind}\u0000${b.name}`;
}

/** Why a value is not a usable backend descriptor, or undefined. */
function backendProblem(value: unknown): string | undefined {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return `expected an object like { kind: "local", name: "local" }, got ${value === null ? 'null' : Array.isArray(value) ? 'an array' : typeof value}`;
  const v = value as Record<string, unknown>;
  if (!(BACKEND_KINDS as readonly unknown[]).includes(v.kind)) return `kind ${JSON.stringify(v.kind)} is not one of ${BACKEND_KINDS.join(', ')}`;
  if (typeof v.name !== 'string' || v.name.length === 0) return `a ${String(v.kind)} backend needs a non-empty string "name"`;
  if (v.kind === 'mcp' && (typeof v.tool !== 'string' || v.tool.length === 0)) return `an mcp backend needs a non-empty string "tool" (the tool's name on the server)`;
  if (v.kind === 'provider' && v.providerToolId !== undefined && typeof v.providerToolId !== 'string') return `"providerToolId" must be a string`;
  return undefined;
}

/** Fields of a definition that the index keeps (handlers and other extras are dropped). */
const DEFINITION_FIELDS = ['namespace', 'name', 'version', 'title', 'description', 'inputSchema', 'outputSchema', 'annotations', 'tags', '_meta'] as const;

function toTool(def: ToolDefinition, id: string): Tool {
  const copy: Record<string, unknown> = { id };
  for (const k of DEFINITION_FIELDS) if (def[k] !== undefined) copy[k] = def[k];
  if (Array.isArray(copy.tags)) copy.tags = Object.freeze([...(copy.tags as string[])]);
  return Object.freeze(copy) as unknown as Tool;
}

/** Canonical text of a (frozen) tool, computed only when a re-registration needs comparing. */
const toolTexts = new WeakMap<Tool, string>();
function sameDefinition(a: Tool, b: Tool): boolean {
  if (a === b) return true;
  let ta = toolTexts.get(a);
  if (ta === undefined) toolTexts.set(a, (ta = canonicalJson(a)));
  let tb = toolTexts.get(b);
  if (tb === undefined) toolTexts.set(b, (tb = canonicalJson(b)));
  return ta === tb;
}

function toDoc(tool: Tool): SearchDoc {
  const doc: SearchDoc = { id: tool.id, name: tool.name };
  if (tool.namespace) doc.namespace = tool.namespace;
  const title = tool.title ?? (typeof tool.annotations?.title === 'string' ? tool.annotations.title : undefined);
  if (title) doc.title = title;
  if (tool.description) doc.description = tool.description;
  if (tool.tags && tool.tags.length > 0) doc.tags = tool.tags.join(' ');
  return doc;
}

function sameDescriptor(a: BackendDescriptor, b: BackendDescriptor): boolean {
  if (a === b) return true;
  const ka = Object.keys(a) as (keyof BackendDescriptor)[];
  return ka.length === Object.keys(b).length && ka.every((k) => a[k] === (b as unknown as Record<string, unknown>)[k]);
}

const ANY = (): boolean => true;

/** A search's full ranking; pages are slices of it. */
interface Ranked {
  ids: readonly string[];
  scores?: number[];
}

/** Staged outcome of one registration, computed before anything changes. */
interface Plan {
  id: string;
  tool: Tool;
  backends: BackendDescriptor[];
}

/**
 * The default `ToolIndex`: tools in memory, searchable with MiniSearch (BM25, prefix and
 * fuzzy matching), change events, pluggable default-backend selection.
 */
export class InMemoryIndex implements ToolIndex {
  private readonly entries = new Map<string, Entry>();
  /** backend kind+name → IDs of the tools it serves (for `unregisterBackend`). */
  private readonly byBackend = new Map<string, Set<string>>();
  private readonly listeners = new Set<IndexListener>();
  private readonly selector: BackendSelector;
  private readonly customSelector: boolean;
  private readonly onListenerError: ((error: unknown, change: IndexChange) => void) | undefined;
  private readonly mini: MiniSearch<SearchDoc>;
  /** Bumped on every change; part of each cursor. */
  private version = 0;
  /** IDs in order, for listing; rebuilt lazily after a change. */
  private sortedIds: string[] | undefined;
  /** Full hit lists of recent searches at this version, so following a cursor does not search again. */
  private readonly pages = new Map<string, Ranked>();

  constructor(options: InMemoryIndexOptions = {}) {
    if (options.selectBackend !== undefined && typeof options.selectBackend !== 'function') {
      throw new TypeError('selectBackend must be a function (backends, tool) => descriptor | undefined');
    }
    this.selector = options.selectBackend ?? defaultBackendSelector;
    this.customSelector = options.selectBackend !== undefined;
    this.onListenerError = options.onListenerError;
    this.mini = new MiniSearch<SearchDoc>({
      idField: 'id',
      fields: SEARCH_FIELDS,
      storeFields: [],
      tokenize,
      processTerm,
      searchOptions: {
        boost: { ...SEARCH_FIELD_BOOSTS },
        prefix: (term) => term.length >= 2,
        fuzzy: fuzziness,
        maxFuzzy: 2,
        combineWith: 'OR',
      },
      autoVacuum: false,
    });
  }

  get size(): number {
    return this.entries.size;
  }

  /** Bumped on every change (registrations, removals); cursors carry it. */
  get revision(): number {
    return this.version;
  }

  register(def: ToolDefinition, backend: BackendDescriptor | BackendDescriptor[], options: RegisterOptions = {}): Tool {
    return this.registerMany([{ tool: def, backend }], options)[0]!;
  }

  /**
   * Registers several tools. Everything is checked first (definitions, backends,
   * conflicts, also between entries of the same batch), so a bad entry leaves the index
   * unchanged.
   */
  registerMany(
    entries: Iterable<{ tool: ToolDefinition; backend: BackendDescriptor | BackendDescriptor[] }>,
    options: RegisterOptions = {},
  ): Tool[] {
    const onConflict = options.onConflict ?? 'merge';
    if (!['merge', 'replace', 'error'].includes(onConflict)) {
      throw new TypeError(`onConflict must be "merge", "replace" or "error", got ${JSON.stringify(onConflict)}`);
    }
    // Stage: validate everything and compute the final state of each touched ID.
    const staged = new Map<string, Plan>();
    const order: Plan[] = [];
    for (const item of entries) {
      if (typeof item !== 'object' || item === null) throw new TypeError('registerMany expects entries of the form { tool, backend }');
      const id = validateDefinition(item.tool);
      const incoming = this.checkBackends(id, item.backend);
      const tool = toTool(item.tool, id);
      const prev = staged.get(id) ?? this.planOf(id);
      let plan: Plan;
      if (!prev) {
        plan = { id, tool, backends: incoming };
      } else if (onConflict === 'error') {
        throw new ToolError('INVALID_TOOL_ID', `Tool ${id} is already registered (onConflict: "error")`, { toolId: id, op: 'resolve', data: { reason: 'conflict' } });
      } else if (onConflict === 'replace') {
        plan = { id, tool, backends: incoming };
      } else {
        const same = sameDefinition(prev.tool, tool);
        if (!same && !options.replaceDefinition) {
          throw new ToolError(
            'INVALID_TOOL_ID',
            `Tool ${id} is already registered with a different definition; pass { replaceDefinition: true } to merge and keep the new one, or { onConflict: "replace" }`,
            { toolId: id, op: 'resolve', data: { reason: 'conflict' } },
          );
        }
        const backends = [...prev.backends];
        for (const b of incoming) {
          const at = backends.findIndex((x) => x.kind === b.kind && x.name === b.name);
          if (at < 0) backends.push(b);
          else if (!sameDescriptor(backends[at]!, b)) backends[at] = b;
        }
        plan = same ? { ...prev, backends } : { id, tool, backends };
      }
      staged.set(id, plan);
      order.push(plan);
    }
    // Apply.
    const changes: IndexChange[] = [];
    for (const [id, plan] of staged) this.apply(id, plan, changes);
    this.emit(changes);
    return order.map((p) => this.entries.get(p.id)!.tool);
  }

  unregister(id: string, backend?: { kind: BackendKind; name: string }): boolean {
    const entry = this.entries.get(id);
    if (!entry) return false;
    const changes: IndexChange[] = [];
    if (backend === undefined) {
      this.removeEntry(id, entry);
      changes.push({ type: 'unregistered', id });
    } else {
      const at = entry.backends.findIndex((b) => b.kind === backend.kind && b.name === backend.name);
      if (at < 0) return false;
      this.removeBackend(id, entry, at, changes);
    }
    this.emit(changes);
    return true;
  }

  unregisterBackend(backend: { kind: BackendKind; name: string }): string[] {
    const ids = this.byBackend.get(backendKey(backend));
    if (!ids) return [];
    const touched = [...ids].sort();
    const changes: IndexChange[] = [];
    for (const id of touched) {
      const entry = this.entries.get(id)!;
      const at = entry.backends.findIndex((b) => b.kind === backend.kind && b.name === backend.name);
      this.removeBackend(id, entry, at, changes);
    }
    this.emit(changes);
    return touched;
  }

  /**
   * The tool with all its backends and the selected default one. Throws `NO_BACKEND` when
   * a custom selector refuses every backend of the tool.
   */
  get(id: string): IndexEntry | undefined {
    const entry = this.entries.get(id);
    if (!entry) return undefined;
    if (entry.cached) return entry.cached;
    const chosen = this.selector(entry.backends, entry.tool);
    if (!chosen) {
      throw new ToolError('NO_BACKEND', `No acceptable backend for tool ${id} among ${entry.backends.map(describeBackend).join(', ')}`, {
        toolId: id,
        op: 'resolve',
      });
    }
    const result: IndexEntry = Object.freeze({ tool: entry.tool, backends: entry.backends, backend: chosen });
    // A custom selector may depend on outside state (health, load): ask it every time.
    if (!this.customSelector) entry.cached = result;
    return result;
  }

  has(id: string): boolean {
    return this.entries.has(id);
  }

  /** Tools sorted by ID. `tags` requires every listed tag; `namespace: ""` selects tools without one. */
  list(options: ListOptions = {}): Tool[] {
    const match = this.matcher(options);
    const out: Tool[] = [];
    for (const id of this.ids()) if (match(id)) out.push(this.entries.get(id)!.tool);
    return out;
  }

  /** Namespaces with their tool counts, sorted; tools without a namespace count under `""`. */
  namespaces(): { namespace: string; count: number }[] {
    const counts = new Map<string, number>();
    for (const e of this.entries.values()) {
      const ns = e.tool.namespace ?? '';
      counts.set(ns, (counts.get(ns) ?? 0) + 1);
    }
    return [...counts]
      .map(([namespace, count]) => ({ namespace, count }))
      .sort((a, b) => (a.namespace < b.namespace ? -1 : a.namespace > b.namespace ? 1 : 0));
  }

  /**
   * Ranked full-text search. Words match by prefix (2+ characters) and with typos (4 to 32
   * characters); identifiers are split (`create_issue`, `createIssue` → create, issue).
   * An empty query lists every tool (filters applied) sorted by ID with score 0. A query over
   * `MAX_QUERY_CHARS` characters or `MAX_QUERY_TERMS` distinct words throws `InvalidQueryError`.
   */
  search(query: string, options: SearchOptions = {}): SearchPage {
    const q = checkQuery(query);
    const limit = pageLimit(options.limit);
    const key = searchKey(q, options);
    const binding = cursorBinding(`${key}@${this.version}`);
    const offset = options.cursor === undefined ? 0 : decodeCursor(options.cursor, binding);

    // A cursor continues a search made at this very revision: reuse its ranking when cached.
    let ranked = options.cursor === undefined ? undefined : this.pages.get(key);
    if (!ranked) {
      if (q !== '') checkQueryTerms(this.terms(q));
      ranked = this.rank(q, options);
      if (this.pages.size >= 32) this.pages.delete(this.pages.keys().next().value as string);
      this.pages.set(key, ranked);
    }
    const items: SearchHit[] = [];
    const end = Math.min(offset + limit, ranked.ids.length);
    for (let i = offset; i < end; i++) {
      const id = ranked.ids[i]!;
      items.push({ id, tool: this.entries.get(id)!.tool, score: ranked.scores ? ranked.scores[i]! : 0 });
    }
    const page: SearchPage = { items, total: ranked.ids.length };
    if (end < ranked.ids.length) page.nextCursor = encodeCursor(end, binding);
    return page;
  }

  onChange(listener: IndexListener): () => void {
    if (typeof listener !== 'function') throw new TypeError('onChange expects a function');
    // Wrap so the same function can subscribe twice and unsubscribe each independently.
    const wrapped: IndexListener = (c) => listener(c);
    this.listeners.add(wrapped);
    return () => {
      this.listeners.delete(wrapped);
    };
  }

  // --- internals -------------------------------------------------------------------------

  private planOf(id: string): Plan | undefined {
    const e = this.entries.get(id);
    return e && { id, tool: e.tool, backends: e.backends };
  }

  private checkBackends(id: string, backend: BackendDescriptor | BackendDescriptor[]): BackendDescriptor[] {
    const list = Array.isArray(backend) ? backend : [backend];
    if (list.length === 0) throw new TypeError(`Tool ${id}: at least one backend descriptor is required`);
    const out: BackendDescriptor[] = [];
    list.forEach((b, i) => {
      const problem = backendProblem(b);
      if (problem) {
        const which = Array.isArray(backend) ? `backend descriptor #${i}` : 'backend descriptor';
        throw new TypeError(`Tool ${id}: invalid ${which}: ${problem}`);
      }
      const copy = Object.freeze({ ...b });
      const at = out.findIndex((x) => x.kind === b.kind && x.name === b.name);
      if (at < 0) out.push(copy);
      else out[at] = copy;
    });
    return out;
  }

  private apply(id: string, plan: Plan, changes: IndexChange[]): void {
    const old = this.entries.get(id);
    const backends = Object.freeze([...plan.backends]) as BackendDescriptor[];
    if (!old) {
      const doc = toDoc(plan.tool);
      this.entries.set(id, { tool: plan.tool, backends, doc });
      this.mini.add(doc);
      for (const b of backends) {
        this.link(id, b);
        changes.push({ type: 'registered', id, backend: b });
      }
      this.touch();
      return;
    }
    const defChanged = !sameDefinition(old.tool, plan.tool);
    const removed = old.backends.filter((b) => !backends.some((n) => n.kind === b.kind && n.name === b.name));
    const added = backends.filter((b) => !old.backends.some((o) => o.kind === b.kind && o.name === b.name && sameDescriptor(o, b)));
    const reordered = old.backends.some((b, i) => backends[i]!.kind !== b.kind || backends[i]!.name !== b.name);
    if (!defChanged && removed.length === 0 && added.length === 0 && !reordered) return; // idempotent
    for (const b of removed) {
      this.unlink(id, b);
      changes.push({ type: 'unregistered', id, backend: b });
    }
    const entry: Entry = { tool: defChanged ? plan.tool : old.tool, backends, doc: old.doc };
    if (defChanged) {
      this.mini.remove(old.doc);
      entry.doc = toDoc(plan.tool);
      this.mini.add(entry.doc);
      changes.push({ type: 'updated', id });
    }
    this.entries.set(id, entry);
    for (const b of added) {
      this.link(id, b);
      changes.push({ type: 'registered', id, backend: b });
    }
    this.touch();
  }

  private removeBackend(id: string, entry: Entry, at: number, changes: IndexChange[]): void {
    const b = entry.backends[at]!;
    this.unlink(id, b);
    changes.push({ type: 'unregistered', id, backend: b });
    if (entry.backends.length === 1) {
      this.removeEntry(id, entry);
      // No backend in the event: the tool itself is gone.
      changes.push({ type: 'unregistered', id });
      return;
    }
    const backends = Object.freeze(entry.backends.filter((_, i) => i !== at)) as BackendDescriptor[];
    this.entries.set(id, { tool: entry.tool, backends, doc: entry.doc });
    this.touch();
  }

  private removeEntry(id: string, entry: Entry): void {
    for (const b of entry.backends) this.unlink(id, b);
    this.entries.delete(id);
    this.mini.remove(entry.doc);
    this.touch();
  }

  /** Records a change: new revision, derived caches dropped. */
  private touch(): void {
    this.version++;
    this.sortedIds = undefined;
    this.pages.clear();
  }

  private ids(): string[] {
    if (!this.sortedIds) this.sortedIds = [...this.entries.keys()].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    return this.sortedIds;
  }

  private link(id: string, b: BackendDescriptor): void {
    const k = backendKey(b);
    let set = this.byBackend.get(k);
    if (!set) this.byBackend.set(k, (set = new Set()));
    set.add(id);
  }

  private unlink(id: string, b: BackendDescriptor): void {
    const k = backendKey(b);
    const set = this.byBackend.get(k);
    if (!set) return;
    set.delete(id);
    if (set.size === 0) this.byBackend.delete(k);
  }

  /** The words MiniSearch will look up for a query. */
  private terms(q: string): string[] {
    const out: string[] = [];
    for (const t of tokenize(q)) {
      const term = processTerm(t);
      if (term) out.push(term);
    }
    return out;
  }

  /** Every matching ID in page order: by score (then ID) for a query, by ID for an empty one. */
  private rank(q: string, options: ListOptions): Ranked {
    const match = this.matcher(options);
    if (q === '') {
      const all = this.ids();
      return { ids: match === ANY ? all : all.filter(match) };
    }
    const results = this.mini.search(q, match === ANY ? undefined : { filter: (r) => match(r.id as string) });
    // Stable pages: equal scores fall back to ID order.
    results.sort((a, b) => b.score - a.score || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    return { ids: results.map((r) => r.id as string), scores: results.map((r) => r.score) };
  }

  private matcher(options: ListOptions): (id: string) => boolean {
    const { namespace, tags, backendKind } = options;
    if (tags !== undefined && !Array.isArray(tags)) throw new TypeError('tags filter must be an array of strings');
    if (backendKind !== undefined && !(BACKEND_KINDS as readonly string[]).includes(backendKind)) {
      throw new TypeError(`backendKind filter ${JSON.stringify(backendKind)} is not one of ${BACKEND_KINDS.join(', ')}`);
    }
    if (namespace === undefined && (tags === undefined || tags.length === 0) && backendKind === undefined) return ANY;
    return (id) => {
      const e = this.entries.get(id);
      if (!e) return false;
      if (namespace !== undefined && (e.tool.namespace ?? '') !== namespace) return false;
      if (tags && tags.length > 0) {
        const own = e.tool.tags;
        if (!own || !tags.every((t) => own.includes(t))) return false;
      }
      if (backendKind !== undefined && !e.backends.some((b) => b.kind === backendKind)) return false;
      return true;
    };
  }

  private emit(changes: IndexChange[]): void {
    // (Cached `get` answers need no clearing: every change installs a fresh Entry.)
    if (changes.length === 0 || this.listeners.size === 0) return;
    for (const change of changes) {
      for (const l of [...this.listeners]) {
        try {
          l(change);
        } catch (err) {
          this.onListenerError?.(err, change);
        }
      }
    }
  }
}
