/**
 * Index layer: the `ToolIndex` contract and the in-memory implementation with full-text search.
 */
export type * from './types.js';
export {
  InMemoryIndex,
  InvalidCursorError,
  InvalidQueryError,
  MAX_QUERY_CHARS,
  MAX_QUERY_TERMS,
  defaultBackendSelector,
  DEFAULT_SEARCH_LIMIT,
  MAX_SEARCH_LIMIT,
  SEARCH_FIELD_BOOSTS,
} from './in-memory-index.js';
export type { InMemoryIndexOptions } from './in-memory-index.js';
