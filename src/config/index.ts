/**
 * Config files and the engine they describe: `loadConfig()` reads and checks
 * `toolexec.config.json`, `createEngine()` builds runner, index, MCP connections and the
 * (lazily loaded) executor from it.
 */
export {
  ConfigError,
  DEFAULT_CONFIG_FILE,
  MAX_CONFIG_BYTES,
  checkConfig,
  emptyConfig,
  loadConfig,
  parseConfig,
  pointerToKey,
  type ConfigLimitKey,
  type ConfigLimits,
  type ConfigRuntime,
  type LoadConfigOptions,
  type ToolexecConfig,
} from './load-config.js';
export { CONFIG_KEYS, CONFIG_LIMIT_KEYS, CONFIG_RUNTIMES, CONFIG_SCHEMA } from './schema.js';
export { PolicyIndex, ToolPolicy, policyMiddleware } from './policy.js';
export {
  createEngine,
  type CreateEngineOptions,
  type Engine,
  type EngineExecuteOptions,
  type ExecuteToolCall,
} from './engine.js';
