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

import { spawn, type ChildProcess } from 'node:child_process';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { freePort as pickPort } from '../backends/mcp/helpers.js';

export const SLOW_TOOLS_FIXTURE = join(ROOT, 'test', 'fixtures', 'server', 'slow-tools.mjs');

/** A running `toolexec serve` child with its stderr so far. */
export interface ServeProcess {
  child: ChildProcess;
  url: string;
  /** Everything the process wrote on stderr until now. */
  stderr(): string;
}

/** Starts `toolexec serve --http <free port> ...args`; resolves with the endpoint once it listens. */
export async function startServeHttp(args: string[], env: Record<string, string> = {}): Promise<ServeProcess> {
  const port = await pickPort();
  const child = spawn(process.execPath, [CLI, 'serve', '--http', String(port), ...args], { cwd: ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stderr!.on('data', (d: Buffer) => (output += d.toString()));
  const url = await new Promise<string>((resolveUrl, reject) => {
    const onData = () => {
      const m = /listening on (\S+)/.exec(output);
      if (m) {
        child.stderr!.off('data', onData);
        resolveUrl(m[1]!);
      }
    };
    child.stderr!.on('data', onData);
    child.once('exit', (code) => reject(new Error(`toolexec serve exited with ${code}:\n${output}`)));
  });
  return { child, url, stderr: () => output };
}

/** SIGTERM, then SIGKILL after 3 s; resolves when the child has exited. */
export function stopProcess(child: ChildProcess | undefined): Promise<void> {
  if (!child || child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((done) => {
    child.once('exit', () => done());
    child.kill('SIGTERM');
    setTimeout(() => child.kill('SIGKILL'), 3000).unref();
  });
}

/** An SDK client connected over Streamable HTTP (with a bearer token when given). */
export async function connectHttp(url: string, token?: string): Promise<Client> {
  const transport = new StreamableHTTPClientTransport(new URL(url), token ? { requestInit: { headers: { Authorization: `Bearer ${token}` } } } : {});
  const client = new Client({ name: 'toolexec-test', version: '1.0.0' });
  await client.connect(transport);
  return client;
}

/** A tool result as the tests read it. */
export type CallResult = { isError?: boolean; content?: unknown; structuredContent?: Record<string, any> };

/** Calls a tool and returns its result (no per-request timeout beyond the SDK's default 60 s unless given). */
export async function callTool(client: Client, name: string, args: Record<string, unknown> = {}, options: { timeout?: number; onprogress?: (p: { progress: number }) => void } = {}): Promise<CallResult> {
  return (await client.callTool({ name, arguments: args }, undefined, options)) as CallResult;
}

import { createServer, request, type Server as HttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface Proxy {
  url: string;
  /** Requests sent to each target, by method. */
  counts: { POST: number; GET: number; DELETE: number }[];
  close(): Promise<void>;
}

/** A round-robin reverse proxy on 127.0.0.1: each request goes to the next target, streamed both ways. */
export async function roundRobin(targets: string[]): Promise<Proxy> {
  let next = 0;
  const counts = targets.map(() => ({ POST: 0, GET: 0, DELETE: 0 }));
  const server: HttpServer = createServer((req, res) => {
    const k = next++ % targets.length;
    const method = (req.method ?? 'GET') as 'POST' | 'GET' | 'DELETE';
    if (method in counts[k]!) counts[k]![method]++;
    const target = new URL(targets[k]!);
    const upstream = request({ host: target.hostname, port: target.port, path: req.url, method: req.method, headers: req.headers }, (up) => {
      res.writeHead(up.statusCode ?? 502, up.headers);
      up.pipe(res);
    });
    upstream.on('error', () => {
      if (!res.headersSent) res.writeHead(502);
      res.end();
    });
    res.on('close', () => upstream.destroy());
    req.pipe(upstream);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}/mcp`,
    counts,
    close: () =>
      new Promise((r) => {
        server.close(() => r());
        server.closeAllConnections();
      }),
  };
}

