// "No tools" replaced by the real cause, through the built CLI: every server failed (exit 1,
// each failure named), the config's patterns hide everything (which pattern hid what), or
// nothing is configured at all.
import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CLI, EVERYTHING_BIN, ROOT } from '../server/helpers.js';

const math = join(ROOT, 'test', 'fixtures', 'cli', 'math-tools.mjs');

function config(obj: Record<string, unknown>): string {
  const file = join(mkdtempSync(join(tmpdir(), 'toolexec-no-tools-')), 'toolexec.config.json');
  writeFileSync(file, JSON.stringify(obj));
  return file;
}

function toolexec(args: string[], options: { cwd?: string; env?: Record<string, string | undefined> } = {}) {
  const r = spawnSync(process.execPath, [CLI, ...args], { cwd: options.cwd ?? ROOT, env: options.env ?? process.env, encoding: 'utf8', input: '', timeout: 60_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('toolexec says why there are no tools', { timeout: 120_000 }, () => {
  it('every server failed: exit 1, each failure named, for tools and serve alike', () => {
    const file = config({
      mcpServers: {
        ghost: { command: '/nonexistent/toolexec-ghost' },
        crashy: { command: process.execPath, args: ['-e', 'console.error("crashy: no API key"); process.exit(4)'] },
        off: { command: 'never-started', disabled: true },
      },
      tools: [math],
    });
    for (const cmd of ['tools', 'serve']) {
      const r = toolexec([cmd, '--config', file]);
      expect(r.code).toBe(1);
      expect(r.stdout).toBe('');
      expect(r.stderr).toMatch(/^toolexec: all 2 MCP servers in the config failed to start:\n/);
      expect(r.stderr).toMatch(/^- ghost: MCP server "ghost" could not be started: command not found: "\/nonexistent\/toolexec-ghost"/m);
      expect(r.stderr).toMatch(/^- crashy: MCP server "crashy" \(command ".*"\) failed the MCP handshake: .*\n {4}server stderr \(last lines\):\n {4}crashy: no API key/m);
      // Said once, in the error, not also as warnings.
      expect(r.stderr).not.toMatch(/warning: MCP server/);
    }
  });

  it('one server failed, another works: a warning, and the tools of the one that works', () => {
    const file = config({ mcpServers: { ghost: { command: '/nonexistent/toolexec-ghost' }, everything: { command: process.execPath, args: [EVERYTHING_BIN, 'stdio'] } } });
    const r = toolexec(['tools', '--config', file]);
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/^toolexec: warning: MCP server "ghost" is unavailable: MCP server "ghost" could not be started: command not found/);
    expect(r.stdout).toMatch(/^everything:get-sum\s/m);
  });

  it("the config's patterns hide everything: each pattern and what it hid", () => {
    const denied = toolexec(['tools', '--config', config({ tools: [math], deny: ['math:f*', 'math:*'] })]);
    expect(denied.code).toBe(0);
    expect(denied.stderr).toBe(`no tools are exposed: the config's patterns hide all 2 registered tools:\n- deny "math:*" hides math:add\n- deny "math:f*" hides math:fail\n`);
    const allowed = toolexec(['tools', 'add', '--config', config({ tools: [math], allow: ['github:*', 'gitlab:*'] })]);
    expect(allowed.stderr).toBe(`no tools are exposed: the config's patterns hide all 2 registered tools:\n- allow ["github:*", "gitlab:*"] matches none of math:add, math:fail\n`);
    // serve starts anyway (stdout is the protocol stream), with the reason on stderr.
    const serve = toolexec(['serve', '--config', config({ tools: [math], deny: ['*'] })]);
    expect(serve.code).toBe(0);
    expect(serve.stderr).toMatch(/^toolexec: warning: no tools are exposed: the config's patterns hide all 2 registered tools:\n {2}- deny "\*" hides math:add, math:fail$/m);
  });

  it('nothing configured: says what to add', () => {
    const empty = mkdtempSync(join(tmpdir(), 'toolexec-no-tools-'));
    const r = toolexec(['tools'], { cwd: empty, env: { ...process.env, HOME: empty, XDG_CONFIG_HOME: undefined } });
    expect(r.code).toBe(0);
    expect(r.stderr).toBe('no tools (add mcpServers or tools to the config, or pass --tools)\n');
  });
});
