// execute_code's description: declarations that degrade step by step to fit a budget (with the
// real reference servers behind), and requests for tools this server does not have.
import { afterAll, describe, expect, it } from 'vitest';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { InMemoryTransport } from '@modelcontextprotocol/sdk/inMemory.js';
import { checkConfig } from '../../src/config/load-config.js';
import { createEngine, type Engine } from '../../src/engine/engine.js';
import { ToolexecServer } from '../../src/server/toolexec-server.js';
import { DEFAULT_DESCRIPTION_BUDGET } from '../../src/server/toolexec-server.js';
import { everythingStdio, memoryStdio } from '../backends/mcp/helpers.js';
import { typecheck } from '../code/tsc.js';
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
    expect(d).toMatch(/typecheck: true/);
  });

  it('degrades to fit a small budget: docs go first, then whole namespaces become one line', async () => {
    const full = await describeExecute(await connect({}));
    expect(full).toContain('/** Add two numbers */');
    const bare = await describeExecute(await connect({ descriptionBudget: full.length - 40 }));
    expect(bare.length).toBeLessThanOrEqual(full.length - 40);
    expect(bare).toMatch(/add\(args: \{ a: number; b: number \}\)/);
    // The longest doc goes first.
    expect(bare).not.toContain('/** Hidden by the deny pattern in the test config */');
    const namespaces = await describeExecute(await connect({ descriptionBudget: 3_000 }));
    expect(namespaces).toMatch(/\/\/   math: 2 tools/);
    expect(namespaces).not.toMatch(/math:add/);
  });

  it('says so when no tool is exposed', async () => {
    const d = await describeExecute(await connect({}, { tools: [TOOLS_FIXTURE], allow: ['nothing:*'] }));
    expect(d).toMatch(/No tools are available right now/);
  });
});

describe('execute_code description for real servers (server-everything + server-memory)', { timeout: 120_000 }, () => {
  const upstream = () => ({
    mcpServers: { everything: everythingStdio(), memory: memoryStdio() },
  });
  const tsBlock = (d: string) => /```ts\n([\s\S]*)\n```$/.exec(d)![1]!;

  it('fits the default budget with every tool, declared once, as valid TypeScript', async () => {
    const d = await describeExecute(await connect({}, upstream()));
    expect(d.length).toBeLessThanOrEqual(DEFAULT_DESCRIPTION_BUDGET);
    const ts = tsBlock(d);
    for (const name of ['get_sum', 'echo', 'create_entities', 'read_graph']) expect(ts.match(new RegExp(`\\b${name}\\(args`, 'g')), name).toHaveLength(1);
    // Tools without an output schema say what their result is.
    expect(ts).toMatch(/get_sum\(args: \{[^}]*\}\): Promise<Unstructured>;/);
    expect(ts).toMatch(/a single text item\n[^\n]*arrives as that string/);
    expect(typecheck(ts, 'async function main() { const g = await tools.memory.read_graph(); return g.entities.map((e) => e.name); }\nvoid main;')).toEqual([]);
  });

  it('serve.descriptionBudget in the config degrades step by step, each step within the budget', async () => {
    const sizes: number[] = [];
    for (const budget of [10_000, 7_000, 4_500, 3_500]) {
      const d = await describeExecute(await connect({}, { ...upstream(), serve: { descriptionBudget: budget } }));
      expect(d.length).toBeLessThanOrEqual(budget);
      expect(typecheck(tsBlock(d), 'void tools; void run;')).toEqual([]);
      sizes.push(d.length);
      if (budget === 4_500) expect(d).toMatch(/\/\/   (everything|memory):[\w-]+: /);
      if (budget === 3_500) expect(d).toMatch(/\/\/   everything: 13 tools\n\/\/   memory: 9 tools/);
    }
    expect([...sizes].sort((a, b) => b - a)).toEqual(sizes);
    // An option given to the server wins over the config.
    const d = await describeExecute(await connect({ descriptionBudget: 3_500 }, { ...upstream(), serve: { descriptionBudget: 30_000 } }));
    expect(d.length).toBeLessThanOrEqual(3_500);
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
