/**
 * Executor types (DESIGN.md "Executor contract").
 */
import type { Context, Meter, Tracer } from '@opentelemetry/api';
import type { JsonValue } from '../model/json.js';
import type { ToolIndex } from '../index/types.js';
import type { RunResult } from '../run/types.js';
import type { Runtime, RuntimeName } from '../runtime/types.js';
import type { TypeChecker } from './typecheck.js';
import type { EgressPolicy } from './egress-policy.js';

/** Every way an execution can fail. */
export const EXECUTE_ERROR_CODES = [
  'SYNTAX_ERROR',
  'SCRIPT_TOO_LARGE',
  'RUNTIME_ERROR',
  'TOOL_ERROR',
  'TIMEOUT',
  'MEMORY_LIMIT',
  'TOOL_CALL_LIMIT',
  'OUTPUT_LIMIT',
  'NOT_SERIALIZABLE',
  'TOOL_NOT_ALLOWED',
  'CANCELLED',
  'SANDBOX_CRASHED',
  'RUNTIME_UNAVAILABLE',
  'TYPE_ERROR',
] as const;
/** One of `EXECUTE_ERROR_CODES`. */
export type ExecuteErrorCode = (typeof EXECUTE_ERROR_CODES)[number];

/** The limits of one execution (each has a default; see `DEFAULT_EXECUTE_LIMITS`). */
export interface ExecuteLimits {
  /** Wall-clock budget of the whole execution, tool calls included. */
  timeoutMs: number;
  /** Guest heap limit. */
  memoryMb: number;
  /** Guest CPU budget, where the runtime can measure it (`undefined`: none). */
  cpuMs?: number;
  /**
   * Most tool calls one execution may make (`run`, and also `searchTools` and `describeTool`,
   * which cost the host work too); one more ends it with TOOL_CALL_LIMIT.
   */
  maxToolCalls: number;
  /** Most tool calls running at once; more wait in a queue. */
  maxConcurrentToolCalls: number;
  /** Most bytes of output: the JSON of the value plus every log message. */
  maxOutputBytes: number;
  /** Most bytes of one call's JSON arguments. */
  maxArgsBytes: number;
  /**
   * Largest script, in UTF-8 bytes, that an execution prepares; a larger one ends with
   * SCRIPT_TOO_LARGE before any parsing (preparation runs on the host, before the deadline).
   */
  maxScriptBytes: number;
  /** Tool ID patterns (`github:*`, `*:read_*`) a script may call; all tools when absent. */
  allowedTools?: string[];
}

/** The name of one limit. */
export type LimitName = keyof ExecuteLimits;

/** The limits in force for one execution and whether each was enforced. */
export type ReportedLimits = ExecuteLimits & { enforced: Record<LimitName, boolean> };

/** Per-call options of `execute()`: limits (capped by the executor's `maxLimits`), a signal, progress. */
export interface ExecuteOptions extends Partial<ExecuteLimits> {
  signal?: AbortSignal;
  /** Name shown in stack traces (default `script.js`). */
  filename?: string;
  /**
   * Called each time one of the script's tool calls ends (refused ones included), with its
   * ledger entry and how many calls have ended so far: progress for a caller while the script
   * runs. A listener that throws changes nothing in the execution.
   */
  onToolCall?: (record: ToolCallRecord, count: number) => void;
  /**
   * A JSON value the script reads as the global `input` (read-only). It is sent through the
   * bridge as data and parsed in the sandbox, never spliced into the source, so one script
   * text serves every input (prepared once) and no value can turn into code or prototypes.
   */
  input?: JsonValue;
  /**
   * Type-check the script with TypeScript (an optional peer dependency) against the
   * declarations of the tools it may call before it starts: type errors end the execution with
   * `TYPE_ERROR` before any tool runs. The check's deadline is `timeoutMs`, besides the
   * checker's one-time start (loading TypeScript: about a second, bounded on its own).
   */
  typecheck?: boolean;
  /**
   * The OpenTelemetry context the execution's span is a child of (default: the active context).
   * `toolexec serve` passes the one a client sent in the request's `_meta`.
   */
  traceContext?: Context;
}

/** One type error found by `typecheck`, in the user's script. */
export interface TypeDiagnostic {
  /** 1-based line in the user's script (absent when the error is not in one of its lines). */
  line?: number;
  /** 1-based column. */
  column?: number;
  message: string;
  /** The compiler's code, e.g. `TS2339`. */
  code: string;
}

/** Why an execution failed; positions are in the user's script. */
export interface ExecuteError {
  code: ExecuteErrorCode;
  message: string;
  /** 1-based line in the user's script. */
  line?: number;
  /** 1-based column in the user's script. */
  column?: number;
  stack?: string;
  /** For TOOL_ERROR and TOOL_NOT_ALLOWED: the tool that failed. */
  toolId?: string;
  /** For TOOL_ERROR: the tool's own error code (`INPUT_VALIDATION`, `TOOL_NOT_FOUND`, …). */
  toolCode?: string;
  /** For TYPE_ERROR: every type error (the first one's position is `line` and `column`). */
  diagnostics?: TypeDiagnostic[];
}

/** One captured `console` call. */
export interface LogEntry {
  level: 'log' | 'info' | 'warn' | 'error' | 'debug';
  message: string;
  /** Epoch milliseconds when the host received it. */
  at: number;
}

/** One entry of the ledger: a tool call the script made, refused ones included. */
export interface ToolCallRecord {
  /** The tool's ID; `fetch` for a request through granted egress (then `kind` is `fetch`). */
  toolId: string;
  /** `fetch` for a request the script made with `fetch()` (its `args` are `{ method, url }`). */
  kind?: 'fetch';
  /** For `fetch`: the HTTP status of the answer. */
  status?: number;
  /** The arguments as the script sent them; `null` when they did not fit in `maxOutputBytes` (see `argsTruncated`). */
  args: unknown;
  /** Set when the arguments were left out of the ledger for lack of output budget: their size in bytes (at most). */
  argsTruncated?: number;
  ok: boolean;
  durationMs: number;
  /** Epoch milliseconds when the host started the call (after any queueing). */
  startedAt: number;
  error?: { code: string; message: string };
}

/** What `execute()` returns, whatever the script did. */
export interface ExecuteResult {
  ok: boolean;
  value?: JsonValue;
  error?: ExecuteError;
  logs: LogEntry[];
  toolCalls: ToolCallRecord[];
  /**
   * Present when non-empty: what the script may not have meant, in words for the model, e.g. a
   * tool call it never awaited or that was still running when it ended (then cancelled), a
   * setTimeout callback that never ran, a NaN sent as null. Only for scripts that ended by
   * themselves (a value or their own error).
   */
  warnings?: string[];
  stats: {
    runtime: string;
    /** From the call to `execute()` to its result. */
    durationMs: number;
    /** Of that, the time spent waiting for a sandbox (a full pool, a cold start); the script's own `timeoutMs` starts after it. */
    queuedMs?: number;
    cpuMs?: number;
    memoryBytes?: number;
    toolCalls: number;
    outputBytes: number;
    /** With `typecheck`: how long the type check took (part of `durationMs`). */
    typecheckMs?: number;
  };
  limits: ReportedLimits;
}

/** What the executor needs from a runner (a `Runner` has it). */
export interface ExecutorRunner {
  run(toolId: string, args: Record<string, unknown>, options: { signal?: AbortSignal; timeoutMs?: number; visible?: (toolId: string) => boolean; traceContext?: Context }): Promise<RunResult>;
  readonly index: ToolIndex;
}

/** Options of `new Executor()`. */
export interface ExecutorOptions {
  runner: ExecutorRunner;
  /** A runtime name (loaded lazily) or a runtime instance (default `quickjs`). */
  runtime?: RuntimeName | Runtime;
  /** Options for a runtime created by name. */
  runtimeOptions?: Record<string, unknown>;
  /** Defaults for every execution. */
  limits?: Partial<ExecuteLimits>;
  /** Ceilings a per-call limit may not exceed (per-call values above are lowered to these). */
  maxLimits?: Partial<Omit<ExecuteLimits, 'allowedTools'>>;
  /** The checker `typecheck` uses (default: one shared by the process, kept warm between checks). */
  typeChecker?: TypeChecker;
  /**
   * Granted egress: with a policy, scripts have `fetch`, `Headers` and `Response`, and every
   * request is made by the host under the policy (allowed origins and methods, address checks,
   * sizes, time), recorded in the ledger, with the origin's credentials added by the host.
   * Without one, `fetch` does not exist in the sandbox.
   */
  egress?: EgressPolicy;
  /**
   * OpenTelemetry tracer for the execution's span (`execute_tool execute_code`) and the spans the
   * executor makes itself (refused calls, `fetch` requests); the tool calls' spans are the
   * runner's, children of the execution's. Default: the global tracer provider's.
   */
  tracer?: Tracer;
  /** OpenTelemetry meter for the execution metrics; default: the global meter provider's at construction. */
  meter?: Meter;
}
