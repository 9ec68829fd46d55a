/**
 * Turning what an MCP server (or the connection to it) says into `ToolError`s. The MCP
 * TypeScript SDK's `McpServer` reports unknown tools and rejected arguments as `isError`
 * results whose text is the JSON-RPC error it would have sent (`MCP error -32602: Tool x
 * not found`), while other servers send real JSON-RPC errors; both forms are recognised so
 * callers see the same codes whatever the server was built with.
 */
import { ErrorCode, McpError } from '@modelcontextprotocol/sdk/types.js';
import { ToolError, type ToolErrorCode } from '../../model/errors.js';
import type { ContentItem } from '../../model/tool.js';

/** Where a call went: used in every error message. */
export interface McpCallSite {
  toolId: string;
  /** The tool's name on the server. */
  tool: string;
  server: string;
  op?: 'run' | 'stream';
}

/** Errors of the connection itself rather than of one request: the connection must be rebuilt. */
export class McpConnectionError extends Error {
  override readonly name: string = 'McpConnectionError';
  /** Whether trying again (after reconnecting) can help. */
  readonly retryable: boolean;
  constructor(message: string, options: { cause?: unknown; retryable?: boolean } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.retryable = options.retryable ?? true;
  }
}

/** Quotes a server name for a shell command line when it needs it. */
function shellWord(word: string): string {
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`;
}

/**
 * A remote server needs an OAuth sign-in that has not been done (or whose tokens the server
 * no longer accepts). Nothing retried automatically can help; `toolexec auth <server>` can.
 */
export class McpAuthRequiredError extends McpConnectionError {
  override readonly name: string = 'McpAuthRequiredError';
  readonly code = 'MCP_AUTH_REQUIRED' as const;
  /** The server's name in `mcpServers`. */
  readonly server: string;
  readonly url: string;
  /** The command that fixes it. */
  readonly command: string;

  /** `configFile`: the config the server is in, named in the command (clients start toolexec from elsewhere). */
  constructor(server: string, url: string, reason: string, options: { cause?: unknown; retryable?: boolean; configFile?: string | undefined } = {}) {
    const command = `toolexec auth ${shellWord(server)}${options.configFile ? ` --config ${shellWord(options.configFile)}` : ''}`;
    super(`MCP server "${server}" (${url}) needs OAuth authorization: ${reason}. Run \`${command}\` to sign in.`, {
      retryable: options.retryable ?? false,
      ...(options.cause !== undefined ? { cause: options.cause } : {}),
    });
    this.server = server;
    this.url = url;
    this.command = command;
  }
}

const SDK_PREFIX = /^MCP error (-?\d+): /;
const NOT_FOUND_PATTERNS = [/^Tool .+ not found$/i, /^Unknown tool\b/i, /^Tool not found\b/i, /^No such tool\b/i];
const INPUT_PATTERNS = [/^Input validation error\b/i, /^Invalid arguments for tool\b/i, /^Invalid params\b/i];
const OUTPUT_PATTERNS = [/^Output validation error\b/i, /^Structured content does not match the tool's output schema/i];

/** Strips `MCP error -32602: ` prefixes; an SDK server re-wrapping an SDK error sends it twice. */
function stripPrefix(message: string): { code?: number; text: string } {
  let code: number | undefined;
  let text = message;
  for (let m = SDK_PREFIX.exec(text); m; m = SDK_PREFIX.exec(text)) {
    code ??= Number(m[1]);
    text = text.slice(m[0].length);
  }
  return code === undefined ? { text } : { code, text };
}

function classifyText(text: string, jsonRpcCode?: number): ToolErrorCode | undefined {
  if (NOT_FOUND_PATTERNS.some((re) => re.test(text))) return 'TOOL_NOT_FOUND';
  if (OUTPUT_PATTERNS.some((re) => re.test(text))) return 'OUTPUT_VALIDATION';
  if (INPUT_PATTERNS.some((re) => re.test(text))) return 'INPUT_VALIDATION';
  if (jsonRpcCode === ErrorCode.InvalidParams) return 'INPUT_VALIDATION';
  return undefined;
}

function textOf(content: readonly ContentItem[]): string {
  return content
    .filter((c): c is { type: 'text'; text: string } => c.type === 'text' && typeof c.text === 'string')
    .map((c) => c.text)
    .join('\n');
}

/**
 * The error for a `CallToolResult` with `isError: true`. `toolKnown` is whether the tool
 * was in the server's last tools/list (undefined when no list has been fetched).
 */
export function isErrorResultToToolError(
  content: ContentItem[],
  structuredContent: unknown,
  site: McpCallSite,
  toolKnown: boolean | undefined,
): ToolError {
  const text = textOf(content);
  const { code: rpcCode, text: bare } = stripPrefix(text);
  let code: ToolErrorCode = rpcCode !== undefined ? classifyText(bare, rpcCode) ?? 'EXECUTION' : classifyText(bare) ?? 'EXECUTION';
  // A generic failure for a tool the server never listed is the server's way of saying "no such tool".
  if (code === 'EXECUTION' && toolKnown === false) code = 'TOOL_NOT_FOUND';
  const message =
    code === 'EXECUTION'
      ? text.length > 0
        ? text
        : `MCP tool "${site.tool}" on server "${site.server}" reported an error without a message`
      : `MCP server "${site.server}", tool "${site.tool}": ${bare}`;
  return new ToolError(code, message, {
    toolId: site.toolId,
    op: site.op ?? 'run',
    backend: { kind: 'mcp', name: site.server },
    data: { content, ...(structuredContent !== undefined ? { structuredContent } : {}) },
  });
}

/** Whether an abort reason says the runner's deadline passed (rather than a caller cancelling). */
function isTimeoutReason(reason: unknown): boolean {
  if (ToolError.is(reason)) return reason.code === 'TIMEOUT';
  return typeof reason === 'object' && reason !== null && (reason as { name?: unknown }).name === 'TimeoutError';
}

/**
 * Classifies anything a call rejected with. `signal` is the caller's; when it is aborted the
 * error is a cancellation or a timeout whatever the SDK wrapped it in.
 */
export function callErrorToToolError(
  err: unknown,
  site: McpCallSite,
  ctx: { signal?: AbortSignal; timeoutMs?: number; stderrTail?: () => string[] },
): ToolError {
  const base = { toolId: site.toolId, op: site.op ?? 'run', backend: { kind: 'mcp', name: site.server }, cause: err } as const;
  if (ToolError.is(err)) return err;
  if (ctx.signal?.aborted) {
    const reason: unknown = ctx.signal.reason;
    if (ToolError.is(reason) && (reason.code === 'TIMEOUT' || reason.code === 'CANCELLED')) return reason;
    if (isTimeoutReason(reason)) {
      return new ToolError('TIMEOUT', `MCP tool "${site.tool}" on server "${site.server}" timed out${ctx.timeoutMs !== undefined ? ` after ${ctx.timeoutMs} ms` : ''}; the server was sent a cancellation`, base);
    }
    return new ToolError('CANCELLED', `MCP tool "${site.tool}" on server "${site.server}" was cancelled; the server was sent a cancellation`, base);
  }
  if (err instanceof McpAuthRequiredError) {
    return new ToolError('EXECUTION', err.message, { ...base, retryable: false, data: { code: err.code, command: err.command } });
  }
  if (err instanceof McpConnectionError) {
    const tail = ctx.stderrTail?.() ?? [];
    return new ToolError('EXECUTION', `${err.message}${tail.length ? `\nserver stderr (last lines):\n${tail.join('\n')}` : ''}`, {
      ...base,
      retryable: err.retryable,
      data: { stderr: tail },
    });
  }
  if (err instanceof McpError) {
    const { text } = stripPrefix(err.message);
    switch (err.code) {
      case ErrorCode.RequestTimeout:
        return new ToolError('TIMEOUT', `MCP tool "${site.tool}" on server "${site.server}" timed out${ctx.timeoutMs !== undefined ? ` after ${ctx.timeoutMs} ms` : ''} (${text}); the server was sent a cancellation`, base);
      case ErrorCode.ConnectionClosed: {
        const tail = ctx.stderrTail?.() ?? [];
        return new ToolError(
          'EXECUTION',
          `MCP server "${site.server}" closed the connection during a call to "${site.tool}" (${text})${tail.length ? `\nserver stderr (last lines):\n${tail.join('\n')}` : ''}`,
          { ...base, retryable: true, data: { stderr: tail } },
        );
      }
      case ErrorCode.MethodNotFound:
        // A server without tools/call has no tool by that name either.
        return new ToolError('TOOL_NOT_FOUND', `MCP server "${site.server}" does not offer tools (tools/call: ${text}), so it has no tool "${site.tool}"`, {
          ...base,
          data: { jsonRpcCode: err.code },
        });
      default: {
        const code = classifyText(text, err.code) ?? 'EXECUTION';
        return new ToolError(code, `MCP server "${site.server}", tool "${site.tool}": ${text}`, {
          ...base,
          data: { jsonRpcCode: err.code, ...(err.data !== undefined ? { jsonRpcData: err.data } : {}) },
        });
      }
    }
  }
  const message = err instanceof Error ? err.message : String(err);
  return new ToolError('EXECUTION', `MCP tool "${site.tool}" on server "${site.server}" failed: ${message}`, base);
}
