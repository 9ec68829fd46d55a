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
    const [first, second] = r.stdout.trim().split('\n').map((l) => JSON.parse(l));
    expect(first).toEqual({ ok: true, value: 10, logs: ['partial sums 3 7'], toolCalls: 2 });
    expect(second).toEqual({ ok: false, code: 'TIMEOUT' });
  });

  it('typecheck.mjs stops the script at its type errors before the first send', () => {
    const r = node(['examples/typecheck.mjs']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout.trim().split('\n')).toEqual([
      'TYPE_ERROR 0',
      "3:64 Object literal may only specify known properties, but 'subjet' does not exist in type '{ to: string; subject: string; }'. Did you mean to write 'subject'?",
      "4:26 Property 'messageId' does not exist on type '{ id: string; }'.",
    ]);
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
