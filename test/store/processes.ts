/**
 * Cross-process helpers for the durable stores: a child process (fixtures/store-child.mjs) opens
 * the store from dist/, so these tests need `npm run build` first (npm test does it).
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { expect } from 'vitest';
import type { ExecutionRecord, ExecutionStore } from '../../src/store/types.js';

const FIXTURE = fileURLToPath(new URL('./fixtures/store-child.mjs', import.meta.url));
const DIST = fileURLToPath(new URL('../../dist/store/', import.meta.url));

export interface ChildResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export function runChild(kind: 'sqlite' | 'redis', config: unknown, action: string, args: unknown = {}): Promise<ChildResult> {
  if (!existsSync(`${DIST}${kind}.js`)) throw new Error(`dist/store/${kind}.js is missing: run npm run build before these tests`);
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [FIXTURE, kind, JSON.stringify(config), action, JSON.stringify(args)], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
}

/** The last JSON line a child printed. */
export function lastLine<T>(r: ChildResult): T {
  const lines = r.stdout.trim().split('\n');
  return JSON.parse(lines[lines.length - 1]!) as T;
}

/**
 * A child appends a tool result and SIGKILLs itself the moment the append resolved;
 * `afterDeath` may crash more (redis-server); a second child then reads the entry back.
 */
export async function expectAppendSurvivesKill(kind: 'sqlite' | 'redis', config: unknown, afterDeath: () => Promise<void> = async () => {}): Promise<ExecutionRecord> {
  const principal = 'crash-test';
  const value = { sum: 42, note: 'a result the tool already produced' };
  const writer = await runChild(kind, config, 'append-then-die', { principal, owner: 'doomed-host', value });
  expect(writer.signal, writer.stderr).toBe('SIGKILL');
  const { executionId, journalLength } = lastLine<{ executionId: string; journalLength: number }>(writer);
  expect(journalLength).toBe(2);
  await afterDeath();
  const reader = await runChild(kind, config, 'read', { executionId, principal });
  expect(reader.code, reader.stderr).toBe(0);
  const rec = lastLine<ExecutionRecord>(reader);
  expect(rec.journal).toEqual([
    { type: 'call', index: 0, toolId: 'slow:tool', argsHash: 'h' },
    { type: 'result', index: 0, value },
  ]);
  // The dead writer still holds the lease: status running, claimable once it expires.
  expect(rec).toMatchObject({ status: 'running', lease: { owner: 'doomed-host' } });
  return rec;
}

/** Two processes append to one execution at once; the journal must come out whole and ordered. */
export async function expectCrossProcessAppendsAtomic(kind: 'sqlite' | 'redis', config: unknown, store: ExecutionStore): Promise<void> {
  const principal = 'p';
  const owner = 'shared-owner';
  const rec = await store.create({ principal, owner, script: '' });
  const batches = 40;
  const [x, y] = await Promise.all(
    ['A', 'B'].map((writer) => runChild(kind, config, 'hammer', { executionId: rec.executionId, principal, owner, writer, batches })),
  );
  for (const r of [x!, y!]) expect(r.code, r.stderr).toBe(0);
  const { journal } = (await store.get(rec.executionId, principal))!;
  expect(journal.length).toBe(2 * batches * 3);
  const next: Record<string, number> = { A: 0, B: 0 };
  for (let j = 0; j < journal.length; j += 3) {
    const batch = journal.slice(j, j + 3) as unknown as Array<{ w: string; i: number; k: number }>;
    expect(batch.map((e) => e.k)).toEqual([0, 1, 2]);
    expect(new Set(batch.map((e) => `${e.w}${e.i}`)).size).toBe(1);
    expect(batch[0]!.i).toBe(next[batch[0]!.w]);
    next[batch[0]!.w]!++;
  }
  expect(next).toEqual({ A: batches, B: batches });
}
