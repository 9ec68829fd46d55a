// A client cancelling execute_code (notifications/cancelled) stops the script in its
// sandbox: the execution ends as CANCELLED long before its own time limit would end it.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { InMemoryTransport } from '@modelcontextprotocol/sdk/inMemory.js';
import { checkConfig } from '../../src/config/load-config.js';
import { createEngine, type Engine } from '../../src/engine/engine.js';
import type { ExecuteResult } from '../../src/code/types.js';
import { ToolexecServer } from '../../src/server/toolexec-server.js';
import { TOOLS_FIXTURE } from './helpers.js';

describe('cancelling execute_code', () => {
  let engine: Engine;
  let server: ToolexecServer;
  let client: Client;
  const finished: ExecuteResult[] = [];

  beforeAll(async () => {
    engine = await createEngine(checkConfig({ tools: [TOOLS_FIXTURE] }));
    // Observe what the executor returned, which the cancelled client never sees.
    const execute = engine.execute;
    (engine as { execute: Engine['execute'] }).execute = async (script, options) => {
      const r = await execute(script, options);
      finished.push(r);
      return r;
    };
    server = await new ToolexecServer(engine).start();
    const [a, b] = InMemoryTransport.createLinkedPair();
    await server.connect(b);
    client = new Client({ name: 'cancel-test', version: '1.0.0' });
    await client.connect(a);
  });
  afterAll(async () => {
    await client?.close();
    await server?.close();
    await engine?.close();
  });

  it('ends the script as CANCELLED and the session goes on', async () => {
    const ac = new AbortController();
    // The script's first tool call reports progress; cancel then, while it spins.
    const call = client.callTool(
      { name: 'execute_code', arguments: { script: 'await run("math:add", { a: 1, b: 1 }); while (true) {}', timeoutMs: 600_000 } },
      undefined,
      { signal: ac.signal, onprogress: () => ac.abort('enough'), timeout: 600_000 },
    );
    await expect(call).rejects.toThrow();
    while (finished.length === 0) await new Promise((r) => setTimeout(r, 20));
    expect(finished[0]!.error?.code).toBe('CANCELLED');
    expect(finished[0]!.toolCalls).toHaveLength(1);
    const next = await client.callTool({ name: 'execute_code', arguments: { script: '21 * 2' } });
    expect((next.structuredContent as { value: number }).value).toBe(42);
  });
});
