/**
 * The engine a config describes: `createEngine()` builds runner, index, policy, tool modules,
 * MCP connections and the (lazily loaded) executor.
 */
export { PolicyIndex, ToolPolicy, policyMiddleware } from './policy.js';
export {
  createEngine,
  type CreateEngineOptions,
  type Engine,
  type EngineExecuteOptions,
} from './engine.js';
export { ToolModuleError, importToolModule, loadToolModules } from './tool-modules.js';
