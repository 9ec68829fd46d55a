/**
 * toolexec — the root entry. Named exports only. This entry must not load native or heavy
 * optional engines (isolated-vm, dockerode): those load lazily when a runtime asks for them.
 */
export * from './model/index.js';
export type * from './schema/types.js';
export type * from './index/types.js';
export * from './schema/index.js';
export * from './index/index.js';
export type * from './backends/types.js';
export * from './backends/local.js';
export * from './backends/provider.js';
export * from './backends/normalize.js';
export type * from './run/types.js';
export * from './run/runner.js';
export { resolveTemplates } from './run/templates.js';
export type * from './runtime/types.js';
export * from './backends/mcp/index.js';
export * from './code/index.js';
// Config files, the engine they describe and the MCP server in front of it. The executor,
// runtimes and MCP client transports inside load lazily, on first use.
export * from './config/index.js';
export * from './engine/index.js';
export * from './server/index.js';
