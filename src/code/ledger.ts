/**
 * The ledger of an execution's tool calls, and the one output budget it shares with the logs and
 * the value. Everything an execution returns counts against `maxOutputBytes`: a script that makes
 * thousands of calls with large arguments (refused ones included) cannot grow the result past it.
 * Arguments that do not fit are left out of their record, which says so (`argsTruncated`); when
 * not even a record without them fits, the execution ends with `OUTPUT_LIMIT`.
 */
import { capText } from '../model/text.js';
import type { ToolCallRecord } from './types.js';

/** Longest error message kept in a ledger record (the script itself receives the whole message). */
export const MAX_RECORD_ERROR_CHARS = 2 * 1024;
/** What a record costs besides its tool ID, arguments and error: keys, numbers, punctuation. */
const RECORD_OVERHEAD_BYTES = 96;

/** The bytes an execution may still return; shared by the value, the logs and the ledger. */
export class OutputBudget {
  used = 0;
  constructor(readonly limit: number) {}

  /** Takes `bytes` if they fit; false (and nothing taken) if they do not. */
  take(bytes: number): boolean {
    if (this.used + bytes > this.limit) return false;
    this.used += bytes;
    return true;
  }

  /** Takes `bytes` whether or not they fit; false once over the limit. */
  force(bytes: number): boolean {
    this.used += bytes;
    return this.used <= this.limit;
  }
}

export class Ledger {
  readonly records: ToolCallRecord[] = [];
  /** The record of each guest request id (for the host's own word on which call failed how). */
  private readonly byRequest = new Map<number, ToolCallRecord>();
  private ended = 0;

  constructor(
    private readonly budget: OutputBudget,
    private readonly onEnded: ((record: ToolCallRecord, count: number) => void) | undefined,
    /** Called when the ledger itself no longer fits: the execution must end with OUTPUT_LIMIT. */
    private readonly overflow: () => void,
  ) {}

  /**
   * A call as it starts (or is refused). `argsBytes` is an upper bound of the arguments' JSON size
   * (the request's own length), so nothing is serialised again here.
   */
  open(requestId: number, toolId: string, args: unknown, argsBytes: number): ToolCallRecord {
    const record: ToolCallRecord = { toolId, args, ok: false, durationMs: 0, startedAt: Date.now() };
    const fixed = RECORD_OVERHEAD_BYTES + toolId.length;
    if (!this.budget.take(fixed + argsBytes)) {
      record.args = null;
      record.argsTruncated = argsBytes;
      if (!this.budget.force(fixed)) this.overflow();
    }
    this.records.push(record);
    this.byRequest.set(requestId, record);
    return record;
  }

  /** A call that ended well. */
  succeed(record: ToolCallRecord, durationMs: number): void {
    record.ok = true;
    record.durationMs = durationMs;
    this.close(record);
  }

  /** A call that failed, or was refused before it ran. */
  fail(record: ToolCallRecord, durationMs: number, code: string, message: string): void {
    record.durationMs = durationMs;
    const kept = capText(message, MAX_RECORD_ERROR_CHARS);
    record.error = { code, message: kept };
    if (!this.budget.force(code.length + kept.length)) this.overflow();
    this.close(record);
  }

  /**
   * A call a durable execution's journal answered on replay: in the ledger as it first ended
   * (`replayed: true`), without telling `onToolCall` again.
   */
  replayed(requestId: number, toolId: string, args: unknown, argsBytes: number, outcome: { ok: boolean; ms?: number; at?: number; error?: { code: string; message: string } }): ToolCallRecord {
    const record = this.open(requestId, toolId, args, argsBytes);
    record.replayed = true;
    record.durationMs = typeof outcome.ms === 'number' ? outcome.ms : 0;
    if (typeof outcome.at === 'number') record.startedAt = outcome.at;
    if (outcome.ok) record.ok = true;
    else {
      const code = String(outcome.error?.code ?? 'EXECUTION');
      const kept = capText(String(outcome.error?.message ?? ''), MAX_RECORD_ERROR_CHARS);
      record.error = { code, message: kept };
      if (!this.budget.force(code.length + kept.length)) this.overflow();
    }
    return record;
  }

  /** The record of a guest request, if the script made it. */
  request(requestId: number): ToolCallRecord | undefined {
    return this.byRequest.get(requestId);
  }

  /** Calls that never finished (the script ended first) are recorded as cancelled. */
  cancelUnfinished(): void {
    const now = Date.now();
    for (const r of this.records) {
      if (!r.ok && !r.error) {
        r.error = { code: 'CANCELLED', message: 'The script ended before this call finished' };
        r.durationMs = Math.max(0, now - r.startedAt);
      }
    }
  }

  /** A record is final: tell the caller's `onToolCall`, whose failure changes nothing here. */
  private close(record: ToolCallRecord): void {
    const listener = this.onEnded;
    if (!listener) return;
    try {
      listener(record, ++this.ended);
    } catch {
      // a progress listener's bug must not fail the script's tool call
    }
  }
}
