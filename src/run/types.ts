import type { Context } from '@opentelemetry/api';
import type { ContentItem } from '../model/tool.js';
import type { BackendKind } from '../model/backend.js';
import type { ToolError } from '../model/errors.js';

/** One normalized answer from any backend (DESIGN.md "Runner contract"). */
export interface RunResult<T = unknown> {
  toolId: string;
  backend: { kind: BackendKind; name: string };
  structured: T;
  content: ContentItem[];
  durationMs: number;
}

export interface RunOptions {
  signal?: AbortSignal;
  /** Per-call timeout; defaults to the runner's `defaultTimeoutMs`. */
  timeoutMs?: number;
  /** Overrides the runner's input-validation switch for this call. */
  validateInput?: boolean;
  /** Called for MCP progress notifications during `run`. */
  onProgress?: (update: { progress: number; total?: number; message?: string }) => void;
  /**
   * Which tools the caller may see (a sandbox's allow-list, say): a TOOL_NOT_FOUND error's
   * "did you mean" names only tools for which this returns true. Default: every tool in the
   * runner's index (a policy view of the index hides its own).
   */
  visible?: (toolId: string) => boolean;
  /**
   * The OpenTelemetry context the call's `execute_tool` span is a child of (default: the active
   * context). The executor passes its execution's, so every call of a script is a child of it
   * whatever context manager is (or is not) registered.
   */
  traceContext?: Context;
}

export interface ChainStep {
  toolId: string;
  args?: Record<string, unknown>;
  /** Put the previous step's `structured` at `args.previous`. */
  usePrevious?: boolean;
  timeoutMs?: number;
}

export interface StepResult {
  index: number;
  toolId: string;
  ok: boolean;
  result?: RunResult;
  error?: ToolError;
  /** The arguments after templates were resolved. */
  args: Record<string, unknown>;
}

export interface ChainResult {
  final: RunResult;
  steps: StepResult[];
}

export type StreamEvent =
  | { kind: 'progress'; toolId: string; data: { progress: number; total?: number; message?: string } }
  | { kind: 'chunk'; toolId: string; data: unknown }
  | { kind: 'done'; toolId: string; data: RunResult }
  | { kind: 'error'; toolId: string; data: ToolError };

/** What observers see around every call. */
export interface CallEvent {
  phase: 'start' | 'end';
  toolId: string;
  op: 'run' | 'stream';
  backend?: { kind: BackendKind; name: string };
  args: Record<string, unknown>;
  startedAt: number;
  durationMs?: number;
  ok?: boolean;
  error?: ToolError;
  result?: RunResult;
}

/** Middleware wraps every call; call `next()` to proceed. */
export type Middleware = (
  call: { toolId: string; args: Record<string, unknown>; op: 'run' | 'stream'; options: RunOptions },
  next: () => Promise<RunResult>,
) => Promise<RunResult>;
