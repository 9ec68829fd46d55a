// The store entry points as users import them (toolexec/store/*, from dist/): what each exports,
// that the root entry loads none of them, that the heavy clients load only when a store opens,
// and the README's example.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../..', import.meta.url));

function node(args: string[]) {
  const r = spawnSync(process.execPath, args, { cwd: root, encoding: 'utf8', timeout: 60_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

// Lists what the process has loaded from the store's dependencies and files.
const LOADED = `
  import { createRequire } from 'node:module';
  const loaded = () => Object.keys(createRequire(import.meta.url).cache)
    .filter((k) => /node_modules\\/(redis|@redis|better-sqlite3)\\//.test(k)).map((k) => k.replace(/.*node_modules\\//, '').split('/')[0]);
`;

describe('store entry points', () => {
  it('the root entry loads no store, no Redis client and no SQLite driver', () => {
    const r = node(['--input-type=module', '-e', `${LOADED}
      const api = await import('toolexec');
      console.log(JSON.stringify({ loaded: [...new Set(loaded())], store: Object.keys(api).filter((k) => /Store|JournalWriter/.test(k)) }));`]);
    expect(r.stderr).toBe('');
    expect(JSON.parse(r.stdout)).toEqual({ loaded: [], store: [] });
  });

  it('each subpath exports its store, the shared names, and loads its client only when a store opens', () => {
    const r = node(['--input-type=module', '-e', `${LOADED}
      const out = {};
      for (const kind of ['memory', 'sqlite', 'redis']) {
        const m = await import('toolexec/store/' + kind);
        out[kind] = ['MemoryExecutionStore', 'SqliteExecutionStore', 'RedisExecutionStore', 'StoreError', 'JournalWriter', 'newExecutionId', 'isExecutionId', 'defaultOwnerId', 'STORE_ERROR_CODES', 'STORE_DEFAULTS']
          .filter((n) => n in m);
      }
      out.beforeOpen = [...new Set(loaded())];
      const { SqliteExecutionStore } = await import('toolexec/store/sqlite');
      const s = await SqliteExecutionStore.open({ path: ':memory:' });
      out.driver = s.driver;
      await s.close();
      out.afterOpen = [...new Set(loaded())];
      const { RedisExecutionStore } = await import('toolexec/store/redis');
      // Nothing listens on port 1: the connect fails, after loading the client.
      out.connect = await RedisExecutionStore.connect({ url: 'redis://127.0.0.1:1', onWarning() {} }).catch((e) => e.code);
      out.afterConnect = [...new Set(loaded())].filter((n) => n === 'redis');
      console.log(JSON.stringify(out));`]);
    expect(r.stderr).toBe('');
    const out = JSON.parse(r.stdout);
    // node:sqlite is built in (nothing from node_modules); better-sqlite3 is a package.
    expect(out.afterOpen).toEqual(out.driver === 'node:sqlite' ? [] : ['better-sqlite3']);
    delete out.driver;
    delete out.afterOpen;
    const shared = ['StoreError', 'JournalWriter', 'newExecutionId', 'isExecutionId', 'defaultOwnerId', 'STORE_ERROR_CODES', 'STORE_DEFAULTS'];
    expect(out).toEqual({
      memory: ['MemoryExecutionStore', ...shared],
      sqlite: ['SqliteExecutionStore', ...shared],
      redis: ['RedisExecutionStore', ...shared],
      beforeOpen: [],
      connect: 'UNAVAILABLE',
      afterConnect: ['redis'],
    });
  });

  it('the code block of the README\'s "Execution stores" section runs and prints what it says', () => {
    const readme = readFileSync(join(root, 'README.md'), 'utf8');
    const section = readme.slice(readme.indexOf('## Execution stores'), readme.indexOf('\n## ', readme.indexOf('## Execution stores') + 3));
    const block = /```js\n([\s\S]*?)```/.exec(section)![1]!;
    const dir = mkdtempSync(join(tmpdir(), 'toolexec-readme-'));
    try {
      const file = join(dir, 'snippet.mjs');
      // The one change: the snippet's relative file goes to a temp dir, and the package name to dist/.
      writeFileSync(
        file,
        block
          .replace("'toolexec/store/sqlite'", JSON.stringify(pathToFileURL(join(root, 'dist/store/sqlite.js')).href))
          .replace("path: 'executions.db'", `path: ${JSON.stringify(join(dir, 'executions.db'))}`),
      );
      const r = node([file]);
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
      const promised = /console\.log\(.*\/\/ (.*)\n/.exec(block)![1]!;
      expect(r.stdout.trim()).toBe(promised);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("the README's example (examples/execution-store.mjs) runs", () => {
    const r = node(['examples/execution-store.mjs']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout.trim().split('\n')).toEqual([
      'durability: fsync',
      'suspended: suspended',
      'someone else sees: undefined',
      'claimed from suspended with 4 journal entries; last: decision approve',
      'INVALID_STATE - execution <id>: it has completed; there is nothing to resume',
      'completed executions: 1 {"ok":true,"value":7}',
    ]);
  });
});
