/**
 * The code executor: `Executor` (agent scripts in a sandbox, with the `run()` bridge and
 * limits), `generateTypes` (the sandbox API as TypeScript declarations), `TypeChecker` (type
 * errors before side effects) and `SandboxBackend`
 * (tools implemented by untrusted guest code). Runtimes load lazily by name.
 */
export { Executor, DEFAULT_EXECUTE_LIMITS, DEFAULT_MAX_LIMITS, jsSafeName } from './executor.js';
export {
  generateTypes,
  declarationsWithinBudget,
  trimDescription,
  DEFAULT_TOOL_DOC_CHARS,
  DEFAULT_PROPERTY_DOC_CHARS,
  type TypegenFilter,
  type TypegenOptions,
  type BudgetedDeclarations,
  type DeclarationLevel,
} from './typegen.js';
export { SANDBOX_GLOBALS, ABSENT_GLOBALS, sandboxParagraph, sandboxLibDeclarations, type SandboxGlobal } from './sandbox-globals.js';
export { TypeChecker, TypeCheckError, sharedTypeChecker, type TypeCheckerOptions, type TypeCheckRequest, type TypeCheckResult } from './typecheck.js';
export { SandboxBackend, pluginScript, type SandboxBackendOptions, type SandboxToolDefinition } from './sandbox-backend.js';
export { prepareScript, WRAPPER_LINE_OFFSET, type PreparedScript, type PrepareFailure } from './prepare.js';
export type * from './types.js';
export { EXECUTE_ERROR_CODES } from './types.js';
