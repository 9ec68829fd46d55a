/**
 * The code executor: `Executor` (agent scripts in a sandbox, with the `run()` bridge and
 * limits), `generateTypes` (the sandbox API as TypeScript declarations) and `SandboxBackend`
 * (tools implemented by untrusted guest code). Runtimes load lazily by name.
 */
export { Executor, DEFAULT_EXECUTE_LIMITS, DEFAULT_MAX_LIMITS, jsSafeName } from './executor.js';
export { generateTypes, type TypegenFilter } from './typegen.js';
export { SandboxBackend, pluginScript, type SandboxBackendOptions, type SandboxToolDefinition } from './sandbox-backend.js';
export { prepareScript, WRAPPER_LINE_OFFSET, type PreparedScript, type PrepareFailure } from './prepare.js';
export type * from './types.js';
export { EXECUTE_ERROR_CODES } from './types.js';
