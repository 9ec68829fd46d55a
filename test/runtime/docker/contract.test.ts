import Docker from 'dockerode';
import { DockerRuntime } from '../../../src/runtime/docker/index.js';
import type { DockerWorker } from '../../../src/runtime/docker/worker.js';
import { defineRuntimeContractSuite, type ContractRuntime } from '../contract.js';
import { REQUIRE_DOCKER, probeDocker } from './helpers.js';

const seen = new WeakMap<ContractRuntime, Set<string>>();
const docker = new Docker();

defineRuntimeContractSuite({
  name: 'docker',
  slow: 4,
  async skip() {
    const probe = await probeDocker();
    if (probe.available) return undefined;
    if (REQUIRE_DOCKER) throw new Error(`TOOLEXEC_REQUIRE_DOCKER=1 but ${probe.reason}`);
    return probe.reason;
  },
  create: (options) => new DockerRuntime(options),
  async crash(runtime) {
    // Killed through the engine, as the OOM killer or an operator would.
    await Promise.all(runtime.workers().map((w) => (w as DockerWorker).id).filter((id): id is string => !!id).map((id) => docker.getContainer(id).kill().catch(() => undefined)));
  },
  async resources(runtime) {
    const ids = seen.get(runtime) ?? new Set<string>();
    seen.set(runtime, ids);
    for (const w of runtime.workers()) {
      const id = (w as DockerWorker).id;
      if (id) ids.add(id);
    }
    // Counted from the engine: a container of ours that still exists, running or not.
    const live = await docker.listContainers({ all: true, filters: { label: [`toolexec.runtime-id=${(runtime as DockerRuntime).id}`] } });
    return live.map((c) => c.Id);
  },
});
