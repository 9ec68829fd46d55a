// toolexec inside your own program: an engine built from a config (toolexec/engine), served
// as an MCP server over Streamable HTTP (toolexec/server), then used by an MCP client.
// Run with: node examples/embed-server.mjs
import { fileURLToPath } from 'node:url';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { checkConfig, createEngine } from 'toolexec/engine';
import { ToolexecServer, serveHttp } from 'toolexec/server';

// The same object a toolexec.config.json holds; `loadConfig(path)` reads one from a file.
const config = checkConfig(
  { tools: ['./tools.mjs'], deny: ['github:list_issues'], limits: { timeoutMs: 5000, maxToolCalls: 20 } },
  { dir: fileURLToPath(new URL('.', import.meta.url)) },
);
const engine = await createEngine(config);
const server = await new ToolexecServer(engine).start();
const http = await serveHttp(server, { port: 0, token: 'example-token-1234' }); // 127.0.0.1, a free port

const client = new Client({ name: 'example-client', version: '1.0.0' });
await client.connect(new StreamableHTTPClientTransport(new URL(http.url), { requestInit: { headers: { Authorization: 'Bearer example-token-1234' } } }));
try {
  console.log('tools:', (await client.listTools()).tools.map((t) => t.name).join(', '));
  const result = await client.callTool({
    name: 'execute_code',
    arguments: {
      script: `
        const issue = await tools.github.create_issue({ title: 'Crash on start', body: 'a bug' });
        let hidden;
        try { await run('github:list_issues', {}); } catch (e) { hidden = e.code; }
        return { number: issue.number, hidden };
      `,
    },
  });
  console.log('execute_code:', JSON.stringify(result.structuredContent.value));
} finally {
  await client.close();
  await http.close();
  await server.close();
  await engine.close();
}
