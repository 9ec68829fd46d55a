/**
 * Search cursors, shared by every index view: an opaque base64url string holding the
 * offset and a hash that binds it to the query, the filters and the index version. A cursor
 * reused with another query, or after the index changed, is rejected rather than silently
 * returning a shifted page.
 */

import type { SearchOptions } from './types.js';

/** Hits per page when `limit` is not given. */
export const DEFAULT_SEARCH_LIMIT = 10;
/** The most hits one page may hold; larger limits are lowered to it. */
export const MAX_SEARCH_LIMIT = 100;

/** The page size a search asks for: checked, floored and capped at `MAX_SEARCH_LIMIT`. */
export function pageLimit(requested: unknown): number {
  const limit = requested ?? DEFAULT_SEARCH_LIMIT;
  if (typeof limit !== 'number' || !Number.isFinite(limit) || limit < 1) {
    throw new TypeError(`search limit must be a positive number, got ${JSON.stringify(limit)}`);
  }
  return Math.min(Math.floor(limit), MAX_SEARCH_LIMIT);
}

/** A query with its filters, without the page: what cursors and cached rankings are keyed by. */
export function searchKey(query: string, options: SearchOptions): string {
  return JSON.stringify([query, options.namespace ?? null, options.tags ? [...options.tags].sort() : null, options.backendKind ?? null]);
}

/** A search cursor that is malformed, or belongs to another query or index version. */
export class InvalidCursorError extends Error {
  override readonly name = 'InvalidCursorError';
  readonly code = 'INVALID_CURSOR';
}

/** 32-bit FNV-1a, base36: what binds a cursor to its query, filters and index version. */
export function cursorBinding(text: string): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return (h >>> 0).toString(36);
}

export function encodeCursor(offset: number, binding: string): string {
  return Buffer.from(`${offset}.${binding}`).toString('base64url');
}

/** The offset a cursor stands for; throws `InvalidCursorError` when it does not fit `binding`. */
export function decodeCursor(cursor: unknown, binding: string): number {
  if (typeof cursor !== 'string') throw new InvalidCursorError("search cursor must be a string from a previous page's nextCursor");
  const text = Buffer.from(cursor, 'base64url').toString('utf8');
  const m = /^(\d+)\.([0-9a-z]+)$/.exec(text);
  if (!m) throw new InvalidCursorError(`Malformed search cursor ${JSON.stringify(cursor.slice(0, 40))}; pass a nextCursor from a previous page, or omit it`);
  if (m[2] !== binding) {
    throw new InvalidCursorError(
      'Stale search cursor: it belongs to a different query or filters, or the index has changed since; repeat the search without a cursor',
    );
  }
  return Number(m[1]);
}
