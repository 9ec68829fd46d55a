// A sandbox thread does not poll for a host that runs on its own CPU (src/runtime/current-cpu.ts, runtimes/cpu.js):
// the poll would hold the CPU the host needs to answer. Which CPU a thread runs on is the
// scheduler's choice, so the test makes the host *say* it runs where the thread last ran (the
// control word HOST_CPU, which the host rewrites only when its own CPU changes) before each
// reply, and counts what the thread reports for the job. Polling is forced on (spare-core.ts
// reads the mode once, at load), so co-location is the only reason left not to poll.
import { closeSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runBridgeFixture, tasksetMissing } from '../bridge-fixture.js';

process.env.TOOLEXEC_SANDBOX_POLL = 'always';
const { QuickJSRuntime } = await import('../../../src/runtime/quickjs/index.js');
const { CTRL } = await import('../../../src/runtime/quickjs/ring.js');
const { currentCpu, cpuField } = await import('../../../src/runtime/current-cpu.js');
const farSide = createRequire(import.meta.url)('../../../runtimes/cpu.js') as { openStat(path: string): number; statCpu(fd: number, buf: Buffer): number };

const LINUX = process.platform === 'linux';
// With one core a job's thread never gets the leave to poll at all.
const why = !LINUX ? 'reads /proc/thread-self/stat (Linux only)' : availableParallelism() < 2 ? 'polling needs a second core' : undefined;

type Host = { ctrl: Int32Array; lastBridge?: { waits: number; polled: number } };
const CALLS = 200;

describe('which CPU a thread runs on', () => {
  it.skipIf(!LINUX)('is field 39 of the thread’s stat, a CPU this machine has', () => {
    const bytes = readFileSync('/proc/thread-self/stat');
    const text = bytes.toString('latin1');
    const field = Number(text.slice(text.lastIndexOf(')') + 2).split(' ')[36]);
    expect(cpuField(bytes, bytes.length)).toBe(field);
    // The thread may move between two reads, so the live reading is only checked for range.
    for (let i = 0; i < 3; i++) {
      const cpu = currentCpu();
      expect(cpu).toBeGreaterThanOrEqual(0);
      expect(cpu).toBeLessThan(1024);
    }
  });

  it('reads the field after a command name that holds spaces and parentheses, and refuses text without it', () => {
    const fields = (cpu: string) => Array.from({ length: 50 }, (_, i) => (i === 36 ? cpu : String(i))).join(' ');
    const rest = fields('7');
    const enc = (s: string) => new TextEncoder().encode(s);
    const b = enc(`123 (a) b (c)) ${rest}\n`);
    expect(cpuField(b, b.length)).toBe(7);
    const short = enc('123 (x) S 1 2 3');
    expect(cpuField(short, short.length)).toBe(-1);
    const noName = enc(rest);
    expect(cpuField(noName, noName.length)).toBe(-1);
    const notNumber = enc(`1 (x) ${fields('7x')}`);
    expect(cpuField(notNumber, notNumber.length)).toBe(-1);
    // The far sides' copy (runtimes/cpu.js) reads the same texts the same way.
    const dir = mkdtempSync(join(tmpdir(), 'toolexec-stat-'));
    try {
      const buf = Buffer.alloc(1024);
      for (const [name, bytes] of [['b', b], ['short', short], ['noName', noName], ['notNumber', notNumber]] as const) {
        const path = join(dir, name);
        writeFileSync(path, bytes);
        const fd = farSide.openStat(path);
        expect(farSide.statCpu(fd, buf)).toBe(cpuField(bytes, bytes.length));
        closeSync(fd);
      }
      expect(farSide.openStat(join(dir, 'missing'))).toBe(-1);
      expect(farSide.statCpu(-1, buf)).toBe(-1);
      if (LINUX) {
        const fd = farSide.openStat('/proc/thread-self/stat');
        const cpu = farSide.statCpu(fd, buf);
        closeSync(fd);
        expect(cpu).toBeGreaterThanOrEqual(0);
        expect(cpu).toBeLessThan(1024);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe.skipIf(why !== undefined)('QuickJS threads: no poll for a host on the same CPU', () => {
  const runtime = new QuickJSRuntime({ minIdle: 0, maxWorkers: 1 });
  afterAll(() => runtime.dispose());

  /** Runs CALLS sequential tool calls; before each reply, HOST_CPU is set by `place` from the thread's own word. */
  const run = async (place: (workerCpuWord: number) => number) => {
    let session!: ReturnType<typeof runtime.start>;
    session = runtime.start(
      {
        code: `__toolexec_start(async function () {\nlet s = 0;\nfor (let i = 0; i < ${CALLS}; i++) s = (await run('echo', { i })).echo.i;\nreturn s;\n});`,
        filename: 'script.js',
        limits: { timeoutMs: 30_000, memoryMb: 64, maxOutputBytes: 1_000_000 },
      },
      (text) => {
        const m = JSON.parse(text) as { op?: string; id?: number; args?: unknown };
        if (m.op !== 'run') return;
        const host = runtime.workers()[0] as unknown as Host;
        Atomics.store(host.ctrl, CTRL.HOST_CPU, place(Atomics.load(host.ctrl, CTRL.WORKER_CPU)));
        // A reply a timer's turn later: the thread has always started its wait by then.
        setTimeout(() => session.send(JSON.stringify({ id: m.id, ok: true, value: { echo: m.args } })), 0);
      },
    );
    const outcome = await session.done;
    expect(outcome.failure).toBeUndefined();
    const bridge = (runtime.workers()[0] as unknown as Host).lastBridge;
    expect(bridge).toBeDefined();
    return bridge!;
  };

  it('polls while the host is elsewhere, and sleeps at once while it is beside the thread', { timeout: 60_000 }, async () => {
    // Elsewhere: a CPU number no machine here has. The host writes its real CPU over it when it
    // moves (and the first wait comes before the first reply), so a few waits follow where the
    // host really runs: the same slack as below.
    const apart = await run(() => 100_000);
    expect(apart.waits).toBeGreaterThanOrEqual(CALLS - 10);
    expect(apart.polled).toBeGreaterThanOrEqual(apart.waits - CALLS / 10);
    // Beside: the thread's own CPU, as it last published it. A thread that moves to another CPU
    // between two calls polls once before the host catches up, as it does when the host moves.
    const beside = await run((word) => word);
    expect(beside.waits).toBeGreaterThanOrEqual(CALLS - 10);
    // A loaded machine moves threads more often (24 of 200 seen in CI on Node 24); the old
    // decision polls on all 200, so a quarter still tells the two apart.
    expect(beside.polled).toBeLessThanOrEqual(CALLS / 4);
  });
});

// The host's side: after a reply it waits for the thread's next message in the reply's own task
// (`awaitNext` in src/runtime/quickjs/worker.ts), but only while the thread runs on another CPU.
// A fixture process pins its main thread and the sandbox thread with taskset, runs a 200-call job
// with polling forced on, and prints both ends' figures. The old host never waits there, so the
// second case fails on it; a host that waited for a thread on its own CPU fails the first.
const pinned = why ?? tasksetMissing();
if (pinned !== undefined) console.log(`[quickjs poll-beside, pinned] skipped: ${pinned}`);

describe.skipIf(pinned !== undefined)('QuickJS threads pinned with taskset: the host waits after a reply only for a thread elsewhere', () => {
  type Bridge = { waits: number; polled: number; hostCaught: number };
  const job = (...args: string[]): Bridge => runBridgeFixture<Bridge>('quickjs-bridge.mjs', args);

  it('takes no message in a reply’s task, and the thread does not poll, while both run on one CPU', { timeout: 60_000 }, () => {
    const beside = job();
    // The host may answer before the thread waits, so not every call is a wait.
    expect(beside.waits).toBeGreaterThan(0);
    expect(beside.polled).toBeLessThanOrEqual(CALLS / 4);
    expect(beside.hostCaught).toBeLessThanOrEqual(CALLS / 4);
  });

  it('takes the thread’s next message in the reply’s task while the thread runs on another CPU', { timeout: 60_000 }, () => {
    const apart = job('--apart', '1');
    expect(apart.polled).toBeGreaterThanOrEqual(apart.waits - CALLS / 10);
    // How many arrive within the wait depends on the machine's load (130 of 200 measured here):
    // some must, where the old host takes none.
    expect(apart.hostCaught).toBeGreaterThan(0);
  });
});
