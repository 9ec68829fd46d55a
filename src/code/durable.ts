/**
 * The part of a durable execution that runs now: its journal (journal.ts), its approval policy,
 * the calls waiting for a decision, the live approval handler, and the decision to suspend.
 *
 * When to suspend. A script suspends when it cannot go on without its pending calls: nothing
 * else of it is in flight on the host (tool calls, timers, replies being journaled) and the guest
 * is idle. The host cannot see into the guest, so it asks: a probe (`{"probe":n}`) that the
 * prelude answers (`{"op":"idle","n":n}`) from its receive function, which every runtime calls
 * only once the guest has run everything it could. When the answer comes and no reply was sent
 * after the probe, every request the guest can make without new replies has arrived: all the
 * gated calls of a `Promise.all` are pending together, and one suspension covers them.
 */
import { capText } from '../model/text.js';
import type { Tool } from '../model/tool.js';
import { toStoreDecisions, type ApprovalPolicy } from './approval.js';
import type { Journal } from './journal.js';
import type { JsonValue } from '../model/json.js';
import type { ApprovalHandler, PendingToolCall } from './types.js';

/** A call that waits for a decision in this part. */
export interface LivePending {
  callId: string;
  /** Its index in the execution's issue order. */
  i: number;
  /** The guest's request id in this part. */
  guestId: number;
  /** The registered tool ID, and the ID as the script wrote it. */
  toolId: string;
  tool: string;
  h: string;
  args: Record<string, unknown>;
  argsBytes: number;
  title?: string;
  /** Shown to the live handler already. */
  offered: boolean;
}

/** How a decided call is recorded in the ledger. */
export interface ApprovalNote {
  callId: string;
  action: 'approve' | 'deny';
  edited?: true;
  by?: string;
}

/** What the durable part needs from its execution (the host end of the bridge). */
export interface DurableHooks {
  send(text: string): void;
  /** Tool calls running or queued. */
  busy(): boolean;
  /** Whether the execution has ended (nothing may start any more). */
  ended(): boolean;
  /** Milliseconds until the execution's deadline. */
  remainingMs(): number;
  /** Ends the part: the script waits for `pending`. */
  suspend(pending: LivePending[]): void;
  /** The replay went another way than the journal. */
  diverged(message: string): void;
  runApproved(call: LivePending, args: Record<string, unknown>, note: ApprovalNote): void;
  deny(call: LivePending, reason: string | undefined, note: ApprovalNote): void;
}

export interface DurablePartOptions {
  executionId: string;
  principal: string;
  journal: Journal;
  policy: ApprovalPolicy;
  handler: ApprovalHandler | undefined;
  approvalTimeoutMs: number;
  stalledMessage: (finished: boolean) => string;
}

/** Time kept back from the deadline: a part that waits for decisions suspends before it would time out. */
function suspendMarginMs(timeoutMs: number): number {
  return Math.max(50, Math.min(1000, Math.floor(timeoutMs / 10)));
}

export class DurablePart {
  readonly journal: Journal;
  readonly policy: ApprovalPolicy;
  readonly executionId: string;
  readonly principal: string;
  private readonly pending = new Map<string, LivePending>();
  private probeSeq = 0;
  private probeOut = 0;
  private sentAfterProbe = false;
  private deciding = 0;
  private readonly handlers = new Set<AbortController>();
  private deadlineTimer: NodeJS.Timeout | undefined;
  private hooks!: DurableHooks;
  private closed = false;

  constructor(private readonly options: DurablePartOptions) {
    this.journal = options.journal;
    this.policy = options.policy;
    this.executionId = options.executionId;
    this.principal = options.principal;
  }

  /** Connects the execution; called once, before the guest starts. */
  attach(hooks: DurableHooks): void {
    this.hooks = hooks;
  }

  /** Every host → guest message goes through here, so a probe knows whether it went stale. */
  send(text: string): void {
    if (this.probeOut !== 0) this.sentAfterProbe = true;
    this.hooks.send(text);
  }

  /** Whether a call to `toolId` needs a decision. */
  gated(toolId: string, tool: Tool | undefined): boolean {
    return this.policy.requires(toolId, tool);
  }

  /** A call waits for a decision now. */
  addPending(call: Omit<LivePending, 'offered'>, timeoutMs: number): void {
    this.pending.set(call.callId, { ...call, offered: false });
    if (!this.deadlineTimer) {
      // Waiting for people must not turn into the script's TIMEOUT: suspend first.
      const at = Math.max(1, this.hooks.remainingMs() - suspendMarginMs(timeoutMs));
      this.deadlineTimer = setTimeout(() => this.atDeadline(), at);
      this.deadlineTimer.unref?.();
    }
    // Batched: the other calls of the same turn (a Promise.all) arrive first.
    queueMicrotask(() => this.probe());
  }

  /** A reply reached the guest (or its journal write finished): maybe it can suspend now. */
  delivered(): void {
    if (this.pending.size > 0) this.probe();
  }

  /** The replay waits for a request that does not come: ask whether the guest is idle. */
  stalled(): void {
    if (this.journal.waitingForGuest) this.probe();
  }

  /** Pending calls, for the result. */
  pendingCalls(): LivePending[] {
    return [...this.pending.values()];
  }

  private probe(): void {
    if (this.closed || this.probeOut !== 0 || this.hooks.ended()) return;
    if (this.pending.size === 0 && !this.journal.waitingForGuest) return;
    this.probeOut = ++this.probeSeq;
    this.sentAfterProbe = false;
    this.hooks.send(`{"probe":${this.probeOut}}`);
  }

  /** The guest answered a probe. */
  onIdle(n: number): void {
    if (this.closed || n !== this.probeOut) return;
    this.probeOut = 0;
    if (this.sentAfterProbe) {
      // Replies went out after the probe: the guest may be running them. Ask again.
      this.sentAfterProbe = false;
      this.probe();
      return;
    }
    if (this.journal.waitingForGuest) {
      // Idle, and the journal's next reply answers a request the guest never made: the replay
      // went another way (live replies are held back until it ends, so nothing else can come).
      this.hooks.diverged(this.options.stalledMessage(false));
      return;
    }
    if (this.pending.size === 0) return;
    const fresh = [...this.pending.values()].filter((p) => !p.offered);
    if (fresh.length > 0 && this.options.handler) {
      this.offer(fresh);
      return;
    }
    this.trySuspend();
  }

  private trySuspend(): void {
    if (this.closed || this.pending.size === 0 || this.deciding > 0 || this.hooks.busy() || this.journal.busy) return;
    this.close();
    this.hooks.suspend([...this.pending.values()]);
  }

  private atDeadline(): void {
    this.deadlineTimer = undefined;
    if (this.closed || this.pending.size === 0) return;
    for (const ac of this.handlers) ac.abort(new Error('the execution is about to reach its timeoutMs'));
    this.deciding = 0;
    this.trySuspend();
  }

  private offer(calls: LivePending[]): void {
    const handler = this.options.handler!;
    for (const c of calls) c.offered = true;
    this.deciding++;
    const ac = new AbortController();
    this.handlers.add(ac);
    const wait = Math.max(1, Math.min(this.options.approvalTimeoutMs, this.hooks.remainingMs() - 50));
    const timer = setTimeout(() => ac.abort(new Error(`no decision within approvalTimeoutMs (${this.options.approvalTimeoutMs} ms)`)), wait);
    timer.unref?.();
    const shown: PendingToolCall[] = calls.map(publicPending);
    let settled = false;
    const done = () => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      this.handlers.delete(ac);
      if (this.deciding > 0) this.deciding--;
      if (this.pending.size > 0) this.probe();
    };
    ac.signal.addEventListener('abort', done, { once: true });
    Promise.resolve()
      .then(() => handler(shown, { executionId: this.executionId, principal: this.principal, signal: ac.signal }))
      .then(
        (decisions) => {
          if (!ac.signal.aborted && !this.closed && !this.hooks.ended() && decisions) this.apply(decisions, 'live');
        },
        () => {
          // A handler that fails decides nothing: the calls stay pending.
        },
      )
      .finally(done);
  }

  /** Applies decisions to pending calls of this part (live ones; resumed ones come from the journal). */
  private apply(decisions: Parameters<typeof toStoreDecisions>[0], by: string): void {
    let list;
    try {
      list = toStoreDecisions(decisions, by, 'onApproval');
    } catch {
      return;
    }
    for (const d of list) {
      const call = this.pending.get(d.callId);
      if (!call) continue;
      this.pending.delete(d.callId);
      if (d.action === 'approve') {
        const edited = d.args !== undefined;
        const note: ApprovalNote = { callId: call.callId, action: 'approve', by, ...(edited ? { edited: true } : {}) };
        this.journal.recordApproval({ i: call.i, callId: call.callId, action: 'approve', by, ...(edited ? { edited: true } : {}) });
        this.hooks.runApproved(call, (d.args as Record<string, unknown> | undefined) ?? call.args, note);
      } else {
        const note: ApprovalNote = { callId: call.callId, action: 'deny', by };
        this.journal.recordApproval({ i: call.i, callId: call.callId, action: 'deny', by, ...(d.reason !== undefined ? { reason: d.reason } : {}) });
        this.hooks.deny(call, d.reason, note);
      }
    }
  }

  /** Stops probing and waiting; handlers still running are told to stop. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    clearTimeout(this.deadlineTimer);
    for (const ac of this.handlers) ac.abort(new Error('the execution ended'));
    this.handlers.clear();
  }
}

/** A pending call as callers see it. */
export function publicPending(c: Pick<LivePending, 'callId' | 'toolId' | 'args' | 'title'>): PendingToolCall {
  return { callId: c.callId, toolId: c.toolId, args: c.args as JsonValue, ...(c.title !== undefined ? { title: c.title } : {}) };
}

/** What the person deciding is shown of a tool: its title, else its description's first line. */
export function toolTitle(tool: Tool | undefined): string | undefined {
  const t = tool?.title ?? tool?.annotations?.title ?? tool?.description?.split('\n')[0];
  return t === undefined || t === '' ? undefined : capText(t, 200);
}
