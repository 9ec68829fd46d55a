/**
 * The journal and replay of a durable execution (DESIGN.md "Durable executions and approvals"):
 * the host end's record of everything that entered the guest, and the replay that answers a
 * re-run of the script from that record until it reaches calls the record cannot answer.
 *
 * Nothing of the sandbox is saved. What makes a re-run see what the first run saw:
 * - every host reply (tool results, refusals, search and describe answers, timers, the input)
 *   is journaled, with the time it was delivered (`t`), before the guest sees it;
 * - the guest's clock advances only to those times and its randomness is seeded by the
 *   execution's recorded `seed` (the prelude's side of `env.durable`);
 * - replies are delivered in their first delivery order, one at a time, each after the guest
 *   has run everything the previous one caused (every runtime drains pending jobs between two
 *   replies), so `Promise.all`, `Promise.race` and `.then` chains interleave the same way.
 *
 * A call is identified by its issue order (0, 1, 2... over every request the guest makes), its
 * op and tool, and a hash of its request text (the arguments): on replay the k-th request must
 * match the journal's k-th, else `REPLAY_DIVERGED` names the call and what differed.
 *
 * Entries this module writes (besides the store's own `suspend` and `decision` entries):
 *   {type:'call', i, op, tool?, h}                 before a non-idempotent tool call is dispatched
 *   {type:'reply', i, op, tool?, h, t, ok, value|error, ms?, at?}   a delivery, before the guest sees it
 *   {type:'approval', i, callId, action, by?, edited?}   a decision taken live (by an approval handler)
 *   {type:'part', n, result}                        the cumulative result at a suspension
 */
import { encodeReply, type BridgeError } from '../runtime/bridge.js';
import { StoreError } from '../store/errors.js';
import type { JournalWriter } from '../store/journal-writer.js';
import type { ExecutionRecord, JournalEntry, PendingApproval } from '../store/types.js';
import type { ExecuteResult } from './types.js';

/** What identifies a call in the journal. */
export interface CallInfo {
  op: string;
  /** The tool ID as the script wrote it (run, describe). */
  tool?: string;
  /** Hash of the request text after its id: the op, tool and arguments. */
  h: string;
}

export interface ReplyEntry extends JournalEntry {
  type: 'reply';
  i: number;
  op: string;
  tool?: string;
  h: string;
  /** Epoch ms of delivery: the guest's clock in a durable execution. */
  t: number;
  ok: boolean;
  value?: unknown;
  error?: BridgeError;
  /** For tool calls: how long the call took, and when it started (for the replayed ledger). */
  ms?: number;
  at?: number;
  /** The input reply: its value is the execution's stored input, not repeated here. */
  input?: true;
}

/** A reply body as the host end makes it. `valueText` is JSON already (the input). */
export type ReplyBody = { ok: true; value: unknown; valueText?: string } | { ok: false; error: BridgeError };

/** What a request of the guest is, given the journal. */
export type IssuePlan =
  | { kind: 'new'; index: number }
  /** Answered from the journal: the host must not act on it again. */
  | { kind: 'replay'; index: number; entry: ReplyEntry }
  | { kind: 'diverged'; index: number; message: string }
  /** Pending at the last suspension: decided (approved, perhaps with edited arguments, or denied), or not. */
  | { kind: 'pending'; index: number; call: PendingApproval }
  /** Issued before a crash and never answered. */
  | { kind: 'interrupted'; index: number };

/**
 * Short hash of a request text (64 bits: two FNV-1a variants over the UTF-16 units). It only has
 * to tell a replayed request from a changed one at the same position of the same script, so a
 * cryptographic hash would buy nothing (the script controls its own requests either way) and
 * cost more than the rest of a journaled call (`createHash` is ~2 µs for a small request).
 */
export function requestHash(text: string): string {
  // `{"id":N,` is left out: request ids are the prelude's counter, the position is the index.
  const start = text.indexOf(',') + 1;
  let a = 0x811c9dc5;
  let b = 0x01000193 ^ (text.length - start);
  for (let i = start; i < text.length; i++) {
    const c = text.charCodeAt(i);
    a = Math.imul(a ^ c, 0x01000193);
    b = Math.imul(b ^ c, 0x5bd1e995) ^ (b >>> 15);
  }
  return (a >>> 0).toString(36) + '.' + (b >>> 0).toString(36);
}

/** A trailing journal writes at least every this many entries, and this often. */
const TRAILING_BATCH = 256;
const TRAILING_FLUSH_MS = 50;

/** Appends `,"t":<t>` to a reply's JSON object text. */
function stamp(text: string, t: number): string {
  return `${text.slice(0, -1)},"t":${t}}`;
}

/** A reply in the envelope form, which `stamp` can extend with the clock. */
function encode(id: number, body: ReplyBody): string {
  if (body.ok && body.valueText !== undefined) return `{"id":${id},"ok":true,"value":${body.valueText}}`;
  return encodeReply(body.ok ? { id, ok: true, value: body.value } : { id, ok: false, error: body.error });
}

/** What the journal of an execution said when a part started. */
export interface JournalState {
  /** Per call index: what the call was. */
  calls: Map<number, CallInfo>;
  /** Deliveries in their order. */
  replies: ReplyEntry[];
  /** The delivery of each answered call. */
  replied: Map<number, ReplyEntry>;
  /** Calls of the latest suspension, by index. */
  pending: Map<number, PendingApproval>;
  /** Issued without an answer and not pending: the host died while they were in flight. */
  interrupted: Set<number>;
  /** The cumulative result the latest suspension recorded. */
  prior: ExecuteResult | undefined;
  parts: number;
}

/** Reads a journal (leniently: entries it does not know are skipped). */
export function readJournal(record: ExecutionRecord | undefined): JournalState {
  const state: JournalState = { calls: new Map(), replies: [], replied: new Map(), pending: new Map(), interrupted: new Set(), prior: undefined, parts: 0 };
  if (!record) return state;
  const issued = new Set<number>();
  for (const e of record.journal) {
    const i = (e as { i?: unknown }).i;
    const index = typeof i === 'number' && Number.isSafeInteger(i) && i >= 0 ? i : -1;
    switch (e.type) {
      case 'call':
        if (index >= 0 && typeof e.h === 'string' && typeof e.op === 'string') {
          state.calls.set(index, { op: e.op, h: e.h, ...(typeof e.tool === 'string' ? { tool: e.tool } : {}) });
          issued.add(index);
        }
        break;
      case 'reply':
        if (index >= 0 && typeof e.h === 'string' && typeof e.op === 'string' && typeof e.t === 'number' && !state.replied.has(index)) {
          state.calls.set(index, { op: e.op, h: e.h, ...(typeof e.tool === 'string' ? { tool: e.tool } : {}) });
          state.replies.push(e as ReplyEntry);
          state.replied.set(index, e as ReplyEntry);
        }
        break;
      case 'part':
        if (e.result && typeof e.result === 'object') state.prior = e.result as ExecuteResult;
        if (typeof e.n === 'number') state.parts = Math.max(state.parts, e.n);
        break;
    }
  }
  for (const p of record.pending) {
    const i = (p as { i?: unknown }).i;
    if (typeof i === 'number' && !state.replied.has(i)) {
      state.pending.set(i, p);
      if (typeof p.h === 'string') state.calls.set(i, { op: 'run', tool: String(p.tool ?? p.toolId), h: p.h as string });
    }
  }
  for (const i of issued) if (!state.replied.has(i) && !state.pending.has(i)) state.interrupted.add(i);
  return state;
}

/** Why a durable execution must stop: a diverged replay, a store failure. */
export interface JournalFailure {
  code: 'REPLAY_DIVERGED' | 'OUTPUT_LIMIT' | 'STORE_ERROR';
  message: string;
}

/** What a part of a durable execution needs from its execution. */
export interface JournalHost {
  /** Sends a host → guest message. */
  send(text: string): void;
  /** Ends the execution. */
  fail(failure: JournalFailure): void;
  /** Called after every delivery (the execution re-checks whether it can suspend). */
  delivered(): void;
  /** The replay cannot make progress without a request the guest has not made: check whether the guest is idle. */
  stalled(): void;
}

/**
 * One part of a durable execution: the journal as it was when the part started, the replay
 * cursor, and the writer that appends this part's entries. Deliveries go through `deliver`.
 */
export class Journal {
  readonly state: JournalState;
  private nextIndex = 0;
  /** Per guest request id in this part: its call index. */
  private readonly indexOf = new Map<number, number>();
  private readonly opOf = new Map<number, { op: string; tool?: string; h: string }>();
  /** Replayed calls issued in this part, by index → guest id. */
  private readonly issued = new Map<number, number>();
  private cursor = 0;
  /** Live deliveries waiting for the replay to finish (the first run never saw them before the journaled ones). */
  private held: Array<() => void> = [];
  private lastT: number;
  private failed = false;
  private unsent = 0;
  private replayEndedAt: number | undefined;
  private stallTimer: NodeJS.Timeout | undefined;
  /** Logs of earlier parts the guest will log again, not to be kept twice. */
  logsToSkip: number;
  replayedCalls = 0;

  private host!: JournalHost;

  /**
   * Whether writes may trail deliveries: a store that keeps nothing through a crash (memory)
   * gains nothing from waiting for each write, so entries are queued (the writer coalesces them)
   * and replies go out at once; suspension and completion still wait for every queued write.
   */
  private readonly trailing: boolean;
  private buffer: JournalEntry[] = [];
  private flushTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly writer: JournalWriter,
    record: ExecutionRecord | undefined,
    private readonly startedAt: number,
    private readonly inputText: string | undefined,
    now: number,
    durability: 'none' | 'process' | 'fsync' | 'unknown' = 'fsync',
  ) {
    this.trailing = durability === 'none';
    this.state = readJournal(record);
    this.logsToSkip = this.state.prior?.logs?.length ?? 0;
    this.lastT = now;
    if (this.state.replies.length === 0) this.replayEndedAt = startedAt;
  }

  /** Connects the execution; called once, before the guest starts. */
  attach(host: JournalHost): void {
    this.host = host;
  }

  /** The writer's lease or store failed: stop. */
  writerFailed(e: unknown): void {
    this.storeFailed(e);
  }

  /** Whether replies from the journal are still to be delivered. */
  get replaying(): boolean {
    return this.cursor < this.state.replies.length;
  }

  /** How long this part took to replay its journal, once it has. */
  get replayMs(): number | undefined {
    return this.replayEndedAt === undefined ? undefined : this.replayEndedAt - this.startedAt;
  }

  /** Replies written or held but not yet sent to the guest. */
  get busy(): boolean {
    return this.unsent > 0 || this.held.length > 0;
  }

  /** The journal still expects a request the guest has not made. */
  get waitingForGuest(): boolean {
    return this.replaying && !this.issued.has(this.state.replies[this.cursor]!.i);
  }

  /** The next request the journal expects, for messages. */
  expected(): string {
    const next = this.state.replies[this.cursor];
    if (!next) return '';
    return `call #${next.i} (${describeCall(next)})`;
  }

  /** The guest made a request: what it is, given the journal. */
  issue(guestId: number, op: string, tool: unknown, text: string): IssuePlan {
    const index = this.nextIndex++;
    const h = requestHash(text);
    const writtenTool = typeof tool === 'string' ? tool.slice(0, 300) : undefined;
    this.indexOf.set(guestId, index);
    this.opOf.set(guestId, { op, h, ...(writtenTool !== undefined ? { tool: writtenTool } : {}) });
    const known = this.state.calls.get(index);
    if (known) {
      const problem = differs(known, op, writtenTool, h);
      if (problem) return { kind: 'diverged', index, message: divergence(index, problem) };
    }
    const entry = this.state.replied.get(index);
    if (entry) {
      this.issued.set(index, guestId);
      this.replayedCalls++;
      // Delivered from pump(), in journal order, possibly right away.
      queueMicrotask(() => this.pump());
      return { kind: 'replay', index, entry };
    }
    const pending = this.state.pending.get(index);
    if (pending) return { kind: 'pending', index, call: pending };
    if (this.state.interrupted.has(index)) return { kind: 'interrupted', index };
    return { kind: 'new', index };
  }

  /** The hash of a guest request of this part. */
  hashOf(guestId: number): string {
    return this.opOf.get(guestId)?.h ?? '';
  }

  /** The call index of a guest request of this part. */
  indexOfRequest(guestId: number): number | undefined {
    return this.indexOf.get(guestId);
  }

  /** Records, durably, that a tool call is about to run (so that a crash never runs it twice unless it is idempotent). */
  recordCall(guestId: number): Promise<unknown> {
    // Nothing survives a crash of a store that keeps nothing: there is nothing to protect.
    if (this.trailing) return Promise.resolve();
    const i = this.indexOf.get(guestId);
    const c = this.opOf.get(guestId);
    if (i === undefined || !c) return Promise.resolve();
    return this.writer.append({ type: 'call', i, op: c.op, ...(c.tool !== undefined ? { tool: c.tool } : {}), h: c.h }).catch((e) => {
      this.storeFailed(e);
      throw e;
    });
  }

  /** Records a decision taken while the execution ran. */
  recordApproval(entry: { i: number; callId: string; action: 'approve' | 'deny'; by?: string; edited?: boolean; reason?: string }): void {
    if (this.trailing) {
      this.buffer.push({ type: 'approval', ...entry });
      return;
    }
    this.writer.append({ type: 'approval', ...entry }).catch((e) => this.storeFailed(e));
  }

  /**
   * Delivers a live reply: journaled first (with its delivery time), then sent, then `after`
   * (the ledger's report) runs. While the replay is unfinished the reply waits behind it.
   */
  deliver(guestId: number, body: ReplyBody, meta: { ms?: number; at?: number } | undefined, after?: () => void): void {
    if (this.failed) return;
    if (this.replaying) {
      this.held.push(() => this.deliver(guestId, body, meta, after));
      return;
    }
    const i = this.indexOf.get(guestId);
    const c = this.opOf.get(guestId);
    if (i === undefined || !c) {
      // Not a request the journal knows (cannot happen for the prelude's requests): deliver unjournaled.
      this.host.send(encode(guestId, body));
      after?.();
      return;
    }
    const t = Math.max(Date.now(), this.lastT);
    this.lastT = t;
    const entry: ReplyEntry = { type: 'reply', i, op: c.op, h: c.h, t, ok: body.ok };
    if (c.tool !== undefined) entry.tool = c.tool;
    if (body.ok) {
      if (body.valueText !== undefined) entry.input = true;
      else entry.value = body.value;
    } else entry.error = body.error;
    if (meta?.ms !== undefined) entry.ms = meta.ms;
    if (meta?.at !== undefined) entry.at = meta.at;
    const text = stamp(encode(guestId, body), t);
    if (this.trailing) {
      this.buffer.push(entry);
      if (this.buffer.length >= TRAILING_BATCH) this.flush();
      else if (!this.flushTimer) {
        this.flushTimer = setTimeout(() => this.flush(), TRAILING_FLUSH_MS);
        this.flushTimer.unref?.();
      }
      this.host.send(text);
      after?.();
      this.host.delivered();
      return;
    }
    this.unsent++;
    this.writer.append(entry).then(
      () => {
        this.unsent--;
        if (this.failed) return;
        this.host.send(text);
        after?.();
        this.host.delivered();
      },
      (e) => this.storeFailed(e),
    );
  }

  /** Sends journaled replies whose requests the guest has made, in journal order. */
  private pump(): void {
    if (this.failed) return;
    let sent = false;
    while (this.replaying) {
      const next = this.state.replies[this.cursor]!;
      const guestId = this.issued.get(next.i);
      if (guestId === undefined) break;
      this.cursor++;
      this.lastT = Math.max(this.lastT, next.t);
      const body: ReplyBody = next.ok
        ? next.input
          ? { ok: true, value: undefined, valueText: this.inputText ?? 'null' }
          : { ok: true, value: next.value }
        : { ok: false, error: next.error ?? { code: 'EXECUTION', message: 'the call failed' } };
      this.host.send(stamp(encode(guestId, body), next.t));
      sent = true;
    }
    clearTimeout(this.stallTimer);
    this.stallTimer = undefined;
    if (!this.replaying) {
      if (this.replayEndedAt === undefined) this.replayEndedAt = performance.now();
      const held = this.held;
      this.held = [];
      for (const fn of held) fn();
    } else {
      // The guest usually makes the next request within microseconds; only when it does not is it
      // asked whether it is idle (which, with the journal still expecting a request, is a divergence).
      this.stallTimer = setTimeout(() => this.host.stalled(), 25);
      this.stallTimer.unref?.();
    }
    if (sent) this.host.delivered();
  }

  /** Hands entries a trailing journal still holds to the writer (suspension and completion wait for it). */
  flush(): void {
    clearTimeout(this.flushTimer);
    this.flushTimer = undefined;
    if (this.buffer.length === 0) return;
    const entries = this.buffer;
    this.buffer = [];
    this.writer.append(...entries).catch((e) => this.storeFailed(e));
  }

  /** Stops timers; nothing more is delivered. What a trailing journal holds is still written. */
  close(): void {
    this.flush();
    this.failed = true;
    clearTimeout(this.stallTimer);
    this.held = [];
  }

  private storeFailed(e: unknown): void {
    if (this.failed) return;
    this.failed = true;
    clearTimeout(this.stallTimer);
    this.host.fail(journalFailure(e));
  }
}

/** A store failure as the execution reports it. */
export function journalFailure(e: unknown): JournalFailure {
  if (e instanceof StoreError && e.code === 'JOURNAL_LIMIT') {
    const max = e.data.maxJournalBytes;
    return {
      code: 'OUTPUT_LIMIT',
      message: `The execution's journal (every tool result and reply it received, kept so it can be resumed) would pass maxJournalBytes (${String(max)} bytes); make fewer or smaller tool calls, or raise maxJournalBytes`,
    };
  }
  const code = e instanceof StoreError ? e.code : 'UNAVAILABLE';
  const message = (e as Error)?.message ?? String(e);
  return { code: 'STORE_ERROR', message: `The execution store failed (${code}): ${message}` };
}

function differs(known: CallInfo, op: string, tool: string | undefined, h: string): string | undefined {
  if (known.op !== op) return `the script now makes a ${op} request${tool !== undefined ? ` (${tool})` : ''} where its journal has ${describeCall(known)}`;
  if ((known.tool ?? undefined) !== tool) return `the script now calls ${tool ?? '(no tool)'} where its journal recorded ${describeCall(known)}`;
  if (known.h !== h) return `${describeCall(known)}: the arguments differ from those its journal recorded`;
  return undefined;
}

function describeCall(c: { op: string; tool?: string }): string {
  if (c.op === 'run') return `a call to ${c.tool ?? '?'}`;
  if (c.op === 'describe') return `describeTool(${c.tool ?? '?'})`;
  if (c.op === 'search') return 'searchTools(...)';
  if (c.op === 'timer') return 'a timer';
  if (c.op === 'input') return 'the input';
  return `a ${c.op} request`;
}

function divergence(index: number, problem: string): string {
  return (
    `The script diverged from its journal on replay at call #${index}: ${problem}. ` +
    'A durable script must make the same calls in the same order when it runs again: its clock, randomness, timers and tool results are replayed, so only a changed script, tool ID alias or prelude can do this'
  );
}

/** The message of a replay that ended or stalled with journaled calls still unmade. */
export function stalledMessage(journal: Journal, finished: boolean): string {
  return (
    `The script diverged from its journal on replay: it ${finished ? 'finished' : 'stopped making progress'} before ${journal.expected()}, which its journal recorded. ` +
    'A durable script must make the same calls in the same order when it runs again'
  );
}
