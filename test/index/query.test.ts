// Search bounds: a query anyone can send is checked before the index works on it, typo
// matching runs only where it is cheap, and the index answers the next query as before.
import { describe, expect, test } from 'vitest';
import { InMemoryIndex } from '../../src/index/in-memory-index.js';
import { InvalidQueryError, MAX_FUZZY_TERM_CHARS, MAX_QUERY_CHARS, MAX_QUERY_TERMS, checkQuery, suggestionQuery } from '../../src/index/query.js';

const LOCAL = { kind: 'local', name: 'local' } as const;

function library(): InMemoryIndex {
  const index = new InMemoryIndex();
  index.register({ namespace: 'books', name: 'borrow', description: 'Borrow a book from the lending library' }, LOCAL);
  index.register({ namespace: 'books', name: 'renew', description: 'Renew a loan before it is overdue' }, LOCAL);
  // A word of 36 letters, and one of exactly MAX_FUZZY_TERM_CHARS.
  index.register({ namespace: 'words', name: 'long', description: 'pneumonoultramicroscopicsilicovolcan is long' }, LOCAL);
  index.register({ namespace: 'words', name: 'edge', description: `${'abcdefgh'.repeat(4)} sits at the edge` }, LOCAL);
  return index;
}

const ids = (index: InMemoryIndex, q: string) => index.search(q).items.map((h) => h.id);

function refusal(fn: () => unknown): InvalidQueryError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(InvalidQueryError);
    return e as InvalidQueryError;
  }
  throw new Error('expected the query to be refused');
}

describe('search query bounds', () => {
  test('a query longer than MAX_QUERY_CHARS is refused before the index works on it, then a plain search works', () => {
    const index = library();
    // One word this long cost a matrix of 25 million cells per search before the bound.
    const e = refusal(() => index.search('q'.repeat(5000)));
    expect(e.code).toBe('INVALID_QUERY');
    expect(e.message).toContain(`the most is ${MAX_QUERY_CHARS}`);
    expect(index.search('x'.repeat(MAX_QUERY_CHARS)).total).toBe(0);
    expect(ids(index, 'borrow book')[0]).toBe('books:borrow');
  });

  test('more than MAX_QUERY_TERMS distinct words are refused; repeated words count once', () => {
    const index = library();
    const many = Array.from({ length: MAX_QUERY_TERMS + 1 }, (_, i) => `term${i}`).join(' ');
    expect(refusal(() => index.search(many)).message).toContain(`${MAX_QUERY_TERMS + 1} distinct words`);
    expect(ids(index, 'renew '.repeat(100))).toEqual(['books:renew']);
    expect(ids(index, 'renew loan')[0]).toBe('books:renew');
  });

  test('typos are forgiven only in words of 4 to 32 characters', () => {
    const index = library();
    expect(ids(index, 'borow')).toEqual(['books:borrow']);
    // The 32-letter word with one typo still matches; the 36-letter one only exactly or by prefix.
    expect(ids(index, `${'abcdefgh'.repeat(3)}abcdefgz`)).toEqual(['words:edge']);
    expect(MAX_FUZZY_TERM_CHARS).toBe(32);
    expect(ids(index, 'pneumonoultramicroscopicsilicovolcxn')).toEqual([]);
    expect(ids(index, 'pneumonoultramicroscopicsilicovolcan')).toEqual(['words:long']);
    expect(ids(index, 'pneumonoultramicro')).toEqual(['words:long']);
  });

  test('checkQuery trims and checks the type', () => {
    expect(checkQuery('  two words ')).toBe('two words');
    expect(() => checkQuery(42)).toThrow(/must be a string, got number/);
  });

  test('a did-you-mean query stays within the bounds whatever the ID', () => {
    const index = library();
    expect(suggestionQuery('books:borow')).toBe('books borow');
    const wordy = `books:${Array.from({ length: 60 }, (_, i) => `w${i}`).join('-')}-borrow`;
    const q = suggestionQuery(wordy);
    expect(q.split(' ')).toHaveLength(MAX_QUERY_TERMS);
    expect(() => index.search(q)).not.toThrow();
    expect(ids(index, suggestionQuery('books:borow'))[0]).toBe('books:borrow');
  });
});
