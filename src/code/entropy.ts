/**
 * Seeds for the guests' random number generators (DESIGN.md "Durable executions"): 32 bytes of
 * the host's entropy per execution, hex. Drawn from a pool refilled 4 KiB at a time, as Node's
 * own `crypto.randomUUID` does, because one `randomBytes` call per execution is a system call
 * (measured on this VM: 40–50 µs of a 3-call QuickJS execution's host time). Every byte is
 * handed out once.
 */
import { randomFillSync } from 'node:crypto';

const SEED_BYTES = 32;
const pool = Buffer.alloc(4096);
let offset = pool.length;

export function seedHex(): string {
  if (offset + SEED_BYTES > pool.length) {
    randomFillSync(pool);
    offset = 0;
  }
  const hex = pool.toString('hex', offset, offset + SEED_BYTES);
  // Spent bytes are wiped, so the pool never holds a seed that was handed out.
  pool.fill(0, offset, offset + SEED_BYTES);
  offset += SEED_BYTES;
  return hex;
}
