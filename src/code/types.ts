/**
 * Executor types (DESIGN.md "Executor contract").
 */
import type { Context, Meter, Tracer } from '@opentelemetry/api';
import type { JsonValue } from '../model/json.js';
import type { ToolIndex } from '../index/types.js';
import type { RunResult } from '../run/types.js';
import type { Runtime, RuntimeName } from '../runtime/types.js';
import type { ExecutionStore } from '../store/types.js';
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
  /** A durable execution stopped at calls that wait for approval (`status: 'suspended'`, see `pending`); not a failure of the script. */
  'SUSPENDED',
  /** On replay, the script made a call other than the one its journal recorded at that position. */
  'REPLAY_DIVERGED',
  /** The execution store failed under a durable execution (unreachable, its lease taken over by another process). */
  'STORE_ERROR',
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
   * Run durably: journal every reply that enters the sandbox in the executor's store, so that the
   * execution can suspend at calls that need approval and continue later (`executor.resume`),
   * in this process or any other sharing the store. Implied when an approval policy applies
   * (`approve`, `approveDestructive`); `false` cannot turn it off then.
   */
  durable?: boolean;
  /** More tool ID patterns whose calls need approval in this execution (added to the executor's, never replacing them). */
  approve?: string[];
  /** Calls to tools annotated `destructiveHint: true` need approval in this execution (can only add to the executor's policy). */
  approveDestructive?: boolean;
  /** Decides pending calls while the execution waits (instead of the executor's handler); see {@link ApprovalHandler}. */
  onApproval?: ApprovalHandler;
  /** How long a live approval may take before the execution suspends instead; at most the executor's `approvalTimeoutMs`. */
  approvalTimeoutMs?: number;
  /** Who starts the execution: only this principal may read, approve or resume it. Default: the executor's `principal`. */
  principal?: string;
  /** Called for each console line of the script as it arrives (lines of a replayed part are not sent again). */
  onLog?: (entry: LogEntry) => void;
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
  /** The call ran in an earlier part of a durable execution; this part was answered from the journal. */
  replayed?: true;
  /** The call needed approval: how it was decided (`args` edited by the approver: see `args`, which are what ran). */
  approval?: { callId: string; action: 'approve' | 'deny'; edited?: true; by?: string };
}

/** A call that waits for a decision (a suspended execution's `pending`, an approval handler's argument). */
export interface PendingToolCall {
  /** Unique within the execution; what decisions name. */
  callId: string;
  toolId: string;
  /** The arguments the script passed. */
  args: JsonValue;
  /** The tool's title or description, for the person deciding (when the index has one). */
  title?: string;
}

/**
 * Decisions on pending calls. `approve` runs a call (with `args` instead of the script's, when
 * given); `deny` throws a `ToolError` with code `APPROVAL_DENIED` (and the reason) into the
 * script, which may catch it. Calls not named stay pending.
 */
export interface ApprovalDecisions {
  approve?: Array<string | { callId: string; args?: Record<string, unknown> }>;
  deny?: Array<string | { callId: string; reason?: string }>;
}

/**
 * Decides pending calls while a live execution waits (a prompt, an MCP elicitation, a policy
 * service). Called with the calls that became pending together (all the gated calls of a
 * `Promise.all` at once); what it leaves undecided stays pending, and the execution suspends when
 * it cannot go on without them. It is bounded by `approvalTimeoutMs` (and what is left of
 * `timeoutMs`): past that, `signal` aborts and the execution suspends instead. A handler that
 * throws decides nothing.
 */
export type ApprovalHandler = (
  pending: PendingToolCall[],
  context: { executionId: string; principal: string; signal: AbortSignal },
) => ApprovalDecisions | undefined | void | Promise<ApprovalDecisions | undefined | void>;

/** Options of `executor.resume()`. */
export interface ResumeOptions {
  /** Who resumes: must be the principal that started the execution (anyone else is told there is no such execution). Default: the executor's `principal`. */
  principal?: string;
  /**
   * Refuse (store error `UNDECIDED`) unless every pending call has a recorded decision: how a
   * caller that must not decide (a model's `resume_execution`) continues only what a human decided.
   */
  requireDecisions?: boolean;
  signal?: AbortSignal;
  onToolCall?: ExecuteOptions['onToolCall'];
  onLog?: ExecuteOptions['onLog'];
  /** Decides calls that become pending in this part (default: the executor's handler). */
  onApproval?: ApprovalHandler;
  approvalTimeoutMs?: number;
}

/** What `execute()` returns, whatever the script did. */
export interface ExecuteResult {
  ok: boolean;
  /**
   * Durable executions only: `completed`, `failed`, or `suspended` (then `error.code` is
   * `SUSPENDED` and `pending` lists the calls waiting for a decision).
   */
  status?: 'completed' | 'failed' | 'suspended';
  /** Durable executions only: the handle for `executor.resume()`, bound to the principal that started it. */
  executionId?: string;
  /** With `status: 'suspended'`: every call that waits for a decision, all of them at once. */
  pending?: PendingToolCall[];
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
    /** Durable executions: how many runs (parts) the execution took so far; 1 until it is resumed. */
    parts?: number;
    /** Durable executions: calls of this part answered from the journal instead of running again. */
    replayedCalls?: number;
    /** Durable executions: how long this part took to replay its journal (from its start to its first new reply). */
    replayMs?: number;
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
  /**
   * Where durable executions keep their journals (default: an in-memory store made on first use,
   * so a suspended execution can be resumed only by this process). Use the SQLite store
   * (`toolexec/store/sqlite`) to survive restarts, Redis (`toolexec/store/redis`) to share
   * executions between hosts. A function is called when a store is first needed (it may open one
   * lazily: an executor whose executions are never durable never opens it).
   */
  store?: ExecutionStore | (() => Promise<ExecutionStore>);
  /** Tool ID patterns (`github:create_*`) whose calls need approval; any pattern makes executions durable. */
  approve?: string[];
  /** Calls to tools annotated `destructiveHint: true` need approval (default false). */
  approveDestructive?: boolean;
  /** Run every execution durably, even without an approval policy (default false). */
  durable?: boolean;
  /** Decides pending calls while executions wait (see {@link ApprovalHandler}); without one, executions suspend. */
  onApproval?: ApprovalHandler;
  /** Longest a live approval may take before the execution suspends instead. Default 300 000 (5 minutes). */
  approvalTimeoutMs?: number;
  /** How long a durable execution is kept after its last write (sliding). Default: the store's (one day). */
  executionTtlMs?: number;
  /** Largest journal of one execution, in bytes (capped by the store's own bound). Default: the store's (16 MiB). */
  maxJournalBytes?: number;
  /** The principal of executions that name none (default `local`). */
  principal?: string;
  /** This process's name as a lease holder (default: host, pid and random bits; see `defaultOwnerId`). */
  owner?: string;
  /** How long this process's hold on a running execution lasts without renewal (renewed every third). Default: the store's (30 s). */
  leaseMs?: number;
}
