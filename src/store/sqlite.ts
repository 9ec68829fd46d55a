/**
 * `toolexec/store/sqlite`: executions in one SQLite file, no server. The default store of the
 * CLI and `toolexec serve`; several processes on one machine may share the file.
 *
 * Durability: the file is in WAL mode and every write is one `BEGIN IMMEDIATE ... COMMIT`
 * transaction. With `synchronous: 'full'` (the default) SQLite fsyncs the WAL before COMMIT
 * returns, so a write that resolved survives a crash of this process, of every process, of the
 * OS and a power cut (as far as the disk honours fsync). With `synchronous: 'normal'` the commit
 * is in the OS page cache when it returns: it survives any process crash but an OS crash or a
 * power cut may roll back the latest transactions; it is cheaper (no fsync per write).
 *
 * Concurrency: transactions are serialized by SQLite's write lock; a writer that finds it taken
 * waits up to `busyTimeoutMs`. The drivers are synchronous, so that wait (and every statement)
 * blocks this thread's event loop; transactions are a few statements long, so waits are short.
 *
 * Driver: `node:sqlite` on Node 22.13+, else `better-sqlite3` 12 (optional dependency), loaded
 * when a store is opened; both write the same schema (`user_version` 1).
 */
import { chmodSync, closeSync, existsSync, mkdirSync, openSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import {
  checkClock,
  positiveInt,
  resolveStoreOptions,
  toRecord,
  visible,
  type ExecutionRow,
  type NormalizedListFilter,
  type Plan,
  type ResolvedStoreOptions,
} from './core.js';
import { StoreError, storeErrors } from './errors.js';
import { PlannedExecutionStore } from './planned-store.js';
import { openSqlite, type SqlDatabase, type SqlStatement, type SqliteDriverName } from './sqlite-driver.js';
import type { ExecutionRecord, ExecutionStatus, StoreDurability, StoreOptions } from './types.js';

export * from './types.js';
export { StoreError, STORE_ERROR_CODES, type StoreErrorCode } from './errors.js';
export { newExecutionId, isExecutionId, defaultOwnerId } from './ids.js';
export { JournalWriter, type JournalWriterOptions } from './journal-writer.js';
export type { SqliteDriverName } from './sqlite-driver.js';

export interface SqliteStoreOptions extends StoreOptions {
  /** The database file (created with mode 0600, its folder with 0700, when missing), or `:memory:` for a private throwaway database. */
  path: string;
  /** `auto` (default): node:sqlite where it works, else better-sqlite3. */
  driver?: SqliteDriverName | 'auto';
  /** `full` (default): fsync at every commit. `normal`: survives process crashes, not OS crashes. See the file header. */
  synchronous?: 'full' | 'normal';
  /** How long a write waits for another process's transaction. Default 5000. */
  busyTimeoutMs?: number;
  /** The clock (ms since the epoch). For tests; every process sharing a file must share a clock. Default `Date.now`. */
  clock?: () => number;
}

const SCHEMA_VERSION = 1;
/** Expired executions reclaimed per `create`, so a sweep never makes one write slow. */
const SWEEP_BATCH = 64;

const SCHEMA = `
CREATE TABLE IF NOT EXISTS toolexec_executions (
  id TEXT PRIMARY KEY,
  principal TEXT NOT NULL,
  status TEXT NOT NULL CHECK (status IN ('running', 'suspended', 'completed', 'failed')),
  script TEXT NOT NULL,
  options TEXT NOT NULL,
  result TEXT,
  pending TEXT NOT NULL,
  decisions TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  expires_at INTEGER NOT NULL,
  ttl_ms INTEGER NOT NULL,
  journal_length INTEGER NOT NULL,
  bytes INTEGER NOT NULL,
  max_bytes INTEGER NOT NULL,
  lease_owner TEXT,
  lease_expires_at INTEGER
) STRICT;
CREATE INDEX IF NOT EXISTS toolexec_executions_by_principal ON toolexec_executions (principal, created_at DESC, id DESC);
CREATE INDEX IF NOT EXISTS toolexec_executions_by_expiry ON toolexec_executions (expires_at);
CREATE TABLE IF NOT EXISTS toolexec_journal (
  execution_id TEXT NOT NULL,
  seq INTEGER NOT NULL,
  entry TEXT NOT NULL,
  PRIMARY KEY (execution_id, seq)
) STRICT, WITHOUT ROWID;
`;

const ROW_COLUMNS = 'id, principal, status, created_at, updated_at, expires_at, ttl_ms, journal_length, bytes, max_bytes, lease_owner, lease_expires_at, pending, decisions';

/** An {@link ExecutionStore} in one SQLite file. Open it with {@link SqliteExecutionStore.open}. */
export class SqliteExecutionStore extends PlannedExecutionStore {
  readonly kind = 'sqlite';
  readonly durability: StoreDurability;
  /** The driver that opened the file. */
  readonly driver: SqliteDriverName;
  /** The SQLite library version of that driver. */
  readonly sqliteVersion: string;
  readonly path: string;
  readonly #db: SqlDatabase;
  readonly #begin: Partial<Record<'IMMEDIATE' | 'DEFERRED', SqlStatement>> = {};
  #commit: SqlStatement | undefined;
  readonly #s: Record<
    'row' | 'full' | 'journal' | 'insertExec' | 'update' | 'updateAppend' | 'setResult' | 'insertEntry' | 'deleteExec' | 'deleteJournal' | 'expired',
    SqlStatement
  >;

  /** Opens (and on first use creates) the store's tables in `options.path`. */
  static async open(options: SqliteStoreOptions): Promise<SqliteExecutionStore> {
    if (options === null || typeof options !== 'object') throw storeErrors.invalid('SqliteExecutionStore.open needs { path }');
    if (typeof options.path !== 'string' || options.path.length === 0) {
      throw storeErrors.invalid(`sqlite store option path must be a file path (or ':memory:'), got ${JSON.stringify(options.path)}`);
    }
    const opts = resolveStoreOptions('sqlite', options);
    const synchronous = options.synchronous ?? 'full';
    if (synchronous !== 'full' && synchronous !== 'normal') throw storeErrors.invalid(`sqlite store option synchronous must be 'full' or 'normal', got ${JSON.stringify(synchronous)}`);
    const busyTimeoutMs = positiveInt('sqlite store option busyTimeoutMs', options.busyTimeoutMs, 5000, 600_000);
    const driver = options.driver ?? 'auto';
    if (driver !== 'auto' && driver !== 'node:sqlite' && driver !== 'better-sqlite3') {
      throw storeErrors.invalid(`sqlite store option driver must be 'auto', 'node:sqlite' or 'better-sqlite3', got ${JSON.stringify(driver)}`);
    }
    const clock = checkClock('sqlite', options.clock);
    const path = options.path === ':memory:' ? options.path : resolve(options.path);
    if (path !== ':memory:') prepareFile(path);
    const opened = await openSqlite(path, driver);
    try {
      return new SqliteExecutionStore(opened.db, opened.driver, opened.sqliteVersion, path, opts, synchronous, busyTimeoutMs, clock);
    } catch (e) {
      opened.db.close();
      if (e instanceof StoreError) throw e;
      throw new StoreError('UNAVAILABLE', `${path} is not a usable SQLite database: ${(e as Error).message}; point the store at another file, or move this one away`, {}, { cause: e });
    }
  }

  private constructor(
    db: SqlDatabase,
    driver: SqliteDriverName,
    sqliteVersion: string,
    path: string,
    opts: ResolvedStoreOptions,
    synchronous: 'full' | 'normal',
    busyTimeoutMs: number,
    clock: () => number,
  ) {
    super('sqlite', opts, clock);
    this.#db = db;
    this.driver = driver;
    this.sqliteVersion = sqliteVersion;
    this.path = path;
    // busy_timeout first: the pragmas and the schema below may wait for another process.
    db.exec(`PRAGMA busy_timeout = ${busyTimeoutMs}`);
    const mode = String(db.prepare('PRAGMA journal_mode = WAL').get()?.journal_mode ?? '');
    if (path !== ':memory:' && mode !== 'wal') {
      throw new StoreError('UNAVAILABLE', `${path}: SQLite could not switch to WAL mode (journal_mode is ${mode}); the file system may not support it (network file systems do not): put the file on a local disk`);
    }
    db.exec(`PRAGMA synchronous = ${synchronous.toUpperCase()}`);
    this.#migrate(path);
    this.durability =
      synchronous === 'full'
        ? { level: 'fsync', summary: `SQLite ${path} (WAL, synchronous=FULL): every write is fsynced before it resolves; it survives process, OS and power failures` }
        : { level: 'process', summary: `SQLite ${path} (WAL, synchronous=NORMAL): a resolved write survives any process crash; an OS crash or power cut may lose the latest writes` };
    const p = (sql: string) => db.prepare(sql);
    this.#s = {
      row: p(`SELECT ${ROW_COLUMNS} FROM toolexec_executions WHERE id = ?`),
      full: p(`SELECT ${ROW_COLUMNS}, script, options, result FROM toolexec_executions WHERE id = ?`),
      journal: p('SELECT entry FROM toolexec_journal WHERE execution_id = ? ORDER BY seq'),
      insertExec: p(
        `INSERT INTO toolexec_executions (${ROW_COLUMNS}, script, options, result) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, NULL)`,
      ),
      update: p(
        'UPDATE toolexec_executions SET status = ?, updated_at = ?, expires_at = ?, journal_length = ?, bytes = ?, lease_owner = ?, lease_expires_at = ?, pending = ?, decisions = ? WHERE id = ?',
      ),
      updateAppend: p('UPDATE toolexec_executions SET updated_at = ?, expires_at = ?, journal_length = ?, bytes = ? WHERE id = ?'),
      setResult: p('UPDATE toolexec_executions SET result = ? WHERE id = ?'),
      insertEntry: p('INSERT INTO toolexec_journal (execution_id, seq, entry) VALUES (?, ?, ?)'),
      deleteExec: p('DELETE FROM toolexec_executions WHERE id = ?'),
      deleteJournal: p('DELETE FROM toolexec_journal WHERE execution_id = ?'),
      expired: p('SELECT id FROM toolexec_executions WHERE expires_at <= ? LIMIT ?'),
    };
  }

  protected atomic<T>(mode: 'read' | 'write', fn: () => T): T {
    // A read is a DEFERRED transaction too, so that the row and the journal come from one snapshot.
    return this.#tx(mode === 'write' ? 'IMMEDIATE' : 'DEFERRED', fn);
  }

  protected readRow(executionId: string): ExecutionRow | undefined {
    const raw = this.#s.row.get(executionId);
    return raw ? fromSql(raw) : undefined;
  }

  protected readRecord(executionId: string, principal: string, now: number): ExecutionRecord | undefined {
    const raw = this.#s.full.get(executionId);
    if (!raw) return undefined;
    const row = visible(fromSql(raw), principal, now);
    if (!row) return undefined;
    const journal = this.#s.journal.all(executionId).map((r) => r.entry as string);
    return toRecord(row, raw.script as string, raw.options as string, (raw.result as string | null) ?? null, journal);
  }

  protected insert(row: ExecutionRow, script: string, optionsText: string): void {
    this.#sweep(row.createdAt, SWEEP_BATCH);
    this.#s.insertExec.run(
      row.id,
      row.principal,
      row.status,
      row.createdAt,
      row.updatedAt,
      row.expiresAt,
      row.ttlMs,
      row.journalLength,
      row.bytes,
      row.maxBytes,
      row.leaseOwner,
      row.leaseExpiresAt,
      row.pending,
      row.decisions,
      script,
      optionsText,
    );
  }

  protected applyPlan(p: Plan): void {
    const r = p.row;
    // The planner has already moved journalLength past the new entries.
    let seq = r.journalLength - p.append.length;
    for (const text of p.append) this.#s.insertEntry.run(r.id, seq++, text);
    if (p.appendOnly) this.#s.updateAppend.run(r.updatedAt, r.expiresAt, r.journalLength, r.bytes, r.id);
    else this.#s.update.run(r.status, r.updatedAt, r.expiresAt, r.journalLength, r.bytes, r.leaseOwner, r.leaseExpiresAt, r.pending, r.decisions, r.id);
    if (p.result !== undefined) this.#s.setResult.run(p.result, r.id);
  }

  protected remove(row: ExecutionRow): void {
    this.#delete(row.id);
  }

  protected listRows(principal: string, f: NormalizedListFilter): ExecutionRow[] {
    const params: (string | number)[] = [principal, this.now()];
    let sql = `SELECT ${ROW_COLUMNS} FROM toolexec_executions WHERE principal = ? AND expires_at > ?`;
    if (f.cursor) {
      sql += ' AND (created_at < ? OR (created_at = ? AND id < ?))';
      params.push(f.cursor.createdAt, f.cursor.createdAt, f.cursor.executionId);
    }
    if (f.statuses) {
      sql += ` AND status IN (${f.statuses.map(() => '?').join(', ')})`;
      params.push(...f.statuses);
    }
    sql += ' ORDER BY created_at DESC, id DESC LIMIT ?';
    params.push(f.limit + 1);
    return this.#run(() => this.#db.prepare(sql).all(...params).map(fromSql));
  }

  protected purgeChecked(): number {
    let total = 0;
    for (;;) {
      // Batches, each its own transaction, so other processes get the lock in between.
      const n = this.#tx('IMMEDIATE', () => this.#sweep(this.now(), 500));
      total += n;
      if (n < 500) return total;
    }
  }

  protected closeChecked(): void {
    this.#db.close();
  }

  #migrate(path: string): void {
    this.#tx('IMMEDIATE', () => {
      const version = Number(this.#db.prepare('PRAGMA user_version').get()?.user_version ?? 0);
      if (version > SCHEMA_VERSION) {
        throw new StoreError('UNAVAILABLE', `${path} was written by a newer toolexec (schema ${version}; this one knows ${SCHEMA_VERSION}): upgrade toolexec or use another file`);
      }
      this.#db.exec(SCHEMA);
      if (version < SCHEMA_VERSION) this.#db.exec(`PRAGMA user_version = ${SCHEMA_VERSION}`);
    });
  }

  #sweep(now: number, limit: number): number {
    const ids = this.#s.expired.all(now, limit).map((r) => r.id as string);
    for (const id of ids) this.#delete(id);
    return ids.length;
  }

  #delete(id: string): void {
    this.#s.deleteJournal.run(id);
    this.#s.deleteExec.run(id);
  }

  /** One transaction: `BEGIN <mode>`, `fn`, `COMMIT`; `ROLLBACK` when `fn` throws. */
  #tx<T>(mode: 'IMMEDIATE' | 'DEFERRED', fn: () => T): T {
    return this.#run(() => {
      // Prepared once: compiling BEGIN and COMMIT on every write was a fifth of an append's cost.
      const begin = (this.#begin[mode] ??= this.#db.prepare(`BEGIN ${mode}`));
      this.#commit ??= this.#db.prepare('COMMIT');
      begin.run();
      let result: T;
      try {
        result = fn();
        this.#commit.run();
      } catch (e) {
        try {
          this.#db.exec('ROLLBACK');
        } catch {
          // SQLite may have rolled back on its own (an I/O error); the original error matters.
        }
        throw e;
      }
      return result;
    });
  }

  /** Driver errors (a busy lock past the timeout, a full disk) become `UNAVAILABLE` with the cause. */
  #run<T>(fn: () => T): T {
    try {
      return fn();
    } catch (e) {
      if (e instanceof StoreError) throw e;
      const message = (e as Error)?.message ?? String(e);
      const hint = /locked|busy/i.test(message) ? ' (another process held the write lock past busyTimeoutMs)' : '';
      throw new StoreError('UNAVAILABLE', `SQLite store ${this.path}: ${message}${hint}`, {}, { cause: e });
    }
  }
}

function fromSql(r: Record<string, unknown>): ExecutionRow {
  return {
    id: r.id as string,
    principal: r.principal as string,
    status: r.status as ExecutionStatus,
    createdAt: Number(r.created_at),
    updatedAt: Number(r.updated_at),
    expiresAt: Number(r.expires_at),
    ttlMs: Number(r.ttl_ms),
    journalLength: Number(r.journal_length),
    bytes: Number(r.bytes),
    maxBytes: Number(r.max_bytes),
    leaseOwner: (r.lease_owner as string | null) ?? null,
    leaseExpiresAt: r.lease_expires_at === null || r.lease_expires_at === undefined ? null : Number(r.lease_expires_at),
    pending: r.pending as string,
    decisions: r.decisions as string,
  };
}

/**
 * Creates the folder (0700) and an empty file (0600) when missing: the file holds scripts and
 * tool results, and SQLite gives its -wal and -shm files the main file's permissions.
 */
function prepareFile(path: string): void {
  try {
    mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
    if (!existsSync(path)) {
      closeSync(openSync(path, 'a', 0o600));
      chmodSync(path, 0o600);
    }
  } catch (e) {
    throw new StoreError('UNAVAILABLE', `cannot create the SQLite store file ${path}: ${(e as Error).message}`, {}, { cause: e });
  }
}
