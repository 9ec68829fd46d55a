/**
 * Tool IDs: `namespace:name`, `namespace:name:version`, or a bare `name`.
 *
 * Names follow the MCP tool-name rule (1–128 characters of `A-Z a-z 0-9 _ - .`), so every
 * MCP tool keeps its own name. A namespace uses the same characters (up to 64) and a version
 * also allows `+` (semver build metadata). The colon is reserved as the separator.
 */
import { ToolError } from './errors.js';
import type { ToolDefinition } from './tool.js';

export const MAX_NAME_LENGTH = 128;
export const MAX_NAMESPACE_LENGTH = 64;
export const MAX_VERSION_LENGTH = 64;
export const MAX_TAG_LENGTH = 64;
export const MAX_TAGS = 32;

const NAME_RE = /^[A-Za-z0-9_.-]+$/;
const VERSION_RE = /^[A-Za-z0-9_.+-]+$/;
const TAG_RE = /^[A-Za-z0-9][A-Za-z0-9_.:/-]*$/;

export interface ParsedToolId {
  namespace?: string;
  name: string;
  version?: string;
}

/** Why a name is not acceptable, or `undefined` when it is. */
export function checkName(value: unknown, what: 'name' | 'namespace' | 'version' = 'name'): string | undefined {
  const max = what === 'name' ? MAX_NAME_LENGTH : what === 'namespace' ? MAX_NAMESPACE_LENGTH : MAX_VERSION_LENGTH;
  if (typeof value !== 'string') return `${what} must be a string`;
  if (value.length === 0) return `${what} must not be empty`;
  if (value.length > max) return `${what} is ${value.length} characters long; the maximum is ${max}`;
  const re = what === 'version' ? VERSION_RE : NAME_RE;
  if (!re.test(value)) {
    const bad = [...value].find((c) => !re.test(c));
    const allowed = what === 'version' ? 'letters, digits, "_", "-", "." and "+"' : 'letters, digits, "_", "-" and "."';
    return `${what} ${JSON.stringify(value)} contains ${JSON.stringify(bad)}; only ${allowed} are allowed`;
  }
  return undefined;
}

/** Why a tag list is not acceptable, or `undefined` when it is. */
export function checkTags(tags: unknown): string | undefined {
  if (tags === undefined) return undefined;
  if (!Array.isArray(tags)) return 'tags must be an array of strings';
  if (tags.length > MAX_TAGS) return `a tool may have at most ${MAX_TAGS} tags, got ${tags.length}`;
  for (const tag of tags) {
    if (typeof tag !== 'string') return `tag ${JSON.stringify(tag)} is not a string`;
    if (tag.length === 0 || tag.length > MAX_TAG_LENGTH) return `tag ${JSON.stringify(tag)} must be 1–${MAX_TAG_LENGTH} characters`;
    if (!TAG_RE.test(tag)) return `tag ${JSON.stringify(tag)} must start with a letter or digit and use only letters, digits, "_", ".", ":", "/" and "-"`;
  }
  return undefined;
}

/** Builds the canonical ID; throws `INVALID_TOOL_ID` when a part breaks the rules. */
export function toolId(namespace: string | undefined, name: string, version?: string): string {
  const problem =
    (namespace !== undefined ? checkName(namespace, 'namespace') : undefined) ??
    checkName(name, 'name') ??
    (version !== undefined ? checkName(version, 'version') : undefined);
  if (problem) throw new ToolError('INVALID_TOOL_ID', `Invalid tool ID: ${problem}`, { op: 'resolve' });
  if (version !== undefined && namespace === undefined) {
    // "name:version" would parse back as "namespace:name": refuse the ambiguity.
    throw new ToolError('INVALID_TOOL_ID', 'Invalid tool ID: a version needs a namespace (namespace:name:version)', { op: 'resolve' });
  }
  let id = namespace === undefined ? name : `${namespace}:${name}`;
  if (version !== undefined) id += `:${version}`;
  return id;
}

/** The canonical ID of a definition. */
export function toolIdOf(def: Pick<ToolDefinition, 'namespace' | 'name' | 'version'>): string {
  return toolId(def.namespace, def.name, def.version);
}

/** Parses `ns:name[:version]` or `name`; throws `INVALID_TOOL_ID` with the reason. */
export function parseToolId(id: unknown): ParsedToolId {
  if (typeof id !== 'string') {
    throw new ToolError('INVALID_TOOL_ID', `Invalid tool ID: expected a string, got ${id === null ? 'null' : typeof id}`, { op: 'resolve' });
  }
  const parts = id.split(':');
  if (parts.length > 3) {
    throw new ToolError('INVALID_TOOL_ID', `Invalid tool ID ${JSON.stringify(id)}: expected "name", "namespace:name" or "namespace:name:version"`, { toolId: id, op: 'resolve' });
  }
  const [a, b, c] = parts as [string, string | undefined, string | undefined];
  const parsed: ParsedToolId = b === undefined ? { name: a } : { namespace: a, name: b };
  if (c !== undefined) parsed.version = c;
  const problem =
    (parsed.namespace !== undefined ? checkName(parsed.namespace, 'namespace') : undefined) ??
    checkName(parsed.name, 'name') ??
    (parsed.version !== undefined ? checkName(parsed.version, 'version') : undefined);
  if (problem) throw new ToolError('INVALID_TOOL_ID', `Invalid tool ID ${JSON.stringify(id)}: ${problem}`, { toolId: id, op: 'resolve' });
  return parsed;
}

/** True when `id` parses. */
export function isToolId(id: unknown): id is string {
  try {
    parseToolId(id);
    return true;
  } catch {
    return false;
  }
}

/**
 * Turns an arbitrary label (an MCP server name from a config, say) into a valid namespace,
 * replacing each run of disallowed characters with `_`.
 */
export function sanitizeNamespace(label: string): string {
  const cleaned = label.replace(/[^A-Za-z0-9_.-]+/g, '_').slice(0, MAX_NAMESPACE_LENGTH);
  return cleaned.length > 0 ? cleaned : '_';
}

/**
 * Matches a tool ID against a pattern such as `github:*`, `*:read_*` or `math:add`.
 * `*` matches any run of characters except `:`; a pattern `ns:*` also matches versioned IDs.
 */
export function matchToolPattern(pattern: string, id: string): boolean {
  if (pattern === '*' || pattern === '**') return true;
  const body = pattern.split('*').map((s) => s.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('[^:]*');
  // "ns:name" also admits its versions ("ns:name:1.2"); a bare "name" stays exact.
  const re = new RegExp('^' + body + (pattern.includes(':') ? '(:[^:]*)?$' : '$'));
  return re.test(id);
}

/** Validates a definition's naming fields and tags; throws `INVALID_TOOL_ID` naming the field. */
export function validateDefinition(def: ToolDefinition): string {
  if (typeof def !== 'object' || def === null) {
    throw new ToolError('INVALID_TOOL_ID', 'A tool definition must be an object', { op: 'resolve' });
  }
  const id = toolIdOf(def);
  const tagProblem = checkTags(def.tags);
  if (tagProblem) throw new ToolError('INVALID_TOOL_ID', `Tool ${id}: ${tagProblem}`, { toolId: id, op: 'resolve' });
  return id;
}
