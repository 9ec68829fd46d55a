import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { CLI, writeServeConfig } from './helpers.js';
import { defineServeSuite } from './serve-suite.js';

// `node dist/cli/main.js serve --config <file>` as an MCP client would start it.
defineServeSuite('stdio', async () => {
  const config = writeServeConfig();
  const transport = new StdioClientTransport({ command: process.execPath, args: [CLI, 'serve', '--config', config], stderr: 'pipe' });
  let stderr = '';
  transport.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  const client = new Client({ name: 'toolexec-test', version: '1.0.0' });
  try {
    await client.connect(transport);
  } catch (e) {
    throw new Error(`toolexec serve did not start: ${(e as Error).message}\n${stderr}`);
  }
  return { client, close: () => client.close(), ...(transport.pid !== null ? { pid: transport.pid } : {}) };
});
