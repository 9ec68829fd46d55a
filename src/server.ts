/**
 * toolexec/server — the MCP server in front of an engine: `ToolexecServer` (sessions, the six
 * tools, list_changed), `serveStdio` (one session on this process's stdio) and `serveHttp`
 * (Streamable HTTP on `node:http`, with Host/Origin checks and an optional bearer token).
 * This is what `toolexec serve` runs.
 *
 *   const engine = await createEngine(loadConfig());            // toolexec/engine
 *   const server = new ToolexecServer(engine);
 *   const http = await serveHttp(server, { port: 3000, token });
 */
export { DEFAULT_MAX_TYPES_CHARS, ToolexecServer, type ToolexecServerOptions } from './server/toolexec-server.js';
export { EXECUTE_CODE_DESCRIPTION, MAX_SCRIPT_CHARS, SERVER_TOOL_NAMES, type ServerToolName } from './server/tool-definitions.js';
export { serveStdio, type StdioServeHandle } from './server/stdio.js';
export {
  DEFAULT_HTTP_HOST,
  DEFAULT_MAX_BODY_BYTES,
  DEFAULT_MAX_SESSIONS,
  DEFAULT_SESSION_IDLE_MS,
  MCP_HTTP_PATH,
  serveHttp,
  type HttpServeHandle,
  type HttpServeOptions,
} from './server/http.js';
