// Admission control of `toolexec serve`, through a real server process and real SDK clients
// over Streamable HTTP: per-session and per-server caps answered with SERVER_BUSY, time spent
// queued counted against the caller's timeoutMs, server-side ceilings on requested limits.
// Executions hold their slots with a host-side sleep tool (no CPU burnt on a shared 2-core
// machine); that they are running is known from their first progress notification, that one is
// queued from the server's --verbose line, never from a timer.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { InMemoryTransport } from '@modelcontextprotocol/sdk/inMemory.js';
import { checkConfig } from '../../src/config/load-config.js';
import { createEngine } from '../../src/engine/engine.js';
import { ToolexecServer } from '../../src/server/toolexec-server.js';
import { waitFor } from '../backends/mcp/helpers.js';
import { callTool, connectHttp, SLOW_TOOLS_FIXTURE, startServeHttp, stopProcess, textOf, type CallResult, type ServeProcess } from './helpers.js';

function writeConfig(config: Record<string, unknown>): string {
  const dir = mkdtempSync(join(tmpdir(), 'toolexec-admission-'));
  const file = join(dir, 'toolexec.config.json');
  writeFileSync(file, JSON.stringify({ tools: [SLOW_TOOLS_FIXTURE], ...config }));
  return file;
}

/** A script that reports progress after its first (instant) tool call, then holds its slot for `ms`. */
const holder = (ms: number) => `await run('math:add', { a: 1, b: 1 }); await run('slow:sleep', { ms: ${ms} }); return 'done'`;

/** Starts `holder(ms)` on `client`; resolves `running` at its first progress notification. */
function hold(client: Client, ms: number, timeoutMs = 30_000): { running: Promise<void>; result: Promise<CallResult> } {
  let started!: () => void;
  const running = new Promise<void>((r) => (started = r));
  const result = callTool(client, 'execute_code', { script: holder(ms), timeoutMs }, { onprogress: () => started(), timeout: 120_000 });
  // A call refused at once never reports progress; let the test see its result instead of hanging.
  void result.then(() => started(), () => started());
  return { running, result };
}

describe('toolexec serve: admission control for execute_code', { timeout: 120_000 }, () => {
  let serve: ServeProcess;
  const clients: Client[] = [];
  const connect = async () => {
    const c = await connectHttp(serve.url);
    clients.push(c);
    return c;
  };

  beforeAll(async () => {
    // Three running slots, two per session, one waiting place: small numbers so that the
    // test reaches every cap; no `limits`, so the server's own ceilings apply.
    const config = writeConfig({ serve: { maxConcurrentExecutions: 3, maxExecutionsPerSession: 2, maxQueuedExecutions: 1 } });
    serve = await startServeHttp(['--config', config, '--verbose']);
  });
  afterAll(async () => {
    await Promise.allSettled(clients.map((c) => c.close()));
    await stopProcess(serve?.child);
  });

  it('prints its caps in the start-up summary', () => {
    expect(serve.stderr()).toMatch(/execute_code: runtime quickjs, 3 at once, 1 waiting, 2 per session; limits at most timeoutMs 60000, memoryMb 256/);
  });

  it('caps a client asking for ten minutes and 100 GB at the server ceilings', async () => {
    const client = await connect();
    const r = await callTool(client, 'execute_code', { script: 'return 6 * 7', timeoutMs: 600_000, limits: { memoryMb: 100_000, maxOutputBytes: 1e9 } });
    expect(r.isError, textOf(r)).toBeFalsy();
    expect(r.structuredContent!.value).toBe(42);
    expect(r.structuredContent!.limits).toMatchObject({ timeoutMs: 60_000, memoryMb: 256, maxOutputBytes: 4 * 1024 * 1024 });
    expect(r.structuredContent!.stats.queuedMs).toBe(0);
  });

  it('one session cannot take every slot: its third execution is SERVER_BUSY, another session runs at once', async () => {
    const a = await connect();
    const b = await connect();
    const first = hold(a, 4_000);
    const second = hold(a, 4_000);
    await Promise.all([first.running, second.running]);
    const third = await callTool(a, 'execute_code', { script: 'return 1' });
    expect(third.isError).toBe(true);
    expect(third.structuredContent!.error).toMatchObject({ code: 'SERVER_BUSY', limit: 'maxExecutionsPerSession', retryable: true });
    expect(textOf(third)).toMatch(/^SERVER_BUSY: This session already has 2 executions running or waiting \(serve\.maxExecutionsPerSession is 2\)/);
    // The refusal has the shape of every execute_code result (the SDK client checked it against the output schema).
    expect(third.structuredContent).toMatchObject({ ok: false, logs: [], toolCalls: [], stats: { toolCalls: 0 } });
    // The plain request of another session finds the third slot free.
    const plain = await callTool(b, 'execute_code', { script: 'return 1 + 1' });
    expect(plain.structuredContent!.value).toBe(2);
    expect(plain.structuredContent!.stats.queuedMs).toBe(0);
    expect((await first.result).structuredContent!.value).toBe('done');
    expect((await second.result).structuredContent!.value).toBe('done');
    // The session's allowance is back once its executions ended.
    expect((await callTool(a, 'execute_code', { script: 'return 3' })).structuredContent!.value).toBe(3);
  });

  it('time spent queued counts against timeoutMs; a full queue is SERVER_BUSY; a budget that runs out while queued is TIMEOUT', async () => {
    const [a, b, c, d] = [await connect(), await connect(), await connect(), await connect()];
    const holders = [hold(a, 5_000), hold(a, 5_000), hold(b, 5_000)];
    await Promise.all(holders.map((h) => h.running));
    // Every slot is taken: C's script waits, with its 8 s budget already running.
    const waitingLines = () => serve.stderr().match(/execute_code waiting for a sandbox/g)?.length ?? 0;
    const before = waitingLines();
    const queued = callTool(c, 'execute_code', { script: "await run('slow:sleep', { ms: 60000 }); return 'never'", timeoutMs: 8_000 }, { timeout: 120_000 });
    await waitFor(() => waitingLines() > before, 'the server to report the queued execution');
    expect(serve.stderr()).toMatch(/execute_code waiting for a sandbox \(3 running, 1 waiting\)/);
    // The one waiting place is taken: D is refused at once, naming the cap.
    const full = await callTool(d, 'execute_code', { script: 'return 1', timeoutMs: 1_000 });
    expect(full.structuredContent!.error).toMatchObject({ code: 'SERVER_BUSY', limit: 'maxQueuedExecutions' });
    expect(textOf(full)).toMatch(/^SERVER_BUSY: The server is busy: 3 executions are running and 1 are waiting \(serve\.maxQueuedExecutions is 1\); retry later/);

    for (const h of holders) expect((await h.result).structuredContent!.value).toBe('done');
    const r = await queued;
    expect(r.structuredContent!.error.code).toBe('TIMEOUT');
    const queuedMs = r.structuredContent!.stats.queuedMs as number;
    expect(queuedMs).toBeGreaterThan(0);
    // The sandbox got what was left of the budget: its own limit plus the wait is the 8 s asked for.
    const m = /exceeded its time limit of (\d+) ms \(timeoutMs 8000 ms, of which (\d+) ms were spent waiting for a sandbox\)/.exec(r.structuredContent!.error.message);
    expect(m, r.structuredContent!.error.message).not.toBeNull();
    expect(Number(m![2])).toBe(queuedMs);
    expect(Math.abs(Number(m![1]) + queuedMs - 8_000)).toBeLessThanOrEqual(1);
    expect(r.structuredContent!.limits.timeoutMs).toBe(8_000);

    // A budget smaller than the wait ends in the queue, as TIMEOUT saying so.
    const again = [hold(a, 4_000), hold(a, 4_000), hold(b, 4_000)];
    await Promise.all(again.map((h) => h.running));
    const starved = await callTool(c, 'execute_code', { script: 'return 1 + 1', timeoutMs: 500 });
    expect(starved.structuredContent!.error.code).toBe('TIMEOUT');
    expect(starved.structuredContent!.error.message).toMatch(/^The execution waited \d+ ms for a sandbox and its timeoutMs \(500 ms\) ran out before it could start/);
    expect(starved.structuredContent!.toolCalls).toEqual([]);
    for (const h of again) await h.result;

    // Nothing is left holding a slot: a plain request runs at once.
    const plain = await callTool(d, 'execute_code', { script: 'return 2 + 2' });
    expect(plain.structuredContent!.value).toBe(4);
    expect(plain.structuredContent!.stats.queuedMs).toBe(0);
  });

  it('a dozen busy loops from one session: two run, ten are refused, another session\'s 1 + 1 with a 1 s budget answers', async () => {
    const [a, b] = [await connect(), await connect()];
    const loops = Array.from({ length: 12 }, () => callTool(a, 'execute_code', { script: 'while (true) {}', timeoutMs: 2_000 }));
    const plain = await callTool(b, 'execute_code', { script: 'return 1 + 1', timeoutMs: 1_000 });
    expect(plain.isError, textOf(plain)).toBeFalsy();
    expect(plain.structuredContent!.value).toBe(2);
    const codes = (await Promise.all(loops)).map((r) => r.structuredContent!.error.code as string);
    expect(codes.filter((c) => c === 'TIMEOUT')).toHaveLength(2);
    expect(codes.filter((c) => c === 'SERVER_BUSY')).toHaveLength(10);
  });

  it('a client that gives up while queued frees its place', async () => {
    const [a, b, c] = [await connect(), await connect(), await connect()];
    const holders = [hold(a, 3_000), hold(a, 3_000), hold(b, 3_000)];
    await Promise.all(holders.map((h) => h.running));
    const waitingLines = () => serve.stderr().match(/execute_code waiting for a sandbox/g)?.length ?? 0;
    const before = waitingLines();
    const ac = new AbortController();
    const cancelled = c.callTool({ name: 'execute_code', arguments: { script: 'return 1', timeoutMs: 30_000 } }, undefined, { signal: ac.signal });
    await waitFor(() => waitingLines() > before, 'the queued execution');
    ac.abort('changed my mind');
    await expect(cancelled).rejects.toThrow();
    // Its place is free again: another waiter is accepted (not SERVER_BUSY), and runs when a slot frees.
    const next = await callTool(c, 'execute_code', { script: 'return 5', timeoutMs: 30_000 }, { timeout: 60_000 });
    expect(next.structuredContent!.value).toBe(5);
    for (const h of holders) await h.result;
  });
});

describe('ToolexecServer: tool call timeouts are capped like scripts\'', () => {
  it('run_tool and run_chain asking for ten minutes get the timeoutMs ceiling', async () => {
    const engine = await createEngine(checkConfig({ tools: [SLOW_TOOLS_FIXTURE], limits: { timeoutMs: 300 } }));
    const server = await new ToolexecServer(engine).start();
    const [a, b] = InMemoryTransport.createLinkedPair();
    await server.connect(b);
    const client = new Client({ name: 'timeouts', version: '1' });
    await client.connect(a);
    try {
      const one = await callTool(client, 'run_tool', { toolId: 'slow:sleep', args: { ms: 60_000 }, timeoutMs: 600_000 });
      expect(textOf(one)).toMatch(/^TIMEOUT/);
      const chain = await callTool(client, 'run_chain', { steps: [{ toolId: 'slow:sleep', args: { ms: 60_000 }, timeoutMs: 600_000 }] });
      expect(textOf(chain)).toMatch(/^TIMEOUT/);
      expect((await callTool(client, 'run_tool', { toolId: 'math:add', args: { a: 1, b: 1 } })).structuredContent!.structured).toEqual({ sum: 2 });
    } finally {
      await client.close();
      await server.close();
      await engine.close();
    }
  });
});
