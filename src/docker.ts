/**
 * toolexec/docker — the Docker runtime on its own: single-use hardened containers from a warm
 * pool (no network, read-only root, non-root, capabilities dropped, memory/CPU/PID limits),
 * optionally under gVisor. `new Executor({ runtime: 'docker' })` loads it by name; import it
 * to configure the pool yourself and hand the runtime to an executor.
 *
 *   const runtime = createDockerRuntime({ runtime: 'runsc' });
 *   const executor = new Executor({ runner, runtime });
 *
 * Several engines (sandbox hosts over TCP with mutual TLS, local sockets), each with its own warm
 * pool, health checks and fail-over:
 *
 *   const runtime = createDockerRuntime({ engines: [{ name: 'sandbox-1', host: 'tcp://10.0.0.11:2376', tls: { ca, cert, key } }] });
 *
 * Importing it loads no dockerode until the runtime first talks to the Docker daemon.
 */
export {
  DockerRuntime,
  DockerRuntimeError,
  createDockerRuntime,
  type DockerRuntimeOptions,
  type DockerEngineOptions,
  type DockerEngineTls,
  type DockerEngineStatus,
  type EngineState,
} from './runtime/docker/index.js';
