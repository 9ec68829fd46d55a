import { availableParallelism } from 'node:os';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { busyTicksOf, mayPoll, processTicksOf } from '../../src/runtime/spare-core.js';

describe('spare-core: when a sandbox may poll', () => {
  it("reads the busy time of all CPUs from /proc/stat's first line: idle and iowait are free time, steal is the hypervisor's", () => {
    expect(busyTicksOf('cpu  100 2 30 5000 40 0 6 7 0 0\ncpu0 50 1 15 2500 20 0 3 3 0 0\n')).toBe(100 + 2 + 30 + 0 + 6);
    expect(busyTicksOf('cpu 1 2 3 4 5 6 7 8')).toBe(1 + 2 + 3 + 6 + 7);
    // A virtual machine whose vCPUs wait for the hypervisor a third of the time: none of it is load.
    expect(busyTicksOf('cpu 10 0 15 20 0 0 0 17')).toBe(busyTicksOf('cpu 10 0 15 20 0 0 0 0'));
  });
  it('refuses a first line that is not the all-CPUs line or is short or not numbers', () => {
    expect(busyTicksOf('cpu0 1 2 3 4 5 6 7 8\n')).toBeUndefined();
    expect(busyTicksOf('cpu 1 2 3\n')).toBeUndefined();
    expect(busyTicksOf('cpu 1 2 x 4 5 6 7 8\n')).toBeUndefined();
    expect(busyTicksOf('cpu 1 2 -3 4 5 6 7 8\n')).toBeUndefined();
    expect(busyTicksOf('')).toBeUndefined();
  });
  it.skipIf(process.platform !== 'linux')("parses this machine's /proc/stat", () => {
    const ticks = busyTicksOf(readFileSync('/proc/stat', 'latin1'));
    expect(ticks).toBeTypeOf('number');
    expect(ticks).toBeGreaterThan(0);
  });
  it('never polls with as many jobs running as there are cores', () => {
    expect(mayPoll(availableParallelism())).toBe(false);
    expect(mayPoll(availableParallelism() + 3)).toBe(false);
    expect(typeof mayPoll(0)).toBe('boolean');
  });
  it("reads a process's user and system ticks from /proc/<pid>/stat, whatever its command name holds", () => {
    const rest = 'S 1450 1450 23699 0 -1 4194304 101 0 0 0 70 12 0 0 20 0 1 0 3749953 3133440 388';
    expect(processTicksOf(`1454 (node) ${rest}`)).toBe(82);
    expect(processTicksOf(`1454 (a) b (c)) ${rest}`)).toBe(82);
    expect(processTicksOf('1454 (node) S 1 2')).toBeUndefined();
    expect(processTicksOf('')).toBeUndefined();
  });
  it.skipIf(process.platform !== 'linux')("parses a live process's CPU time: a child that burnt 300 ms of CPU shows at least 25 ticks", async () => {
    // The child reports once it has used the CPU time, however long the machine takes to give it.
    const child = spawn(process.execPath, ['-e', "let u; do { u = process.cpuUsage(); } while (u.user + u.system < 300000); process.stdout.write('spent'); setInterval(() => {}, 1000);"], { stdio: ['ignore', 'pipe', 'inherit'] });
    try {
      await new Promise<void>((resolve, reject) => {
        child.stdout!.once('data', () => resolve());
        child.once('exit', (code) => reject(new Error(`the child exited early (${code})`)));
      });
      expect(processTicksOf(readFileSync(`/proc/${child.pid}/stat`, 'latin1'))).toBeGreaterThanOrEqual(25);
    } finally {
      child.kill('SIGKILL');
    }
  });
});
