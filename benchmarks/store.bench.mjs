// Execution stores: the cost of one journal append (one ~120-byte tool-result entry, with its
// expected-length and lease checks) per store, against the raw write underneath in the same run:
// a bare better-sqlite3 INSERT transaction with the same pragmas, and a bare RPUSH through the
// same Redis client. Redis runs as a private redis-server (appendonly yes) on a free port; the
// everysec rows switch it with CONFIG SET. The "8 results" rows show JournalWriter's group
// commit. Build first: npx tsc -p tsconfig.build.json
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { JournalWriter, MemoryExecutionStore } from '../dist/store/memory.js';
import { SqliteExecutionStore } from '../dist/store/sqlite.js';
import { RedisExecutionStore } from '../dist/store/redis.js';
import { measure, report } from './lib.mjs';

const require = createRequire(import.meta.url);
const dir = mkdtempSync(join(tmpdir(), 'toolexec-store-bench-'));
const entry = (i) => ({ type: 'result', index: i, value: { number: 1347, title: 'Found a bug', state: 'open', labels: ['bug'] } });
const rows = [];
const notes = [];
const opts = { samples: 200, warmup: 20 };

async function appendLoop(name, store) {
  const rec = await store.create({ principal: 'bench', owner: 'bench-host', script: 'x', options: {} });
  const ref = { executionId: rec.executionId, principal: 'bench', owner: 'bench-host' };
  let length = 0;
  rows.push(await measure(name, async () => {
    length = (await store.append(ref, [entry(length)], length)).journalLength;
  }, opts));
}

// Eight results arriving at once (Promise.all in the guest), per result: one store write each,
// against a JournalWriter that coalesces them.
async function eightAtOnce(label, store) {
  const rec = await store.create({ principal: 'bench', owner: 'bench-host', script: 'x', options: {} });
  const ref = { executionId: rec.executionId, principal: 'bench', owner: 'bench-host' };
  let length = 0;
  const one = await measure(`${label}: 8 results, 8 appends`, async () => {
    for (let i = 0; i < 8; i++) length = (await store.append(ref, [entry(i)], length)).journalLength;
  }, { samples: 40, warmup: 5 });
  const writer = new JournalWriter(store, ref, length);
  const grouped = await measure(`${label}: 8 results, JournalWriter`, async () => {
    await Promise.all(Array.from({ length: 8 }, (_, i) => writer.append(entry(i))));
  }, { samples: 40, warmup: 5 });
  writer.close();
  // Per result, so the rows compare with a single append.
  for (const r of [one, grouped]) for (const k of ['medianUs', 'p10Us', 'p90Us', 'minUs']) r[k] /= 8;
  rows.push(one, grouped);
}

// ---- memory
{
  const store = new MemoryExecutionStore({ maxJournalBytes: 2 ** 30 });
  await appendLoop('memory: append', store);
  await store.close();
}

// ---- SQLite, the store and a bare transaction with the same pragmas
for (const synchronous of ['full', 'normal']) {
  const path = join(dir, `bench-${synchronous}.db`);
  const store = await SqliteExecutionStore.open({ path, synchronous, maxJournalBytes: 2 ** 30 });
  const driver = store.driver;
  await appendLoop(`sqlite ${synchronous}: append (${driver})`, store);
  if (synchronous === 'full') await eightAtOnce('sqlite full', store);
  await store.close();
  if (driver === 'better-sqlite3') {
    const Database = require('better-sqlite3');
    const db = new Database(join(dir, `raw-${synchronous}.db`));
    db.pragma('journal_mode = WAL');
    db.pragma(`synchronous = ${synchronous.toUpperCase()}`);
    db.exec('CREATE TABLE j (id TEXT, seq INTEGER, entry TEXT, PRIMARY KEY (id, seq)) WITHOUT ROWID');
    const insert = db.prepare('INSERT INTO j VALUES (?, ?, ?)');
    let seq = 0;
    rows.push(await measure(`sqlite ${synchronous}: bare INSERT transaction`, () => {
      db.exec('BEGIN IMMEDIATE');
      insert.run('x', seq, JSON.stringify(entry(seq++)));
      db.exec('COMMIT');
    }, opts));
    db.close();
  }
}

// ---- Redis
const which = spawnSync('sh', ['-c', 'command -v redis-server'], { encoding: 'utf8' }).stdout.trim();
if (!which) {
  notes.push('redis rows skipped: redis-server is not installed (.ci/redis-setup.sh)');
} else {
  const port = await new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const p = s.address().port;
      s.close(() => resolve(p));
    });
  });
  const server = spawn(which, ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'yes', '--appendfsync', 'always', '--dir', dir], { stdio: 'ignore' });
  const url = `redis://127.0.0.1:${port}`;
  let store;
  for (let i = 0; i < 100 && !store; i++) {
    store = await RedisExecutionStore.connect({ url, maxJournalBytes: 2 ** 30, onWarning() {} }).catch(() => new Promise((r) => setTimeout(() => r(undefined), 50)));
  }
  const { createClient } = await import('redis');
  const raw = await createClient({ url }).connect();
  for (const fsync of ['always', 'everysec']) {
    await raw.configSet('appendfsync', fsync);
    await appendLoop(`redis ${fsync}: append (Lua)`, store);
    if (fsync === 'always') await eightAtOnce('redis always', store);
    let n = 0;
    rows.push(await measure(`redis ${fsync}: bare RPUSH`, async () => {
      await raw.sendCommand(['RPUSH', 'bench:raw', JSON.stringify(entry(n++))]);
    }, opts));
  }
  await raw.close();
  await store.close();
  server.kill('SIGKILL');
  notes.push(`Redis ${spawnSync(which, ['--version'], { encoding: 'utf8' }).stdout.match(/v=(\S+)/)?.[1]} on 127.0.0.1, appendonly yes`);
}

rmSync(dir, { recursive: true, force: true });
notes.push('one ~120-byte entry per append; the journal grows through the run (hundreds of entries)');
notes.push('"8 results" rows are per result: eight appends in a row, or eight JournalWriter.append calls at once (two store writes: the first alone, seven coalesced)');
report('store', rows, {
  ratios: [
    ['sqlite full: store / bare', 'sqlite full: append (better-sqlite3)', 'sqlite full: bare INSERT transaction'],
    ['sqlite normal: store / bare', 'sqlite normal: append (better-sqlite3)', 'sqlite normal: bare INSERT transaction'],
    ['redis always: store / bare', 'redis always: append (Lua)', 'redis always: bare RPUSH'],
    ['redis everysec: store / bare', 'redis everysec: append (Lua)', 'redis everysec: bare RPUSH'],
    ['sqlite full: grouped / one by one', 'sqlite full: 8 results, JournalWriter', 'sqlite full: 8 results, 8 appends'],
    ['redis always: grouped / one by one', 'redis always: 8 results, JournalWriter', 'redis always: 8 results, 8 appends'],
  ],
  notes,
});
