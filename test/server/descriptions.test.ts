// execute_code's description: declarations while they fit, else a tool list, else namespaces;
// and requests for tools this server does not have.
import { afterAll, describe, expect, it } from 'vitest';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { InMemoryTransport } from '@modelcontextprotocol/sdk/inMemory.js';
import { checkConfig } from '../../src/config/load-config.js';
import { createEngine, type Engine } from '../../src/engine/engine.js';
import { ToolexecServer } from '../../src/server/toolexec-server.js';
import { TOOLS_FIXTURE, textOf } from './helpers.js';

const engines: Engine[] = [];
const clients: Client[] = [];
afterAll(async () => {
  for (const c of clients) await c.close();
  for (const e of engines) await e.close();
});

async function connect(options: ConstructorParameters<typeof ToolexecServer>[1], config: Record<string, unknown> = { tools: [TOOLS_FIXTURE] }) {
  const engine = await createEngine(checkConfig(config));
  engines.push(engine);
  const server = await new ToolexecServer(engine, options).start();
  const [a, b] = InMemoryTransport.createLinkedPair();
  await server.connect(b);
  const client = new Client({ name: 'descriptions', version: '1' });
  await client.connect(a);
  clients.push(client);
  return client;
}

const describeExecute = async (client: Client) => (await client.listTools()).tools.find((t) => t.name === 'execute_code')!.description!;

describe('execute_code description', () => {
  it('embeds the declarations when they fit', async () => {
    const d = await describeExecute(await connect({}));
    expect(d).toMatch(/```ts\n[\s\S]*declare const tools[\s\S]*add\(args: \{[\s\S]*```/);
  });

  it('falls back to a tool list, then to namespaces', async () => {
    const list = await describeExecute(await connect({ maxTypesChars: 200 }));
    expect(list).not.toMatch(/declare const tools/);
    expect(list).toMatch(/- math:add: Add two numbers/);
    const namespaces = await describeExecute(await connect({ maxTypesChars: 20 }));
    expect(namespaces).toMatch(/- math: 2 tools/);
  });

  it('says so when no tool is exposed', async () => {
    const d = await describeExecute(await connect({}, { tools: [TOOLS_FIXTURE], allow: ['nothing:*'] }));
    expect(d).toMatch(/No tools are available right now/);
  });
});

describe('requests the server cannot serve', () => {
  it('answers unknown tools and bad arguments with isError results', async () => {
    const client = await connect({});
    const unknown = await client.callTool({ name: 'rm_rf', arguments: {} });
    expect(unknown.isError).toBe(true);
    expect(textOf(unknown)).toMatch(/^TOOL_NOT_FOUND: This server has no tool "rm_rf"; its tools are search_tools/);
    const detail = await client.callTool({ name: 'describe_tool', arguments: { toolId: 'math:add', detail: 'everything' } });
    expect(textOf(detail)).toMatch(/^INPUT_VALIDATION: .*\/detail/);
    const extra = await client.callTool({ name: 'run_chain', arguments: { steps: [], mode: 'fast' } });
    expect(textOf(extra)).toMatch(/^INPUT_VALIDATION: .*steps.*mode|^INPUT_VALIDATION: .*mode.*steps/);
    const huge = await client.callTool({ name: 'execute_code', arguments: { script: 'x'.repeat(1_000_001) } });
    expect(textOf(huge)).toMatch(/^INPUT_VALIDATION: .*\/script/);
  });
});
