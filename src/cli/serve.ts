/**
 * `toolexec serve`: the MCP server, over stdio (default) or Streamable HTTP (`--http`, with
 * `--stateless` for replicas behind a load balancer). It says what it is doing on stderr (a
 * start-up summary; with `--verbose` one line per tool call) and runs until the client
 * disconnects (stdio), the process gets SIGINT/SIGTERM/SIGHUP, or the process that started it
 * goes away (so that killing a wrapper such as `npx` never leaves a server behind).
 */
import { InvalidArgumentError, type Command } from 'commander';
import { ToolexecServer, type ServerCallEvent } from '../server/toolexec-server.js';
import { serveStdio } from '../server/stdio.js';
import { DEFAULT_HTTP_HOST, serveHttp } from '../server/http.js';
import { createRedactor, formatRedacted, type Redactor } from '../server/redact.js';
import type { Engine } from '../engine/engine.js';
import { defaultStorePath } from '../engine/store.js';
import { addEngineOptions, openEngine, type EngineCliOptions } from './tools-command.js';
import { collect, UsageError } from './util.js';

/** Environment variable holding the bearer token when `--token` is not given. */
export const TOKEN_ENV = 'TOOLEXEC_TOKEN';

/** How often the parent process is checked (a reparented process sees its `ppid` change). */
const PARENT_POLL_MS = 500;
/** After shutdown starts, the process exits by this time even if something still holds it. */
const SHUTDOWN_GRACE_MS = 5_000;
/** Longest argument text a `--verbose=args` line shows. */
const MAX_ARGS_CHARS = 500;

function parsePort(value: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value) || !Number.isInteger(n) || n < 0 || n > 65535) {
    throw new InvalidArgumentError(`--http must be a port number from 0 to 65535 (0 picks a free one), got ${JSON.stringify(value)}`);
  }
  return n;
}

function parseVerbose(value: string): 'args' {
  if (value !== 'args') throw new InvalidArgumentError(`--verbose takes no value, or "args" (--verbose=args) to show arguments, got ${JSON.stringify(value)}`);
  return value;
}

interface ServeOptions extends EngineCliOptions {
  http?: number;
  host?: string;
  token: string[];
  allowHost: string[];
  allowOrigin: string[];
  stateless?: boolean;
  verbose?: true | 'args';
  exitWithParent: boolean;
}

/** Settles with why the server should stop: a signal, or the parent process gone. */
function stopTriggers(watchParent: boolean): { promise: Promise<string>; dispose: () => void } {
  let resolve!: (s: string) => void;
  const promise = new Promise<string>((r) => (resolve = r));
  const onSignal = (s: NodeJS.Signals) => resolve(s);
  const signals: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];
  for (const s of signals) process.once(s, onSignal);
  // When the parent dies the kernel reparents us (to init or a subreaper), so `ppid` changes.
  // Started by init itself (a container's entry point, a systemd unit) there is nothing to watch.
  const initialParent = process.ppid;
  const timer =
    watchParent && initialParent > 1
      ? setInterval(() => {
          if (process.ppid !== initialParent) resolve('parent-exited');
        }, PARENT_POLL_MS)
      : undefined;
  timer?.unref();
  return {
    promise,
    dispose: () => {
      for (const s of signals) process.off(s, onSignal);
      clearInterval(timer);
    },
  };
}

/** Secrets the config holds in plain sight: env and header values of upstream servers, and the bearer token. */
function configSecrets(engine: Engine, token: string | undefined): string[] {
  // What came from the environment (`${VAR}`, envFile), wherever in the config it was used.
  const out: string[] = [...(token ? [token] : []), ...engine.redactor.secrets().map((s) => s.value)];
  for (const s of engine.config.mcpServers) {
    const values = [...Object.values((s as { env?: Record<string, string> }).env ?? {}), ...Object.values((s as { headers?: Record<string, string> }).headers ?? {})];
    // Short values (`1`, `true`) are settings, not secrets, and would blank out ordinary text.
    for (const v of values) if (typeof v === 'string' && v.length >= 6) out.push(v);
  }
  return out;
}

/** One `--verbose` line per call: session, tool, target, outcome and duration; arguments only with `--verbose=args`. */
function formatCall(event: ServerCallEvent, redact: Redactor): string {
  if (event.waiting) return `toolexec: ${event.session} ${event.tool} waiting for a sandbox (${event.waiting.running} running, ${event.waiting.queued} waiting)`;
  const parts = [`toolexec: ${event.session}`, event.parent ? `${event.parent} >` : '', event.tool, event.target ?? '', event.outcome, `${Math.round(event.durationMs)}ms`].filter(Boolean);
  const extra: string[] = [];
  if (event.queuedMs) extra.push(`queued ${event.queuedMs}ms`);
  if (event.toolCalls !== undefined) extra.push(`${event.toolCalls} tool call${event.toolCalls === 1 ? '' : 's'}`);
  let line = parts.join(' ') + (extra.length > 0 ? ` (${extra.join(', ')})` : '');
  // The server redacted already; redacting again here costs little and keeps this line safe
  // whatever `onCall` was handed.
  if (event.args !== undefined) line += ` args=${formatRedacted(event.args, redact, MAX_ARGS_CHARS)}`;
  return line.replace(/[\r\n]+/g, ' ');
}

/** The start-up summary: upstream servers, tools, execution limits. */
function summary(engine: Engine, server: ToolexecServer): string[] {
  const lines: string[] = [];
  const imports = engine.mcp?.imports ?? [];
  const ok = imports.filter((i) => !i.error);
  const failed = imports.filter((i) => i.error);
  const disabled = engine.config.mcpServers.filter((s) => s.disabled).length;
  if (engine.config.mcpServers.length === 0) lines.push('upstream MCP servers: none configured');
  else {
    const parts = [`${ok.length} connected${ok.length > 0 ? ` (${ok.map((i) => `${i.server}: ${i.tools.length} tool${i.tools.length === 1 ? '' : 's'}`).join(', ')})` : ''}`];
    if (failed.length > 0) parts.push(`${failed.length} failed (${failed.map((i) => `${i.server}: ${i.error!.message.split('\n')[0]!.slice(0, 200)}`).join('; ')})`);
    if (disabled > 0) parts.push(`${disabled} disabled`);
    lines.push(`upstream MCP servers: ${parts.join(', ')}`);
  }
  const exposed = engine.index.list().length;
  const hidden = engine.baseIndex.list().length - exposed;
  const namespaces = engine.index.namespaces().length;
  lines.push(`${exposed} tool${exposed === 1 ? '' : 's'} exposed in ${namespaces} namespace${namespaces === 1 ? '' : 's'}${hidden > 0 ? ` (${hidden} hidden by allow/deny)` : ''}`);
  const a = server.admission;
  const m = server.maxLimits;
  lines.push(
    `execute_code: runtime ${engine.config.runtime ?? 'quickjs'}, ${a.maxConcurrent} at once, ${a.maxQueued} waiting, ${a.maxPerSession} per session; ` +
      `limits at most timeoutMs ${m.timeoutMs}, memoryMb ${m.memoryMb}, maxOutputBytes ${m.maxOutputBytes}`,
  );
  const c = engine.config;
  if (c.approve.length > 0 || c.approveDestructive) {
    const what = [...c.approve, ...(c.approveDestructive ? ['tools marked destructive'] : [])].join(', ');
    const st = c.store;
    const kind = st?.kind ?? (st?.url !== undefined ? 'redis' : 'sqlite');
    const where = kind === 'redis' ? `redis ${redactUrl(st?.url ?? 'redis://127.0.0.1:6379')}` : kind === 'memory' ? 'memory (lost when the server stops)' : `sqlite ${st?.path ?? defaultStorePath()}`;
    lines.push(`durable executions: calls to ${what} need approval; executions kept in ${where}`);
  }
  return lines.map((l) => `toolexec: ${l}\n`);
}

/** A Redis URL without its password. */
function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return 'redis';
  }
}

export function registerServeCommand(program: Command): void {
  addEngineOptions(
    program
      .command('serve')
      .description('Run the MCP server: search_tools, list_namespaces, describe_tool, run_tool, run_chain, execute_code')
      .addHelpText(
        'after',
        `\nOver stdio by default (for Claude Desktop, Cursor and other MCP clients).\nWith --http <port>: Streamable HTTP at http://${DEFAULT_HTTP_HOST}:<port>/mcp; a bearer token is required when --token or $${TOKEN_ENV} is set.\n` +
          `Admission control and session caps: the "serve" section of the config (see the README).`,
      ),
  )
    .option('--http <port>', 'serve Streamable HTTP on this port instead of stdio', parsePort)
    .option('--host <address>', `address to bind with --http (default ${DEFAULT_HTTP_HOST})`)
    .option('--token <token>', `require "Authorization: Bearer <token>" with --http (default: $${TOKEN_ENV}); repeatable: each token is its own principal, whose durable executions the others cannot see`, collect, [])
    .option('--allow-host <hostname>', 'extra hostname accepted in Host/Origin headers with --http (repeatable)', collect, [])
    .option('--allow-origin <origin>', 'extra browser origin accepted with --http, e.g. https://app.example (repeatable)', collect, [])
    .option('--stateless', 'with --http: no sessions, every request stands alone (for several replicas behind a load balancer; no tools/list_changed)')
    .option('--verbose [args]', 'log one line per tool call on stderr (tool, outcome, duration); --verbose=args adds the arguments, with secrets redacted', parseVerbose)
    .option('--no-exit-with-parent', 'keep running when the process that started this one exits (default: exit, so a killed wrapper such as npx leaves nothing behind)')
    .action(async (opts: ServeOptions) => {
      const tokens = opts.token.length > 0 ? opts.token : process.env[TOKEN_ENV] ? [process.env[TOKEN_ENV]!] : [];
      const token = tokens[0];
      if (opts.http === undefined) {
        for (const [flag, set] of [
          ['--host', opts.host !== undefined],
          ['--token', opts.token.length > 0],
          ['--allow-host', opts.allowHost.length > 0],
          ['--allow-origin', opts.allowOrigin.length > 0],
          ['--stateless', opts.stateless === true],
        ] as const) {
          if (set) throw new UsageError(`${flag} only applies with --http <port>`);
        }
      }
      if (tokens.some((t) => t.length < 8)) throw new UsageError('the bearer token must be at least 8 characters long');
      if (new Set(tokens).size !== tokens.length) throw new UsageError('--token: the same token is given twice');
      const engine = await openEngine(opts, { defaultStore: 'sqlite' });
      const serve = engine.config.serve ?? {};
      const redact = createRedactor({ secrets: [...configSecrets(engine, undefined), ...tokens] });
      const write = (line: string) => process.stderr.write(line);
      let server: ToolexecServer;
      try {
        // Stdout may be the protocol stream: problems go to stderr, one line each.
        server = new ToolexecServer(engine, {
          onError: (e) => write(`toolexec: warning: ${String((e as Error)?.message ?? e).split('\n')[0]}\n`),
          admission: {
            ...(serve.maxConcurrentExecutions !== undefined ? { maxConcurrentExecutions: serve.maxConcurrentExecutions } : {}),
            ...(serve.maxQueuedExecutions !== undefined ? { maxQueuedExecutions: serve.maxQueuedExecutions } : {}),
            ...(serve.maxExecutionsPerSession !== undefined ? { maxExecutionsPerSession: serve.maxExecutionsPerSession } : {}),
          },
          ...(serve.maxResultBytes !== undefined ? { maxResultBytes: serve.maxResultBytes } : {}),
          redact,
          ...(opts.verbose ? { onCall: (event: ServerCallEvent) => write(`${formatCall(event, redact)}\n`), callArgs: opts.verbose === 'args' } : {}),
        });
      } catch (e) {
        await engine.close();
        // A bad number in the serve section is a config mistake: exit code 2 with the reason.
        throw e instanceof TypeError ? new UsageError(`${engine.config.file ?? 'config'}: serve.${e.message}`) : e;
      }
      const stop = stopTriggers(opts.exitWithParent);
      // Whatever holds the process after shutdown (a stuck upstream), it exits soon after.
      const forceExit = () => setTimeout(() => process.exit(process.exitCode ?? 0), SHUTDOWN_GRACE_MS).unref();
      try {
        await server.start();
        let reason: string;
        if (opts.http === undefined) {
          const stdio = await serveStdio(server);
          for (const line of summary(engine, server)) write(line);
          write(`toolexec: MCP server ready on stdio\n`);
          reason = await Promise.race([stdio.closed.then(() => 'stdin-closed'), stop.promise]);
          await stdio.close();
        } else {
          let http;
          try {
            http = await serveHttp(server, {
              port: opts.http,
              ...(opts.host !== undefined ? { host: opts.host } : {}),
              ...(tokens.length > 0 ? { tokens } : {}),
              ...(opts.allowHost.length > 0 ? { allowedHosts: [...new Set(['localhost', '127.0.0.1', '[::1]', ...(opts.host ? [opts.host] : []), ...opts.allowHost])] } : {}),
              ...(opts.allowOrigin.length > 0 ? { allowedOrigins: opts.allowOrigin } : {}),
              ...(opts.stateless ? { stateless: true } : {}),
              ...(serve.maxSessions !== undefined ? { maxSessions: serve.maxSessions } : {}),
              ...(serve.maxSessionsPerClient !== undefined ? { maxSessionsPerClient: serve.maxSessionsPerClient } : {}),
              ...(serve.sessionIdleMs !== undefined ? { sessionIdleMs: serve.sessionIdleMs } : {}),
              ...(serve.unusedSessionIdleMs !== undefined ? { unusedSessionIdleMs: serve.unusedSessionIdleMs } : {}),
            });
          } catch (e) {
            const code = (e as { code?: string }).code;
            // A port in use is the user's to fix: one line and exit code 2, not a stack.
            if (code === 'EADDRINUSE' || code === 'EACCES' || code === 'EADDRNOTAVAIL') throw new UsageError(`--http ${opts.http}: ${(e as Error).message}`);
            throw e;
          }
          for (const line of summary(engine, server)) write(line);
          const notes = [opts.stateless ? 'stateless' : '', token !== undefined ? 'bearer token required' : ''].filter(Boolean);
          write(`toolexec: MCP server listening on ${http.url}${notes.length > 0 ? ` (${notes.join(', ')})` : ''}\n`);
          if (token === undefined && !['127.0.0.1', '::1', 'localhost'].includes(opts.host ?? DEFAULT_HTTP_HOST)) {
            write(`toolexec: warning: listening on ${opts.host} without a bearer token: anyone who can reach this address can run tools and code; set --token or $${TOKEN_ENV}\n`);
          }
          reason = await stop.promise;
          await http.close();
        }
        if (reason === 'parent-exited') write('toolexec: the process that started this server exited; shutting down\n');
      } finally {
        stop.dispose();
        forceExit();
        await server.close();
        await engine.close();
      }
    });
}
