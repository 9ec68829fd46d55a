/**
 * Config files: `loadConfig()` reads and checks `toolexec.config.json`. Reading and checking
 * only; the engine a config describes is built in `src/engine/`.
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
  type ConfigServe,
  type LoadConfigOptions,
  type ToolexecConfig,
} from './load-config.js';
export { CONFIG_KEYS, CONFIG_LIMIT_KEYS, CONFIG_RUNTIMES, CONFIG_SCHEMA, CONFIG_SERVE_KEYS, MIN_DESCRIPTION_BUDGET } from './schema.js';
