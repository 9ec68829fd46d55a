/**
 * The MCP server exposing an engine: `ToolexecServer` (sessions, tools, list_changed, admission
 * control, result bounds), `serveStdio` and `serveHttp` (Streamable HTTP, stateful or
 * stateless, with host/origin checks, a bearer token and session caps).
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
} from './toolexec-server.js';
export {
  AdmissionQueue,
  DEFAULT_MAX_CONCURRENT_EXECUTIONS,
  DEFAULT_MAX_EXECUTIONS_PER_SESSION,
  DEFAULT_MAX_QUEUED_EXECUTIONS,
  type AdmissionOptions,
  type AdmissionRefusal,
  type AdmissionTicket,
} from './admission.js';
export { createRedactor, formatRedacted, REDACTED, SENSITIVE_KEY_PATTERN, type Redactor, type RedactorOptions } from './redact.js';
export { EXECUTE_CODE_DESCRIPTION, MAX_SCRIPT_CHARS, SERVER_TOOL_NAMES, serverToolDefinitions, type ServerToolDefinition, type ServerToolName } from './tool-definitions.js';
export { serveStdio, type StdioServeHandle } from './stdio.js';
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
} from './http.js';
