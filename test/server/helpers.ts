// The real upstream servers (server-everything, server-memory) from node_modules, run with
// this Node binary, and a config file for `toolexec serve` written to a temp directory.
import { createRequire } from 'node:module';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createServer } from 'node:net';

const require = createRequire(import.meta.url);
const here = dirname(fileURLToPath(import.meta.url));

export const ROOT = resolve(here, '..', '..');
export const CLI = join(ROOT, 'dist', 'cli', 'main.js');
export const TOOLS_FIXTURE = join(ROOT, 'test', 'fixtures', 'server', 'tools.mjs');

export function binOf(pkg: string): string {
  const pkgJson = require.resolve(`${pkg}/package.json`);
  const meta = JSON.parse(readFileSync(pkgJson, 'utf8')) as { bin: string | Record<string, string> };
  const bin = typeof meta.bin === 'string' ? meta.bin : Object.values(meta.bin)[0]!;
  return resolve(dirname(pkgJson), bin);
}

export const EVERYTHING_BIN = binOf('@modelcontextprotocol/server-everything');
export const MEMORY_BIN = binOf('@modelcontextprotocol/server-memory');

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

/** A free loopback port (bound and released). */
export function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      srv.close(() => (typeof addr === 'object' && addr ? resolvePort(addr.port) : reject(new Error('no port'))));
    });
  });
}

/** Text of the first content item of a tool result. */
export function textOf(result: { content?: unknown }): string {
  const c = (result.content as { type: string; text?: string }[] | undefined)?.[0];
  return c?.type === 'text' ? c.text ?? '' : '';
}
