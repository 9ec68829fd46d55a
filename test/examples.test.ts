import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';

// The README's examples are these files; running them keeps the README honest.
const root = join(dirname(fileURLToPath(import.meta.url)), '..');

function node(args: string[]) {
  const r = spawnSync(process.execPath, args, { cwd: root, encoding: 'utf8', timeout: 60_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('examples', () => {
  it('runner-basics.mjs runs', () => {
    const r = node(['examples/runner-basics.mjs']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/calculator:add -> 5/);
    expect(r.stdout).toMatch(/INPUT_VALIDATION: .*\/title/);
    expect(r.stdout).toMatch(/chain -> \{ number: 7, state: 'open' \}/);
    expect(r.stdout).toMatch(/stream done liftoff/);
  });

  it('executor-basics.mjs runs', () => {
    const r = node(['examples/executor-basics.mjs']);
    expect(r.code).toBe(0);
    const [first, withInput, second] = r.stdout.trim().split('\n').map((l) => JSON.parse(l));
    expect(first).toEqual({ ok: true, value: 10, logs: ['partial sums 3 7'], toolCalls: 2 });
    expect(withInput).toEqual({ ok: true, value: 42 });
    expect(second).toEqual({ ok: false, code: 'TIMEOUT' });
  });

  it("the README's main job: toolexec exec examples/orchestrate.js", () => {
    const r = node(['dist/cli/main.js', 'exec', 'examples/orchestrate.js', '--tools', 'examples/tools.mjs', '--json']);
    expect(r.code).toBe(0);
    const result = JSON.parse(r.stdout);
    expect(result.ok).toBe(true);
    expect(result.stats.runtime).toBe('quickjs');
    expect(result.toolCalls.length).toBeGreaterThanOrEqual(2);
  });
});
