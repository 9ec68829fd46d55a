// Neither end of the isolated-vm bridge polls for a peer that runs on its own CPU
// (src/runtime/current-cpu.ts): the poll would hold the CPU the peer needs to answer. Which CPU a
// thread runs on is the scheduler's choice, so the test sets it: a fixture process pins itself and
// its sandbox process to one CPU with taskset, or moves the sandbox process to another, runs a
// 200-call job with polling forced on, and prints the job's bridge figures. The old decision
// (poll whenever allowed) polls on every wait in both placements, so the first case fails there.
import { availableParallelism } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { runBridgeFixture, tasksetMissing } from '../bridge-fixture.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const CALLS = 200;

function unavailable(): string | undefined {
  if (process.platform !== 'linux') return 'reads /proc/<pid>/stat and pins with taskset (Linux only)';
  if (availableParallelism() < 2) return 'polling needs a second core';
  const taskset = tasksetMissing();
  if (taskset !== undefined) return taskset;
  try {
    createRequire(join(root, 'package.json')).resolve('isolated-vm');
  } catch {
    return 'isolated-vm is not installed';
  }
  return undefined;
}
const why = unavailable();
if (why !== undefined) console.log(`[isolated-vm poll-beside] skipped: ${why}`);

type Bridge = { waits: number; polled: number; hostPolled: number };
const job = (...args: string[]): Bridge => runBridgeFixture<Bridge>('ivm-bridge.mjs', args, ['--no-node-snapshot']);

describe.skipIf(why !== undefined)('isolated-vm processes: no poll for a peer on the same CPU', () => {
  it('neither the process nor the host polls while both are pinned to one CPU', { timeout: 60_000 }, () => {
    const beside = job();
    expect(beside.waits).toBeGreaterThanOrEqual(CALLS);
    // A reading stays good for a millisecond, and the first may precede the pinning's effect.
    expect(beside.polled).toBeLessThanOrEqual(CALLS / 4);
    expect(beside.hostPolled).toBeLessThanOrEqual(CALLS / 4);
  });

  it('both poll while the process is pinned to another CPU than the host', { timeout: 60_000 }, () => {
    const apart = job('--apart', '1');
    expect(apart.waits).toBeGreaterThanOrEqual(CALLS);
    expect(apart.polled).toBeGreaterThanOrEqual(apart.waits - CALLS / 10);
    expect(apart.hostPolled).toBeGreaterThanOrEqual(CALLS - CALLS / 10);
  });
});
