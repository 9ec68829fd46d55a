/**
 * The shared-memory transport between the host and a QuickJS sandbox thread: two byte rings in
 * one `SharedArrayBuffer`, one per direction, plus a few control words. A tool call costs one
 * record each way and, only when the other side sleeps, one wake-up each way (the host waits
 * with `Atomics.waitAsync`, the thread with `Atomics.wait`); no structured clone, no message
 * event. Messages too big for a record travel on a `MessagePort` with a marker record at their
 * place in the ring, so order is kept.
 *
 * The far side's twin is `runtimes/quickjs/ring.js`; the layout below is the contract between
 * the two. The thread runs the guest's engine, so the host reads everything in the buffer as
 * hostile: every index and length is checked against the ring's size before a byte is read, a
 * drain reads at most one ring's worth, and a violation is reported, never followed.
 *
 * Layout (little-endian): control words (`Int32Array`, 16 words), then the host → thread ring,
 * then the thread → host ring, `RING_BYTES` each. A record is `[length u32][kind u8][id u32]
 * [UTF-8 text]`, `length` counting from `kind`; records wrap around the ring's end. Positions
 * are free-running 32-bit counters (head: consumed, tail: published); `tail - head` is what can
 * be read, never more than the ring's size.
 */

/** Control word indexes. */
export const CTRL = {
  /** Bumped by the host after writing to the host → thread ring or posting a job. */
  H2W_SEQ: 0,
  /** The id (31 bits) of the job the host asks to stop. */
  ABORT: 1,
  /** Bumped by the thread after publishing records for the host. */
  W2H_SEQ: 2,
  /** 1 while the host waits for W2H_SEQ (the thread then notifies). */
  HOST_WAITING: 3,
  /** 1 while the thread waits for H2W_SEQ (the host then notifies). */
  WORKER_WAITING: 4,
  H2W_HEAD: 8,
  H2W_TAIL: 9,
  W2H_HEAD: 10,
  W2H_TAIL: 11,
  /** 1 while the thread waits for room in its ring (the host then notifies W2H_HEAD). */
  W2H_SPACE_WAIT: 12,
  /** 1 while the host allows the thread to poll for replies instead of sleeping (cores to spare). */
  SPIN_OK: 13,
  /** 1 + the CPU the host's thread last ran on (0: unknown), as last read while polling was allowed. */
  HOST_CPU: 14,
  /** 1 + the CPU the sandbox thread ran on at a wait (0: unknown), as last read while polling was allowed. */
  WORKER_CPU: 15,
} as const;

export const CTRL_WORDS = 16;
/** Bytes of each ring (a power of two). */
export const RING_BYTES = 256 * 1024;
/** Largest record (`length`); a bigger message goes on the port. */
export const MAX_RECORD = 64 * 1024;
const HEADER = 4;
const FIXED = 5; // kind + id

/** Record kinds. */
export const KIND = {
  /** Thread → host: one guest message of job `id`. */
  OUT: 1,
  /** Thread → host: job `id` is over; the text is `{"outcome":...,"retire":bool}`. */
  END: 2,
  /** Thread → host: the next sandbox is ready. */
  PREPARED: 3,
  /** Either way: the next message of this direction is on the port. */
  PORT: 4,
  /** Host → thread: one reply for job `id`. */
  REPLY: 5,
} as const;

/** The buffer both sides share. */
export function createSharedBuffer(): SharedArrayBuffer {
  return new SharedArrayBuffer(CTRL_WORDS * 4 + 2 * RING_BYTES);
}

/** One record as the host read it. */
export interface RingRecord {
  kind: number;
  id: number;
  text: string;
}

/** What the host sees in one direction of the buffer. */
class RingView {
  protected readonly ctrl: Int32Array;
  protected readonly bytes: Buffer;
  constructor(
    sab: SharedArrayBuffer,
    protected readonly base: number,
    protected readonly headIndex: number,
    protected readonly tailIndex: number,
  ) {
    this.ctrl = new Int32Array(sab, 0, CTRL_WORDS);
    this.bytes = Buffer.from(sab);
  }

  protected byteAt(pos: number): number {
    return this.bytes[this.base + (pos & (RING_BYTES - 1))]!;
  }

  protected u32At(pos: number): number {
    return (this.byteAt(pos) | (this.byteAt(pos + 1) << 8) | (this.byteAt(pos + 2) << 16) | (this.byteAt(pos + 3) << 24)) >>> 0;
  }
}

/** The host's reader of the thread → host ring. Everything it reads is checked. */
export class RingReader extends RingView {
  constructor(sab: SharedArrayBuffer) {
    super(sab, CTRL_WORDS * 4 + RING_BYTES, CTRL.W2H_HEAD, CTRL.W2H_TAIL);
  }

  /** Whether there is anything to read (cheap; no checks). */
  get pending(): boolean {
    return Atomics.load(this.ctrl, this.tailIndex) !== Atomics.load(this.ctrl, this.headIndex);
  }

  /**
   * Reads every published record, in order, into `out`. Returns a description of the first
   * violation (the records before it are in `out`), or undefined. Reads at most one ring's
   * worth: what the thread publishes meanwhile waits for the next call.
   */
  drain(out: RingRecord[]): string | undefined {
    let head = Atomics.load(this.ctrl, this.headIndex);
    const tail = Atomics.load(this.ctrl, this.tailIndex);
    let avail = (tail - head) >>> 0;
    if (avail > RING_BYTES) return 'ring positions further apart than the ring is long';
    let violation: string | undefined;
    while (avail > 0) {
      if (avail < HEADER + FIXED) {
        violation = 'a partial record';
        break;
      }
      const length = this.u32At(head);
      if (length < FIXED || length > MAX_RECORD || HEADER + length > avail) {
        violation = `a record length of ${length} with ${avail - HEADER} bytes published`;
        break;
      }
      const kind = this.byteAt(head + 4);
      if (kind !== KIND.OUT && kind !== KIND.END && kind !== KIND.PREPARED && kind !== KIND.PORT) {
        violation = `a record of unknown kind ${kind}`;
        break;
      }
      const id = this.u32At(head + 5);
      out.push({ kind, id, text: this.textAt(head + HEADER + FIXED, length - FIXED) });
      head = (head + HEADER + length) | 0;
      avail -= HEADER + length;
    }
    Atomics.store(this.ctrl, this.headIndex, head);
    if (Atomics.load(this.ctrl, CTRL.W2H_SPACE_WAIT) !== 0) Atomics.notify(this.ctrl, this.headIndex);
    return violation;
  }

  private textAt(pos: number, n: number): string {
    if (n === 0) return '';
    const start = pos & (RING_BYTES - 1);
    const end = start + n;
    if (end <= RING_BYTES) return this.bytes.toString('utf8', this.base + start, this.base + end);
    // Wrapped: copied out first, so the two halves decode as one text.
    const joined = Buffer.allocUnsafe(n);
    this.bytes.copy(joined, 0, this.base + start, this.base + RING_BYTES);
    this.bytes.copy(joined, RING_BYTES - start, this.base, this.base + (end - RING_BYTES));
    return joined.toString('utf8');
  }
}

/** The host's writer of the host → thread ring. It never waits: no room means "use the port". */
export class RingWriter extends RingView {
  constructor(sab: SharedArrayBuffer) {
    super(sab, CTRL_WORDS * 4, CTRL.H2W_HEAD, CTRL.H2W_TAIL);
  }

  /**
   * Publishes one record; false when it does not fit (too big for a record, or no room now).
   * Throws when the thread moved its read position somewhere impossible.
   */
  write(kind: number, id: number, text: string): boolean {
    const n = text.length === 0 ? 0 : Buffer.byteLength(text, 'utf8');
    const length = FIXED + n;
    if (length > MAX_RECORD) return false;
    const tail = Atomics.load(this.ctrl, this.tailIndex);
    const head = Atomics.load(this.ctrl, this.headIndex);
    const used = (tail - head) >>> 0;
    if (used > RING_BYTES) throw new Error('the sandbox thread moved its ring position out of range');
    if (RING_BYTES - used < HEADER + length) return false;
    this.put(tail, [length & 0xff, (length >>> 8) & 0xff, (length >>> 16) & 0xff, length >>> 24, kind, id & 0xff, (id >>> 8) & 0xff, (id >>> 16) & 0xff, id >>> 24]);
    const at = (tail + HEADER + FIXED) & (RING_BYTES - 1);
    if (n > 0) {
      if (at + n <= RING_BYTES) this.bytes.write(text, this.base + at, n, 'utf8');
      else {
        const encoded = Buffer.from(text, 'utf8');
        const first = RING_BYTES - at;
        encoded.copy(this.bytes, this.base + at, 0, first);
        encoded.copy(this.bytes, this.base, first, n);
      }
    }
    Atomics.store(this.ctrl, this.tailIndex, (tail + HEADER + length) | 0);
    return true;
  }

  /** Whether the thread has not yet taken everything this side published. */
  get unread(): boolean {
    return Atomics.load(this.ctrl, this.tailIndex) !== Atomics.load(this.ctrl, this.headIndex);
  }

  /** Whether a record with `n` text bytes fits now. */
  hasRoom(n: number): boolean {
    const used = (Atomics.load(this.ctrl, this.tailIndex) - Atomics.load(this.ctrl, this.headIndex)) >>> 0;
    return used <= RING_BYTES && RING_BYTES - used >= HEADER + FIXED + n;
  }

  /** Whether a record of this many text bytes could ever fit (else it must go on the port). */
  static fits(text: string): boolean {
    return text.length * 3 + FIXED <= MAX_RECORD || Buffer.byteLength(text, 'utf8') + FIXED <= MAX_RECORD;
  }

  private put(pos: number, values: number[]): void {
    for (let i = 0; i < values.length; i++) this.bytes[this.base + ((pos + i) & (RING_BYTES - 1))] = values[i]!;
  }
}
