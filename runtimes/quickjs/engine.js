'use strict';
// The QuickJS engine, the far side of the quickjs runtime: it runs inside a sandbox worker
// thread (runtimes/quickjs/worker.js), or in the host thread for `isolation: 'none'`.
//
// quickjs-emscripten's synchronous release build (not asyncify: see ENGINES.md), a WebAssembly
// module instance per engine, and a fresh QuickJS runtime and context for every job, so nothing a
// script leaves behind (globals, prototypes, pending jobs) survives it. The host primitive
// `__toolexec_send` is a synchronous function taking a string; replies go in through the
// prelude's `__toolexec_receive`, followed by `executePendingJobs`.
//
// Memory. QuickJS's own accounting in this build counts about 8 bytes per allocation whatever
// its size (no malloc_usable_size), so `setMemoryLimit` only stops single large allocations. The
// real bound is the WebAssembly memory: the module gets a memory of ours whose `grow` refuses to
// pass the running job's ceiling, so emscripten's heap resize fails, malloc returns NULL and
// QuickJS throws "out of memory" at the allocation itself, even inside a native builtin. For the
// ceiling to mean the same for every job, whatever ran before, the free space already inside the
// memory (16 MB at start; whatever a previous job grew and freed) is reserved with malloc before a
// job starts, all but a small fixed slack, so a job can use that slack plus the pages it grows, up
// to its own limit: the same for every job. The slack also means a small job never grows the
// memory at all. An instance whose memory grew large is replaced by a fresh one (about 1 ms, done
// while idle).

/**
 * @param {{ modulePath: string, wasmPath?: string, maxStackBytes: number, retireHeapBytes: number, servicesPath: string, prelude: string }} options
 * @returns {Promise<{ enforced: { memoryMb: boolean }, prepare(): void, start(job: any, io: any): any }>}
 */
async function createQuickJSEngine(options) {
  const mod = require(options.modulePath);
  // The guest's synchronous services (URL, Intl, the standard library's sources): runtimes/services.js.
  const services = require(options.servicesPath).createServices();
  const WA = globalThis.WebAssembly;
  const fs = require('node:fs');
  let wasmModule;
  if (options.wasmPath) {
    try {
      wasmModule = new WA.Module(fs.readFileSync(options.wasmPath));
    } catch (_) {
      wasmModule = undefined;
    }
  }
  const INITIAL_PAGES = 256;
  const MAX_PAGES = 32768;
  const PRELUDE_FILENAME = 'toolexec-prelude.js';
  const prelude = options.prelude;
  // An instance is replaced when its memory grew past this, so the reservations (and the pages
  // a big job left behind) stay bounded.
  const RENEW_BYTES = Math.min(options.retireHeapBytes, 96 * 1024 * 1024);

  /** One WebAssembly instance of QuickJS with its own memory. */
  async function newInstance() {
    const memory = new WA.Memory({ initial: INITIAL_PAGES, maximum: MAX_PAGES });
    const nativeGrow = memory.grow.bind(memory);
    const inst = { memory, QuickJS: undefined, ceiling: Infinity, refused: false, held: [] };
    memory.grow = (pages) => {
      if (memory.buffer.byteLength + pages * 65536 > inst.ceiling) {
        inst.refused = true;
        throw new RangeError('toolexec: guest memory limit reached');
      }
      return nativeGrow(pages);
    };
    const variant = mod.newVariant(mod.RELEASE_SYNC, wasmModule ? { wasmMemory: memory, wasmModule } : { wasmMemory: memory });
    inst.QuickJS = await mod.newQuickJSWASMModule(variant);
    return inst;
  }

  /** Free space a job may use inside the memory before it must grow it (on top of its limit). */
  const SLACK_BYTES = 2 * 1024 * 1024;

  // Takes every byte already free inside the memory but SLACK_BYTES, so the next job allocates
  // from the slack and then from pages it must grow. Chunks shrink until malloc fails without
  // growing (the ceiling is the current size); then the slack is given back.
  function reserve(inst) {
    const m = inst.QuickJS.module;
    if (!m || typeof m._malloc !== 'function' || typeof m._free !== 'function') return;
    inst.ceiling = inst.memory.buffer.byteLength;
    const taken = [];
    for (const size of [1 << 20, 1 << 16, 1 << 12]) {
      for (;;) {
        const p = m._malloc(size);
        if (!p) break;
        taken.push([p, size]);
      }
    }
    let slack = 0;
    while (slack < SLACK_BYTES && taken.length > 0) {
      const [p, size] = taken.pop();
      m._free(p);
      slack += size;
    }
    for (const [p] of taken) inst.held.push(p);
    inst.ceiling = Infinity;
    inst.refused = false;
  }

  let instance = await newInstance();
  let renewing;

  function positionIn(stack, filename) {
    if (typeof stack !== 'string') return {};
    const idx = stack.indexOf(filename + ':');
    if (idx < 0) return {};
    const m = /^:(\d+)(?::(\d+))?/.exec(stack.slice(idx + filename.length));
    if (!m) return {};
    return { line: Number(m[1]), column: m[2] === undefined ? undefined : Number(m[2]) };
  }

  function describe(ctx, handle, job, phase, inst) {
    let d;
    try {
      d = ctx.dump(handle);
    } catch (e) {
      d = { name: 'Error', message: 'an error that could not be read' };
    }
    if (d === null || typeof d !== 'object') d = { name: 'Error', message: String(d) };
    const name = typeof d.name === 'string' ? d.name : 'Error';
    const message = typeof d.message === 'string' ? d.message : String(d);
    // Decided from what the engine itself saw (a refused allocation), never from the error's text:
    // a script can throw an InternalError("out of memory") of its own.
    if (inst.refused) {
      return { code: 'MEMORY_LIMIT', message: `The script ran out of memory (limit ${job.limits.memoryMb} MB)` };
    }
    const code = phase === 'code' && name === 'SyntaxError' ? 'SYNTAX_ERROR' : 'RUNTIME_ERROR';
    const pos = positionIn(d.stack, job.filename);
    const line = pos.line ?? (typeof d.lineNumber === 'number' ? d.lineNumber : undefined);
    const out = { code, message: `${name}: ${message}` };
    if (typeof d.stack === 'string') out.stack = d.stack;
    // Positions are the program's own; the host maps them to the user's script.
    if (line !== undefined) {
      out.line = line;
      if (pos.column !== undefined) out.column = pos.column;
    }
    return out;
  }

  // A fresh runtime and context with the prelude evaluated and the primitives hidden. Built
  // while the worker is idle (`prepare`), so an execution does not pay for compiling the prelude,
  // which costs several times more than the runtime and context.
  function createSandbox(inst) {
    const rt = inst.QuickJS.newRuntime();
    const sink = { io: undefined };
    const box = { inst, rt, ctx: undefined, receive: undefined, sink, failure: undefined };
    rt.setMaxStackSize(options.maxStackBytes);
    const ctx = rt.newContext();
    box.ctx = ctx;
    const sendFn = ctx.newFunction('__toolexec_send', (h) => {
      if (sink.io && ctx.typeof(h) === 'string') {
        const text = ctx.getString(h);
        if (inst.refused && text.startsWith('{"op":"done","ok":false')) {
          sink.io.fail({ code: 'MEMORY_LIMIT', message: 'The script ran out of memory' });
        } else {
          sink.io.post(text);
        }
      }
    });
    ctx.setProp(ctx.global, '__toolexec_send', sendFn);
    sendFn.dispose();
    // Strings in, one string out; the prelude takes it and deletes the global.
    const callFn = ctx.newFunction('__toolexec_call', (...handles) => {
      const args = [];
      for (const h of handles) {
        if (ctx.typeof(h) !== 'string') return ctx.newString('!{"name":"TypeError","message":"bad service call"}');
        args.push(ctx.getString(h));
      }
      return ctx.newString(services.call(args[0], args[1], args[2], args[3]));
    });
    ctx.setProp(ctx.global, '__toolexec_call', callFn);
    callFn.dispose();
    const p = ctx.evalCode(prelude, PRELUDE_FILENAME);
    if (p.error) {
      let d;
      try {
        d = ctx.dump(p.error);
      } catch (_) {
        d = undefined;
      }
      p.error.dispose();
      const message = d && typeof d.message === 'string' ? d.message : String(d);
      box.failure = inst.refused
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

  function destroy(box) {
    box.sink.io = undefined;
    if (box.receive) box.receive.dispose();
    box.ctx.dispose();
    box.rt.dispose();
  }

  let ready;

  return {
    enforced: { memoryMb: true },
    /** Builds the next job's sandbox while idle, on a fresh instance when the memory grew large. */
    prepare() {
      if (ready && ready.inst === instance) return;
      if (ready) destroy(ready);
      ready = undefined;
      if (instance.memory.buffer.byteLength > RENEW_BYTES) {
        // The old instance's memory is freed with it once nothing refers to it. Until the fresh
        // one is there, a job still runs on the old one.
        renewing ??= newInstance().then(
          (fresh) => {
            instance = fresh;
            renewing = undefined;
          },
          () => {
            renewing = undefined;
          },
        );
        return;
      }
      ready = createSandbox(instance);
      reserve(instance);
    },
    /** Whether a fresh instance is on its way (the worker waits for it before saying prepared). */
    get renewing() {
      return renewing;
    },
    start(job, io) {
      let box;
      if (ready && ready.inst === instance) {
        box = ready;
        ready = undefined;
      } else {
        if (ready) destroy(ready);
        ready = undefined;
        box = createSandbox(instance);
        reserve(instance);
      }
      const inst = box.inst;
      const { rt, ctx, receive } = box;
      box.sink.io = io;
      let failure = box.failure;
      const fail = (f) => {
        if (!failure) failure = f;
      };
      const pump = () => {
        const res = rt.executePendingJobs(-1);
        if (res.error) {
          fail(describe(res.error.context ?? ctx, res.error, job, 'run', inst));
          res.error.dispose();
        }
      };
      const limitBytes = Math.floor(job.limits.memoryMb * 1024 * 1024);
      rt.setMemoryLimit(limitBytes);
      // Everything free was reserved: the job's allocations grow the memory, up to its limit.
      inst.ceiling = inst.memory.buffer.byteLength + limitBytes;
      inst.refused = false;
      rt.setInterruptHandler(() => {
        // A safety net: growth that bypassed the wrapped `grow` (none is known) still ends the job.
        if (inst.memory.buffer.byteLength > inst.ceiling) {
          io.fail({ code: 'MEMORY_LIMIT', message: `The script exceeded its memory limit of ${job.limits.memoryMb} MB` });
          return true;
        }
        return io.shouldInterrupt();
      });
      if (!failure) {
        const r = ctx.evalCode(job.code, job.filename);
        if (r.error) {
          fail(describe(ctx, r.error, job, 'code', inst));
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
        get memoryRefused() {
          return inst.refused;
        },
        deliver(messages) {
          if (failure || !receive) return;
          for (const m of messages) {
            const s = ctx.newString(m);
            const r = ctx.callFunction(receive, ctx.undefined, s);
            s.dispose();
            if (r.error) {
              fail(describe(ctx, r.error, job, 'run', inst));
              r.error.dispose();
              return;
            }
            r.value.dispose();
            // Each reply is its own task: the microtasks it starts run before the next reply
            // arrives (a timer callback's promise jobs run before the next timer's callback),
            // as in Node and in the other runtimes.
            pump();
            if (failure) return;
          }
        },
        finish() {
          // The guest must not run again (a late reply, a pending job) once the job is over.
          box.sink.io = undefined;
          rt.setInterruptHandler(() => true);
          inst.ceiling = Infinity;
          // Exact usage (`dumpMemoryUsage`) costs about 0.2 ms, more than a whole small
          // execution, so no memory figure is reported. A memory this large is not renewed in
          // time for the next job: the worker is replaced instead.
          return { retire: inst.memory.buffer.byteLength > options.retireHeapBytes };
        },
        dispose() {
          destroy(box);
        },
      };
    },
  };
}

module.exports = { createQuickJSEngine };
