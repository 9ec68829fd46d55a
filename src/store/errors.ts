/**
 * The one error type every execution store throws. The messages are built here, from data, so
 * that the memory, SQLite and Redis stores (whose Redis checks run in Lua) say the same thing
 * for the same failure; callers branch on `code`, never on the text.
 */

/** Stable codes, the same for every store. */
export const STORE_ERROR_CODES = [
  /** No such execution: missing, expired, deleted, or owned by another principal (deliberately indistinguishable). */
  'NOT_FOUND',
  /** `expectedLength` did not match the journal: another writer appended first. Re-read and decide. */
  'CONFLICT',
  /** A live lease of another owner protects the execution; `data.retryAfterMs` says when it expires. */
  'LEASE_HELD',
  /** The writer does not hold the lease (never had it, released it, or another owner claimed it after it expired). */
  'LEASE_LOST',
  /** The execution is in a status that does not allow the operation (a completed one cannot be claimed, ...). */
  'INVALID_STATE',
  /** `claim(..., { requireDecisions: true })` on a suspension with calls nobody decided yet; `data.undecided` lists them. */
  'UNDECIDED',
  /** The write would take the execution past its `maxJournalBytes`. */
  'JOURNAL_LIMIT',
  /** The memory store holds `maxExecutions` live executions already. */
  'STORE_FULL',
  /** Misuse of the API: a wrong type, a bad option, an entry that is not JSON. */
  'INVALID_ARGUMENT',
  /** The backing service or driver is missing or not answering (no SQLite driver, Redis down). */
  'UNAVAILABLE',
  /** The store was closed. */
  'CLOSED',
] as const;

export type StoreErrorCode = (typeof STORE_ERROR_CODES)[number];

export class StoreError extends Error {
  override readonly name = 'StoreError';
  readonly code: StoreErrorCode;
  /** Structured detail: lengths, limits, call IDs. Never another principal's data. */
  readonly data: Record<string, unknown>;

  constructor(code: StoreErrorCode, message: string, data: Record<string, unknown> = {}, options?: { cause?: unknown }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.data = data;
  }

  static is(value: unknown, code?: StoreErrorCode): value is StoreError {
    return value instanceof StoreError && (code === undefined || value.code === code);
  }
}

/**
 * The failures the stores share, by name. Redis scripts report `{ err: CODE, ...data }` and the
 * client side turns that into the same error through {@link storeErrorFromData}.
 */
export const storeErrors = {
  notFound(executionId: string): StoreError {
    // The same words whether the ID never existed, expired or belongs to someone else.
    return new StoreError('NOT_FOUND', `no execution ${quoteId(executionId)}`, { executionId: safeId(executionId) });
  },
  conflict(executionId: string, expectedLength: number, journalLength: number): StoreError {
    return new StoreError(
      'CONFLICT',
      `execution ${executionId}: expected a journal of ${expectedLength} entries, found ${journalLength}; another writer appended first (re-read the execution before writing again)`,
      { executionId, expectedLength, journalLength },
    );
  },
  leaseHeld(executionId: string, expiresAt: number, now: number): StoreError {
    const retryAfterMs = Math.max(0, expiresAt - now);
    return new StoreError(
      'LEASE_HELD',
      `execution ${executionId} is running under another owner's lease for ${retryAfterMs} ms more; claim it after the lease expires`,
      { executionId, leaseExpiresAt: expiresAt, retryAfterMs },
    );
  },
  leaseLost(executionId: string, owner: string): StoreError {
    return new StoreError(
      'LEASE_LOST',
      `execution ${executionId}: owner ${JSON.stringify(owner)} does not hold its lease (released, never claimed, or claimed by another owner after it expired); stop writing and claim it again`,
      { executionId, owner },
    );
  },
  invalidState(executionId: string, message: string, data: Record<string, unknown> = {}): StoreError {
    return new StoreError('INVALID_STATE', `execution ${executionId}: ${message}`, { executionId, ...data });
  },
  notRunning(executionId: string, status: string): StoreError {
    return storeErrors.invalidState(executionId, `it is ${status}, not running`, { status });
  },
  notSuspended(executionId: string, status: string): StoreError {
    return storeErrors.invalidState(executionId, `it is ${status}; only a suspended execution takes decisions`, { status });
  },
  finished(executionId: string, status: string): StoreError {
    return storeErrors.invalidState(executionId, `it has ${status}; there is nothing to resume`, { status });
  },
  noPendingCall(executionId: string, callId: string): StoreError {
    return storeErrors.invalidState(executionId, `no pending call ${JSON.stringify(callId)} in this suspension`, { callId });
  },
  alreadyDecided(executionId: string, callId: string, action: string): StoreError {
    return new StoreError('CONFLICT', `execution ${executionId}: call ${JSON.stringify(callId)} was already ${action === 'approve' ? 'approved' : 'denied'}; the first decision stands`, {
      executionId,
      callId,
    });
  },
  undecided(executionId: string, undecided: string[]): StoreError {
    return new StoreError(
      'UNDECIDED',
      `execution ${executionId} waits for decisions on ${undecided.length} call(s): ${undecided.join(', ')}; approve or deny them first`,
      { executionId, undecided },
    );
  },
  journalLimit(executionId: string, bytes: number, adding: number, maxJournalBytes: number): StoreError {
    return new StoreError(
      'JOURNAL_LIMIT',
      `execution ${executionId}: the write of ${adding} bytes would take it to ${bytes + adding} bytes, past maxJournalBytes (${maxJournalBytes}); raise maxJournalBytes or make fewer or smaller tool calls`,
      { executionId, bytes, adding, maxJournalBytes },
    );
  },
  closed(kind: string): StoreError {
    return new StoreError('CLOSED', `the ${kind} execution store is closed`);
  },
  invalid(message: string, data: Record<string, unknown> = {}): StoreError {
    return new StoreError('INVALID_ARGUMENT', message, data);
  },
};

/** Rebuilds a store error from the `{ err, ...data }` a Redis script returned. */
export function storeErrorFromData(executionId: string, data: Record<string, unknown>): StoreError {
  const num = (k: string) => Number(data[k]);
  switch (data.err) {
    case 'NOT_FOUND':
      return storeErrors.notFound(executionId);
    case 'CONFLICT':
      return storeErrors.conflict(executionId, num('expectedLength'), num('journalLength'));
    case 'LEASE_HELD':
      return storeErrors.leaseHeld(executionId, num('leaseExpiresAt'), num('now'));
    case 'LEASE_LOST':
      return storeErrors.leaseLost(executionId, String(data.owner));
    case 'JOURNAL_LIMIT':
      return storeErrors.journalLimit(executionId, num('bytes'), num('adding'), num('maxJournalBytes'));
    case 'UNDECIDED':
      return storeErrors.undecided(executionId, Array.isArray(data.undecided) ? data.undecided.map(String) : []);
    case 'NOT_RUNNING':
      return storeErrors.notRunning(executionId, String(data.status));
    case 'NOT_SUSPENDED':
      return storeErrors.notSuspended(executionId, String(data.status));
    case 'FINISHED':
      return storeErrors.finished(executionId, String(data.status));
    case 'NO_PENDING_CALL':
      return storeErrors.noPendingCall(executionId, String(data.callId));
    case 'ALREADY_DECIDED':
      return storeErrors.alreadyDecided(executionId, String(data.callId), String(data.action));
    default:
      return new StoreError('UNAVAILABLE', `execution ${executionId}: unexpected reply from the store: ${JSON.stringify(data).slice(0, 200)}`);
  }
}

// IDs come from clients: never echo more than an ID's worth of whatever was sent.
function safeId(id: string): string {
  return typeof id === 'string' ? id.slice(0, 64) : String(id);
}
function quoteId(id: string): string {
  return JSON.stringify(safeId(id));
}
