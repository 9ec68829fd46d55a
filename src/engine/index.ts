/**
 * The engine a config describes: `createEngine()` builds runner, index, policy, tool modules,
 * MCP connections and the (lazily loaded) executor.
 */
export { PolicyIndex, ToolPolicy, describeHidden, hiddenByPolicy, policyMiddleware, type HiddenGroup } from './policy.js';
export {
  createEngine,
  type CreateEngineOptions,
  type Engine,
  type EngineExecuteOptions,
  type EngineServerStatus,
  type EngineStartup,
  type ExecuteToolCall,
} from './engine.js';
export {
  ToolModuleError,
  importToolModule,
  loadToolModules,
  type LoadToolModulesOptions,
  type ToolModuleDefinition,
} from './tool-modules.js';
