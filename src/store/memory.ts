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
  Lifetime,
  checkCreate,
  checkCreateBytes,
  checkDecisions,
  checkExpectedLength,
  checkIdShape,
  checkLeaseMs,
  checkListFilter,
  checkOwner,
  checkPrincipal,
  checkRef,
  compareNewestFirst,
  afterCursor,
  encodeCursor,
  planAppend,
  planClaim,
  planComplete,
  planDecide,
  planRelease,
  planRenew,
  planSuspend,
  positiveInt,
  resolveStoreOptions,
  serializeEntries,
  checkSuspend,
  checkComplete,
  toRecord,
  toSummary,
  visible,
  type ExecutionRow,
  type Plan,
  type ResolvedStoreOptions,
} from './core.js';
import { StoreError, storeErrors } from './errors.js';
import { newExecutionId } from './ids.js';
import type {
  ClaimOptions,
  ClaimResult,
  CompleteInput,
  CreateExecutionInput,
  Decision,
  ExecutionPage,
  ExecutionRecord,
  ExecutionStore,
  ExecutionSummary,
  JournalEntry,
  Lease,
  ListFilter,
  StoreDurability,
  StoreOptions,
  SuspendInput,
  WriteResult,
  WriterRef,
} from './types.js';

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
export class MemoryExecutionStore implements ExecutionStore {
  readonly kind = 'memory';
  readonly durability: StoreDurability = {
    level: 'none',
    summary: 'in-process memory: lost when this process exits; only this process can resume its executions',
  };
  readonly #opts: ResolvedStoreOptions;
  readonly #maxExecutions: number;
  readonly #clock: () => number;
  readonly #slots = new Map<string, Slot>();
  readonly #byPrincipal = new Map<string, Set<string>>();
  readonly #life = new Lifetime('memory');

  constructor(options: MemoryStoreOptions = {}) {
    this.#opts = resolveStoreOptions('memory', options);
    this.#maxExecutions = positiveInt('memory store option maxExecutions', options.maxExecutions, 10_000, 2 ** 31 - 1);
    if (options.clock !== undefined && typeof options.clock !== 'function') throw storeErrors.invalid('memory store option clock must be a function returning ms since the epoch');
    this.#clock = options.clock ?? Date.now;
  }

  async create(input: CreateExecutionInput): Promise<ExecutionRecord> {
    this.#life.check();
    const c = checkCreate(input, this.#opts);
    const now = this.#clock();
    const id = newExecutionId();
    checkCreateBytes(id, c.bytes, c.maxBytes);
    if (this.#slots.size >= this.#maxExecutions) {
      this.#purge(now);
      if (this.#slots.size >= this.#maxExecutions) {
        throw new StoreError('STORE_FULL', `the memory store holds ${this.#slots.size} live executions, its maxExecutions; wait for some to expire, delete finished ones, or use the SQLite store`, {
          maxExecutions: this.#maxExecutions,
        });
      }
    }
    const row: ExecutionRow = {
      id,
      principal: c.principal,
      status: 'running',
      createdAt: now,
      updatedAt: now,
      expiresAt: now + c.ttlMs,
      ttlMs: c.ttlMs,
      journalLength: 0,
      bytes: c.bytes,
      maxBytes: c.maxBytes,
      leaseOwner: c.owner,
      leaseExpiresAt: now + c.leaseMs,
      pending: '[]',
      decisions: '{}',
    };
    this.#slots.set(id, { row, script: c.script, options: c.optionsText, result: null, journal: [] });
    let ids = this.#byPrincipal.get(c.principal);
    if (!ids) this.#byPrincipal.set(c.principal, (ids = new Set()));
    ids.add(id);
    return toRecord(row, c.script, c.optionsText, null, []);
  }

  async get(executionId: string, principal: string): Promise<ExecutionRecord | undefined> {
    this.#life.check();
    checkPrincipal(principal);
    if (!checkIdShape(executionId)) return undefined;
    const slot = this.#slots.get(executionId);
    if (!slot || !visible(slot.row, principal, this.#clock())) return undefined;
    return toRecord(slot.row, slot.script, slot.options, slot.result, slot.journal);
  }

  async list(principal: string, filter?: ListFilter): Promise<ExecutionPage> {
    this.#life.check();
    checkPrincipal(principal);
    const f = checkListFilter(filter);
    const now = this.#clock();
    const rows: ExecutionRow[] = [];
    for (const id of this.#byPrincipal.get(principal) ?? []) {
      const row = visible(this.#slots.get(id)?.row, principal, now);
      if (row && (!f.statuses || f.statuses.includes(row.status)) && afterCursor(row, f.cursor)) rows.push(row);
    }
    rows.sort(compareNewestFirst);
    const page = rows.slice(0, f.limit);
    const out: ExecutionPage = { executions: page.map(toSummary) };
    if (rows.length > f.limit) {
      const last = page[page.length - 1]!;
      out.nextCursor = encodeCursor(last.createdAt, last.id);
    }
    return out;
  }

  async append(ref: WriterRef, entries: readonly JournalEntry[], expectedLength: number): Promise<WriteResult> {
    this.#life.check();
    checkRef(ref);
    checkExpectedLength(expectedLength);
    const serialized = serializeEntries(entries, true);
    return this.#write(ref.executionId, (row, now) => planAppend(row, ref, serialized, expectedLength, now));
  }

  async renew(ref: WriterRef, leaseMs?: number): Promise<Lease> {
    this.#life.check();
    checkRef(ref);
    const ms = checkLeaseMs(leaseMs, this.#opts.leaseMs);
    let lease: Lease | undefined;
    this.#write(ref.executionId, (row, now) => {
      const plan = planRenew(row, ref, ms, now);
      lease = { owner: ref.owner, expiresAt: plan.row.leaseExpiresAt! };
      return plan;
    });
    return lease!;
  }

  async release(ref: WriterRef): Promise<void> {
    this.#life.check();
    checkRef(ref);
    this.#write(ref.executionId, (row, now) => planRelease(row, ref, now));
  }

  async suspend(ref: WriterRef, input: SuspendInput): Promise<WriteResult> {
    this.#life.check();
    checkRef(ref);
    const { pendingText, suspendText, entries, expectedLength } = checkSuspend(input);
    return this.#write(ref.executionId, (row, now) => planSuspend(row, ref, entries, pendingText, suspendText, expectedLength, now));
  }

  async complete(ref: WriterRef, input: CompleteInput): Promise<WriteResult> {
    this.#life.check();
    checkRef(ref);
    const { status, resultText, entries, expectedLength } = checkComplete(input);
    return this.#write(ref.executionId, (row, now) => planComplete(row, ref, entries, status, resultText, expectedLength, now));
  }

  async decide(executionId: string, principal: string, decisions: readonly Decision[]): Promise<ExecutionSummary> {
    this.#life.check();
    checkPrincipal(principal);
    const checked = checkDecisions(decisions);
    if (!checkIdShape(executionId)) throw storeErrors.notFound(executionId);
    this.#write(executionId, (row, now) => planDecide(row, executionId, principal, checked, now));
    return toSummary(this.#slots.get(executionId)!.row);
  }

  async claim(executionId: string, principal: string, owner: string, options: ClaimOptions = {}): Promise<ClaimResult> {
    this.#life.check();
    checkPrincipal(principal);
    checkOwner(owner);
    const leaseMs = checkLeaseMs(options.leaseMs, this.#opts.leaseMs);
    if (!checkIdShape(executionId)) throw storeErrors.notFound(executionId);
    let previous: { status: 'running' | 'suspended'; owner: string | null } | undefined;
    this.#write(executionId, (row, now) => {
      const plan = planClaim(row, executionId, principal, owner, leaseMs, options.requireDecisions === true, now);
      previous = { status: plan.previousStatus, owner: plan.previousOwner };
      return plan;
    });
    const slot = this.#slots.get(executionId)!;
    const result: ClaimResult = { record: toRecord(slot.row, slot.script, slot.options, slot.result, slot.journal), previousStatus: previous!.status };
    if (previous!.owner !== null) result.previousOwner = previous!.owner;
    return result;
  }

  async delete(executionId: string, principal: string): Promise<boolean> {
    this.#life.check();
    checkPrincipal(principal);
    if (!checkIdShape(executionId)) return false;
    const slot = this.#slots.get(executionId);
    if (!slot || !visible(slot.row, principal, this.#clock())) return false;
    this.#remove(slot.row);
    return true;
  }

  async purgeExpired(): Promise<number> {
    this.#life.check();
    return this.#purge(this.#clock());
  }

  async close(): Promise<void> {
    if (!this.#life.close()) return;
    this.#slots.clear();
    this.#byPrincipal.clear();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  /** Runs a planner and applies its plan, with no await in between: that is the atomicity. */
  #write(executionId: string, plan: (row: ExecutionRow | undefined, now: number) => Plan): WriteResult {
    const now = this.#clock();
    const slot = this.#slots.get(executionId);
    const p = plan(slot?.row, now);
    // A planner throws unless the row is visible, so the slot exists here.
    const s = slot!;
    for (const text of p.append) s.journal.push(text);
    s.row = p.row;
    if (p.result !== undefined) s.result = p.result;
    return { journalLength: p.row.journalLength, bytes: p.row.bytes, updatedAt: p.row.updatedAt, expiresAt: p.row.expiresAt };
  }

  #purge(now: number): number {
    let n = 0;
    for (const slot of this.#slots.values()) {
      if (slot.row.expiresAt <= now) {
        this.#remove(slot.row);
        n++;
      }
    }
    return n;
  }

  #remove(row: ExecutionRow): void {
    this.#slots.delete(row.id);
    const ids = this.#byPrincipal.get(row.principal);
    ids?.delete(row.id);
    if (ids && ids.size === 0) this.#byPrincipal.delete(row.principal);
  }
}
