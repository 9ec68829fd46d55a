// Durable executions across processes, with real `toolexec serve` processes and real stores:
// - a server killed with SIGKILL while tool calls are in flight leaves a journal that a second
//   server on the same SQLite file (and, separately, the same Redis) resumes: the idempotent call
//   runs again, the other one is INTERRUPTED in the script, and nothing that finished runs twice;
// - two stateless replicas behind a round-robin proxy share executions through Redis: one
//   suspends it, a person approves it at the terminal (`toolexec approvals`), the other resumes it.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { CLI, ROOT, callTool, connectHttp, roundRobin, startServeHttp, stopProcess, textOf, type ServeProcess } from './helpers.js';
import { REQUIRE_REDIS, RedisServer, findRedisServer } from '../store/redis-server.js';

const execFileAsync = promisify(execFile);

const TOOLS = join(ROOT, 'test', 'fixtures', 'durable', 'tools.mjs');
const TOKEN = `durable-${randomBytes(8).toString('hex')}`;
const redis = findRedisServer();

interface Bed {
  dir: string;
  config: string;
  effects: string;
  lines(): string[];
}

function bed(store: Record<string, unknown>): Bed {
  const dir = mkdtempSync(join(tmpdir(), 'toolexec-durable-proc-'));
  const effects = join(dir, 'effects.log');
  writeFileSync(effects, '');
  const config = join(dir, 'toolexec.config.json');
  writeFileSync(config, JSON.stringify({ tools: [TOOLS], approve: ['ops:deploy'], store: { leaseMs: 2000, ...store }, limits: { timeoutMs: 120_000 } }));
  return { dir, config, effects, lines: () => readFileSync(effects, 'utf8').split('\n').filter(Boolean) };
}

function serve(b: Bed, extra: string[], slowMs: number): Promise<ServeProcess> {
  return startServeHttp(['--config', b.config, '--token', TOKEN, '--verbose', ...extra], { DURABLE_EFFECTS: b.effects, DURABLE_SLOW_MS: String(slowMs), XDG_DATA_HOME: b.dir });
}

async function until<T>(what: string, fn: () => Promise<T | undefined> | T | undefined, timeoutMs = 30_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const CRASH_SCRIPT = [
  'const a = await run("ops:read", { key: "before" });',
  'const [r, w] = await Promise.allSettled([run("ops:slow_read", { tag: "r" }), run("ops:slow_write", { tag: "w" })]);',
  'return { a: a.value, read: r.status === "fulfilled" ? r.value : r.reason.code, write: w.status === "fulfilled" ? w.value : w.reason.code + ": " + w.reason.message };',
].join('\n');

/** Starts the crash script on a first server, kills it mid-call, and resumes on a second one. */
async function crashAndResume(b: Bed, serveArgs: string[]): Promise<void> {
  const first = await serve(b, serveArgs, 60_000);
  let second: ServeProcess | undefined;
  const clients: Client[] = [];
  try {
    const c1 = await connectHttp(first.url, TOKEN);
    clients.push(c1);
    // Never answered: the server dies first (the client is closed below).
    void callTool(c1, 'execute_code', { script: CRASH_SCRIPT }, { timeout: 120_000 }).catch(() => {});
    await until('both slow calls to start', () => b.lines().includes('started slow_read r') && b.lines().includes('started slow_write w'));
    first.child.kill('SIGKILL');
    await stopProcess(first.child);
    await c1.close().catch(() => {});

    second = await serve(b, serveArgs, 50);
    const c2 = await connectHttp(second.url, TOKEN);
    clients.push(c2);
    // The client never got an ID: the execution is listed, running, until its lease expires.
    const listed = await callTool(c2, 'list_executions', {});
    const running = (listed.structuredContent!.executions as { executionId: string; status: string }[]).filter((e) => e.status === 'running');
    expect(running).toHaveLength(1);
    const id = running[0]!.executionId;
    const done = await until('the lease to expire and the resume to run', async () => {
      const r = await callTool(c2, 'resume_execution', { executionId: id }, { timeout: 60_000 });
      return /^RUNNING/.test(textOf(r)) ? undefined : r;
    });
    expect(done.structuredContent, textOf(done)).toMatchObject({
      ok: true,
      status: 'completed',
      value: { a: 6, read: { tag: 'r', read: true }, write: expect.stringMatching(/^INTERRUPTED: .*not marked idempotent, so it was not run again/) },
    });
    expect(done.structuredContent!.toolCalls.map((c: { toolId: string; ok: boolean; replayed?: boolean; error?: { code: string } }) => [c.toolId, c.ok, c.replayed ?? false, c.error?.code])).toEqual([
      ['ops:read', true, true, undefined],
      ['ops:slow_read', true, false, undefined],
      ['ops:slow_write', false, false, 'INTERRUPTED'],
    ]);
    const count = (line: string) => b.lines().filter((l) => l === line).length;
    expect(count('read before')).toBe(1);
    expect(count('started slow_read r')).toBe(2);
    expect(count('finished slow_read r')).toBe(1);
    expect(count('started slow_write w')).toBe(1);
    expect(count('finished slow_write w')).toBe(0);
  } finally {
    await Promise.allSettled(clients.map((c) => c.close()));
    await stopProcess(first.child);
    await stopProcess(second?.child);
  }
}

describe('durable executions across toolexec serve processes', { timeout: 180_000 }, () => {
  it('SIGKILL mid-call, resumed by a second server on the same SQLite file', async () => {
    const b = bed({ kind: 'sqlite', path: 'executions.db' });
    await crashAndResume(b, []);
  });

  describe.runIf('path' in redis || REQUIRE_REDIS)('on Redis', () => {
    let server: RedisServer;
    beforeAll(async () => {
      if (!('path' in redis)) throw new Error(redis.reason);
      server = await RedisServer.start(redis.path);
    });
    afterAll(async () => {
      await server?.stop();
    });

    it('SIGKILL mid-call of a stateless replica, resumed by another', async () => {
      const b = bed({ kind: 'redis', url: server.url, keyPrefix: `t${randomBytes(4).toString('hex')}:` });
      await crashAndResume(b, ['--stateless']);
    });

    it('two stateless replicas behind a round-robin proxy: suspended on one, approved at the terminal, resumed on the other', async () => {
      const b = bed({ kind: 'redis', url: server.url, keyPrefix: `t${randomBytes(4).toString('hex')}:` });
      const replicas = [await serve(b, ['--stateless'], 50), await serve(b, ['--stateless'], 50)];
      const proxy = await roundRobin(replicas.map((r) => r.url));
      let client: Client | undefined;
      try {
        client = await connectHttp(proxy.url, TOKEN);
        const first = await callTool(client, 'execute_code', { script: 'const r = await run("ops:read", { key: "k" });\nconst d = await run("ops:deploy", { service: "api-" + r.value });\nreturn d.deployed;' });
        expect(textOf(first)).toMatch(/^SUSPENDED/);
        const id = first.structuredContent!.executionId as string;
        const callId = first.structuredContent!.pending[0].callId as string;
        const listed = await callTool(client, 'list_executions', { status: 'suspended' });
        expect(listed.structuredContent!.executions.map((e: { executionId: string }) => e.executionId)).toEqual([id]);

        // A person at a terminal, against the same store, as the client with this token. Run
        // asynchronously: a spawnSync would stall this process's event loop, the proxy's included,
        // past its keep-alive timeout, and the client's next request would meet a closed socket.
        const cli = (args: string[], token = TOKEN) =>
          execFileAsync(process.execPath, [CLI, 'approvals', ...args, '--config', b.config, '--token', token], { encoding: 'utf8', env: { ...process.env, XDG_DATA_HOME: b.dir } }).then(
            (r) => ({ status: 0, stdout: r.stdout, stderr: r.stderr }),
            (e: { code?: number; stdout?: string; stderr?: string }) => ({ status: e.code ?? 1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' }),
          );
        const shown = await cli(['list']);
        expect(shown.stdout).toContain(id);
        expect(shown.stdout).toContain(`${callId} ops:deploy {"service":"api-1"}`);
        // Another principal sees nothing of it.
        expect((await cli(['list'], 'someone-else-entirely')).stdout).not.toContain(id);
        const approved = await cli(['approve', id, callId]);
        expect(approved.status, approved.stderr).toBe(0);

        // Round robin alternates: make the resume land on the replica that did not run the script.
        const ranOn = replicas.findIndex((r) => /execute_code ok/.test(r.stderr()));
        const landed = () => replicas.findIndex((r) => (r.stderr().match(/list_namespaces ok/g) ?? []).length > seen[replicas.indexOf(r)]!);
        let seen = replicas.map((r) => (r.stderr().match(/list_namespaces ok/g) ?? []).length);
        for (let i = 0; i < 3; i++) {
          await callTool(client, 'list_namespaces', {});
          const at = await until('the verbose line', () => (landed() >= 0 ? landed() : undefined));
          if (at === ranOn) break;
          seen = replicas.map((r) => (r.stderr().match(/list_namespaces ok/g) ?? []).length);
        }
        const done = await callTool(client, 'resume_execution', { executionId: id });
        expect(done.structuredContent, textOf(done)).toMatchObject({ ok: true, status: 'completed', value: 'api-1' });
        // Each replica served part of it: the one that ran execute_code is not the one that resumed.
        const ran = replicas.map((r) => /execute_code ok/.test(r.stderr()));
        const resumed = replicas.map((r) => /resume_execution ok/.test(r.stderr()));
        expect(ran.filter(Boolean)).toHaveLength(1);
        expect(resumed.filter(Boolean)).toHaveLength(1);
        expect(ran.indexOf(true)).not.toBe(resumed.indexOf(true));
        expect(b.lines()).toEqual(['read k', 'deploy api-1']);
      } finally {
        await client?.close().catch(() => {});
        await proxy.close();
        await Promise.allSettled(replicas.map((r) => stopProcess(r.child)));
      }
    });
  });
});
