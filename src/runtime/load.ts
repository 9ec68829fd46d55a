/**
 * Runtimes by name. Every engine loads through a lazy `import()` here, so importing
 * `toolexec` never loads isolated-vm (native) or dockerode; an engine is only loaded when an
 * executor first asks for it.
 */
import type { Runtime, RuntimeName } from './types.js';

/** The names `runtime: '...'` accepts. */
export const RUNTIME_NAMES: readonly RuntimeName[] = ['quickjs', 'isolated-vm', 'docker'];

/** Raised when a runtime's engine cannot be loaded here (not installed, wrong Node flags). */
export class RuntimeUnavailableError extends Error {
  override readonly name = 'RuntimeUnavailableError';
  readonly code = 'RUNTIME_UNAVAILABLE';
  constructor(
    readonly runtime: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

type Loader = (options: Record<string, unknown>) => Promise<Runtime>;

// Specifiers live in variables so that TypeScript does not require the optional runtimes'
// files to exist at compile time, and bundlers do not pull them in eagerly.
const ISOLATED_VM_MODULE = './isolated-vm/index.js';
const DOCKER_MODULE = './docker/index.js';

const loaders: Record<RuntimeName, Loader> = {
  quickjs: async (options) => {
    const m = await import('./quickjs/index.js');
    return m.createQuickJSRuntime(options);
  },
  'isolated-vm': async (options) => {
    const m = await importRuntimeModule('isolated-vm', ISOLATED_VM_MODULE);
    const create = m.createIsolatedVmRuntime as ((o: Record<string, unknown>) => Runtime | Promise<Runtime>) | undefined;
    if (typeof create !== 'function') throw new RuntimeUnavailableError('isolated-vm', 'The isolated-vm runtime module does not export createIsolatedVmRuntime');
    return create(options);
  },
  docker: async (options) => {
    const m = await importRuntimeModule('docker', DOCKER_MODULE);
    const Ctor = m.DockerRuntime as (new (o: Record<string, unknown>) => Runtime) | undefined;
    if (typeof Ctor === 'function') return new Ctor(options);
    const create = m.createDockerRuntime as ((o: Record<string, unknown>) => Runtime | Promise<Runtime>) | undefined;
    if (typeof create === 'function') return create(options);
    throw new RuntimeUnavailableError('docker', 'The docker runtime module exports neither DockerRuntime nor createDockerRuntime');
  },
};

const INSTALL_HINTS: Record<RuntimeName, string> = {
  quickjs: 'Reinstall toolexec: quickjs-emscripten is a regular dependency.',
  'isolated-vm':
    'Install it with `npm install isolated-vm@5` on Node 20 (it compiles a native addon; needs python3, make and a C++ compiler). toolexec starts its sandbox processes with `--no-node-snapshot` itself, so your own process needs no flag.',
  docker: 'Install dockerode (`npm install dockerode`) and make sure a Docker daemon is reachable (DOCKER_HOST or /var/run/docker.sock).',
};

async function importRuntimeModule(name: RuntimeName, specifier: string): Promise<Record<string, unknown>> {
  try {
    return (await import(specifier)) as Record<string, unknown>;
  } catch (e) {
    throw new RuntimeUnavailableError(name, `The ${name} runtime is not available: ${(e as Error)?.message ?? String(e)}. ${INSTALL_HINTS[name]}`, { cause: e });
  }
}

/** True when `name` is a known runtime name. */
export function isRuntimeName(name: unknown): name is RuntimeName {
  return typeof name === 'string' && (RUNTIME_NAMES as readonly string[]).includes(name);
}

/**
 * Loads a runtime by name. Throws `TypeError` for an unknown name (naming the known ones) and
 * `RuntimeUnavailableError` when the engine cannot be loaded, with how to install it.
 */
export async function loadRuntime(name: string, options: Record<string, unknown> = {}): Promise<Runtime> {
  if (!isRuntimeName(name)) {
    throw new TypeError(`Unknown runtime ${JSON.stringify(name)}; known runtimes: ${RUNTIME_NAMES.join(', ')}`);
  }
  try {
    return await loaders[name](options);
  } catch (e) {
    if (e instanceof RuntimeUnavailableError) throw e;
    throw new RuntimeUnavailableError(name, `The ${name} runtime failed to start: ${(e as Error)?.message ?? String(e)}. ${INSTALL_HINTS[name]}`, { cause: e });
  }
}
