// The MCP Inspector's CLI mode (a client we did not write) lists and calls our tools. It
// reads the same `mcpServers` format our users put in Claude Desktop or Cursor.
import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { CLI, binOf, writeServeConfig } from './helpers.js';

const INSPECTOR = binOf('@modelcontextprotocol/inspector');

function inspector(args: string[]) {
  const dir = mkdtempSync(join(tmpdir(), 'toolexec-inspector-'));
  const session = join(dir, 'mcp.json');
  writeFileSync(session, JSON.stringify({ mcpServers: { toolexec: { command: process.execPath, args: [CLI, 'serve', '--config', writeServeConfig()] } } }));
  const r = spawnSync(process.execPath, [INSPECTOR, '--cli', '--config', session, '--server', 'toolexec', ...args], {
    encoding: 'utf8',
    timeout: 120_000,
    // No OS keychain here; the inspector would otherwise warn about it on every run.
    env: { ...process.env, MCP_INSPECTOR_SECRET_STORE: 'memory', HOME: dir },
  });
  if (r.status !== 0) throw new Error(`inspector exited with ${r.status}:\n${r.stdout}\n${r.stderr}`);
  return JSON.parse(r.stdout) as Record<string, any>;
}

describe('MCP Inspector CLI against toolexec serve', { timeout: 180_000 }, () => {
  it('lists the tools', () => {
    const out = inspector(['--method', 'tools/list']);
    const names = (out.tools as { name: string }[]).map((t) => t.name);
    expect(names).toEqual(expect.arrayContaining(['search_tools', 'list_namespaces', 'describe_tool', 'run_tool', 'run_chain', 'execute_code']));
  });

  it('calls search_tools and run_tool on an upstream server', () => {
    const search = inspector(['--method', 'tools/call', '--tool-name', 'search_tools', '--tool-arg', 'query=echo']);
    expect(search.structuredContent.items[0].id).toBe('everything:echo');
    const run = inspector(['--method', 'tools/call', '--tool-name', 'run_tool', '--tool-arg', 'toolId=everything:echo', 'args={"message":"from the inspector"}']);
    expect(run.content[0].text).toBe('Echo: from the inspector');
  });

  it('calls execute_code', () => {
    const out = inspector(['--method', 'tools/call', '--tool-name', 'execute_code', '--tool-arg', 'script=return (await tools.math.add({ a: 20, b: 22 })).sum']);
    expect(out.isError).toBeFalsy();
    expect(out.structuredContent.value).toBe(42);
  });
});

describe('MCP Inspector CLI: a durable execution, seen and resumed', { timeout: 240_000 }, () => {
  it('execute_code suspends, get_execution and list_executions show it, and resume_execution continues once it is approved at the terminal', () => {
    const dir = mkdtempSync(join(tmpdir(), 'toolexec-inspector-durable-'));
    const config = join(dir, 'toolexec.config.json');
    const tools = join(dirname(CLI), '..', '..', 'test', 'fixtures', 'durable', 'tools.mjs');
    writeFileSync(config, JSON.stringify({ tools: [tools], approve: ['ops:deploy'], store: { path: join(dir, 'executions.db') } }));
    const session = join(dir, 'mcp.json');
    writeFileSync(session, JSON.stringify({ mcpServers: { toolexec: { command: process.execPath, args: [CLI, 'serve', '--config', config] } } }));
    const call = (tool: string, ...args: string[]) => {
      const r = spawnSync(process.execPath, [INSPECTOR, '--cli', '--config', session, '--server', 'toolexec', '--method', 'tools/call', '--tool-name', tool, ...(args.length ? ['--tool-arg', ...args] : [])], {
        encoding: 'utf8',
        timeout: 120_000,
        env: { ...process.env, MCP_INSPECTOR_SECRET_STORE: 'memory', HOME: dir },
      });
      if (r.status !== 0) throw new Error(`inspector exited with ${r.status}:\n${r.stdout}\n${r.stderr}`);
      return JSON.parse(r.stdout) as Record<string, any>;
    };
    const started = call('execute_code', 'script=const d = await tools.ops.deploy({ service: "inspected" }); return d.deployed');
    expect(started.structuredContent.status).toBe('suspended');
    expect(started.content[0].text).toMatch(/^SUSPENDED/);
    const id = started.structuredContent.executionId as string;
    expect(call('get_execution', `executionId=${id}`).structuredContent).toMatchObject({ executionId: id, status: 'suspended', pending: [{ toolId: 'ops:deploy', args: { service: 'inspected' } }] });
    expect(call('list_executions').structuredContent.executions.map((e: { executionId: string }) => e.executionId)).toContain(id);
    // The model cannot continue on its own...
    expect(call('resume_execution', `executionId=${id}`).content[0].text).toMatch(/^WAITING/);
    // ...until the user approves at the terminal (the same OS user as the stdio server).
    const approved = spawnSync(process.execPath, [CLI, 'approvals', 'approve', id, '--all', '--config', config], { encoding: 'utf8' });
    expect(approved.status, approved.stderr).toBe(0);
    const done = call('resume_execution', `executionId=${id}`);
    expect(done.structuredContent).toMatchObject({ ok: true, status: 'completed', value: 'inspected' });
  });
});
