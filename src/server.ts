/**
 * toolexec/server — the MCP server in front of an engine: `ToolexecServer` (sessions, the six
 * tools, list_changed), `serveStdio` (one session on this process's stdio) and `serveHttp`
 * (Streamable HTTP on `node:http`, stateful or stateless, with Host/Origin checks, an optional
 * bearer token and session caps), plus admission control and log redaction.
 * This is what `toolexec serve` runs.
 *
 *   const engine = await createEngine(loadConfig());            // toolexec/engine
 *   const server = new ToolexecServer(engine);
 *   const http = await serveHttp(server, { port: 3000, token });
 */
export {
  DEFAULT_MAX_RESULT_BYTES,
  DEFAULT_MAX_TYPES_CHARS,
  SDK_STDIO_READ_BUFFER_BYTES,
  SERVE_DEFAULT_MAX_LIMITS,
  STDIO_MAX_MESSAGE_BYTES,
  ToolexecServer,
  type ServerCallEvent,
  type SessionOptions,
  type ToolexecServerOptions,
} from './server/toolexec-server.js';
export {
  AdmissionQueue,
  DEFAULT_MAX_CONCURRENT_EXECUTIONS,
  DEFAULT_MAX_EXECUTIONS_PER_SESSION,
  DEFAULT_MAX_QUEUED_EXECUTIONS,
  type AdmissionOptions,
  type AdmissionRefusal,
  type AdmissionTicket,
} from './server/admission.js';
export { createRedactor, formatRedacted, REDACTED, SENSITIVE_KEY_PATTERN, type Redactor, type RedactorOptions } from './server/redact.js';
export { EXECUTE_CODE_DESCRIPTION, MAX_SCRIPT_CHARS, SERVER_TOOL_NAMES, type ServerToolName } from './server/tool-definitions.js';
export { serveStdio, type StdioServeHandle } from './server/stdio.js';
export {
  DEFAULT_HTTP_HOST,
  DEFAULT_MAX_BODY_BYTES,
  DEFAULT_MAX_SESSIONS,
  DEFAULT_MAX_SESSIONS_PER_CLIENT,
  DEFAULT_SESSION_IDLE_MS,
  DEFAULT_UNUSED_SESSION_IDLE_MS,
  MCP_HTTP_PATH,
  serveHttp,
  type HttpServeHandle,
  type HttpServeOptions,
} from './server/http.js';
