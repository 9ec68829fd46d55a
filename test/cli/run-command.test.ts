import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const cli = join(root, 'dist', 'cli', 'main.js');
const tools = join(root, 'test', 'fixtures', 'cli', 'math-tools.mjs');

function toolexec(args: string[], input?: string) {
  const r = spawnSync(process.execPath, [cli, ...args], { cwd: root, encoding: 'utf8', input, timeout: 20_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

// These run the built CLI (npm test builds first), as users do.
describe('toolexec run', () => {
  it('runs a tool from a module and prints its structured result', () => {
    const r = toolexec(['run', 'math:add', '{"a":2,"b":40}', '--tools', tools]);
    expect(r.stderr).toBe('');
    expect(JSON.parse(r.stdout)).toEqual({ sum: 42 });
    expect(r.code).toBe(0);
  });

  it('reads arguments from stdin with -', () => {
    const r = toolexec(['run', 'math:add', '-', '--tools', tools, '--json'], '{"a":1,"b":1}');
    expect(r.code).toBe(0);
    const result = JSON.parse(r.stdout);
    expect(result.structured).toEqual({ sum: 2 });
    expect(result.backend).toEqual({ kind: 'local', name: 'local' });
  });

  it('exits 1 with the error code when the tool fails or validation rejects', () => {
    const bad = toolexec(['run', 'math:add', '{"a":"x","b":1}', '--tools', tools]);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/INPUT_VALIDATION.*\/a/);
    const fail = toolexec(['run', 'math:fail', '{}', '--tools', tools]);
    expect(fail.code).toBe(1);
    expect(fail.stderr).toMatch(/EXECUTION.*division by zero/);
    const missing = toolexec(['run', 'math:nope', '{}', '--tools', tools]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/TOOL_NOT_FOUND/);
  });

  it('exits 2 for bad usage: malformed JSON, bad module, unknown option', () => {
    expect(toolexec(['run', 'math:add', '{a:1}', '--tools', tools]).code).toBe(2);
    const badModule = toolexec(['run', 'math:add', '{}', '--tools', join(root, 'test', 'fixtures', 'cli', 'bad-tools.mjs')]);
    expect(badModule.code).toBe(2);
    expect(badModule.stderr).toMatch(/tool #0 \(math:nohandler\) needs a "handler" function/);
    expect(toolexec(['run', 'math:add', '{}', '--tools', 'does-not-exist.mjs']).stderr).toMatch(/file not found/);
    expect(toolexec(['run', '--bogus']).code).toBe(2);
    expect(toolexec(['frobnicate']).code).toBe(2);
  });

  it('prints help and version with exit 0', () => {
    const help = toolexec(['run', '--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/Run one tool/);
    expect(toolexec(['--version']).stdout.trim()).toMatch(/^\d+\.\d+\.\d+/);
  });
});
