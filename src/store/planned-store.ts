/**
 * The stores that run core.ts's planners next to their data (memory, SQLite). Every write is the
 * same three steps inside one atomic step of the medium: read the row, let a planner decide (it
 * throws when the write is refused), apply its plan. A subclass supplies the medium: what an
 * atomic step is ({@link PlannedExecutionStore.atomic}) and how a row is read and written.
 */
import { BaseExecutionStore } from './base-store.js';
import {
  initialRow,
  planAppend,
  planClaim,
  planComplete,
  planDecide,
  planRelease,
  planRenew,
  planSuspend,
  toRecord,
  toSummary,
  toWriteResult,
  visible,
  type CheckedComplete,
  type CheckedCreate,
  type CheckedDecision,
  type CheckedSuspend,
  type ExecutionRow,
  type Plan,
  type ResolvedStoreOptions,
  type SerializedEntries,
} from './core.js';
import type { ClaimResult, ExecutionRecord, ExecutionSummary, Lease, WriteResult, WriterRef } from './types.js';

/** An execution store over a medium that can run a synchronous block atomically. */
export abstract class PlannedExecutionStore extends BaseExecutionStore {
  readonly #clock: () => number;

  protected constructor(kind: string, opts: ResolvedStoreOptions, clock: () => number) {
    super(kind, opts);
    this.#clock = clock;
  }

  /** The store's clock (ms since the epoch). */
  protected now(): number {
    return this.#clock();
  }

  /**
   * Runs `fn` as one atomic step: `write`, no other write in between; `read`, everything `fn`
   * reads comes from one snapshot. `fn` is synchronous: an await inside would break the step.
   */
  protected abstract atomic<T>(mode: 'read' | 'write', fn: () => T): T;
  /** The row, or `undefined` when there is none (expired rows included: the planners check). */
  protected abstract readRow(executionId: string): ExecutionRow | undefined;
  /** The execution in full, or `undefined` unless `visible` to `principal` at `now`. */
  protected abstract readRecord(executionId: string, principal: string, now: number): ExecutionRecord | undefined;
  /** Writes a new execution; may first reclaim expired ones (as of `row.createdAt`), or refuse. */
  protected abstract insert(row: ExecutionRow, script: string, optionsText: string): void;
  /** Applies a planner's plan to the row it was made from (which exists: planners throw otherwise). */
  protected abstract applyPlan(plan: Plan): void;
  /** Deletes the execution and its journal. */
  protected abstract remove(row: ExecutionRow): void;

  protected createChecked(id: string, c: CheckedCreate): ExecutionRecord {
    return this.atomic('write', () => {
      const row = initialRow(id, c, this.now());
      this.insert(row, c.script, c.optionsText);
      return toRecord(row, c.script, c.optionsText, null, []);
    });
  }

  protected getChecked(executionId: string, principal: string): ExecutionRecord | undefined {
    return this.atomic('read', () => this.readRecord(executionId, principal, this.now()));
  }

  protected appendChecked(ref: WriterRef, entries: SerializedEntries, expectedLength: number): WriteResult {
    return toWriteResult(this.#write(ref.executionId, (row, now) => planAppend(row, ref, entries, expectedLength, now)).row);
  }

  protected renewChecked(ref: WriterRef, leaseMs: number): Lease {
    const { row } = this.#write(ref.executionId, (r, now) => planRenew(r, ref, leaseMs, now));
    return { owner: ref.owner, expiresAt: row.leaseExpiresAt! };
  }

  protected releaseChecked(ref: WriterRef): void {
    this.#write(ref.executionId, (row, now) => planRelease(row, ref, now));
  }

  protected suspendChecked(ref: WriterRef, s: CheckedSuspend): WriteResult {
    const plan = this.#write(ref.executionId, (row, now) => planSuspend(row, ref, s.entries, s.pendingText, s.suspendText, s.expectedLength, now));
    return toWriteResult(plan.row);
  }

  protected completeChecked(ref: WriterRef, c: CheckedComplete): WriteResult {
    const plan = this.#write(ref.executionId, (row, now) => planComplete(row, ref, c.entries, c.status, c.resultText, c.expectedLength, now));
    return toWriteResult(plan.row);
  }

  protected decideChecked(executionId: string, principal: string, decisions: readonly CheckedDecision[]): ExecutionSummary {
    return toSummary(this.#write(executionId, (row, now) => planDecide(row, executionId, principal, decisions, now)).row);
  }

  protected claimChecked(executionId: string, principal: string, owner: string, leaseMs: number, requireDecisions: boolean): ClaimResult {
    return this.atomic('write', () => {
      const now = this.now();
      const plan = planClaim(this.readRow(executionId), executionId, principal, owner, leaseMs, requireDecisions, now);
      this.applyPlan(plan);
      // Read back in the same step: the record is the execution as this claim left it.
      const result: ClaimResult = { record: this.readRecord(executionId, principal, now)!, previousStatus: plan.previousStatus };
      if (plan.previousOwner !== null) result.previousOwner = plan.previousOwner;
      return result;
    });
  }

  protected deleteChecked(executionId: string, principal: string): boolean {
    return this.atomic('write', () => {
      const row = visible(this.readRow(executionId), principal, this.now());
      if (!row) return false;
      this.remove(row);
      return true;
    });
  }

  /** Runs a planner on the row and applies its plan, in one atomic step. */
  #write<P extends Plan>(executionId: string, planner: (row: ExecutionRow | undefined, now: number) => P): P {
    return this.atomic('write', () => {
      const plan = planner(this.readRow(executionId), this.now());
      this.applyPlan(plan);
      return plan;
    });
  }
}
