/**
 * Which tools are exposed: `allow` and `deny` patterns from the config, applied on every
 * path (search, describe, run, chains, scripts). Discovery goes through `PolicyIndex`, a
 * view of the real index that hides what is not exposed; calls are refused by
 * `policyMiddleware` before the runner resolves anything, so a hidden tool cannot be run by
 * guessing its ID either.
 */
import { ToolError } from '../model/errors.js';
import { matchToolPattern } from '../model/tool-id.js';
import type { BackendDescriptor, BackendKind } from '../model/backend.js';
import type { Tool, ToolDefinition } from '../model/tool.js';
import type {
  IndexChange,
  IndexEntry,
  IndexListener,
  ListOptions,
  RegisterOptions,
  SearchOptions,
  SearchPage,
  ToolIndex,
} from '../index/types.js';
import type { Middleware } from '../run/types.js';
import { MAX_SEARCH_LIMIT, cursorBinding, decodeCursor, encodeCursor, pageLimit, searchKey } from '../index/cursor.js';
import { checkQuery } from '../index/query.js';

/** Allow/deny patterns (`github:*`, `*:delete_*`, `math:add`). Deny wins. */
export class ToolPolicy {
  readonly allow: readonly string[];
  readonly deny: readonly string[];

  constructor(options: { allow?: readonly string[]; deny?: readonly string[] } = {}) {
    this.allow = [...(options.allow ?? [])];
    this.deny = [...(options.deny ?? [])];
  }

  /** True when no pattern restricts anything. */
  get open(): boolean {
    return this.allow.length === 0 && this.deny.length === 0;
  }

  /** Whether `toolId` is exposed. */
  allows(toolId: string): boolean {
    if (this.deny.some((p) => matchToolPattern(p, toolId))) return false;
    return this.allow.length === 0 || this.allow.some((p) => matchToolPattern(p, toolId));
  }

  /**
   * The error a refused call fails with, on every path (run, chain, stream, scripts):
   * TOOL_NOT_FOUND, because a hidden tool does not exist for the caller. Search, describe and
   * the declarations already say it does not exist; a different code for calls (such as the
   * executor's TOOL_NOT_ALLOWED, which is for the caller's own `allowedTools`) would confirm
   * that it does. The refusal does not depend on whether the ID is registered at all.
   */
  refusal(toolId: string, op: 'run' | 'chain' | 'stream' = 'run'): ToolError {
    return new ToolError('TOOL_NOT_FOUND', `Tool ${toolId} is not exposed here (the config's allow/deny patterns exclude it)`, { toolId, op });
  }
}

/** Runner middleware refusing calls the policy excludes: runs, chains and streams alike. */
export function policyMiddleware(policy: ToolPolicy): Middleware {
  return (call, next) => (policy.allows(call.toolId) ? next() : Promise.reject(policy.refusal(call.toolId, call.op)));
}


/**
 * A `ToolIndex` that shows only the tools a policy exposes. Writes go to the inner index
 * unchanged (MCP import and tool modules register everything; exposure is decided on read).
 */
export class PolicyIndex implements ToolIndex {
  readonly inner: ToolIndex;
  readonly policy: ToolPolicy;
  // Cursors bind to this counter, bumped on every inner change, like the inner index's own.
  #revision = 0;

  constructor(inner: ToolIndex, policy: ToolPolicy) {
    this.inner = inner;
    this.policy = policy;
    inner.onChange(() => {
      this.#revision++;
    });
  }

  register(def: ToolDefinition, backend: BackendDescriptor | BackendDescriptor[], options?: RegisterOptions): Tool {
    return this.inner.register(def, backend, options);
  }

  registerMany(entries: Iterable<{ tool: ToolDefinition; backend: BackendDescriptor | BackendDescriptor[] }>, options?: RegisterOptions): Tool[] {
    return this.inner.registerMany(entries, options);
  }

  unregister(id: string, backend?: { kind: BackendKind; name: string }): boolean {
    return this.inner.unregister(id, backend);
  }

  unregisterBackend(backend: { kind: BackendKind; name: string }): string[] {
    return this.inner.unregisterBackend(backend);
  }

  get(id: string): IndexEntry | undefined {
    return this.policy.allows(id) ? this.inner.get(id) : undefined;
  }

  has(id: string): boolean {
    return this.policy.allows(id) && this.inner.has(id);
  }

  list(options?: ListOptions): Tool[] {
    return this.inner.list(options).filter((t) => this.policy.allows(t.id));
  }

  namespaces(): { namespace: string; count: number }[] {
    const counts = new Map<string, number>();
    for (const t of this.list()) counts.set(t.namespace ?? '', (counts.get(t.namespace ?? '') ?? 0) + 1);
    return [...counts].map(([namespace, count]) => ({ namespace, count })).sort((a, b) => (a.namespace < b.namespace ? -1 : a.namespace > b.namespace ? 1 : 0));
  }

  search(query: string, options: SearchOptions = {}): SearchPage {
    // Bounded here too, whatever the inner index does: this view runs one inner search per page.
    const q = checkQuery(query);
    const limit = pageLimit(options.limit);
    const { cursor, limit: _l, ...filters } = options;
    const binding = cursorBinding(`${searchKey(q, filters)}@${this.#revision}`);
    const offset = cursor === undefined ? 0 : decodeCursor(cursor, binding);
    // Pages of the inner index are filtered here, so walk all of them: tool sets are small.
    const hits = [];
    let innerCursor: string | undefined;
    do {
      const page = this.inner.search(query, { ...filters, limit: MAX_SEARCH_LIMIT, ...(innerCursor ? { cursor: innerCursor } : {}) });
      for (const h of page.items) if (this.policy.allows(h.id)) hits.push(h);
      innerCursor = page.nextCursor;
    } while (innerCursor);
    const out: SearchPage = { items: hits.slice(offset, offset + limit), total: hits.length };
    if (offset + limit < hits.length) out.nextCursor = encodeCursor(offset + limit, binding);
    return out;
  }

  get size(): number {
    return this.list().length;
  }

  onChange(listener: IndexListener): () => void {
    return this.inner.onChange((change: IndexChange) => {
      if (this.policy.allows(change.id)) listener(change);
    });
  }
}

/** Tools a policy hides, grouped by the pattern that hides them. */
export interface HiddenGroup {
  /** `deny`: the pattern that matched; `allow`: none of the allow patterns matched. */
  kind: 'deny' | 'allow';
  /** The deny pattern, or the allow patterns joined with ", ". */
  pattern: string;
  ids: string[];
}

/** Groups the IDs the policy hides by the reason: the first deny pattern that matches, else the allow list. */
export function hiddenByPolicy(policy: ToolPolicy, ids: Iterable<string>): HiddenGroup[] {
  const groups = new Map<string, HiddenGroup>();
  for (const id of ids) {
    if (policy.allows(id)) continue;
    const deny = policy.deny.find((p) => matchToolPattern(p, id));
    const key = deny !== undefined ? `deny\u0000${deny}` : 'allow';
    let g = groups.get(key);
    if (!g) {
      g = deny !== undefined ? { kind: 'deny', pattern: deny, ids: [] } : { kind: 'allow', pattern: policy.allow.join(', '), ids: [] };
      groups.set(key, g);
    }
    g.ids.push(id);
  }
  return [...groups.values()];
}

/**
 * One line per pattern saying what it hides (`deny "memory:*" hides memory:create_entities,
 * memory:read_graph and 7 more`), at most `maxIds` IDs named per line.
 */
export function describeHidden(groups: readonly HiddenGroup[], maxIds = 5): string[] {
  return groups.map((g) => {
    const shown = g.ids.slice(0, maxIds).join(', ');
    const more = g.ids.length > maxIds ? ` and ${g.ids.length - maxIds} more` : '';
    return g.kind === 'deny'
      ? `deny ${JSON.stringify(g.pattern)} hides ${shown}${more}`
      : `allow [${g.pattern.split(', ').map((p) => JSON.stringify(p)).join(', ')}] matches none of ${shown}${more}`;
  });
}
