/**
 * toolexec — the root entry: the tool runner, the index, the code executor and their types,
 * by name. Everything here is what a program embedding toolexec needs; internals (script
 * preparation, the guest prelude, cursor helpers) stay behind it.
 *
 * This entry loads no MCP SDK module, no `node:http`, and no native or heavy runtime
 * (isolated-vm, dockerode): the executor loads a runtime by name on first use.
 * `test/root-entry.test.ts` checks what importing it loads. Heavier parts have their own
 * entries, one file each: `toolexec/mcp` (MCP client backend), `toolexec/engine` (config
 * files and the engine they describe), `toolexec/server` (the MCP server), `toolexec/docker`.
 */

// Tools, IDs, errors and JSON shapes.
export { ToolError, TOOL_ERROR_CODES } from './model/errors.js';
export type { SerializedToolError, ToolErrorCode, ToolErrorOptions, ToolOp, ValidationIssue } from './model/errors.js';
export type { ContentItem, Tool, ToolAnnotations, ToolDefinition } from './model/tool.js';
export type { JsonSchema, JsonValue } from './model/json.js';
export { isToolId, matchToolPattern, parseToolId, toolId } from './model/tool-id.js';
export type { ParsedToolId } from './model/tool-id.js';
export { BACKEND_KINDS, DEFAULT_BACKEND_ORDER } from './model/backend.js';
export type {
  BackendDescriptor,
  BackendKind,
  LocalBackendDescriptor,
  McpBackendDescriptor,
  ProviderBackendDescriptor,
  SandboxBackendDescriptor,
} from './model/backend.js';

// Schema validation.
export { AjvSchemaValidator } from './schema/validator.js';
export type { AjvSchemaValidatorOptions, SchemaDraft } from './schema/validator.js';
export type { CompiledValidator, SchemaValidator, ValidationResult } from './schema/types.js';

// The index.
export { InMemoryIndex, InvalidCursorError, DEFAULT_SEARCH_LIMIT, MAX_SEARCH_LIMIT } from './index/in-memory-index.js';
export type { InMemoryIndexOptions } from './index/in-memory-index.js';
export type {
  BackendSelector,
  IndexChange,
  IndexEntry,
  IndexListener,
  ListOptions,
  RegisterOptions,
  SearchHit,
  SearchOptions,
  SearchPage,
  ToolIndex,
} from './index/types.js';

// Backends a runner dispatches to.
export { LocalBackend } from './backends/local.js';
export type { LocalHandler, LocalHandlerContext } from './backends/local.js';
export { ProviderBackend } from './backends/provider.js';
export type { ProviderCallContext, ToolProvider } from './backends/provider.js';
export type { Backend, BackendResult, CallContext, ProgressUpdate, StreamChunk } from './backends/types.js';

// The runner.
export { Runner, defineTool, DEFAULT_TIMEOUT_MS } from './run/runner.js';
export type { LocalToolDefinition, RunnerOptions } from './run/runner.js';
export type { CallEvent, ChainResult, ChainStep, Middleware, RunOptions, RunResult, StepResult, StreamEvent } from './run/types.js';

// The code executor, its declarations generator and sandboxed plugin tools.
export { Executor, DEFAULT_EXECUTE_LIMITS, DEFAULT_MAX_LIMITS } from './code/executor.js';
export { EXECUTE_ERROR_CODES } from './code/types.js';
export type {
  ApprovalDecisions,
  ApprovalHandler,
  PendingToolCall,
  ResumeOptions,
  ExecuteError,
  ExecuteErrorCode,
  ExecuteLimits,
  ExecuteOptions,
  ExecuteResult,
  ExecutorOptions,
  ExecutorRunner,
  LimitName,
  LogEntry,
  ReportedLimits,
  ToolCallRecord,
  TypeDiagnostic,
} from './code/types.js';
export { DEFAULT_EGRESS } from './code/egress-policy.js';
export type { EgressLookup, EgressOrigin, EgressPolicy } from './code/egress-policy.js';
export { generateTypes, declarationsWithinBudget, trimDescription, DEFAULT_TOOL_DOC_CHARS, DEFAULT_PROPERTY_DOC_CHARS } from './code/typegen.js';
export type { BudgetedDeclarations, DeclarationLevel, TypegenFilter, TypegenOptions } from './code/typegen.js';
// Type errors before side effects (`execute(script, { typecheck: true })`); TypeScript loads on the first check.
export { TypeChecker, TypeCheckError, sharedTypeChecker } from './code/typecheck.js';
export type { TypeCheckerOptions, TypeCheckRequest, TypeCheckResult } from './code/typecheck.js';
export { SANDBOX_GLOBALS, ABSENT_GLOBALS, sandboxParagraph, sandboxLibDeclarations } from './code/sandbox-globals.js';
export type { SandboxGlobal } from './code/sandbox-globals.js';
export { SandboxBackend } from './code/sandbox-backend.js';
export type { SandboxBackendOptions, SandboxToolDefinition } from './code/sandbox-backend.js';
// A custom runtime can be handed to `new Executor({ runtime })`.
export type { Runtime, RuntimeName } from './runtime/types.js';
