import { availableParallelism } from 'node:os';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { busyTicksOf, mayPoll } from '../../src/runtime/spare-core.js';

describe('spare-core: when a sandbox may poll', () => {
  it("reads the busy time of all CPUs from /proc/stat's first line: idle and iowait are free time", () => {
    expect(busyTicksOf('cpu  100 2 30 5000 40 0 6 7 0 0\ncpu0 50 1 15 2500 20 0 3 3 0 0\n')).toBe(100 + 2 + 30 + 0 + 6 + 7);
    expect(busyTicksOf('cpu 1 2 3 4 5 6 7 8')).toBe(1 + 2 + 3 + 6 + 7 + 8);
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
});
