/**
 * `toolexec serve`: the MCP server, over stdio (default) or Streamable HTTP (`--http`).
 * Runs until the client disconnects (stdio) or the process gets SIGINT/SIGTERM.
 */
import { InvalidArgumentError, type Command } from 'commander';
import { ToolexecServer } from '../server/toolexec-server.js';
import { serveStdio } from '../server/stdio.js';
import { DEFAULT_HTTP_HOST, serveHttp } from '../server/http.js';
import { addEngineOptions, openEngine, type EngineCliOptions } from './tools-command.js';
import { collect, UsageError } from './util.js';

/** Environment variable holding the bearer token when `--token` is not given. */
export const TOKEN_ENV = 'TOOLEXEC_TOKEN';

function parsePort(value: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value) || !Number.isInteger(n) || n < 0 || n > 65535) {
    throw new InvalidArgumentError(`--http must be a port number from 0 to 65535 (0 picks a free one), got ${JSON.stringify(value)}`);
  }
  return n;
}

interface ServeOptions extends EngineCliOptions {
  http?: number;
  host?: string;
  token?: string;
  allowHost: string[];
  allowOrigin: string[];
}

function untilSignal(): { promise: Promise<string>; dispose: () => void } {
  let resolve!: (s: string) => void;
  const promise = new Promise<string>((r) => (resolve = r));
  const onSignal = (s: NodeJS.Signals) => resolve(s);
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  return {
    promise,
    dispose: () => {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    },
  };
}

export function registerServeCommand(program: Command): void {
  addEngineOptions(
    program
      .command('serve')
      .description('Run the MCP server: search_tools, list_namespaces, describe_tool, run_tool, run_chain, execute_code')
      .addHelpText(
        'after',
        `\nOver stdio by default (for Claude Desktop, Cursor and other MCP clients).\nWith --http <port>: Streamable HTTP at http://${DEFAULT_HTTP_HOST}:<port>/mcp; a bearer token is required when --token or $${TOKEN_ENV} is set.`,
      ),
  )
    .option('--http <port>', 'serve Streamable HTTP on this port instead of stdio', parsePort)
    .option('--host <address>', `address to bind with --http (default ${DEFAULT_HTTP_HOST})`)
    .option('--token <token>', `require "Authorization: Bearer <token>" with --http (default: $${TOKEN_ENV})`)
    .option('--allow-host <hostname>', 'extra hostname accepted in Host/Origin headers with --http (repeatable)', collect, [])
    .option('--allow-origin <origin>', 'extra browser origin accepted with --http, e.g. https://app.example (repeatable)', collect, [])
    .action(async (opts: ServeOptions) => {
      const token = opts.token ?? (process.env[TOKEN_ENV] || undefined);
      if (opts.http === undefined) {
        for (const [flag, set] of [['--host', opts.host !== undefined], ['--token', opts.token !== undefined], ['--allow-host', opts.allowHost.length > 0], ['--allow-origin', opts.allowOrigin.length > 0]] as const) {
          if (set) throw new UsageError(`${flag} only applies with --http <port>`);
        }
      }
      if (token !== undefined && token.length < 8) throw new UsageError('the bearer token must be at least 8 characters long');
      const engine = await openEngine(opts);
      // Stdout may be the protocol stream: problems go to stderr, one line each.
      const server = new ToolexecServer(engine, { onError: (e) => process.stderr.write(`toolexec: warning: ${String((e as Error)?.message ?? e).split('\n')[0]}\n`) });
      const signals = untilSignal();
      try {
        await server.start();
        if (opts.http === undefined) {
          const stdio = await serveStdio(server);
          await Promise.race([stdio.closed, signals.promise]);
          await stdio.close();
        } else {
          const http = await serveHttp(server, {
            port: opts.http,
            ...(opts.host !== undefined ? { host: opts.host } : {}),
            ...(token !== undefined ? { token } : {}),
            ...(opts.allowHost.length > 0 ? { allowedHosts: [...new Set(['localhost', '127.0.0.1', '[::1]', ...(opts.host ? [opts.host] : []), ...opts.allowHost])] } : {}),
            ...(opts.allowOrigin.length > 0 ? { allowedOrigins: opts.allowOrigin } : {}),
          });
          process.stderr.write(`toolexec: MCP server listening on ${http.url}${token !== undefined ? ' (bearer token required)' : ''}\n`);
          if (token === undefined && !['127.0.0.1', '::1', 'localhost'].includes(opts.host ?? DEFAULT_HTTP_HOST)) {
            process.stderr.write(`toolexec: warning: listening on ${opts.host} without a bearer token: anyone who can reach this address can run tools and code; set --token or $${TOKEN_ENV}\n`);
          }
          await signals.promise;
          await http.close();
        }
      } finally {
        signals.dispose();
        await server.close();
        await engine.close();
      }
    });
}
