// MCP servers as tools (toolexec/mcp): connect to the servers of an `mcpServers` config, import
// their tools into the runner's index, and call them from a sandboxed script.
// Run with: node examples/mcp-client.mjs   (starts @modelcontextprotocol/server-memory with npx)
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Executor, Runner } from 'toolexec';
import { connectMcpServers, parseMcpServers } from 'toolexec/mcp';

const servers = parseMcpServers({
  memory: {
    command: 'npx',
    args: ['-y', '@modelcontextprotocol/server-memory'],
    env: { MEMORY_FILE_PATH: join(mkdtempSync(join(tmpdir(), 'toolexec-example-')), 'memory.jsonl') },
  },
});
const runner = new Runner();
const mcp = await connectMcpServers(servers, { runner, index: runner.index });
const executor = new Executor({ runner });
try {
  console.log('imported:', runner.index.list({ namespace: 'memory' }).length, 'tools');
  const result = await executor.execute(`
    await tools.memory.create_entities({ entities: [{ name: 'toolexec', entityType: 'project', observations: ['runs scripts'] }] });
    const { entities } = await run('memory:open_nodes', { names: ['toolexec'] });
    return entities[0].observations;
  `);
  console.log('script:', JSON.stringify(result.value));
} finally {
  await executor.dispose();
  await mcp.close();
}
