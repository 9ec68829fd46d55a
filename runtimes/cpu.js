'use strict';
// Which CPU a thread runs on, for the far sides' choice to poll for their peer: neither side of a
// bridge polls for a peer that runs on its own CPU, where the poll would hold the CPU the peer
// needs to answer. The host's twin, and the measurements, are in src/runtime/current-cpu.ts
// (guest-side files are never imported by src/, nor the other way round).
//
// Field 39 (`processor`) of a `/proc/.../stat` file, read again with pread at offset 0, which
// regenerates it: about 1.2 µs a read here.
const fs = require('node:fs');

/** A stat file opened for reading again and again, or -1 (not Linux, or no such thread). */
function openStat(path) {
  try {
    return fs.openSync(path, 'r');
  } catch (_) {
    return -1;
  }
}

/** The CPU in the stat file open at `fd`, read into `buf`, or -1. */
function statCpu(fd, buf) {
  if (fd < 0) return -1;
  let n;
  try {
    n = fs.readSync(fd, buf, 0, buf.length, 0);
  } catch (_) {
    return -1;
  }
  // Fields from 3 on follow the command name's closing parenthesis (the name may hold spaces and
  // parentheses itself); the CPU is the 36th field after that.
  let i = buf.lastIndexOf(0x29, n - 1);
  if (i < 0) return -1;
  i += 2;
  for (let spaces = 0; spaces < 36; i++) {
    if (i >= n) return -1;
    if (buf[i] === 0x20) spaces++;
  }
  let v = 0;
  const from = i;
  for (; i < n && buf[i] >= 0x30 && buf[i] <= 0x39; i++) v = v * 10 + buf[i] - 0x30;
  return i > from && (i === n || buf[i] === 0x20) ? v : -1;
}

module.exports = { openStat, statCpu };
