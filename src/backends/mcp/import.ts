/**
 * Importing a server's tools into a `ToolIndex` under the server's namespace, and keeping
 * them in step when the server says its list changed. Tools are checked one by one: a tool
 * with a name our IDs cannot carry, or a malformed schema, is skipped with a warning while
 * the rest still load.
 */
import type { McpBackendDescriptor } from '../../model/backend.js';
import { checkName, toolId } from '../../model/tool-id.js';
import type { ToolAnnotations, ToolDefinition } from '../../model/tool.js';
import type { JsonSchema } from '../../model/json.js';
import type { ToolIndex } from '../../index/types.js';
import type { McpConnection } from './connection.js';

/** A tool the server listed but that could not be imported. */
export interface McpSkippedTool {
  server: string;
  /** The tool's name as sent (stringified when it was not a string). */
  name: string;
  reason: string;
}

/** What one import or refresh did to the index. */
export interface McpToolsChange {
  server: string;
  added: string[];
  updated: string[];
  removed: string[];
  skipped: McpSkippedTool[];
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * Turns one listed MCP tool into a definition in `namespace`, or says why it cannot be.
 * Optional fields of the wrong type are dropped rather than failing the tool.
 */
export function mcpToolToDefinition(raw: Record<string, unknown>, namespace: string): { def: ToolDefinition } | { reason: string } {
  const name = raw.name;
  const nameProblem = checkName(name, 'name');
  if (nameProblem) return { reason: `its name cannot be used in a tool ID: ${nameProblem}` };
  const inputSchema = raw.inputSchema;
  if (!isObject(inputSchema)) return { reason: 'inputSchema is missing or not an object' };
  if (inputSchema.type !== undefined && inputSchema.type !== 'object') {
    return { reason: `inputSchema.type must be "object" (MCP tool arguments are an object), got ${JSON.stringify(inputSchema.type)}` };
  }
  if (raw.outputSchema !== undefined && !isObject(raw.outputSchema)) return { reason: 'outputSchema is not an object' };
  const def: ToolDefinition = { namespace, name: name as string, inputSchema: inputSchema as JsonSchema };
  if (isObject(raw.outputSchema)) def.outputSchema = raw.outputSchema as JsonSchema;
  const annotations = isObject(raw.annotations) ? (raw.annotations as ToolAnnotations) : undefined;
  if (annotations) def.annotations = annotations;
  if (typeof raw.title === 'string') def.title = raw.title;
  else if (annotations && typeof annotations.title === 'string') def.title = annotations.title;
  if (typeof raw.description === 'string') def.description = raw.description;
  if (isObject(raw._meta)) def._meta = raw._meta;
  return { def };
}

function sameDefinition(a: ToolDefinition, b: ToolDefinition): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

/**
 * Keeps one server's tools in an index. `sync()` lists the server's tools (all pages) and
 * adds, updates and removes index entries so the index matches; concurrent syncs coalesce.
 */
export class McpToolImporter {
  readonly connection: McpConnection;
  readonly index: ToolIndex;
  readonly #definitions = new Map<string, ToolDefinition>();
  #running: Promise<McpToolsChange> | undefined;
  #again = false;
  readonly #listeners = new Set<(change: McpToolsChange) => void>();

  constructor(connection: McpConnection, index: ToolIndex) {
    this.connection = connection;
    this.index = index;
  }

  get server(): string {
    return this.connection.name;
  }

  /** IDs this importer registered and still owns. */
  get ids(): string[] {
    return [...this.#definitions.keys()];
  }

  /** Called after every sync that changed something (and after the first one). */
  onChange(listener: (change: McpToolsChange) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Lists and applies; when a sync is already running, runs once more after it and returns that result. */
  sync(options: { signal?: AbortSignal; timeoutMs?: number } = {}): Promise<McpToolsChange> {
    if (this.#running) {
      this.#again = true;
      return this.#running;
    }
    const run = async (): Promise<McpToolsChange> => {
      let change: McpToolsChange;
      let first = true;
      do {
        this.#again = false;
        const next = await this.#syncOnce(options);
        change = first ? next : mergeChanges(change!, next);
        first = false;
      } while (this.#again);
      return change;
    };
    this.#running = run().finally(() => {
      this.#running = undefined;
    });
    return this.#running;
  }

  /** Removes every tool this importer registered. */
  clear(): string[] {
    const removed: string[] = [];
    for (const id of this.#definitions.keys()) {
      if (this.index.unregister(id, { kind: 'mcp', name: this.server })) removed.push(id);
    }
    this.#definitions.clear();
    return removed;
  }

  async #syncOnce(options: { signal?: AbortSignal; timeoutMs?: number }): Promise<McpToolsChange> {
    const listed = await this.connection.listTools(options);
    const namespace = this.connection.config.namespace;
    const change: McpToolsChange = { server: this.server, added: [], updated: [], removed: [], skipped: [] };
    const next = new Map<string, { def: ToolDefinition; tool: string }>();
    for (const raw of listed) {
      const shown = typeof raw.name === 'string' ? raw.name : JSON.stringify(raw.name ?? raw.invalid ?? null);
      // A server may put what it was configured with in a description: the index never holds it.
      const converted = mcpToolToDefinition(this.connection.redactor.redactValue(raw), namespace);
      if ('reason' in converted) {
        change.skipped.push({ server: this.server, name: shown, reason: converted.reason });
        continue;
      }
      const id = toolId(namespace, converted.def.name);
      if (next.has(id)) {
        change.skipped.push({ server: this.server, name: shown, reason: 'the server listed this name more than once; the first one is kept' });
        continue;
      }
      next.set(id, { def: converted.def, tool: converted.def.name });
    }
    for (const [id, { def, tool }] of next) {
      const previous = this.#definitions.get(id);
      if (previous && sameDefinition(previous, def) && this.index.has(id)) continue;
      const descriptor: McpBackendDescriptor = { kind: 'mcp', name: this.server, tool };
      try {
        this.index.register(def, descriptor, { onConflict: 'merge', replaceDefinition: true });
      } catch (err) {
        change.skipped.push({ server: this.server, name: tool, reason: `the index refused it: ${err instanceof Error ? err.message : String(err)}` });
        continue;
      }
      this.#definitions.set(id, def);
      (previous ? change.updated : change.added).push(id);
    }
    for (const id of [...this.#definitions.keys()]) {
      if (next.has(id)) continue;
      this.index.unregister(id, { kind: 'mcp', name: this.server });
      this.#definitions.delete(id);
      change.removed.push(id);
    }
    for (const l of this.#listeners) l(change);
    return change;
  }
}

function mergeChanges(a: McpToolsChange, b: McpToolsChange): McpToolsChange {
  return {
    server: a.server,
    added: [...new Set([...a.added, ...b.added])].filter((id) => !b.removed.includes(id)),
    updated: [...new Set([...a.updated, ...b.updated])].filter((id) => !b.removed.includes(id)),
    removed: [...new Set([...a.removed, ...b.removed])],
    skipped: b.skipped,
  };
}
