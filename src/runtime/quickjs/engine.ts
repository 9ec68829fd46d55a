/**
 * The QuickJS engine as it runs inside a sandbox worker: quickjs-emscripten's synchronous
 * release build (not asyncify: see ENGINES.md), one WebAssembly module per worker kept for
 * the worker's life, and a fresh QuickJS runtime and context for every job, so nothing a
 * script leaves behind (globals, prototypes, pending jobs) survives it.
 *
 * The host primitive `__toolexec_send` is a synchronous function taking a string; replies
 * go in through the prelude's `__toolexec_receive`, followed by `executePendingJobs`.
 *
 * `createQuickJSEngine` is sent to the worker as source text: it must stay self-contained.
 */
import type { Engine, EngineIO, EngineJob, WorkerJob } from '../worker-protocol.js';

export interface QuickJSEngineOptions {
  /** Resolved path of the `quickjs-emscripten` CommonJS entry. */
  modulePath: string;
  /** QuickJS stack limit; recursion past it is a catchable `InternalError: stack overflow`. */
  maxStackBytes: number;
  /** A worker whose WebAssembly heap grew past this is replaced after its job. */
  retireHeapBytes: number;
}

/* eslint-disable */
export async function createQuickJSEngine(req: NodeJS.Require, options: QuickJSEngineOptions): Promise<Engine> {
  const mod = req(options.modulePath);
  // QuickJS's malloc accounting in this build counts about 8 bytes per allocation whatever its
  // size ("malloc_usable_size unavailable" in dumpMemoryUsage): with a 16 MB limit, 40 strings
  // of 1 MB each were accepted. So the module gets a WebAssembly memory of ours whose `grow`
  // refuses to pass the running job's ceiling: emscripten's heap resize then fails, malloc
  // returns NULL and QuickJS throws "out of memory" at the allocation itself, even inside a
  // native builtin, before the host pays for the pages.
  const WA = (globalThis as any).WebAssembly;
  const memory = new WA.Memory({ initial: 256, maximum: 32768 });
  const nativeGrow = memory.grow.bind(memory);
  let growCeiling = Infinity;
  // Set when the running job was refused memory: whatever it fails with afterwards (QuickJS
  // may throw `null` when it cannot even allocate the error) is a memory-limit failure.
  let growRefused = false;
  memory.grow = (pages: number) => {
    if (memory.buffer.byteLength + pages * 65536 > growCeiling) {
      growRefused = true;
      throw new RangeError('toolexec: guest memory limit reached');
    }
    return nativeGrow(pages);
  };
  const QuickJS = await mod.newQuickJSWASMModule(mod.newVariant(mod.RELEASE_SYNC, { wasmMemory: memory }));
  const wasmMemory: { buffer: ArrayBuffer } = memory;
  // What the module itself occupies; a job may grow the heap to this plus its limit.
  const baselineBytes = memory.buffer.byteLength;

  function positionIn(stack: unknown, filename: string): { line?: number; column?: number } {
    if (typeof stack !== 'string') return {};
    const idx = stack.indexOf(filename + ':');
    if (idx < 0) return {};
    const m = /^:(\d+)(?::(\d+))?/.exec(stack.slice(idx + filename.length));
    if (!m) return {};
    return { line: Number(m[1]), column: m[2] === undefined ? undefined : Number(m[2]) };
  }

  function describe(ctx: any, handle: any, job: WorkerJob, phase: 'code' | 'run'): any {
    let d: any;
    try {
      d = ctx.dump(handle);
    } catch (e) {
      d = { name: 'Error', message: 'an error that could not be read' };
    }
    if (d === null || typeof d !== 'object') d = { name: 'Error', message: String(d) };
    const name = typeof d.name === 'string' ? d.name : 'Error';
    const message = typeof d.message === 'string' ? d.message : String(d);
    if (message === 'out of memory' || growRefused) {
      return { code: 'MEMORY_LIMIT', message: `The script ran out of memory (limit ${job.limits.memoryMb} MB)` };
    }
    if (message === 'interrupted') {
      return { code: 'TIMEOUT', message: 'The script was interrupted' };
    }
    const code = phase === 'code' && name === 'SyntaxError' ? 'SYNTAX_ERROR' : 'RUNTIME_ERROR';
    const pos = positionIn(d.stack, job.filename);
    let line = pos.line ?? (typeof d.lineNumber === 'number' ? d.lineNumber : undefined);
    const out: any = { code, message: `${name}: ${message}` };
    if (typeof d.stack === 'string') out.stack = d.stack;
    if (line !== undefined) {
      line -= job.lineOffset;
      if (line >= 1) {
        out.line = line;
        if (pos.column !== undefined) out.column = pos.column;
      }
    }
    return out;
  }

  interface Sandbox {
    rt: any;
    ctx: any;
    receive: any;
    prelude: string;
    /** The current job's sink; the host function reads it at call time. */
    sink: { io: EngineIO | undefined };
    /** Set when evaluating the prelude failed. */
    failure?: any;
  }

  // Builds a fresh runtime and context with the prelude evaluated and the primitives hidden.
  // Done ahead of time while the worker is idle (`prepare`), so that an execution does not pay
  // for compiling the prelude, which costs several times more than the runtime and context.
  function createSandbox(prelude: string): Sandbox {
    const rt = QuickJS.newRuntime();
    const sink: { io: EngineIO | undefined } = { io: undefined };
    const box: Sandbox = { rt, ctx: undefined, receive: undefined, prelude, sink };
    rt.setMaxStackSize(options.maxStackBytes);
    const ctx = rt.newContext();
    box.ctx = ctx;
    const sendFn = ctx.newFunction('__toolexec_send', (h: any) => {
      if (sink.io && ctx.typeof(h) === 'string') {
        const text = ctx.getString(h);
        if (growRefused && text.startsWith('{"op":"done","ok":false')) {
          sink.io.fail({ code: 'MEMORY_LIMIT', message: 'The script ran out of memory' });
        } else {
          sink.io.post(text);
        }
      }
    });
    ctx.setProp(ctx.global, '__toolexec_send', sendFn);
    sendFn.dispose();
    const p = ctx.evalCode(prelude, 'toolexec-prelude.js');
    if (p.error) {
      let d: any;
      try {
        d = ctx.dump(p.error);
      } catch {
        d = undefined;
      }
      p.error.dispose();
      const message = d && typeof d.message === 'string' ? d.message : String(d);
      box.failure =
        message === 'out of memory'
          ? { code: 'MEMORY_LIMIT', message: 'The sandbox ran out of memory while starting' }
          : { code: 'SANDBOX_CRASHED', message: `The prelude failed: ${message}` };
      return box;
    }
    p.value.dispose();
    box.receive = ctx.getProp(ctx.global, '__toolexec_receive');
    const del = ctx.evalCode('delete globalThis.__toolexec_send; delete globalThis.__toolexec_receive;', 'toolexec-setup.js');
    if (del.error) del.error.dispose();
    else del.value.dispose();
    return box;
  }

  function destroy(box: Sandbox): void {
    box.sink.io = undefined;
    if (box.receive) box.receive.dispose();
    box.ctx.dispose();
    box.rt.dispose();
  }

  let ready: Sandbox | undefined;

  return {
    enforced: { memoryMb: true },
    prepare(prelude: string) {
      if (ready && ready.prelude === prelude) return;
      if (ready) destroy(ready);
      ready = undefined;
      ready = createSandbox(prelude);
    },
    start(job: WorkerJob & { prelude: string }, io: EngineIO): EngineJob {
      let box: Sandbox;
      if (ready && ready.prelude === job.prelude) {
        box = ready;
        ready = undefined;
      } else {
        if (ready) destroy(ready);
        ready = undefined;
        box = createSandbox(job.prelude);
      }
      const { rt, ctx, receive } = box;
      box.sink.io = io;
      let failure: any = box.failure;
      const fail = (f: any) => {
        if (!failure) failure = f;
      };
      const pump = () => {
        const res = rt.executePendingJobs(-1);
        if (res.error) {
          fail(describe(res.error.context ?? ctx, res.error, job, 'run'));
          res.error.dispose();
        }
      };
      const limitBytes = Math.floor(job.limits.memoryMb * 1024 * 1024);
      rt.setMemoryLimit(limitBytes);
      // QuickJS's own accounting undercounts many small allocations in this build (measured: a
      // 16 MB limit let an array of strings reach 85 MB), so also watch the WebAssembly heap:
      // growth beyond the limit since the job started ends the job. One large allocation is
      // still refused by QuickJS itself, even inside a native builtin.
      const heapAtStart = wasmMemory.buffer.byteLength;
      // Pages a previous job grew and freed stay usable (WebAssembly memory never shrinks;
      // workers whose heap grew large are retired), so the ceiling is never below the heap.
      growCeiling = Math.max(heapAtStart, baselineBytes + limitBytes);
      growRefused = false;
      rt.setInterruptHandler(() => {
        // A safety net: growth that bypassed the wrapped `grow` (none is known) still ends the job.
        if (wasmMemory.buffer.byteLength > growCeiling) {
          io.fail({ code: 'MEMORY_LIMIT', message: `The script exceeded its memory limit of ${job.limits.memoryMb} MB` });
          return true;
        }
        return io.shouldInterrupt();
      });
      if (!failure) {
        const r = ctx.evalCode(job.code, job.filename);
        if (r.error) {
          fail(describe(ctx, r.error, job, 'code'));
          r.error.dispose();
        } else {
          r.value.dispose();
          pump();
        }
      }
      return {
        get failure() {
          return failure;
        },
        deliver(messages: string[]) {
          if (failure || !receive) return;
          for (const m of messages) {
            const s = ctx.newString(m);
            const r = ctx.callFunction(receive, ctx.undefined, s);
            s.dispose();
            if (r.error) {
              fail(describe(ctx, r.error, job, 'run'));
              r.error.dispose();
              return;
            }
            r.value.dispose();
          }
          pump();
        },
        finish() {
          // The guest must not run again (a late reply, a pending job) once the job is over.
          box.sink.io = undefined;
          rt.setInterruptHandler(() => true);
          // Exact usage (`dumpMemoryUsage`) costs about 0.2 ms, more than a whole small
          // execution, so only the WebAssembly heap's size is reported.
          growCeiling = Infinity;
          const heapBytes = wasmMemory.buffer.byteLength;
          // WebAssembly memory never shrinks: retire a worker whose heap a big job inflated.
          return { retire: heapBytes > options.retireHeapBytes };
        },
        dispose() {
          destroy(box);
        },
      };
    },
  };
}
