'use strict';
// The QuickJS engine, the far side of the quickjs runtime: it runs inside a sandbox worker
// thread (runtimes/quickjs/worker.js), or in the host thread for `isolation: 'none'`.
//
// quickjs-emscripten's synchronous release build (not asyncify: see ENGINES.md), a WebAssembly
// module instance per engine, and for every job a QuickJS runtime and context as new as one just
// built: the instance's memory is restored from a snapshot taken right after the first sandbox's
// prelude (`snapshotOf`), so nothing a script leaves behind (globals, prototypes, pending jobs,
// garbage) survives it, and no job pays for a context or the prelude's compile. The host primitive
// `__toolexec_send` is a synchronous function taking a string; replies go in through the
// prelude's `__toolexec_receive`, followed by `executePendingJobs`.
//
// Memory. QuickJS's own accounting in this build counts about 8 bytes per allocation whatever
// its size (no malloc_usable_size), so `setMemoryLimit` would only stop single large allocations. The
// real bound is the WebAssembly memory: the module gets a memory of ours whose `grow` refuses to
// pass the running job's ceiling, so emscripten's heap resize fails, malloc returns NULL and
// QuickJS throws "out of memory" at the allocation itself, even inside a native builtin. For the
// ceiling to mean the same for every job, whatever ran before, the free space already inside the
// memory is taken with malloc while the worker is idle (after the next sandbox is built), and
// when a job starts, exactly its limit's worth of those chunks is handed back (largest first), the
// rest of its limit being pages it may grow. Free space the job could use = chunks handed back +
// growth allowed = its limit. What the job did not use is reserved again for the next one, so the
// memory only grows when a job needs more than the free space: steady small jobs never grow it.
// An instance whose memory grew large is replaced by a fresh one (about 1 ms, done while idle).
//
// The hot path (one tool call: a reply in, pending jobs run, a request out) goes straight to the
// engine's C interface (`ctx.ffi`), skipping the library's handle bookkeeping, which cost more
// than the engine's own work for a small message; everything else uses the library's API. The
// C interface is not public API, so the fast path is taken only when every function it needs is
// there (quickjs-emscripten 0.32), with the public API as the fallback.

/**
 * Where the shadow stack of an emscripten module lies, from its binary: emscripten lays memory
 * out as data (the active data segments), bss, the stack growing down from `__stack_pointer`'s
 * initial value (global 0), then the heap. Between calls the stack holds nothing live, so a
 * snapshot restore may skip it. Returns [from, to) well inside the stack (the bss, whose size
 * the binary does not record, is given 256 KB past the last segment), or undefined when the
 * layout is not that one.
 * @param {Uint8Array} b
 * @returns {[number, number] | undefined}
 */
function stackRegion(b) {
  const BSS_ALLOWANCE = 256 * 1024;
  let o = 8;
  const u32 = () => {
    let r = 0;
    let sh = 0;
    let x;
    do {
      if (o >= b.length || sh > 28) throw new Error('bad leb');
      x = b[o++];
      r |= (x & 0x7f) << sh;
      sh += 7;
    } while (x & 0x80);
    return r >>> 0;
  };
  const s32 = () => {
    let r = 0;
    let sh = 0;
    let x;
    do {
      if (o >= b.length || sh > 28) throw new Error('bad leb');
      x = b[o++];
      r |= (x & 0x7f) << sh;
      sh += 7;
    } while (x & 0x80);
    if (sh < 32 && x & 0x40) r |= -1 << sh;
    return r;
  };
  let stackTop;
  let dataEnd = 0;
  if (b[0] !== 0 || b[1] !== 0x61 || b[2] !== 0x73 || b[3] !== 0x6d) return undefined;
  while (o < b.length) {
    const id = b[o++];
    const size = u32();
    const end = o + size;
    if (id === 2) {
      // An imported global would come before global 0 in the index space: not this layout.
      const n = u32();
      for (let i = 0; i < n; i++) {
        // (`o += u32()` would add to the offset before the length was read.)
        const moduleLen = u32();
        o += moduleLen;
        const fieldLen = u32();
        o += fieldLen;
        const kind = b[o++];
        if (kind === 3) return undefined;
        if (kind === 0) u32();
        else if (kind === 1) {
          o++;
          const fl = b[o++];
          u32();
          if (fl & 1) u32();
        } else if (kind === 2) {
          const fl = b[o++];
          u32();
          if (fl & 1) u32();
        } else return undefined;
      }
    } else if (id === 6) {
      const n = u32();
      if (n < 1) return undefined;
      const type = b[o++];
      const mutable = b[o++];
      const op = b[o++];
      if (type !== 0x7f || mutable !== 1 || op !== 0x41) return undefined;
      stackTop = s32();
    } else if (id === 11) {
      const n = u32();
      for (let i = 0; i < n; i++) {
        const flag = u32();
        if (flag !== 0) return undefined;
        if (b[o++] !== 0x41) return undefined;
        const offset = s32();
        if (b[o++] !== 0x0b) return undefined;
        const len = u32();
        dataEnd = Math.max(dataEnd, offset + len);
        o += len;
      }
    }
    o = end;
  }
  if (stackTop === undefined || stackTop <= 0) return undefined;
  const from = dataEnd + BSS_ALLOWANCE;
  // Only a stack of 1 MB or more is worth skipping, and only if it clearly lies above the data.
  if (stackTop - from < 1024 * 1024) return undefined;
  return [from, stackTop];
}

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
  const { webcrypto } = require('node:crypto');
  let wasmModule;
  let stack;
  if (options.wasmPath) {
    try {
      const bytes = fs.readFileSync(options.wasmPath);
      wasmModule = new WA.Module(bytes);
      stack = stackRegion(bytes);
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
  const CHUNKS = [1 << 20, 1 << 16, 1 << 12, 1 << 8];
  // Larger than any free hole in a fresh instance's heap, so that malloc serves it from the top
  // chunk: its address is where the used heap ends (see `snapshotOf`).
  const PROBE_BYTES = 8 * 1024 * 1024;
  const useSnapshots = options.noSnapshot !== true;

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

  // Takes every byte already free inside the memory, so that a job allocates only from what its
  // start hands back (`release`) and from pages it grows. Chunks shrink until malloc fails
  // without growing (the ceiling is the current size). Held chunks are sorted largest first.
  function reserve(inst, replay) {
    const m = inst.QuickJS.module;
    if (!m || typeof m._malloc !== 'function') return;
    const size0 = inst.memory.buffer.byteLength;
    inst.ceiling = size0;
    // Right after a restore the allocator is in the same state as after the last restore, so the
    // same requests get the same chunks: replayed, they take all the free space without the
    // failing requests that end each size (a refused growth throws, which costs most here). Any
    // difference (the memory grew since) and the search below takes what is left.
    const last = inst.lastReservation;
    if (replay && last && last.memory === size0) {
      const held = last.held;
      let i = 0;
      for (; i < held.length; i += 2) {
        const p = m._malloc(held[i + 1]);
        if (!p) break;
        inst.held.push(p, held[i + 1]);
        if (p !== held[i]) {
          i = -1;
          break;
        }
      }
      if (i === held.length) {
        inst.ceiling = Infinity;
        inst.refused = false;
        return;
      }
    }
    for (const size of CHUNKS) {
      for (;;) {
        const p = m._malloc(size);
        if (!p) break;
        inst.held.push(p, size);
      }
    }
    inst.ceiling = Infinity;
    inst.refused = false;
    if (replay) inst.lastReservation = { memory: size0, held: inst.held.slice() };
  }

  // Hands back up to `bytes` of the held chunks (largest first, never past `bytes`); returns
  // how many bytes were handed back.
  function release(inst, bytes) {
    const m = inst.QuickJS.module;
    const held = inst.held;
    let freed = 0;
    let keep = 0;
    for (let i = 0; i < held.length; i += 2) {
      const size = held[i + 1];
      if (freed + size <= bytes) {
        m._free(held[i]);
        freed += size;
      } else {
        held[keep++] = held[i];
        held[keep++] = size;
      }
    }
    held.length = keep;
    return freed;
  }

  // Frees every held chunk: the next sandbox is built from them, and the next reservation takes
  // what is left.
  function unreserve(inst) {
    const m = inst.QuickJS.module;
    const held = inst.held;
    for (let i = 0; i < held.length; i += 2) m._free(held[i]);
    held.length = 0;
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

  const encoder = new TextEncoder();

  /**
   * The C-interface fast path of one sandbox, or undefined when this build lacks a piece of it.
   * Values it creates are freed by itself; the library never sees them.
   */
  function fastPath(inst, rt, ctx, receive, onSend, sendImpl) {
    const ffi = ctx.ffi;
    const m = ctx.module;
    const cb = ctx.cToHostCallbacks;
    const need = ['QTS_Call', 'QTS_NewString', 'QTS_FreeValuePointer', 'QTS_FreeValuePointerRuntime', 'QTS_ResolveException', 'QTS_ExecutePendingJob', 'QTS_Typeof', 'QTS_GetString', 'QTS_FreeCString', 'QTS_ArgvGetJSValueConstPointer', 'QTS_GetUndefined'];
    if (!ffi || !m || !cb || typeof cb.callFunction !== 'function' || typeof ctx.getFunction !== 'function') return undefined;
    if (need.some((k) => typeof ffi[k] !== 'function') || typeof m._malloc !== 'function' || typeof m._free !== 'function') return undefined;
    if (typeof m.UTF8ToString !== 'function' || typeof m.stringToUTF8 !== 'function' || typeof m.lengthBytesUTF8 !== 'function') return undefined;
    if (!ctx.memory || typeof ctx.memory.heapValueHandle !== 'function' || !ctx.ctx || !rt.rt) return undefined;
    const ctxPtr = ctx.ctx.value;
    const rtPtr = rt.rt.value;
    const receivePtr = receive.value;
    const undefinedPtr = ffi.QTS_GetUndefined();
    // One word for the call's argument and one for the pending-job context, for the sandbox's life.
    const scratch = m._malloc(8);
    if (!scratch) return undefined;
    let buf;
    let i32;
    let u8;
    const views = () => {
      if (buf !== inst.memory.buffer) {
        buf = inst.memory.buffer;
        i32 = new Int32Array(buf);
        u8 = new Uint8Array(buf);
      }
    };
    // typeof through the C interface returns a malloc'd name; its first letters say enough.
    const typeIs = (cptr, vptr, first, second) => {
      const t = ffi.QTS_Typeof(cptr, vptr);
      if (!t) return false;
      views();
      const ok = u8[t] === first && (second === 0 || u8[t + 1] === second);
      m._free(t);
      return ok;
    };
    let sendId;
    const original = cb.callFunction;
    // The guest → host primitive, without the library's per-call handles and generator.
    cb.callFunction = (cptr, thisPtr, argc, argv, fnId) => {
      if (fnId !== sendId) {
        let fn;
        try {
          fn = ctx.getFunction(fnId);
        } catch (_) {
          fn = undefined;
        }
        if (fn !== sendImpl) return original(cptr, thisPtr, argc, argv, fnId);
        sendId = fnId;
      }
      if (argc < 1 || cptr !== ctxPtr) return 0;
      const v = ffi.QTS_ArgvGetJSValueConstPointer(argv, 0);
      if (!typeIs(ctxPtr, v, 115 /* s */, 116 /* t */)) return 0;
      const cs = ffi.QTS_GetString(ctxPtr, v);
      if (!cs) return 0;
      const text = m.UTF8ToString(cs);
      ffi.QTS_FreeCString(ctxPtr, cs);
      onSend(text);
      return 0;
    };
    return {
      /** Calls the prelude's receive with one message; returns an owned exception pointer, 0, or -1 when out of memory. */
      receive(text) {
        const n = text.length;
        const small = n < 4096;
        const cap = small ? n * 3 + 1 : m.lengthBytesUTF8(text) + 1;
        const sp = m._malloc(cap);
        if (!sp) return -1;
        if (small) {
          views();
          const r = encoder.encodeInto(text, u8.subarray(sp, sp + cap - 1));
          u8[sp + r.written] = 0;
        } else {
          m.stringToUTF8(text, sp, cap);
        }
        const sv = ffi.QTS_NewString(ctxPtr, sp);
        m._free(sp);
        if (!sv) return -1;
        views();
        i32[scratch >> 2] = sv;
        const res = ffi.QTS_Call(ctxPtr, receivePtr, undefinedPtr, 1, scratch);
        ffi.QTS_FreeValuePointer(ctxPtr, sv);
        if (!res) return -1;
        const err = ffi.QTS_ResolveException(ctxPtr, res);
        ffi.QTS_FreeValuePointer(ctxPtr, res);
        return err;
      },
      /** Runs pending jobs; returns an owned exception pointer or 0. */
      pump() {
        views();
        i32[(scratch >> 2) + 1] = 0;
        const v = ffi.QTS_ExecutePendingJob(rtPtr, -1, scratch + 4);
        views();
        const pctx = i32[(scratch >> 2) + 1];
        if (!v) return -1;
        if (pctx === 0) {
          // Nothing ran: the result is a number that belongs to no context.
          ffi.QTS_FreeValuePointerRuntime(rtPtr, v);
          return 0;
        }
        if (typeIs(pctx, v, 110 /* n */, 117 /* u */)) {
          ffi.QTS_FreeValuePointer(pctx, v);
          return 0;
        }
        return v;
      },
      /** Wraps an owned pointer in a library handle (for error descriptions). */
      handle(ptr) {
        return ctx.memory.heapValueHandle(ptr);
      },
      dispose() {
        cb.callFunction = original;
        m._free(scratch);
      },
    };
  }

  // A fresh runtime and context with the prelude evaluated and the primitives hidden. Built
  // while the worker is idle (`prepare`), so an execution does not pay for compiling the prelude,
  // which costs several times more than the runtime and context.
  function createSandbox(inst) {
    const rt = inst.QuickJS.newRuntime();
    const sink = { io: undefined };
    const box = { inst, rt, ctx: undefined, receive: undefined, sink, failure: undefined, fast: undefined, interrupt: () => false, randomAt: 0 };
    rt.setMaxStackSize(options.maxStackBytes);
    // Set once, here: the library enables the C side only for the first handler, and a restored
    // snapshot must have it enabled; each job swaps the function behind it.
    rt.setMemoryLimit(-1);
    rt.setInterruptHandler(() => box.interrupt());
    const ctx = rt.newContext();
    box.ctx = ctx;
    const onSend = (text) => {
      if (!sink.io) return;
      if (inst.refused && text.startsWith('{"op":"done","ok":false')) {
        sink.io.fail({ code: 'MEMORY_LIMIT', message: 'The script ran out of memory' });
      } else {
        sink.io.post(text);
      }
    };
    const sendImpl = (h) => {
      if (sink.io && ctx.typeof(h) === 'string') onSend(ctx.getString(h));
    };
    const sendFn = ctx.newFunction('__toolexec_send', sendImpl);
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
    if (ctx.typeof(box.receive) === 'function' && !options.noFastPath) {
      try {
        box.fast = fastPath(inst, rt, ctx, box.receive, onSend, sendImpl);
      } catch (_) {
        box.fast = undefined;
      }
    }
    return box;
  }

  function destroy(box) {
    box.sink.io = undefined;
    // A snapshot's sandbox lives as long as its instance: the next job gets it back restored.
    if (box.inst.box === box) return;
    if (box.fast) box.fast.dispose();
    if (box.receive) box.receive.dispose();
    box.ctx.dispose();
    box.rt.dispose();
  }

  /**
   * The instance's memory below the end of its used heap, right after a sandbox was built on the
   * fresh instance, or undefined when that end cannot be found safely. Restoring these bytes
   * gives the next job a context exactly as new as one built for it, at the cost of a memory
   * copy instead of a context and a prelude compile (QuickJS in this build can neither write nor
   * read bytecode: JS_WriteObject/JS_ReadObject are not exported).
   *
   * The end: emscripten's dlmalloc serves a request larger than any free hole from the top chunk,
   * above every allocated chunk, so the address it returns bounds all live allocations; freeing it
   * merges it back into the top chunk. The allocator's own state (in the data section and in
   * chunk headers) is below that address, and the shadow stack is empty between calls.
   */
  function snapshotOf(inst, box) {
    const m = inst.QuickJS.module;
    if (!m || typeof m._malloc !== 'function' || inst.held.length > 0) return undefined;
    // First, while the heap may still change: the probe below must see its final state.
    const randomAt = randomStateOf(inst, box);
    if (randomAt === undefined) return undefined;
    box.randomAt = randomAt;
    const before = inst.memory.buffer.byteLength;
    const probe = m._malloc(PROBE_BYTES);
    if (!probe) return undefined;
    m._free(probe);
    // Sanity: the probe lies above the sandbox's own allocations and did not need the memory to grow.
    const known = [box.rt.rt && box.rt.rt.value, box.ctx.ctx && box.ctx.ctx.value, box.receive && box.receive.value];
    if (inst.memory.buffer.byteLength !== before || known.some((x) => typeof x !== 'number' || x >= probe)) return undefined;
    const mem = new Uint8Array(inst.memory.buffer);
    // The shadow stack (5 MB in this build) holds nothing between calls: not copied.
    if (stack && stack[1] < probe) return [[0, mem.slice(0, stack[0])], [stack[1], mem.slice(stack[1], probe)]];
    return [[0, mem.slice(0, probe)]];
  }

  /**
   * Where the context keeps Math.random's state. QuickJS seeds it once per context from the
   * clock (xorshift64*, `ctx->random_state`), so every context restored from one snapshot would
   * repeat the same sequence: each restore writes fresh entropy there. The field is found, not
   * assumed: one Math.random() call must turn exactly one word of the context's struct from x
   * into xorshift64*(x), with the returned double made of that step's output. Undefined when no
   * word (or more than one) does: then the instance gets no snapshot.
   */
  function randomStateOf(inst, box) {
    const SCAN = 4096;
    const ctxPtr = box.ctx.ctx && box.ctx.ctx.value;
    if (typeof ctxPtr !== 'number' || ctxPtr % 8 !== 0 || ctxPtr + SCAN > inst.memory.buffer.byteLength) return undefined;
    const before = new BigUint64Array(inst.memory.buffer.slice(ctxPtr, ctxPtr + SCAN));
    const r = box.ctx.evalCode('Math.random()', 'toolexec-setup.js');
    if (r.error) {
      r.error.dispose();
      return undefined;
    }
    const d = box.ctx.getNumber(r.value);
    r.value.dispose();
    const after = new BigUint64Array(inst.memory.buffer, ctxPtr, SCAN / 8);
    const M = (1n << 64n) - 1n;
    // d = (1 + m / 2^52) - 1 exactly, so d * 2^52 is the 52-bit mantissa m.
    if (typeof d !== 'number' || !Number.isInteger(d * 2 ** 52)) return undefined;
    const mantissa = BigInt(d * 2 ** 52);
    let found;
    for (let i = 0; i < before.length; i++) {
      let x = before[i];
      if (x === after[i]) continue;
      x ^= x >> 12n;
      x ^= (x << 25n) & M;
      x ^= x >> 27n;
      if (x !== after[i]) continue;
      const v = (x * 0x2545f4914f6cdd1dn) & M;
      if (v >> 12n !== mantissa) continue;
      if (found !== undefined) return undefined;
      found = ctxPtr + i * 8;
    }
    return found;
  }

  const seedWord = new BigUint64Array(1);

  let ready;

  /** The next sandbox, built on the current instance, with the free space around it held. */
  /** The limit the last job had: the next one most likely has the same (the executor's default). */
  let expectedLimit = 64 * 1024 * 1024;

  function build() {
    if (instance.snapshot) {
      // Every byte the sandbox's heap, stacks and allocator state occupy, as they were right after
      // the prelude: nothing of the last job survives, and its held chunks are gone with the
      // allocator state they were recorded in.
      const mem = new Uint8Array(instance.memory.buffer);
      for (const [at, bytes] of instance.snapshot) mem.set(bytes, at);
      instance.held.length = 0;
      ready = instance.box;
      // Math.random's state, which the snapshot would otherwise repeat (never 0 for xorshift).
      do webcrypto.getRandomValues(seedWord);
      while (seedWord[0] === 0n);
      new BigUint64Array(instance.memory.buffer, ready.randomAt, 1)[0] = seedWord[0];
    } else {
      unreserve(instance);
      ready = createSandbox(instance);
      if (useSnapshots && !ready.failure) {
        const snap = snapshotOf(instance, ready);
        if (snap) {
          instance.snapshot = snap;
          instance.box = ready;
        }
      }
    }
    reserve(instance, instance.snapshot !== undefined);
    // Handed back now, while idle, for the limit the next job most likely has.
    ready.limit = expectedLimit;
    ready.handedBack = release(instance, expectedLimit);
  }

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
      build();
    },
    /** Whether jobs on the current instance get their context restored from a snapshot. */
    get snapshots() {
      return instance.snapshot !== undefined;
    },
    /** Whether a fresh instance is on its way (the worker waits for it before saying prepared). */
    get renewing() {
      return renewing;
    },
    /** Whether the next `prepare` replaces the instance (its memory grew large) instead of building on it. */
    get renewDue() {
      return renewing !== undefined || instance.memory.buffer.byteLength > RENEW_BYTES;
    },
    start(job, io) {
      if (!ready || ready.inst !== instance) {
        if (ready) destroy(ready);
        ready = undefined;
        build();
      }
      const box = ready;
      ready = undefined;
      const inst = box.inst;
      const { rt, ctx, receive, fast } = box;
      box.sink.io = io;
      let failure = box.failure;
      const fail = (f) => {
        if (!failure) failure = f;
      };
      const fastError = (ptr, phase) => {
        if (ptr === -1) {
          inst.refused = true;
          fail({ code: 'MEMORY_LIMIT', message: `The script ran out of memory (limit ${job.limits.memoryMb} MB)` });
          return;
        }
        const h = fast.handle(ptr);
        fail(describe(ctx, h, job, phase, inst));
        h.dispose();
      };
      const pump = fast
        ? () => {
            const err = fast.pump();
            if (err) fastError(err, 'run');
          }
        : () => {
            const res = rt.executePendingJobs(-1);
            if (res.error) {
              fail(describe(res.error.context ?? ctx, res.error, job, 'run', inst));
              res.error.dispose();
            }
          };
      const limitBytes = Math.floor(job.limits.memoryMb * 1024 * 1024);
      // QuickJS's own limit stays off: it refuses a single request over the limit before the
      // memory is asked to grow, and such a refusal would be indistinguishable from a script's
      // own InternalError("out of memory"). The ceiling below refuses the same requests, seen.
      rt.setMemoryLimit(-1);
      let over = false;
      // The job may use exactly its limit: the held space handed back, plus pages it may grow.
      let handedBack = box.handedBack ?? 0;
      if (box.limit !== limitBytes) {
        // Another limit than prepared for: take back all free space and hand back this job's share.
        reserve(inst);
        handedBack = release(inst, limitBytes);
        expectedLimit = limitBytes;
      }
      inst.ceiling = inst.memory.buffer.byteLength + (limitBytes - handedBack);
      inst.refused = false;
      box.interrupt = () => {
        // A safety net: growth that bypassed the wrapped `grow` (none is known) still ends the job.
        if (inst.memory.buffer.byteLength > inst.ceiling) {
          io.fail({ code: 'MEMORY_LIMIT', message: `The script exceeded its memory limit of ${job.limits.memoryMb} MB` });
          return true;
        }
        return io.shouldInterrupt();
      };
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
          if (failure || !receive || over) return;
          for (const m of messages) {
            if (fast) {
              const err = fast.receive(m);
              if (err) {
                fastError(err, 'run');
                return;
              }
            } else {
              const s = ctx.newString(m);
              const r = ctx.callFunction(receive, ctx.undefined, s);
              s.dispose();
              if (r.error) {
                fail(describe(ctx, r.error, job, 'run', inst));
                r.error.dispose();
                return;
              }
              r.value.dispose();
            }
            // Each reply is its own task: the microtasks it starts run before the next reply
            // arrives (a timer callback's promise jobs run before the next timer's callback),
            // as in Node and in the other runtimes.
            pump();
            if (failure) return;
          }
        },
        finish() {
          // The guest must not run again (a late reply, a pending job) once the job is over.
          over = true;
          box.sink.io = undefined;
          box.interrupt = () => true;
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
