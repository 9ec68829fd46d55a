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
import type { ExecuteResult, ToolCallRecord } from '../code/types.js';
import type { McpServersHandle, McpWarning } from '../backends/mcp/hub.js';
import { serverRedactor } from '../backends/mcp/config.js';
import { Redactor } from '../model/redact.js';
import type { Middleware } from '../run/types.js';
import { loadToolModules } from './tool-modules.js';
import type { ConfigLimits, ConfigRuntime, ToolexecConfig } from '../config/load-config.js';
import { PolicyIndex, ToolPolicy, policyMiddleware } from './policy.js';

/** One tool call as reported to `onToolCall` (the ledger entry, without its start time). */
export type ExecuteToolCall = Omit<ToolCallRecord, 'startedAt'>;

/** Per-execution options the engine passes on to the executor. */
export interface EngineExecuteOptions {
  /** `quickjs`, `isolated-vm` or `docker`; default: the config's `runtime`, else `quickjs`. */
  runtime?: string;
  /** Lower limits for this call; values above the config's limits are capped to them. */
  limits?: ConfigLimits;
  signal?: AbortSignal;
  /** Called after every tool call the script makes, with how many it made so far (for progress). */
  onToolCall?: (call: ExecuteToolCall, count: number) => void;
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
const RUNTIME_LOADER_MODULE = '../runtime/load.js';

/** What the engine needs of a runtime: a disposable pool shared by its executions. */
interface RuntimeHandle {
  readonly name: string;
  dispose(): Promise<void>;
}

/** The runner subset an executor calls (the executor's `ExecutorRunner`). */
interface ExecutorRunnerLike {
  run(toolId: string, args: Record<string, unknown>, options: { signal?: AbortSignal; timeoutMs?: number }): Promise<unknown>;
  readonly index: ToolIndex;
}

interface ExecutorInstance {
  execute(script: string, options?: Record<string, unknown>): Promise<ExecuteResult>;
  dispose(): Promise<void>;
}

interface ExecutorModule {
  Executor: new (options: { runner: ExecutorRunnerLike; runtime: string | RuntimeHandle; limits?: Record<string, unknown>; maxLimits?: Record<string, unknown> }) => ExecutorInstance;
}
interface TypegenModule {
  generateTypes(index: ToolIndex, filter?: unknown): string | Promise<string>;
}
interface RuntimeLoaderModule {
  loadRuntime(name: string, options?: Record<string, unknown>): Promise<RuntimeHandle>;
  RUNTIME_NAMES: readonly string[];
}

async function importLazy<T>(specifier: string): Promise<T> {
  return (await import(specifier)) as T;
}

/** Debounce for index change bursts (an MCP refresh registers many tools at once). */
const CHANGE_DEBOUNCE_MS = 25;

/**
 * Builds the engine a config describes: tool modules registered, MCP servers connected and
 * imported (unreachable ones reported through `onWarning` unless `onServerError: 'throw'`).
 */
export async function createEngine(config: ToolexecConfig, options: CreateEngineOptions = {}): Promise<Engine> {
  const policy = new ToolPolicy({ allow: config.allow, deny: config.deny });
  const redactor = serverRedactor(config.mcpServers);
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
  if (!policy.open || !redactor.empty) {
    // Middleware covers run and runChain; a stream does not pass through middleware, and a
    // hidden tool would still resolve through its backend, so streams are checked here.
    const stream = runner.runStream.bind(runner);
    runner.runStream = async function* (toolId, args, streamOptions) {
      if (typeof toolId === 'string' && !policy.allows(toolId)) {
        yield { kind: 'error', toolId, data: policy.refusal(toolId, 'stream') };
        return;
      }
      for await (const event of stream(toolId, args, streamOptions)) {
        yield event.kind === 'error' ? { ...event, data: redactor.redactError(event.data) } : redactor.redactValue(event);
      }
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
  // One warm runtime pool per runtime name, shared by every execution.
  const runtimes = new Map<string, Promise<RuntimeHandle>>();
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

  const runtimeFor = (name: string): Promise<RuntimeHandle> => {
    let p = runtimes.get(name);
    if (!p) {
      p = importLazy<RuntimeLoaderModule>(RUNTIME_LOADER_MODULE).then((m) => m.loadRuntime(name));
      runtimes.set(name, p);
      // A runtime that failed to load is retried next time (it may have been installed since).
      p.catch(() => runtimes.delete(name));
    }
    return p;
  };

  const execute = async (script: string, opts: EngineExecuteOptions = {}): Promise<ExecuteResult> => {
    if (closed) throw new Error('The engine has been closed');
    const { Executor } = await importLazy<ExecutorModule>(EXECUTOR_MODULE);
    const name = opts.runtime ?? config.runtime ?? options.defaultRuntime ?? 'quickjs';
    const { RUNTIME_NAMES } = await importLazy<RuntimeLoaderModule>(RUNTIME_LOADER_MODULE);
    if (!RUNTIME_NAMES.includes(name)) throw new TypeError(`Unknown runtime ${JSON.stringify(name)}; known runtimes: ${RUNTIME_NAMES.join(', ')}`);
    // An executor per execution is cheap (the runtime pool is shared) and gives each script
    // its own view of the runner, so its tool calls can be reported to its caller alone.
    let count = 0;
    const onToolCall = opts.onToolCall;
    const toolTimeoutMs = config.toolTimeoutMs;
    // A script's call gets the config's per-call timeout, capped by the execution's remaining
    // time (which the executor passes as timeoutMs).
    const callOptions = (o: { signal?: AbortSignal; timeoutMs?: number }) =>
      toolTimeoutMs === undefined ? o : { ...o, timeoutMs: o.timeoutMs === undefined ? toolTimeoutMs : Math.min(o.timeoutMs, toolTimeoutMs) };
    const scoped: ExecutorRunnerLike = onToolCall
      ? {
          index,
          run: async (toolId, args, runOptions) => {
            const t0 = performance.now();
            try {
              const result = await runner.run(toolId, args, callOptions(runOptions));
              safeCall(() => onToolCall({ toolId, args, ok: true, durationMs: performance.now() - t0 }, ++count));
              return result;
            } catch (e) {
              const err = e as { code?: string; message?: string };
              safeCall(() =>
                onToolCall({ toolId, args, ok: false, durationMs: performance.now() - t0, error: { code: String(err?.code ?? 'EXECUTION'), message: String(err?.message ?? e) } }, ++count),
              );
              throw e;
            }
          },
        }
      : toolTimeoutMs === undefined
        ? runner
        : { index, run: (toolId, args, runOptions) => runner.run(toolId, args, callOptions(runOptions)) };
    let runtime: RuntimeHandle | string;
    try {
      runtime = await runtimeFor(name);
    } catch {
      // The executor reports an unavailable runtime as a RUNTIME_UNAVAILABLE result with the
      // install hint; let it, by handing it the name.
      runtime = name;
    }
    const ceilings: Record<string, unknown> = { ...config.limits };
    const defaults: Record<string, unknown> = { ...config.limits };
    if (policy.allow.length > 0) defaults.allowedTools = [...policy.allow];
    const executor = new Executor({ runner: scoped, runtime, limits: defaults, maxLimits: ceilings });
    try {
      return await executor.execute(script, { ...(opts.limits ?? {}), ...(opts.signal ? { signal: opts.signal } : {}) });
    } finally {
      await executor.dispose();
    }
  };

  const close = async (): Promise<void> => {
    if (closed) return;
    closed = true;
    clearTimeout(timer);
    offIndex();
    listeners.clear();
    const pools = await Promise.all([...runtimes.values()].map((p) => p.catch(() => undefined)));
    runtimes.clear();
    await Promise.allSettled([...pools.map((r) => r?.dispose()), mcp?.close()]);
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
    async generateTypes(filter) {
      const { generateTypes } = await importLazy<TypegenModule>(TYPEGEN_MODULE);
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

/** Runner middleware keeping secrets out of every result and error. */
function redactionMiddleware(redactor: Redactor): Middleware {
  return (_call, next) =>
    next().then(
      (result) => redactor.redactValue(result),
      (e: unknown) => Promise.reject(redactor.redactError(e)),
    );
}

function safeCall(fn: () => void): void {
  try {
    fn();
  } catch {
    // a progress listener's failure must not fail the script's tool call
  }
}
