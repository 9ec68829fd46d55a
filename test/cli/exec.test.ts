// `toolexec exec` run in-process through its commander registration, on the seed journey
// (examples/orchestrate.js with examples/tools.mjs): output streams, --json, exit codes and
// usage errors.
import { Command } from 'commander';
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
