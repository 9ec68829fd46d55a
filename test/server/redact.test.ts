// The redactor behind `--verbose=args`: credential-like keys and known secrets hidden, ordinary
// keys left alone, and bounded work and output for any value, however large, deep or hostile.
import { describe, expect, it } from 'vitest';
import { createRedactor, formatRedacted, REDACTED } from '../../src/server/redact.js';

describe('createRedactor', () => {
  const redact = createRedactor({ secrets: ['s3cr3t-value', 'abc'] });

  it('hides values under credential-like keys, however they are spelled', () => {
    const out = redact({ apiKey: 'k1', 'x-api-key': 'k2', API_KEY: 'k3', Authorization: 'Bearer t', github_token: 't', password: 'p', nested: [{ clientSecret: 'c' }] });
    expect(out).toEqual({ apiKey: REDACTED, 'x-api-key': REDACTED, API_KEY: REDACTED, Authorization: REDACTED, github_token: REDACTED, password: REDACTED, nested: [{ clientSecret: REDACTED }] });
  });

  it('leaves ordinary keys alone (whole words only)', () => {
    const args = { max_tokens: 7, author: 'Jane', passage: 'text', tokenizer: 'bpe', keyboard: 'qwerty', empty_token: '' };
    expect(redact(args)).toEqual(args);
  });

  it('hides known secrets inside any string, keys included; ignores secrets too short to be safe to match', () => {
    expect(redact({ note: 'value is s3cr3t-value!', ['s3cr3t-value']: 1, short: 'abc' })).toEqual({ note: `value is ${REDACTED}!`, [REDACTED]: 1, short: 'abc' });
  });

  it('is bounded on deep, wide and hostile values', () => {
    let deep: unknown = 1;
    for (let i = 0; i < 100_000; i++) deep = [deep];
    const wide = Array.from({ length: 100_000 }, (_, i) => ({ i }));
    expect(formatRedacted(deep, redact).length).toBeLessThanOrEqual(501);
    expect(formatRedacted(wide, redact, 100_000).length).toBeLessThan(30_000);
    const hostile = { get boom() { throw new Error('trap'); } };
    expect(redact(hostile)).toBe(REDACTED);
    expect(formatRedacted({ n: 10n }, redact)).toBe('{"n":"10"}');
  });
});
