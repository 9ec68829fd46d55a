// What the pinned bridge tests share (quickjs/ and isolated-vm/ poll-beside.test.ts): whether
// taskset can pin threads here, and a run of a bridge fixture (test/fixtures/runtime/*-bridge.mjs),
// which prints its job's bridge figures as one JSON line.
import { execFileSync, spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'vitest';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** Why taskset cannot pin here, or undefined. */
export function tasksetMissing(): string | undefined {
  try {
    execFileSync('taskset', ['-p', String(process.pid)], { stdio: 'ignore' });
    return undefined;
  } catch {
    return 'taskset (util-linux) is not installed';
  }
}

/** Runs `fixture` (a file name in test/fixtures/runtime) on the built dist and returns what it printed. */
export function runBridgeFixture<T>(fixture: string, args: string[], nodeArgs: string[] = []): T {
  const r = spawnSync(process.execPath, [...nodeArgs, join(root, 'test', 'fixtures', 'runtime', fixture), join(root, 'dist'), ...args], { encoding: 'utf8', timeout: 60_000 });
  expect(r.status, r.stderr).toBe(0);
  const bridge = JSON.parse(r.stdout.trim()) as T | null;
  expect(bridge).not.toBeNull();
  return bridge!;
}
