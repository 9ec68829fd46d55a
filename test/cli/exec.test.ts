// `toolexec exec --typecheck`, with the built CLI as users run it (npm test builds first).
import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const cli = join(root, 'dist', 'cli', 'main.js');
const tools = join(root, 'test', 'fixtures', 'cli', 'math-tools.mjs');

function toolexec(args: string[], input?: string) {
  const r = spawnSync(process.execPath, [cli, ...args], { cwd: root, encoding: 'utf8', input, timeout: 60_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('toolexec exec --typecheck', () => {
  it('prints each type error as line:column and exits 1 before any tool runs', () => {
    const script = 'const r = await tools.math.add({ a: 1, b: "2" });\nreturn r.summ;\n';
    const r = toolexec(['exec', '-', '--tools', tools, '--typecheck'], script);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).toBe(
      [
        'error TYPE_ERROR: The script does not type-check (2 errors); nothing ran:',
        "  1:40: Type 'string' is not assignable to type 'number'. (TS2322)",
        "  2:10: Property 'summ' does not exist on type '{ sum: number; }'. Did you mean 'sum'? (TS2551)",
        '',
      ].join('\n'),
    );
    const json = toolexec(['exec', '-', '--tools', tools, '--typecheck', '--json'], script);
    const result = JSON.parse(json.stdout);
    expect(result.error.code).toBe('TYPE_ERROR');
    expect(result.error.diagnostics).toHaveLength(2);
    expect(result.toolCalls).toEqual([]);
  });

  it('runs a script that type-checks', () => {
    const r = toolexec(['exec', '-', '--tools', tools, '--typecheck'], 'const { sum } = await run("math:add", { a: 20, b: 22 });\nreturn sum;');
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toBe(42);
  });

  it('is in the help', () => {
    const r = toolexec(['exec', '--help']);
    expect(r.stdout).toMatch(/--typecheck\s+type-check the script against the tool declarations/);
  });
});
