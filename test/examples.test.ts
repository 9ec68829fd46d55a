import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';

// The README's examples are these files and its own code blocks; running them keeps the
// README honest. Everything runs the built package through its name, as users import it.
const root = join(dirname(fileURLToPath(import.meta.url)), '..');

function node(args: string[], input?: string) {
  const r = spawnSync(process.execPath, args, { cwd: root, encoding: 'utf8', timeout: 60_000, input });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** The README's ```js blocks that import toolexec: programs a reader would copy. */
function readmePrograms(): string[] {
  const readme = readFileSync(join(root, 'README.md'), 'utf8');
  const blocks = [...readme.matchAll(/^```js\n([\s\S]*?)^```$/gm)].map((m) => m[1]!);
  return blocks.filter((b) => /^import .* from 'toolexec(\/[a-z]+)?';$/m.test(b));
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

  it('orchestrate.mjs runs the seed journey from Node', () => {
    const r = node(['examples/orchestrate.mjs']);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ labels: ['bug', 'needs-triage'], state: 'open' });
    expect(r.stderr).toMatch(/tool calls: github:create_issue ok .*; github:add_labels ok/);
  });

  it('mcp-client.mjs imports server-memory through toolexec/mcp and calls it from a script', () => {
    const r = node(['examples/mcp-client.mjs']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toBe('imported: 9 tools\nscript: ["runs scripts"]\n');
  });

  it('embed-server.mjs serves an engine over HTTP with toolexec/engine and toolexec/server', () => {
    const r = node(['examples/embed-server.mjs']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toBe('tools: search_tools, list_namespaces, describe_tool, run_tool, run_chain, execute_code\nexecute_code: {"number":1,"hidden":"TOOL_NOT_FOUND"}\n');
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

describe('README programs', () => {
  const programs = readmePrograms();

  it('are found: the runner, the executor and the entry-point examples', () => {
    expect(programs.length).toBeGreaterThanOrEqual(4);
    for (const entry of ["'toolexec'", "'toolexec/mcp'", "'toolexec/engine'", "'toolexec/server'"]) {
      expect(programs.some((p) => p.includes(`from ${entry}`)), entry).toBe(true);
    }
  });

  it.each(programs.map((p) => [p.split('\n').find((l) => l.startsWith('import'))!, p]))('run as written: %s', (_first, program) => {
    const r = node(['--input-type=module', '-'], program);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
  });
});
