/**
 * The `ExecutionStore` contract: where durable executions live (DESIGN.md "Durable executions
 * and approvals"). The store knows nothing of runtimes, tools or the executor: it keeps, per
 * execution, an owner principal, a status, the script and its options, an append-only journal
 * of JSON entries, the pending calls of the latest suspension with their decisions, the final
 * result, timestamps, an expiry and a lease. Every implementation (memory, SQLite, Redis) passes
 * the same contract suite (test/store/contract.ts).
 *
 * How the executor is meant to use it:
 *
 * ```ts
 * const rec = await store.create({ principal, owner, script, options });      // running, leased to `owner`
 * const ref = { executionId: rec.executionId, principal, owner };
 * let length = rec.journalLength;                                            // 0
 * ({ journalLength: length } = await store.append(ref, [{ type: 'call', index: 0, toolId, argsHash }], length));
 * ({ journalLength: length } = await store.append(ref, [{ type: 'result', index: 0, value }], length));
 * await store.suspend(ref, { pending: [{ callId, toolId, args }], expectedLength: length });  // lease released
 * // later, anywhere: a human decides, then any process resumes
 * await store.decide(rec.executionId, principal, [{ callId, action: 'approve' }]);
 * const { record, previousStatus } = await store.claim(rec.executionId, principal, otherOwner, { requireDecisions: true });
 * // replay record.journal, then append with expectedLength = record.journalLength, ... complete()
 * ```
 *
 * Rules every store keeps:
 * - **Principal isolation.** Every operation names the principal. For an execution of another
 *   principal, reads answer `undefined` / an empty page and writes throw `NOT_FOUND`, exactly as
 *   for an ID that never existed. Malformed IDs are "not found" too, never a distinct error.
 * - **Ordered, atomic writes with optimistic concurrency.** A write either happens whole or not at
 *   all. Journal writes carry `expectedLength` (the journal length the writer last saw); a
 *   mismatch throws `CONFLICT` and writes nothing, so two writers cannot interleave entries.
 * - **Leases.** A running execution is leased to one owner (a process: see `defaultOwnerId()`);
 *   only the lease holder may append, suspend or complete. `claim` is a compare-and-set: it fails
 *   with `LEASE_HELD` while another owner's lease is live and succeeds once it has expired, after
 *   which the old holder's writes fail with `LEASE_LOST`. A holder whose lease expired keeps
 *   writing until somebody claims. Renew at about a third of `leaseMs`.
 * - **Expiry.** Every write sets `expiresAt = now + ttlMs` (a sliding expiry: an execution that is
 *   being worked on or decided on does not expire). Past it the execution is gone: not found, and
 *   its storage is reclaimed (Redis by key expiry, memory and SQLite by sweeps).
 * - **Size bound.** The bytes an execution holds (UTF-8 JSON of script, options, journal entries
 *   and result) never pass `maxJournalBytes`; a write that would is refused whole with
 *   `JOURNAL_LIMIT`.
 * - **Durability** is stated per store in its `durability` property and its entry file: when a
 *   write resolves, it is where a crash of the writing process cannot lose it (SQLite, Redis), or
 *   nowhere durable at all (memory).
 * - **Copies.** What a read returns is the store's data parsed afresh from JSON: mutating it
 *   changes nothing stored, and what was not JSON (`undefined`, functions) is not kept.
 */
import type { StoreErrorCode } from './errors.js';

/** A JSON value as stored. */
export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };

/**
 * `running`: a process holds (or held, until its lease expired) the lease and runs the script.
 * `suspended`: the script waits for decisions on its pending calls; no lease.
 * `completed` / `failed`: finished, with a `result`; kept until the TTL passes.
 *
 * There is no `expired` status: an expired execution is deleted and reads as not found, so that
 * "expired" cannot be told apart from "never existed" or "someone else's".
 */
export type ExecutionStatus = 'running' | 'suspended' | 'completed' | 'failed';

export const EXECUTION_STATUSES: readonly ExecutionStatus[] = ['running', 'suspended', 'completed', 'failed'];

/**
 * One journal entry: any JSON object with a string `type`. The store gives the entries no
 * meaning beyond order, except the two it writes itself ({@link SuspendEntry},
 * {@link DecisionEntry}). The executor's own entries are its business; the shapes DESIGN.md
 * implies are, for example:
 *
 * - `{ type: 'call', index, toolId, argsHash }`: the guest issued call `index`;
 * - `{ type: 'result', index, value }` / `{ type: 'error', index, error }`: its outcome, written
 *   before the guest sees it (so a result a tool produced is never lost);
 * - `{ type: 'deliver', index }`: the order replies entered the guest;
 * - `{ type: 'clock', values }`, `{ type: 'random', values }`: recorded non-determinism.
 *
 * Entries are stored as `JSON.stringify(entry)`: `undefined` members vanish, `NaN` becomes
 * `null`. Keep entries plain JSON.
 */
export interface JournalEntry {
  readonly type: string;
  readonly [key: string]: unknown;
}

/** A call that waits for a decision: `callId` is unique within the suspension. */
export interface PendingCall {
  callId: string;
  toolId: string;
  /** JSON-serializable (typed `unknown` so that objects with optional members fit; stored as JSON, read back as {@link JsonValue}). */
  args: unknown;
  /** Anything else the executor wants to show or keep (the call index, the tool's title). */
  [key: string]: unknown;
}

/** A decision on one pending call, as `decide` takes it. */
export type Decision =
  | { callId: string; action: 'approve'; /** Edited arguments to run the call with instead (JSON). */ args?: unknown; /** Who decided (audit only). */ by?: string }
  | { callId: string; action: 'deny'; /** Shown to the script in its `APPROVAL_DENIED` error. */ reason?: string; by?: string };

/** Written by `suspend`, after the writer's own entries: the pending calls of this suspension. */
export interface SuspendEntry extends JournalEntry {
  type: 'suspend';
  pending: PendingCall[];
}

/** Written by `decide`, one per decision, with the store's clock. */
export type DecisionEntry = JournalEntry & Decision & { type: 'decision'; decidedAt: number };

/** A pending call of the latest suspension and, once somebody decided, the decision. */
export interface PendingApproval extends PendingCall {
  decision?: DecisionEntry;
}

/** Who holds a running execution, and until when (ms since the epoch, the store's clock). */
export interface Lease {
  owner: string;
  expiresAt: number;
}

/** What `list` returns per execution: everything but the script, options, journal and result. */
export interface ExecutionSummary {
  /** 128 random bits, base64url (22 characters). */
  executionId: string;
  principal: string;
  status: ExecutionStatus;
  /** ms since the epoch, by the store's clock (Redis: the server's). */
  createdAt: number;
  updatedAt: number;
  expiresAt: number;
  ttlMs: number;
  /** Number of journal entries; the `expectedLength` of the next write. */
  journalLength: number;
  /** Bytes held (UTF-8 JSON of script, options, entries, result). */
  bytes: number;
  maxJournalBytes: number;
  /** The calls of the latest suspension, with decisions; empty once the execution ends. Kept while it runs again after a claim. */
  pending: PendingApproval[];
  /** Present while an owner holds the lease (it may have expired: compare `expiresAt` with the clock). */
  lease?: Lease;
}

/** One execution in full. */
export interface ExecutionRecord extends ExecutionSummary {
  script: string;
  options: JsonValue;
  journal: JournalEntry[];
  /** The final result, once `completed` or `failed`. */
  result?: JsonValue;
}

/** The writer's identity for journal writes: the execution, its principal and the lease holder. */
export interface WriterRef {
  executionId: string;
  principal: string;
  owner: string;
}

export interface CreateExecutionInput {
  principal: string;
  /** The process that starts running it; it holds the lease from the start. */
  owner: string;
  script: string;
  /** The execution's options (limits, runtime, approval policy); JSON-serializable. Default `{}`. */
  options?: unknown;
  /** Default: the store's `leaseMs`. */
  leaseMs?: number;
  /** Sliding expiry. Default: the store's `executionTtlMs`. */
  ttlMs?: number;
  /** Lower bound for this execution; capped by the store's `maxJournalBytes`. */
  maxJournalBytes?: number;
}

/** What every journal write returns: the new state to write against next. */
export interface WriteResult {
  journalLength: number;
  bytes: number;
  updatedAt: number;
  expiresAt: number;
}

export interface SuspendInput {
  /** At least one; `callId`s unique. They replace the pending calls (and decisions) of any earlier suspension. */
  pending: PendingCall[];
  /** Entries appended before the store's own `suspend` entry. */
  entries?: JournalEntry[];
  expectedLength: number;
}

export interface CompleteInput {
  status: 'completed' | 'failed';
  /** The final result (the executor's `ExecuteResult`, or what it keeps of it); JSON-serializable. */
  result: unknown;
  entries?: JournalEntry[];
  expectedLength: number;
}

export interface ClaimOptions {
  /** Default: the store's `leaseMs`. */
  leaseMs?: number;
  /**
   * Refuse (`UNDECIDED`) to claim a suspended execution while any pending call lacks a decision.
   * The check and the claim are one atomic step: this is how "a model's resume only continues an
   * execution whose decisions are recorded" is enforced without a race.
   */
  requireDecisions?: boolean;
}

export interface ClaimResult {
  /** The execution right after the claim (status `running`, leased to the claimer), journal included. */
  record: ExecutionRecord;
  /** `suspended`: an ordinary resume. `running`: a takeover from an owner whose lease expired (a crashed host, or the same owner re-claiming). */
  previousStatus: 'running' | 'suspended';
  /** The owner that held the lease before, when there was one. */
  previousOwner?: string;
}

export interface ListFilter {
  status?: ExecutionStatus | readonly ExecutionStatus[];
  /** 1..1000, default 50. */
  limit?: number;
  /** `nextCursor` of the previous page. */
  cursor?: string;
}

export interface ExecutionPage {
  /** Newest first. */
  executions: ExecutionSummary[];
  nextCursor?: string;
}

/** What a store promises about a write that has resolved. */
export interface StoreDurability {
  /**
   * - `none`: a crash of the process that holds the data loses it (this process for the memory
   *   store; redis-server without an append-only file);
   * - `process`: survives a crash of any process (the writer, redis-server), not an OS crash or a
   *   power cut;
   * - `fsync`: on disk before the write resolved (survives an OS crash or power cut, as far as the
   *   disk honours flushes);
   * - `unknown`: the store could not tell (a Redis server that refuses `CONFIG GET`).
   */
  level: 'none' | 'process' | 'fsync' | 'unknown';
  /** One or two sentences, for logs and `toolexec` diagnostics. */
  summary: string;
}

/** Options every store takes. */
export interface StoreOptions {
  /** Default lease of a running execution. Default 30 000. */
  leaseMs?: number;
  /** Default sliding expiry of an execution. Default 86 400 000 (one day). */
  executionTtlMs?: number;
  /** Upper bound of the bytes one execution holds. Default 16 MiB. */
  maxJournalBytes?: number;
}

/**
 * Where durable executions live. All methods are async and never resolve before the write is as
 * durable as `durability` says. Misuse (wrong types) throws `INVALID_ARGUMENT` synchronously
 * inside the returned promise; every failure is a {@link StoreError} with a stable `code`.
 */
export interface ExecutionStore extends AsyncDisposable {
  /** `memory`, `sqlite` or `redis`. */
  readonly kind: string;
  readonly durability: StoreDurability;

  /** A new execution, `running`, leased to `input.owner`, with an unguessable ID. */
  create(input: CreateExecutionInput): Promise<ExecutionRecord>;
  /** The execution with its journal, or `undefined` when missing, expired or another principal's. */
  get(executionId: string, principal: string): Promise<ExecutionRecord | undefined>;
  /** The principal's live executions, newest first, a page at a time. */
  list(principal: string, filter?: ListFilter): Promise<ExecutionPage>;

  /** Appends entries in order, atomically, if the journal still has `expectedLength` entries and `ref.owner` holds the lease. */
  append(ref: WriterRef, entries: readonly JournalEntry[], expectedLength: number): Promise<WriteResult>;
  /** Extends the lease (the heartbeat). `LEASE_LOST` if another owner claimed it meanwhile. */
  renew(ref: WriterRef, leaseMs?: number): Promise<Lease>;
  /** Gives the lease up without finishing (a graceful shutdown): any process may claim at once. */
  release(ref: WriterRef): Promise<void>;
  /** Status `suspended`, the pending calls recorded (and journaled as a `suspend` entry), the lease released. */
  suspend(ref: WriterRef, input: SuspendInput): Promise<WriteResult>;
  /** Status `completed` or `failed` with the result; pending calls cleared; the lease released. */
  complete(ref: WriterRef, input: CompleteInput): Promise<WriteResult>;

  /**
   * Records decisions on pending calls of a suspended execution, atomically (all or none), each
   * as a `decision` journal entry. A call decided already is a `CONFLICT`: the first decision
   * stands. Needs no lease: nobody runs a suspended execution.
   */
  decide(executionId: string, principal: string, decisions: readonly Decision[]): Promise<ExecutionSummary>;
  /** Takes the lease (compare-and-set): of a suspended execution, or of a running one whose lease expired. */
  claim(executionId: string, principal: string, owner: string, options?: ClaimOptions): Promise<ClaimResult>;
  /** Deletes the execution and its journal; `false` when there was none for this principal. */
  delete(executionId: string, principal: string): Promise<boolean>;
  /** Reclaims the storage of expired executions now (stores also do it on their own); returns how many went. */
  purgeExpired(): Promise<number>;

  /** Releases connections and handles; later calls throw `CLOSED`. Idempotent. */
  close(): Promise<void>;
}

/** Defaults shared by every store. */
export const STORE_DEFAULTS = {
  leaseMs: 30_000,
  executionTtlMs: 86_400_000,
  maxJournalBytes: 16 * 1024 * 1024,
  listLimit: 50,
  maxListLimit: 1000,
} as const;

export type { StoreErrorCode };
