/**
 * `toolexec/store/memory`: the in-process execution store, the library's default.
 *
 * Durability: none. Everything lives in this process's heap and is gone when it exits or
 * crashes; a suspended execution can be resumed only by the same process. Writes are atomic
 * (each is one synchronous step between two awaits) and ordered, and the contract is the same as
 * the durable stores' (leases, expected lengths, expiry, the size bound), so code written against
 * it moves to SQLite or Redis unchanged. Memory is bounded: at most `maxExecutions` live
 * executions, each at most `maxJournalBytes`.
 */
import {
  afterCursor,
  checkClock,
  compareNewestFirst,
  positiveInt,
  resolveStoreOptions,
  toRecord,
  visible,
  type ExecutionRow,
  type NormalizedListFilter,
  type Plan,
} from './core.js';
import { StoreError } from './errors.js';
import { PlannedExecutionStore } from './planned-store.js';
import type { ExecutionRecord, StoreDurability, StoreOptions } from './types.js';

export * from './types.js';
export { StoreError, STORE_ERROR_CODES, type StoreErrorCode } from './errors.js';
export { newExecutionId, isExecutionId, defaultOwnerId } from './ids.js';
export { JournalWriter, type JournalWriterOptions } from './journal-writer.js';

export interface MemoryStoreOptions extends StoreOptions {
  /** Live executions kept at most; `create` past it fails with `STORE_FULL`. Default 10 000. */
  maxExecutions?: number;
  /** The clock (ms since the epoch). For tests; default `Date.now`. */
  clock?: () => number;
}

interface Slot {
  row: ExecutionRow;
  script: string;
  options: string;
  result: string | null;
  journal: string[];
}

/** An {@link ExecutionStore} in this process's memory. */
export class MemoryExecutionStore extends PlannedExecutionStore {
  readonly kind = 'memory';
  readonly durability: StoreDurability = {
    level: 'none',
    summary: 'in-process memory: lost when this process exits; only this process can resume its executions',
  };
  readonly #maxExecutions: number;
  readonly #slots = new Map<string, Slot>();
  readonly #byPrincipal = new Map<string, Set<string>>();

  constructor(options: MemoryStoreOptions = {}) {
    const opts = resolveStoreOptions('memory', options);
    const maxExecutions = positiveInt('memory store option maxExecutions', options.maxExecutions, 10_000, 2 ** 31 - 1);
    super('memory', opts, checkClock('memory', options.clock));
    this.#maxExecutions = maxExecutions;
  }

  /** Each store call is one synchronous step between two awaits: that is the atomicity. */
  protected atomic<T>(_mode: 'read' | 'write', fn: () => T): T {
    return fn();
  }

  protected readRow(executionId: string): ExecutionRow | undefined {
    return this.#slots.get(executionId)?.row;
  }

  protected readRecord(executionId: string, principal: string, now: number): ExecutionRecord | undefined {
    const slot = this.#slots.get(executionId);
    if (!slot || !visible(slot.row, principal, now)) return undefined;
    return toRecord(slot.row, slot.script, slot.options, slot.result, slot.journal);
  }

  protected insert(row: ExecutionRow, script: string, optionsText: string): void {
    if (this.#slots.size >= this.#maxExecutions) {
      this.#purge(row.createdAt);
      if (this.#slots.size >= this.#maxExecutions) {
        throw new StoreError('STORE_FULL', `the memory store holds ${this.#slots.size} live executions, its maxExecutions; wait for some to expire, delete finished ones, or use the SQLite store`, {
          maxExecutions: this.#maxExecutions,
        });
      }
    }
    this.#slots.set(row.id, { row, script, options: optionsText, result: null, journal: [] });
    let ids = this.#byPrincipal.get(row.principal);
    if (!ids) this.#byPrincipal.set(row.principal, (ids = new Set()));
    ids.add(row.id);
  }

  protected applyPlan(p: Plan): void {
    // A planner throws unless the row is visible, so the slot exists here.
    const s = this.#slots.get(p.row.id)!;
    for (const text of p.append) s.journal.push(text);
    s.row = p.row;
    if (p.result !== undefined) s.result = p.result;
  }

  protected remove(row: ExecutionRow): void {
    this.#slots.delete(row.id);
    const ids = this.#byPrincipal.get(row.principal);
    ids?.delete(row.id);
    if (ids && ids.size === 0) this.#byPrincipal.delete(row.principal);
  }

  protected listRows(principal: string, f: NormalizedListFilter): ExecutionRow[] {
    const now = this.now();
    const rows: ExecutionRow[] = [];
    for (const id of this.#byPrincipal.get(principal) ?? []) {
      const row = visible(this.#slots.get(id)?.row, principal, now);
      if (row && (!f.statuses || f.statuses.includes(row.status)) && afterCursor(row, f.cursor)) rows.push(row);
    }
    return rows.sort(compareNewestFirst);
  }

  protected purgeChecked(): number {
    return this.#purge(this.now());
  }

  protected closeChecked(): void {
    this.#slots.clear();
    this.#byPrincipal.clear();
  }

  #purge(now: number): number {
    let n = 0;
    for (const slot of this.#slots.values()) {
      if (slot.row.expiresAt <= now) {
        this.remove(slot.row);
        n++;
      }
    }
    return n;
  }
}
