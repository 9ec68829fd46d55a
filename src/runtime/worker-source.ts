/**
 * Builds the source text of a sandbox worker. Workers run `eval: true` code rather than a
 * file so that the same code works from `src/` under the test runner (TypeScript compiled on
 * the fly, no `.js` file on disk) and from `dist/`; the functions are serialized with
 * `Function.prototype.toString`, which is why they must be self-contained.
 */
import { workerMain } from './worker-main.js';
import type { EngineFactory } from './worker-protocol.js';

/**
 * Source of a worker that runs `workerMain` with the given engine factory. `engineOptions`
 * must be JSON-serializable (resolved module paths, sizes). With `warmPrelude`, the worker runs
 * one throwaway job and prepares a sandbox before it reports ready.
 */
export function buildWorkerSource(engineFactory: EngineFactory, engineOptions: unknown, warmPrelude?: string): string {
  return [
    '"use strict";',
    // Bundlers that keep function names (esbuild keepNames, as used by vitest) insert calls to
    // these helpers into function bodies; give them harmless definitions.
    'var __name = function (f) { return f; };',
    `const __toolexec_workerMain = ${workerMain.toString()};`,
    `const __toolexec_createEngine = ${engineFactory.toString()};`,
    `__toolexec_workerMain(require, __toolexec_createEngine, ${JSON.stringify(engineOptions ?? null)}, ${JSON.stringify(warmPrelude ?? null)});`,
  ].join('\n');
}
