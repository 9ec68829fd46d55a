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
  userConfigDir,
  type ConfigLimitKey,
  type ConfigLimits,
  type ConfigRuntime,
  type ConfigSource,
  type LoadConfigOptions,
  type ToolexecConfig,
} from './load-config.js';
export { CONFIG_KEYS, CONFIG_LIMIT_KEYS, CONFIG_RUNTIMES, CONFIG_SCHEMA } from './schema.js';
