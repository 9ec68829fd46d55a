/**
 * Search cursors, shared by every index view: an opaque base64url string holding the
 * offset and a hash that binds it to the query, the filters and the index version. A cursor
 * reused with another query, or after the index changed, is rejected rather than silently
 * returning a shifted page.
 */

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
