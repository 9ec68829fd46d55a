/**
 * The CPU the calling thread runs on now (Linux; -1 elsewhere or when it cannot be read), for a
 * bridge deciding whether to poll: polling pays only while the peer it waits for runs on another
 * CPU. Two threads that share one are worse off polling than sleeping, since the poller holds the
 * CPU its peer needs to answer. On this project's VMs the scheduler packs a host thread and its
 * sandbox thread onto one virtual CPU after a few idle stretches, and keeps them there while
 * their load fits one CPU (measured: both on the same CPU in 15 of 15 samples, 3-call
 * executions back to back 0.9–1.5 ms, against 0.13–0.2 ms before the first idle stretch and
 * 0.45 ms with polling off).
 *
 * `sched_getcpu` is not reachable from JavaScript; field 39 of `/proc/thread-self/stat` is the
 * same number. The file is opened once per thread (a module instance is per thread, and
 * `thread-self` resolves at open time) and read again with `pread` at offset 0, which
 * regenerates it: about 1.2 µs a read here. The far sides' twin (the QuickJS thread, the
 * isolated-vm process) is runtimes/cpu.js; guest-side files are never imported by `src/`.
 */
import { openSync, readSync } from 'node:fs';

/** Field 39 (`processor`) counted from field 3, the first after the command name. */
const FIELDS_BEFORE_CPU = 39 - 3;
let fd = -2;
const buf = Buffer.alloc(1024);

export function currentCpu(): number {
  if (fd === -2) fd = openStat('/proc/thread-self/stat');
  try {
    return statCpu(fd);
  } catch {
    fd = -1;
    return -1;
  }
}

/** A `/proc/.../stat` file opened once to be read again and again (`statCpu`), or -1 off Linux or when it cannot be opened. */
export function openStat(path: string): number {
  if (process.platform !== 'linux') return -1;
  try {
    return openSync(path, 'r');
  } catch {
    return -1;
  }
}

/**
 * The CPU in the stat file open at `fd` (-1 for none, or for text without the field), read with
 * a `pread` at offset 0, which regenerates it. Throws what the read throws (the thread is gone).
 */
export function statCpu(fd: number): number {
  if (fd < 0) return -1;
  return cpuField(buf, readSync(fd, buf, 0, buf.length, 0));
}

/** The `processor` field of a `/proc/<pid>/stat` text held in `b[0, n)`, or -1. */
export function cpuField(b: Uint8Array, n: number): number {
  // The command name (field 2) is in parentheses and may hold spaces and parentheses itself.
  let close = -1;
  for (let i = n - 1; i >= 0; i--) {
    if (b[i] === 0x29) {
      close = i;
      break;
    }
  }
  if (close < 0) return -1;
  let i = close + 2;
  for (let spaces = 0; spaces < FIELDS_BEFORE_CPU; i++) {
    if (i >= n) return -1;
    if (b[i] === 0x20) spaces++;
  }
  let v = 0;
  const from = i;
  for (; i < n && b[i]! >= 0x30 && b[i]! <= 0x39; i++) v = v * 10 + b[i]! - 0x30;
  return i > from && (i === n || b[i] === 0x20) ? v : -1;
}
