/**
 * The MCP server in front of an engine: a few tools that reach every tool behind it
 * (search, describe, run, chain) and run code against them (`execute_code`). One
 * `ToolexecServer` serves any number of sessions (one SDK `Server` per client connection:
 * stdio has one, Streamable HTTP one per session), all sharing the engine.
 *
 * Whatever a client sends, a session answers: every failure becomes an `isError` result
 * whose text starts with a stable code, never a crashed session. What the server does for a
 * client is bounded before it starts: `execute_code` waits for a running slot in the server's
 * own queue (`AdmissionQueue`) with its `timeoutMs` already counting, its limits are capped by
 * server-side ceilings, and no result leaves larger than the session's transport can carry.
 */
import { Server } from '@modelcontextprotocol/sdk/server/index.js';
import { InMemoryTaskStore } from '@modelcontextprotocol/sdk/experimental/tasks/stores/in-memory.js';
import type { Transport } from '@modelcontextprotocol/sdk/shared/transport.js';
import {
  CallToolRequestSchema,
  ListToolsRequestSchema,
  type CallToolResult,
  type ServerNotification,
  type ServerRequest,
} from '@modelcontextprotocol/sdk/types.js';
import type { RequestHandlerExtra } from '@modelcontextprotocol/sdk/shared/protocol.js';
import { ToolError } from '../model/errors.js';
import { PACKAGE_VERSION } from '../model/package-info.js';
import type { ContentItem } from '../model/tool.js';
import { defaultValidator } from '../schema/validator.js';
import type { CompiledValidator } from '../schema/types.js';
import type { ChainStep } from '../run/types.js';
import type { Engine } from '../engine/engine.js';
import type { ExecuteResult, ToolCallRecord } from '../code/types.js';
import type { ConfigLimitKey, ConfigLimits } from '../config/load-config.js';
import { AdmissionQueue, type AdmissionOptions, type AdmissionRefusal } from './admission.js';
import { createRedactor, type Redactor } from './redact.js';
import { declarationsWithinBudget, generateTypes } from '../code/typegen.js';
import { context, propagation, type Context } from '@opentelemetry/api';
import { describeEgress } from '../code/egress-policy.js';
import { DURABLE_DESCRIPTION, DURABLE_TOOL_NAMES, EXECUTE_CODE_DESCRIPTION, SERVER_TOOL_NAMES, serverToolDefinitions, type ServerToolDefinition, type ServerToolName } from './tool-definitions.js';
import { elicitationApprover, executionView, suspendedText, supportsElicitation, undecidedText } from './executions.js';
import { ANONYMOUS_PRINCIPAL } from './principal.js';
import { StoreError } from '../store/errors.js';
import type { ExecutionStatus } from '../store/types.js';
import { suggestionQuery } from '../index/query.js';

/** Default size of `execute_code`'s description, in characters (about 8,000 tokens). */
export const DEFAULT_DESCRIPTION_BUDGET = 32_000;

/**
 * The MCP SDK client's stdio read buffer (`STDIO_DEFAULT_MAX_BUFFER_SIZE` in the SDK's
 * `shared/stdio`, 10 MiB since 1.30): a line longer than this closes the client's connection
 * for good ("ReadBuffer exceeded maximum size").
 */
export const SDK_STDIO_READ_BUFFER_BYTES = 10 * 1024 * 1024;

/**
 * Largest JSON-RPC message a session sends over stdio. The SDK checks what it has buffered
 * plus the arriving chunk before it splits lines, so the end of our message arrives together
 * with up to one pipe read (64 KiB) of whatever follows; 1 MiB of headroom covers that.
 */
export const STDIO_MAX_MESSAGE_BYTES = SDK_STDIO_READ_BUFFER_BYTES - 1024 * 1024;

/**
 * Largest result message on any transport by default: the stdio bound, so a result that
 * works over HTTP also works over stdio (and no model is handed 9 MB in one tool result).
 */
export const DEFAULT_MAX_RESULT_BYTES = STDIO_MAX_MESSAGE_BYTES;

/**
 * Ceilings on what a client may ask for in `execute_code`'s limits when the config sets none
 * (the executor's own ceilings, 10 minutes and 1 GB, suit a library caller, not anonymous MCP
 * clients sharing a 2-core host):
 * - `timeoutMs` 60 s: agents call a tool and wait; a minute is far beyond any interactive
 *   script and bounds how long one client can hold one of the server's few running slots;
 * - `memoryMb` 256: four running executions stay near 1 GB in the worst case;
 * - `cpuMs` 60 s, like the wall clock;
 * - `maxToolCalls` 10,000 and `maxConcurrentToolCalls` 16: a script cannot turn into a flood
 *   against the upstream servers;
 * - `maxOutputBytes` 4 MiB: the value and logs go out twice (text and structured content), so
 *   this keeps a full result under the stdio message bound;
 * - `maxArgsBytes` 1 MiB per tool call;
 * - `maxScriptBytes` 256 KiB, the executor's default: preparation work stays bounded.
 * A config that sets a limit makes it the ceiling instead (`limits` are defaults and ceilings).
 */
export const SERVE_DEFAULT_MAX_LIMITS: Readonly<Record<ConfigLimitKey, number>> = Object.freeze({
  timeoutMs: 60_000,
  memoryMb: 256,
  cpuMs: 60_000,
  maxToolCalls: 10_000,
  maxConcurrentToolCalls: 16,
  maxOutputBytes: 4 * 1024 * 1024,
  maxArgsBytes: 1024 * 1024,
  maxScriptBytes: 256 * 1024,
});

/** The executor's default `timeoutMs`, used when neither the call nor the config sets one. */
const FALLBACK_TIMEOUT_MS = 30_000;

/** One tool call the server handled (`onCall`), or one tool call a script made (`parent: 'execute_code'`). */
export interface ServerCallEvent {
  /** The session's label (`s1`, `s2`, ...), for telling concurrent sessions apart in logs. */
  session: string;
  /** The server tool called (`run_tool`, `execute_code`, ...), or for a script's call the tool it called. */
  tool: string;
  /** For a script's tool call: `execute_code`. */
  parent?: 'execute_code';
  /** The tool `run_tool` / `describe_tool` targeted. */
  target?: string;
  durationMs: number;
  /** `ok`, or the error code; `waiting` for the notice that an `execute_code` call is queued (then see `waiting`). */
  outcome: string;
  /** With outcome `waiting`: the load the call waits behind. */
  waiting?: { running: number; queued: number };
  /** `execute_code`: milliseconds it waited for a running slot. */
  queuedMs?: number;
  /** `execute_code`: tool calls the script made. */
  toolCalls?: number;
  /** The call's arguments after `redact`, only when `callArgs` is set. */
  args?: unknown;
}

/** Per-session settings (`createSession`, `connect`). */
export interface SessionOptions {
  /**
   * Whose executions this session's count against in the per-session cap (default: the
   * session itself). Stateless HTTP passes the client's key, so one client's many one-request
   * sessions share one allowance.
   */
  admissionKey?: string;
  /** Largest message this session's transport carries (stdio: {@link STDIO_MAX_MESSAGE_BYTES}); results are capped to the smaller of this and the server's `maxResultBytes`. */
  maxMessageBytes?: number;
  /**
   * Whether the session is told when the tool list changes (default true). Stateless sessions
   * live for one request and have no stream to carry it.
   */
  listChanged?: boolean;
  /**
   * Who the session's durable executions belong to (see `src/server/principal.ts`): a bearer
   * token's principal, the session's, the OS user's for stdio. A function is read when an
   * execution starts (an HTTP session's ID exists only after initialize). Default `anonymous`.
   */
  principal?: string | (() => string);
  /**
   * Whether the session offers MCP tasks (a tool call answered at once with a task the client
   * polls for the result). Default true; stateless sessions cannot (a task lives in the process
   * that created it, and the next request may reach another replica).
   */
  tasks?: boolean;
}

export interface ToolexecServerOptions {
  /** Server name in the `initialize` answer (default `toolexec`). */
  name?: string;
  version?: string;
  /**
   * Most characters of `execute_code`'s description (default: the config's
   * `serve.descriptionBudget`, else `DEFAULT_DESCRIPTION_BUDGET`). The tool declarations in it
   * degrade step by step to fit: docs first, then signatures become one line per tool, then
   * whole namespaces become one line (see `declarationsWithinBudget`).
   */
  descriptionBudget?: number;
  /** Where problems that are not any client's fault go (default: ignored). */
  onError?: (error: unknown) => void;
  /** Caps on running and queued `execute_code` executions (see `AdmissionQueue`). */
  admission?: AdmissionOptions;
  /**
   * Ceilings on the limits a client may ask for; keys absent here fall back to the config's
   * `limits`, then to {@link SERVE_DEFAULT_MAX_LIMITS}.
   */
  maxLimits?: ConfigLimits;
  /** Largest result message on any session (default {@link DEFAULT_MAX_RESULT_BYTES}); stdio sessions never exceed {@link STDIO_MAX_MESSAGE_BYTES}. */
  maxResultBytes?: number;
  /** Called once per tool call the server handled, and once per tool call a script made. Must not throw (it is guarded). */
  onCall?: (event: ServerCallEvent) => void;
  /** Include the (redacted) arguments in `onCall` events (default false). */
  callArgs?: boolean;
  /** Applied to arguments before they reach `onCall` (default `createRedactor()`: credential-like keys hidden). */
  redact?: Redactor;
  /**
   * Offer the durable-execution tools (`resume_execution`, `list_executions`, `get_execution`) and
   * say in `execute_code`'s description that scripts may suspend. Default: whether the config has
   * an approval policy (`approve`, `approveDestructive`).
   */
  durable?: boolean;
  /** Ask the user through MCP elicitation when a call needs approval and the client supports it (default true). */
  elicitation?: boolean;
  /** Offer MCP tasks where the session can (default true); see `SessionOptions.tasks`. */
  tasks?: boolean;
}

/** Most MCP tasks the server keeps at once (running and finished, until their TTL), and the longest TTL. */
export const MAX_TASKS = 1000;
export const MAX_TASK_TTL_MS = 60 * 60_000;

/**
 * The SDK's in-memory task store, bounded (at most `MAX_TASKS` live, TTLs capped) and wired to
 * the executions it runs: a task the client cancels aborts its execution.
 */
class ExecutionTaskStore extends InMemoryTaskStore {
  readonly controllers = new Map<string, AbortController>();
  live = 0;
  override async createTask(...args: Parameters<InMemoryTaskStore['createTask']>): ReturnType<InMemoryTaskStore['createTask']> {
    if (this.live >= MAX_TASKS) throw new Error(`This server holds ${MAX_TASKS} tasks already; wait for some to finish, or call without a task`);
    const [params, ...rest] = args;
    const ttl = Math.min(params.ttl ?? MAX_TASK_TTL_MS, MAX_TASK_TTL_MS);
    const task = await super.createTask({ ...params, ttl }, ...rest);
    this.live++;
    const timer = setTimeout(() => this.live--, ttl + 1000);
    timer.unref?.();
    return task;
  }
  override async updateTaskStatus(...args: Parameters<InMemoryTaskStore['updateTaskStatus']>): ReturnType<InMemoryTaskStore['updateTaskStatus']> {
    await super.updateTaskStatus(...args);
    if (args[1] === 'cancelled') this.controllers.get(args[0])?.abort(new Error('the client cancelled the task'));
  }
}

interface SessionContext {
  label: string;
  admissionKey: string;
  maxResultBytes: number;
  principal: () => string;
  server: Server;
  tasks: boolean;
}

type Extra = RequestHandlerExtra<ServerRequest, ServerNotification>;
type Progress = { send(progress: number, message?: string, total?: number): void; settled(): Promise<void> };

const INSTRUCTIONS =
  'toolexec gives access to many tools through a few. Find tools with search_tools or list_namespaces, read one with describe_tool, ' +
  'call one with run_tool, a fixed sequence with run_chain, and anything with logic, loops or several tools with execute_code ' +
  '(a sandboxed script that calls tools with `await run(id, args)`; its description lists the tool declarations).';

/**
 * Compact JSON, never pretty-printed: indentation multiplies a deep value's size by its depth
 * (2,000 levels under the byte limit become gigabytes), and compact JSON reads as well to a model.
 */
function safeJson(value: unknown): string {
  try {
    return JSON.stringify(value, (_k, v) => (typeof v === 'bigint' ? v.toString() : v)) ?? 'null';
  } catch (e) {
    return JSON.stringify(`[unserializable: ${(e as Error).message}]`);
  }
}

/** A value that cannot become JSON for the client (too deep for the host's stack, a cycle). */
class UnserializableError extends Error {}

/** JSON round trip: what a client would receive anyway, and no host objects in results. */
function plain<T>(value: T): T {
  let text: string | undefined;
  try {
    text = JSON.stringify(value, (_k, v) => (typeof v === 'bigint' ? v.toString() : v));
  } catch (e) {
    throw new UnserializableError(`The result cannot be sent as JSON: ${(e as Error).message}`);
  }
  return (text === undefined ? null : JSON.parse(text)) as T;
}

function cut(text: string, max: number): string {
  return text.length > max ? `${text.slice(0, max)}… [${text.length - max} more characters]` : text;
}

function errorResult(code: string, message: string, structured?: Record<string, unknown>): CallToolResult {
  return {
    isError: true,
    content: [{ type: 'text', text: `${code}: ${message}` }],
    ...(structured ? { structuredContent: structured } : {}),
  };
}

function toolErrorData(e: unknown): { code: string; message: string; [k: string]: unknown } {
  if (e instanceof ToolError) {
    try {
      return plain(e.toJSON()) as { code: string; message: string };
    } catch {
      return { code: e.code, message: e.message };
    }
  }
  if (e && typeof e === 'object' && typeof (e as { code?: unknown }).code === 'string' && typeof (e as { message?: unknown }).message === 'string') {
    return { code: (e as { code: string }).code, message: (e as { message: string }).message };
  }
  return { code: 'EXECUTION', message: e instanceof Error ? e.message : String(e) };
}


/** Serves an engine over MCP. */
export class ToolexecServer implements AsyncDisposable {
  readonly engine: Engine;
  /** The `execute_code` admission queue shared by every session. */
  readonly admission: AdmissionQueue;
  readonly #options: ToolexecServerOptions;
  readonly #sessions = new Set<Server>();
  readonly #validators = new Map<ServerToolName, CompiledValidator>();
  readonly #ceilings: Record<ConfigLimitKey, number>;
  readonly #redact: Redactor;
  readonly #maxResultBytes: number;
  #definitions: ServerToolDefinition[];
  #executeDescription = EXECUTE_CODE_DESCRIPTION;
  #offChange: () => void;
  #refreshing: Promise<boolean> = Promise.resolve(false);
  #closed = false;
  #sessionCounter = 0;
  #defaultTimeoutMs: Promise<number> | undefined;
  readonly #durable: boolean;
  readonly #taskStore = new ExecutionTaskStore();
  /** Extras of calls running as tasks: their requests are answered already, so nothing can be asked of the user. */
  readonly #taskExtras = new WeakSet<object>();

  constructor(engine: Engine, options: ToolexecServerOptions = {}) {
    this.engine = engine;
    this.#options = options;
    this.admission = new AdmissionQueue(options.admission);
    const configured = engine.config.limits ?? {};
    this.#ceilings = { ...SERVE_DEFAULT_MAX_LIMITS };
    for (const [k, v] of Object.entries({ ...configured, ...(options.maxLimits ?? {}) })) {
      if (typeof v === 'number') this.#ceilings[k as ConfigLimitKey] = v;
    }
    this.#redact = options.redact ?? createRedactor();
    const maxResult = options.maxResultBytes ?? DEFAULT_MAX_RESULT_BYTES;
    if (!Number.isInteger(maxResult) || maxResult < 1024) throw new TypeError(`maxResultBytes must be an integer of at least 1024, got ${JSON.stringify(maxResult)}`);
    this.#maxResultBytes = maxResult;
    this.#durable = options.durable ?? (engine.config.approve.length > 0 || engine.config.approveDestructive === true);
    this.#definitions = serverToolDefinitions(this.#executeDescription, { durable: this.#durable });
    for (const d of this.#definitions) this.#validators.set(d.name, defaultValidator.compile(d.inputSchema));
    this.#offChange = engine.onToolsChanged(() => {
      void this.refresh();
    });
  }

  /** Builds the tool descriptions from the current tools; call once before serving. */
  async start(): Promise<this> {
    await this.refresh();
    return this;
  }

  /** The tool definitions sessions list right now. */
  get tools(): readonly ServerToolDefinition[] {
    return this.#definitions;
  }

  /** Number of open sessions. */
  get sessionCount(): number {
    return this.#sessions.size;
  }

  /** The ceilings client-requested limits are capped to (config `limits`, else {@link SERVE_DEFAULT_MAX_LIMITS}). */
  get maxLimits(): Readonly<Record<ConfigLimitKey, number>> {
    return this.#ceilings;
  }

  /**
   * Regenerates what depends on the tool set (`execute_code`'s declarations) and, when a
   * description actually changed, sends `notifications/tools/list_changed` to every session.
   * Resolves to whether anything changed.
   */
  refresh(): Promise<boolean> {
    // Serialized: two overlapping refreshes must not notify out of order.
    this.#refreshing = this.#refreshing.then(async () => {
      if (this.#closed) return false;
      let description: string;
      try {
        description = await this.#buildExecuteDescription();
      } catch (e) {
        // Never a rejected chain: the next refresh must still run.
        this.#options.onError?.(e);
        return false;
      }
      if (description === this.#executeDescription) return false;
      this.#executeDescription = description;
      this.#definitions = serverToolDefinitions(description, { durable: this.#durable });
      for (const s of this.#sessions) {
        s.sendToolListChanged().catch(() => {
          // a session whose transport is gone; it is removed on close
        });
      }
      return true;
    });
    return this.#refreshing;
  }

  async #buildExecuteDescription(): Promise<string> {
    const budget = this.#options.descriptionBudget ?? this.engine.config.serve?.descriptionBudget ?? DEFAULT_DESCRIPTION_BUDGET;
    const egress = this.engine.config.egress;
    const base = this.#durable ? `${EXECUTE_CODE_DESCRIPTION} ${DURABLE_DESCRIPTION}` : EXECUTE_CODE_DESCRIPTION;
    const fixed = egress ? `${base}\n\n${describeEgress(egress)}` : base;
    if (this.engine.index.list().length === 0) return `${fixed}\n\nNo tools are available right now.`;
    const head = `${fixed}\n\nThe tools, as the script sees them (TypeScript declarations):\n\`\`\`ts\n`;
    const tail = '\n```';
    const { text } = declarationsWithinBudget(this.engine.index, Math.max(1, budget - head.length - tail.length));
    return `${head}${text.trim()}${tail}`;
  }

  /** A new MCP session (an SDK `Server`) wired to this engine; connect it to a transport. */
  createSession(options: SessionOptions = {}): Server {
    if (this.#closed) throw new Error('The toolexec server has been closed');
    const label = `s${++this.#sessionCounter}`;
    const listChanged = options.listChanged ?? true;
    const tasks = this.#options.tasks !== false && options.tasks !== false;
    const server = new Server(
      { name: this.#options.name ?? 'toolexec', version: this.#options.version ?? PACKAGE_VERSION },
      tasks
        ? { capabilities: { tools: { listChanged }, tasks: { requests: { tools: { call: {} } }, list: {}, cancel: {} } }, instructions: INSTRUCTIONS, taskStore: this.#taskStore }
        : { capabilities: { tools: { listChanged } }, instructions: INSTRUCTIONS },
    );
    const principal = options.principal;
    const ctx: SessionContext = {
      label,
      admissionKey: options.admissionKey ?? label,
      maxResultBytes: Math.min(this.#maxResultBytes, options.maxMessageBytes ?? Infinity),
      principal: typeof principal === 'function' ? principal : () => principal ?? ANONYMOUS_PRINCIPAL,
      server,
      tasks,
    };
    server.setRequestHandler(ListToolsRequestSchema, async () => ({
      // Long scripts may run as tasks, where the session offers them.
      tools: this.#definitions.map((d) => (tasks && (d.name === 'execute_code' || d.name === 'resume_execution') ? { ...d, execution: { taskSupport: 'optional' as const } } : { ...d })),
    }));
    server.setRequestHandler(CallToolRequestSchema, async (request, extra) => {
      if (request.params.task && extra.taskStore) return this.#callAsTask(request.params.name, request.params.arguments, extra, ctx);
      return this.#call(request.params.name, request.params.arguments, extra, ctx);
    });
    server.onclose = () => {
      this.#sessions.delete(server);
    };
    // Only sessions that can be told about changes are tracked (a stateless one lives for one request).
    if (listChanged) this.#sessions.add(server);
    return server;
  }

  /** Creates a session and connects it to `transport`. */
  async connect(transport: Transport, options: SessionOptions = {}): Promise<Server> {
    const server = this.createSession(options);
    await server.connect(transport);
    return server;
  }

  /** Closes every session (the engine stays open: its owner closes it). */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#offChange();
    await Promise.allSettled([...this.#sessions].map((s) => s.close()));
    this.#sessions.clear();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  // ---------------------------------------------------------------- calls

  #emit(event: ServerCallEvent): void {
    const onCall = this.#options.onCall;
    if (!onCall) return;
    try {
      onCall(event);
    } catch (e) {
      this.#options.onError?.(e);
    }
  }

  #argsFor(value: unknown, tool?: string): { args?: unknown } {
    if (!this.#options.callArgs) return {};
    // A script is code: the redactor cannot tell its literals from secrets, so only its size
    // is shown; the tool calls it makes (where its data goes) are reported with their arguments.
    if (tool === 'execute_code' && value && typeof value === 'object' && typeof (value as { script?: unknown }).script === 'string') {
      value = { ...(value as Record<string, unknown>), script: `<${(value as { script: string }).script.length} characters>` };
    }
    return { args: this.#redact(value) };
  }

  /**
   * A tool call the client asked to run as a task: the task is created and returned at once, the
   * call runs on (progress still goes out), and its result is stored for `tasks/result`. A task
   * the client cancels aborts the call. Nothing can be asked of the user meanwhile (the request
   * is answered): an execution that needs approval suspends, as its result says.
   */
  async #callAsTask(name: string, rawArgs: Record<string, unknown> | undefined, extra: Extra, ctx: SessionContext) {
    const store = extra.taskStore!;
    const { task } = { task: await store.createTask({ ...(extra.taskRequestedTtl !== undefined && extra.taskRequestedTtl !== null ? { ttl: extra.taskRequestedTtl } : {}) }) };
    const ac = new AbortController();
    this.#taskStore.controllers.set(task.taskId, ac);
    // The request is answered with the task: progress goes out on the session's own stream.
    const taskExtra: Extra = { ...extra, signal: ac.signal, sendNotification: (n) => ctx.server.notification(n) };
    this.#taskExtras.add(taskExtra);
    void this.#call(name, rawArgs, taskExtra, ctx)
      .then(
        (result) => store.storeTaskResult(task.taskId, result.isError ? 'failed' : 'completed', result),
        (e: unknown) => store.storeTaskResult(task.taskId, 'failed', errorResult('EXECUTION', (e as Error)?.message ?? String(e))),
      )
      .catch((e: unknown) => this.#options.onError?.(e))
      .finally(() => this.#taskStore.controllers.delete(task.taskId));
    return { task };
  }

  async #call(name: string, rawArgs: Record<string, unknown> | undefined, extra: Extra, ctx: SessionContext): Promise<CallToolResult> {
    const t0 = performance.now();
    const report: { target?: string; queuedMs?: number; toolCalls?: number } = {};
    let result: CallToolResult;
    if (!(SERVER_TOOL_NAMES as readonly string[]).includes(name) || (!this.#durable && (DURABLE_TOOL_NAMES as readonly string[]).includes(name))) {
      result = errorResult('TOOL_NOT_FOUND', `This server has no tool ${JSON.stringify(cut(name, 200))}; its tools are ${this.#definitions.map((d) => d.name).join(', ')}`);
    } else {
      result = this.#finish(await this.#dispatch(name as ServerToolName, rawArgs ?? {}, extra, ctx, report), extra, ctx, name as ServerToolName);
    }
    if (this.#options.onCall) {
      const sc = result.structuredContent as { error?: { code?: unknown } } | undefined;
      const code = typeof sc?.error?.code === 'string' ? sc.error.code : /^([A-Z_]+):/.exec(((result.content?.[0] as { text?: string } | undefined)?.text ?? '').slice(0, 64))?.[1];
      this.#emit({
        session: ctx.label,
        tool: cut(name, 100),
        ...(report.target !== undefined ? { target: cut(report.target, 200) } : {}),
        durationMs: performance.now() - t0,
        outcome: result.isError ? (code ?? 'ERROR') : 'ok',
        ...(report.queuedMs !== undefined ? { queuedMs: report.queuedMs } : {}),
        ...(report.toolCalls !== undefined ? { toolCalls: report.toolCalls } : {}),
        ...this.#argsFor(rawArgs ?? {}, name),
      });
    }
    return result;
  }

  async #dispatch(tool: ServerToolName, args: Record<string, unknown>, extra: Extra, ctx: SessionContext, report: { target?: string; queuedMs?: number; toolCalls?: number }): Promise<CallToolResult> {
    const check = this.#validators.get(tool)!(args);
    if (!check.valid) return errorResult('INPUT_VALIDATION', `Invalid arguments for ${tool}: ${check.message}`);
    if ((tool === 'run_tool' || tool === 'describe_tool') && typeof args.toolId === 'string') report.target = args.toolId;
    try {
      switch (tool) {
        case 'search_tools':
          return this.#searchTools(args);
        case 'list_namespaces':
          return this.#structured({ namespaces: this.engine.index.namespaces() });
        case 'describe_tool':
          return await this.#describeTool(args);
        case 'run_tool':
          return await this.#runTool(args, extra);
        case 'run_chain':
          return await this.#runChain(args, extra);
        case 'execute_code':
          return await this.#executeCode(args, extra, ctx, report);
        case 'resume_execution':
          return await this.#resumeExecution(args, extra, ctx, report);
        case 'list_executions':
          return await this.#listExecutions(args, ctx);
        case 'get_execution':
          return await this.#getExecution(args, ctx);
      }
    } catch (e) {
      if (e instanceof UnserializableError) return errorResult('NOT_SERIALIZABLE', e.message);
      // Nothing above should throw; if something does, the client still gets an answer.
      this.#options.onError?.(e);
      const data = toolErrorData(e);
      return errorResult(data.code, data.message);
    }
  }

  /**
   * The last check before a result leaves: it must serialize, and its JSON-RPC message must
   * fit the session's transport (over stdio a longer line kills the client's connection), else
   * it becomes a small `OUTPUT_LIMIT` (or `NOT_SERIALIZABLE`) error result.
   */
  #finish(result: CallToolResult, extra: Extra, ctx: SessionContext, tool: ServerToolName): CallToolResult {
    const budget = ctx.maxResultBytes;
    // `{"result":…,"jsonrpc":"2.0","id":…}` around the result.
    const envelope = 32 + safeJson(extra.requestId).length;
    let text: string;
    try {
      text = JSON.stringify(result);
    } catch (e) {
      return this.#replacement(result, tool, 'NOT_SERIALIZABLE', `The result cannot be sent as JSON (${cut((e as Error)?.message ?? String(e), 200)}); return a flatter, smaller value`, budget - envelope);
    }
    // UTF-8 is at most 3 bytes per UTF-16 unit: only a long text needs counting.
    const bytes = text.length * 3 + envelope <= budget ? 0 : Buffer.byteLength(text, 'utf8') + envelope;
    if (bytes <= budget) return result;
    return this.#replacement(
      result,
      tool,
      'OUTPUT_LIMIT',
      `The result is ${bytes} bytes as a JSON-RPC message; this session carries at most ${budget} (MCP clients over stdio close the connection above ${SDK_STDIO_READ_BUFFER_BYTES}). ` +
        (tool === 'execute_code'
          ? 'Return less: summarize or page inside the script, log less, or lower limits.maxOutputBytes so the script fails early'
          : 'Ask for less (a narrower query, a page of the result), or use execute_code to extract what you need'),
      budget - envelope,
    );
  }

  /** A small error result standing in for one that cannot be sent; keeps what fits of an execution's stats. */
  #replacement(original: CallToolResult, tool: ServerToolName, code: string, message: string, budget: number): CallToolResult {
    if (tool !== 'execute_code') return errorResult(code, message);
    const sc = (original.structuredContent ?? {}) as Partial<ExecuteResult> & { stats?: Record<string, unknown> };
    const outcome = sc.ok === true ? 'the script itself succeeded' : sc.error ? `the script itself ended with ${sc.error.code}: ${cut(String(sc.error.message), 300)}` : undefined;
    const full = `${message}${outcome ? ` (${outcome})` : ''}`;
    const base = {
      ok: false,
      error: { code, message: full },
      logs: [] as unknown[],
      toolCalls: [] as unknown[],
      stats: { ...(sc.stats ?? {}) },
      ...(sc.limits ? { limits: sc.limits } : {}),
    };
    // The ledger without arguments, when that fits: which tools ran is worth keeping.
    const ledger = Array.isArray(sc.toolCalls)
      ? sc.toolCalls.map((c) => ({ toolId: cut(String(c.toolId), 200), ok: c.ok, durationMs: c.durationMs, ...(c.error ? { error: { code: c.error.code, message: cut(String(c.error.message), 200) } } : {}) }))
      : [];
    const withLedger = { ...base, toolCalls: ledger };
    const fits = (v: unknown) => {
      try {
        return Buffer.byteLength(JSON.stringify(v), 'utf8') * 2 < budget;
      } catch {
        return false;
      }
    };
    const structured = fits(withLedger) ? withLedger : fits(base) ? base : { ...base, stats: {}, limits: undefined };
    return { isError: true, content: [{ type: 'text', text: `${code}: ${full}` }], structuredContent: structured as unknown as Record<string, unknown> };
  }

  #structured(value: Record<string, unknown>, text?: string): CallToolResult {
    const structured = plain(value);
    return { content: [{ type: 'text', text: text ?? safeJson(structured) }], structuredContent: structured };
  }

  #searchTools(args: Record<string, unknown>): CallToolResult {
    const query = (args.query as string | undefined) ?? '';
    let page;
    try {
      page = this.engine.index.search(query, {
        limit: (args.limit as number | undefined) ?? 10,
        ...(args.cursor !== undefined ? { cursor: args.cursor as string } : {}),
        ...(args.namespace !== undefined ? { namespace: args.namespace as string } : {}),
      });
    } catch (e) {
      const code = (e as { code?: string }).code === 'INVALID_CURSOR' ? 'INVALID_CURSOR' : 'INPUT_VALIDATION';
      return errorResult(code, (e as Error).message);
    }
    const items = page.items.map((h) => ({
      id: h.id,
      ...(h.tool.title !== undefined ? { title: h.tool.title } : {}),
      ...(h.tool.description !== undefined ? { description: h.tool.description } : {}),
      ...(h.tool.namespace !== undefined ? { namespace: h.tool.namespace } : {}),
      score: h.score,
    }));
    return this.#structured({ items, total: page.total, ...(page.nextCursor ? { nextCursor: page.nextCursor } : {}) });
  }

  async #describeTool(args: Record<string, unknown>): Promise<CallToolResult> {
    const toolId = args.toolId as string;
    const detail = (args.detail as 'summary' | 'schema' | 'full' | undefined) ?? 'schema';
    const entry = this.engine.index.get(toolId);
    if (!entry) {
      const hits = this.engine.index.search(suggestionQuery(toolId), { limit: 3 }).items.map((h) => h.id);
      return errorResult('TOOL_NOT_FOUND', `No tool ${JSON.stringify(cut(toolId, 200))}${hits.length ? `; did you mean ${hits.join(', ')}?` : '; search_tools lists the tools'}`);
    }
    const t = entry.tool;
    const out: Record<string, unknown> = {
      id: t.id,
      ...(t.namespace !== undefined ? { namespace: t.namespace } : {}),
      name: t.name,
      ...(t.title !== undefined ? { title: t.title } : {}),
      ...(t.description !== undefined ? { description: t.description } : {}),
      ...(t.annotations !== undefined ? { annotations: t.annotations } : {}),
    };
    if (detail !== 'summary') {
      out.inputSchema = t.inputSchema ?? { type: 'object' };
      if (t.outputSchema !== undefined) out.outputSchema = t.outputSchema;
    }
    if (detail === 'full') {
      try {
        // The shared preamble (run, searchTools, ...) is in execute_code's description already.
        out.typescript = generateTypes(this.engine.index, (x) => x.id === t.id, { preamble: false }).trim();
      } catch (e) {
        return errorResult('EXECUTION', `Cannot generate the TypeScript signature of ${t.id}: ${(e as Error).message}`);
      }
    }
    return this.#structured(out);
  }

  /**
   * Progress for one call, when the client asked for it. `settled()` resolves once every
   * notification sent so far is out: the call's result waits for it, because the SDK client
   * drops progress that arrives after the response.
   */
  #progress(extra: Extra): { send(progress: number, message?: string, total?: number): void; settled(): Promise<void> } | undefined {
    const token = extra._meta?.progressToken;
    if (token === undefined) return undefined;
    let last: Promise<void> = Promise.resolve();
    return {
      send: (progress, message, total) => {
        const sent = extra
          .sendNotification({
            method: 'notifications/progress',
            params: { progressToken: token, progress, ...(total !== undefined ? { total } : {}), ...(message !== undefined ? { message: cut(message, 500) } : {}) },
          })
          .catch(() => {
            // the client went away; the call itself is cancelled through extra.signal
          });
        last = last.then(() => sent);
      },
      settled: () => last,
    };
  }

  async #runTool(args: Record<string, unknown>, extra: Extra): Promise<CallToolResult> {
    const toolId = args.toolId as string;
    const progress = this.#progress(extra);
    try {
      const traceContext = traceContextOf(extra._meta);
      const result = await this.engine.runner.run(toolId, (args.args as Record<string, unknown> | undefined) ?? {}, {
        signal: extra.signal,
        ...(traceContext ? { traceContext } : {}),
        ...(args.timeoutMs !== undefined ? { timeoutMs: this.#toolTimeout(args.timeoutMs as number) } : {}),
        ...(progress ? { onProgress: (p) => progress.send(p.progress, p.message, p.total) } : {}),
      });
      await progress?.settled();
      const structured = plain({ toolId: result.toolId, backend: result.backend, structured: result.structured ?? null, durationMs: result.durationMs });
      const content = result.content.length > 0 ? (plain(result.content) as CallToolResult['content']) : [{ type: 'text' as const, text: safeJson(result.structured ?? null) }];
      return { content, structuredContent: structured };
    } catch (e) {
      if (e instanceof UnserializableError) throw e;
      const data = toolErrorData(e);
      const upstream = e instanceof ToolError ? (e.data?.content as ContentItem[] | undefined) : undefined;
      const detail = Array.isArray(upstream) ? upstream.filter((c) => c.type === 'text').map((c) => (c as { text: string }).text) : [];
      return {
        isError: true,
        content: [{ type: 'text', text: `${data.code}: ${data.message}` }, ...detail.filter((t) => !data.message.includes(t)).map((text) => ({ type: 'text' as const, text }))],
        structuredContent: { error: data },
      };
    }
  }

  async #runChain(args: Record<string, unknown>, extra: Extra): Promise<CallToolResult> {
    const steps = args.steps as ChainStep[];
    const summarize = (s: { index: number; toolId: string; ok: boolean; args: unknown; result?: { structured: unknown }; error?: unknown }) => ({
      index: s.index,
      toolId: s.toolId,
      ok: s.ok,
      args: s.args,
      ...(s.result ? { structured: s.result.structured ?? null } : {}),
      ...(s.error ? { error: toolErrorData(s.error) } : {}),
    });
    try {
      const capped = steps.map((step) => (step.timeoutMs !== undefined ? { ...step, timeoutMs: this.#toolTimeout(step.timeoutMs) } : step));
      const chain = await this.engine.runner.runChain(capped, { signal: extra.signal });
      const out = { ok: true, final: chain.final.structured ?? null, steps: chain.steps.map(summarize) };
      return this.#structured(out, safeJson(out.final));
    } catch (e) {
      if (e instanceof UnserializableError) throw e;
      const data = toolErrorData(e);
      const partial = e instanceof ToolError && Array.isArray(e.data?.steps) ? (e.data.steps as Parameters<typeof summarize>[0][]).map(summarize) : [];
      return errorResult(data.code, data.message, plain({ ok: false, steps: partial, error: data }));
    }
  }

  /**
   * A client's `timeoutMs` for one tool call, capped like a script's: at the `timeoutMs`
   * ceiling, or the config's `toolTimeoutMs` when that is longer (the operator chose it).
   */
  #toolTimeout(requested: number): number {
    return Math.min(requested, Math.max(this.#ceilings.timeoutMs, this.engine.config.toolTimeoutMs ?? 0));
  }

  /** The executor's default `timeoutMs` (loaded with the executor, which execution needs anyway). */
  #executorDefaultTimeout(): Promise<number> {
    this.#defaultTimeoutMs ??= import('../code/executor.js').then(
      (m) => m.DEFAULT_EXECUTE_LIMITS.timeoutMs,
      () => FALLBACK_TIMEOUT_MS,
    );
    return this.#defaultTimeoutMs;
  }

  async #executeCode(args: Record<string, unknown>, extra: Extra, ctx: SessionContext, report: { queuedMs?: number; toolCalls?: number }): Promise<CallToolResult> {
    const requested: ConfigLimits = { ...((args.limits as ConfigLimits | undefined) ?? {}) };
    if (args.timeoutMs !== undefined) requested.timeoutMs = args.timeoutMs as number;
    // Capped here, before anything waits or starts: a client asking for ten minutes gets the ceiling.
    const limits: ConfigLimits = {};
    for (const [k, v] of Object.entries(requested) as [ConfigLimitKey, number][]) limits[k] = Math.min(v, this.#ceilings[k]);
    const budget = Math.min(limits.timeoutMs ?? this.engine.config.limits.timeoutMs ?? (await this.#executorDefaultTimeout()), this.#ceilings.timeoutMs);
    const runtime = (args.runtime as string | undefined) ?? this.engine.config.runtime ?? 'quickjs';

    const ticket = await this.admission.acquire(ctx.admissionKey, budget, extra.signal, (running, queued) =>
      this.#emit({ session: ctx.label, tool: 'execute_code', durationMs: 0, outcome: 'waiting', waiting: { running, queued } }),
    );
    if (!ticket.ok) {
      report.queuedMs = ticket.waitedMs;
      return this.#refusal(ticket, runtime, { ...limits, timeoutMs: budget });
    }
    const queuedMs = Math.round(ticket.waitedMs);
    report.queuedMs = queuedMs;
    const progress = this.#progress(extra);
    let result: ExecuteResult;
    try {
      const traceContext = traceContextOf(extra._meta);
      result = await this.engine.execute(args.script as string, {
        ...(args.runtime !== undefined ? { runtime: args.runtime as string } : {}),
        ...(traceContext ? { traceContext } : {}),
        // The time spent queued is spent: the script gets what is left of its budget.
        limits: { ...limits, timeoutMs: Math.max(1, Math.floor(budget - ticket.waitedMs)) },
        ...(args.typecheck === true ? { typecheck: true } : {}),
        signal: extra.signal,
        principal: ctx.principal(),
        ...this.#liveOptions(extra, ctx, progress),
      });
    } catch (e) {
      // `execute()` throws only for misuse (an unknown runtime, a limit out of range) or when
      // the executor cannot be loaded at all: still an answer, with the reason.
      const message = e instanceof Error ? e.message : String(e);
      return errorResult(e instanceof TypeError ? 'INPUT_VALIDATION' : 'RUNTIME_UNAVAILABLE', message);
    } finally {
      ticket.release();
    }
    await progress?.settled();
    return this.#executionResult(result, queuedMs, budget, report);
  }

  /** Progress (tool calls and console lines), `onCall` events and live approval for one execution. */
  #liveOptions(extra: Extra, ctx: SessionContext, progress: Progress | undefined) {
    const onCall = this.#options.onCall;
    let count = 0;
    const approve = this.#options.elicitation !== false && !this.#taskExtras.has(extra) && supportsElicitation(ctx.server) ? elicitationApprover(ctx.server, extra.requestId, (e) => this.#options.onError?.(e)) : undefined;
    return {
      ...(approve ? { onApproval: approve } : {}),
      ...(progress ? { onLog: (l: { level: string; message: string }) => progress.send(++count, `${l.level === 'log' ? 'console' : `console.${l.level}`}: ${l.message}`) } : {}),
      ...(progress || onCall
        ? {
            onToolCall: (call: ToolCallRecord) => {
              progress?.send(++count, `${cut(call.toolId, 200)} ${call.ok ? 'ok' : `failed${call.error ? `: ${call.error.code}` : ''}`}`);
              if (onCall) {
                this.#emit({
                  session: ctx.label,
                  tool: cut(call.toolId, 200),
                  parent: 'execute_code',
                  durationMs: call.durationMs,
                  outcome: call.ok ? 'ok' : (call.error?.code ?? 'ERROR'),
                  ...this.#argsFor(call.args),
                });
              }
            },
          }
        : {}),
    };
  }

  /** An execution's result as a tool result: its text for the model, the whole result as structured content. */
  #executionResult(result: ExecuteResult, queuedMs: number, budget: number, report: { toolCalls?: number }): CallToolResult {
    report.toolCalls = result.toolCalls.length;
    // Reported against the caller's budget, with the wait that came out of it.
    // The wait the caller's budget paid for: the server's own queue (its running cap matches the
    // runtime's pool, so a script admitted here waits in the runtime only for a cold start).
    result.stats = { ...result.stats, queuedMs } as ExecuteResult['stats'];
    result.limits = { ...result.limits, timeoutMs: budget };
    if (result.error?.code === 'TIMEOUT' && queuedMs > 0) {
      result.error = { ...result.error, message: `${result.error.message} (timeoutMs ${budget} ms, of which ${queuedMs} ms were spent waiting for a sandbox)` };
    }
    // The executor's result is plain data already (built from parsed JSON): no deep copy.
    const structured = result as unknown as Record<string, unknown>;
    const text = result.ok
      ? safeJson(result.value ?? null)
      : result.status === 'suspended'
        ? suspendedText(result)
        : `${result.error?.code ?? 'RUNTIME_ERROR'}: ${result.error?.message ?? 'the script failed'}${result.error?.line !== undefined && !result.error.diagnostics ? ` (line ${result.error.line}${result.error.column !== undefined ? `, column ${result.error.column}` : ''})` : ''}`;
    const logs = result.logs.length > 0 ? [{ type: 'text' as const, text: `logs:\n${result.logs.map((l) => `[${l.level}] ${l.message}`).join('\n')}` }] : [];
    // A suspension is not a failure: the script is fine and waits for the user.
    return { ...(result.ok || result.status === 'suspended' ? {} : { isError: true }), content: [{ type: 'text', text }, ...logs], structuredContent: structured };
  }

  // ------------------------------------------------------------ durable executions

  /** The store, or the reason it cannot be reached as an error result. */
  async #store(): Promise<{ store: Awaited<ReturnType<Engine['store']>> } | { error: CallToolResult }> {
    try {
      return { store: await this.engine.store() };
    } catch (e) {
      return { error: errorResult('STORE_ERROR', `The execution store is not available: ${(e as Error)?.message ?? String(e)}`) };
    }
  }

  async #resumeExecution(args: Record<string, unknown>, extra: Extra, ctx: SessionContext, report: { queuedMs?: number; toolCalls?: number }): Promise<CallToolResult> {
    const executionId = args.executionId as string;
    const principal = ctx.principal();
    const opened = await this.#store();
    if ('error' in opened) return opened.error;
    const store = opened.store;
    let record = await store.get(executionId, principal).catch(() => undefined);
    if (!record) return errorResult('NOT_FOUND', `No execution ${JSON.stringify(cut(executionId, 64))} (it may have expired); list_executions shows yours`);
    if ((record.status === 'completed' || record.status === 'failed') && record.result) {
      return this.#executionResult(record.result as unknown as ExecuteResult, 0, (record.result as unknown as ExecuteResult).limits?.timeoutMs ?? 0, report);
    }
    if (record.status === 'running' && record.lease && record.lease.expiresAt > Date.now()) {
      return errorResult('RUNNING', `Execution ${executionId} is running right now (another request or server holds it); wait for its result, or call get_execution later`);
    }
    if (record.status === 'suspended' && record.pending.some((p) => !p.decision)) {
      // The model cannot decide: ask the user when the client can, else say what waits.
      if (this.#options.elicitation !== false && !this.#taskExtras.has(extra) && supportsElicitation(ctx.server)) {
        const undecided = record.pending.filter((p) => !p.decision).map((p) => ({ callId: p.callId, toolId: p.toolId, args: p.args as never, ...(typeof p.title === 'string' ? { title: p.title } : {}) }));
        const ac = new AbortController();
        const onAbort = () => ac.abort();
        extra.signal.addEventListener('abort', onAbort, { once: true });
        const timer = setTimeout(() => ac.abort(), this.engine.config.approvalTimeoutMs ?? 300_000);
        try {
          const decisions = await elicitationApprover(ctx.server, extra.requestId, (e) => this.#options.onError?.(e))(undecided, { executionId, principal, signal: ac.signal });
          const list = [...(decisions?.approve ?? []).map((callId) => ({ callId: callId as string, action: 'approve' as const, by: 'user (elicitation)' })), ...(decisions?.deny ?? []).map((d) => ({ callId: (d as { callId: string }).callId, action: 'deny' as const, by: 'user (elicitation)', ...((d as { reason?: string }).reason ? { reason: (d as { reason: string }).reason } : {}) }))];
          if (list.length > 0) await store.decide(executionId, principal, list).catch(() => undefined);
        } finally {
          clearTimeout(timer);
          extra.signal.removeEventListener('abort', onAbort);
        }
        record = (await store.get(executionId, principal).catch(() => undefined)) ?? record;
      }
      if (record.pending.some((p) => !p.decision)) {
        const structured = plain({ ok: false, status: 'suspended', executionId, pending: executionView(record).pending, error: { code: 'UNDECIDED', message: 'the user has not decided the pending calls yet' } });
        return { content: [{ type: 'text', text: undecidedText(executionId, record.pending) }], structuredContent: structured };
      }
    }
    const budget = this.#ceilings.timeoutMs;
    const ticket = await this.admission.acquire(ctx.admissionKey, budget, extra.signal, (running, queued) =>
      this.#emit({ session: ctx.label, tool: 'resume_execution', durationMs: 0, outcome: 'waiting', waiting: { running, queued } }),
    );
    const runtime = String((record.options as { runtime?: unknown }).runtime ?? 'quickjs');
    if (!ticket.ok) {
      report.queuedMs = ticket.waitedMs;
      return this.#refusal(ticket, runtime, { timeoutMs: budget });
    }
    const progress = this.#progress(extra);
    let result: ExecuteResult;
    try {
      result = await this.engine.resume(executionId, undefined, { principal, requireDecisions: true, signal: extra.signal, ...this.#liveOptions(extra, ctx, progress) });
    } catch (e) {
      if (e instanceof StoreError) {
        if (e.code === 'NOT_FOUND') return errorResult('NOT_FOUND', `No execution ${JSON.stringify(cut(executionId, 64))}`);
        if (e.code === 'UNDECIDED') return errorResult('UNDECIDED', e.message);
        if (e.code === 'LEASE_HELD') return errorResult('RUNNING', `Execution ${executionId} is running elsewhere; try again later`);
        return errorResult('STORE_ERROR', e.message);
      }
      return errorResult(e instanceof TypeError ? 'INPUT_VALIDATION' : 'RUNTIME_UNAVAILABLE', e instanceof Error ? e.message : String(e));
    } finally {
      ticket.release();
    }
    await progress?.settled();
    return this.#executionResult(result, Math.round(ticket.waitedMs), result.limits?.timeoutMs ?? budget, report);
  }

  async #listExecutions(args: Record<string, unknown>, ctx: SessionContext): Promise<CallToolResult> {
    const opened = await this.#store();
    if ('error' in opened) return opened.error;
    try {
      const page = await opened.store.list(ctx.principal(), {
        ...(args.status !== undefined ? { status: args.status as ExecutionStatus } : {}),
        ...(args.cursor !== undefined ? { cursor: args.cursor as string } : {}),
        limit: 50,
      });
      const executions = page.executions.map((e) => ({
        executionId: e.executionId,
        status: e.status,
        createdAt: e.createdAt,
        updatedAt: e.updatedAt,
        expiresAt: e.expiresAt,
        pending: e.pending.map((p) => ({ callId: p.callId, toolId: p.toolId, decided: p.decision ? p.decision.action : null })),
      }));
      return this.#structured({ executions, ...(page.nextCursor ? { nextCursor: page.nextCursor } : {}) });
    } catch (e) {
      return errorResult(StoreError.is(e, 'INVALID_ARGUMENT') ? 'INPUT_VALIDATION' : 'STORE_ERROR', (e as Error).message);
    }
  }

  async #getExecution(args: Record<string, unknown>, ctx: SessionContext): Promise<CallToolResult> {
    const executionId = args.executionId as string;
    const opened = await this.#store();
    if ('error' in opened) return opened.error;
    const record = await opened.store.get(executionId, ctx.principal()).catch(() => undefined);
    if (!record) return errorResult('NOT_FOUND', `No execution ${JSON.stringify(cut(executionId, 64))} (it may have expired); list_executions shows yours`);
    return this.#structured(executionView(record));
  }

  /** An execution that never started, shaped like every other `execute_code` result. */
  #refusal(refusal: AdmissionRefusal, runtime: string, limits: ConfigLimits): CallToolResult {
    const structured = {
      ok: false,
      error: { code: refusal.code, message: refusal.message, ...(refusal.limit ? { limit: refusal.limit } : {}), ...(refusal.code === 'SERVER_BUSY' ? { retryable: true } : {}) },
      logs: [],
      toolCalls: [],
      stats: { runtime, durationMs: 0, toolCalls: 0, outputBytes: 0, queuedMs: refusal.waitedMs },
      limits,
    };
    return { isError: true, content: [{ type: 'text', text: `${refusal.code}: ${refusal.message}` }], structuredContent: structured };
  }
}

/**
 * The trace context a client sent in the request's `_meta` (MCP SEP-414: W3C `traceparent`,
 * `tracestate`, `baggage`), read by the registered propagator, which checks their format; the
 * call's spans then continue the client's trace. Undefined when there is none.
 */
function traceContextOf(meta: Record<string, unknown> | undefined): Context | undefined {
  if (!meta || typeof meta.traceparent !== 'string') return undefined;
  const carrier: Record<string, string> = {};
  for (const key of ['traceparent', 'tracestate', 'baggage']) if (typeof meta[key] === 'string') carrier[key] = meta[key] as string;
  return propagation.extract(context.active(), carrier);
}
