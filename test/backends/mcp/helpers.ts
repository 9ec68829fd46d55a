// Paths and configs for the real MCP servers the tests start: the reference servers from
// node_modules (run with this Node binary) and our fixture server.
import { createRequire } from 'node:module';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createServer } from 'node:net';
import { spawn, type ChildProcess } from 'node:child_process';
import { expect } from 'vitest';
import { ToolError } from '../../../src/model/errors.js';

const require = createRequire(import.meta.url);
const here = dirname(fileURLToPath(import.meta.url));

/** The entry script of a package's bin, to run with this Node binary. */
export function binOf(pkg: string): string {
  const pkgJson = require.resolve(`${pkg}/package.json`);
  const meta = JSON.parse(readFileSync(pkgJson, 'utf8')) as { bin: string | Record<string, string> };
  const bin = typeof meta.bin === 'string' ? meta.bin : Object.values(meta.bin)[0]!;
  return resolve(dirname(pkgJson), bin);
}

export const EVERYTHING_BIN = binOf('@modelcontextprotocol/server-everything');
export const MEMORY_BIN = binOf('@modelcontextprotocol/server-memory');
export const FIXTURE_SERVER = resolve(here, '../../fixtures/mcp/fixture-server.mjs');

export function everythingStdio(extra: Record<string, unknown> = {}) {
  return { command: process.execPath, args: [EVERYTHING_BIN, 'stdio'], ...extra };
}

export function memoryStdio() {
  const dir = mkdtempSync(join(tmpdir(), 'toolexec-memory-'));
  return { command: process.execPath, args: [MEMORY_BIN], env: { MEMORY_FILE_PATH: join(dir, 'memory.jsonl') } };
}

export function fixtureStdio(env: Record<string, string> = {}, extra: Record<string, unknown> = {}) {
  return { command: process.execPath, args: [FIXTURE_SERVER], env, ...extra };
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

/** Starts server-everything in Streamable HTTP (or old SSE) mode on `port`; resolves once it listens. */
export async function startEverythingHttp(port: number, mode: 'streamableHttp' | 'sse' = 'streamableHttp'): Promise<ChildProcess> {
  const child = spawn(process.execPath, [EVERYTHING_BIN, mode], {
    env: { ...process.env, PORT: String(port) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  await new Promise<void>((resolveStart, reject) => {
    const timer = setTimeout(() => reject(new Error(`server-everything did not start on port ${port}:\n${output}`)), 20_000);
    const onData = (d: Buffer) => {
      output += d.toString();
      if (output.includes(`listening on port ${port}`) || output.includes(`running on port ${port}`)) {
        clearTimeout(timer);
        resolveStart();
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`server-everything exited with ${code}:\n${output}`));
    });
  });
  return child;
}

export function stopChild(child: ChildProcess | undefined): Promise<void> {
  if (!child || child.exitCode !== null) return Promise.resolve();
  return new Promise((done) => {
    child.once('exit', () => done());
    child.kill('SIGTERM');
    setTimeout(() => child.kill('SIGKILL'), 3000).unref();
  });
}

/** Polls `check` until it returns true (behavioural wait, bounded by the test timeout). */
export async function waitFor(check: () => boolean | Promise<boolean>, what: string, limitMs = 10_000): Promise<void> {
  const start = Date.now();
  while (!(await check())) {
    if (Date.now() - start > limitMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** A CallContext for calling a backend directly. */
export function ctxFor(server: string, tool: string, extra: Record<string, unknown> = {}) {
  return { signal: new AbortController().signal, toolId: `${server}:${tool}`, descriptor: { kind: 'mcp' as const, name: server, tool }, ...extra };
}

/** The ToolError a promise rejects with; fails the test when it resolves or throws anything else. */
export async function rejection(p: Promise<unknown>): Promise<ToolError> {
  try {
    await p;
  } catch (err) {
    expect(err).toBeInstanceOf(ToolError);
    return err as ToolError;
  }
  throw new Error('expected the call to fail');
}
