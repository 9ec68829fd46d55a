/**
 * toolexec Docker runtime: single-use hardened containers from a warm pool, optionally under
 * gVisor. Loaded lazily by the executor (`runtime: 'docker'`); importing it loads no dockerode
 * until the first connection.
 */
export {
  DockerRuntime,
  DockerRuntimeError,
  createDockerRuntime,
  DEFAULT_IMAGE,
  DEFAULT_MEMORY_MB,
  DEFAULT_CPUS,
  DEFAULT_PIDS_LIMIT,
  DEFAULT_TMPFS_MB,
  DEFAULT_FSIZE_MB,
  DEFAULT_NOFILE,
  DEFAULT_POOL_SIZE,
  REFILL_DELAY_MS,
} from './docker-runtime.js';
export type { DockerPoolOptions, DockerRuntimeOptions, DockerRuntimePhase, ResolvedDockerRuntimeOptions } from './docker-runtime.js';
export { SANDBOX_LABEL, RUNTIME_ID_LABEL, OWNER_PID_LABEL, OWNER_HOST_LABEL, NODE_OVERHEAD_MB, containerOptions } from './sandbox.js';
export type { SandboxSpec } from './sandbox.js';
