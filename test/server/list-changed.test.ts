// Upstream tool changes reaching a client: the fixture MCP server adds tools at runtime and
// sends list_changed; toolexec's session must tell its client only when what it exposes
// (execute_code's description) changed. In-process server and the SDK's real Client, joined
// by the SDK's in-memory transport pair.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { InMemoryTransport } from '@modelcontextprotocol/sdk/inMemory.js';
import { ToolListChangedNotificationSchema } from '@modelcontextprotocol/sdk/types.js';
import { checkConfig } from '../../src/config/load-config.js';
import { createEngine, type Engine } from '../../src/engine/engine.js';
import { ToolexecServer } from '../../src/server/toolexec-server.js';
import { ROOT } from './helpers.js';

const FIXTURE_SERVER = join(ROOT, 'test', 'fixtures', 'mcp', 'fixture-server.mjs');

async function waitFor(check: () => boolean | Promise<boolean>, what: string): Promise<void> {
  // Bounded by the test timeout; polls a behaviour, not a duration.
  while (!(await check())) await new Promise((r) => setTimeout(r, 20));
  void what;
}

describe('notifications/tools/list_changed', () => {
  let engine: Engine;
  let server: ToolexecServer;
  let client: Client;
  let notifications = 0;

  beforeAll(async () => {
    const config = checkConfig({
      mcpServers: { fixture: { command: process.execPath, args: [FIXTURE_SERVER] } },
      deny: ['fixture:hidden*'],
    });
    engine = await createEngine(config, { onServerError: 'throw' });
    server = await new ToolexecServer(engine).start();
    const [clientSide, serverSide] = InMemoryTransport.createLinkedPair();
    await server.connect(serverSide);
    client = new Client({ name: 'list-changed-test', version: '1.0.0' });
    client.setNotificationHandler(ToolListChangedNotificationSchema, () => {
      notifications++;
    });
    await client.connect(clientSide);
  });
  afterAll(async () => {
    await client?.close();
    await server?.close();
    await engine?.close();
  });

  const executeDescription = async () => (await client.listTools()).tools.find((t) => t.name === 'execute_code')!.description!;

  it('forwards an upstream change that alters what the server exposes', async () => {
    expect(await executeDescription()).not.toMatch(/dyn_one/);
    const r = await client.callTool({ name: 'run_tool', arguments: { toolId: 'fixture:set-tools', args: { add: ['dyn_one'] } } });
    expect(r.isError).toBeFalsy();
    await waitFor(() => notifications >= 1, 'list_changed');
    expect(await executeDescription()).toMatch(/dyn_one/);
    const found = await client.callTool({ name: 'search_tools', arguments: { query: 'dyn_one' } });
    expect((found.structuredContent as { items: { id: string }[] }).items[0]!.id).toBe('fixture:dyn_one');
  });

  it('stays quiet when only hidden tools change', async () => {
    const before = notifications;
    await client.callTool({ name: 'run_tool', arguments: { toolId: 'fixture:set-tools', args: { add: ['hidden_one'] } } });
    await waitFor(() => engine.baseIndex.has('fixture:hidden_one'), 'the hidden tool to be imported');
    // A visible change after it: notifications are sent in order, so a notification for
    // the hidden tool would have to arrive before this one.
    await client.callTool({ name: 'run_tool', arguments: { toolId: 'fixture:set-tools', args: { add: ['dyn_two'] } } });
    await waitFor(() => notifications > before, 'list_changed');
    await waitFor(async () => /dyn_two/.test(await executeDescription()), 'the new description');
    expect(notifications).toBe(before + 1);
    expect(await executeDescription()).not.toMatch(/hidden_one/);
    const run = await client.callTool({ name: 'run_tool', arguments: { toolId: 'fixture:hidden_one' } });
    expect(run.isError).toBe(true);
  });

  it('a removal is forwarded too', async () => {
    const before = notifications;
    await client.callTool({ name: 'run_tool', arguments: { toolId: 'fixture:set-tools', args: { remove: ['dyn_one'] } } });
    await waitFor(() => notifications > before, 'list_changed');
    expect(await executeDescription()).not.toMatch(/dyn_one/);
  });
});
