/**
 * One execution's host end of the bridge. The runtime only carries strings; everything that
 * matters is decided here, because the guest is hostile: message parsing with size, shape and
 * depth checks (`src/runtime/bridge.ts`), `allowedTools`, the tool-call budget and concurrency,
 * argument sizes, the one output budget shared by the value, the logs and the ledger, and how
 * the execution ended, decided from the host's own knowledge (its ledger, the runtime's report),
 * never from what the guest says about itself.
 */
import { SpanKind, SpanStatusCode, context, propagation, trace, type Context, type Span, type Tracer } from '@opentelemetry/api';
import { MAX_QUERY_CHARS } from '../index/query.js';
import { ATTR, EXECUTE_TOOL, type ExecutionMetrics } from '../run/telemetry.js';
import { ToolError } from '../model/errors.js';
import { capText } from '../model/text.js';
import { matchToolPattern } from '../model/tool-id.js';
import type { JsonValue, Tool } from '../model/tool.js';
import { MAX_VALUE_DEPTH, encodeReply, encodeSuccess, parseGuestMessage, type BridgeError, type GuestMessage } from '../runtime/bridge.js';
import type { Runtime, RuntimeFailure, RuntimeOutcome, RuntimeSession } from '../runtime/types.js';
import { isRerunnable } from './approval.js';
import type { ApprovalNote, DurablePart, LivePending } from './durable.js';
import { publicPending, toolTitle } from './durable.js';
import type { IssuePlan, JournalFailure, ReplyBody } from './journal.js';
import { stalledMessage } from './journal.js';
import { Ledger, OutputBudget } from './ledger.js';
import type { ResolvedLimits } from './limits.js';
import { ScriptPositions } from './positions.js';
import { closeProgram, type GuestEnv, type PreparedScript } from './prepare.js';
import type { ResolvedEgress } from './egress-policy.js';
import type { ExecuteError, ExecuteErrorCode, ExecuteOptions, ExecuteResult, ExecutorRunner, LimitName, LogEntry, ReportedLimits, ToolCallRecord } from './types.js';
import { EXECUTE_ERROR_CODES } from './types.js';
import { seedHex } from './entropy.js';

/** A guest → host message larger than this (beyond the limits) is a protocol violation. */
const MESSAGE_CAP_SLACK = 64 * 1024;
const MAX_SEARCH_LIMIT = 50;
/** Longest error message and stack of the script's own failure that the result keeps. */
const MAX_ERROR_MESSAGE_CHARS = 8 * 1024;
const MAX_ERROR_STACK_CHARS = 16 * 1024;
const LOG_LEVELS = new Set(['log', 'info', 'warn', 'error', 'debug']);
/**
 * Most timers (setTimeout, setInterval, AbortSignal.timeout) pending at once; the prelude refuses
 * the next one with a RangeError, and a guest that sends more anyway has broken the protocol.
 */
export const MAX_PENDING_TIMERS = 1000;

/** What an execution needs of its executor. */
export interface ExecutionHost {
  readonly runner: ExecutorRunner;
  readonly runtimeName: string;
  /** Maps a written tool ID to a registered one (exact, then JavaScript-safe spelling). */
  resolveToolId(id: string): string;
  /** Granted egress, checked; absent when scripts have no `fetch`. */
  readonly egress?: ResolvedEgress | undefined;
  readonly tracer: Tracer;
  readonly metrics: ExecutionMetrics;
}

/** The tool name of an execution's own span: what `toolexec serve` calls the tool that runs scripts. */
export const EXECUTION_TOOL_NAME = 'execute_code';

/** Which limit an execution error means, for `toolexec.limit_hits`. */
const LIMIT_OF: Partial<Record<ExecuteErrorCode, string>> = {
  TIMEOUT: 'timeoutMs',
  MEMORY_LIMIT: 'memoryMb',
  TOOL_CALL_LIMIT: 'maxToolCalls',
  OUTPUT_LIMIT: 'maxOutputBytes',
  SCRIPT_TOO_LARGE: 'maxScriptBytes',
};

interface PendingCall {
  id: number;
  toolId: string;
  args: Record<string, unknown>;
  record: ToolCallRecord;
  /** Durable: write a `call` entry before it runs (a crash must not run it twice). */
  recordFirst?: boolean;
}

/** Methods a replay may make again after a crash (RFC 9110 safe methods). */
const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

function byteLength(s: string): number {
  return Buffer.byteLength(s, 'utf8');
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export class Execution {
  private session: RuntimeSession | undefined;
  private readonly logs: LogEntry[] = [];
  private readonly budget: OutputBudget;
  private readonly ledger: Ledger;
  private callCount = 0;
  private active = 0;
  /** Calls waiting for a free slot (maxConcurrentToolCalls), by guest request id. */
  private readonly queue: Array<{ id: number; start: () => void; cancel?: () => void }> = [];
  /** Requests of `fetch()` in flight, by guest request id (the script may abort them). */
  private readonly fetches = new Map<number, AbortController>();
  private readonly controller = new AbortController();
  private hostFailure: ExecuteError | undefined;
  private doneMessage: { ok: true; value: JsonValue | undefined } | { ok: false; error: Record<string, unknown> } | undefined;
  private positions: ScriptPositions | undefined;
  private readonly messageCap: number;
  private finished = false;
  private deadline = Infinity;
  /** Durable: what the journal said about each request that reached a handler. */
  private readonly plans = new Map<number, IssuePlan>();
  /** Durable: the calls the script waits for, once it suspended. */
  suspended: LivePending[] | undefined;
  /** The guest's timers, by request id; all cleared when the execution ends. */
  private readonly timers = new Map<number, ReturnType<typeof setTimeout> | undefined>();
  private notes: Extract<GuestMessage, { op: 'notes' }> | undefined;
  /** The environment the prelude reads before the script runs (DESIGN.md "Durable executions"). */
  env: GuestEnv = { seed: seedHex(), now: Date.now(), durable: false };
  /** The execution's span, and the context its tool calls' spans are children of. */
  private readonly span: Span;
  private readonly traceContext: Context;

  constructor(
    private readonly host: ExecutionHost,
    private readonly limits: ResolvedLimits,
    private readonly options: Pick<ExecuteOptions, 'signal' | 'onToolCall' | 'onLog' | 'traceContext'>,
    private readonly started: number,
    /** The input's JSON, sent once when the prelude asks for it. */
    private inputText?: string,
    /** Present for a durable execution: its journal, approvals and suspension. */
    readonly durable?: DurablePart,
  ) {
    // A fetch body arrives as base64 when it is bytes: a third more than its size.
    const fetchBytes = host.egress ? Math.ceil((host.egress.maxRequestBytes * 4) / 3) : 0;
    this.messageCap = Math.max(limits.maxArgsBytes, limits.maxOutputBytes, fetchBytes) + MESSAGE_CAP_SLACK;
    this.budget = new OutputBudget(limits.maxOutputBytes);
    this.ledger = new Ledger(this.budget, options.onToolCall, () =>
      this.fail({ code: 'OUTPUT_LIMIT', message: `The script's output (value, logs and the record of its tool calls) exceeded maxOutputBytes (${limits.maxOutputBytes} bytes)` }),
    );
    const parent = options.traceContext ?? context.active();
    this.span = host.tracer.startSpan(
      `${EXECUTE_TOOL} ${EXECUTION_TOOL_NAME}`,
      { kind: SpanKind.INTERNAL, attributes: { [ATTR.operation]: EXECUTE_TOOL, [ATTR.toolName]: EXECUTION_TOOL_NAME, [ATTR.toolType]: 'function', [ATTR.runtime]: host.runtimeName } },
      parent,
    );
    this.traceContext = trace.setSpan(parent, this.span);
    if (durable) this.attachDurable(durable);
  }

  /** Wires a durable part to this execution's bridge. */
  private attachDurable(d: DurablePart): void {
    // The logs of earlier parts come back in the result, so they count against the budget now.
    const prior = d.journal.state.prior;
    if (prior?.logs) for (const l of prior.logs) this.budget.force(byteLength(String(l.message)));
    const send = (text: string) => {
      if (!this.doneMessage && !this.hostFailure) this.session?.send(text);
    };
    d.journal.attach({
      send: (text) => d.send(text),
      fail: (f: JournalFailure) => this.fail({ code: f.code, message: f.message }),
      delivered: () => d.delivered(),
      stalled: () => d.stalled(),
    });
    d.attach({
      send,
      // Tool calls running or queued, and timers that will fire (one past the deadline never does).
      busy: () => this.active > 0 || this.queue.length > 0 || [...this.timers.values()].some((t) => t !== undefined),
      ended: () => this.finished || this.doneMessage !== undefined || this.hostFailure !== undefined,
      remainingMs: () => (this.deadline === Infinity ? this.limits.timeoutMs : this.deadline - performance.now()),
      suspend: (pending) => this.suspend(pending),
      diverged: (message) => this.fail({ code: 'REPLAY_DIVERGED', message }),
      runApproved: (call, args, note) => this.runApproved(call, args, note),
      deny: (call, reason, note) => this.denyPending(call, reason, note),
    });
  }

  /** Ends this part because the script waits for decisions on `pending`. */
  private suspend(pending: LivePending[]): void {
    if (this.hostFailure || this.doneMessage) return;
    this.suspended = pending;
    const n = pending.length;
    this.fail({
      code: 'SUSPENDED',
      message: `The script waits for approval of ${n} tool call${n === 1 ? '' : 's'} (${[...new Set(pending.map((p) => p.toolId))].slice(0, 5).join(', ')}); approve or deny ${n === 1 ? 'it' : 'them'}, then resume the execution`,
    });
  }

  async start(runtime: Runtime, prepared: PreparedScript, filename: string): Promise<ExecuteResult> {
    this.positions = new ScriptPositions(prepared, filename);
    const signal = this.options.signal;
    if (signal?.aborted) return this.result({ failure: { code: 'CANCELLED', message: 'The execution was cancelled before it started' } });
    let session: RuntimeSession;
    try {
      session = runtime.start(
        {
          code: closeProgram(prepared.code, this.inputText !== undefined, this.env, this.host.egress !== undefined),
          filename,
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
      this.clearTimers();
      // Calls still in flight belong to a finished script: stop them. Only then: an abort without
      // a reason builds a DOMException, whose stack capture cost more than a fast tool call.
      if (this.active > 0 || this.queue.length > 0) this.controller.abort();
    }
    return this.result({ outcome, runtime: runtime.name });
  }

  /** Ends the execution from the host side with a reason the guest cannot override. */
  private fail(error: ExecuteError): void {
    if (this.hostFailure || this.doneMessage) return;
    this.hostFailure = error;
    this.durable?.close();
    this.durable?.journal.close();
    const code = ['TOOL_CALL_LIMIT', 'TOOL_NOT_ALLOWED', 'SUSPENDED', 'REPLAY_DIVERGED', 'STORE_ERROR'].includes(error.code) ? 'CANCELLED' : error.code;
    this.session?.terminate({ code: code as RuntimeFailure['code'], message: error.message });
  }

  /**
   * Answers a guest request. In a durable execution the reply is journaled first and `after` (the
   * ledger's report) runs once it is durable; otherwise both happen now.
   */
  private reply(id: number, body: ReplyBody, meta?: { ms?: number; at?: number }, after?: () => void): void {
    if (this.doneMessage || this.hostFailure) return;
    if (this.durable) {
      this.durable.journal.deliver(id, body, meta, after);
      return;
    }
    after?.();
    this.session?.send(body.ok ? encodeSuccess(id, body.value, body.valueText) : encodeReply({ id, ok: false, error: body.error }));
  }

  private onMessage(text: string): void {
    if (this.doneMessage || this.hostFailure) return;
    if (typeof text !== 'string' || text.length > this.messageCap) {
      this.fail({
        code: 'OUTPUT_LIMIT',
        message: `The sandbox sent a message of ${typeof text === 'string' ? text.length : 0} characters, over the cap of ${this.messageCap}`,
      });
      return;
    }
    // The first time through: the script's clock as the host sees it (for calls' own timeouts).
    if (this.deadline === Infinity) this.deadline = performance.now() + this.limits.timeoutMs;
    const msg = parseGuestMessage(text);
    if ('violation' in msg) return this.protocolViolation(msg.violation);
    if (this.durable) {
      if (msg.op === 'idle') return this.durable.onIdle(msg.n);
      // Every request with a reply is journaled (`untimer` has an id but no reply).
      if ('id' in msg && (msg.op as string) !== 'untimer' && this.durableIssue(msg as Extract<GuestMessage, { id: number }>, text)) return;
    } else if (msg.op === 'idle') return;
    switch (msg.op) {
      case 'log':
        return this.onLog(msg);
      case 'done':
        return this.onDone(msg, text);
      case 'input':
        return this.onInput(msg.id);
      case 'run':
        return this.onRun(msg, text);
      case 'search':
        return this.onSearch(msg);
      case 'describe':
        return this.onDescribe(msg);
      case 'timer':
        return this.onTimer(msg.id, msg.ms);
      case 'untimer':
        return this.onUntimer(msg.id);
      case 'notes':
        this.notes ??= msg;
        return;
      case 'fetch':
        return this.onFetch(msg);
      case 'abort':
        return this.onAbort(msg.target);
    }
  }

  /**
   * A durable execution's request, checked against the journal: replayed requests are answered
   * from it (and counted, and in the ledger as replayed), a divergent one ends the execution; the
   * others go on to their handler, which finds what the journal said in `plans`.
   */
  private durableIssue(msg: Extract<GuestMessage, { id: number }>, text: string): boolean {
    const journal = this.durable!.journal;
    const tool = msg.op === 'run' || msg.op === 'describe' ? (msg as { toolId?: unknown }).toolId : undefined;
    const plan = journal.issue(msg.id, msg.op, tool, text);
    if (plan.kind === 'diverged') {
      this.fail({ code: 'REPLAY_DIVERGED', message: plan.message });
      return true;
    }
    if (plan.kind !== 'replay') {
      if (msg.op === 'run' || msg.op === 'fetch') this.plans.set(msg.id, plan);
      return false;
    }
    if (msg.op === 'input') {
      this.inputText = undefined;
      return true;
    }
    if ((msg.op === 'run' || msg.op === 'search' || msg.op === 'describe' || msg.op === 'fetch') && !this.countCall()) return true;
    if (msg.op === 'fetch') {
      // The response comes from the journal: the request is not made again.
      const e = plan.entry;
      const request = (msg as Extract<GuestMessage, { op: 'fetch' }>).request;
      const method = typeof request.method === 'string' ? capText(request.method, 40) : 'GET';
      const url = typeof request.url === 'string' ? (this.host.egress?.redactor.redact(capText(request.url, 2_000)) ?? '') : '';
      const record = this.ledger.replayed(msg.id, 'fetch', { method, url }, method.length + url.length + 24, { ok: e.ok, ms: e.ms, at: e.at, ...(e.error ? { error: e.error } : {}) });
      record.kind = 'fetch';
    }
    if (msg.op === 'run') {
      const e = plan.entry;
      const written = typeof tool === 'string' ? tool : String(tool);
      const args = (msg as { args?: unknown }).args;
      this.ledger.replayed(msg.id, capText(this.resolve(written), 300), args, text.length, { ok: e.ok, ms: e.ms, at: e.at, ...(e.error ? { error: e.error } : {}) });
    }
    return true;
  }

  /**
   * A guest timer: answered after `ms` on the host's clock. Timers are not tool calls (no
   * maxToolCalls, no ledger), but they are bounded in number, and one that would fire after the
   * execution's deadline never fires: the execution ends as TIMEOUT first.
   */
  private onTimer(id: number, ms: number): void {
    if (this.timers.has(id)) return this.protocolViolation(`a second timer with id ${id}`);
    if (this.timers.size >= MAX_PENDING_TIMERS) return this.protocolViolation(`more than ${MAX_PENDING_TIMERS} pending timers`);
    const wait = Math.max(0, ms);
    const remaining = this.deadline - performance.now();
    if (wait > remaining) {
      this.timers.set(id, undefined);
      return;
    }
    this.timers.set(
      id,
      setTimeout(() => {
        this.timers.delete(id);
        this.reply(id, { ok: true, value: null });
      }, wait),
    );
  }

  private onUntimer(id: number): void {
    const t = this.timers.get(id);
    if (t !== undefined) clearTimeout(t);
    this.timers.delete(id);
  }

  private clearTimers(): void {
    for (const t of this.timers.values()) if (t !== undefined) clearTimeout(t);
    this.timers.clear();
  }

  private onInput(id: number): void {
    const text = this.inputText;
    if (text === undefined) return this.protocolViolation('an input request for an execution without input, or a second one');
    // A durable execution keeps it: a replay asks again.
    if (!this.durable) this.inputText = undefined;
    this.reply(id, { ok: true, value: undefined, valueText: text });
  }

  private protocolViolation(what: string): void {
    this.fail({ code: 'SANDBOX_CRASHED', message: `The sandbox broke the bridge protocol: it sent ${what}` });
  }

  private outputLimit(): void {
    this.fail({ code: 'OUTPUT_LIMIT', message: `The script's output (value, logs and the record of its tool calls) exceeded maxOutputBytes (${this.limits.maxOutputBytes} bytes)` });
  }

  private onLog(msg: Extract<GuestMessage, { op: 'log' }>): void {
    const level = typeof msg.level === 'string' && LOG_LEVELS.has(msg.level) ? (msg.level as LogEntry['level']) : 'log';
    const message = typeof msg.message === 'string' ? msg.message : String(msg.message);
    // A replayed part logs again what an earlier part logged: the result has those already.
    if (this.durable && this.durable.journal.logsToSkip > 0) {
      this.durable.journal.logsToSkip--;
      return;
    }
    if (!this.budget.take(byteLength(message))) return this.outputLimit();
    const entry: LogEntry = { level, message, at: Date.now() };
    this.logs.push(entry);
    const onLog = this.options.onLog;
    if (onLog) {
      try {
        onLog(entry);
      } catch {
        // a listener's bug changes nothing in the execution
      }
    }
  }

  private onDone(msg: Extract<GuestMessage, { op: 'done' }>, text: string): void {
    const journal = this.durable?.journal;
    if (journal?.replaying) {
      this.fail({ code: 'REPLAY_DIVERGED', message: stalledMessage(journal, true) });
      return;
    }
    if (msg.ok) {
      if (msg.depth > MAX_VALUE_DEPTH) {
        this.fail({ code: 'NOT_SERIALIZABLE', message: `The script's result is nested more than ${MAX_VALUE_DEPTH} levels deep; a JSON result may nest at most ${MAX_VALUE_DEPTH}` });
        return;
      }
      // The value's JSON is the message minus its envelope.
      const valueBytes = msg.hasValue ? byteLength(text) - byteLength('{"op":"done","ok":true,"value":}') : 0;
      if (!this.budget.take(valueBytes)) return this.outputLimit();
      this.doneMessage = { ok: true, value: msg.value as JsonValue | undefined };
    } else {
      this.doneMessage = { ok: false, error: msg.error };
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
    const id = this.host.resolveToolId(written);
    return id === written || this.allowed(id) ? id : written;
  }

  private onRun(msg: Extract<GuestMessage, { op: 'run' }>, text: string): void {
    if (!this.countCall()) return;
    const { id, args } = msg;
    const written = msg.toolId;
    if (typeof written !== 'string') {
      this.refuse(id, String(written), args, text.length, 'INVALID_TOOL_ID', `A tool ID must be a string, got ${written === null ? 'null' : typeof written}`);
      return;
    }
    const toolId = this.resolve(written);
    if (!this.allowed(toolId)) {
      this.refuse(id, toolId, args, text.length, 'TOOL_NOT_ALLOWED', `Tool ${toolId} is not allowed here (allowed: ${(this.limits.allowedTools ?? []).join(', ') || 'none'})`);
      return;
    }
    if (!isPlainObject(args)) {
      this.refuse(id, toolId, args, text.length, 'INPUT_VALIDATION', `The arguments of ${toolId} must be an object, got ${Array.isArray(args) ? 'an array' : args === null ? 'null' : typeof args}`);
      return;
    }
    if (msg.depth > MAX_VALUE_DEPTH) {
      this.refuse(id, toolId, null, 0, 'INPUT_VALIDATION', `The arguments of ${toolId} are nested more than ${MAX_VALUE_DEPTH} levels deep`);
      return;
    }
    // The arguments' JSON is part of the message, so the message's size bounds it: only a
    // message near the limit needs the exact figure.
    const argsBytes = text.length * 3 <= this.limits.maxArgsBytes ? 0 : byteLength(JSON.stringify(args));
    if (argsBytes > this.limits.maxArgsBytes) {
      this.refuse(id, toolId, args, text.length, 'INPUT_VALIDATION', `The arguments of ${toolId} are ${argsBytes} bytes; maxArgsBytes is ${this.limits.maxArgsBytes}`);
      return;
    }
    let recordFirst = false;
    if (this.durable) {
      const plan = this.plans.get(id);
      this.plans.delete(id);
      const tool = this.host.runner.index.get(toolId)?.tool;
      if (plan?.kind === 'interrupted' && !isRerunnable(tool)) {
        this.refuse(id, toolId, args, text.length, 'INTERRUPTED', `The host running this execution stopped while ${toolId} was in flight; it is not marked idempotent, so it was not run again (it may or may not have taken effect)`);
        return;
      }
      if (plan?.kind === 'pending') {
        const p = plan.call;
        const live: LivePending = {
          callId: p.callId,
          i: plan.index,
          guestId: id,
          toolId,
          tool: written,
          h: String(p.h ?? ''),
          args,
          argsBytes: text.length,
          ...(toolTitle(tool) !== undefined ? { title: toolTitle(tool)! } : {}),
          offered: true,
        };
        const d = p.decision;
        if (d?.action === 'approve') {
          const edited = d.args !== undefined;
          this.runApproved(live, edited ? (d.args as Record<string, unknown>) : args, { callId: p.callId, action: 'approve', ...(edited ? { edited: true } : {}), ...(d.by ? { by: d.by } : {}) });
        } else if (d?.action === 'deny') {
          this.denyPending(live, d.reason, { callId: p.callId, action: 'deny', ...(d.by ? { by: d.by } : {}) });
        } else {
          if (!this.holdPending(text.length)) return;
          this.durable.addPending(live, this.limits.timeoutMs);
        }
        return;
      }
      if (plan?.kind === 'new' && this.durable.gated(toolId, tool)) {
        if (!this.holdPending(text.length)) return;
        const h = this.durable.journal.hashOf(id);
        this.durable.addPending(
          { callId: `c${plan.index}`, i: plan.index, guestId: id, toolId, tool: written, h, args, argsBytes: text.length, ...(toolTitle(tool) !== undefined ? { title: toolTitle(tool)! } : {}) },
          this.limits.timeoutMs,
        );
        return;
      }
      recordFirst = !isRerunnable(tool);
    }
    const record = this.ledger.open(id, toolId, args, text.length);
    const call: PendingCall = { id, toolId, args, record, recordFirst };
    this.admit(id, () => this.dispatch(call));
  }

  /** Starts a call now, or queues it until fewer than maxConcurrentToolCalls run. */
  private admit(id: number, start: () => void, cancel?: () => void): void {
    if (this.active < this.limits.maxConcurrentToolCalls) start();
    else this.queue.push(cancel ? { id, start, cancel } : { id, start });
  }

  /** One call ended: the next queued one may start. */
  private release(): void {
    this.active--;
    const next = this.queue.shift();
    if (next && !this.doneMessage && !this.hostFailure) next.start();
  }

  /**
   * A pending call's arguments come back in the result (`pending`), so they take output budget
   * like a ledger record's: a script cannot hold more pending arguments than it could return.
   */
  private holdPending(argsBytes: number): boolean {
    if (this.budget.take(argsBytes + 64)) return true;
    this.outputLimit();
    return false;
  }

  /** A pending call was approved (live, or by a decision recorded before this part): it runs now, with the approved arguments. */
  private runApproved(p: LivePending, args: Record<string, unknown>, note: ApprovalNote): void {
    if (this.doneMessage || this.hostFailure) return;
    let argsBytes = p.argsBytes;
    if (note.edited) {
      argsBytes = byteLength(JSON.stringify(args));
      if (argsBytes > this.limits.maxArgsBytes) {
        this.refuse(p.guestId, p.toolId, null, 0, 'INPUT_VALIDATION', `The approved arguments of ${p.toolId} are ${argsBytes} bytes; maxArgsBytes is ${this.limits.maxArgsBytes}`, note);
        return;
      }
    }
    const record = this.ledger.open(p.guestId, p.toolId, args, argsBytes);
    record.approval = note;
    const tool = this.host.runner.index.get(p.toolId)?.tool;
    const call: PendingCall = { id: p.guestId, toolId: p.toolId, args, record, recordFirst: !isRerunnable(tool) };
    this.admit(p.guestId, () => this.dispatch(call));
  }

  /** A pending call was denied: the script gets APPROVAL_DENIED, which it may catch. */
  private denyPending(p: LivePending, reason: string | undefined, note: ApprovalNote): void {
    const why = reason ? `: ${capText(reason, 1000)}` : '';
    this.refuse(p.guestId, p.toolId, p.args, p.argsBytes, 'APPROVAL_DENIED', `The call to ${p.toolId} was denied${why}`, note);
  }

  private allowed(toolId: string): boolean {
    const patterns = this.limits.allowedTools;
    if (patterns && !patterns.some((p) => matchToolPattern(p, toolId))) return false;
    const base = this.limits.allowedToolsBase;
    if (base && !base.some((p) => matchToolPattern(p, toolId))) return false;
    for (const list of this.limits.allowedToolsAlso ?? []) if (!list.some((p) => matchToolPattern(p, toolId))) return false;
    return true;
  }

  /** A call refused before it reached the runner: in the ledger (within the output budget), and an error in the guest. */
  private refuse(id: number, toolId: string, args: unknown, argsBytes: number, code: string, message: string, approval?: ApprovalNote): void {
    // Never reached the runner, so its span is made here: the trace shows every call the script made.
    const span = this.host.tracer.startSpan(`${EXECUTE_TOOL} ${capText(toolId, 300)}`, { kind: SpanKind.INTERNAL, attributes: { [ATTR.operation]: EXECUTE_TOOL, [ATTR.toolName]: capText(toolId, 300), [ATTR.errorType]: code } }, this.traceContext);
    span.setStatus({ code: SpanStatusCode.ERROR, message: code });
    span.end();
    const record = this.ledger.open(id, capText(toolId, 300), args, argsBytes);
    if (approval) record.approval = approval;
    this.ledger.fail(record, 0, code, message);
    this.reply(id, { ok: false, error: { code, message, toolId } }, { ms: 0, at: record.startedAt });
  }

  private dispatch(call: PendingCall): void {
    this.active++;
    if (call.recordFirst && this.durable) {
      // Durable before it runs: after a crash the journal says it was issued, so it is not run
      // a second time unless the tool is idempotent.
      this.durable.journal.recordCall(call.id).then(
        () => this.launch(call),
        () => this.release(),
      );
      return;
    }
    this.launch(call);
  }

  private launch(call: PendingCall): void {
    if (this.finished || this.doneMessage || this.hostFailure) {
      this.release();
      return;
    }
    const { record } = call;
    record.startedAt = Date.now();
    const t0 = performance.now();
    // The rest of the execution's own budget, a little more: a script stuck on a tool then
    // reports the execution's TIMEOUT, not a tool TIMEOUT thrown into it; the execution's end
    // aborts every call still running anyway.
    const remainingMs = Math.max(1, this.deadline - t0) + 250;
    let p: Promise<unknown>;
    try {
      p = this.host.runner.run(call.toolId, call.args, { signal: this.controller.signal, timeoutMs: remainingMs, visible: this.visible, traceContext: this.traceContext });
    } catch (e) {
      p = Promise.reject(e);
    }
    p.then(
      (res) => {
        // The result is final once returned: a call that ends later changes nothing in it.
        if (this.finished) return;
        const ms = performance.now() - t0;
        this.reply(call.id, { ok: true, value: (res as { structured: unknown }).structured }, { ms, at: record.startedAt }, () => this.ledger.succeed(record, ms));
      },
      (err: unknown) => {
        if (this.finished) return;
        const e = toBridgeError(err, call.toolId);
        const ms = performance.now() - t0;
        this.reply(call.id, { ok: false, error: e }, { ms, at: record.startedAt }, () => this.ledger.fail(record, ms, e.code, e.message));
      },
    ).finally(() => this.release());
  }

  /**
   * A `fetch()` of the script: refused unless the executor has egress (the prelude defines no
   * `fetch` without it, so only a broken guest sends one), counted like a tool call, queued
   * like one, made by `egress.ts` under the policy, and recorded in the ledger as `fetch`.
   */
  private onFetch(msg: Extract<GuestMessage, { op: 'fetch' }>): void {
    const egress = this.host.egress;
    if (!egress) return this.protocolViolation('a fetch request, but this execution has no egress policy');
    if (!this.countCall()) return;
    const { id, request } = msg;
    const method = typeof request.method === 'string' ? capText(request.method, 40) : 'GET';
    const url = typeof request.url === 'string' ? egress.redactor.redact(capText(request.url, 2_000)) : String(request.url);
    const args = { method, url };
    // Durable: a request that may change something (not GET, HEAD or OPTIONS) is journaled as
    // issued before it is made, and one a crashed host left in flight is not made again.
    const safe = SAFE_METHODS.has(method.toUpperCase());
    if (this.durable) {
      const plan = this.plans.get(id);
      this.plans.delete(id);
      if (plan?.kind === 'interrupted' && !safe) {
        const record = this.ledger.open(id, 'fetch', args, method.length + url.length + 24);
        record.kind = 'fetch';
        this.ledger.fail(record, 0, 'INTERRUPTED', `The host running this execution stopped while fetch ${method} ${url} was in flight; a ${method} request is not made again (it may or may not have taken effect)`);
        this.reply(id, { ok: false, error: { code: 'INTERRUPTED', message: record.error!.message, toolId: 'fetch' } }, { ms: 0, at: record.startedAt });
        return;
      }
    }
    const record = this.ledger.open(id, 'fetch', args, method.length + url.length + 24);
    record.kind = 'fetch';
    const cancel = () => {
      this.ledger.fail(record, 0, 'CANCELLED', 'fetch(): the script aborted the request');
    };
    const recordFirst = this.durable !== undefined && !safe;
    this.admit(id, () => this.dispatchFetch(id, egress, request, record, recordFirst), cancel);
  }

  private dispatchFetch(id: number, egress: ResolvedEgress, request: Record<string, unknown>, record: ToolCallRecord, recordFirst: boolean): void {
    this.active++;
    if (recordFirst && this.durable) {
      this.durable.journal.recordCall(id).then(
        () => (this.finished || this.doneMessage || this.hostFailure || record.error ? this.release() : this.launchFetch(id, egress, request, record)),
        () => this.release(),
      );
      return;
    }
    this.launchFetch(id, egress, request, record);
  }

  private launchFetch(id: number, egress: ResolvedEgress, request: Record<string, unknown>, record: ToolCallRecord): void {
    record.startedAt = Date.now();
    const t0 = performance.now();
    const controller = new AbortController();
    this.fetches.set(id, controller);
    // The execution's end stops every request still running.
    const onEnd = () => controller.abort();
    this.controller.signal.addEventListener('abort', onEnd, { once: true });
    const timeoutMs = Math.max(1, this.deadline - t0);
    const { method, url } = record.args as { method: string; url: string };
    // An HTTP client span (semantic conventions for HTTP): its trace context goes out in the
    // request's headers, as an instrumented HTTP client's would (nothing without a propagator).
    const span = this.host.tracer.startSpan(method.toUpperCase(), { kind: SpanKind.CLIENT, attributes: { 'http.request.method': method.toUpperCase(), 'url.full': url } }, this.traceContext);
    const headers: Record<string, string> = {};
    propagation.inject(trace.setSpan(this.traceContext, span), headers);
    let server: { 'server.address': string; 'server.port': number } | undefined;
    try {
      const u = new URL(url);
      server = { 'server.address': u.hostname, 'server.port': Number(u.port || (u.protocol === 'https:' ? 443 : 80)) };
      span.setAttributes(server);
    } catch {
      // the request itself reports a bad URL
    }
    const ended = (status: number | undefined, errorType: string | undefined) => {
      const attributes: Record<string, string | number> = { 'http.request.method': method.toUpperCase(), ...(server ?? {}) };
      if (status !== undefined) attributes['http.response.status_code'] = status;
      if (errorType !== undefined) attributes[ATTR.errorType] = errorType;
      this.host.metrics.fetchDuration.record((performance.now() - t0) / 1000, attributes);
      if (errorType === 'EGRESS_LIMIT') this.host.metrics.limitHits.add(1, { [ATTR.limit]: 'egress', [ATTR.runtime]: this.host.runtimeName });
      if (span.isRecording()) {
        if (status !== undefined) span.setAttribute('http.response.status_code', status);
        if (errorType !== undefined) {
          span.setAttribute(ATTR.errorType, errorType);
          span.setStatus({ code: SpanStatusCode.ERROR, message: errorType });
        }
      }
      span.end();
    };
    import('./egress.js')
      .then((m) => m.egressFetch(egress, m.parseFetchRequest(request, egress.maxRequestBytes), { signal: controller.signal, timeoutMs, headers }).catch((e: unknown) => Promise.reject(m.toEgressError(e))))
      .then(
        (outcome) => {
          // 4xx and 5xx answers are answers: an error for the span, not for the script.
          ended(outcome.reply.status, outcome.reply.status >= 400 ? String(outcome.reply.status) : undefined);
          if (this.finished || record.error) return;
          record.status = outcome.reply.status;
          const ms = performance.now() - t0;
          // Durable: the answer is journaled first (a replay gets the same response, the request is not made again).
          this.reply(id, { ok: true, value: outcome.reply }, { ms, at: record.startedAt }, () => this.ledger.succeed(record, ms));
        },
        (err: { code: string; message: string }) => {
          ended(undefined, err.code);
          if (this.finished || record.error) return;
          const message = egress.redactor.redact(err.message);
          const ms = performance.now() - t0;
          this.reply(id, { ok: false, error: { code: err.code, message, toolId: 'fetch' } }, { ms, at: record.startedAt }, () => this.ledger.fail(record, ms, err.code, message));
        },
      )
      .finally(() => {
        this.fetches.delete(id);
        this.controller.signal.removeEventListener('abort', onEnd);
        this.release();
      });
  }

  /** The script gave up on a request (`AbortSignal`): stop it, or take it out of the queue. */
  private onAbort(target: number): void {
    const running = this.fetches.get(target);
    if (running) {
      const record = this.ledger.request(target);
      if (record && !record.error && !record.ok) this.ledger.fail(record, Math.max(0, Date.now() - record.startedAt), 'CANCELLED', 'fetch(): the script aborted the request');
      running.abort();
      return;
    }
    const i = this.queue.findIndex((q) => q.id === target);
    if (i !== -1) this.queue.splice(i, 1)[0]!.cancel?.();
  }

  /** What a did-you-mean may name: only tools this script may call. */
  private readonly visible = (toolId: string): boolean => this.allowed(toolId);

  private onSearch(msg: Extract<GuestMessage, { op: 'search' }>): void {
    if (!this.countCall()) return;
    const { id } = msg;
    const query = typeof msg.query === 'string' ? msg.query : '';
    // Refused here, before the index sees it, with the script's own error code.
    if (query.length > MAX_QUERY_CHARS) {
      this.reply(id, { ok: false, error: { code: 'INPUT_VALIDATION', message: `searchTools(query): the query is ${query.length} characters; the most is ${MAX_QUERY_CHARS}` } });
      return;
    }
    const rawLimit = typeof msg.limit === 'number' && Number.isFinite(msg.limit) ? Math.floor(msg.limit) : 10;
    const limit = Math.min(MAX_SEARCH_LIMIT, Math.max(1, rawLimit));
    try {
      const page = this.host.runner.index.search(query, { limit });
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

  private onDescribe(msg: Extract<GuestMessage, { op: 'describe' }>): void {
    if (!this.countCall()) return;
    const { id } = msg;
    const written = msg.toolId;
    if (typeof written !== 'string') {
      this.reply(id, { ok: false, error: { code: 'INVALID_TOOL_ID', message: 'describeTool(toolId) needs a string' } });
      return;
    }
    const toolId = this.resolve(written);
    const entry = this.allowed(toolId) ? this.host.runner.index.get(toolId) : undefined;
    if (!entry) {
      this.reply(id, { ok: false, error: { code: 'TOOL_NOT_FOUND', message: `No tool ${capText(toolId, 300)}`, toolId: capText(toolId, 300) } });
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
    this.durable?.close();
    this.durable?.journal.close();
    const outcome = end.outcome;
    let error: ExecuteError | undefined;
    let value: JsonValue | undefined;
    if (end.failure) error = normalizeError(end.failure);
    else if (this.hostFailure) error = this.hostFailure;
    else if (outcome?.failure) error = this.runtimeError(outcome.failure);
    else if (this.doneMessage?.ok) value = this.doneMessage.value;
    else if (this.doneMessage) error = this.guestError(this.doneMessage.error);
    else error = { code: 'SANDBOX_CRASHED', message: 'The sandbox ended without a result' };
    this.clearTimers();
    // Warnings only for a script that ended by itself (a value, or its own error): what a limit
    // or a crash cut short is said by the error.
    const warnings = this.doneMessage && !this.hostFailure && !outcome?.failure && !end.failure ? this.warnings() : [];
    this.ledger.cancelUnfinished();
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
    const { allowedToolsBase: _base, allowedToolsAlso: _also, ...limits } = this.limits;
    const reported: ReportedLimits = { ...limits, enforced };
    const out: ExecuteResult = {
      ok: error === undefined,
      logs: this.logs,
      toolCalls: this.ledger.records,
      stats: {
        runtime: end.runtime ?? this.host.runtimeName,
        durationMs: performance.now() - this.started,
        toolCalls: this.ledger.records.length,
        outputBytes: this.budget.used,
      },
      limits: reported,
    };
    if (this.durable) {
      const j = this.durable.journal;
      out.stats.replayedCalls = j.replayedCalls;
      if (j.replayMs !== undefined) out.stats.replayMs = j.replayMs;
      if (this.suspended) out.pending = this.suspended.map(publicPending);
    }
    if (outcome !== undefined) out.stats.queuedMs = outcome.stats.queuedMs;
    if (outcome?.stats.cpuMs !== undefined) out.stats.cpuMs = outcome.stats.cpuMs;
    if (outcome?.stats.memoryBytes !== undefined) out.stats.memoryBytes = outcome.stats.memoryBytes;
    if (error) out.error = error;
    else if (value !== undefined) out.value = value;
    if (warnings.length > 0) out.warnings = warnings;
    this.observe(out);
    return out;
  }

  /**
   * What the script may not have meant, in words: tool calls still running when it ended (they
   * are cancelled), calls whose promise it never consumed, setTimeout callbacks that never ran,
   * a NaN or Infinity that JSON carried as null. Tool calls are named from the host's ledger;
   * the guest only says which request ids it never awaited.
   */
  private warnings(): string[] {
    const out: string[] = [];
    const unawaited = new Set<ToolCallRecord>();
    for (const id of this.notes?.unawaited ?? []) {
      const r = this.ledger.request(id);
      if (r) unawaited.add(r);
    }
    const records = this.ledger.records;
    for (let i = 0; i < records.length && out.length < 20; i++) {
      const r = records[i]!;
      const never = unawaited.has(r);
      if (!r.ok && !r.error) {
        out.push(`Tool call ${i + 1} (${r.toolId}) was still running when the script ended, and was cancelled${never ? ': the script never awaited it' : ''}. Did you forget await?`);
      } else if (never) {
        out.push(`Tool call ${i + 1} (${r.toolId}) was never awaited: the script did not wait for it or use its result. Did you forget await?`);
      }
    }
    const queued = this.queue.length;
    if (queued > 0) out.push(`${queued} tool call${queued === 1 ? ' was' : 's were'} still waiting for a free slot (maxConcurrentToolCalls) when the script ended, and never ran. Did you forget await?`);
    const timeouts = this.notes?.timeouts ?? 0;
    if (timeouts > 0) out.push(`${timeouts} setTimeout callback${timeouts === 1 ? ' was' : 's were'} still pending when the script ended, and never ran. To wait, await a promise: await new Promise((r) => setTimeout(r, ms)).`);
    if (this.notes?.nonFinite) out.push(`The result held a number JSON cannot carry (${this.notes.nonFinite}); it was sent as null.`);
    return out;
  }

  /** The execution's span ends and its metrics are recorded, once. */
  private observed = false;
  private observe(out: ExecuteResult): void {
    if (this.observed) return;
    this.observed = true;
    const code = out.error?.code;
    const runtime = out.stats.runtime;
    const attributes: Record<string, string> = { [ATTR.runtime]: runtime };
    if (code !== undefined) attributes[ATTR.errorType] = code;
    const metrics = this.host.metrics;
    metrics.executions.add(1, attributes);
    metrics.duration.record(out.stats.durationMs / 1000, attributes);
    const limit = code === undefined ? undefined : LIMIT_OF[code];
    if (limit !== undefined) metrics.limitHits.add(1, { [ATTR.limit]: limit, [ATTR.runtime]: runtime });
    const span = this.span;
    if (span.isRecording()) {
      span.setAttributes({ [ATTR.runtime]: runtime, 'toolexec.tool_calls': out.stats.toolCalls, 'toolexec.output_bytes': out.stats.outputBytes });
      if (out.stats.queuedMs !== undefined) span.setAttribute('toolexec.queued_ms', out.stats.queuedMs);
      if (limit !== undefined) span.setAttribute(ATTR.limit, limit);
      if (code !== undefined) {
        span.setAttribute(ATTR.errorType, code);
        if (out.error?.toolCode !== undefined) span.setAttribute('toolexec.tool_error.code', out.error.toolCode);
        span.setStatus({ code: SpanStatusCode.ERROR, message: code });
      }
    }
    span.end();
  }

  private runtimeError(f: RuntimeFailure): ExecuteError {
    const e = normalizeError(f);
    e.message = sameWords(e.message, this.limits);
    const positions = this.positions!;
    delete e.line;
    delete e.column;
    Object.assign(e, f.line !== undefined ? positions.map(f.line, f.column) : positions.fromStack(f.stack));
    if (e.stack) e.stack = positions.stack(e.stack);
    return e;
  }

  /**
   * The script's own failure, as the guest reported it. What it says about itself is kept as its
   * message (cut to a bound); what it could lie about is the host's to decide: a tool error is
   * looked up in the ledger by the id of the call it answered, so a rethrown error with an edited
   * `code` still reports the code the host gave it, and an error the script made up is a
   * RUNTIME_ERROR. An engine running out of memory is the runtime's to report, not the script's.
   */
  private guestError(raw: Record<string, unknown>): ExecuteError {
    const positions = this.positions!;
    const name = typeof raw.name === 'string' ? capText(raw.name, 200) : 'Error';
    const message = typeof raw.message === 'string' ? capText(raw.message, MAX_ERROR_MESSAGE_CHARS) : 'the script failed';
    const stack = typeof raw.stack === 'string' ? capText(raw.stack, MAX_ERROR_STACK_CHARS) : undefined;
    let code: ExecuteErrorCode = raw.code === 'NOT_SERIALIZABLE' ? 'NOT_SERIALIZABLE' : 'RUNTIME_ERROR';
    let record: ToolCallRecord | undefined;
    if (raw.code === 'TOOL_ERROR' && typeof raw.callId === 'number') {
      record = this.ledger.request(raw.callId);
      if (record?.error) code = record.error.code === 'TOOL_NOT_ALLOWED' ? 'TOOL_NOT_ALLOWED' : 'TOOL_ERROR';
      else record = undefined;
    }
    const e: ExecuteError = {
      code,
      message: name === 'Uncaught' ? `Uncaught ${message}` : record ? `${record.toolId} failed with ${record.error!.code}: ${message}` : `${name}: ${message}`,
    };
    if (stack) e.stack = positions.stack(stack);
    if (record) {
      e.toolId = record.toolId;
      e.toolCode = record.error!.code;
    }
    Object.assign(e, positions.fromStack(stack));
    return e;
  }
}

/**
 * The same failure reads the same in every runtime: each far side words its limit breaches in
 * its own way, so they are rewritten here to one text per limit, from the limits in force.
 * Anything after the far side's sentence (a supervisor's note) is kept.
 */
const SAME_WORDS: Array<[RegExp, (l: ResolvedLimits) => string]> = [
  [/^The script exceeded its time limit of \d+ ms/, (l) => `The script exceeded its time limit of ${l.timeoutMs} ms`],
  [/^The script exceeded its CPU budget of \d+ ms/, (l) => `The script exceeded its CPU budget of ${l.cpuMs} ms`],
  [
    /^(?:The script ran out of memory(?: \(limit \d+ MB\))?|the script exceeded the memory limit \(\d+ MB\)|The script exceeded its memory limit of \d+ MB(?: \(the guest heap is exhausted\))?)/,
    (l) => `The script exceeded its memory limit of ${l.memoryMb} MB`,
  ],
  [/^The script's output \(logs and result\) exceeded maxOutputBytes \(\d+ bytes\)/, (l) => `The script's output (value, logs and the record of its tool calls) exceeded maxOutputBytes (${l.maxOutputBytes} bytes)`],
];
function sameWords(message: string, limits: ResolvedLimits): string {
  for (const [re, words] of SAME_WORDS) if (re.test(message)) return message.replace(re, words(limits));
  return message;
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

function toBridgeError(err: unknown, toolId: string | undefined): BridgeError {
  if (err instanceof ToolError) {
    const j = err.toJSON() as unknown as Record<string, unknown>;
    const out: BridgeError = { code: String(j.code), message: String(j.message), retryable: j.retryable === true };
    if (j.toolId !== undefined || toolId !== undefined) out.toolId = String(j.toolId ?? toolId);
    if (Array.isArray(j.issues)) out.issues = j.issues;
    return out;
  }
  const message = err instanceof Error ? err.message : String(err);
  const out: BridgeError = { code: 'EXECUTION', message };
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
