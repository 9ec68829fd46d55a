/**
 * toolexec/engine — a whole engine from a config file: `loadConfig()` reads and checks
 * `toolexec.config.json` (every problem named by its key), `createEngine()` builds what it
 * describes (index, runner with the allow/deny policy, tool modules, MCP connections, one
 * executor per runtime) behind one `close()`. The CLI and the MCP server build on it.
 *
 *   await using engine = await createEngine(loadConfig('toolexec.config.json'));
 *   const result = await engine.execute('await run("math:add", { a: 1, b: 2 })');
 *
 * Config reading and the engine share one entry: a config is only ever read to build an
 * engine, and the engine's options are the config's types. MCP servers are connected through
 * `toolexec/mcp`'s code, loaded when the config lists any.
 */
export {
  ConfigError,
  DEFAULT_CONFIG_FILE,
  MAX_CONFIG_BYTES,
  checkConfig,
  emptyConfig,
  loadConfig,
  parseConfig,
  userConfigDir,
  type ConfigLimitKey,
  type ConfigLimits,
  type ConfigRuntime,
  type ConfigServe,
  type ConfigSource,
  type LoadConfigOptions,
  type ToolexecConfig,
} from './config/load-config.js';
export { CONFIG_KEYS, CONFIG_LIMIT_KEYS, CONFIG_RUNTIMES, CONFIG_SCHEMA, CONFIG_SERVE_KEYS, MIN_DESCRIPTION_BUDGET } from './config/schema.js';
export {
  createEngine,
  type CreateEngineOptions,
  type Engine,
  type EngineExecuteOptions,
  type EngineServerStatus,
  type EngineStartup,
} from './engine/engine.js';
export { PolicyIndex, ToolPolicy, describeHidden, hiddenByPolicy, policyMiddleware, type HiddenGroup } from './engine/policy.js';
export { ToolModuleError, importToolModule, loadToolModules, type LoadToolModulesOptions, type ToolModuleDefinition } from './engine/tool-modules.js';
// What the engine redacts with (`engine.redactor`): values that came from `${VAR}` references.
export { MIN_SECRET_LENGTH, Redactor, type Secret } from './model/redact.js';
