/**
 * What the stores share: argument checks, serialization, and the state machine of an execution
 * as pure functions over a row (`plan*`). The memory and SQLite stores run these planners inside
 * their own atomic step (a synchronous block; a `BEGIN IMMEDIATE` transaction), through
 * planned-store.ts; base-store.ts runs the argument checks for all three. Redis cannot run
 * JavaScript next to its data, so its Lua scripts repeat the same rules; the contract suite
 * (test/store/contract.ts) is what keeps the three in agreement.
 */
import { storeErrors } from './errors.js';
import { isExecutionId } from './ids.js';
import {
  EXECUTION_STATUSES,
  STORE_DEFAULTS,
  type Decision,
  type DecisionEntry,
  type ExecutionPage,
  type ExecutionRecord,
  type ExecutionStatus,
  type ExecutionSummary,
  type JournalEntry,
  type JsonValue,
  type ListFilter,
  type PendingApproval,
  type PendingCall,
  type StoreOptions,
  type SuspendInput,
  type CompleteInput,
  type WriteResult,
  type WriterRef,
} from './types.js';

export interface ResolvedStoreOptions {
  leaseMs: number;
  executionTtlMs: number;
  maxJournalBytes: number;
}

const MAX_PRINCIPAL_LENGTH = 1024;
const MAX_OWNER_LENGTH = 256;
const MAX_CALL_ID_LENGTH = 256;
// Visible ASCII only: call IDs become Redis hash field names and pass through Lua's cjson, which
// would choke on lone surrogates; executors generate them ("c0", "c1") anyway.
const CALL_ID_PATTERN = /^[\x21-\x7e]{1,256}$/;
/** A year: longer TTLs are almost certainly a unit mistake (seconds passed as ms is the other way). */
const MAX_TTL_MS = 366 * 86_400_000;
const MAX_LEASE_MS = 86_400_000;

/** Checks and fills the options every store takes; `kind` names the store in messages. */
export function resolveStoreOptions(kind: string, options: StoreOptions = {}): ResolvedStoreOptions {
  if (options === null || typeof options !== 'object') throw storeErrors.invalid(`${kind} store options must be an object`);
  return {
    leaseMs: positiveInt(`${kind} store option leaseMs`, options.leaseMs, STORE_DEFAULTS.leaseMs, MAX_LEASE_MS),
    executionTtlMs: positiveInt(`${kind} store option executionTtlMs`, options.executionTtlMs, STORE_DEFAULTS.executionTtlMs, MAX_TTL_MS),
    maxJournalBytes: positiveInt(`${kind} store option maxJournalBytes`, options.maxJournalBytes, STORE_DEFAULTS.maxJournalBytes, 2 ** 31 - 1),
  };
}

/** The `clock` option of the stores that keep time themselves; `kind` names the store in messages. */
export function checkClock(kind: string, clock: unknown): () => number {
  if (clock !== undefined && typeof clock !== 'function') throw storeErrors.invalid(`${kind} store option clock must be a function returning ms since the epoch`);
  return (clock as (() => number) | undefined) ?? Date.now;
}

export function positiveInt(name: string, value: unknown, fallback: number, max: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1 || value > max) {
    throw storeErrors.invalid(`${name} must be an integer from 1 to ${max}, got ${describe(value)}`);
  }
  return value;
}

export function checkPrincipal(principal: unknown): string {
  if (typeof principal !== 'string' || principal.length === 0 || principal.length > MAX_PRINCIPAL_LENGTH) {
    throw storeErrors.invalid(`principal must be a non-empty string of at most ${MAX_PRINCIPAL_LENGTH} characters (a token hash, a session ID, an OS user), got ${describe(principal)}`);
  }
  return principal;
}

export function checkOwner(owner: unknown): string {
  if (typeof owner !== 'string' || owner.length === 0 || owner.length > MAX_OWNER_LENGTH) {
    throw storeErrors.invalid(`owner must be a non-empty string of at most ${MAX_OWNER_LENGTH} characters (see defaultOwnerId()), got ${describe(owner)}`);
  }
  return owner;
}

/** `undefined` for a malformed ID (the caller answers "not found"); throws only for a non-string. */
export function checkIdShape(executionId: unknown): boolean {
  if (typeof executionId !== 'string') throw storeErrors.invalid(`executionId must be a string, got ${describe(executionId)}`);
  return isExecutionId(executionId);
}

export function checkRef(ref: WriterRef): WriterRef {
  if (ref === null || typeof ref !== 'object') throw storeErrors.invalid('the writer reference must be { executionId, principal, owner }');
  checkIdShape(ref.executionId);
  checkPrincipal(ref.principal);
  checkOwner(ref.owner);
  return ref;
}

export function checkExpectedLength(value: unknown): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0) {
    throw storeErrors.invalid(`expectedLength must be the journal length last seen (an integer >= 0), got ${describe(value)}`);
  }
  return value;
}

export function checkLeaseMs(value: unknown, fallback: number): number {
  return positiveInt('leaseMs', value, fallback, MAX_LEASE_MS);
}

/** UTF-8 byte length of a JSON text; what the size bound counts (Redis counts the same bytes in Lua). */
export function byteLength(text: string): number {
  return Buffer.byteLength(text, 'utf8');
}

/** Serializes JSON or throws `INVALID_ARGUMENT` naming `what`. */
export function toJson(what: string, value: unknown): string {
  let text: string | undefined;
  try {
    text = JSON.stringify(value);
  } catch (e) {
    throw storeErrors.invalid(`${what} is not JSON-serializable: ${(e as Error).message}`);
  }
  if (text === undefined) throw storeErrors.invalid(`${what} is not JSON-serializable (got ${describe(value)})`);
  return text;
}

export interface SerializedEntries {
  texts: string[];
  bytes: number;
}

/** Entries as the JSON texts to store, with their byte total. */
export function serializeEntries(entries: readonly JournalEntry[] | undefined, required: boolean): SerializedEntries {
  if (entries === undefined && !required) return { texts: [], bytes: 0 };
  if (!Array.isArray(entries)) throw storeErrors.invalid(`entries must be an array of journal entries, got ${describe(entries)}`);
  if (required && entries.length === 0) throw storeErrors.invalid('append needs at least one entry');
  const texts: string[] = new Array(entries.length);
  let bytes = 0;
  for (let i = 0; i < entries.length; i++) {
    const e = entries[i];
    if (e === null || typeof e !== 'object' || Array.isArray(e) || typeof e.type !== 'string' || e.type.length === 0) {
      throw storeErrors.invalid(`entries[${i}] must be an object with a non-empty string "type", got ${describe(e)}`);
    }
    const text = toJson(`entries[${i}]`, e);
    texts[i] = text;
    bytes += byteLength(text);
  }
  return { texts, bytes };
}

export function checkPending(pending: unknown): PendingCall[] {
  if (!Array.isArray(pending) || pending.length === 0) {
    throw storeErrors.invalid(`suspend needs pending: a non-empty array of { callId, toolId, args }, got ${describe(pending)}`);
  }
  const seen = new Set<string>();
  pending.forEach((p, i) => {
    if (p === null || typeof p !== 'object' || Array.isArray(p)) throw storeErrors.invalid(`pending[${i}] must be an object { callId, toolId, args }`);
    const { callId, toolId } = p as PendingCall;
    if (typeof callId !== 'string' || !CALL_ID_PATTERN.test(callId)) {
      throw storeErrors.invalid(`pending[${i}].callId must be 1 to ${MAX_CALL_ID_LENGTH} visible ASCII characters (such as "c0"), got ${describe(callId)}`);
    }
    if (typeof toolId !== 'string' || toolId.length === 0) throw storeErrors.invalid(`pending[${i}].toolId must be a non-empty string`);
    if (seen.has(callId)) throw storeErrors.invalid(`pending[${i}].callId ${JSON.stringify(callId)} appears twice; callIds must be unique within a suspension`);
    seen.add(callId);
  });
  return pending as PendingCall[];
}

/** A decision as {@link checkDecisions} returns it: its journal entry without `decidedAt`. */
export interface CheckedDecision {
  callId: string;
  entry: Record<string, unknown>;
}

/** Checks decisions and returns, per decision, the journal entry without `decidedAt` (the store adds its clock). */
export function checkDecisions(decisions: unknown): CheckedDecision[] {
  if (!Array.isArray(decisions) || decisions.length === 0) {
    throw storeErrors.invalid(`decide needs a non-empty array of { callId, action: 'approve' | 'deny' }, got ${describe(decisions)}`);
  }
  const seen = new Set<string>();
  return decisions.map((d: Decision, i) => {
    if (d === null || typeof d !== 'object') throw storeErrors.invalid(`decisions[${i}] must be an object { callId, action }`);
    if (typeof d.callId !== 'string' || d.callId.length === 0) throw storeErrors.invalid(`decisions[${i}].callId must be a non-empty string`);
    if (d.action !== 'approve' && d.action !== 'deny') {
      throw storeErrors.invalid(`decisions[${i}].action must be 'approve' or 'deny', got ${describe((d as { action?: unknown }).action)}`);
    }
    if (seen.has(d.callId)) throw storeErrors.invalid(`decisions[${i}]: call ${JSON.stringify(d.callId)} is decided twice in one request`);
    seen.add(d.callId);
    if (d.by !== undefined && typeof d.by !== 'string') throw storeErrors.invalid(`decisions[${i}].by must be a string`);
    const entry: Record<string, unknown> = { type: 'decision', callId: d.callId, action: d.action };
    if (d.action === 'approve' && d.args !== undefined) entry.args = d.args;
    if (d.action === 'deny' && d.reason !== undefined) {
      if (typeof d.reason !== 'string') throw storeErrors.invalid(`decisions[${i}].reason must be a string`);
      entry.reason = d.reason;
    }
    if (d.by !== undefined) entry.by = d.by;
    toJson(`decisions[${i}]`, entry);
    return { callId: d.callId, entry };
  });
}

/**
 * The decision entry text with the store's clock. `decidedAt` goes first and the rest is the
 * JSON of the checked entry, so Redis (which knows the time only inside its script) builds the
 * same text by concatenation: `{"decidedAt":<now>,` + the entry's JSON without its `{`.
 */
export function decisionText(entry: Record<string, unknown>, now: number): string {
  return `{"decidedAt":${now},${JSON.stringify(entry).slice(1)}`;
}

export interface NormalizedListFilter {
  statuses: ExecutionStatus[] | undefined;
  limit: number;
  cursor: { createdAt: number; executionId: string } | undefined;
}

export function checkListFilter(filter: ListFilter | undefined): NormalizedListFilter {
  if (filter === undefined) return { statuses: undefined, limit: STORE_DEFAULTS.listLimit, cursor: undefined };
  if (filter === null || typeof filter !== 'object') throw storeErrors.invalid('the list filter must be an object { status?, limit?, cursor? }');
  let statuses: ExecutionStatus[] | undefined;
  if (filter.status !== undefined) {
    const list = Array.isArray(filter.status) ? filter.status : [filter.status];
    for (const s of list) {
      if (!EXECUTION_STATUSES.includes(s as ExecutionStatus)) {
        throw storeErrors.invalid(`status filter ${describe(s)} is not one of ${EXECUTION_STATUSES.join(', ')}`);
      }
    }
    statuses = [...new Set(list as ExecutionStatus[])];
  }
  const limit = positiveInt('list limit', filter.limit, STORE_DEFAULTS.listLimit, STORE_DEFAULTS.maxListLimit);
  return { statuses, limit, cursor: filter.cursor === undefined ? undefined : decodeCursor(filter.cursor) };
}

export function encodeCursor(createdAt: number, executionId: string): string {
  return Buffer.from(`${createdAt}.${executionId}`, 'utf8').toString('base64url');
}

function decodeCursor(cursor: unknown): { createdAt: number; executionId: string } {
  const bad = () => storeErrors.invalid('cursor is not one this store issued (pass nextCursor from the previous page unchanged)');
  if (typeof cursor !== 'string' || cursor.length > 64) throw bad();
  const text = Buffer.from(cursor, 'base64url').toString('utf8');
  const dot = text.indexOf('.');
  const createdAt = Number(text.slice(0, dot));
  const executionId = text.slice(dot + 1);
  if (dot < 1 || !Number.isSafeInteger(createdAt) || !isExecutionId(executionId)) throw bad();
  return { createdAt, executionId };
}

/** Orders newest first, then by ID descending: the order every store lists in. */
export function compareNewestFirst(a: { createdAt: number; id: string }, b: { createdAt: number; id: string }): number {
  if (a.createdAt !== b.createdAt) return b.createdAt - a.createdAt;
  return a.id < b.id ? 1 : a.id > b.id ? -1 : 0;
}

/** A page of `rows` (newest first, at least `limit + 1` when there are more), with the cursor of the next. */
export function pageOf(rows: readonly ExecutionRow[], limit: number): ExecutionPage {
  const page = rows.slice(0, limit);
  const out: ExecutionPage = { executions: page.map(toSummary) };
  if (rows.length > limit) {
    const last = page[page.length - 1]!;
    out.nextCursor = encodeCursor(last.createdAt, last.id);
  }
  return out;
}

export function afterCursor(row: { createdAt: number; id: string }, cursor: NormalizedListFilter['cursor']): boolean {
  if (!cursor) return true;
  return row.createdAt < cursor.createdAt || (row.createdAt === cursor.createdAt && row.id < cursor.executionId);
}

/**
 * The part of an execution that every write reads and rewrites. The script, options, result
 * and journal live beside it and are only touched when they change.
 */
export interface ExecutionRow {
  id: string;
  principal: string;
  status: ExecutionStatus;
  createdAt: number;
  updatedAt: number;
  expiresAt: number;
  ttlMs: number;
  journalLength: number;
  bytes: number;
  maxBytes: number;
  leaseOwner: string | null;
  leaseExpiresAt: number | null;
  /** JSON text of `PendingCall[]`. */
  pending: string;
  /** JSON text of `{ [callId]: DecisionEntry }`. */
  decisions: string;
}

/** The row a lookup may use: `undefined` when missing, expired or another principal's. */
export function visible<R extends ExecutionRow>(row: R | undefined, principal: string, now: number): R | undefined {
  if (!row || row.principal !== principal || row.expiresAt <= now) return undefined;
  return row;
}

/** A change a planner asks for, applied by the store in the same atomic step. */
export interface Plan {
  row: ExecutionRow;
  /** Journal texts to append, in order, at positions `journalLength` (before) onwards. */
  append: string[];
  /** The result JSON text, when the write sets it. */
  result?: string;
  /** Only the journal length, bytes and timestamps changed (an append): stores may write less. */
  appendOnly?: boolean;
}

/** What a journal write returns, from the row it left. */
export function toWriteResult(row: ExecutionRow): WriteResult {
  return { journalLength: row.journalLength, bytes: row.bytes, updatedAt: row.updatedAt, expiresAt: row.expiresAt };
}

/** The writer checks shared by append, suspend, complete, renew and release. */
function writable(row: ExecutionRow | undefined, ref: WriterRef, now: number): ExecutionRow {
  const r = visible(row, ref.principal, now);
  if (!r) throw storeErrors.notFound(ref.executionId);
  if (r.leaseOwner !== ref.owner) throw storeErrors.leaseLost(ref.executionId, ref.owner);
  if (r.status !== 'running') throw storeErrors.notRunning(ref.executionId, r.status);
  return r;
}

function touched(row: ExecutionRow, now: number): ExecutionRow {
  return { ...row, updatedAt: now, expiresAt: now + row.ttlMs };
}

function checkLength(row: ExecutionRow, executionId: string, expectedLength: number): void {
  if (row.journalLength !== expectedLength) throw storeErrors.conflict(executionId, expectedLength, row.journalLength);
}

function checkBytes(row: ExecutionRow, executionId: string, adding: number): void {
  if (row.bytes + adding > row.maxBytes) throw storeErrors.journalLimit(executionId, row.bytes, adding, row.maxBytes);
}

export function planAppend(row: ExecutionRow | undefined, ref: WriterRef, entries: SerializedEntries, expectedLength: number, now: number): Plan {
  const r = writable(row, ref, now);
  checkLength(r, ref.executionId, expectedLength);
  checkBytes(r, ref.executionId, entries.bytes);
  const next = touched(r, now);
  next.journalLength += entries.texts.length;
  next.bytes += entries.bytes;
  return { row: next, append: entries.texts, appendOnly: true };
}

export function planRenew(row: ExecutionRow | undefined, ref: WriterRef, leaseMs: number, now: number): Plan {
  const next = touched(writable(row, ref, now), now);
  next.leaseExpiresAt = now + leaseMs;
  return { row: next, append: [] };
}

export function planRelease(row: ExecutionRow | undefined, ref: WriterRef, now: number): Plan {
  const next = touched(writable(row, ref, now), now);
  next.leaseOwner = null;
  next.leaseExpiresAt = null;
  return { row: next, append: [] };
}

/** `suspendText` is the JSON of the store's `{ type: 'suspend', pending }` entry. */
export function planSuspend(row: ExecutionRow | undefined, ref: WriterRef, entries: SerializedEntries, pendingText: string, suspendText: string, expectedLength: number, now: number): Plan {
  const r = writable(row, ref, now);
  checkLength(r, ref.executionId, expectedLength);
  const adding = entries.bytes + byteLength(suspendText);
  checkBytes(r, ref.executionId, adding);
  const next = touched(r, now);
  next.status = 'suspended';
  next.journalLength += entries.texts.length + 1;
  next.bytes += adding;
  next.pending = pendingText;
  next.decisions = '{}';
  next.leaseOwner = null;
  next.leaseExpiresAt = null;
  return { row: next, append: [...entries.texts, suspendText] };
}

export function planComplete(row: ExecutionRow | undefined, ref: WriterRef, entries: SerializedEntries, status: 'completed' | 'failed', resultText: string, expectedLength: number, now: number): Plan {
  const r = writable(row, ref, now);
  checkLength(r, ref.executionId, expectedLength);
  const adding = entries.bytes + byteLength(resultText);
  checkBytes(r, ref.executionId, adding);
  const next = touched(r, now);
  next.status = status;
  next.journalLength += entries.texts.length;
  next.bytes += adding;
  next.pending = '[]';
  next.decisions = '{}';
  next.leaseOwner = null;
  next.leaseExpiresAt = null;
  return { row: next, append: entries.texts, result: resultText };
}

export function planDecide(row: ExecutionRow | undefined, executionId: string, principal: string, decisions: readonly CheckedDecision[], now: number): Plan {
  const r = visible(row, principal, now);
  if (!r) throw storeErrors.notFound(executionId);
  if (r.status !== 'suspended') throw storeErrors.notSuspended(executionId, r.status);
  const pendingIds = new Set((JSON.parse(r.pending) as PendingCall[]).map((p) => p.callId));
  const decided = JSON.parse(r.decisions) as Record<string, DecisionEntry>;
  const texts: string[] = [];
  let adding = 0;
  for (const d of decisions) {
    if (!pendingIds.has(d.callId)) throw storeErrors.noPendingCall(executionId, d.callId);
    const earlier = decided[d.callId];
    if (earlier) throw storeErrors.alreadyDecided(executionId, d.callId, earlier.action);
    const text = decisionText(d.entry, now);
    texts.push(text);
    adding += byteLength(text);
  }
  checkBytes(r, executionId, adding);
  const next = touched(r, now);
  texts.forEach((t, i) => (decided[decisions[i]!.callId] = JSON.parse(t) as DecisionEntry));
  next.decisions = JSON.stringify(decided);
  next.journalLength += texts.length;
  next.bytes += adding;
  return { row: next, append: texts };
}

export interface ClaimPlan extends Plan {
  previousStatus: 'running' | 'suspended';
  previousOwner: string | null;
}

export function planClaim(row: ExecutionRow | undefined, executionId: string, principal: string, owner: string, leaseMs: number, requireDecisions: boolean, now: number): ClaimPlan {
  const r = visible(row, principal, now);
  if (!r) throw storeErrors.notFound(executionId);
  if (r.status === 'completed' || r.status === 'failed') throw storeErrors.finished(executionId, r.status);
  if (r.status === 'running' && r.leaseOwner !== null && r.leaseOwner !== owner && r.leaseExpiresAt !== null && r.leaseExpiresAt > now) {
    throw storeErrors.leaseHeld(executionId, r.leaseExpiresAt, now);
  }
  if (r.status === 'suspended' && requireDecisions) {
    const decided = JSON.parse(r.decisions) as Record<string, unknown>;
    const undecided = (JSON.parse(r.pending) as PendingCall[]).map((p) => p.callId).filter((id) => !(id in decided));
    if (undecided.length > 0) throw storeErrors.undecided(executionId, undecided);
  }
  const next = touched(r, now);
  next.status = 'running';
  next.leaseOwner = owner;
  next.leaseExpiresAt = now + leaseMs;
  return { row: next, append: [], previousStatus: r.status, previousOwner: r.leaseOwner };
}

export function toSummary(row: ExecutionRow): ExecutionSummary {
  const decisions = JSON.parse(row.decisions) as Record<string, DecisionEntry>;
  const pending = (JSON.parse(row.pending) as PendingApproval[]).map((p) => {
    const d = decisions[p.callId];
    return d ? { ...p, decision: d } : p;
  });
  const s: ExecutionSummary = {
    executionId: row.id,
    principal: row.principal,
    status: row.status,
    createdAt: row.createdAt,
    updatedAt: row.updatedAt,
    expiresAt: row.expiresAt,
    ttlMs: row.ttlMs,
    journalLength: row.journalLength,
    bytes: row.bytes,
    maxJournalBytes: row.maxBytes,
    pending,
  };
  if (row.leaseOwner !== null) s.lease = { owner: row.leaseOwner, expiresAt: row.leaseExpiresAt ?? 0 };
  return s;
}

export function toRecord(row: ExecutionRow, script: string, optionsText: string, resultText: string | null, journal: readonly string[]): ExecutionRecord {
  const rec: ExecutionRecord = {
    ...toSummary(row),
    script,
    options: JSON.parse(optionsText) as JsonValue,
    journal: journal.map((t) => JSON.parse(t) as JournalEntry),
  };
  if (resultText !== null) rec.result = JSON.parse(resultText) as JsonValue;
  return rec;
}

/** Checks `create`'s input; returns what the stores write. */
export function checkCreate(input: unknown, opts: ResolvedStoreOptions) {
  if (input === null || typeof input !== 'object') throw storeErrors.invalid('create needs { principal, owner, script, options? }');
  const i = input as Record<string, unknown>;
  const principal = checkPrincipal(i.principal);
  const owner = checkOwner(i.owner);
  if (typeof i.script !== 'string') throw storeErrors.invalid(`script must be a string, got ${describe(i.script)}`);
  const script = i.script;
  const optionsText = toJson('options', i.options === undefined ? {} : i.options);
  const leaseMs = checkLeaseMs(i.leaseMs, opts.leaseMs);
  const ttlMs = positiveInt('ttlMs', i.ttlMs, opts.executionTtlMs, MAX_TTL_MS);
  const maxBytes = Math.min(positiveInt('maxJournalBytes', i.maxJournalBytes, opts.maxJournalBytes, 2 ** 31 - 1), opts.maxJournalBytes);
  const bytes = byteLength(script) + byteLength(optionsText);
  return { principal, owner, script, optionsText, leaseMs, ttlMs, maxBytes, bytes };
}

export type CheckedCreate = ReturnType<typeof checkCreate>;

/** The row of a new execution: `running`, leased to its creator, created at `now` by the store's clock. */
export function initialRow(id: string, c: CheckedCreate, now: number): ExecutionRow {
  return {
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
}

/** For `create`: the script and options alone must fit the bound. */
export function checkCreateBytes(executionId: string, bytes: number, maxBytes: number): void {
  if (bytes > maxBytes) throw storeErrors.journalLimit(executionId, 0, bytes, maxBytes);
}

export function describe(value: unknown): string {
  if (value === undefined) return 'undefined';
  if (value === null) return 'null';
  if (typeof value === 'string') return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}...` : value);
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  if (Array.isArray(value)) return `an array of ${value.length}`;
  return `a ${typeof value}`;
}

/** Makes a closable store's methods refuse use after close. */
export class Lifetime {
  #closed = false;
  constructor(private readonly kind: string) {}
  get closed(): boolean {
    return this.#closed;
  }
  check(): void {
    if (this.#closed) throw storeErrors.closed(this.kind);
  }
  close(): boolean {
    if (this.#closed) return false;
    this.#closed = true;
    return true;
  }
}

/** Checks `suspend`'s input and builds the texts to store. */
export function checkSuspend(input: SuspendInput) {
  if (input === null || typeof input !== 'object') throw storeErrors.invalid('suspend needs { pending, entries?, expectedLength }');
  const expectedLength = checkExpectedLength(input.expectedLength);
  const pending = checkPending(input.pending);
  const pendingText = toJson('pending', pending);
  const entries = serializeEntries(input.entries, false);
  return { pending, pendingText, suspendText: `{"type":"suspend","pending":${pendingText}}`, entries, expectedLength };
}

export type CheckedSuspend = ReturnType<typeof checkSuspend>;

/** Checks `complete`'s input. */
export function checkComplete(input: CompleteInput) {
  if (input === null || typeof input !== 'object') throw storeErrors.invalid('complete needs { status, result, entries?, expectedLength }');
  if (input.status !== 'completed' && input.status !== 'failed') throw storeErrors.invalid(`complete's status must be 'completed' or 'failed', got ${JSON.stringify(input.status)}`);
  const expectedLength = checkExpectedLength(input.expectedLength);
  const resultText = toJson('result', input.result === undefined ? null : input.result);
  const entries = serializeEntries(input.entries, false);
  return { status: input.status, resultText, entries, expectedLength };
}

export type CheckedComplete = ReturnType<typeof checkComplete>;
