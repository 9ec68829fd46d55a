/**
 * The Runner: resolves a tool ID through the index (or straight to a backend that knows
 * it), checks arguments against the input schema, dispatches under a timeout and an
 * AbortSignal, checks structured output against the output schema, and returns one
 * `RunResult` or throws one `ToolError`. Chains and streaming build on the same steps.
 */
import { SpanKind, SpanStatusCode, context, trace, type Context, type Meter, type Span, type Tracer } from '@opentelemetry/api';
import { DEFAULT_BACKEND_ORDER, type BackendDescriptor, type BackendKind } from '../model/backend.js';
import { ToolError, type ToolOp } from '../model/errors.js';
import { parseToolId, validateDefinition } from '../model/tool-id.js';
import type { Tool, ToolDefinition } from '../model/tool.js';
import type { CompiledValidator, SchemaValidator } from '../schema/types.js';
import { defaultValidator } from '../schema/validator.js';
import type { BackendSelector, ToolIndex } from '../index/types.js';
import { InMemoryIndex } from '../index/in-memory-index.js';
import { suggestionQuery } from '../index/query.js';
import type { Backend, BackendResult, CallContext } from '../backends/types.js';
import { LocalBackend, type LocalHandler } from '../backends/local.js';
import { ProviderBackend, type ToolProvider } from '../backends/provider.js';
import { resolveTemplates } from './templates.js';
import { ATTR, EXECUTE_TOOL, ToolCallMetrics, defaultMeter, defaultTracer, toolType } from './telemetry.js';
import type { CallEvent, ChainResult, ChainStep, Middleware, RunOptions, RunResult, StepResult, StreamEvent } from './types.js';
import { InFlightCalls, type InFlightCall } from './in-flight.js';

/** Default per-call timeout when neither the call nor the runner sets one. */
export const DEFAULT_TIMEOUT_MS = 60_000;
const MAX_TIMER_MS = 2 ** 31 - 1;
/** Did-you-mean: how many tools to name, and how many hits to filter them from. */
const SUGGESTIONS = 3;
const SUGGEST_POOL = 20;

export interface RunnerOptions {
  /** Where tools are looked up; a fresh `InMemoryIndex` by default. */
  index?: ToolIndex;
  /** Schema validation; the shared ajv-backed validator by default. */
  validator?: SchemaValidator;
  /** Backends to add besides the built-in local one. */
  backends?: Backend[];
  /** Check arguments against `inputSchema` (default true). */
  validateInput?: boolean;
  /** Check structured results against `outputSchema` (default true). */
  validateOutput?: boolean;
  /** Per-call timeout (default `DEFAULT_TIMEOUT_MS`). */
  defaultTimeoutMs?: number;
  /**
   * Chooses among the backends of a tool that this runner can reach. Default: the index's
   * choice when reachable, else the first reachable in local > provider > mcp > sandbox order.
   */
  selectBackend?: BackendSelector;
  /** Wrap every call (logging, tracing, policies). Outermost first. */
  middleware?: Middleware[];
  /**
   * OpenTelemetry tracer for the `execute_tool` span of every call (GenAI semantic conventions);
   * default: the global tracer provider's, a no-op until an SDK registers one.
   */
  tracer?: Tracer;
  /**
   * OpenTelemetry meter for `toolexec.tool_calls` and `gen_ai.execute_tool.duration`; default:
   * the global meter provider's at construction (register the SDK before making the runner).
   */
  meter?: Meter;
}

/** A tool definition with its local implementation, as tool modules export them. */
export interface LocalToolDefinition<A = any, R = unknown> extends ToolDefinition {
  handler: LocalHandler<A, R>;
}

/** Types a tool definition for tool modules; returns it unchanged. */
export function defineTool<A = any, R = unknown>(def: LocalToolDefinition<A, R>): LocalToolDefinition<A, R> {
  return def;
}

interface Resolved {
  id: string;
  tool: Tool | undefined;
  backend: Backend;
  descriptor: BackendDescriptor;
  /** `{ kind, name }` of the descriptor, shared between calls. */
  ref: { kind: BackendKind; name: string };
}

const refs = new WeakMap<BackendDescriptor, { kind: BackendKind; name: string }>();
function refOf(d: BackendDescriptor): { kind: BackendKind; name: string } {
  let r = refs.get(d);
  if (!r) refs.set(d, (r = Object.freeze({ kind: d.kind, name: d.name })));
  return r;
}

const EMPTY_OPTIONS: RunOptions = Object.freeze({});

/**
 * The context handed to backends. Its AbortController is made only when a backend reads
 * `signal`: creating and collecting one per call was most of the runner's overhead on fast
 * local tools. A class (not an object literal with a getter) so every context shares one
 * hidden class; literal getters cost about a microsecond per call here.
 */
class LazyCallContext implements CallContext {
  #controller: AbortController | undefined;
  #abortedWith: unknown;
  tool?: Tool;
  onProgress?: CallContext['onProgress'];
  /** The call's span and its parent context; the span's context is made only when a backend asks. */
  span: Span | undefined;
  parentContext: Context | undefined;
  constructor(
    readonly toolId: string,
    readonly descriptor: BackendDescriptor,
    readonly timeoutMs: number,
  ) {}

  get signal(): AbortSignal {
    if (this.#abortedWith !== undefined && !this.#controller) return AbortSignal.abort(this.#abortedWith);
    return (this.#controller ??= new AbortController()).signal;
  }

  abort(reason: unknown): void {
    this.#abortedWith = reason;
    this.#controller?.abort(reason);
  }

  get traceContext(): Context | undefined {
    return this.span === undefined ? undefined : trace.setSpan(this.parentContext ?? context.active(), this.span);
  }
}

const NO_ARGS: Record<string, unknown> = Object.freeze({}) as Record<string, unknown>;

function key(kind: string, name: string): string {
  return `${kind}\u0000${name}`;
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return false;
  const proto = Object.getPrototypeOf(v);
  return proto === Object.prototype || proto === null;
}

export class Runner implements AsyncDisposable {
  readonly index: ToolIndex;
  readonly validator: SchemaValidator;
  /** The built-in local backend: `runner.local.register(id, handler)`. */
  readonly local: LocalBackend;
  readonly #backends = new Map<string, Backend>();
  readonly #validateInput: boolean;
  readonly #validateOutput: boolean;
  readonly #defaultTimeoutMs: number;
  readonly #selectBackend: BackendSelector | undefined;
  readonly #middleware: Middleware[];
  readonly #tracer: Tracer;
  readonly #metrics: ToolCallMetrics;
  readonly #listeners = new Set<(event: CallEvent) => void>();
  readonly #inputCache = new WeakMap<Tool, CompiledValidator | null>();
  readonly #outputCache = new WeakMap<Tool, CompiledValidator | null>();
  readonly #fallbackDescriptors = new WeakMap<Backend, BackendDescriptor>();
  readonly #inFlight = new InFlightCalls();
  #disposed = false;

  constructor(options: RunnerOptions = {}) {
    this.index = options.index ?? new InMemoryIndex();
    this.validator = options.validator ?? defaultValidator;
    this.#validateInput = options.validateInput ?? true;
    this.#validateOutput = options.validateOutput ?? true;
    const t = options.defaultTimeoutMs ?? DEFAULT_TIMEOUT_MS;
    if (!(t > 0)) throw new TypeError(`defaultTimeoutMs must be a positive number of milliseconds, got ${t}`);
    this.#defaultTimeoutMs = t;
    this.#selectBackend = options.selectBackend;
    this.#middleware = [...(options.middleware ?? [])];
    this.#tracer = options.tracer ?? defaultTracer();
    this.#metrics = new ToolCallMetrics(options.meter ?? defaultMeter());
    this.local = new LocalBackend();
    this.use(this.local);
    for (const b of options.backends ?? []) this.use(b);
  }

  /** Adds a backend (replacing one of the same kind and name). */
  use(backend: Backend): this {
    this.#assertAlive();
    if (!backend || typeof backend.call !== 'function' || typeof backend.kind !== 'string' || typeof backend.name !== 'string') {
      throw new TypeError('A backend needs string `kind` and `name` and a `call(toolId, args, ctx)` method');
    }
    this.#backends.set(key(backend.kind, backend.name), backend);
    return this;
  }

  /** Removes a backend; its index entries stay (they fail with NO_BACKEND until it returns). */
  removeBackend(kind: BackendKind, name: string): boolean {
    return this.#backends.delete(key(kind, name));
  }

  /** The backend of that kind and name, if added. */
  backend(kind: BackendKind, name: string): Backend | undefined {
    return this.#backends.get(key(kind, name));
  }

  /** Adds a provider under `name`; register tools with `{ kind: 'provider', name }`. */
  addProvider(name: string, provider: ToolProvider): ProviderBackend {
    const backend = new ProviderBackend(name, provider);
    this.use(backend);
    return backend;
  }

  /**
   * Registers a tool definition with a local handler: the definition goes in the index
   * (schemas enforced) and the handler in the local backend.
   */
  register(def: LocalToolDefinition): Tool {
    const { handler, ...tool } = def;
    const id = validateDefinition(tool);
    this.local.register(id, handler);
    return this.index.register(tool, { kind: 'local', name: this.local.name }, { onConflict: 'merge', replaceDefinition: true });
  }

  /** Subscribes to call events (start and end of every call). Returns the unsubscribe function. */
  onCall(listener: (event: CallEvent) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Adds a middleware (innermost so far). */
  useMiddleware(middleware: Middleware): this {
    this.#middleware.push(middleware);
    return this;
  }

  // ---------------------------------------------------------------- resolution

  #resolve(toolId: string, op: ToolOp, visible?: (toolId: string) => boolean): Resolved {
    const entry = this.index.get(toolId);
    if (entry) {
      if (!this.#selectBackend) {
        const b = this.#backends.get(key(entry.backend.kind, entry.backend.name));
        if (b) return { id: toolId, tool: entry.tool, backend: b, descriptor: entry.backend, ref: refOf(entry.backend) };
      }
      const reachable = entry.backends.filter((d) => this.#backends.has(key(d.kind, d.name)));
      let chosen: BackendDescriptor | undefined;
      if (this.#selectBackend) chosen = reachable.length ? this.#selectBackend(reachable, entry.tool) : undefined;
      else chosen = [...reachable].sort((a, b) => DEFAULT_BACKEND_ORDER.indexOf(a.kind) - DEFAULT_BACKEND_ORDER.indexOf(b.kind))[0];
      if (!chosen) {
        const listed = entry.backends.map((d) => `${d.kind}:${d.name}`).join(', ');
        throw new ToolError('NO_BACKEND', `Tool ${toolId} has no reachable backend (registered: ${listed || 'none'}; none of them is connected to this runner)`, { toolId, op });
      }
      return { id: toolId, tool: entry.tool, backend: this.#backends.get(key(chosen.kind, chosen.name))!, descriptor: chosen, ref: refOf(chosen) };
    }
    // Resolver fallback: a backend that knows the ID runs it without an index entry. The
    // built-in local registry first, without parsing: its IDs were checked when registered.
    if (this.local.has(toolId)) return this.#fallback(toolId, this.local);
    parseToolId(toolId);
    for (const kind of DEFAULT_BACKEND_ORDER) {
      for (const backend of this.#backends.values()) {
        if (backend.kind === kind && backend.has?.(toolId)) return this.#fallback(toolId, backend);
      }
    }
    throw new ToolError('TOOL_NOT_FOUND', `Tool ${toolId} was not found${this.#suggest(toolId, visible)}`, { toolId, op });
  }

  /** A resolution without an index entry; one descriptor per backend, shared by its calls. */
  #fallback(toolId: string, backend: Backend): Resolved {
    let descriptor = this.#fallbackDescriptors.get(backend);
    if (!descriptor) {
      descriptor = { kind: backend.kind, name: backend.name } as BackendDescriptor;
      this.#fallbackDescriptors.set(backend, descriptor);
    }
    return { id: toolId, tool: undefined, backend, descriptor, ref: refOf(descriptor) };
  }

  /**
   * "; did you mean a, b?" for an unknown ID, naming only tools the caller may see; the
   * search is cut to the index's query bounds.
   */
  #suggest(toolId: string, visible?: (toolId: string) => boolean): string {
    try {
      let ids = this.index.search(suggestionQuery(toolId), { limit: visible ? SUGGEST_POOL : SUGGESTIONS }).items.map((h) => h.id);
      if (visible) ids = ids.filter((id) => visible(id)).slice(0, SUGGESTIONS);
      return ids.length ? `; did you mean ${ids.join(', ')}?` : '';
    } catch {
      return '';
    }
  }

  #compiled(cache: WeakMap<Tool, CompiledValidator | null>, tool: Tool, which: 'inputSchema' | 'outputSchema'): CompiledValidator | null {
    let v = cache.get(tool);
    if (v === undefined) {
      const schema = tool[which];
      try {
        v = schema === undefined ? null : this.validator.compile(schema);
      } catch (e) {
        throw new ToolError(which === 'inputSchema' ? 'INPUT_VALIDATION' : 'OUTPUT_VALIDATION', `Tool ${tool.id} has an unusable ${which}: ${(e as Error).message}`, { toolId: tool.id, cause: e });
      }
      cache.set(tool, v);
    }
    return v;
  }

  #checkArgs(r: Resolved, args: unknown, op: ToolOp, validate: boolean): Record<string, unknown> {
    if (args === undefined || args === null) args = NO_ARGS;
    if (!isPlainObject(args)) {
      throw new ToolError('INPUT_VALIDATION', `Arguments for ${r.id} must be a JSON object, got ${Array.isArray(args) ? 'an array' : typeof args}`, {
        toolId: r.id, op, backend: { kind: r.descriptor.kind, name: r.descriptor.name },
        issues: [{ path: '', keyword: 'type', message: 'must be object' }],
      });
    }
    if (validate && r.tool) {
      const check = this.#compiled(this.#inputCache, r.tool, 'inputSchema');
      if (check) {
        const res = check(args);
        if (!res.valid) {
          throw new ToolError('INPUT_VALIDATION', `Invalid arguments for ${r.id}: ${res.message}`, {
            toolId: r.id, op, backend: { kind: r.descriptor.kind, name: r.descriptor.name }, issues: res.issues,
          });
        }
      }
    }
    return args;
  }

  #checkOutput(r: Resolved, out: BackendResult, op: ToolOp): void {
    if (!this.#validateOutput || !r.tool || out.isStructured === false) return;
    const check = this.#compiled(this.#outputCache, r.tool, 'outputSchema');
    if (!check) return;
    const res = check(out.structured);
    if (!res.valid) {
      throw new ToolError('OUTPUT_VALIDATION', `Result of ${r.id} does not match its output schema: ${res.message}`, {
        toolId: r.id, op, backend: { kind: r.descriptor.kind, name: r.descriptor.name }, issues: res.issues,
      });
    }
  }

  // ---------------------------------------------------------------- run

  /** Runs one tool. Resolves with a `RunResult`, rejects with a `ToolError`. */
  run<T = unknown>(toolId: string, args?: Record<string, unknown>, options: RunOptions = EMPTY_OPTIONS): Promise<RunResult<T>> {
    if (this.#disposed) return Promise.reject(new Error('This Runner has been disposed'));
    if (typeof toolId !== 'string') return Promise.reject(new ToolError('INVALID_TOOL_ID', `Invalid tool ID: expected a string, got ${toolId === null ? 'null' : typeof toolId}`, { op: 'run' }));
    const mw = this.#middleware;
    if (mw.length === 0) return this.#observe(toolId, args, options) as Promise<RunResult<T>>;
    const call = { toolId, args: (args ?? NO_ARGS) as Record<string, unknown>, op: 'run' as const, options };
    let i = 0;
    const next = (): Promise<RunResult> => (i < mw.length ? mw[i++]!(call, next) : this.#observe(call.toolId, call.args, call.options));
    return next() as Promise<RunResult<T>>;
  }

  /**
   * One call, observed: resolution, validation, dispatch, output check, span and events.
   * Kept as a single async function because every extra async frame costs measurable
   * time on fast local tools.
   */
  async #observe(toolId: string, rawArgs: unknown, options: RunOptions): Promise<RunResult> {
    const listeners = this.#listeners;
    const parent = options.traceContext ?? context.active();
    const span = this.#startSpan(toolId, 'run', parent);
    const t0 = performance.now();
    const startedAt = listeners.size ? Date.now() : 0;
    if (listeners.size) this.#emit({ phase: 'start', toolId, op: 'run', args: (rawArgs ?? NO_ARGS) as Record<string, unknown>, startedAt });
    let r: Resolved | undefined;
    try {
      r = this.#resolve(toolId, 'run', options.visible);
      const args = this.#checkArgs(r, rawArgs, 'run', options.validateInput ?? this.#validateInput);
      const resolved = r;
      const out = await this.#dispatch(r, options, (ctx) => resolved.backend.call(resolved.id, args, ctx), span, parent);
      this.#checkOutput(r, out, 'run');
      const result: RunResult = { toolId: r.id, backend: r.ref, structured: out.structured, content: out.content, durationMs: performance.now() - t0 };
      this.#endCall(span, toolId, r, undefined, result.durationMs);
      if (listeners.size) this.#emit({ phase: 'end', toolId, op: 'run', backend: r.ref, args, startedAt, durationMs: result.durationMs, ok: true, result });
      return result;
    } catch (e) {
      const err = this.#toToolError(e, toolId, 'run', r?.ref);
      this.#endCall(span, toolId, r, err, performance.now() - t0);
      if (listeners.size) this.#emit({ phase: 'end', toolId, op: 'run', ...(r ? { backend: r.ref } : {}), args: (rawArgs ?? NO_ARGS) as Record<string, unknown>, startedAt, durationMs: performance.now() - t0, ok: false, error: err });
      throw err;
    } finally {
      span.end();
    }
  }

  /** The `execute_tool` span of one call (GenAI semantic conventions; see `telemetry.ts`). */
  #startSpan(toolId: string, op: 'run' | 'stream', parent: Context): Span {
    return this.#tracer.startSpan(
      `${EXECUTE_TOOL} ${toolId}`,
      { kind: SpanKind.INTERNAL, attributes: { [ATTR.operation]: EXECUTE_TOOL, [ATTR.toolName]: toolId, [ATTR.toolId]: toolId, [ATTR.op]: op } },
      parent,
    );
  }

  /** What a call's span and metrics record once it ended (the span itself ends in `finally`). */
  #endCall(span: Span, toolId: string, r: Resolved | undefined, err: ToolError | undefined, durationMs: number): void {
    const type = r ? toolType(r.ref.kind) : undefined;
    // Keyed by the index entry (one per registered tool); calls without one allocate.
    this.#metrics.record(r?.id ?? toolId, type, err?.code, durationMs / 1000, r?.tool);
    if (!span.isRecording()) return;
    if (r) {
      span.setAttribute(ATTR.backend, `${r.ref.kind}:${r.ref.name}`);
      span.setAttribute(ATTR.toolType, type!);
      const description = r.tool?.description;
      if (description) span.setAttribute(ATTR.toolDescription, description.length > 500 ? `${description.slice(0, 500)}…` : description);
    }
    if (err) {
      span.setAttribute(ATTR.errorType, err.code);
      span.recordException(err);
      span.setStatus({ code: SpanStatusCode.ERROR, message: err.code });
    }
  }

  /**
   * Runs `invoke` under the call's deadline and signal. The race matters: a backend that
   * ignores its signal must not hold the caller past the timeout.
   */
  #dispatch<T>(r: Resolved, options: RunOptions, invoke: (ctx: CallContext) => Promise<T>, span?: Span, parent?: Context): Promise<T> {
    const timeoutMs = options.timeoutMs ?? this.#defaultTimeoutMs;
    if (!(timeoutMs > 0)) {
      return Promise.reject(new TypeError(`timeoutMs must be a positive number of milliseconds, got ${timeoutMs}`));
    }
    const external = options.signal;
    const backendRef = r.ref;
    if (external?.aborted) {
      return Promise.reject(new ToolError('CANCELLED', `Call to ${r.id} was cancelled before it started`, { toolId: r.id, backend: backendRef, cause: external.reason }));
    }
    const ctx = new LazyCallContext(r.id, r.descriptor, timeoutMs);
    ctx.span = span;
    ctx.parentContext = parent;
    if (r.tool) ctx.tool = r.tool;
    if (options.onProgress) ctx.onProgress = options.onProgress;
    return new Promise<T>((resolve, reject) => {
      const inFlight = this.#inFlight;
      // Node clamps delays above 2^31-1 ms to 1 ms; treat those (and Infinity) as "no deadline".
      const call: InFlightCall = {
        deadline: timeoutMs > MAX_TIMER_MS ? Infinity : performance.now() + timeoutMs,
        signal: external,
        end: (how) => {
          const err =
            how === 'expire'
              ? new ToolError('TIMEOUT', `Tool ${r.id} timed out after ${timeoutMs} ms`, { toolId: r.id, backend: backendRef, retryable: true })
              : new ToolError('CANCELLED', `Call to ${r.id} was cancelled`, { toolId: r.id, backend: backendRef, cause: external!.reason });
          ctx.abort(err);
          reject(err);
        },
      };
      inFlight.add(call);
      let p: Promise<T>;
      try {
        p = invoke(ctx);
      } catch (e) {
        p = Promise.reject(e);
      }
      p.then(
        (v) => {
          if (inFlight.delete(call)) resolve(v);
        },
        (e) => {
          if (inFlight.delete(call)) reject(e);
        },
      );
    });
  }

  #toToolError(e: unknown, toolId: string, op: ToolOp, backend: { kind: BackendKind; name: string } | undefined): ToolError {
    if (e instanceof ToolError) {
      if (e.toolId !== undefined && (e.backend !== undefined || backend === undefined)) return e;
      const rebuilt = new ToolError(e.code, e.message, {
        toolId: e.toolId ?? toolId,
        op: e.op,
        ...(e.backend ?? backend ? { backend: (e.backend ?? backend)! } : {}),
        retryable: e.retryable,
        cause: e.cause,
        ...(e.issues ? { issues: e.issues } : {}),
        ...(e.data ? { data: e.data } : {}),
      });
      rebuilt.stack = e.stack;
      return rebuilt;
    }
    const message = e instanceof Error ? e.message : typeof e === 'string' ? e : `non-Error value thrown: ${safeString(e)}`;
    return new ToolError('EXECUTION', `Tool ${toolId} failed: ${message}`, { toolId, op, ...(backend ? { backend } : {}), cause: e });
  }

  #emit(event: CallEvent): void {
    for (const l of this.#listeners) {
      try {
        l(event);
      } catch {
        // An observer's bug must not change the outcome of a call.
      }
    }
  }

  // ---------------------------------------------------------------- chains

  /**
   * Runs steps in order; `{{prev.x}}` / `{{steps.N.x}}` templates and `usePrevious` feed
   * earlier results forward. Stops at the first failure and throws it with the partial
   * step results in `error.data.steps`.
   */
  async runChain(steps: ChainStep[], options: Omit<RunOptions, 'onProgress'> = {}): Promise<ChainResult> {
    this.#assertAlive();
    if (!Array.isArray(steps) || steps.length === 0) {
      throw new ToolError('INPUT_VALIDATION', 'A chain needs a non-empty array of steps', { op: 'chain' });
    }
    const results: StepResult[] = [];
    const values: unknown[] = [];
    let prev: RunResult | undefined;
    for (let i = 0; i < steps.length; i++) {
      const step = steps[i]!;
      const fail = (err: ToolError, args: Record<string, unknown>): never => {
        results.push({ index: i, toolId: step?.toolId, ok: false, error: err, args });
        throw new ToolError(err.code, `Chain step ${i} (${step?.toolId}) failed: ${err.message}`, {
          toolId: err.toolId ?? step?.toolId, op: 'chain', ...(err.backend ? { backend: err.backend } : {}),
          retryable: err.retryable, cause: err, ...(err.issues ? { issues: err.issues } : {}),
          data: { steps: results, failedStep: i },
        });
      };
      if (options.signal?.aborted) {
        fail(new ToolError('CANCELLED', `Chain cancelled before step ${i}`, { toolId: step?.toolId, op: 'chain', cause: options.signal.reason }), {});
      }
      if (!step || typeof step.toolId !== 'string') {
        fail(new ToolError('INVALID_TOOL_ID', `Step ${i} needs a string toolId`, { op: 'chain' }), {});
      }
      let args: Record<string, unknown>;
      try {
        args = resolveTemplates(step.args ?? {}, { prev: prev?.structured, steps: values }, `steps[${i}].args`) as Record<string, unknown>;
      } catch (e) {
        fail(this.#toToolError(e, step.toolId, 'chain', undefined), step.args ?? {});
        throw e; // unreachable; satisfies definite assignment
      }
      if (step.usePrevious && prev) args = { ...args, previous: prev.structured };
      try {
        prev = await this.run(step.toolId, args, { ...options, ...(step.timeoutMs !== undefined ? { timeoutMs: step.timeoutMs } : {}) });
      } catch (e) {
        fail(this.#toToolError(e, step.toolId, 'chain', undefined), args);
      }
      results.push({ index: i, toolId: step.toolId, ok: true, result: prev!, args });
      values.push(prev!.structured);
    }
    return { final: prev!, steps: results };
  }

  // ---------------------------------------------------------------- streaming

  /**
   * Streams one call: progress and chunk events, then `done` with the `RunResult`, or one
   * `error` event. Never throws; a tool that cannot stream ends with `STREAM_NOT_SUPPORTED`.
   *
   * A stream is a call like `run()`: it passes through every middleware (with `op: 'stream'`;
   * `next()` resolves with the final result once the stream has ended, and what the chain
   * resolves with is the `done` event's data), has its own `execute_tool` span and emits
   * the same call events. Progress and chunks reach the consumer while the stream runs.
   */
  async *runStream(toolId: string, args?: Record<string, unknown>, options: Omit<RunOptions, 'onProgress'> = {}): AsyncGenerator<StreamEvent, void, void> {
    const queue: StreamEvent[] = [];
    let wake: (() => void) | undefined;
    const push = (event: StreamEvent) => {
      queue.push(event);
      wake?.();
    };
    let settled = false;
    let final: RunResult | undefined;
    let failure: unknown;
    let outcome: Promise<RunResult>;
    try {
      this.#assertAlive();
      if (typeof toolId !== 'string') throw new ToolError('INVALID_TOOL_ID', `Invalid tool ID: expected a string, got ${toolId === null ? 'null' : typeof toolId}`, { op: 'stream' });
      const mw = this.#middleware;
      const call = { toolId, args: (args ?? NO_ARGS) as Record<string, unknown>, op: 'stream' as const, options };
      let i = 0;
      const next = (): Promise<RunResult> => (i < mw.length ? mw[i++]!(call, next) : this.#observeStream(call.toolId, call.args, call.options, push));
      outcome = next();
    } catch (e) {
      outcome = Promise.reject(e);
    }
    outcome.then(
      (result) => {
        final = result;
        settled = true;
        wake?.();
      },
      (e) => {
        failure = e;
        settled = true;
        wake?.();
      },
    );
    while (true) {
      while (queue.length) yield queue.shift()!;
      if (settled) break;
      await new Promise<void>((res) => (wake = res));
      wake = undefined;
    }
    while (queue.length) yield queue.shift()!;
    if (final && failure === undefined) yield { kind: 'done', toolId: final.toolId, data: final };
    else yield { kind: 'error', toolId, data: this.#toToolError(failure ?? new Error('the stream ended without a result'), toolId, 'stream', undefined) };
  }

  /**
   * The innermost step of a stream: resolution, validation, the backend's generator pumped
   * under the call's deadline and signal (its events go to `push`), output check, span and
   * call events. Resolves with the final result or rejects with a `ToolError`.
   */
  async #observeStream(toolId: string, rawArgs: Record<string, unknown>, options: RunOptions, push: (event: StreamEvent) => void): Promise<RunResult> {
    const listeners = this.#listeners;
    const parent = options.traceContext ?? context.active();
    const span = this.#startSpan(toolId, 'stream', parent);
    const t0 = performance.now();
    const startedAt = Date.now();
    let r: Resolved | undefined;
    try {
      r = this.#resolve(toolId, 'stream', options.visible);
      const resolved = r;
      const backendRef = r.ref;
      const checked = this.#checkArgs(r, rawArgs, 'stream', options.validateInput ?? this.#validateInput);
      if (listeners.size) this.#emit({ phase: 'start', toolId, op: 'stream', backend: backendRef, args: checked, startedAt });
      let gen: AsyncGenerator<{ kind: 'progress' | 'chunk'; data: unknown }, BackendResult, void> | undefined;
      let final: BackendResult | undefined;
      try {
        final = await this.#dispatch(r, options, async (ctx) => {
          ctx.onProgress = (p) => push({ kind: 'progress', toolId: resolved.id, data: p });
          gen = resolved.backend.stream?.(resolved.id, checked, ctx);
          if (!gen) {
            throw new ToolError('STREAM_NOT_SUPPORTED', `Tool ${resolved.id} cannot stream on backend ${backendRef.kind}:${backendRef.name}`, { toolId: resolved.id, op: 'stream', backend: backendRef });
          }
          let step = await gen.next();
          while (!step.done) {
            const c = step.value;
            push(c.kind === 'progress' ? { kind: 'progress', toolId: resolved.id, data: c.data as { progress: number } } : { kind: 'chunk', toolId: resolved.id, data: c.data });
            if (ctx.signal.aborted) break;
            step = await gen.next();
          }
          return step.done ? step.value : undefined;
        }, span, parent);
      } catch (e) {
        // A deadline or cancellation leaves the generator suspended: end it.
        void gen?.return(undefined as never).catch(() => {});
        throw e;
      }
      if (!final) throw new ToolError('EXECUTION', `Stream of ${r.id} ended without a result`, { toolId: r.id, op: 'stream', backend: backendRef });
      this.#checkOutput(r, final, 'stream');
      const result: RunResult = { toolId: r.id, backend: backendRef, structured: final.structured, content: final.content, durationMs: performance.now() - t0 };
      this.#endCall(span, toolId, r, undefined, result.durationMs);
      if (listeners.size) this.#emit({ phase: 'end', toolId, op: 'stream', backend: backendRef, args: checked, startedAt, durationMs: result.durationMs, ok: true, result });
      return result;
    } catch (e) {
      const err = this.#toToolError(e, toolId, 'stream', r?.ref);
      this.#endCall(span, toolId, r, err, performance.now() - t0);
      if (listeners.size) this.#emit({ phase: 'end', toolId, op: 'stream', ...(r ? { backend: r.ref } : {}), args: rawArgs, startedAt, durationMs: performance.now() - t0, ok: false, error: err });
      throw err;
    } finally {
      span.end();
    }
  }

  // ---------------------------------------------------------------- lifecycle

  get disposed(): boolean {
    return this.#disposed;
  }

  #assertAlive(): void {
    if (this.#disposed) throw new Error('This Runner has been disposed');
  }

  /** Disposes every backend (closing MCP connections and the like). */
  async dispose(): Promise<void> {
    if (this.#disposed) return;
    this.#disposed = true;
    const errors: unknown[] = [];
    for (const b of this.#backends.values()) {
      try {
        await b.dispose?.();
      } catch (e) {
        errors.push(e);
      }
    }
    this.#backends.clear();
    if (errors.length) throw new AggregateError(errors, `Disposing ${errors.length} backend(s) failed`);
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.dispose();
  }
}

function safeString(v: unknown): string {
  try {
    return JSON.stringify(v) ?? String(v);
  } catch {
    return Object.prototype.toString.call(v);
  }
}

