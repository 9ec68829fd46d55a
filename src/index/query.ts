/**
 * Bounds on search queries, checked before an index does any work. A query comes from
 * anyone who can reach a search: an MCP client (`search_tools`, and `describe_tool`'s and
 * `run_tool`'s did-you-mean), or a sandboxed script (`searchTools`).
 *
 * What costs: MiniSearch's fuzzy match allocates an (L+1)·(L+3) matrix for a word of L
 * characters and walks the index within the edit distance, so a single 65,000-character word
 * once cost gigabytes; every further word is another full pass. Hence a cap on the query's
 * length and on its number of distinct words, and typo matching only for words short enough
 * to be real words.
 */

/** Longest query accepted, in characters. */
export const MAX_QUERY_CHARS = 1000;
/** Most distinct words in one query (after stop words are dropped). */
export const MAX_QUERY_TERMS = 32;
/** Words matched with typos: at least this long (shorter ones would match almost anything)... */
export const MIN_FUZZY_TERM_CHARS = 4;
/** ...and at most this long (longer ones are matched exactly and by prefix only). */
export const MAX_FUZZY_TERM_CHARS = 32;

/** A search query over the bounds above; `code` tells it apart from a malformed cursor. */
export class InvalidQueryError extends RangeError {
  override readonly name = 'InvalidQueryError';
  readonly code = 'INVALID_QUERY';
}

/** Checks a query's type and length; returns it trimmed. */
export function checkQuery(query: unknown): string {
  if (typeof query !== 'string') throw new TypeError(`search query must be a string, got ${query === null ? 'null' : typeof query}`);
  if (query.length > MAX_QUERY_CHARS) {
    throw new InvalidQueryError(`search query is ${query.length} characters; the most is ${MAX_QUERY_CHARS}: search for a few words instead`);
  }
  return query.trim();
}

/** Checks the number of distinct words of an already tokenized query. */
export function checkQueryTerms(terms: readonly string[]): void {
  const distinct = new Set(terms).size;
  if (distinct > MAX_QUERY_TERMS) {
    throw new InvalidQueryError(`search query has ${distinct} distinct words; the most is ${MAX_QUERY_TERMS}: search for the few words that matter`);
  }
}

/** MiniSearch's `fuzzy` option: typos allowed (20% of the word, at most `maxFuzzy`) only where it is cheap. */
export function fuzziness(term: string): number | false {
  return term.length >= MIN_FUZZY_TERM_CHARS && term.length <= MAX_FUZZY_TERM_CHARS ? 0.2 : false;
}

/**
 * The search a did-you-mean makes for an unknown tool ID: its words (`github:get_issue` →
 * `github get issue`), cut to the bounds above, so that no ID can make the suggestion fail.
 */
export function suggestionQuery(toolId: string): string {
  const words = toolId.slice(0, MAX_QUERY_CHARS).split(/[^\p{L}\p{N}]+/u).filter(Boolean);
  return [...new Set(words)].slice(0, MAX_QUERY_TERMS).join(' ');
}
