// A secret passed through `${VAR}` never appears in anything toolexec prints or returns:
// the built CLI run as users run it (tools, run, exec, serve with the SDK's client), with a
// server that fails and prints its whole environment, a server whose tool returns its
// environment (server-everything's get-env), local tools that leak it, a config error and an
// unreachable URL carrying it. Every stdout, stderr and result is captured, and checked for
// the secret (and its JSON- and URL-encoded forms) at the end.
import { afterAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { Captured, secretForms, writeConfig } from './secret-capture.js';
import { CLI, EVERYTHING_BIN, ROOT } from '../server/helpers.js';

const SECRET = `sk-test-${randomBytes(12).toString('hex')}/+=`;
const FORMS = secretForms(SECRET);
const LABEL = '[redacted:TOOLEXEC_TEST_SECRET]';
const DUMPER = join(ROOT, 'test', 'fixtures', 'config', 'print-env-and-exit.mjs');
const LEAKY = join(ROOT, 'test', 'fixtures', 'config', 'leaky-tools.mjs');
const env = { ...process.env, TOOLEXEC_TEST_SECRET: SECRET, TOOLEXEC_TEST_PLAIN: 'plain-value' };

const captured = new Captured();
const capture = (what: string, value: unknown) => captured.capture(what, value);

const config = (obj: Record<string, unknown>) => writeConfig(obj, 'toolexec-secrets-');

function toolexec(args: string[], input?: string) {
  const r = spawnSync(process.execPath, [CLI, ...args], { cwd: ROOT, env, encoding: 'utf8', input, timeout: 60_000 });
  const what = `toolexec ${args.join(' ')}`;
  return { code: r.status, stdout: capture(`${what} (stdout)`, r.stdout), stderr: capture(`${what} (stderr)`, r.stderr) };
}

const everything = (extra: Record<string, unknown> = {}) => ({ command: process.execPath, args: [EVERYTHING_BIN, 'stdio'], env: { API_KEY: 'Bearer ${TOOLEXEC_TEST_SECRET}' }, ...extra });
const dumper = { command: process.execPath, args: [DUMPER, '--api-key=${TOOLEXEC_TEST_SECRET}'], env: { API_KEY: '${TOOLEXEC_TEST_SECRET}' } };

afterAll(() => {
  // The point of the file: nothing captured shows the secret in any form.
  captured.expectNone(FORMS, 'the secret');
});

describe('secrets from ${VAR} never appear in output', { timeout: 180_000 }, () => {
  it('a server that fails and prints its environment: every command exits 1, naming it, redacted', () => {
    const file = config({ mcpServers: { dumper } });
    for (const cmd of [['tools'], ['serve'], ['exec', '-']]) {
      const r = toolexec([...cmd, '--config', file], 'return 1');
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(/^toolexec: the only MCP server in the config failed to start:\n- dumper: MCP server "dumper" \(command ".*"\) failed the MCP handshake/);
      // Its stderr is shown (it explains the failure), with the secret replaced.
      expect(r.stderr).toContain(`API_KEY=${LABEL}`);
      expect(r.stderr).toContain(`argv: --api-key=${LABEL}`);
    }
  });

  it("a tool that returns the server's environment: toolexec run", () => {
    const r = toolexec(['run', 'everything:get-env', '{}', '--config', config({ mcpServers: { everything: everything() } })]);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout).API_KEY).toBe(`Bearer ${LABEL}`);
  });

  it('local tools that leak it in a result or an error: toolexec run and exec --json (value, logs, ledger)', () => {
    const file = config({ mcpServers: { everything: everything() }, tools: [LEAKY] });
    const ok = toolexec(['run', 'leak:env', '{}', '--config', file]);
    expect(JSON.parse(ok.stdout)).toEqual({ key: LABEL, note: `key=${LABEL}` });
    const bad = toolexec(['run', 'leak:fail', '{}', '--config', file, '--json']);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain(`the upstream refused key ${LABEL}`);
    const script = [
      "const env = await tools.everything.get_env({});",
      'console.log(env.API_KEY);',
      "const local = await run('leak:env', {});",
      "let failure; try { await run('leak:fail', {}); } catch (e) { failure = e.message; }",
      'return { api: env.API_KEY, local, failure };',
    ].join('\n');
    const r = toolexec(['exec', '-', '--config', file, '--json'], script);
    expect(r.code).toBe(0);
    const result = JSON.parse(r.stdout);
    expect(result.value).toEqual({ api: `Bearer ${LABEL}`, local: { key: LABEL, note: `key=${LABEL}` }, failure: expect.stringContaining(LABEL) });
    expect(result.logs.map((l: { message: string }) => l.message)).toEqual([`Bearer ${LABEL}`]);
    expect(result.toolCalls.find((c: { toolId: string }) => c.toolId === 'leak:fail').error.message).toContain(LABEL);
  });

  it('a config error about an expanded value, and an unreachable URL carrying it', () => {
    const bad = toolexec(['tools', '--config', config({ mcpServers: { remote: { url: 'not a url ${TOOLEXEC_TEST_SECRET}' } } })]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain(`mcpServers.remote.url is not a valid URL: "not a url ${LABEL}"`);
    const file = config({ mcpServers: { remote: { url: 'http://127.0.0.1:1/mcp?key=${TOOLEXEC_TEST_SECRET}', headers: { Authorization: 'Bearer ${TOOLEXEC_TEST_SECRET}' } } } });
    const r = toolexec(['tools', '--config', file]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/remote: MCP server "remote" could not be reached at http:\/\/127\.0\.0\.1:1\/mcp\?key=\[redacted:TOOLEXEC_TEST_SECRET\]/);
  });

  it('a missing variable is a config error naming it and the server, before anything starts', () => {
    const r = toolexec(['serve', '--config', config({ mcpServers: { github: { command: 'gh', env: { GITHUB_TOKEN: '${TOOLEXEC_TEST_UNSET_VARIABLE}' } } } })]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('mcpServers.github.env.GITHUB_TOKEN refers to ${TOOLEXEC_TEST_UNSET_VARIABLE}, which is not set in the environment');
  });

  it('inheritEnv: the safe default set, a list of names, or everything (still redacted)', () => {
    const seen = (entry: Record<string, unknown>) => {
      const r = toolexec(['run', 'everything:get-env', '{}', '--config', config({ mcpServers: { everything: entry } })]);
      expect(r.code).toBe(0);
      return JSON.parse(r.stdout) as Record<string, string>;
    };
    const byDefault = seen(everything());
    expect(byDefault.TOOLEXEC_TEST_PLAIN).toBeUndefined();
    expect(byDefault.TOOLEXEC_TEST_SECRET).toBeUndefined();
    expect(byDefault.PATH).toBe(process.env.PATH);
    expect(seen(everything({ inheritEnv: ['TOOLEXEC_TEST_PLAIN'] }))).toMatchObject({ TOOLEXEC_TEST_PLAIN: 'plain-value' });
    const all = seen(everything({ inheritEnv: true }));
    expect(all).toMatchObject({ TOOLEXEC_TEST_PLAIN: 'plain-value', TOOLEXEC_TEST_SECRET: LABEL, API_KEY: `Bearer ${LABEL}` });
  });

  it('toolexec serve over stdio: run_tool, execute_code, errors and its stderr', async () => {
    const file = config({ mcpServers: { everything: everything(), dumper }, tools: [LEAKY] });
    const transport = new StdioClientTransport({ command: process.execPath, args: [CLI, 'serve', '--config', file, '--verbose=args'], env: env as Record<string, string>, stderr: 'pipe' });
    let stderr = '';
    transport.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
    const client = new Client({ name: 'secrets-test', version: '1.0.0' });
    await client.connect(transport);
    try {
      const tools = await client.listTools();
      capture('serve: tools/list', tools);
      const getEnv = capture('serve: run_tool get-env', await client.callTool({ name: 'run_tool', arguments: { toolId: 'everything:get-env', args: {} } }));
      expect(getEnv).toContain(`Bearer ${LABEL}`);
      const fail = capture('serve: run_tool leak:fail', await client.callTool({ name: 'run_tool', arguments: { toolId: 'leak:fail', args: {} } }));
      expect(fail).toContain(LABEL);
      const chain = capture('serve: run_chain', await client.callTool({ name: 'run_chain', arguments: { steps: [{ toolId: 'leak:env' }, { toolId: 'leak:fail' }] } }));
      expect(chain).toContain(LABEL);
      const code = capture(
        'serve: execute_code',
        await client.callTool({ name: 'execute_code', arguments: { script: "const e = await tools.everything.get_env({}); console.log(JSON.stringify(e)); return (await run('leak:env', {})).note" } }),
      );
      expect(code).toContain(`key=${LABEL}`);
      // A client that sends the secret back as an argument: --verbose=args logs it redacted.
      capture('serve: run_tool with the secret in its arguments', await client.callTool({ name: 'run_tool', arguments: { toolId: 'leak:env', args: { query: `look up ${SECRET}` } } }));
      const described = capture('serve: describe_tool', await client.callTool({ name: 'describe_tool', arguments: { toolId: 'leak:env', detail: 'full' } }));
      expect(described).toContain('leak:env');
    } finally {
      await client.close();
    }
    capture('serve: stderr', stderr);
    // The failed server was reported, with its stderr tail, redacted; each call was logged.
    expect(stderr).toContain('MCP server "dumper" is unavailable');
    expect(stderr).toMatch(/run_tool leak:env ok .*args=.*"query":"look up \[redacted\]"/);
  });
});
