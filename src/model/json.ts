/**
 * JSON shapes shared by every layer: plain JSON values, JSON Schema documents, and one
 * canonical text for a value. They live in the model, the lowest layer, because the model
 * (tool definitions carry schemas), the schema layer (validators, its compile cache) and the
 * index (definition equality) all need them, and none of those may import another sideways.
 */

/** A value JSON can carry. */
export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };

/** A JSON Schema document (any draft). Booleans are valid schemas. */
export type JsonSchema = boolean | { [key: string]: unknown };

/**
 * JSON text with object keys sorted and `undefined` members dropped, so two values that differ
 * only in key order have the same text (cache keys, equality of definitions).
 */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') {
    const s = JSON.stringify(value);
    return s === undefined ? 'null' : s;
  }
  if (Array.isArray(value)) return '[' + value.map(canonicalJson).join(',') + ']';
  const obj = value as Record<string, unknown>;
  const keys = Object.keys(obj)
    .filter((k) => obj[k] !== undefined)
    .sort();
  return '{' + keys.map((k) => JSON.stringify(k) + ':' + canonicalJson(obj[k])).join(',') + '}';
}
