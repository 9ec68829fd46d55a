import { describe, expect, it } from 'vitest';
import { seedHex } from '../../src/code/entropy.js';

describe('execution seeds', () => {
  it('are 32 bytes of hex, never handed out twice, across refills of the pool', () => {
    const seen = new Set<string>();
    // 4 KiB pool, 32 bytes a seed: 1,000 seeds refill it several times.
    for (let i = 0; i < 1000; i++) {
      const s = seedHex();
      expect(s).toMatch(/^[0-9a-f]{64}$/);
      seen.add(s);
    }
    expect(seen.size).toBe(1000);
  });
  it('are not all zero or constant bytes (the pool is filled before use)', () => {
    const s = seedHex();
    expect(s).not.toMatch(/^(00)+$/);
    expect(new Set(s.match(/../g)).size).toBeGreaterThan(8);
  });
});
