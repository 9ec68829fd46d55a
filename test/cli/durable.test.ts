// Durable executions at the command line, through the built CLI with a real SQLite store in a
// temp data directory: `toolexec exec` exits 3 with the execution ID when a call waits for
// approval, `toolexec approvals` decides, `toolexec resume` continues; `--approve ask` prompts
// (answers piped on stdin, and typed on a pseudo-terminal made by script(1)).
import { describe, expect, it } from 'vitest';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const CLI = join(ROOT, 'dist', 'cli', 'main.js');
const TOOLS = join(ROOT, 'test', 'fixtures', 'durable', 'tools.mjs');

function setup() {
  const dir = mkdtempSync(join(tmpdir(), 'toolexec-cli-durable-'));
  writeFileSync(join(dir, 'toolexec.config.json'), JSON.stringify({ tools: [TOOLS], approve: ['ops:deploy'] }));
  writeFileSync(
    join(dir, 'deploy.js'),
    ['const r = await run("ops:read", { key: "svc" });', 'console.log("read", r.value);', 'try {', '  return (await tools.ops.deploy({ service: "api" })).deployed;', '} catch (e) {', '  return e.code + ": " + e.message;', '}'].join('\n'),
  );
  const effects = join(dir, 'effects.log');
  writeFileSync(effects, '');
  const env = { ...process.env, XDG_DATA_HOME: join(dir, 'data'), DURABLE_EFFECTS: effects };
  const cli = (args: string[], input?: string) => {
    const r = spawnSync(process.execPath, [CLI, ...args], { cwd: dir, encoding: 'utf8', env, input: input ?? '', timeout: 60_000 });
    return { code: r.status, stdout: r.stdout, stderr: r.stderr };
  };
  return { dir, env, cli, effects: () => readFileSync(effects, 'utf8').split('\n').filter(Boolean) };
}

describe('toolexec exec / resume / approvals with durable executions', { timeout: 120_000 }, () => {
  it('exec exits 3 with the execution ID; approvals approve, then resume, finishes it; the store is a 0600 file in the data directory', () => {
    const { dir, cli, effects } = setup();
    const first = cli(['exec', 'deploy.js']);
    expect(first.code).toBe(3);
    const id = first.stdout.trim();
    expect(id).toMatch(/^[A-Za-z0-9_][A-Za-z0-9_-]{21}$/);
    expect(first.stderr).toMatch(/suspended: The script waits for approval of 1 tool call \(ops:deploy\)/);
    expect(first.stderr).toContain(`c1 ops:deploy {"service":"api"}`);
    expect(first.stderr).toContain(`toolexec resume ${id}`);
    const listed = cli(['approvals', 'list']);
    expect(listed.stdout).toMatch(new RegExp(`${id}  suspended 1 pending`));
    const show = JSON.parse(cli(['approvals', 'show', id, '--json']).stdout);
    expect(show).toMatchObject({ executionId: id, status: 'suspended', pending: [{ callId: 'c1', toolId: 'ops:deploy' }], result: { logs: [{ message: 'read 3' }] } });
    expect(cli(['approvals', 'approve', id, 'c1']).code).toBe(0);
    // Decided twice: the first decision stands.
    expect(cli(['approvals', 'deny', id, 'c1']).stderr).toMatch(/already approved; the first decision stands/);
    const done = cli(['resume', id]);
    expect(done.code, done.stderr).toBe(0);
    expect(JSON.parse(done.stdout)).toBe('api');
    expect(done.stderr).toBe('read 3\n');
    expect(effects()).toEqual(['read svc', 'deploy api']);
    const mode = spawnSync('stat', ['-c', '%a', join(dir, 'data', 'toolexec', 'executions.db')], { encoding: 'utf8' }).stdout.trim();
    expect(mode).toBe('600');
  });

  it('resume --deny all --reason: the script catches APPROVAL_DENIED; --json prints the whole result', () => {
    const { cli, effects } = setup();
    const id = cli(['exec', 'deploy.js']).stdout.trim();
    const r = cli(['resume', id, '--deny', 'all', '--reason', 'change freeze', '--json']);
    expect(r.code).toBe(0);
    const result = JSON.parse(r.stdout);
    expect(result).toMatchObject({ ok: true, status: 'completed', value: expect.stringMatching(/^APPROVAL_DENIED: .*change freeze/), stats: { parts: 2, replayedCalls: 1 } });
    expect(effects()).toEqual(['read svc']);
  });

  it('another principal is told there is no such execution', () => {
    const { cli } = setup();
    const id = cli(['exec', 'deploy.js']).stdout.trim();
    expect(cli(['approvals', 'list', '--principal', 'user:mallory']).stdout).not.toContain(id);
    const r = cli(['resume', id, '--approve', 'all', '--principal', 'user:mallory']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/no execution .* for this principal/);
    expect(cli(['approvals', 'approve', id, '--all', '--token', 'not-the-owner-token']).code).toBe(2);
  });

  it('--approve ask with answers piped on stdin: y approves, n <reason> denies, end of input suspends', () => {
    const { cli } = setup();
    const yes = cli(['exec', 'deploy.js', '--approve', 'ask'], 'y\n');
    expect(yes.code).toBe(0);
    expect(JSON.parse(yes.stdout)).toBe('api');
    expect(yes.stderr).toMatch(/1 tool call needs approval[\s\S]*c1 ops:deploy \{"service":"api"\}[\s\S]*approve\? \[y\/n\/e\/s\]/);
    const no = cli(['exec', 'deploy.js', '--approve', 'ask'], 'n not today\n');
    expect(JSON.parse(no.stdout)).toMatch(/^APPROVAL_DENIED: .*not today/);
    const none = cli(['exec', 'deploy.js', '--approve', 'ask'], '');
    expect(none.code).toBe(3);
    expect(none.stdout.trim()).toMatch(/^[A-Za-z0-9_-]{22}$/);
    expect(cli(['exec', 'deploy.js', '--approve', 'deny']).stdout).toMatch(/APPROVAL_DENIED/);
    expect(JSON.parse(cli(['exec', 'deploy.js', '--approve', 'allow']).stdout)).toBe('api');
    expect(cli(['exec', 'deploy.js', '--approve', 'maybe']).stderr).toMatch(/--approve must be ask, deny or allow/);
  });

  it('--approve ask on a terminal (a pseudo-terminal): e <json> approves with edited arguments', async () => {
    const { dir, env, effects } = setup();
    const child = spawn('script', ['-qec', `${JSON.stringify(process.execPath)} ${JSON.stringify(CLI)} exec deploy.js --approve ask`, '/dev/null'], { cwd: dir, env, stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes('approve? [y/n/e/s]') && !child.stdin.writableEnded) child.stdin.end('e {"service":"edited"}\n');
    });
    const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
    expect(code, out).toBe(0);
    expect(out).toContain('"edited"');
    expect(effects()).toEqual(['read svc', 'deploy edited']);
  });
});
