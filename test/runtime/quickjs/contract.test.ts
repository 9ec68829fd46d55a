import { existsSync, readFileSync } from 'node:fs';
import { QuickJSRuntime } from '../../../src/runtime/quickjs/index.js';
import type { QuickJSWorker } from '../../../src/runtime/quickjs/worker.js';
import { defineRuntimeContractSuite, type ContractRuntime } from '../contract.js';

const seen = new WeakMap<ContractRuntime, Set<number>>();

defineRuntimeContractSuite({
  name: 'quickjs',
  create: (options) => new QuickJSRuntime(options),
  async crash(runtime) {
    // The thread dies without the supervisor asking: from its point of view, a crash.
    await Promise.all(runtime.workers().map((w) => w.stop()));
  },
  async resources(runtime) {
    const tids = seen.get(runtime) ?? new Set<number>();
    seen.set(runtime, tids);
    for (const w of runtime.workers()) {
      const tid = (w as QuickJSWorker).osThreadId;
      if (tid !== undefined) tids.add(tid);
    }
    // Counted from the OS: a sandbox thread of ours still in this process.
    return [...tids].filter((tid) => {
      const comm = `/proc/self/task/${tid}/comm`;
      return existsSync(comm) && readFileSync(comm, 'utf8').trim() === 'toolexec-qjs';
    }).map(String);
  },
});
