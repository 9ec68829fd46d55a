/**
 * The MCP backend: connections to the MCP servers of an `mcpServers` config, tool import
 * into an index, and a `Backend` per server. Node-only (stdio spawns processes); the SDK's
 * transports are loaded lazily on first connect.
 */
export {
  DEFAULT_MCP_TIMEOUT_MS,
  FOREIGN_SERVER_KEYS,
  McpConfigError,
  NOT_SECRET_VARIABLES,
  SERVER_KEYS,
  expandEnvReferences,
  parseMcpServer,
  parseMcpServers,
  serverRedactor,
  stdioServerEnv,
  unknownServerKeys,
  type EnvExpansion,
  type McpHttpServerConfig,
  type McpServerConfig,
  type McpStdioServerConfig,
  type McpTransportKind,
  type ParseMcpServersOptions,
} from './config.js';
export {
  DEFAULT_BACKOFF_INITIAL_MS,
  DEFAULT_BACKOFF_MAX_MS,
  DEFAULT_CLIENT_INFO,
  DEFAULT_CONNECT_TIMEOUT_MS,
  DEFAULT_LIST_CHANGED_DEBOUNCE_MS,
  DEFAULT_MAX_LIST_PAGES,
  DEFAULT_MAX_MESSAGE_BYTES,
  DEFAULT_STDERR_LINES,
  McpConnection,
  type McpConnectionOptions,
  type McpConnectionState,
} from './connection.js';
export { McpConnectionError } from './errors.js';
export { McpToolImporter, mcpToolToDefinition, type McpSkippedTool, type McpToolsChange } from './import.js';
export { McpBackend, normalizeMcpResult, type McpBackendOptions } from './backend.js';
export {
  connectMcpServers,
  McpHub,
  type BackendHost,
  type ConnectMcpServersOptions,
  type McpHubOptions,
  type McpServerImport,
  type McpServersHandle,
  type McpWarning,
} from './hub.js';
