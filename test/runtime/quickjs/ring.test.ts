import { createRequire } from 'node:module';
import { afterAll, describe, expect, it } from 'vitest';
import { CTRL, KIND, MAX_RECORD, RING_BYTES, RingReader, RingWriter, createSharedBuffer, type RingRecord } from '../../../src/runtime/quickjs/ring.js';
import { QuickJSRuntime } from '../../../src/runtime/quickjs/index.js';
import { startJob } from '../contract.js';

// The thread's end of the transport, run in this thread: both ends are real code.
const require = createRequire(import.meta.url);
const { createRing } = require('../../../runtimes/quickjs/ring.js') as {
  createRing(sab: SharedArrayBuffer): {
    read(onRecord: (kind: number, id: number, text: string) => void): number;
    write(kind: number, id: number, text: string): boolean;
    ring(): void;
  };
};

const W2H_BASE = 16 * 4 + RING_BYTES;

describe('QuickJS shared-memory rings', () => {
  it('carries records both ways in order, across the end of the ring', () => {
    const sab = createSharedBuffer();
    const reader = new RingReader(sab);
    const writer = new RingWriter(sab);
    const far = createRing(sab);
    const texts = ['{"id":1,"ok":true}', 'é ✓ 𝄞', '', 'x'.repeat(40_000)];
    const got: RingRecord[] = [];
    const back: string[] = [];
    // Enough rounds to wrap both rings several times.
    for (let round = 0; round < 40; round++) {
      for (const [i, t] of texts.entries()) {
        expect(far.write(KIND.OUT, round * 10 + i, t)).toBe(true);
        expect(writer.write(KIND.REPLY, round * 10 + i, t)).toBe(true);
      }
      expect(reader.drain(got)).toBeUndefined();
      far.read((kind, id, text) => {
        expect(kind).toBe(KIND.REPLY);
        expect(id).toBe(round * 10 + back.length % texts.length);
        back.push(text);
      });
    }
    expect(got.map((r) => r.text)).toEqual(Array.from({ length: 40 }, () => texts).flat());
    expect(back).toEqual(Array.from({ length: 40 }, () => texts).flat());
  });

  it('refuses what cannot be a record, and says no room rather than waiting', () => {
    const sab = createSharedBuffer();
    const writer = new RingWriter(sab);
    expect(writer.write(KIND.REPLY, 1, 'x'.repeat(MAX_RECORD))).toBe(false);
    expect(RingWriter.fits('x'.repeat(MAX_RECORD))).toBe(false);
    let n = 0;
    while (writer.write(KIND.REPLY, 1, 'y'.repeat(10_000))) n++;
    // The thread has read nothing: the ring is full after about RING_BYTES of records.
    expect(n).toBe(Math.floor(RING_BYTES / (10_000 + 9)));
  });

  describe('the host reads what the thread wrote as hostile', () => {
    const setup = () => {
      const sab = createSharedBuffer();
      const ctrl = new Int32Array(sab, 0, 16);
      const bytes = new Uint8Array(sab);
      const put = (pos: number, values: number[]) => values.forEach((v, i) => (bytes[W2H_BASE + ((pos + i) % RING_BYTES)] = v));
      const u32 = (v: number) => [v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, v >>> 24];
      return { reader: new RingReader(sab), ctrl, put, u32 };
    };
    it('positions further apart than the ring', () => {
      const { reader, ctrl } = setup();
      Atomics.store(ctrl, CTRL.W2H_TAIL, RING_BYTES + 8);
      expect(reader.drain([])).toMatch(/further apart/);
      Atomics.store(ctrl, CTRL.W2H_HEAD, 100);
      Atomics.store(ctrl, CTRL.W2H_TAIL, 50); // behind the head: a huge unsigned distance
      expect(reader.drain([])).toMatch(/further apart/);
    });
    it('a length past what was published, over the record cap, or under the header', () => {
      for (const length of [1000, MAX_RECORD + 1, 0xffffffff, 2]) {
        const { reader, ctrl, put, u32 } = setup();
        put(0, [...u32(length), KIND.OUT, ...u32(1), 65, 65]);
        Atomics.store(ctrl, CTRL.W2H_TAIL, 11);
        const out: RingRecord[] = [];
        expect(reader.drain(out)).toMatch(/record length/);
        expect(out).toEqual([]);
      }
    });
    it('an unknown kind and a partial record, after the good records before them', () => {
      const { reader, ctrl, put, u32 } = setup();
      put(0, [...u32(6), KIND.OUT, ...u32(7), 66]);
      put(10, [...u32(5), 99, ...u32(7)]);
      Atomics.store(ctrl, CTRL.W2H_TAIL, 19);
      const out: RingRecord[] = [];
      expect(reader.drain(out)).toMatch(/unknown kind 99/);
      expect(out).toEqual([{ kind: KIND.OUT, id: 7, text: 'B' }]);
      const partial = setup();
      Atomics.store(partial.ctrl, CTRL.W2H_TAIL, 3);
      expect(partial.reader.drain([])).toMatch(/partial record/);
    });
    it('a record that wraps decodes as one text; invalid UTF-8 becomes replacement characters', () => {
      const { reader, ctrl, put, u32 } = setup();
      const start = RING_BYTES - 6;
      Atomics.store(ctrl, CTRL.W2H_HEAD, start);
      put(start, [...u32(5 + 4), KIND.OUT, ...u32(3), 0xe2, 0x9c, 0x93, 0xff]);
      Atomics.store(ctrl, CTRL.W2H_TAIL, start + 13);
      const out: RingRecord[] = [];
      expect(reader.drain(out)).toBeUndefined();
      expect(out).toEqual([{ kind: KIND.OUT, id: 3, text: '✓\ufffd' }]);
    });
  });
});

describe('QuickJS transport through the runtime', () => {
  const runtime = new QuickJSRuntime({ minIdle: 1, maxWorkers: 2 });
  afterAll(() => runtime.dispose());

  it('messages too big for a record travel on the port, in order with the rest', async () => {
    const big = 'z'.repeat(300_000);
    const job = startJob(
      runtime,
      `console.log("before"); const r = await run("echo", { big: "${'q'.repeat(100_000)}" }); console.log("x".repeat(200000)); console.log("after"); return r.echo.big.length;`,
      { limits: { maxOutputBytes: 10_000_000 } },
    );
    expect((await job.outcome).failure).toBeUndefined();
    expect(job.done()).toEqual({ op: 'done', ok: true, value: 100_000 });
    const logs = job.messages.filter((m) => m.op === 'log').map((m) => String(m.message).slice(0, 6));
    expect(logs).toEqual(['before', 'xxxxxx', 'after']);
    expect(big.length).toBe(300_000);
  });

  it('many replies at once that overflow the ring all arrive, in order', async () => {
    const job = startJob(
      runtime,
      'const ps = []; for (let i = 0; i < 400; i++) ps.push(run("echo", { i, pad: "p".repeat(2000) })); const rs = await Promise.all(ps); return rs.map((r) => r.echo.i).join(",") === Array.from({ length: 400 }, (_, i) => i).join(",");',
      { limits: { maxOutputBytes: 10_000_000 } },
    );
    expect((await job.outcome).failure).toBeUndefined();
    expect(job.done()).toEqual({ op: 'done', ok: true, value: true });
  });
});

describe('a sandbox thread that corrupts the transport', () => {
  it('ends the running job as SANDBOX_CRASHED and is replaced; the host reads nothing out of bounds', async () => {
    const single = new QuickJSRuntime({ minIdle: 0, maxWorkers: 1 });
    try {
      const job = startJob(single, 'await run("hang", {}); return 1');
      const deadline = Date.now() + 20_000;
      while (!job.messages.some((m) => m.op === 'run') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
      // What a compromised thread could do: move its published position past the ring and ring the bell.
      const ctrl = (single.workers()[0] as unknown as { ctrl: Int32Array }).ctrl;
      Atomics.store(ctrl, CTRL.W2H_TAIL, Atomics.load(ctrl, CTRL.W2H_HEAD) + RING_BYTES * 4);
      Atomics.add(ctrl, CTRL.W2H_SEQ, 1);
      Atomics.notify(ctrl, CTRL.W2H_SEQ);
      const outcome = await job.outcome;
      expect(outcome.failure?.code).toBe('SANDBOX_CRASHED');
      expect(outcome.failure?.message).toMatch(/transport protocol: ring positions/);
      const next = startJob(single, 'return 5');
      expect((await next.outcome).failure).toBeUndefined();
      expect(next.done()).toMatchObject({ value: 5 });
    } finally {
      await single.dispose();
    }
  });
});
