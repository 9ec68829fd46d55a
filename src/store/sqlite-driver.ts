/**
 * The SQLite driver behind the SQLite store: `node:sqlite` where Node has it (22.5+, without a
 * flag from 22.13/23.4), else `better-sqlite3` 12 (an optional dependency; 13 needs Node 22 and
 * crashes on 20). Both are synchronous and expose the same three calls, so the store sees one
 * small interface and the schema is the same whichever wrote the file. Both load lazily: nothing
 * here runs until a SQLite store is opened.
 */
import { StoreError } from './errors.js';

export type SqliteDriverName = 'node:sqlite' | 'better-sqlite3';
export type SqlParam = string | number | null;

export interface SqlStatement {
  run(...params: SqlParam[]): unknown;
  get(...params: SqlParam[]): Record<string, unknown> | undefined;
  all(...params: SqlParam[]): Record<string, unknown>[];
}

export interface SqlDatabase {
  exec(sql: string): void;
  prepare(sql: string): SqlStatement;
  close(): void;
}

/** STRICT tables (the schema's type checks) need 3.37. */
const MIN_SQLITE_VERSION = [3, 37, 0];

type Opener = (path: string) => SqlDatabase;

/**
 * Node 22 prints "ExperimentalWarning: SQLite is an experimental feature" on stderr when
 * node:sqlite loads: noise in every CLI command that opens the store, about a module we chose and
 * test on every line. Only that one warning is dropped, only while the module loads.
 */
async function withoutSqliteWarning<T>(load: () => Promise<T>): Promise<T> {
  const emit = process.emitWarning;
  process.emitWarning = function (this: NodeJS.Process, warning: string | Error, ...rest: unknown[]) {
    const text = typeof warning === 'string' ? warning : warning?.message;
    const type = typeof rest[0] === 'string' ? rest[0] : (rest[0] as { type?: string } | undefined)?.type ?? (warning as Error)?.name;
    if (type === 'ExperimentalWarning' && typeof text === 'string' && text.startsWith('SQLite is an experimental feature')) return;
    return (emit as (...a: unknown[]) => void).call(this, warning, ...rest);
  } as typeof process.emitWarning;
  try {
    return await load();
  } finally {
    process.emitWarning = emit;
  }
}

async function loadNodeSqlite(): Promise<Opener | string> {
  let mod: { DatabaseSync?: new (path: string) => SqlDatabase };
  try {
    // A variable specifier: Node 20's type declarations (and bundlers) know no node:sqlite.
    const specifier = 'node:sqlite';
    mod = (await withoutSqliteWarning(() => import(specifier))) as typeof mod;
  } catch (e) {
    return `node:sqlite is not available in Node ${process.version} (${(e as Error).message.split('\n')[0]})`;
  }
  const DatabaseSync = mod.DatabaseSync;
  if (typeof DatabaseSync !== 'function') return 'node:sqlite has no DatabaseSync';
  return (path) => new DatabaseSync(path);
}

async function loadBetterSqlite3(): Promise<Opener | string> {
  let Database: new (path: string) => SqlDatabase;
  try {
    const specifier = 'better-sqlite3';
    const mod = (await import(specifier)) as { default: new (path: string) => SqlDatabase };
    Database = mod.default;
  } catch (e) {
    return `better-sqlite3 could not be loaded (${(e as Error).message.split('\n')[0]})`;
  }
  return (path) => new Database(path);
}

/** Opens `path` with the first driver that loads and passes the feature test. */
export async function openSqlite(path: string, driver: SqliteDriverName | 'auto' = 'auto'): Promise<{ db: SqlDatabase; driver: SqliteDriverName; sqliteVersion: string }> {
  const order: SqliteDriverName[] = driver === 'auto' ? ['node:sqlite', 'better-sqlite3'] : [driver];
  const reasons: string[] = [];
  for (const name of order) {
    const open = name === 'node:sqlite' ? await loadNodeSqlite() : await loadBetterSqlite3();
    if (typeof open === 'string') {
      reasons.push(open);
      continue;
    }
    let version = featureTest(open);
    if (name === 'better-sqlite3' && /NODE_MODULE_VERSION|did not self-register/.test(version)) {
      version += ` (better-sqlite3 was built for another Node version than ${process.version}: npm rebuild better-sqlite3)`;
    }
    if (typeof version !== 'string' || !version.startsWith('ok:')) {
      reasons.push(`${name}: ${version}`);
      continue;
    }
    return { db: open(path), driver: name, sqliteVersion: version.slice(3) };
  }
  throw new StoreError(
    'UNAVAILABLE',
    `no SQLite driver for the SQLite execution store: ${reasons.join('; ')}. Use Node 22.13+ (node:sqlite is built in) or install better-sqlite3 12: npm install better-sqlite3@12 (version 13 needs Node 22)`,
    { reasons },
  );
}

/** `ok:<version>`, or why the driver cannot serve. */
function featureTest(open: Opener): string {
  let db: SqlDatabase | undefined;
  try {
    db = open(':memory:');
    const v = String(db.prepare('SELECT sqlite_version() AS v').get()?.v ?? '');
    const parts = v.split('.').map(Number);
    for (let i = 0; i < 3; i++) {
      const have = parts[i] ?? 0;
      const need = MIN_SQLITE_VERSION[i]!;
      if (have > need) break;
      if (have < need) return `SQLite ${v} is older than ${MIN_SQLITE_VERSION.join('.')}`;
    }
    return `ok:${v}`;
  } catch (e) {
    return `could not open a database (${(e as Error).message})`;
  } finally {
    try {
      db?.close();
    } catch {
      // The probe is throwaway.
    }
  }
}
