// The built CLI (npm test builds first), run as users run it: tools, types, serve and run
// with --config, their help and their exit codes.
import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { CLI, ROOT } from '../server/helpers.js';

const fixtures = join(ROOT, 'test', 'fixtures', 'server');

function toolexec(args: string[], input?: string) {
  const r = spawnSync(process.execPath, [CLI, ...args], { cwd: ROOT, encoding: 'utf8', input, timeout: 60_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('toolexec tools / types / serve / run --config', { timeout: 180_000 }, () => {
  it('tools lists and searches, honouring the config\'s deny patterns', () => {
    const list = toolexec(['tools', '--config', join(fixtures, 'local.config.json')]);
    expect(list.code).toBe(0);
    expect(list.stdout).toMatch(/^math:add\s+Add two numbers$/m);
    expect(list.stdout).not.toMatch(/secret/);
    const json = toolexec(['tools', 'add', '--config', join(fixtures, 'local.config.json'), '--json']);
    expect(json.code).toBe(0);
    const parsed = JSON.parse(json.stdout);
    expect(parsed.items[0]).toMatchObject({ id: 'math:add', backend: { kind: 'local' } });
    expect(parsed.items[0].inputSchema.required).toEqual(['a', 'b']);
    const limited = toolexec(['tools', '--tools', join(fixtures, 'tools.mjs'), '--limit', '1']);
    expect(limited.stdout.trim().split('\n')).toHaveLength(1);
    expect(limited.stderr).toMatch(/1 of 3/);
  });

  it('types prints declarations for the exposed tools', () => {
    const r = toolexec(['types', '--config', join(fixtures, 'local.config.json')]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/math/);
    expect(r.stdout).toMatch(/add\s*\(/);
    expect(r.stdout).not.toMatch(/launch/);
  });

  it('run accepts --config', () => {
    const r = toolexec(['run', 'math:add', '{"a":1,"b":2}', '--config', join(fixtures, 'local.config.json')]);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({ sum: 3 });
    const denied = toolexec(['run', 'secret:launch', '{}', '--config', join(fixtures, 'local.config.json')]);
    expect(denied.code).toBe(1);
    expect(denied.stderr).toMatch(/TOOL_NOT_FOUND.*not exposed/);
  });

  it('a bad config exits 2 with the key named, before anything starts', () => {
    for (const cmd of ['serve', 'tools', 'types']) {
      const r = toolexec([cmd, '--config', join(fixtures, 'bad-args.config.json')]);
      expect(r.code, cmd).toBe(2);
      expect(r.stderr).toMatch(/bad-args\.config\.json: mcpServers\.memory\.args must be array/);
    }
    const typo = toolexec(['serve', '--config', join(fixtures, 'typo.config.json')]);
    expect(typo.code).toBe(2);
    expect(typo.stderr).toMatch(/unknown top-level key "mcpServer" \(did you mean "mcpServers"\?\)/);
    expect(typo.stderr).toMatch(/unknown key limits\.timeout \(did you mean "timeoutMs"\?\)/);
    const missing = toolexec(['run', 'math:add', '{}', '--config', 'missing.json']);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/missing\.json: file not found/);
  });

  it('bad usage exits 2', () => {
    expect(toolexec(['serve', '--http', 'eighty']).code).toBe(2);
    const host = toolexec(['serve', '--host', '0.0.0.0', '--tools', join(fixtures, 'tools.mjs')]);
    expect(host.code).toBe(2);
    expect(host.stderr).toMatch(/--host only applies with --http/);
    const short = toolexec(['serve', '--http', '0', '--token', 'abc']);
    expect(short.code).toBe(2);
    expect(short.stderr).toMatch(/at least 8 characters/);
    expect(toolexec(['tools', '--limit', '0']).code).toBe(2);
  });

  it('each command has --help (exit 0)', () => {
    for (const [cmd, text] of [
      ['serve', /Run the MCP server/],
      ['tools', /Search the available tools/],
      ['types', /TypeScript declarations/],
      ['run', /--config/],
    ] as const) {
      const r = toolexec([cmd, '--help']);
      expect(r.code, cmd).toBe(0);
      expect(r.stdout).toMatch(text);
    }
  });
});
