// The engine and durable executions: the config's approval policy and store reach every
// executor; the store opens only when something needs it; resume finds the runtime the
// execution started on.
import { describe, expect, it } from 'vitest';
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { checkConfig } from '../../src/config/load-config.js';
import { createEngine } from '../../src/engine/engine.js';
import { defaultStorePath, userDataDir } from '../../src/engine/store.js';

const root = join(fileURLToPath(new URL('.', import.meta.url)), '..', '..');
const tools = join(root, 'test', 'fixtures', 'durable', 'tools.mjs');

describe('engine: durable executions', () => {
  it('the default store of the CLI and the server is one SQLite file under the data directory, opened only when needed', async () => {
    const data = mkdtempSync(join(tmpdir(), 'toolexec-data-'));
    const env = { XDG_DATA_HOME: data };
    expect(defaultStorePath(env)).toBe(join(data, 'toolexec', 'executions.db'));
    expect(userDataDir({ HOME: '/home/x' })).toBe('/home/x/.local/share/toolexec');
    const engine = await createEngine(checkConfig({ tools: [tools], approve: ['ops:deploy'] }), { defaultStore: 'sqlite', env });
    try {
      // A tool call opens nothing; the first durable execution opens the file.
      await engine.runner.run('ops:read', { key: 'k' });
      expect(existsSync(defaultStorePath(env))).toBe(false);
      const first = await engine.execute('(await run("ops:deploy", { service: "s" })).deployed', { principal: 'user:t' });
      expect(first.status).toBe('suspended');
      expect(existsSync(defaultStorePath(env))).toBe(true);
      expect((await engine.store()).kind).toBe('sqlite');
      await expect(engine.resume(first.executionId!, { approve: ['c0'] }, { principal: 'user:other' })).rejects.toMatchObject({ code: 'NOT_FOUND' });
      const done = await engine.resume(first.executionId!, { approve: [first.pending![0]!.callId] }, { principal: 'user:t' });
      expect(done).toMatchObject({ ok: true, status: 'completed', value: 's' });
    } finally {
      await engine.close();
    }
  });

  it('the library default is the memory store; a config without approvals never makes executions durable', async () => {
    const engine = await createEngine(checkConfig({ tools: [tools] }));
    try {
      const r = await engine.execute('(await run("ops:deploy", { service: "free" })).deployed');
      expect(r.ok).toBe(true);
      expect(r.status).toBeUndefined();
      expect(r.executionId).toBeUndefined();
      const d = await engine.execute('(await run("ops:deploy", { service: "gated" })).deployed', { approve: ['ops:*'] });
      expect(d.status).toBe('suspended');
      expect((await engine.store()).kind).toBe('memory');
    } finally {
      await engine.close();
    }
  });

  it('approveDestructive in the config gates tools annotated destructiveHint', async () => {
    const engine = await createEngine(checkConfig({ tools: [tools], approveDestructive: true, store: { kind: 'memory' } }));
    try {
      expect((await engine.execute('(await run("ops:deploy", { service: "x" })).deployed')).status).toBe('suspended');
      expect((await engine.execute('(await run("ops:read", { key: "x" })).value')).value).toBe(1);
    } finally {
      await engine.close();
    }
  });
});
