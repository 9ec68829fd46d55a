// How server answers are classified, for the wordings real SDK servers produce (McpServer
// wraps protocol errors into isError results; other servers send JSON-RPC errors).
import { describe, expect, it } from 'vitest';
import { ErrorCode, McpError } from '@modelcontextprotocol/sdk/types.js';
import { callErrorToToolError, isErrorResultToToolError } from '../../../src/backends/mcp/errors.js';
import { ToolError } from '../../../src/model/errors.js';

const site = { toolId: 'srv:t', tool: 't', server: 'srv' };
const text = (t: string) => [{ type: 'text' as const, text: t }];

describe('isError results', () => {
  it.each([
    ['MCP error -32602: Tool t not found', 'TOOL_NOT_FOUND'],
    ['MCP error -32602: MCP error -32602: Tool t not found', 'TOOL_NOT_FOUND'],
    ['Unknown tool: t', 'TOOL_NOT_FOUND'],
    ['MCP error -32602: Input validation error: Invalid arguments for tool t: a: expected number', 'INPUT_VALIDATION'],
    ['MCP error -32602: Output validation error: Invalid structured content for tool t: sum: expected number', 'OUTPUT_VALIDATION'],
    ['MCP error -32602: something else the server rejected', 'INPUT_VALIDATION'],
    ['Tool failed: disk full', 'EXECUTION'],
  ])('%s → %s', (message, code) => {
    const err = isErrorResultToToolError(text(message), undefined, site, true);
    expect(err.code).toBe(code);
    expect(err.backend).toEqual({ kind: 'mcp', name: 'srv' });
    expect(err.data?.content).toEqual(text(message));
  });

  it('keeps the server text as the EXECUTION message and says so when there is none', () => {
    expect(isErrorResultToToolError(text('disk full'), undefined, site, true).message).toBe('disk full');
    expect(isErrorResultToToolError([], undefined, site, true).message).toContain('reported an error without a message');
  });

  it('treats a generic failure of a tool the server never listed as TOOL_NOT_FOUND', () => {
    expect(isErrorResultToToolError(text('internal error'), undefined, site, false).code).toBe('TOOL_NOT_FOUND');
    expect(isErrorResultToToolError(text('internal error'), undefined, site, undefined).code).toBe('EXECUTION');
  });
});

describe('JSON-RPC errors and aborts', () => {
  it('classifies SDK error codes', () => {
    expect(callErrorToToolError(new McpError(ErrorCode.RequestTimeout, 'Request timed out'), site, { timeoutMs: 5 }).code).toBe('TIMEOUT');
    const closed = callErrorToToolError(new McpError(ErrorCode.ConnectionClosed, 'Connection closed'), site, { stderrTail: () => ['boom'] });
    expect(closed).toMatchObject({ code: 'EXECUTION', retryable: true });
    expect(closed.message).toContain('boom');
    expect(callErrorToToolError(new McpError(ErrorCode.InvalidParams, 'Unknown tool: t'), site, {}).code).toBe('TOOL_NOT_FOUND');
    expect(callErrorToToolError(new McpError(ErrorCode.InvalidParams, 'a must be a number'), site, {}).code).toBe('INPUT_VALIDATION');
    expect(callErrorToToolError(new McpError(ErrorCode.InvalidParams, "Structured content does not match the tool's output schema: x"), site, {}).code).toBe('OUTPUT_VALIDATION');
    const internal = callErrorToToolError(new McpError(ErrorCode.InternalError, 'kaput', { detail: 1 }), site, {});
    expect(internal).toMatchObject({ code: 'EXECUTION', retryable: false, data: { jsonRpcCode: -32603, jsonRpcData: { detail: 1 } } });
  });

  it('reads an aborted signal as CANCELLED, or TIMEOUT when the reason says so, whatever the SDK wrapped it in', () => {
    const wrapped = new McpError(ErrorCode.RequestTimeout, 'AbortError');
    expect(callErrorToToolError(wrapped, site, { signal: AbortSignal.abort() }).code).toBe('CANCELLED');
    expect(callErrorToToolError(wrapped, site, { signal: AbortSignal.abort(new DOMException('t', 'TimeoutError')) }).code).toBe('TIMEOUT');
    const runnerReason = new ToolError('TIMEOUT', 'Tool srv:t timed out after 10 ms', { toolId: 'srv:t' });
    expect(callErrorToToolError(wrapped, site, { signal: AbortSignal.abort(runnerReason) })).toBe(runnerReason);
  });
});
