// Results that cross stdio stay under what the SDK client can read (its read buffer is
// 10 MiB; a longer line closes the connection for good): a larger result becomes a small
// OUTPUT_LIMIT error result, and the same client goes on. Deep values are never pretty-printed,
// and one too deep for the host's JSON becomes NOT_SERIALIZABLE instead of a lost answer.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { SDK_STDIO_READ_BUFFER_BYTES, STDIO_MAX_MESSAGE_BYTES } from '../../src/server/toolexec-server.js';
import { callTool, CLI, SLOW_TOOLS_FIXTURE, textOf } from './helpers.js';

const MB = 1024 * 1024;

describe('toolexec serve over stdio: results the client can read', { timeout: 120_000 }, () => {
  let client: Client;
  let stderr = '';

  beforeAll(async () => {
    const dir = mkdtempSync(join(tmpdir(), 'toolexec-result-size-'));
    const config = join(dir, 'toolexec.config.json');
    // A config that allows 16 MiB of output: the transport's bound is what must stop it.
    writeFileSync(config, JSON.stringify({ tools: [SLOW_TOOLS_FIXTURE], limits: { maxOutputBytes: 16 * MB, memoryMb: 128, timeoutMs: 20_000 } }));
    const transport = new StdioClientTransport({ command: process.execPath, args: [CLI, 'serve', '--config', config], stderr: 'pipe' });
    transport.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
    client = new Client({ name: 'result-size-test', version: '1.0.0' });
    await client.connect(transport);
  });
  afterAll(async () => {
    await client?.close();
  });

  const stillServes = async (label: string) => {
    const r = await callTool(client, 'execute_code', { script: 'return 6 * 7' });
    expect(r.structuredContent?.value, `after ${label}: ${stderr}`).toBe(42);
  };

  it('the bound is the SDK client buffer less headroom', () => {
    expect(SDK_STDIO_READ_BUFFER_BYTES).toBe(10 * MB);
    expect(STDIO_MAX_MESSAGE_BYTES).toBe(9 * MB);
  });

  it('a large result that fits arrives whole', async () => {
    const r = await callTool(client, 'execute_code', { script: "return 'y'.repeat(3_000_000)" });
    expect(r.isError, textOf(r).slice(0, 200)).toBeFalsy();
    expect((r.structuredContent!.value as string).length).toBe(3_000_000);
    await stillServes('a large result');
  });

  it('execute_code: a value too large for the transport is OUTPUT_LIMIT, with the stats kept', async () => {
    const r = await callTool(client, 'execute_code', { script: "await run('math:add', { a: 1, b: 2 }); return 'x'.repeat(6_000_000)" });
    expect(r.isError).toBe(true);
    expect(r.structuredContent!.error.code).toBe('OUTPUT_LIMIT');
    expect(textOf(r)).toMatch(new RegExp(`^OUTPUT_LIMIT: The result is \\d+ bytes as a JSON-RPC message; this session carries at most ${STDIO_MAX_MESSAGE_BYTES}`));
    expect(textOf(r)).toMatch(/the script itself succeeded/);
    expect(r.structuredContent!.stats.outputBytes).toBeGreaterThan(6_000_000);
    // The ledger survives, without arguments.
    expect(r.structuredContent!.toolCalls).toEqual([expect.objectContaining({ toolId: 'math:add', ok: true })]);
    expect(r.structuredContent!.toolCalls[0].args).toBeUndefined();
    await stillServes('a value too large');
  });

  it('execute_code: logs too large for the transport are OUTPUT_LIMIT', async () => {
    const r = await callTool(client, 'execute_code', { script: "for (let i = 0; i < 6; i++) console.log('z'.repeat(1_000_000)); return 1" });
    expect(r.structuredContent!.error.code).toBe('OUTPUT_LIMIT');
    expect(r.structuredContent!.logs).toEqual([]);
    await stillServes('large logs');
  });

  it('run_tool and run_chain: an upstream result too large is OUTPUT_LIMIT', async () => {
    const one = await callTool(client, 'run_tool', { toolId: 'big:text', args: { chars: 6_000_000 } });
    expect(one.isError).toBe(true);
    expect(textOf(one)).toMatch(/^OUTPUT_LIMIT: .*Ask for less/);
    await stillServes('run_tool');
    const chain = await callTool(client, 'run_chain', { steps: [{ toolId: 'big:text', args: { chars: 6_000_000 } }] });
    expect(chain.isError).toBe(true);
    expect(textOf(chain)).toMatch(/^OUTPUT_LIMIT/);
    await stillServes('run_chain');
  });

  it('a value 2,000 levels deep comes back as compact JSON, at once', async () => {
    const r = await callTool(client, 'execute_code', { script: 'let v = 1; for (let i = 0; i < 2000; i++) v = [v]; return v' });
    expect(r.isError, textOf(r).slice(0, 200)).toBeFalsy();
    const text = textOf(r);
    // Compact: 2,000 brackets each side; indented, it would be millions of characters.
    expect(text).toBe(`${'['.repeat(2000)}1${']'.repeat(2000)}`);
    await stillServes('a deep value');
  });

  it('a value too deep for the host to serialize is NOT_SERIALIZABLE, not a lost answer', async () => {
    const r = await callTool(client, 'execute_code', { script: 'let v = 1; for (let i = 0; i < 6000; i++) v = [v]; return v' });
    expect(r.isError).toBe(true);
    expect(r.structuredContent!.error.code).toBe('NOT_SERIALIZABLE');
    await stillServes('a value too deep');
  });
});
