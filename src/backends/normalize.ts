/**
 * Turning MCP-shaped tool results into the runner's `structured` + `content` pair
 * (DESIGN.md: structuredContent, else the single text item parsed as JSON, else its text,
 * else the content list). Shared by every backend that receives CallToolResult-like values.
 */
import { ToolError } from '../model/errors.js';
import type { ContentItem } from '../model/tool.js';
import type { BackendResult } from './types.js';

export interface CallToolResultLike {
  content?: unknown;
  structuredContent?: unknown;
  isError?: unknown;
  [key: string]: unknown;
}

/** True for values shaped like an MCP `CallToolResult` (a `content` array). */
export function isCallToolResult(value: unknown): value is CallToolResultLike {
  return (
    typeof value === 'object' &&
    value !== null &&
    Array.isArray((value as CallToolResultLike).content) &&
    ((value as CallToolResultLike).content as unknown[]).every((c) => typeof c === 'object' && c !== null && typeof (c as { type?: unknown }).type === 'string')
  );
}

/** The text of a result's text items, joined: what an `isError` message is made of. */
export function contentText(content: readonly ContentItem[]): string {
  return content
    .filter((c): c is { type: 'text'; text: string } => c.type === 'text' && typeof c.text === 'string')
    .map((c) => c.text)
    .join('\n');
}

/**
 * Normalizes a CallToolResult. Throws `EXECUTION` (with the server's message) when
 * `isError` is set, because DESIGN.md treats that as a failure, not a success.
 */
export function normalizeCallToolResult(
  result: CallToolResultLike,
  where: { toolId: string; backend: { kind: string; name: string } },
): BackendResult {
  const content = (Array.isArray(result.content) ? result.content : []) as ContentItem[];
  if (result.isError === true) {
    const text = contentText(content);
    throw new ToolError('EXECUTION', text.length > 0 ? text : `Tool ${where.toolId} reported an error without a message`, {
      toolId: where.toolId,
      backend: where.backend,
      data: { content, ...(result.structuredContent !== undefined ? { structuredContent: result.structuredContent } : {}) },
    });
  }
  if (result.structuredContent !== undefined && result.structuredContent !== null) {
    return { structured: result.structuredContent, content, isStructured: true };
  }
  if (content.length === 1 && content[0]!.type === 'text' && typeof content[0]!.text === 'string') {
    const text = content[0]!.text as string;
    return { structured: parseJsonOrText(text), content, isStructured: false };
  }
  return { structured: content, content, isStructured: false };
}

function parseJsonOrText(text: string): unknown {
  const t = text.trimStart();
  // Only attempt JSON for text that can be a JSON document; plain prose stays a string.
  if (t.length === 0) return text;
  const c = t[0]!;
  if (c === '{' || c === '[' || c === '"' || c === '-' || (c >= '0' && c <= '9') || t === 'true' || t === 'false' || t === 'null') {
    try {
      return JSON.parse(text);
    } catch {
      return text;
    }
  }
  return text;
}
