'use strict';
// The sandbox thread's end of the shared-memory transport (the host's end and the layout, which
// both ends follow, are in src/runtime/quickjs/ring.ts). This side trusts the host.
//
// Control words: 0 H2W_SEQ, 1 ABORT (job id asked to stop), 2 W2H_SEQ, 3 HOST_WAITING,
// 4 WORKER_WAITING, 8/9 host → thread head/tail, 10/11 thread → host head/tail, 12 W2H_SPACE_WAIT,
// 13 SPIN_OK (the host allows polling for replies), 14 HOST_CPU and 15 WORKER_CPU (1 + the CPU each
// side last ran on, 0 unknown: neither polls for a peer on its own CPU).
// Then the host → thread ring and the thread → host ring, RING_BYTES each. A record is
// [length u32][kind u8][id u32][UTF-8 text], length counting from kind.

const CTRL_WORDS = 16;
const RING_BYTES = 256 * 1024;
const MAX_RECORD = 64 * 1024;
const C = { H2W_SEQ: 0, ABORT: 1, W2H_SEQ: 2, HOST_WAITING: 3, WORKER_WAITING: 4, H2W_HEAD: 8, H2W_TAIL: 9, W2H_HEAD: 10, W2H_TAIL: 11, W2H_SPACE_WAIT: 12, SPIN_OK: 13, HOST_CPU: 14, WORKER_CPU: 15 };
const KIND = { OUT: 1, END: 2, PREPARED: 3, PORT: 4, REPLY: 5 };

function createRing(sab) {
  const ctrl = new Int32Array(sab, 0, CTRL_WORDS);
  const bytes = Buffer.from(sab);
  const inBase = CTRL_WORDS * 4;
  const outBase = CTRL_WORDS * 4 + RING_BYTES;
  const mask = RING_BYTES - 1;
  const header = Buffer.allocUnsafe(9);

  function u32(base, pos) {
    return (bytes[base + (pos & mask)] | (bytes[base + ((pos + 1) & mask)] << 8) | (bytes[base + ((pos + 2) & mask)] << 16) | (bytes[base + ((pos + 3) & mask)] << 24)) >>> 0;
  }

  /** Reads every record the host published: calls onRecord(kind, id, text) in order. */
  function read(onRecord) {
    let head = Atomics.load(ctrl, C.H2W_HEAD);
    const tail = Atomics.load(ctrl, C.H2W_TAIL);
    let n = 0;
    while (head !== tail) {
      const length = u32(inBase, head);
      const kind = bytes[inBase + ((head + 4) & mask)];
      const id = u32(inBase, head + 5);
      const start = (head + 9) & mask;
      const size = length - 5;
      let text = '';
      if (size > 0) {
        if (start + size <= RING_BYTES) text = bytes.toString('utf8', inBase + start, inBase + start + size);
        else {
          const joined = Buffer.allocUnsafe(size);
          bytes.copy(joined, 0, inBase + start, inBase + RING_BYTES);
          bytes.copy(joined, RING_BYTES - start, inBase, inBase + (start + size - RING_BYTES));
          text = joined.toString('utf8');
        }
      }
      head = (head + 4 + length) | 0;
      // Consumed before it is handled: the host may write again while the guest runs.
      Atomics.store(ctrl, C.H2W_HEAD, head);
      n++;
      onRecord(kind, id, text);
    }
    return n;
  }

  /** Whether the host has not yet taken everything this side published (it is not running, or is busy). */
  function unreadOut() {
    return Atomics.load(ctrl, C.W2H_TAIL) !== Atomics.load(ctrl, C.W2H_HEAD);
  }

  function pendingIn() {
    return Atomics.load(ctrl, C.H2W_TAIL) !== Atomics.load(ctrl, C.H2W_HEAD);
  }

  /**
   * Publishes one record for the host; false when it is too big for a record (the caller then
   * uses the port). Waits for room when the ring is full (the host drains it as it wakes);
   * `stillWanted()` false gives up the wait (the host is gone or has stopped listening).
   */
  function write(kind, id, text, stillWanted) {
    const n = text.length === 0 ? 0 : Buffer.byteLength(text, 'utf8');
    const length = 5 + n;
    if (length > MAX_RECORD) return false;
    let tail = Atomics.load(ctrl, C.W2H_TAIL);
    for (;;) {
      const head = Atomics.load(ctrl, C.W2H_HEAD);
      if (RING_BYTES - ((tail - head) >>> 0) >= 4 + length) break;
      // Full: make sure the host knows there is something to read, then wait for it to read.
      ring();
      Atomics.store(ctrl, C.W2H_SPACE_WAIT, 1);
      if (Atomics.load(ctrl, C.W2H_HEAD) === head) Atomics.wait(ctrl, C.W2H_HEAD, head, 5);
      Atomics.store(ctrl, C.W2H_SPACE_WAIT, 0);
      if (stillWanted && !stillWanted()) return true;
    }
    header.writeUInt32LE(length, 0);
    header[4] = kind;
    header.writeUInt32LE(id >>> 0, 5);
    put(tail, header, 9);
    const at = (tail + 9) & mask;
    if (n > 0) {
      if (at + n <= RING_BYTES) bytes.write(text, outBase + at, n, 'utf8');
      else {
        const encoded = Buffer.from(text, 'utf8');
        const first = RING_BYTES - at;
        encoded.copy(bytes, outBase + at, 0, first);
        encoded.copy(bytes, outBase, first, n);
      }
    }
    tail = (tail + 4 + length) | 0;
    Atomics.store(ctrl, C.W2H_TAIL, tail);
    return true;
  }

  function put(pos, buf, n) {
    const at = pos & mask;
    if (at + n <= RING_BYTES) buf.copy(bytes, outBase + at, 0, n);
    else {
      const first = RING_BYTES - at;
      buf.copy(bytes, outBase + at, 0, first);
      buf.copy(bytes, outBase, first, n);
    }
  }

  /** Tells the host there is something to read; wakes it only when it sleeps. */
  function ring() {
    Atomics.add(ctrl, C.W2H_SEQ, 1);
    if (Atomics.load(ctrl, C.HOST_WAITING) !== 0) Atomics.notify(ctrl, C.W2H_SEQ);
  }

  return { ctrl, C, KIND, MAX_RECORD, read, pendingIn, unreadOut, write, ring };
}

module.exports = { createRing };
