// `toolexec serve` as a process that says what it is doing: the start-up summary, --verbose
// call lines (arguments only with --verbose=args, and never a secret), one clear line and exit
// code 2 for a port in use, and an exit when its parent goes away (stdin closed, or the parent
// killed while stdin stays open; an npx-style wrapper killed must not leave the HTTP port bound).
import { afterAll, describe, expect, it } from 'vitest';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { createConnection, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { waitFor } from '../backends/mcp/helpers.js';
import { callTool, CLI, connectHttp, EVERYTHING_BIN, freePort, ROOT, startServeHttp, stopProcess, TOOLS_FIXTURE } from './helpers.js';

const WRAPPER = join(ROOT, 'test', 'fixtures', 'server', 'wrapper.mjs');
const TOKEN = 'verbose-token-0123456789';
const ENV_SECRET = 'env-secret-value-9876';

function writeConfig(config: Record<string, unknown>): string {
  const dir = mkdtempSync(join(tmpdir(), 'toolexec-serve-cli-'));
  const file = join(dir, 'toolexec.config.json');
  writeFileSync(file, JSON.stringify(config));
  return file;
}

/** Whether a process is gone (a zombie waiting for a reaper counts as gone: it serves nothing). */
function gone(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return / Z /.test(stat.slice(stat.lastIndexOf(')')));
  } catch {
    return true;
  }
}

/** Whether something accepts connections on 127.0.0.1:port. */
function listening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

const started: ChildProcess[] = [];
afterAll(async () => {
  for (const c of started) if (c.pid && !gone(c.pid)) c.kill('SIGKILL');
});

describe('toolexec serve says what it is doing', { timeout: 120_000 }, () => {
  it('prints a start-up summary: transport, upstream servers connected and failed, tool counts', async () => {
    const config = writeConfig({
      mcpServers: {
        everything: { command: process.execPath, args: [EVERYTHING_BIN, 'stdio'] },
        broken: { command: join(tmpdir(), 'no-such-mcp-server-binary') },
        off: { command: 'nothing', disabled: true },
      },
      tools: [TOOLS_FIXTURE],
      deny: ['secret:*'],
    });
    const transport = new StdioClientTransport({ command: process.execPath, args: [CLI, 'serve', '--config', config], stderr: 'pipe' });
    let stderr = '';
    transport.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
    const client = new Client({ name: 'summary-test', version: '1' });
    await client.connect(transport);
    try {
      await waitFor(() => stderr.includes('ready on stdio'), 'the start-up summary');
      expect(stderr).toMatch(/^toolexec: upstream MCP servers: 1 connected \(everything: \d+ tools\), 1 failed \(broken: .+\), 1 disabled$/m);
      expect(stderr).toMatch(/^toolexec: \d+ tools exposed in 2 namespaces \(1 hidden by allow\/deny\)$/m);
      expect(stderr).toMatch(/^toolexec: execute_code: runtime quickjs, 4 at once, 16 waiting, 3 per session; limits at most timeoutMs 60000, memoryMb 256, maxOutputBytes 4194304$/m);
      expect(stderr).toMatch(/^toolexec: MCP server ready on stdio$/m);
      expect((await callTool(client, 'list_namespaces')).isError).toBeFalsy();
    } finally {
      await client.close();
    }
  });

  it('--verbose: one line per call (tool, outcome, duration), the script\'s own calls included, no arguments', async () => {
    const transport = new StdioClientTransport({ command: process.execPath, args: [CLI, 'serve', '--tools', TOOLS_FIXTURE, '--verbose'], stderr: 'pipe' });
    let stderr = '';
    transport.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
    const client = new Client({ name: 'verbose-test', version: '1' });
    await client.connect(transport);
    try {
      await callTool(client, 'run_tool', { toolId: 'math:add', args: { a: 1, b: 2 } });
      await callTool(client, 'run_tool', { toolId: 'math:fail' });
      await callTool(client, 'execute_code', { script: "const r = await run('math:add', { a: 2, b: 2 }); return r.sum" });
      await callTool(client, 'execute_code', { script: 'throw new Error("nope")' });
      await waitFor(() => (stderr.match(/execute_code (ok|RUNTIME_ERROR) \d+ms/g) ?? []).length === 2, 'four call lines');
      expect(stderr).toMatch(/^toolexec: s1 run_tool math:add ok \d+ms$/m);
      expect(stderr).toMatch(/^toolexec: s1 run_tool math:fail EXECUTION \d+ms$/m);
      expect(stderr).toMatch(/^toolexec: s1 execute_code > math:add ok \d+ms$/m);
      expect(stderr).toMatch(/^toolexec: s1 execute_code ok \d+ms \(1 tool call\)$/m);
      expect(stderr).toMatch(/^toolexec: s1 execute_code RUNTIME_ERROR \d+ms \(0 tool calls\)$/m);
      expect(stderr).not.toMatch(/args=/);
    } finally {
      await client.close();
    }
  });

  it('--verbose=args shows arguments with credentials, the token and config secrets redacted', async () => {
    const config = writeConfig({ tools: [TOOLS_FIXTURE], mcpServers: { later: { command: 'nothing', env: { API_KEY: ENV_SECRET }, disabled: true } } });
    const serve = await startServeHttp(['--config', config, '--token', TOKEN, '--verbose=args']);
    started.push(serve.child);
    try {
      const client = await connectHttp(serve.url, TOKEN);
      await callTool(client, 'run_tool', { toolId: 'math:add', args: { a: 1, b: 2, apiKey: 'sk-live-abcdef', note: `the token is ${TOKEN}`, max_tokens: 7 } });
      await callTool(client, 'execute_code', { script: `return (await run('math:add', { a: 1, b: 2, password: 'hunter22', env: '${ENV_SECRET}' })).sum` });
      await client.close();
      await waitFor(() => /execute_code ok/.test(serve.stderr()), 'the execute_code line');
      const out = serve.stderr();
      expect(out).toMatch(/s1 run_tool math:add ok \d+ms args=\{"toolId":"math:add","args":\{"a":1,"b":2,"apiKey":"\[redacted\]","note":"the token is \[redacted\]","max_tokens":7\}\}/);
      expect(out).toMatch(/execute_code > math:add ok \d+ms args=\{"a":1,"b":2,"password":"\[redacted\]","env":"\[redacted\]"\}/);
      // A script is code: its literals cannot be told from secrets, so only its size is shown.
      expect(out).toMatch(/s1 execute_code ok \d+ms \(1 tool call\) args=\{"script":"<\d+ characters>"\}/);
      for (const secret of [TOKEN, 'sk-live-abcdef', 'hunter22', ENV_SECRET]) expect(out).not.toContain(secret);
    } finally {
      await stopProcess(serve.child);
    }
  });
});

describe('toolexec serve fails clearly and never outlives its parent', { timeout: 120_000 }, () => {
  it('a port in use is one line and exit code 2', async () => {
    const blocker = createServer();
    const port = await freePort();
    await new Promise<void>((r) => blocker.listen(port, '127.0.0.1', r));
    try {
      const r = spawnSync(process.execPath, [CLI, 'serve', '--http', String(port), '--tools', TOOLS_FIXTURE], { cwd: ROOT, encoding: 'utf8', timeout: 30_000 });
      expect(r.status).toBe(2);
      expect(r.stderr).toBe(`toolexec: --http ${port}: port ${port} is already in use on 127.0.0.1 (is another server running?); stop it or choose another port (0 picks a free one)\n`);
    } finally {
      await new Promise((r) => blocker.close(r));
    }
    // The same command on a free port serves.
    const serve = await startServeHttp(['--tools', TOOLS_FIXTURE]);
    started.push(serve.child);
    const client = await connectHttp(serve.url);
    expect((await callTool(client, 'execute_code', { script: '1 + 1' })).structuredContent!.value).toBe(2);
    await client.close();
    await stopProcess(serve.child);
  });

  it('bad serve usage and a mistyped serve key exit 2 naming the problem', () => {
    const stateless = spawnSync(process.execPath, [CLI, 'serve', '--stateless', '--tools', TOOLS_FIXTURE], { cwd: ROOT, encoding: 'utf8' });
    expect(stateless.status).toBe(2);
    expect(stateless.stderr).toMatch(/--stateless only applies with --http/);
    const verbose = spawnSync(process.execPath, [CLI, 'serve', '--verbose=everything'], { cwd: ROOT, encoding: 'utf8' });
    expect(verbose.status).toBe(2);
    expect(verbose.stderr).toMatch(/--verbose takes no value, or "args"/);
    const typo = spawnSync(process.execPath, [CLI, 'serve', '--config', writeConfig({ serve: { maxSession: 5, maxConcurrentExecutions: 0 } })], { cwd: ROOT, encoding: 'utf8' });
    expect(typo.status).toBe(2);
    expect(typo.stderr).toMatch(/unknown key serve\.maxSession \(did you mean "maxSessions"\?\)/);
    expect(typo.stderr).toMatch(/serve\.maxConcurrentExecutions must be >= 1/);
  });

  it('exits when its stdin closes', async () => {
    const child = spawn(process.execPath, [CLI, 'serve', '--tools', TOOLS_FIXTURE], { cwd: ROOT, stdio: ['pipe', 'pipe', 'pipe'] });
    started.push(child);
    let stderr = '';
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    await waitFor(() => stderr.includes('ready on stdio'), 'the server to start');
    const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
    child.stdin!.end();
    expect(await exited).toBe(0);
  });

  it('exits when its parent is killed, even with stdin still open (stdio)', async () => {
    // Its stdin must outlive the wrapper: a FIFO this test holds open for reading and writing
    // (a pipe from spawn would be closed by Node as soon as the wrapper exits).
    const fifo = join(mkdtempSync(join(tmpdir(), 'toolexec-fifo-')), 'stdin');
    expect(spawnSync('mkfifo', [fifo]).status).toBe(0);
    const stdinFd = openSync(fifo, 'r+');
    const wrapper = spawn(process.execPath, [WRAPPER, CLI, 'serve', '--tools', TOOLS_FIXTURE], { cwd: ROOT, stdio: [stdinFd, 'pipe', 'pipe'] });
    started.push(wrapper);
    let stderr = '';
    wrapper.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    await waitFor(() => stderr.includes('ready on stdio'), 'the server to start', 30_000);
    const pid = Number(/child pid (\d+)/.exec(stderr)![1]);
    expect(gone(pid)).toBe(false);
    wrapper.kill('SIGKILL');
    // Our end of its stdin is still open: only the parent watch can notice.
    await waitFor(() => gone(pid), `toolexec serve (pid ${pid}) to exit after its parent died`, 15_000);
    await waitFor(() => /the process that started this server exited; shutting down/.test(stderr), 'the shutdown line');
    closeSync(stdinFd);
  });

  it('killing an npx-style wrapper does not leave the HTTP server listening', async () => {
    const port = await freePort();
    const wrapper = spawn(process.execPath, [WRAPPER, CLI, 'serve', '--http', String(port), '--tools', TOOLS_FIXTURE], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    started.push(wrapper);
    let stderr = '';
    wrapper.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    await waitFor(() => stderr.includes('listening on'), 'the server to listen', 30_000);
    const pid = Number(/child pid (\d+)/.exec(stderr)![1]);
    expect(await listening(port)).toBe(true);
    wrapper.kill('SIGKILL');
    await waitFor(async () => !(await listening(port)), `port ${port} to be free after the wrapper died`, 15_000);
    await waitFor(() => gone(pid), `toolexec serve (pid ${pid}) to exit`, 15_000);
  });
});
