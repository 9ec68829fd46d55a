// The isolated-vm runtime driven directly, with the real guest prelude, through the runtime
// contract only (start/send/terminate/done). Every hostile case must end classified and leave
// the runtime able to run the next script.
import { readFileSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRequire } from 'node:module';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { IsolatedVmRuntime } from '../../../src/runtime/isolated-vm/index.js';
import { trackedProcesses } from '../../../src/runtime/spare-core.js';
import type { RuntimeLimits, RuntimeOutcome, RuntimeSession } from '../../../src/runtime/types.js';


interface GuestMessage {
  id?: number;
  op: string;
  toolId?: string;
  args?: unknown;
  level?: string;
  message?: string;
  ok?: boolean;
  value?: unknown;
  error?: { code: string; message: string; name?: string; stack?: string };
}

type ToolImpl = (m: GuestMessage) => unknown | Promise<unknown>;

interface Run {
  outcome: RuntimeOutcome;
  messages: GuestMessage[];
  done?: GuestMessage;
  session: RuntimeSession;
}

const LIMITS: RuntimeLimits = { timeoutMs: 3000, memoryMb: 64, maxOutputBytes: 1_000_000 };

/** Wraps a script body the way an executor does: the prelude's `__toolexec_start` runs it. */
function wrap(body: string): string {
  return `__toolexec_start(async function () {\n${body}\n});`;
}

function execute(
  rt: IsolatedVmRuntime,
  body: string,
  options: { limits?: Partial<RuntimeLimits>; tool?: ToolImpl; signal?: AbortSignal; onStart?: (s: RuntimeSession) => void } = {},
): Promise<Run> {
  const messages: GuestMessage[] = [];
  const tool: ToolImpl = options.tool ?? ((m) => ({ echo: m.args }));
  const session = rt.start(
    {
      code: wrap(body),
      filename: 'script.js',
      limits: { ...LIMITS, ...options.limits },
      ...(options.signal ? { signal: options.signal } : {}),
    },
    (text) => {
      const m = JSON.parse(text) as GuestMessage;
      messages.push(m);
      if (m.id !== undefined && m.op === 'run') {
        Promise.resolve()
          .then(() => tool(m))
          .then(
            (value) => session.send(JSON.stringify({ id: m.id, ok: true, value })),
            (e: Error) => session.send(JSON.stringify({ id: m.id, ok: false, error: { code: 'EXECUTION', message: e.message } })),
          );
      }
    },
  );
  options.onStart?.(session);
  return session.done.then((outcome) => ({ outcome, messages, done: messages.find((m) => m.op === 'done'), session }));
}

/** The follow-up every hostile case must allow: a plain script that works. */
async function expectHealthy(rt: IsolatedVmRuntime): Promise<void> {
  const r = await execute(rt, 'const x = await run("math:add", { a: 2, b: 3 }); return [x.echo.a + x.echo.b, 1 + 1];');
  expect(r.outcome.failure).toBeUndefined();
  expect(r.done).toMatchObject({ op: 'done', ok: true, value: [5, 2] });
}

describe('isolated-vm runtime', () => {
  let rt: IsolatedVmRuntime;
  beforeAll(async () => {
    rt = new IsolatedVmRuntime({ maxWorkers: 1, graceMs: 200 });
    await rt.warm();
  });
  afterAll(async () => {
    await rt.dispose();
  });

  it('runs a script, relays every message in order and reports stats and enforced limits', async () => {
    const r = await execute(rt, 'console.log("start"); const a = await run("math:add", { a: 1 }); console.info("got", a.echo.a); return { a };');
    expect(r.outcome.failure).toBeUndefined();
    expect(r.messages.map((m) => m.op)).toEqual(['log', 'run', 'log', 'done']);
    expect(r.messages[1]).toMatchObject({ op: 'run', toolId: 'math:add', args: { a: 1 } });
    expect(r.done).toEqual({ op: 'done', ok: true, value: { a: { echo: { a: 1 } } } });
    expect(r.outcome.enforced).toEqual({ timeoutMs: true, memoryMb: true, cpuMs: false });
    expect(r.outcome.stats.durationMs).toBeGreaterThan(0);
    expect(r.outcome.stats.cpuMs).toBeGreaterThan(0);
    expect(r.outcome.stats.memoryBytes).toBeGreaterThan(0);
  });

  it('sends Promise.all fan-out before any reply and accepts replies out of order', async () => {
    const waiting: Array<() => void> = [];
    let sent = 0;
    const r = await execute(rt, 'return await Promise.all([run("t:a", 1), run("t:b", 2), run("t:c", 3)]);', {
      tool: (m) =>
        new Promise((resolve) => {
          sent++;
          waiting.push(() => resolve(m.args));
          // Only when all three requests are in flight, answer them last-first.
          if (sent === 3) for (const w of waiting.reverse()) w();
        }),
    });
    expect(r.done).toMatchObject({ ok: true, value: [1, 2, 3] });
  });

  it('carries large values both ways intact', async () => {
    const big = 'é'.repeat(3_000_000) + '\n"end"';
    const r = await execute(rt, 'const v = await run("t:big", {}); return { n: v.length, back: v };', {
      tool: () => big,
      limits: { maxOutputBytes: 20_000_000 },
    });
    expect(r.outcome.failure).toBeUndefined();
    const value = r.done?.value as { n: number; back: string };
    expect(value.n).toBe(big.length);
    expect(value.back === big).toBe(true);
  });

  it('hides the primitives: no __toolexec_send / __toolexec_receive, no host globals', async () => {
    const r = await execute(
      rt,
      `return {
        send: typeof __toolexec_send, receive: typeof __toolexec_receive, start: typeof __toolexec_start,
        process: typeof process, ivm: typeof ivm,
        // The prelude's own \`require\` only says that there are no modules.
        require: (() => { try { require('fs'); return 'loaded'; } catch (e) { return /not available in the sandbox/.test(e.message) ? 'stub' : String(e); } })(),
        viaFunction: Function('return typeof process + typeof module + typeof globalThis.__toolexec_send')(),
        runCtor: run.constructor('return typeof process')(),
        protoCtor: Object.getPrototypeOf(run).constructor === Function,
      };`,
    );
    expect(r.done?.value).toEqual({
      send: 'undefined',
      receive: 'undefined',
      start: 'undefined',
      process: 'undefined',
      require: 'stub',
      ivm: 'undefined',
      viaFunction: 'undefinedundefinedundefined',
      runCtor: 'undefined',
      protoCtor: true,
    });
  });

  it('gives nothing host-side through tool results, tool errors or their constructor chains', async () => {
    const r = await execute(
      rt,
      `const out = {};
       const v = await run("t:ok", {});
       out.valueCtor = v.constructor.constructor('return typeof process')();
       try { await run("t:fail", {}); } catch (e) {
         out.errName = e.name; out.errCode = e.code;
         out.errCtor = e.constructor.constructor('return typeof process + typeof module')();
         out.protoIsGuest = Object.getPrototypeOf(e) === Error.prototype;
       }
       return out;`,
      {
        tool: (m) => {
          if (m.toolId === 't:fail') throw new Error('nope');
          return { nested: { deep: [1] } };
        },
      },
    );
    expect(r.done?.value).toEqual({
      valueCtor: 'undefined',
      errName: 'ToolError',
      errCode: 'EXECUTION',
      errCtor: 'undefinedundefined',
      protoIsGuest: true,
    });
  });

  it('leaks nothing from one execution to the next (globals, prototypes, pending promises)', async () => {
    const first = await execute(
      rt,
      `globalThis.leaked = 42; Object.prototype.polluted = 'yes'; Array.prototype.push = null;
       JSON.stringify = () => 'forged'; new Promise(() => {}); return 'set';`,
    );
    expect(first.done).toMatchObject({ ok: true, value: 'set' });
    const second = await execute(
      rt,
      `const a = []; a.push(1);
       return [typeof globalThis.leaked, ({}).polluted === undefined, a.length, JSON.stringify({ x: 1 })];`,
    );
    expect(second.done).toMatchObject({ ok: true, value: ['undefined', true, 1, '{"x":1}'] });
  });

  it('never lets promise jobs left behind by one execution run in the next', async () => {
    // "done" goes out first; then a queued job spins until the timeout stops it, and behind it
    // another job waits that would log if it ever ran.
    const first = await execute(
      rt,
      `(async () => {
         for (let i = 0; i < 20; i++) await null;
         Promise.resolve().then(() => console.log("from the first script"));
         for (;;) {}
       })();
       return "a";`,
      { limits: { timeoutMs: 300 } },
    );
    // The script answered, but was still spinning at its deadline: either outcome is honest.
    expect(first.outcome.failure?.code ?? 'ok').toMatch(/^(ok|TIMEOUT)$/);
    const second = await execute(rt, 'await run("t:x", {}); await null; await null; return "b";');
    expect(second.done).toMatchObject({ ok: true, value: 'b' });
    expect(second.messages.filter((m) => m.op === 'log')).toEqual([]);
    await expectHealthy(rt);
  });

  it('offers no WebAssembly (its memory escapes the isolate memory limit)', async () => {
    const r = await execute(rt, 'return [typeof WebAssembly, typeof globalThis.WebAssembly];');
    expect(r.done?.value).toEqual(['undefined', 'undefined']);
  });

  it('reports a syntax error at its line and column in the program (the executor maps it to the user script)', async () => {
    const r = await execute(rt, 'const ok = 1;\nlet x = ;');
    expect(r.outcome.failure).toMatchObject({ code: 'SYNTAX_ERROR', line: 3, column: 9 });
    expect(r.outcome.failure?.message).toMatch(/Unexpected token/);
    await expectHealthy(rt);
  });

  it('classifies a busy loop as TIMEOUT and runs the next script', async () => {
    const r = await execute(rt, 'while (true) {}', { limits: { timeoutMs: 300 } });
    expect(r.outcome.failure).toMatchObject({ code: 'TIMEOUT' });
    expect(r.outcome.failure?.message).toMatch(/time limit of 300 ms/);
    await expectHealthy(rt);
  });

  it('stops an infinite loop inside a promise job (TIMEOUT)', async () => {
    const r = await execute(rt, 'Promise.resolve().then(() => { for (;;) {} }); await new Promise(() => {});', {
      limits: { timeoutMs: 300 },
    });
    expect(r.outcome.failure?.code).toBe('TIMEOUT');
    await expectHealthy(rt);
  });

  it('stops an endless microtask chain (TIMEOUT)', async () => {
    const r = await execute(rt, 'const f = () => Promise.resolve().then(f); f(); await new Promise(() => {});', {
      limits: { timeoutMs: 300 },
    });
    expect(r.outcome.failure?.code).toBe('TIMEOUT');
    await expectHealthy(rt);
  });

  it('stops a catastrophic regular expression (TIMEOUT)', async () => {
    const r = await execute(rt, 'return /^(a+)+$/.test("a".repeat(40) + "b");', { limits: { timeoutMs: 300 } });
    expect(r.outcome.failure?.code).toBe('TIMEOUT');
    await expectHealthy(rt);
  });

  it('kills the sandbox process when a native builtin ignores the timeout (TIMEOUT) and replaces it', async () => {
    // V8 does not check for interrupts inside this String.prototype.replace: measured to run
    // for more than a minute past a 200 ms timeout. Only killing the process stops it.
    const before = rt.processIds;
    const r = await execute(rt, 'return "a".repeat(5e7).replace(/a/g, "bb").length;', { limits: { timeoutMs: 300 } });
    expect(r.outcome.failure?.code).toBe('TIMEOUT');
    await expectHealthy(rt);
    expect(rt.processIds).not.toEqual(before);
  });

  it('enforces cpuMs from the isolate CPU clock (TIMEOUT naming the CPU budget)', async () => {
    const r = await execute(rt, 'for (;;) {}', { limits: { timeoutMs: 5000, cpuMs: 150 } });
    expect(r.outcome.failure?.code).toBe('TIMEOUT');
    expect(r.outcome.failure?.message).toMatch(/CPU budget of 150 ms/);
    expect(r.outcome.enforced.cpuMs).toBe(true);
    await expectHealthy(rt);
  });

  it('ends a script that awaits forever at the wall-clock limit (TIMEOUT)', async () => {
    const r = await execute(rt, 'await new Promise(() => {});', { limits: { timeoutMs: 200 } });
    expect(r.outcome.failure?.code).toBe('TIMEOUT');
    await expectHealthy(rt);
  });

  it('classifies a memory bomb as MEMORY_LIMIT', async () => {
    const r = await execute(rt, 'const a = []; for (;;) a.push(new Array(1e6).fill(1));', {
      limits: { timeoutMs: 20_000, memoryMb: 32 },
    });
    expect(r.outcome.failure?.code).toBe('MEMORY_LIMIT');
    expect(r.outcome.failure?.message).toMatch(/32 MB/);
    await expectHealthy(rt);
  });

  it('reports unbounded recursion as the guest RangeError (RUNTIME_ERROR)', async () => {
    const r = await execute(rt, 'function f() { return f() + 1; }\nreturn f();');
    expect(r.outcome.failure).toBeUndefined();
    expect(r.done).toMatchObject({ ok: false, error: { code: 'RUNTIME_ERROR', name: 'RangeError' } });
    expect(r.done?.error?.message).toMatch(/call stack/);
    await expectHealthy(rt);
  });

  it('lets a script handle a rejection after the microtask checkpoint where it happened', async () => {
    // isolated-vm reports b's rejection as unhandled while the script still awaits a.
    const r = await execute(
      rt,
      'const a = run("t:slow", {}); const b = run("t:fail", {});\nconst ra = await a;\ntry { await b; } catch (e) { return "caught " + e.code + " after " + ra; }',
      {
        tool: (m) =>
          m.toolId === 't:fail' ? Promise.reject(new Error('boom')) : new Promise((resolve) => setTimeout(() => resolve('slow'), 50)),
      },
    );
    expect(r.outcome.failure).toBeUndefined();
    expect(r.done).toMatchObject({ ok: true, value: 'caught EXECUTION after slow' });
  });

  it('ends a script left waiting after an unhandled rejection at its timeout, naming the rejection', async () => {
    const r = await execute(rt, 'Promise.reject(new Error("nobody catches me"));\nawait new Promise(() => {});', {
      limits: { timeoutMs: 300 },
    });
    expect(r.outcome.failure?.code).toBe('TIMEOUT');
    expect(r.outcome.failure?.message).toMatch(/never handled: Error: nobody catches me/);
    await expectHealthy(rt);
  });

  it('survives the sandbox process crashing mid-execution (SANDBOX_CRASHED)', async () => {
    const r = await execute(rt, 'await run("t:slow", {}); return "unreachable";', {
      tool: () => {
        // The engine dies while the guest waits on a tool: the crash a native bug would cause.
        for (const pid of rt.processIds) process.kill(pid, 'SIGSEGV');
        return new Promise(() => {});
      },
    });
    expect(r.outcome.failure?.code).toBe('SANDBOX_CRASHED');
    expect(r.outcome.failure?.message).toMatch(/SIGSEGV/);
    await expectHealthy(rt);
  });

  it('ends with OUTPUT_LIMIT when the guest sends more than maxOutputBytes', async () => {
    const r = await execute(rt, 'for (let i = 0; i < 1000; i++) console.log("x".repeat(1000)); return 1;', {
      limits: { maxOutputBytes: 20_000 },
    });
    expect(r.outcome.failure?.code).toBe('OUTPUT_LIMIT');
    // The far side's cap is loose (twice the limit plus 64 KiB, the same rule in every runtime);
    // the executor counts exactly. It still stops the flood long before its 1,000 lines.
    expect(r.messages.length).toBeLessThan(Math.ceil((2 * 20_000 + 65_536) / 1000) + 5);
    await expectHealthy(rt);
  });

  it('terminate() ends a waiting execution with the given failure', async () => {
    let session!: RuntimeSession;
    const r = await execute(rt, 'await run("t:hang", {}); return 1;', {
      onStart: (s) => (session = s),
      tool: () => {
        setTimeout(() => session.terminate({ code: 'TIMEOUT', message: 'tool call limit reached (test)' }), 10);
        return new Promise(() => {});
      },
    });
    expect(r.outcome.failure).toEqual({ code: 'TIMEOUT', message: 'tool call limit reached (test)' });
    // A reply arriving after the end is ignored, not delivered to the next execution.
    r.session.send(JSON.stringify({ id: 1, ok: true, value: 'late' }));
    await expectHealthy(rt);
  });

  it('aborting the signal ends the execution with CANCELLED', async () => {
    const controller = new AbortController();
    const started = execute(rt, 'for (;;) {}', { signal: controller.signal, limits: { timeoutMs: 10_000 } });
    setTimeout(() => controller.abort(), 100);
    const r = await started;
    expect(r.outcome.failure?.code).toBe('CANCELLED');
    await expectHealthy(rt);
    const pre = new AbortController();
    pre.abort();
    const r2 = await execute(rt, 'return 1', { signal: pre.signal });
    expect(r2.outcome.failure?.code).toBe('CANCELLED');
  });

  it.runIf(process.platform === 'linux')("starts its sandbox processes without the host's secrets or Node options in their environment", async () => {
    const saved = { secret: process.env.TOOLEXEC_TEST_SECRET, options: process.env.NODE_OPTIONS };
    process.env.TOOLEXEC_TEST_SECRET = 'sk-do-not-leak';
    process.env.NODE_OPTIONS = '--max-old-space-size=4096';
    const fresh = new IsolatedVmRuntime({ maxWorkers: 1 });
    try {
      await fresh.warm();
      const [pid] = fresh.processIds;
      const env = new Map(readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0').filter(Boolean).map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]));
      expect([...env.values()].some((v) => v.includes('sk-do-not-leak'))).toBe(false);
      expect(env.has('NODE_OPTIONS')).toBe(false);
      expect(env.has('TOOLEXEC_IVM_PATH')).toBe(true);
      if (process.env.PATH !== undefined) expect(env.get('PATH')).toBe(process.env.PATH);
      await expectHealthy(fresh);
    } finally {
      await fresh.dispose();
      if (saved.secret === undefined) delete process.env.TOOLEXEC_TEST_SECRET;
      else process.env.TOOLEXEC_TEST_SECRET = saved.secret;
      if (saved.options === undefined) delete process.env.NODE_OPTIONS;
      else process.env.NODE_OPTIONS = saved.options;
    }
  });

  it("counts its sandbox processes' CPU as the host's own while they live (the polling signal, spare-core.ts)", async () => {
    const fresh = new IsolatedVmRuntime({ maxWorkers: 1 });
    await fresh.warm();
    const pids = fresh.processIds;
    expect(pids.length).toBeGreaterThan(0);
    for (const pid of pids) expect(trackedProcesses()).toContain(pid);
    await fresh.dispose();
    for (const pid of pids) expect(trackedProcesses()).not.toContain(pid);
  });

  it('a sandbox process says when its next context is ready after a job (the pool prefers a ready one)', async () => {
    const fresh = new IsolatedVmRuntime({ maxWorkers: 1, minIdle: 0 });
    try {
      const session = fresh.start({ code: '__toolexec_start(async function () {\nreturn 1;\n});', filename: 'job.js', limits: { timeoutMs: 5_000, memoryMb: 64, maxOutputBytes: 100_000 } }, () => {});
      const outcome = await session.done;
      expect(outcome.failure).toBeUndefined();
      // False from the job's end until the process's message (which may already be in).
      const worker = fresh.workers()[0]!;
      expect(typeof worker.prepared).toBe('boolean');
      const until = Date.now() + 20_000;
      while (worker.prepared !== true && Date.now() < until) await new Promise((r) => setTimeout(r, 5));
      expect(worker.prepared).toBe(true);
    } finally {
      await fresh.dispose();
    }
  });

  it('never loads the native module into the host process', () => {
    const req = createRequire(import.meta.url);
    expect(Object.keys(req.cache).some((k) => k.includes(`${'isolated-vm'}/out`))).toBe(false);
  });
});

describe('isolated-vm runtime: engine aborts and availability', () => {
  it('turns an isolate allocation that aborts V8 (isolated-vm issue 527) into MEMORY_LIMIT, then recovers', async () => {
    // With a 512 MB limit this script aborts the whole process that hosts the isolate; here
    // that is only the sandbox process.
    const big = new IsolatedVmRuntime({ maxWorkers: 1, maxMemoryMb: 512 });
    try {
      const r = await execute(
        big,
        `const buf = new ArrayBuffer(100 * 1024 * 1024);
         const view = new Array(buf.byteLength); const bytes = new Uint8Array(buf);
         let i = view.length; while (i--) view[i] = bytes[i];
         return "survived";`,
        { limits: { timeoutMs: 60_000, memoryMb: 512 } },
      );
      // V8 prints its fatal OOM report and then aborts or hangs; either way the host reads the
      // report, kills the process and names the cause.
      expect(r.outcome.failure?.code).toBe('MEMORY_LIMIT');
      await expectHealthy(big);
    } finally {
      await big.dispose();
    }
  }, 90_000);

  it('ends the same allocation cleanly under the default 128 MB cap, keeping the process', async () => {
    const rt = new IsolatedVmRuntime({ maxWorkers: 1 });
    try {
      await rt.warm();
      const before = rt.processIds;
      const r = await execute(
        rt,
        `const buf = new ArrayBuffer(100 * 1024 * 1024);
         const view = new Array(buf.byteLength); const bytes = new Uint8Array(buf);
         let i = view.length; while (i--) view[i] = bytes[i];
         return "survived";`,
        { limits: { timeoutMs: 60_000, memoryMb: 512 } },
      );
      expect(r.outcome.failure?.code).toBe('MEMORY_LIMIT');
      await expectHealthy(rt);
      expect(rt.processIds).toEqual(before);
    } finally {
      await rt.dispose();
    }
  }, 90_000);

  it('reports RUNTIME_UNAVAILABLE with install instructions when isolated-vm is missing', async () => {
    const rt = new IsolatedVmRuntime({ isolatedVmPath: 'isolated-vm-that-is-not-installed' });
    try {
      const r = await execute(rt, 'return 1');
      expect(r.outcome.failure?.code).toBe('RUNTIME_UNAVAILABLE');
      expect(r.outcome.failure?.message).toMatch(/npm install isolated-vm@5/);
      expect(r.outcome.failure?.message).toMatch(/--no-node-snapshot/);
      await expect(rt.warm()).rejects.toThrow(/could not be resolved/);
    } finally {
      await rt.dispose();
    }
  });

  it('reports RUNTIME_UNAVAILABLE with the load error when isolated-vm fails to load', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'toolexec-ivm-'));
    const broken = join(dir, 'broken-isolated-vm.cjs');
    writeFileSync(broken, 'throw new Error("native binding was compiled against a different Node.js version");');
    const rt = new IsolatedVmRuntime({ isolatedVmPath: broken });
    try {
      const r = await execute(rt, 'return 1');
      expect(r.outcome.failure?.code).toBe('RUNTIME_UNAVAILABLE');
      expect(r.outcome.failure?.message).toMatch(/different Node\.js version/);
      expect(r.outcome.failure?.message).toMatch(/npm install isolated-vm@5/);
    } finally {
      await rt.dispose();
    }
  });

  it('reports RUNTIME_UNAVAILABLE when the sandbox process cannot be started at all', async () => {
    const rt = new IsolatedVmRuntime({ nodePath: '/nonexistent/bin/node' });
    try {
      const r = await execute(rt, 'return 1');
      expect(r.outcome.failure?.code).toBe('RUNTIME_UNAVAILABLE');
      expect(r.outcome.failure?.message).toMatch(/ENOENT/);
    } finally {
      await rt.dispose();
    }
  });

  it('ends an execution in flight with CANCELLED when the runtime is disposed', async () => {
    const rt = new IsolatedVmRuntime({ maxWorkers: 1 });
    let started!: () => void;
    const reached = new Promise<void>((r) => (started = r));
    const running = execute(rt, 'await run("t:hang", {}); return 1;', {
      tool: () => {
        started();
        return new Promise(() => {});
      },
    });
    await reached;
    await rt.dispose();
    const r = await running;
    expect(r.outcome.failure?.code).toBe('CANCELLED');
    expect(rt.stats().alive).toBe(0);
  });

  it.runIf(process.platform === 'linux')('kills a sandbox process whose resident memory passes maxProcessRssMb (MEMORY_LIMIT)', async () => {
    // A ceiling below what any Node process needs makes the backstop fire on the first check.
    const rt = new IsolatedVmRuntime({ maxWorkers: 1, maxProcessRssMb: 8 });
    try {
      const r = await execute(rt, 'const end = Date.now() + 2000; while (Date.now() < end) {} return 1;', { limits: { timeoutMs: 5000 } });
      expect(r.outcome.failure?.code).toBe('MEMORY_LIMIT');
      expect(r.outcome.failure?.message).toMatch(/resident, over its 8 MB ceiling/);
    } finally {
      await rt.dispose();
    }
  });

  it('queues more executions than processes and keeps every conversation apart', async () => {
    const rt = new IsolatedVmRuntime({ maxWorkers: 2 });
    try {
      const runs = Array.from({ length: 6 }, (_, k) =>
        execute(rt, `let s = ""; for (let i = 0; i < 3; i++) s += (await run("t:echo", { k: ${k}, i })).echo.k; return s;`, {
          tool: (m) => new Promise((resolve) => setTimeout(() => resolve({ echo: m.args }), 5)),
        }),
      );
      const results = await Promise.all(runs);
      expect(results.map((r) => r.done?.value)).toEqual(['000', '111', '222', '333', '444', '555']);
      expect(rt.stats().alive).toBeLessThanOrEqual(2);
    } finally {
      await rt.dispose();
    }
  });

  it('refuses start() after dispose()', async () => {
    const rt = new IsolatedVmRuntime();
    await rt.dispose();
    expect(() => rt.start({ code: '', filename: 'x.js', limits: LIMITS }, () => {})).toThrow(/disposed/);
  });
});
