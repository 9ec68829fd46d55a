/**
 * The tool shape: an MCP tool plus namespace, version and tags. Plain data, so a
 * definition can come from a tool module, an MCP server's tools/list, or JSON.
 */
import type { JsonSchema } from './json.js';

// Structured values are JSON; the type's home is json.ts, re-exported here for the executor.
export type { JsonValue } from './json.js';

/** MCP tool annotations (hints only; never trusted for security decisions). */
export interface ToolAnnotations {
  title?: string;
  readOnlyHint?: boolean;
  destructiveHint?: boolean;
  idempotentHint?: boolean;
  openWorldHint?: boolean;
  [key: string]: unknown;
}

/** What a user or an MCP server supplies. */
export interface ToolDefinition {
  namespace?: string;
  name: string;
  version?: string;
  title?: string;
  description?: string;
  inputSchema?: JsonSchema;
  outputSchema?: JsonSchema;
  annotations?: ToolAnnotations;
  tags?: string[];
  _meta?: Record<string, unknown>;
}

/** A definition once it has passed validation and carries its canonical ID. */
export interface Tool extends ToolDefinition {
  readonly id: string;
}

/** MCP content items as received; unknown kinds pass through untouched. */
export type ContentItem =
  | { type: 'text'; text: string; [k: string]: unknown }
  | { type: 'image'; data: string; mimeType: string; [k: string]: unknown }
  | { type: 'audio'; data: string; mimeType: string; [k: string]: unknown }
  | { type: 'resource'; resource: Record<string, unknown>; [k: string]: unknown }
  | { type: 'resource_link'; uri: string; name?: string; [k: string]: unknown }
  | { type: string; [k: string]: unknown };
