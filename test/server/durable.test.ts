// Durable executions through the MCP server, over real HTTP on 127.0.0.1 with two bearer tokens
// (two principals) and real SDK clients: one that supports elicitation (its user approves live)
// and one that does not (it gets the suspended result, and resume_execution continues only what
// a person decided). Another principal can neither read, nor resume, nor decide.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { CallToolResultSchema, ElicitRequestSchema, type ElicitRequest, type ElicitResult } from '@modelcontextprotocol/sdk/types.js';
import { checkConfig } from '../../src/config/load-config.js';
import { createEngine, type Engine } from '../../src/engine/engine.js';
import { ToolexecServer } from '../../src/server/toolexec-server.js';
import { serveHttp, type HttpServeHandle } from '../../src/server/http.js';
import { tokenPrincipal } from '../../src/server/principal.js';
import { ROOT, callTool, connectHttp, textOf } from './helpers.js';

const TOOLS = join(ROOT, 'test', 'fixtures', 'durable', 'tools.mjs');
const TOKEN_A = `alice-${randomBytes(8).toString('hex')}`;
const TOKEN_B = `bob-${randomBytes(8).toString('hex')}`;

async function elicitingClient(url: string, token: string, answer: (req: ElicitRequest) => ElicitResult): Promise<{ client: Client; asked: ElicitRequest[] }> {
  const asked: ElicitRequest[] = [];
  const client = new Client({ name: 'eliciting-test', version: '1.0.0' }, { capabilities: { elicitation: { form: {} } } });
  client.setRequestHandler(ElicitRequestSchema, async (req) => {
    asked.push(req);
    return answer(req);
  });
  await client.connect(new StreamableHTTPClientTransport(new URL(url), { requestInit: { headers: { Authorization: `Bearer ${token}` } } }));
  return { client, asked };
}

describe('durable executions through toolexec serve (HTTP, two tokens)', () => {
  let engine: Engine;
  let server: ToolexecServer;
  let http: HttpServeHandle;
  let effects: string;
  const effectLines = () => readFileSync(effects, 'utf8').split('\n').filter(Boolean);
  const clients: Client[] = [];

  beforeAll(async () => {
    const dir = mkdtempSync(join(tmpdir(), 'toolexec-durable-serve-'));
    effects = join(dir, 'effects.log');
    writeFileSync(effects, '');
    process.env.DURABLE_EFFECTS = effects;
    const config = checkConfig({ tools: [TOOLS], approve: ['ops:deploy'], store: { kind: 'sqlite', path: join(dir, 'executions.db') }, limits: { timeoutMs: 10_000 } }, { dir });
    engine = await createEngine(config);
    server = await new ToolexecServer(engine).start();
    http = await serveHttp(server, { port: 0, tokens: [TOKEN_A, TOKEN_B] });
  });
  afterAll(async () => {
    await Promise.allSettled(clients.map((c) => c.close()));
    await http?.close();
    await server?.close();
    await engine?.close();
    delete process.env.DURABLE_EFFECTS;
  });

  const script = 'const r = await run("ops:read", { key: "config" });\nconsole.log("read", r.value);\nconst d = await tools.ops.deploy({ service: "api" });\nreturn d.deployed;';

  it('lists the durable tools and says in execute_code that calls may need approval', async () => {
    const c = await connectHttp(http.url, TOKEN_A);
    clients.push(c);
    const { tools } = await c.listTools();
    expect(tools.map((t) => t.name)).toEqual(expect.arrayContaining(['execute_code', 'resume_execution', 'list_executions', 'get_execution']));
    expect(tools.find((t) => t.name === 'execute_code')!.description).toMatch(/cannot approve them: ask the user, then call resume_execution/);
  });

  it('a client without elicitation gets the suspended result; resume_execution runs nothing until a person decides; another token sees nothing', async () => {
    const bob = await connectHttp(http.url, TOKEN_B);
    const alice = await connectHttp(http.url, TOKEN_A);
    clients.push(bob, alice);
    const before = effectLines().length;
    const first = await callTool(bob, 'execute_code', { script });
    expect(first.isError).toBeFalsy();
    expect(textOf(first)).toMatch(/^SUSPENDED: .*1 tool call needs the user's approval/);
    expect(textOf(first)).toMatch(/ops:deploy \{"service":"api"\}/);
    const sc = first.structuredContent!;
    expect(sc.status).toBe('suspended');
    expect(sc.error.code).toBe('SUSPENDED');
    expect(sc.pending).toEqual([{ callId: expect.any(String), toolId: 'ops:deploy', args: { service: 'api' }, title: 'Deploy a service' }]);
    const id = sc.executionId as string;
    expect(id).toMatch(/^[A-Za-z0-9_-]{22}$/);
    expect(effectLines().slice(before)).toEqual(['read config']);

    // The model asks to continue: nothing is decided, so nothing runs.
    const waiting = await callTool(bob, 'resume_execution', { executionId: id });
    expect(textOf(waiting)).toMatch(/^WAITING: execution .* still waits for the user's decision on 1 call; nothing was run/);
    expect(waiting.structuredContent!.error.code).toBe('UNDECIDED');
    expect(effectLines().slice(before)).toEqual(['read config']);

    // Another principal: no such execution, whatever it tries.
    for (const tool of ['get_execution', 'resume_execution']) {
      const r = await callTool(alice, tool, { executionId: id });
      expect(r.isError).toBe(true);
      expect(textOf(r)).toMatch(/^NOT_FOUND: No execution/);
    }
    const listed = await callTool(alice, 'list_executions', {});
    expect((listed.structuredContent!.executions as { executionId: string }[]).map((e) => e.executionId)).not.toContain(id);
    const store = await engine.store();
    await expect(store.decide(id, tokenPrincipal(TOKEN_A), [{ callId: sc.pending[0].callId, action: 'approve' }])).rejects.toMatchObject({ code: 'NOT_FOUND' });

    // The owner sees it, pending.
    const mine = await callTool(bob, 'get_execution', { executionId: id });
    expect(mine.structuredContent).toMatchObject({ executionId: id, status: 'suspended', pending: [{ toolId: 'ops:deploy' }], result: { logs: [{ message: 'read 6' }] } });
    expect((await callTool(bob, 'list_executions', { status: 'suspended' })).structuredContent!.executions.map((e: { executionId: string }) => e.executionId)).toContain(id);

    // A person decides (what `toolexec approvals approve --token` does), then the model resumes.
    await store.decide(id, tokenPrincipal(TOKEN_B), [{ callId: sc.pending[0].callId, action: 'approve', by: 'test' }]);
    const done = await callTool(bob, 'resume_execution', { executionId: id });
    expect(done.isError).toBeFalsy();
    expect(done.structuredContent).toMatchObject({ ok: true, status: 'completed', value: 'api', executionId: id });
    expect(done.structuredContent!.logs.map((l: { message: string }) => l.message)).toEqual(['read 6']);
    // The read was answered from the journal, not run again.
    expect(effectLines().slice(before)).toEqual(['read config', 'deploy api']);
    // Asking again gives the same result, runs nothing.
    expect((await callTool(bob, 'resume_execution', { executionId: id })).structuredContent!.value).toBe('api');
    expect(effectLines().slice(before)).toEqual(['read config', 'deploy api']);
  });

  it('a client that supports elicitation approves live: one call, one answer', async () => {
    const { client, asked } = await elicitingClient(http.url, TOKEN_A, (req) => {
      const callIds = Object.keys(req.params.requestedSchema?.properties ?? {}).filter((k) => k !== 'reason');
      return { action: 'accept', content: Object.fromEntries(callIds.map((c) => [c, true])) };
    });
    clients.push(client);
    const progress: string[] = [];
    const r = await client.callTool({ name: 'execute_code', arguments: { script } }, undefined, { onprogress: (p) => progress.push(String(p.message)) });
    expect(r.isError).toBeFalsy();
    expect(r.structuredContent).toMatchObject({ ok: true, status: 'completed', value: 'api' });
    expect(asked).toHaveLength(1);
    expect(asked[0]!.params.message).toMatch(/ops:deploy \{"service":"api"\}/);
    expect((r.structuredContent as { toolCalls: { approval?: { by?: string } }[] }).toolCalls[1]!.approval).toMatchObject({ action: 'approve', by: 'live' });
    // Console lines and tool calls went out as progress while the script ran.
    expect(progress).toEqual(expect.arrayContaining(['ops:read ok', 'console: read 6', 'ops:deploy ok']));
  });

  it('a user who declines denies the calls: the script gets APPROVAL_DENIED, which it may catch', async () => {
    const { client } = await elicitingClient(http.url, TOKEN_A, () => ({ action: 'decline' }));
    clients.push(client);
    const r = await client.callTool({ name: 'execute_code', arguments: { script: 'try { await run("ops:deploy", { service: "db" }); return "deployed"; } catch (e) { return e.code + ": " + e.message; }' } });
    expect((r.structuredContent as { value: string }).value).toMatch(/^APPROVAL_DENIED: .*the user declined/);
  });

  it('a user who cancels leaves the calls pending: the execution suspends, and resume_execution asks again', async () => {
    let answers = 0;
    const { client, asked } = await elicitingClient(http.url, TOKEN_A, (req) => {
      answers++;
      if (answers === 1) return { action: 'cancel' };
      const callIds = Object.keys(req.params.requestedSchema?.properties ?? {}).filter((k) => k !== 'reason');
      return { action: 'accept', content: Object.fromEntries(callIds.map((c) => [c, true])) };
    });
    clients.push(client);
    const first = await client.callTool({ name: 'execute_code', arguments: { script: '(await tools.ops.deploy({ service: "web" })).deployed' } });
    const sc = first.structuredContent as { status: string; executionId: string };
    expect(sc.status).toBe('suspended');
    const done = await client.callTool({ name: 'resume_execution', arguments: { executionId: sc.executionId } });
    expect(done.structuredContent).toMatchObject({ status: 'completed', value: 'web' });
    expect(asked).toHaveLength(2);
  });

  it('execute_code as an MCP task: answered with a task at once, progress while it runs, the result (a suspension too) from tasks/result', async () => {
    const { client, asked } = await elicitingClient(http.url, TOKEN_A, () => ({ action: 'accept', content: {} }));
    clients.push(client);
    const { tools } = await client.listTools();
    expect(tools.find((t) => t.name === 'execute_code')!.execution).toEqual({ taskSupport: 'optional' });
    const kinds: string[] = [];
    const progress: string[] = [];
    let result: Record<string, any> | undefined;
    const long = 'for (let i = 0; i < 3; i++) { await run("ops:read", { key: "k" + i }); console.log("step", i); }\n"done"';
    for await (const m of client.experimental.tasks.callToolStream({ name: 'execute_code', arguments: { script: long } }, CallToolResultSchema, { task: { ttl: 60_000 }, onprogress: (p) => progress.push(String(p.message)) })) {
      kinds.push(m.type);
      if (m.type === 'result') result = m.result as Record<string, any>;
      if (m.type === 'error') throw m.error;
    }
    expect(kinds[0]).toBe('taskCreated');
    expect(kinds.at(-1)).toBe('result');
    expect(result!.structuredContent).toMatchObject({ ok: true, value: 'done' });
    expect(progress).toEqual(expect.arrayContaining(['console: step 2']));
    // In a task nobody can be asked: a gated call suspends, even for a client that could answer.
    let suspendedResult: Record<string, any> | undefined;
    for await (const m of client.experimental.tasks.callToolStream({ name: 'execute_code', arguments: { script } }, CallToolResultSchema, { task: { ttl: 60_000 } })) {
      if (m.type === 'result') suspendedResult = m.result as Record<string, any>;
    }
    expect(suspendedResult!.structuredContent).toMatchObject({ status: 'suspended', pending: [{ toolId: 'ops:deploy' }] });
    expect(asked).toHaveLength(0);
  });

  it('an ID that does not exist, or is not one, is simply not found', async () => {
    const c = await connectHttp(http.url, TOKEN_B);
    clients.push(c);
    for (const executionId of [randomBytes(16).toString('base64url'), '../../etc/passwd', 'x'.repeat(64)]) {
      const r = await callTool(c, 'get_execution', { executionId });
      expect(textOf(r)).toMatch(/^NOT_FOUND/);
    }
  });
});
