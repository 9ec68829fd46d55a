/**
 * The executor: runs an agent's script in a sandbox runtime whose only way out is the
 * `run()` bridge back into the runner (DESIGN.md "Executor contract", "The bridge").
 *
 * The runtime only carries strings. Everything that matters is decided here, on the host,
 * because the guest is hostile: message parsing with size and shape checks, `allowedTools`,
 * the tool-call budget and concurrency, argument and output sizes, the deadline and
 * cancellation, and the ledger of every call. `execute()` returns a result for anything the
 * script does; it throws only for misuse of the API.
 */
import { MAX_QUERY_CHARS } from '../index/query.js';
import { ToolError } from '../model/errors.js';
import { matchToolPattern } from '../model/tool-id.js';
import type { JsonValue, Tool } from '../model/tool.js';
import { PRELUDE_FILENAME } from '../runtime/guest.js';
import { loadRuntime, RUNTIME_NAMES, isRuntimeName, RuntimeUnavailableError } from '../runtime/load.js';
import type { Runtime, RuntimeFailure, RuntimeName, RuntimeOutcome, RuntimeSession } from '../runtime/types.js';
import { DEFAULT_MAX_SCRIPT_BYTES, prepareScript, type PreparedScript } from './prepare.js';
import type {
  ExecuteError,
  ExecuteErrorCode,
  ExecuteLimits,
  ExecuteOptions,
  ExecuteResult,
  ExecutorOptions,
  ExecutorRunner,
  LimitName,
  LogEntry,
  ReportedLimits,
  ToolCallRecord,
} from './types.js';
import { EXECUTE_ERROR_CODES } from './types.js';

/** Defaults for every limit (each overridable per executor and per call). */
export const DEFAULT_EXECUTE_LIMITS: Readonly<ExecuteLimits> = Object.freeze({
  timeoutMs: 30_000,
  memoryMb: 64,
  maxToolCalls: 1_000,
  maxConcurrentToolCalls: 8,
  maxOutputBytes: 1024 * 1024,
  maxArgsBytes: 256 * 1024,
  maxScriptBytes: DEFAULT_MAX_SCRIPT_BYTES,
});

/** Default ceilings for per-call limits. */
export const DEFAULT_MAX_LIMITS: Readonly<Required<Omit<ExecuteLimits, 'allowedTools'>>> = Object.freeze({
  timeoutMs: 10 * 60_000,
  memoryMb: 1024,
  cpuMs: 10 * 60_000,
  maxToolCalls: 100_000,
  maxConcurrentToolCalls: 64,
  maxOutputBytes: 64 * 1024 * 1024,
  maxArgsBytes: 16 * 1024 * 1024,
  maxScriptBytes: 4 * 1024 * 1024,
});

/** A guest → host message larger than this is a protocol violation, whatever the limits. */
const MESSAGE_CAP_SLACK = 64 * 1024;
const MAX_SEARCH_LIMIT = 50;
const LOG_LEVELS = new Set(['log', 'info', 'warn', 'error', 'debug']);
const NUMERIC_LIMITS = ['timeoutMs', 'memoryMb', 'cpuMs', 'maxToolCalls', 'maxConcurrentToolCalls', 'maxOutputBytes', 'maxArgsBytes', 'maxScriptBytes'] as const;

/** Maps `my-ns:get.item` to the JavaScript-safe spelling `my_ns:get_item` used by `tools.my_ns.get_item`. */
export function jsSafeName(name: string): string {
  const s = name.replace(/[^A-Za-z0-9_$]/g, '_');
  return /^[0-9]/.test(s) ? `_${s}` : s;
}

/**
 * Runs agent scripts in a sandbox runtime with `run()`, `tools`, `searchTools`, `describeTool`
 * and `console` as globals (DESIGN.md "Executor contract"). One executor shares its runtime's
 * warm pool between executions; each execution gets a fresh context.
 *
 *   const executor = new Executor({ runner, runtime: 'quickjs', limits: { timeoutMs: 5_000 } });
 *   const result = await executor.execute('(await tools.math.add({ a: 1, b: 2 })).sum');
 */
export class Executor implements AsyncDisposable {
  readonly runner: ExecutorRunner;
  private readonly runtimeSpec: RuntimeName | Runtime;
  private readonly runtimeOptions: Record<string, unknown>;
  private runtimePromise: Promise<Runtime> | undefined;
  private readonly ownsRuntime: boolean;
  private readonly defaults: ExecuteLimits;
  private readonly ceilings: Required<Omit<ExecuteLimits, 'allowedTools'>>;
  private aliases: Map<string, string> | undefined;
  private unsubscribe: (() => void) | undefined;
  private disposed = false;

  constructor(options: ExecutorOptions) {
    if (!options || typeof options !== 'object') throw new TypeError('new Executor(options): options must be an object with a `runner`');
    const runner = options.runner;
    if (!runner || typeof runner.run !== 'function' || !runner.index) {
      throw new TypeError('new Executor(options): `runner` must have run(toolId, args, options) and an `index`');
    }
    this.runner = runner;
    const rt = options.runtime ?? 'quickjs';
    if (typeof rt === 'string') {
      if (!isRuntimeName(rt)) throw new TypeError(`Unknown runtime ${JSON.stringify(rt)}; known runtimes: ${RUNTIME_NAMES.join(', ')}`);
      this.ownsRuntime = true;
    } else if (rt && typeof rt === 'object' && typeof rt.start === 'function') {
      this.ownsRuntime = false;
    } else {
      throw new TypeError(`runtime must be one of ${RUNTIME_NAMES.join(', ')} or a Runtime object`);
    }
    this.runtimeSpec = rt;
    this.runtimeOptions = options.runtimeOptions ?? {};
    this.ceilings = { ...DEFAULT_MAX_LIMITS, ...definedOnly(options.maxLimits ?? {}) };
    checkLimits(options.maxLimits ?? {}, 'maxLimits');
    checkLimits(options.limits ?? {}, 'limits');
    this.defaults = this.clamp({ ...DEFAULT_EXECUTE_LIMITS, ...definedOnly(options.limits ?? {}) });
  }

  /** The runtime's name (`quickjs`, `isolated-vm`, `docker`, or a custom runtime's). */
  get runtimeName(): string {
    return typeof this.runtimeSpec === 'string' ? this.runtimeSpec : this.runtimeSpec.name;
  }

  /** Loads the runtime and starts its warm sandboxes ahead of the first execution. */
  async warm(): Promise<void> {
    const rt = await this.runtime();
    await rt.warm?.();
  }

  /** Runs a script. Never throws for anything the script does. */
  async execute(script: string, options: ExecuteOptions = {}): Promise<ExecuteResult> {
    if (this.disposed) throw new Error('This executor has been disposed');
    if (typeof script !== 'string') throw new TypeError(`execute(script): script must be a string, got ${script === null ? 'null' : typeof script}`);
    checkLimits(options, 'options');
    if (options.onToolCall !== undefined && typeof options.onToolCall !== 'function') throw new TypeError('execute(script, options): options.onToolCall must be a function');
    const inputText = options.input === undefined ? undefined : inputJson(options.input);
    const limits = this.resolveLimits(options);
    const started = performance.now();
    const prepared = prepareScript(script, { maxScriptBytes: limits.maxScriptBytes, input: inputText !== undefined });
    const run = new Execution(this, limits, options, started, inputText);
    if (!prepared.ok) return run.result({ failure: prepared.error });
    let runtime: Runtime;
    try {
      runtime = await this.runtime();
    } catch (e) {
      const message = e instanceof RuntimeUnavailableError ? e.message : `The ${this.runtimeName} runtime could not be loaded: ${(e as Error)?.message ?? e}`;
      // A failed load is retried on the next call (the engine may have been installed since).
      this.runtimePromise = undefined;
      return run.result({ failure: { code: 'RUNTIME_UNAVAILABLE', message } });
    }
    return run.start(runtime, prepared, options.filename ?? 'script.js');
  }

  /** @internal Maps a written tool ID to a registered one (exact, then JavaScript-safe spelling). */
  resolveToolId(id: string): string {
    const index = this.runner.index;
    if (index.has(id)) return id;
    if (!this.aliases) {
      const aliases = new Map<string, string>();
      for (const tool of index.list()) {
        const alias = tool.namespace === undefined ? jsSafeName(tool.name) : `${jsSafeName(tool.namespace)}:${jsSafeName(tool.name)}`;
        // The first registration wins; an exact ID always beats an alias.
        if (!aliases.has(alias) && alias !== tool.id) aliases.set(alias, tool.id);
      }
      this.aliases = aliases;
      this.unsubscribe ??= index.onChange(() => (this.aliases = undefined));
    }
    return this.aliases.get(id) ?? id;
  }

  private runtime(): Promise<Runtime> {
    if (!this.runtimePromise) {
      const spec = this.runtimeSpec;
      this.runtimePromise = typeof spec === 'string' ? loadRuntime(spec, this.runtimeOptions) : Promise.resolve(spec);
    }
    return this.runtimePromise;
  }

  private clamp(l: ExecuteLimits): ExecuteLimits {
    const out = { ...l };
    for (const k of NUMERIC_LIMITS) {
      const v = out[k];
      if (v !== undefined && v > this.ceilings[k]) out[k] = this.ceilings[k];
    }
    return out;
  }

  private resolveLimits(options: ExecuteOptions): ResolvedLimits {
    const merged: ResolvedLimits = this.clamp({ ...this.defaults, ...definedOnly(pick(options)) });
    // A per-call allow-list can only narrow the executor's: a call must pass both.
    const base = this.defaults.allowedTools;
    if (base && options.allowedTools) merged.allowedToolsBase = base;
    return merged;
  }

  async dispose(): Promise<void> {
    if (this.disposed) return;
    this.disposed = true;
    this.unsubscribe?.();
    if (this.ownsRuntime && this.runtimePromise) {
      const rt = await this.runtimePromise.catch(() => undefined);
      await rt?.dispose();
    }
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.dispose();
  }
}

type ResolvedLimits = ExecuteLimits & { allowedToolsBase?: string[] };

function pick(o: ExecuteOptions): Partial<ExecuteLimits> {
  const out: Partial<ExecuteLimits> = {};
  for (const k of NUMERIC_LIMITS) if (o[k] !== undefined) out[k] = o[k];
  if (o.allowedTools !== undefined) out.allowedTools = o.allowedTools;
  return out;
}

function definedOnly<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

function checkLimits(o: Partial<ExecuteLimits>, where: string): void {
  for (const k of NUMERIC_LIMITS) {
    const v = o[k];
    if (v === undefined) continue;
    if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0) {
      throw new TypeError(`${where}.${k} must be a positive number, got ${JSON.stringify(v)}`);
    }
  }
  const a = o.allowedTools;
  if (a !== undefined && (!Array.isArray(a) || a.some((p) => typeof p !== 'string'))) {
    throw new TypeError(`${where}.allowedTools must be an array of tool ID patterns such as "github:*"`);
  }
}

/** The JSON text of `execute()`'s input; throws (misuse of the API) for a value JSON cannot carry. */
function inputJson(input: unknown): string {
  let text: string | undefined;
  try {
    text = JSON.stringify(input);
  } catch (e) {
    throw new TypeError(`execute(script, { input }): input must be a JSON value (${(e as Error).message})`);
  }
  if (text === undefined) throw new TypeError('execute(script, { input }): input must be a JSON value, got ' + typeof input);
  return text;
}

function byteLength(s: string): number {
  return Buffer.byteLength(s, 'utf8');
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Length of the `return (` that preparation inserts before a final expression. */
const RETURN_PREFIX_LENGTH = 'return ('.length;

/** First `filename:line:column` in a stack, mapped to the user's script. */
function positionFromStack(stack: unknown, filename: string, lineOffset: number): { line?: number; column?: number } {
  if (typeof stack !== 'string') return {};
  const escaped = filename.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  const m = new RegExp(`${escaped}:(\\d+):(\\d+)`).exec(stack);
  if (!m) return {};
  const line = Number(m[1]) - lineOffset;
  return line >= 1 ? { line, column: Number(m[2]) } : {};
}

interface PendingCall {
  id: number;
  toolId: string;
  args: Record<string, unknown>;
}

/** One execution's host state: the bridge, the ledger and the limits. */
class Execution {
  private session: RuntimeSession | undefined;
  private readonly logs: LogEntry[] = [];
  private readonly toolCalls: ToolCallRecord[] = [];
  private outputBytes = 0;
  private callCount = 0;
  private endedCalls = 0;
  private active = 0;
  private readonly queue: PendingCall[] = [];
  private readonly controller = new AbortController();
  private hostFailure: ExecuteError | undefined;
  private doneMessage: { ok: boolean; value?: JsonValue; error?: Record<string, unknown> } | undefined;
  private filename = 'script.js';
  private prepared: PreparedScript | undefined;
  private readonly messageCap: number;
  private finished = false;
  /**
   * When the script's time runs out, as near as the host can tell: the runtime starts its
   * clock when the script starts (a cold sandbox's start-up is not the script's time), which
   * is just before its first message, so that message sets it.
   */
  private deadline = Infinity;

  constructor(
    private readonly executor: Executor,
    private readonly limits: ResolvedLimits,
    private readonly options: ExecuteOptions,
    private readonly started: number,
    /** The input's JSON, sent once when the prelude asks for it. */
    private inputText?: string,
  ) {
    this.messageCap = Math.max(limits.maxArgsBytes, limits.maxOutputBytes) + MESSAGE_CAP_SLACK;
  }

  async start(runtime: Runtime, prepared: PreparedScript, filename: string): Promise<ExecuteResult> {
    this.prepared = prepared;
    this.filename = filename;
    const signal = this.options.signal;
    if (signal?.aborted) return this.result({ failure: { code: 'CANCELLED', message: 'The execution was cancelled before it started' } });
    let session: RuntimeSession;
    try {
      session = runtime.start(
        {
          code: prepared.code,
          filename,
          lineOffset: prepared.lineOffset,
          limits: {
            timeoutMs: this.limits.timeoutMs,
            memoryMb: this.limits.memoryMb,
            cpuMs: this.limits.cpuMs,
            maxOutputBytes: this.limits.maxOutputBytes,
          },
        },
        (text) => this.onMessage(text),
      );
    } catch (e) {
      return this.result({ failure: { code: 'SANDBOX_CRASHED', message: `The ${runtime.name} runtime refused the job: ${(e as Error)?.message ?? e}` } });
    }
    this.session = session;
    const onAbort = () => this.fail({ code: 'CANCELLED', message: 'The execution was cancelled' });
    signal?.addEventListener('abort', onAbort, { once: true });
    let outcome: RuntimeOutcome;
    try {
      outcome = await session.done;
    } finally {
      signal?.removeEventListener('abort', onAbort);
      // Calls still in flight belong to a finished script: stop them.
      this.controller.abort();
    }
    return this.result({ outcome, runtime: runtime.name });
  }

  /** Ends the execution from the host side with a reason the guest cannot override. */
  private fail(error: ExecuteError): void {
    if (this.hostFailure || this.doneMessage) return;
    this.hostFailure = error;
    const code = error.code === 'TOOL_CALL_LIMIT' || error.code === 'TOOL_NOT_ALLOWED' ? 'CANCELLED' : error.code;
    this.session?.terminate({ code: code as RuntimeFailure['code'], message: error.message });
  }

  private reply(id: number, body: { ok: true; value: unknown } | { ok: false; error: Record<string, unknown> }): void {
    if (this.doneMessage || this.hostFailure) return;
    let text: string;
    try {
      text = body.ok ? JSON.stringify({ id, ok: true, value: body.value }) : JSON.stringify({ id, ok: false, error: body.error });
    } catch (e) {
      text = JSON.stringify({ id, ok: false, error: { code: 'EXECUTION', message: `The result is not JSON-serializable: ${(e as Error).message}` } });
    }
    this.session?.send(text);
  }

  private onMessage(text: string): void {
    if (this.doneMessage || this.hostFailure) return;
    if (this.deadline === Infinity) this.deadline = performance.now() + this.limits.timeoutMs;
    if (typeof text !== 'string' || text.length > this.messageCap) {
      this.fail({
        code: 'OUTPUT_LIMIT',
        message: `The sandbox sent a message of ${typeof text === 'string' ? text.length : 0} characters, over the cap of ${this.messageCap}`,
      });
      return;
    }
    let msg: Record<string, unknown>;
    try {
      msg = JSON.parse(text) as Record<string, unknown>;
    } catch {
      this.protocolViolation('a message that is not JSON');
      return;
    }
    if (!isPlainObject(msg)) return this.protocolViolation('a message that is not an object');
    switch (msg.op) {
      case 'log':
        return this.onLog(msg);
      case 'done':
        return this.onDone(msg, text);
      case 'input':
        return this.onInput(msg);
      case 'run':
      case 'search':
      case 'describe': {
        const id = msg.id;
        if (typeof id !== 'number' || !Number.isSafeInteger(id) || id <= 0) return this.protocolViolation(`a ${msg.op} request without a valid id`);
        if (msg.op === 'run') return this.onRun(id, msg, text);
        if (msg.op === 'search') return this.onSearch(id, msg);
        return this.onDescribe(id, msg);
      }
      default:
        return this.protocolViolation(`an unknown op ${JSON.stringify(String(msg.op)).slice(0, 40)}`);
    }
  }

  private onInput(msg: Record<string, unknown>): void {
    const id = msg.id;
    const text = this.inputText;
    if (typeof id !== 'number' || !Number.isSafeInteger(id) || id <= 0) return this.protocolViolation('an input request without a valid id');
    if (text === undefined) return this.protocolViolation('an input request for an execution without input, or a second one');
    this.inputText = undefined;
    this.session?.send(`{"id":${id},"ok":true,"value":${text}}`);
  }

  private protocolViolation(what: string): void {
    this.fail({ code: 'SANDBOX_CRASHED', message: `The sandbox broke the bridge protocol: it sent ${what}` });
  }

  private addOutput(bytes: number): boolean {
    this.outputBytes += bytes;
    if (this.outputBytes > this.limits.maxOutputBytes) {
      this.fail({ code: 'OUTPUT_LIMIT', message: `The script's output (logs and result) exceeded maxOutputBytes (${this.limits.maxOutputBytes} bytes)` });
      return false;
    }
    return true;
  }

  private onLog(msg: Record<string, unknown>): void {
    const level = typeof msg.level === 'string' && LOG_LEVELS.has(msg.level) ? (msg.level as LogEntry['level']) : 'log';
    const message = typeof msg.message === 'string' ? msg.message : String(msg.message);
    if (!this.addOutput(byteLength(message))) return;
    this.logs.push({ level, message, at: Date.now() });
  }

  private onDone(msg: Record<string, unknown>, text: string): void {
    if (msg.ok === true) {
      // The value's JSON is the message minus its envelope.
      const valueBytes = 'value' in msg ? byteLength(text) - byteLength('{"op":"done","ok":true,"value":}') : 0;
      if (!this.addOutput(valueBytes)) return;
      this.doneMessage = { ok: true, value: msg.value as JsonValue };
    } else {
      this.doneMessage = { ok: false, error: isPlainObject(msg.error) ? msg.error : { message: 'the script failed' } };
    }
  }

  /** Counts one call against maxToolCalls (searches and descriptions included); false once over. */
  private countCall(): boolean {
    this.callCount++;
    if (this.callCount <= this.limits.maxToolCalls) return true;
    this.fail({ code: 'TOOL_CALL_LIMIT', message: `The script made more than maxToolCalls (${this.limits.maxToolCalls}) tool calls (run, searchTools and describeTool each count)` });
    return false;
  }

  /** The JavaScript-safe spelling of a tool the script may call, mapped back; never to one it may not see. */
  private resolve(written: string): string {
    const id = this.executor.resolveToolId(written);
    return id === written || this.allowed(id) ? id : written;
  }

  private onRun(id: number, msg: Record<string, unknown>, text: string): void {
    if (!this.countCall()) return;
    const written = msg.toolId;
    const args = msg.args === undefined ? {} : msg.args;
    if (typeof written !== 'string') {
      this.refuse(id, String(written), args, 'INVALID_TOOL_ID', `A tool ID must be a string, got ${written === null ? 'null' : typeof written}`);
      return;
    }
    const toolId = this.resolve(written);
    if (!this.allowed(toolId)) {
      this.refuse(id, toolId, args, 'TOOL_NOT_ALLOWED', `Tool ${toolId} is not allowed here (allowed: ${(this.limits.allowedTools ?? []).join(', ') || 'none'})`);
      return;
    }
    if (!isPlainObject(args)) {
      this.refuse(id, toolId, args, 'INPUT_VALIDATION', `The arguments of ${toolId} must be an object, got ${Array.isArray(args) ? 'an array' : args === null ? 'null' : typeof args}`);
      return;
    }
    // The arguments' JSON is part of the message, so the message's size bounds it: only a
    // message near the limit needs the exact figure.
    const argsBytes = text.length * 3 <= this.limits.maxArgsBytes ? 0 : byteLength(JSON.stringify(args));
    if (argsBytes > this.limits.maxArgsBytes) {
      this.refuse(id, toolId, args, 'INPUT_VALIDATION', `The arguments of ${toolId} are ${argsBytes} bytes; maxArgsBytes is ${this.limits.maxArgsBytes}`);
      return;
    }
    const call = { id, toolId, args };
    if (this.active < this.limits.maxConcurrentToolCalls) this.dispatch(call);
    else this.queue.push(call);
  }

  private allowed(toolId: string): boolean {
    const patterns = this.limits.allowedTools;
    if (patterns && !patterns.some((p) => matchToolPattern(p, toolId))) return false;
    const base = this.limits.allowedToolsBase;
    if (base && !base.some((p) => matchToolPattern(p, toolId))) return false;
    return true;
  }

  /** A call refused before it reached the runner: in the ledger, and an error in the guest. */
  private refuse(id: number, toolId: string, args: unknown, code: string, message: string): void {
    const record: ToolCallRecord = { toolId, args, ok: false, durationMs: 0, startedAt: Date.now(), error: { code, message } };
    this.toolCalls.push(record);
    this.ended(record);
    this.reply(id, { ok: false, error: { code, message, toolId } });
  }

  /** A ledger entry is final: tell the caller's `onToolCall`, whose failure changes nothing here. */
  private ended(record: ToolCallRecord): void {
    const listener = this.options.onToolCall;
    if (!listener) return;
    try {
      listener(record, ++this.endedCalls);
    } catch {
      // a progress listener's bug must not fail the script's tool call
    }
  }

  private dispatch(call: PendingCall): void {
    this.active++;
    const record: ToolCallRecord = { toolId: call.toolId, args: call.args, ok: false, durationMs: 0, startedAt: Date.now() };
    this.toolCalls.push(record);
    const t0 = performance.now();
    // What is left of the execution's budget, plus a little, so that the execution's TIMEOUT
    // (not a tool TIMEOUT thrown into the script) is what a script stuck on a tool reports; the
    // execution's end aborts every call still running anyway. A runner wrapper may lower it
    // (the engine applies the config's toolTimeoutMs).
    const remaining = Math.max(1, Math.ceil(this.deadline - performance.now())) + 250;
    let p: Promise<unknown>;
    try {
      p = this.executor.runner.run(call.toolId, call.args, { signal: this.controller.signal, timeoutMs: remaining, visible: this.visible });
    } catch (e) {
      p = Promise.reject(e);
    }
    p.then(
      (res) => {
        // The result is final once returned: a call that ends later changes nothing in it.
        if (this.finished) return;
        record.ok = true;
        record.durationMs = performance.now() - t0;
        this.ended(record);
        this.reply(call.id, { ok: true, value: (res as { structured: unknown }).structured });
      },
      (err: unknown) => {
        if (this.finished) return;
        record.durationMs = performance.now() - t0;
        const e = toBridgeError(err, call.toolId);
        record.error = { code: String(e.code), message: String(e.message) };
        this.ended(record);
        this.reply(call.id, { ok: false, error: e });
      },
    ).finally(() => {
      this.active--;
      const next = this.queue.shift();
      if (next && !this.doneMessage && !this.hostFailure) this.dispatch(next);
    });
  }

  /** What a did-you-mean may name: only tools this script may call. */
  private readonly visible = (toolId: string): boolean => this.allowed(toolId);

  private onSearch(id: number, msg: Record<string, unknown>): void {
    if (!this.countCall()) return;
    const query = typeof msg.query === 'string' ? msg.query : '';
    // Refused here, before the index sees it, with the script's own error code.
    if (query.length > MAX_QUERY_CHARS) {
      this.reply(id, { ok: false, error: { code: 'INPUT_VALIDATION', message: `searchTools(query): the query is ${query.length} characters; the most is ${MAX_QUERY_CHARS}` } });
      return;
    }
    const rawLimit = typeof msg.limit === 'number' && Number.isFinite(msg.limit) ? Math.floor(msg.limit) : 10;
    const limit = Math.min(MAX_SEARCH_LIMIT, Math.max(1, rawLimit));
    try {
      const page = this.executor.runner.index.search(query, { limit });
      const items = page.items.filter((h) => this.allowed(h.id)).map((h) => brief(h.tool, h.score));
      this.reply(id, { ok: true, value: items });
    } catch (e) {
      const code = (e as { code?: unknown })?.code;
      const error = toBridgeError(e, undefined);
      // A query the index refuses (too many words) is the script's input problem.
      if (code === 'INVALID_QUERY') error.code = 'INPUT_VALIDATION';
      this.reply(id, { ok: false, error });
    }
  }

  private onDescribe(id: number, msg: Record<string, unknown>): void {
    if (!this.countCall()) return;
    const written = msg.toolId;
    if (typeof written !== 'string') {
      this.reply(id, { ok: false, error: { code: 'INVALID_TOOL_ID', message: 'describeTool(toolId) needs a string' } });
      return;
    }
    const toolId = this.resolve(written);
    const entry = this.allowed(toolId) ? this.executor.runner.index.get(toolId) : undefined;
    if (!entry) {
      this.reply(id, { ok: false, error: { code: 'TOOL_NOT_FOUND', message: `No tool ${toolId}`, toolId } });
      return;
    }
    const t = entry.tool;
    this.reply(id, {
      ok: true,
      value: { ...brief(t), inputSchema: t.inputSchema, outputSchema: t.outputSchema, annotations: t.annotations, version: t.version },
    });
  }

  /** Builds the final result from whatever ended the execution. */
  result(end: { failure?: ExecuteError | RuntimeFailure; outcome?: RuntimeOutcome; runtime?: string }): ExecuteResult {
    this.finished = true;
    const outcome = end.outcome;
    let error: ExecuteError | undefined;
    let value: JsonValue | undefined;
    if (end.failure) error = normalizeError(end.failure);
    else if (this.hostFailure) error = this.hostFailure;
    else if (outcome?.failure) error = this.runtimeError(outcome.failure);
    else if (this.doneMessage?.ok) value = this.doneMessage.value;
    else if (this.doneMessage) error = this.guestError(this.doneMessage.error ?? {});
    else error = { code: 'SANDBOX_CRASHED', message: 'The sandbox ended without a result' };
    // Calls that never finished (the script ended first) are recorded as cancelled.
    const now = Date.now();
    for (const c of this.toolCalls) {
      if (!c.ok && !c.error) {
        c.error = { code: 'CANCELLED', message: 'The script ended before this call finished' };
        c.durationMs = Math.max(0, now - c.startedAt);
      }
    }
    const enforced: Record<LimitName, boolean> = {
      timeoutMs: true,
      memoryMb: outcome?.enforced.memoryMb ?? true,
      cpuMs: this.limits.cpuMs !== undefined && (outcome?.enforced.cpuMs ?? false),
      maxToolCalls: true,
      maxConcurrentToolCalls: true,
      maxOutputBytes: true,
      maxArgsBytes: true,
      maxScriptBytes: true,
      allowedTools: true,
    };
    const { allowedToolsBase: _base, ...limits } = this.limits;
    const reported: ReportedLimits = { ...limits, enforced };
    const out: ExecuteResult = {
      ok: error === undefined,
      logs: this.logs,
      toolCalls: this.toolCalls,
      stats: {
        runtime: end.runtime ?? this.executor.runtimeName,
        durationMs: performance.now() - this.started,
        toolCalls: this.toolCalls.length,
        outputBytes: this.outputBytes,
      },
      limits: reported,
    };
    if (outcome?.stats.cpuMs !== undefined) out.stats.cpuMs = outcome.stats.cpuMs;
    if (outcome?.stats.memoryBytes !== undefined) out.stats.memoryBytes = outcome.stats.memoryBytes;
    if (error) out.error = error;
    else if (value !== undefined) out.value = value;
    return out;
  }

  private runtimeError(f: RuntimeFailure): ExecuteError {
    const e = normalizeError(f);
    if (f.line === undefined && f.stack) Object.assign(e, positionFromStack(f.stack, this.filename, this.prepared?.lineOffset ?? 0));
    this.fixColumn(e);
    if (e.stack) e.stack = this.userStack(e.stack);
    return e;
  }

  /**
   * The stack as the user's script sees it: positions in the script mapped back to its own
   * lines and columns, and the frames of the prelude and of the wrapper line dropped.
   */
  private userStack(stack: string): string {
    const offset = this.prepared?.lineOffset ?? 0;
    const at = this.prepared?.returnInsertedAt;
    const re = new RegExp(`${this.filename.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:(\\d+):(\\d+)`, 'g');
    const out: string[] = [];
    for (const frame of stack.split('\n')) {
      if (frame.includes(PRELUDE_FILENAME)) continue;
      let wrapper = false;
      const mapped = frame.replace(re, (_all, l: string, c: string) => {
        const line = Number(l) - offset;
        let column = Number(c);
        if (line < 1) wrapper = true;
        if (at && line === at.line && column > at.column) column -= RETURN_PREFIX_LENGTH;
        return `${this.filename}:${line}:${column}`;
      });
      if (!wrapper) out.push(mapped);
    }
    return out.join('\n');
  }

  private guestError(raw: Record<string, unknown>): ExecuteError {
    const name = typeof raw.name === 'string' ? raw.name : 'Error';
    const message = typeof raw.message === 'string' ? raw.message : 'the script failed';
    const stack = typeof raw.stack === 'string' ? raw.stack : undefined;
    let code: ExecuteErrorCode = raw.code === 'TOOL_ERROR' ? 'TOOL_ERROR' : raw.code === 'NOT_SERIALIZABLE' ? 'NOT_SERIALIZABLE' : 'RUNTIME_ERROR';
    const toolCode = typeof raw.toolCode === 'string' ? raw.toolCode : undefined;
    if (code === 'TOOL_ERROR' && toolCode === 'TOOL_NOT_ALLOWED') code = 'TOOL_NOT_ALLOWED';
    if (code === 'RUNTIME_ERROR' && message === 'out of memory' && (name === 'InternalError' || name === 'RangeError')) code = 'MEMORY_LIMIT';
    const e: ExecuteError = {
      code,
      message: name === 'Uncaught' ? `Uncaught ${message}` : code === 'TOOL_ERROR' ? `${raw.toolId ?? 'tool'} failed with ${toolCode}: ${message}` : `${name}: ${message}`,
    };
    if (stack) e.stack = this.userStack(stack);
    if (typeof raw.toolId === 'string') e.toolId = raw.toolId;
    if (toolCode) e.toolCode = toolCode;
    Object.assign(e, positionFromStack(stack, this.filename, this.prepared?.lineOffset ?? 0));
    this.fixColumn(e);
    return e;
  }

  /** Undoes the column shift of the `return (` inserted on the last expression's line. */
  private fixColumn(e: ExecuteError): void {
    const at = this.prepared?.returnInsertedAt;
    if (at && e.line === at.line && e.column !== undefined && e.column > at.column) e.column -= RETURN_PREFIX_LENGTH;
  }
}

function normalizeError(f: ExecuteError | RuntimeFailure): ExecuteError {
  const code = (EXECUTE_ERROR_CODES as readonly string[]).includes(f.code) ? (f.code as ExecuteErrorCode) : 'SANDBOX_CRASHED';
  const e: ExecuteError = { code, message: f.message };
  if (f.line !== undefined) e.line = f.line;
  if (f.column !== undefined) e.column = f.column;
  if (f.stack !== undefined) e.stack = f.stack;
  if ('toolId' in f && f.toolId !== undefined) e.toolId = f.toolId;
  return e;
}

function toBridgeError(err: unknown, toolId: string | undefined): Record<string, unknown> {
  if (err instanceof ToolError) {
    const j = err.toJSON() as unknown as Record<string, unknown>;
    const out: Record<string, unknown> = { code: j.code, message: j.message, retryable: j.retryable };
    if (j.toolId !== undefined || toolId !== undefined) out.toolId = j.toolId ?? toolId;
    if (j.issues) out.issues = j.issues;
    return out;
  }
  const message = err instanceof Error ? err.message : String(err);
  const out: Record<string, unknown> = { code: 'EXECUTION', message };
  if (toolId !== undefined) out.toolId = toolId;
  return out;
}

function brief(t: Tool, score?: number): Record<string, unknown> {
  const out: Record<string, unknown> = { id: t.id, name: t.name };
  if (t.namespace !== undefined) out.namespace = t.namespace;
  if (t.title !== undefined) out.title = t.title;
  if (t.description !== undefined) out.description = t.description;
  if (t.tags !== undefined) out.tags = t.tags;
  if (score !== undefined) out.score = score;
  return out;
}
