/**
 * toolexec/mcp — the MCP client backend: connect to the MCP servers of an `mcpServers` config
 * (the format Claude Desktop and Cursor use), import their tools into an index and run them
 * through a `Runner`.
 *
 *   const runner = new Runner();
 *   await using mcp = await connectMcpServers(config.mcpServers, { runner, index: runner.index });
 *   await runner.run('memory:read_graph', {});
 *
 * Node-only (stdio servers are child processes). The SDK's transports load on first connect.
 */
export {
  DEFAULT_MCP_TIMEOUT_MS,
  FOREIGN_SERVER_KEYS,
  McpConfigError,
  NOT_SECRET_VARIABLES,
  SERVER_KEYS,
  parseMcpServer,
  parseMcpServers,
  serverRedactor,
  stdioServerEnv,
  type McpHttpServerConfig,
  type McpServerConfig,
  type McpStdioServerConfig,
  type McpTransportKind,
  type ParseMcpServersOptions,
} from './backends/mcp/config.js';
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
} from './backends/mcp/connection.js';
export { McpAuthRequiredError, McpConnectionError } from './backends/mcp/errors.js';
// OAuth 2.1 to remote servers: the sign-in `toolexec auth` runs, and where credentials live.
export type { McpOAuthConfig } from './backends/mcp/oauth-config.js';
export { CONFIG_DIR_ENV, toolexecConfigDir } from './backends/mcp/oauth-store.js';
export {
  authorizeMcpServer,
  DEFAULT_AUTH_TIMEOUT_MS,
  forgetMcpServerAuth,
  type AuthorizeMcpServerOptions,
  type AuthorizeMcpServerResult,
} from './backends/mcp/oauth-flow.js';
export { McpToolImporter, mcpToolToDefinition, type McpSkippedTool, type McpToolsChange } from './backends/mcp/import.js';
export { McpBackend, type McpBackendOptions } from './backends/mcp/backend.js';
export {
  connectMcpServers,
  McpHub,
  type BackendHost,
  type ConnectMcpServersOptions,
  type McpHubOptions,
  type McpServerImport,
  type McpServersHandle,
  type McpWarning,
} from './backends/mcp/hub.js';
