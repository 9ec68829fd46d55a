/**
 * The public side every execution store shares: each method of {@link ExecutionStore} checks its
 * arguments here, in one order for every store (closed first, then the arguments left to right,
 * then the shape of the execution ID), and only then calls its `...Checked` hook with the checked
 * values. A store implements the hooks: what it does with its medium. That the checks live once is
 * what makes a bad argument the same `INVALID_ARGUMENT`, with the same words, on every store.
 */
import {
  Lifetime,
  checkComplete,
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
  checkSuspend,
  pageOf,
  serializeEntries,
  type CheckedComplete,
  type CheckedCreate,
  type CheckedDecision,
  type CheckedSuspend,
  type ExecutionRow,
  type NormalizedListFilter,
  type ResolvedStoreOptions,
  type SerializedEntries,
} from './core.js';
import { storeErrors } from './errors.js';
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
  SuspendInput,
  WriteResult,
  WriterRef,
} from './types.js';

type Maybe<T> = T | Promise<T>;

/** An {@link ExecutionStore} whose subclass implements only the `...Checked` hooks. */
export abstract class BaseExecutionStore implements ExecutionStore {
  abstract readonly kind: string;
  abstract readonly durability: StoreDurability;
  readonly #opts: ResolvedStoreOptions;
  readonly #life: Lifetime;

  /** `kind` names the store in the `CLOSED` error; `opts` come from `resolveStoreOptions`. */
  protected constructor(kind: string, opts: ResolvedStoreOptions) {
    this.#opts = opts;
    this.#life = new Lifetime(kind);
  }

  async create(input: CreateExecutionInput): Promise<ExecutionRecord> {
    this.#life.check();
    const c = checkCreate(input, this.#opts);
    const id = newExecutionId();
    checkCreateBytes(id, c.bytes, c.maxBytes);
    return this.createChecked(id, c);
  }

  async get(executionId: string, principal: string): Promise<ExecutionRecord | undefined> {
    this.#life.check();
    checkPrincipal(principal);
    if (!checkIdShape(executionId)) return undefined;
    return this.getChecked(executionId, principal);
  }

  async list(principal: string, filter?: ListFilter): Promise<ExecutionPage> {
    this.#life.check();
    checkPrincipal(principal);
    const f = checkListFilter(filter);
    return pageOf(await this.listRows(principal, f), f.limit);
  }

  async append(ref: WriterRef, entries: readonly JournalEntry[], expectedLength: number): Promise<WriteResult> {
    this.#life.check();
    checkRef(ref);
    checkExpectedLength(expectedLength);
    const serialized = serializeEntries(entries, true);
    checkWriterId(ref);
    return this.appendChecked(ref, serialized, expectedLength);
  }

  async renew(ref: WriterRef, leaseMs?: number): Promise<Lease> {
    this.#life.check();
    checkRef(ref);
    const ms = checkLeaseMs(leaseMs, this.#opts.leaseMs);
    checkWriterId(ref);
    return this.renewChecked(ref, ms);
  }

  async release(ref: WriterRef): Promise<void> {
    this.#life.check();
    checkRef(ref);
    checkWriterId(ref);
    return this.releaseChecked(ref);
  }

  async suspend(ref: WriterRef, input: SuspendInput): Promise<WriteResult> {
    this.#life.check();
    checkRef(ref);
    const s = checkSuspend(input);
    checkWriterId(ref);
    return this.suspendChecked(ref, s);
  }

  async complete(ref: WriterRef, input: CompleteInput): Promise<WriteResult> {
    this.#life.check();
    checkRef(ref);
    const c = checkComplete(input);
    checkWriterId(ref);
    return this.completeChecked(ref, c);
  }

  async decide(executionId: string, principal: string, decisions: readonly Decision[]): Promise<ExecutionSummary> {
    this.#life.check();
    checkPrincipal(principal);
    const checked = checkDecisions(decisions);
    if (!checkIdShape(executionId)) throw storeErrors.notFound(executionId);
    return this.decideChecked(executionId, principal, checked);
  }

  async claim(executionId: string, principal: string, owner: string, options: ClaimOptions = {}): Promise<ClaimResult> {
    this.#life.check();
    checkPrincipal(principal);
    checkOwner(owner);
    const leaseMs = checkLeaseMs(options.leaseMs, this.#opts.leaseMs);
    if (!checkIdShape(executionId)) throw storeErrors.notFound(executionId);
    return this.claimChecked(executionId, principal, owner, leaseMs, options.requireDecisions === true);
  }

  async delete(executionId: string, principal: string): Promise<boolean> {
    this.#life.check();
    checkPrincipal(principal);
    if (!checkIdShape(executionId)) return false;
    return this.deleteChecked(executionId, principal);
  }

  async purgeExpired(): Promise<number> {
    this.#life.check();
    return this.purgeChecked();
  }

  async close(): Promise<void> {
    if (!this.#life.close()) return;
    await this.closeChecked();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  /** Writes the new execution (its row is `initialRow(id, c, now)`, `now` by the store's clock). */
  protected abstract createChecked(id: string, c: CheckedCreate): Maybe<ExecutionRecord>;
  /** The execution, or `undefined` when missing, expired or another principal's. */
  protected abstract getChecked(executionId: string, principal: string): Maybe<ExecutionRecord | undefined>;
  /** The principal's live rows that pass `filter`, newest first; more than `filter.limit` only when there is a next page (`limit + 1` is enough). */
  protected abstract listRows(principal: string, filter: NormalizedListFilter): Maybe<readonly ExecutionRow[]>;
  protected abstract appendChecked(ref: WriterRef, entries: SerializedEntries, expectedLength: number): Maybe<WriteResult>;
  protected abstract renewChecked(ref: WriterRef, leaseMs: number): Maybe<Lease>;
  protected abstract releaseChecked(ref: WriterRef): Maybe<void>;
  protected abstract suspendChecked(ref: WriterRef, input: CheckedSuspend): Maybe<WriteResult>;
  protected abstract completeChecked(ref: WriterRef, input: CheckedComplete): Maybe<WriteResult>;
  protected abstract decideChecked(executionId: string, principal: string, decisions: readonly CheckedDecision[]): Maybe<ExecutionSummary>;
  protected abstract claimChecked(executionId: string, principal: string, owner: string, leaseMs: number, requireDecisions: boolean): Maybe<ClaimResult>;
  protected abstract deleteChecked(executionId: string, principal: string): Maybe<boolean>;
  protected abstract purgeChecked(): Maybe<number>;
  /** Releases the medium's handles; called once, on the first `close`. */
  protected abstract closeChecked(): Maybe<void>;
}

/** A malformed ID names no execution: `NOT_FOUND`, as a well-formed unknown one would be. */
function checkWriterId(ref: WriterRef): void {
  if (!checkIdShape(ref.executionId)) throw storeErrors.notFound(ref.executionId);
}
