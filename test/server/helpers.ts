// The real upstream servers (server-everything, server-memory) from node_modules, run with
// this Node binary, and a config file for `toolexec serve` written to a temp directory.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));

export const ROOT = resolve(here, '..', '..');
export const CLI = join(ROOT, 'dist', 'cli', 'main.js');
export const TOOLS_FIXTURE = join(ROOT, 'test', 'fixtures', 'server', 'tools.mjs');

import { EVERYTHING_BIN, MEMORY_BIN } from '../backends/mcp/helpers.js';

export { binOf, EVERYTHING_BIN, MEMORY_BIN, freePort } from '../backends/mcp/helpers.js';

/** Writes a config with both upstream servers and the local tool fixture; returns its path. */
export function writeServeConfig(extra: Record<string, unknown> = {}): string {
  const dir = mkdtempSync(join(tmpdir(), 'toolexec-serve-'));
  const config = {
    mcpServers: {
      everything: { command: process.execPath, args: [EVERYTHING_BIN, 'stdio'] },
      memory: { command: process.execPath, args: [MEMORY_BIN], env: { MEMORY_FILE_PATH: join(dir, 'memory.jsonl') } },
    },
    tools: [TOOLS_FIXTURE],
    deny: ['secret:*'],
    limits: { timeoutMs: 5000, memoryMb: 64 },
    ...extra,
  };
  const file = join(dir, 'toolexec.config.json');
  writeFileSync(file, JSON.stringify(config, null, 2));
  return file;
}

/** Text of the first content item of a tool result. */
export function textOf(result: { content?: unknown }): string {
  const c = (result.content as { type: string; text?: string }[] | undefined)?.[0];
  return c?.type === 'text' ? c.text ?? '' : '';
}
