/**
 * The engine a config describes: an index, a runner with the config's allow/deny policy,
 * the tool modules, the upstream MCP servers and (on first use) the code executor, behind
 * one `close()`. `toolexec serve`, `toolexec tools`, `toolexec types`, `toolexec run` and
 * `toolexec exec` all build on it.
 *
 * The executor and its runtimes load lazily: building an engine for discovery or a single
 * tool call must not start a sandbox or load a native engine.
 */
import { InMemoryIndex } from '../index/in-memory-index.js';
import type { IndexChange, ToolIndex } from '../index/types.js';
import { Runner } from '../run/runner.js';
import type { Executor } from '../code/executor.js';
import type { ApprovalDecisions, ApprovalHandler, ExecuteLimits, ExecuteOptions, ExecuteResult, ExecutorRunner, LogEntry, ResumeOptions } from '../code/types.js';
import type { ExecutionStore } from '../store/types.js';
import { openConfiguredStore, type StoreKind } from './store.js';
import type { McpServersHandle, McpWarning } from '../backends/mcp/hub.js';
import { serverRedactor } from '../backends/mcp/config.js';
import { Redactor } from '../model/redact.js';
import { resolveEgressPolicy } from '../code/egress-policy.js';
import type { Middleware } from '../run/types.js';
import { loadToolModules } from './tool-modules.js';
import type { ConfigRuntime, ToolexecConfig } from '../config/load-config.js';
import type { RuntimeName } from '../runtime/types.js';
import { PolicyIndex, ToolPolicy, policyMiddleware } from './policy.js';

/** Per-execution options the engine passes on to the executor. */
export interface EngineExecuteOptions {
  /** `quickjs`, `isolated-vm` or `docker`; default: the config's `runtime`, else `quickjs`. */
  runtime?: string;
  /**
   * Lower limits for this call; values above the config's limits are capped to them, and an
   * `allowedTools` list narrows what the script may call among the exposed tools.
   */
  limits?: Partial<ExecuteLimits>;
  signal?: AbortSignal;
  /** Called as each of the script's tool calls ends, with how many have ended so far (for progress). */
  onToolCall?: ExecuteOptions['onToolCall'];
  /** Type-check the script against the declarations of the tools it may call first (`TYPE_ERROR` before any tool runs). */
  typecheck?: boolean;
  /** The OpenTelemetry context the execution's span is a child of (see `ExecuteOptions.traceContext`). */
  traceContext?: ExecuteOptions['traceContext'];
  /** Run durably even without an approval policy (see `ExecuteOptions.durable`). */
  durable?: boolean;
  /** More tool ID patterns whose calls need approval in this execution (added to the config's `approve`). */
  approve?: string[];
  /** Who starts the execution; only this principal can read, approve or resume it. Default `local`. */
  principal?: string;
  /** Decides calls that need approval while the script waits (a prompt, an MCP elicitation). */
  onApproval?: ApprovalHandler;
  /** Lower than the config's `approvalTimeoutMs` for this execution. */
  approvalTimeoutMs?: number;
  /** Each console line as it arrives. */
  onLog?: (entry: LogEntry) => void;
}

export interface CreateEngineOptions {
  /** Extra tool modules (e.g. `--tools` flags), resolved against `cwd`. */
  tools?: readonly string[];
  cwd?: string;
  /** Connect to the config's MCP servers (default true). */
  connect?: boolean;
  /**
   * `skip` (default): an upstream server that cannot be reached is reported through
   * `onWarning` and the others go on. `throw`: it fails the whole engine.
   */
  onServerError?: 'skip' | 'throw';
  /** Non-fatal problems: unreachable servers, skipped tools, failed refreshes. */
  onWarning?: (message: string) => void;
  /** Runtime used when neither a call nor the config names one. */
  defaultRuntime?: ConfigRuntime;
  /**
   * The execution store when the config names none: `memory` (the default here, the library's)
   * or `sqlite` (one file under the user's data directory: the CLI's and the server's default).
   */
  defaultStore?: StoreKind;
  /** A store to use instead of the config's (the engine does not close it). */
  store?: ExecutionStore;
  /** Where the user's data directory is looked up (`XDG_DATA_HOME`, `HOME`). Default `process.env`. */
  env?: Record<string, string | undefined>;
}

/** How one enabled MCP server fared when the engine started. */
export interface EngineServerStatus {
  server: string;
  ok: boolean;
  /** Tool IDs imported from it. */
  tools: string[];
  /** Why it is unavailable (redacted), when `ok` is false. */
  error?: string;
}

/** What the engine started with: per-server outcomes and tool counts. */
export interface EngineStartup {
  /** Enabled MCP servers, in config order (empty when none were connected). */
  servers: EngineServerStatus[];
  /** Tools registered from tool modules. */
  moduleTools: number;
  /** Every registered tool, exposed or not. */
  registered: number;
  /** Tools the policy exposes. */
  exposed: number;
}

/** A running engine; close it to stop the MCP servers and sandboxes. */
export interface Engine extends AsyncDisposable {
  readonly config: ToolexecConfig;
  /**
   * Knows the values that came from the environment (`${VAR}` in the config): everything the
   * engine reports is already redacted with it; use it for anything else that is printed.
   */
  readonly redactor: Redactor;
  /** Per-server outcomes and tool counts at start-up. */
  readonly startup: EngineStartup;
  readonly policy: ToolPolicy;
  /** Every registered tool, exposed or not. */
  readonly baseIndex: ToolIndex;
  /** What callers see: the exposed tools only. */
  readonly index: ToolIndex;
  readonly runner: Runner;
  readonly mcp: McpServersHandle | undefined;
  /** Warnings collected while starting (unreachable servers and the like). */
  readonly warnings: string[];
  /** Runs a script with the config's runtime and limits (per-call options may lower them). */
  execute(script: string, options?: EngineExecuteOptions): Promise<ExecuteResult>;
  /**
   * Continues a durable execution (see `Executor.resume`) on the runtime it started on; throws a
   * `StoreError` (`NOT_FOUND`, `LEASE_HELD`, `UNDECIDED`, ...) when there is nothing to resume.
   */
  resume(executionId: string, decisions?: ApprovalDecisions, options?: ResumeOptions): Promise<ExecuteResult>;
  /** The store durable executions live in (opened on first use: the config's `store`, else the engine's default). */
  store(): Promise<ExecutionStore>;
  /**
   * The executor of a runtime (default: the config's, else `quickjs`), made on first use and
   * kept until `close()`: every `execute()` on that runtime goes through it. Call `warm()` on
   * it to start the runtime's sandboxes ahead of the first script.
   */
  executor(runtime?: string): Promise<Executor>;
  /** TypeScript declarations of the exposed tools (all, or those matching `filter`). */
  generateTypes(filter?: string | string[]): Promise<string>;
  /** Called (debounced) after the exposed tool set changed. Returns the unsubscribe function. */
  onToolsChanged(listener: () => void): () => void;
  close(): Promise<void>;
}

// Loaded through variables so that discovery and single tool calls never load the executor
// or a sandbox engine, and a build whose executor cannot load still serves everything else:
// the error surfaces only when code execution is asked for.
const EXECUTOR_MODULE = '../code/executor.js';
const TYPEGEN_MODULE = '../code/typegen.js';

/** Debounce for index change bursts (an MCP refresh registers many tools at once). */
const CHANGE_DEBOUNCE_MS = 25;

/**
 * Builds the engine a config describes: tool modules registered, MCP servers connected and
 * imported (unreachable ones reported through `onWarning` unless `onServerError: 'throw'`).
 */
export async function createEngine(config: ToolexecConfig, options: CreateEngineOptions = {}): Promise<Engine> {
  const policy = new ToolPolicy({ allow: config.allow, deny: config.deny });
  // Secrets from the servers' entries and the egress credentials: everything the engine reports is redacted with both.
  const redactor = Redactor.merge(serverRedactor(config.mcpServers), egressRedactor(config));
  const baseIndex = new InMemoryIndex();
  const index: ToolIndex = policy.open ? baseIndex : new PolicyIndex(baseIndex, policy);
  const middleware: Middleware[] = [];
  // Outermost: whatever any backend (a local tool reading the environment included) answers.
  if (!redactor.empty) middleware.push(redactionMiddleware(redactor));
  if (!policy.open) middleware.push(policyMiddleware(policy));
  const runner = new Runner({
    index,
    ...(config.toolTimeoutMs !== undefined ? { defaultTimeoutMs: config.toolTimeoutMs } : {}),
    ...(middleware.length > 0 ? { middleware } : {}),
  });
  if (!redactor.empty) {
    // A stream's end passes through the middleware; its progress and chunks do not.
    const stream = runner.runStream.bind(runner);
    runner.runStream = async function* (toolId, args, streamOptions) {
      for await (const event of stream(toolId, args, streamOptions)) yield event.kind === 'progress' || event.kind === 'chunk' ? redactor.redactValue(event) : event;
    };
  }
  const warnings: string[] = [];
  const warn = (message: string) => {
    const shown = redactor.redact(message);
    warnings.push(shown);
    options.onWarning?.(shown);
  };
  let moduleTools = 0;
  let servers: EngineServerStatus[] = [];
  let mcp: McpServersHandle | undefined;
  // One executor per runtime name, kept for the engine's life: it owns that runtime's warm
  // pool and its tool-ID aliases, and every execution on the runtime shares them.
  const executors = new Map<string, Executor>();
  const listeners = new Set<() => void>();
  let timer: NodeJS.Timeout | undefined;
  let closed = false;

  try {
    const enabled = config.mcpServers.filter((s) => !s.disabled);
    const reservedNamespaces = new Map(enabled.map((s) => [s.namespace, `mcpServers.${s.name}`]));
    // The config's modules are already absolute (relative to the file); --tools are relative to the working directory.
    moduleTools = (await loadToolModules([...config.tools, ...(options.tools ?? [])], runner, { cwd: options.cwd ?? process.cwd(), reservedNamespaces })).length;
    if (options.connect !== false && enabled.length > 0) {
      const { connectMcpServers } = await import('../backends/mcp/hub.js');
      mcp = await connectMcpServers(config.mcpServers, {
        index: baseIndex,
        runner,
        onServerError: options.onServerError ?? 'skip',
        onWarning: (w: McpWarning) => warn(w.message),
        ...(config.file !== undefined ? { configFile: config.file } : {}),
        ...(redactor.empty ? {} : { redactor }),
      });
      servers = mcp.imports.map((imp) => ({
        server: imp.server,
        ok: !imp.error,
        tools: [...imp.tools],
        ...(imp.error ? { error: redactor.redact(imp.error.message) } : {}),
      }));
      for (const imp of mcp.imports) {
        if (imp.error) warn(`MCP server "${imp.server}" is unavailable: ${imp.error.message.split('\n')[0]}`);
      }
    }
  } catch (e) {
    await mcp?.close().catch(() => {});
    await runner.dispose().catch(() => {});
    throw redactor.redactError(e);
  }

  const offIndex = index.onChange((_change: IndexChange) => {
    if (closed || listeners.size === 0) return;
    clearTimeout(timer);
    timer = setTimeout(() => {
      for (const l of listeners) l();
    }, CHANGE_DEBOUNCE_MS);
    timer.unref?.();
  });

  // The config's limits are both the defaults and the ceilings of every execution. The
  // allow/deny policy is not an `allowedTools` list: hidden tools are refused by the runner's
  // policy middleware, as TOOL_NOT_FOUND on every path (see ToolPolicy.refusal).
  const limits: Partial<ExecuteLimits> = { ...config.limits };
  const defaultRuntime = config.runtime ?? options.defaultRuntime ?? 'quickjs';
  // A script's call gets the config's per-call timeout, capped by what is left of the
  // execution's time (the executor passes that as timeoutMs).
  const toolTimeoutMs = config.toolTimeoutMs;
  const scriptRunner: ExecutorRunner =
    toolTimeoutMs === undefined
      ? runner
      : { index, run: (toolId, args, o) => runner.run(toolId, args, { ...o, timeoutMs: o.timeoutMs === undefined ? toolTimeoutMs : Math.min(o.timeoutMs, toolTimeoutMs) }) };
  // The execution store opens on first need: a durable execution, a resume, a listing.
  let storePromise: Promise<ExecutionStore> | undefined;
  let ownedStore: ExecutionStore | undefined;
  const store = (): Promise<ExecutionStore> => {
    if (closed) return Promise.reject(new Error('The engine has been closed'));
    if (options.store) return Promise.resolve(options.store);
    storePromise ??= openConfiguredStore(config.store, options.defaultStore ?? 'memory', options.env ?? process.env, warn).then((st) => (ownedStore = st));
    // A store that failed to open is retried on the next call (redis-server may be up by then).
    storePromise.catch(() => (storePromise = undefined));
    return storePromise;
  };
  const executorFor = async (name: string): Promise<Executor> => {
    const existing = executors.get(name);
    if (existing) return existing;
    const { Executor } = (await import(EXECUTOR_MODULE)) as typeof import('../code/executor.js');
    // Another execution may have made it while the module loaded.
    const raced = executors.get(name);
    if (raced) return raced;
    if (closed) throw new Error('The engine has been closed');
    // The executor checks the name: an unknown one is a TypeError naming the known runtimes,
    // and nothing is kept.
    // The config's `docker` section (engines, image, pool sizes) is the Docker runtime's options.
    const runtimeOptions = name === 'docker' && config.docker ? { runtimeOptions: { ...config.docker } as Record<string, unknown> } : {};
    const executor = new Executor({
      runner: scriptRunner,
      runtime: name as RuntimeName,
      limits,
      maxLimits: limits,
      store,
      ...runtimeOptions,
      ...(config.egress ? { egress: config.egress } : {}),
      ...(config.approve.length > 0 ? { approve: config.approve } : {}),
      ...(config.approveDestructive ? { approveDestructive: true } : {}),
      ...(config.approvalTimeoutMs !== undefined ? { approvalTimeoutMs: config.approvalTimeoutMs } : {}),
      ...(config.store?.executionTtlMs !== undefined ? { executionTtlMs: config.store.executionTtlMs } : {}),
      ...(config.store?.maxJournalBytes !== undefined ? { maxJournalBytes: config.store.maxJournalBytes } : {}),
      ...(config.store?.leaseMs !== undefined ? { leaseMs: config.store.leaseMs } : {}),
    });
    executors.set(name, executor);
    return executor;
  };

  const execute = async (script: string, opts: EngineExecuteOptions = {}): Promise<ExecuteResult> => {
    if (closed) throw new Error('The engine has been closed');
    const executor = await executorFor(opts.runtime ?? defaultRuntime);
    // A runtime that cannot load is a RUNTIME_UNAVAILABLE result with the install hint, and
    // the executor retries the load on its next execution (it may have been installed since).
    return executor.execute(script, {
      ...(opts.limits ?? {}),
      ...(opts.signal ? { signal: opts.signal } : {}),
      ...(opts.onToolCall ? { onToolCall: opts.onToolCall } : {}),
      ...(opts.typecheck ? { typecheck: true } : {}),
      ...(opts.traceContext ? { traceContext: opts.traceContext } : {}),
      ...(opts.durable ? { durable: true } : {}),
      ...(opts.approve && opts.approve.length > 0 ? { approve: opts.approve } : {}),
      ...(opts.principal !== undefined ? { principal: opts.principal } : {}),
      ...(opts.onApproval ? { onApproval: opts.onApproval } : {}),
      ...(opts.approvalTimeoutMs !== undefined ? { approvalTimeoutMs: opts.approvalTimeoutMs } : {}),
      ...(opts.onLog ? { onLog: opts.onLog } : {}),
    });
  };

  const resume = async (executionId: string, decisions?: ApprovalDecisions, opts: ResumeOptions = {}): Promise<ExecuteResult> => {
    if (closed) throw new Error('The engine has been closed');
    const st = await store();
    const record = typeof executionId === 'string' ? await st.get(executionId, opts.principal ?? 'local') : undefined;
    const runtime = (record?.options as { runtime?: unknown } | undefined)?.runtime;
    // Unknown IDs go to the default runtime's executor, which answers NOT_FOUND like the store.
    const executor = await executorFor(typeof runtime === 'string' ? runtime : defaultRuntime);
    return executor.resume(executionId, decisions, opts);
  };

  const close = async (): Promise<void> => {
    if (closed) return;
    closed = true;
    clearTimeout(timer);
    offIndex();
    listeners.clear();
    const owned = [...executors.values()];
    executors.clear();
    await Promise.allSettled([...owned.map((e) => e.dispose()), mcp?.close()]);
    await ownedStore?.close().catch(() => {});
    await runner.dispose().catch(() => {});
  };

  return {
    config,
    redactor,
    get startup(): EngineStartup {
      return { servers: servers.map((x) => ({ ...x, tools: [...x.tools] })), moduleTools, registered: baseIndex.size, exposed: index.size };
    },
    policy,
    baseIndex,
    index,
    runner,
    mcp,
    warnings,
    execute,
    resume,
    store,
    executor(runtime) {
      if (closed) return Promise.reject(new Error('The engine has been closed'));
      return executorFor(runtime ?? defaultRuntime);
    },
    async generateTypes(filter) {
      const { generateTypes } = (await import(TYPEGEN_MODULE)) as typeof import('../code/typegen.js');
      return generateTypes(index, filter);
    },
    onToolsChanged(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    close,
    [Symbol.asyncDispose]: close,
  };
}

/** The credentials of the config's egress section, redacted as the executor redacts them. */
function egressRedactor(config: ToolexecConfig): Redactor {
  return config.egress ? resolveEgressPolicy(config.egress).redactor : Redactor.none;
}

/** Runner middleware keeping secrets out of every result and error (streams included). */
function redactionMiddleware(redactor: Redactor): Middleware {
  return (_call, next) =>
    next().then(
      (result) => redactor.redactValue(result),
      (e: unknown) => Promise.reject(redactor.redactError(e)),
    );
}
