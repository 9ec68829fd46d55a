/**
 * Runtimes by name. Each runtime is one folder, `src/runtime/<name>/`, whose `index.ts` exports
 * `createRuntime(options)`; adding a runtime is a new folder plus a line in `RUNTIMES`. Every
 * folder loads through a lazy `import()` here, so importing `toolexec` never loads isolated-vm
 * (native) or dockerode; an engine is only loaded when an executor first asks for it.
 */
import type { Runtime, RuntimeName } from './types.js';

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

interface RuntimeModule {
  createRuntime(options: Record<string, unknown>): Runtime | Promise<Runtime>;
}

// Specifiers live in variables so that bundlers do not pull the optional runtimes in eagerly.
const RUNTIMES: Record<RuntimeName, { module: string; install: string }> = {
  quickjs: { module: './quickjs/index.js', install: 'Reinstall toolexec: quickjs-emscripten is a regular dependency.' },
  'isolated-vm': {
    module: './isolated-vm/index.js',
    install:
      'Install isolated-vm at the major that matches your Node line (5 on Node 20, 6 on 22, 7 on 24: `npm install isolated-vm@5`); it compiles a native addon and needs python3, make and a C++ compiler. toolexec starts its sandbox processes with the flags they need, so your own process needs none.',
  },
  docker: {
    module: './docker/index.js',
    install: 'Install dockerode (`npm install dockerode`) and make sure a Docker engine is reachable (DOCKER_HOST or /var/run/docker.sock).',
  },
};

/** The names `runtime: '...'` accepts. */
export const RUNTIME_NAMES = Object.keys(RUNTIMES) as RuntimeName[];

/** True when `name` is a known runtime name. */
export function isRuntimeName(name: unknown): name is RuntimeName {
  return typeof name === 'string' && Object.prototype.hasOwnProperty.call(RUNTIMES, name);
}

/** Throws the `TypeError` for a name that is not a runtime, listing the known ones. */
export function assertRuntimeName(name: unknown): asserts name is RuntimeName {
  if (!isRuntimeName(name)) throw new TypeError(`Unknown runtime ${JSON.stringify(name)}; known runtimes: ${RUNTIME_NAMES.join(', ')}`);
}

/**
 * Loads a runtime by name. Throws `TypeError` for an unknown name (naming the known ones) or bad
 * options, and `RuntimeUnavailableError` when the engine cannot be loaded, with how to install it.
 */
export async function loadRuntime(name: string, options: Record<string, unknown> = {}): Promise<Runtime> {
  assertRuntimeName(name);
  const entry = RUNTIMES[name];
  let mod: RuntimeModule;
  try {
    mod = (await import(entry.module)) as RuntimeModule;
  } catch (e) {
    throw new RuntimeUnavailableError(name, `The ${name} runtime is not available: ${(e as Error)?.message ?? String(e)}. ${entry.install}`, { cause: e });
  }
  try {
    return await mod.createRuntime(options);
  } catch (e) {
    if (e instanceof TypeError || e instanceof RuntimeUnavailableError) throw e;
    throw new RuntimeUnavailableError(name, `The ${name} runtime failed to start: ${(e as Error)?.message ?? String(e)}. ${entry.install}`, { cause: e });
  }
}

/** The install hint of a runtime, for messages about it. */
export function installHint(name: RuntimeName): string {
  return RUNTIMES[name].install;
}
