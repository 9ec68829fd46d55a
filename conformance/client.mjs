#!/usr/bin/env node
// The client entry the MCP conformance suite (@modelcontextprotocol/conformance) runs for its
// client scenarios: `node conformance/client.mjs <server-url>`, the scenario name in
// $MCP_CONFORMANCE_SCENARIO and its data (pre-registered credentials) in
// $MCP_CONFORMANCE_CONTEXT. It does what a toolexec user does, with toolexec's own code:
// `toolexec auth` (authorizeMcpServer; the "browser" follows the authorization URL, and the
// suite's authorization server redirects straight back to our loopback callback), then a
// connection like `toolexec serve` makes (McpConnection + McpBackend): list the tools and call
// one. A call that needs a new sign-in (step-up to more scopes) signs in again, once, as the
// user would after reading the error. Run through `npm run conformance:client`.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ToolError } from '../dist/index.js';
import { authorizeMcpServer, McpAuthRequiredError, McpBackend, McpConnection, parseMcpServer } from '../dist/mcp.js';

const url = process.argv.at(-1);
const scenario = process.env.MCP_CONFORMANCE_SCENARIO ?? '';
const context = process.env.MCP_CONFORMANCE_CONTEXT ? JSON.parse(process.env.MCP_CONFORMANCE_CONTEXT) : {};

const oauth = {
  // Offered where the authorization server supports client ID metadata documents (SEP-991);
  // elsewhere dynamic client registration is used.
  clientMetadataUrl: 'https://conformance-test.local/client-metadata.json',
  ...(context.client_id ? { clientId: context.client_id } : {}),
  ...(context.client_secret ? { clientSecret: context.client_secret } : {}),
};
const { config, problems } = parseMcpServer('conformance', { url, type: 'streamable-http', oauth });
if (!config) throw new Error(problems.join('\n'));

const oauthDir = mkdtempSync(join(tmpdir(), 'toolexec-conformance-'));
const log = (line) => process.stderr.write(`[toolexec ${scenario}] ${line}\n`);

async function signIn() {
  const result = await authorizeMcpServer(config, {
    oauthDir,
    timeoutMs: 15_000,
    open: async (authorizationUrl) => {
      // The browser: follow the authorization endpoint's redirect back to our loopback callback.
      const response = await fetch(authorizationUrl);
      log(`authorization URL followed: ${response.status}`);
    },
  });
  log(`sign-in: ${result.status}, ${result.tools} tools`);
}

async function useServer() {
  const connection = new McpConnection(config, { oauthDir });
  try {
    const tools = await connection.listTools();
    log(`tools: ${tools.map((t) => t.name).join(', ')}`);
    const backend = new McpBackend(connection);
    const name = tools.some((t) => t.name === 'test-tool') ? 'test-tool' : tools[0]?.name;
    if (name) {
      const result = await backend.call(`conformance:${name}`, {}, { signal: new AbortController().signal, toolId: `conformance:${name}`, descriptor: { kind: 'mcp', name: 'conformance', tool: name } });
      log(`called ${name}: ${JSON.stringify(result.structured ?? null).slice(0, 200)}`);
    }
  } finally {
    await connection.close();
  }
}

const needsSignIn = (e) => e instanceof McpAuthRequiredError || (e instanceof ToolError && e.data?.code === 'MCP_AUTH_REQUIRED');

let code = 0;
try {
  await signIn();
  try {
    await useServer();
  } catch (e) {
    if (!needsSignIn(e)) throw e;
    log(`needs a new sign-in: ${e.message}`);
    await signIn();
    await useServer();
  }
} catch (e) {
  log(`failed: ${e instanceof Error ? e.message : String(e)}`);
  code = 1;
} finally {
  rmSync(oauthDir, { recursive: true, force: true });
}
process.exit(code);
