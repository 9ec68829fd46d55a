/**
 * The executable side of a backend descriptor. A runner holds one `Backend` per
 * (kind, name); the index holds only descriptors.
 */
import type { Context } from '@opentelemetry/api';
import type { BackendDescriptor, BackendKind } from '../model/backend.js';
import type { ContentItem, Tool } from '../model/tool.js';

export interface ProgressUpdate {
  progress: number;
  total?: number;
  message?: string;
}

export interface CallContext {
  /** Aborted on cancellation or timeout; backends must stop work and reject promptly. */
  signal: AbortSignal;
  toolId: string;
  /** The index entry's tool, when there is one (absent for unindexed local handlers). */
  tool?: Tool;
  descriptor: BackendDescriptor;
  /** The runner's remaining time budget for this call, so remote backends can pass it on. */
  timeoutMs?: number;
  /** Backends that can report progress (MCP) call this. */
  onProgress?: (update: ProgressUpdate) => void;
  /**
   * The OpenTelemetry context of the call (its `execute_tool` span): what a remote backend
   * propagates (MCP puts it in the request's `_meta`, as `traceparent` and `tracestate`).
   */
  readonly traceContext?: Context;
}

/** A backend's raw answer before the runner normalizes it. */
export interface BackendResult {
  /** The value scripts see (DESIGN.md: structured). */
  structured: unknown;
  content: ContentItem[];
  /**
   * Whether the value came from a structured source (a local return value or MCP
   * `structuredContent`) — output schemas are enforced only on those.
   */
  isStructured?: boolean;
}

export type StreamChunk = { kind: 'progress' | 'chunk'; data: unknown };

export interface Backend {
  readonly kind: BackendKind;
  readonly name: string;
  /** Whether this backend can run `toolId` without an index entry (the resolver fallback). */
  has?(toolId: string): boolean;
  call(toolId: string, args: Record<string, unknown>, ctx: CallContext): Promise<BackendResult>;
  /**
   * Streams chunks/progress and finally returns the result. Absent (or returning
   * `undefined`) means the tool cannot stream.
   */
  stream?(toolId: string, args: Record<string, unknown>, ctx: CallContext): AsyncGenerator<StreamChunk, BackendResult, void> | undefined;
  /** Releases connections; the runner calls it on dispose. */
  dispose?(): Promise<void> | void;
}
