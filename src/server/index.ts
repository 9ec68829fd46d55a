/**
 * The MCP server exposing an engine: `ToolexecServer` (sessions, tools, list_changed),
 * `serveStdio` and `serveHttp` (Streamable HTTP with host/origin checks and a bearer token).
 */
export { DEFAULT_DESCRIPTION_BUDGET, ToolexecServer, type ToolexecServerOptions } from './toolexec-server.js';
export { EXECUTE_CODE_DESCRIPTION, MAX_SCRIPT_CHARS, SERVER_TOOL_NAMES, serverToolDefinitions, type ServerToolDefinition, type ServerToolName } from './tool-definitions.js';
export { serveStdio, type StdioServeHandle } from './stdio.js';
export {
  DEFAULT_HTTP_HOST,
  DEFAULT_MAX_BODY_BYTES,
  DEFAULT_MAX_SESSIONS,
  DEFAULT_SESSION_IDLE_MS,
  MCP_HTTP_PATH,
  serveHttp,
  type HttpServeHandle,
  type HttpServeOptions,
} from './http.js';
