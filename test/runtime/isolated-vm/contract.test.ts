import { existsSync, readFileSync } from 'node:fs';
import { IsolatedVmRuntime } from '../../../src/runtime/isolated-vm/index.js';
import { defineRuntimeContractSuite, type ContractRuntime } from '../contract.js';

const seen = new WeakMap<ContractRuntime, Set<number>>();

/** Whether the process exists and is not a zombie, from /proc. */
function alive(pid: number): boolean {
  const stat = `/proc/${pid}/stat`;
  if (!existsSync(stat)) return false;
  try {
    return readFileSync(stat, 'utf8').split(') ')[1]?.[0] !== 'Z';
  } catch {
    return false;
  }
}

defineRuntimeContractSuite({
  name: 'isolated-vm',
  create: (options) => new IsolatedVmRuntime(options),
  async crash(runtime) {
    const pids = (runtime as IsolatedVmRuntime).processIds;
    for (const pid of pids) process.kill(pid, 'SIGKILL');
  },
  async resources(runtime) {
    const pids = seen.get(runtime) ?? new Set<number>();
    seen.set(runtime, pids);
    for (const pid of (runtime as IsolatedVmRuntime).processIds) pids.add(pid);
    return [...pids].filter(alive).map(String);
  },
});
