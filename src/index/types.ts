/**
 * The index contract: where tools are registered, found and searched, and which backend
 * runs a tool by default. `InMemoryIndex` implements it; other stores can too.
 */
import type { BackendDescriptor, BackendKind } from '../model/backend.js';
import type { Tool, ToolDefinition } from '../model/tool.js';

export interface IndexEntry {
  tool: Tool;
  /** Every backend registered for the tool, in registration order. */
  backends: BackendDescriptor[];
  /** The backend chosen by the index's selection policy. */
  backend: BackendDescriptor;
}

/** Picks the default backend among several; return `undefined` to refuse all. */
export type BackendSelector = (backends: readonly BackendDescriptor[], tool: Tool) => BackendDescriptor | undefined;

export interface RegisterOptions {
  /**
   * What to do when the ID already exists. `merge` (default) adds the backend and requires
   * the definition to be the same (or replaces it when `replaceDefinition` is set); `replace`
   * drops the old entry; `error` refuses.
   */
  onConflict?: 'merge' | 'replace' | 'error';
  /** With `merge`: accept a different definition and keep the new one. */
  replaceDefinition?: boolean;
}

export interface SearchOptions {
  /** Maximum hits per page (default 10, capped at 100). */
  limit?: number;
  /** Opaque cursor from a previous page's `nextCursor`. */
  cursor?: string;
  namespace?: string;
  tags?: string[];
  backendKind?: BackendKind;
}

export interface SearchHit {
  id: string;
  tool: Tool;
  score: number;
}

export interface SearchPage {
  items: SearchHit[];
  total: number;
  nextCursor?: string;
}

export interface ListOptions {
  namespace?: string;
  tags?: string[];
  backendKind?: BackendKind;
}

export type IndexChange =
  | { type: 'registered'; id: string; backend: BackendDescriptor }
  | { type: 'updated'; id: string }
  | { type: 'unregistered'; id: string; backend?: BackendDescriptor };

export type IndexListener = (change: IndexChange) => void;

export interface ToolIndex {
  register(def: ToolDefinition, backend: BackendDescriptor | BackendDescriptor[], options?: RegisterOptions): Tool;
  registerMany(
    entries: Iterable<{ tool: ToolDefinition; backend: BackendDescriptor | BackendDescriptor[] }>,
    options?: RegisterOptions,
  ): Tool[];
  /** Removes one backend of a tool (the tool goes when its last backend does), or the whole tool. Returns whether anything was removed. */
  unregister(id: string, backend?: { kind: BackendKind; name: string }): boolean;
  /** Removes every tool's backends matching kind+name (e.g. an MCP server going away). Returns the IDs touched. */
  unregisterBackend(backend: { kind: BackendKind; name: string }): string[];
  get(id: string): IndexEntry | undefined;
  has(id: string): boolean;
  list(options?: ListOptions): Tool[];
  namespaces(): { namespace: string; count: number }[];
  search(query: string, options?: SearchOptions): SearchPage;
  readonly size: number;
  /** Subscribes to changes; returns the unsubscribe function. */
  onChange(listener: IndexListener): () => void;
}
