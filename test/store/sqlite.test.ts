// The SQLite store against real files in a temp dir: the shared contract (two connections to
// one file, a shared fake clock), then what only a file can show: WAL mode, permissions, the
// schema version, two processes appending at once, and a writer killed with SIGKILL right after
// its append resolved.
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { SqliteExecutionStore, type SqliteStoreOptions } from '../../src/store/sqlite.js';
import { openSqlite } from '../../src/store/sqlite-driver.js';
import { defineStoreContract, storeError } from './contract.js';
import { expectAppendSurvivesKill, expectCrossProcessAppendsAtomic } from './processes.js';

const dir = mkdtempSync(join(tmpdir(), 'toolexec-sqlite-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let files = 0;
const nextFile = () => join(dir, `store-${++files}.db`);

const [major, minor] = process.versions.node.split('.').map(Number) as [number, number];
// node:sqlite works without a flag from 22.13 (and 23.4); earlier lines need --experimental-sqlite.
const hasNodeSqlite = major > 23 || (major === 23 && minor >= 4) || (major === 22 && minor >= 13);
const REQUIRE_NODE_SQLITE = process.env.TOOLEXEC_REQUIRE_NODE_SQLITE === '1';
if (!hasNodeSqlite) {
  console.warn(`[sqlite tests] the node:sqlite driver runs are skipped: Node ${process.version} has no node:sqlite (22.13+); better-sqlite3 runs instead${REQUIRE_NODE_SQLITE ? ' (TOOLEXEC_REQUIRE_NODE_SQLITE=1: failing)' : ''}`);
}
// Where node:sqlite exists better-sqlite3 is optional (and often built for another Node); where it
// does not, better-sqlite3 is the only driver and must work, so its suite is never skipped there.
const betterSqlite3 = await openSqlite(':memory:', 'better-sqlite3').then(
  ({ db }) => (db.close(), true),
  (e: Error) => e.message,
);
if (hasNodeSqlite && betterSqlite3 !== true) console.warn(`[sqlite tests] the better-sqlite3 driver runs are skipped: ${betterSqlite3}`);

for (const driver of ['better-sqlite3', 'node:sqlite'] as const) {
  const available = driver === 'better-sqlite3' ? !hasNodeSqlite || betterSqlite3 === true : hasNodeSqlite;
  describe.runIf(available)(`driver ${driver}`, () => {
    defineStoreContract(`sqlite (${driver})`, async (options) => {
      let now = Date.now();
      const config: SqliteStoreOptions = { ...options, path: nextFile(), driver, clock: () => now };
      const a = await SqliteExecutionStore.open(config);
      const b = await SqliteExecutionStore.open(config);
      return {
        a,
        b,
        elapse: async (ms) => void (now += ms),
        close: async () => {
          await a.close();
          await b.close();
        },
      };
    });
  });
}

describe('sqlite store', () => {
  it.runIf(REQUIRE_NODE_SQLITE)('runs on a Node with node:sqlite (TOOLEXEC_REQUIRE_NODE_SQLITE=1)', async () => {
    expect(hasNodeSqlite, `Node ${process.version}`).toBe(true);
    const store = await SqliteExecutionStore.open({ path: nextFile() });
    expect(store.driver).toBe('node:sqlite');
    await store.close();
  });

  it('opens the file in WAL mode with synchronous=FULL, mode 0600, with the driver it says', async () => {
    const path = join(dir, 'sub', 'folder', 'x.db');
    const store = await SqliteExecutionStore.open({ path });
    expect(store.driver).toBe(hasNodeSqlite ? 'node:sqlite' : 'better-sqlite3');
    expect(store.durability.level).toBe('fsync');
    expect(store.durability.summary).toMatch(/WAL, synchronous=FULL/);
    expect(statSync(path).mode & 0o777).toBe(0o600);
    expect(statSync(join(dir, 'sub', 'folder')).mode & 0o777).toBe(0o700);
    await store.create({ principal: 'p', owner: 'o', script: '' });
    // journal_mode is a property of the file: another connection sees it.
    const { db } = await openSqlite(path);
    expect(db.prepare('PRAGMA journal_mode').get()).toEqual({ journal_mode: 'wal' });
    expect(db.prepare('PRAGMA user_version').get()).toEqual({ user_version: 1 });
    db.close();
    await store.close();
    const normal = await SqliteExecutionStore.open({ path, synchronous: 'normal' });
    expect(normal.durability.level).toBe('process');
    await normal.close();
  });

  it('refuses a file from a newer schema, bad options and missing drivers with the fix', async () => {
    const path = nextFile();
    const { db } = await openSqlite(path);
    db.exec('PRAGMA user_version = 99');
    db.close();
    await expect(SqliteExecutionStore.open({ path })).rejects.toThrow(/written by a newer toolexec \(schema 99; this one knows 1\)/);
    await expect(SqliteExecutionStore.open({ path: '' })).rejects.toThrow(/path must be a file path/);
    await expect(SqliteExecutionStore.open({ path: nextFile(), synchronous: 'off' as never })).rejects.toThrow(/synchronous must be 'full' or 'normal'/);
    await expect(SqliteExecutionStore.open({ path: nextFile(), driver: 'sqlite3' as never })).rejects.toThrow(/driver must be 'auto', 'node:sqlite' or 'better-sqlite3'/);
    if (!hasNodeSqlite) {
      const e = await storeError(SqliteExecutionStore.open({ path: nextFile(), driver: 'node:sqlite' }), 'UNAVAILABLE');
      expect(e.message).toMatch(/node:sqlite is not available in Node v20/);
      expect(e.message).toMatch(/npm install better-sqlite3@12/);
    }
    const garbage = nextFile();
    writeFileSync(garbage, 'this is not a database, just text that is long enough to have a header '.repeat(10));
    await storeError(SqliteExecutionStore.open({ path: garbage }), 'UNAVAILABLE');
  });

  it('two processes appending to one execution at once never interleave', async () => {
    const path = nextFile();
    const store = await SqliteExecutionStore.open({ path });
    await expectCrossProcessAppendsAtomic('sqlite', { path }, store);
    await store.close();
  });

  it('an append that resolved survives a SIGKILL of its process the instant after', async () => {
    const path = nextFile();
    await expectAppendSurvivesKill('sqlite', { path });
  });
});
