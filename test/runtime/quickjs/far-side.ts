// The far side's engine (runtimes/quickjs/engine.js) built in this thread, as the worker builds
// it, for the tests that drive the engine or a job on it directly.
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { loadPrelude } from '../../../src/runtime/guest.js';

const require = createRequire(import.meta.url);
const modulePath = require.resolve('quickjs-emscripten');
const wasmPath = join(dirname(createRequire(modulePath).resolve('@jitl/quickjs-wasmfile-release-sync/package.json')), 'dist', 'emscripten-module.wasm');
const { createQuickJSEngine } = require('../../../runtimes/quickjs/engine.js') as { createQuickJSEngine(options: Record<string, unknown>): Promise<unknown> };

/** A new engine with the real prelude; `extra` adds engine options (`noSnapshot`). */
export function createTestEngine<E>(extra: Record<string, unknown> = {}): Promise<E> {
  return createQuickJSEngine({
    modulePath,
    wasmPath,
    maxStackBytes: 1 << 20,
    retireHeapBytes: 256 << 20,
    servicesPath: require.resolve('../../../runtimes/services.js'),
    prelude: loadPrelude(),
    ...extra,
  }) as Promise<E>;
}
