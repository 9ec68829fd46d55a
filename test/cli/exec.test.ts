// `toolexec exec` run in-process through its commander registration, on the seed journey
// (examples/orchestrate.js with examples/tools.mjs): output streams, --json, exit codes and
// usage errors; and `--typecheck` through the built CLI.
import { Command } from 'commander';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { registerExecCommand } from '../../src/cli/exec.js';

async function runCli(args: string[]): Promise<{ stdout: string; stderr: string; exitCode: number | undefined }> {
  const program = new Command().exitOverride();
  registerExecCommand(program);
  let stdout = '';
  let stderr = '';
  const out = process.stdout.write.bind(process.stdout);
  const err = process.stderr.write.bind(process.stderr);
  const before = process.exitCode;
  process.exitCode = undefined;
  (process.stdout as { write: unknown }).write = (chunk: string) => ((stdout += chunk), true);
  (process.stderr as { write: unknown }).write = (chunk: string) => ((stderr += chunk), true);
  try {
    await program.parseAsync(['node', 'toolexec', 'exec', ...args]);
    return { stdout, stderr, exitCode: process.exitCode as number | undefined };
  } finally {
    (process.stdout as { write: unknown }).write = out;
    (process.stderr as { write: unknown }).write = err;
    process.exitCode = before;
  }
}

describe('toolexec exec', () => {
  const file = new URL('../../examples/orchestrate.js', import.meta.url).pathname;
  const tools = new URL('../../examples/tools.mjs', import.meta.url).pathname;

  it('prints the value on stdout and the logs on stderr', async () => {
    const r = await runCli([file, '--tools', tools]);
    expect(r.exitCode).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ labels: ['bug', 'needs-triage'] });
    expect(r.stderr).toMatch(/created #\d+/);
  });

  it('--json prints the whole ExecuteResult', async () => {
    const r = await runCli([file, '--tools', tools, '--json', '--timeout', '5000']);
    const result = JSON.parse(r.stdout);
    expect(result.ok).toBe(true);
    expect(result.limits.timeoutMs).toBe(5000);
    expect(result.toolCalls).toHaveLength(2);
  });

  it('exits 1 when the script fails, with the error on stderr', async () => {
    const r = await runCli([file, '--tools', tools, '--allow', 'math:*']);
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toMatch(/error TOOL_NOT_ALLOWED/);
  });

  it('refuses an unknown runtime and a missing file as usage errors', async () => {
    await expect(runCli([file, '--runtime', 'nope'])).rejects.toThrow(/known runtimes: quickjs, isolated-vm, docker/);
    await expect(runCli(['/nonexistent/script.js'])).rejects.toThrow(/script not found/);
  });
});

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const cli = join(root, 'dist', 'cli', 'main.js');
const tools = join(root, 'test', 'fixtures', 'cli', 'math-tools.mjs');

/** The built CLI as users run it (npm test builds first). */
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
    expect(r.stdout).toMatch(/--typecheck\s+type-check the script against the tool\s+declarations/);
  });
});
