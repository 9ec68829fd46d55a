// The far side's engine (runtimes/quickjs/engine.js) driven directly, in this thread, with and
// without the memory snapshot every job's context is restored from: both must give every job a
// context as fresh as a new one (globals, prototypes, the allocator, Math.random's state).
import { describe, expect, it } from 'vitest';
import { createTestEngine } from './far-side.js';

interface Engine {
  prepare(): void;
  readonly snapshots: boolean;
  start(job: unknown, io: unknown): { failure?: { code: string }; deliver(m: string[]): void; finish(): { retire: boolean }; dispose(): void };
}
const limits = { timeoutMs: 10_000, memoryMb: 32, maxOutputBytes: 1 << 20 };

async function engineOf(noSnapshot: boolean) {
  const engine = await createTestEngine<Engine>({ noSnapshot });
  engine.prepare();
  // This build of QuickJS has what the snapshot needs: the fallback is only taken on request here.
  expect(engine.snapshots).toBe(!noSnapshot);
  /** Runs a body to its end, answering `run` with its args; returns the done message or the failure. */
  return (body: string, memoryMb = limits.memoryMb) => {
    const out: string[] = [];
    let failure: { code: string } | undefined;
    const io = { post: (m: string) => out.push(m), shouldInterrupt: () => false, fail: (f: { code: string }) => (failure ??= f) };
    const job = engine.start({ code: `__toolexec_start(async function () {\n${body}\n});`, filename: 'script.js', limits: { ...limits, memoryMb } }, io);
    let done: any;
    while (!done && !failure && !job.failure) {
      const m = out.shift();
      if (m === undefined) break;
      const msg = JSON.parse(m);
      if (msg.op === 'done') done = msg;
      else if (msg.op === 'run') job.deliver([JSON.stringify({ id: msg.id, ok: true, value: msg.args })]);
    }
    job.finish();
    job.dispose();
    engine.prepare();
    return { done, failure: failure ?? job.failure };
  };
}

for (const noSnapshot of [false, true]) {
  describe(`QuickJS engine (${noSnapshot ? 'a new context per job' : 'contexts restored from a snapshot'})`, () => {
    it('nothing a job leaves behind reaches the next one', async () => {
      const go = await engineOf(noSnapshot);
      const first = go('globalThis.leaked = 1; Object.prototype.polluted = 1; Array.prototype.map = () => "hijacked"; JSON.stringify = () => "{}"; const keep = []; for (let i = 0; i < 2000; i++) keep.push({ i, s: "x".repeat(100) }); return (await run("echo", { n: 1 })).n;');
      expect(first.done).toEqual({ op: 'done', ok: true, value: 1 });
      const second = go('return [typeof leaked, typeof ({}).polluted, [1].map((x) => x + 1), JSON.stringify({ a: 1 })];');
      expect(second.done?.value).toEqual(['undefined', 'undefined', [2], '{"a":1}']);
    });

    it('Math.random is the engine\'s own and differs from job to job', async () => {
      const go = await engineOf(noSnapshot);
      const runs = [0, 1, 2].map(() => go('return [Math.random(), Math.random(), String(Math.random).includes("native code")];').done?.value);
      for (const r of runs) expect(r[2]).toBe(true);
      expect(new Set(runs.map((r) => r[0])).size).toBe(3);
    });

    it('a job that ran out of memory leaves a sound engine behind', async () => {
      const go = await engineOf(noSnapshot);
      const bomb = go('const a = []; while (true) a.push("x".repeat(1000) + a.length);', 8);
      expect(bomb.failure?.code ?? bomb.done?.error?.code).toBe('MEMORY_LIMIT');
      for (let i = 0; i < 3; i++) expect(go(`return (await run("echo", { n: ${i} })).n;`).done?.value).toBe(i);
    });
  });
}
