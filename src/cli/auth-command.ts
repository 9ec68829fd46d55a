/**
 * `toolexec auth <server>`: signs in to a remote MCP server that uses OAuth, once; later
 * connections (`serve`, `tools`, `run`) use and refresh the stored tokens. The authorization
 * URL is opened with `$BROWSER` when it is set (the usual convention: a command, `%s` standing
 * for the URL, several commands separated by `:` tried in turn) and always printed, and the
 * browser's redirect is awaited on `http://127.0.0.1:<port>/callback`.
 */
import { spawn } from 'node:child_process';
import { InvalidArgumentError, type Command } from 'commander';
import { loadConfig } from '../config/load-config.js';
import { DEFAULT_AUTH_TIMEOUT_MS } from '../backends/mcp/oauth-flow.js';
import { UsageError } from './util.js';

interface AuthOptions {
  config?: string;
  port?: number;
  timeout?: number;
  browser: boolean;
  logout?: boolean;
}

function parsePort(value: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value) || n < 1 || n > 65535) throw new InvalidArgumentError(`--port must be a port number from 1 to 65535, got ${JSON.stringify(value)}`);
  return n;
}

function parseSeconds(value: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0) throw new InvalidArgumentError(`--timeout must be a positive number of seconds, got ${JSON.stringify(value)}`);
  return n;
}

/** The commands in `$BROWSER`, each split into words (no shell: the URL is never parsed by one). */
export function browserCommands(browserEnv: string, url: string): string[][] {
  return browserEnv
    .split(':')
    .map((entry) => entry.trim())
    .filter(Boolean)
    .map((entry) => {
      const words = entry.split(/\s+/);
      const hasPlaceholder = words.some((w) => w.includes('%s'));
      const argv = words.map((w) => w.replace(/%s/g, url).replace(/%%/g, '%'));
      return hasPlaceholder ? argv : [...argv, url];
    });
}

/** Starts the first `$BROWSER` command that can be started; false when none could. */
async function openWithBrowser(browserEnv: string, url: string): Promise<boolean> {
  for (const [command, ...args] of browserCommands(browserEnv, url)) {
    const started = await new Promise<boolean>((resolve) => {
      const child = spawn(command!, args, { stdio: 'ignore', detached: true });
      child.once('error', () => resolve(false));
      child.once('spawn', () => {
        // The browser outlives us if it wants to; we only wait for the redirect.
        child.unref();
        resolve(true);
      });
    });
    if (started) return true;
  }
  return false;
}

export function registerAuthCommand(program: Command): void {
  program
    .command('auth')
    .description('Sign in to a remote MCP server that uses OAuth (once; tokens are stored and refreshed)')
    .argument('<server>', 'the server name in mcpServers')
    .option('-c, --config <file>', 'config file (default: ./toolexec.config.json when present)')
    .option('--port <port>', 'loopback port for the redirect (default: the server\'s oauth.redirectPort, else a free one)', parsePort)
    .option('--timeout <seconds>', `how long to wait for the browser (default ${DEFAULT_AUTH_TIMEOUT_MS / 1000})`, parseSeconds)
    .option('--no-browser', 'only print the URL, even when $BROWSER is set')
    .option('--logout', 'forget the stored credentials of the server instead')
    .addHelpText(
      'after',
      '\nThe sign-in page opens with $BROWSER when it is set; the URL is always printed. The browser must run on\nthis machine (the redirect goes to http://127.0.0.1:<port>/callback). Credentials are kept in\n$TOOLEXEC_CONFIG_DIR/oauth, else $XDG_CONFIG_HOME/toolexec/oauth, else ~/.config/toolexec/oauth (mode 0600).',
    )
    .action(async (name: string, opts: AuthOptions) => {
      const config = loadConfig(opts.config);
      const server = config.mcpServers.find((s) => s.name === name);
      if (!server) {
        const remote = config.mcpServers.filter((s) => s.transport !== 'stdio').map((s) => JSON.stringify(s.name));
        throw new UsageError(
          `no MCP server named ${JSON.stringify(name)} in ${config.file ?? 'the config'}${remote.length ? `; remote servers: ${remote.join(', ')}` : ' (it has no remote servers)'}`,
        );
      }
      const { authorizeMcpServer, forgetMcpServerAuth } = await import('../backends/mcp/oauth-flow.js');
      const err = process.stderr;
      try {
        if (opts.logout) {
          const { removed, file } = forgetMcpServerAuth(server);
          err.write(removed ? `toolexec: removed the stored credentials of "${name}" (${file})\n` : `toolexec: nothing was stored for "${name}"\n`);
          return;
        }
        const browser = opts.browser ? process.env.BROWSER : undefined;
        const result = await authorizeMcpServer(server, {
          ...(opts.port !== undefined ? { port: opts.port } : {}),
          ...(opts.timeout !== undefined ? { timeoutMs: opts.timeout * 1000 } : {}),
          open: async (url) => {
            const href = url.href;
            if (browser && (await openWithBrowser(browser, href))) {
              err.write(`toolexec: opened the sign-in page for "${name}" with $BROWSER; if it did not open, visit:\n\n  ${href}\n\n`);
            } else {
              err.write(`${browser ? 'toolexec: $BROWSER could not be started. ' : ''}To sign in to "${name}", open this URL in a browser on this machine:\n\n  ${href}\n\n`);
            }
            err.write('toolexec: waiting for the browser to come back...\n');
          },
        });
        if (result.status === 'not-required') {
          err.write(`toolexec: MCP server "${name}" let us in without signing in (${result.tools} tools); nothing to do\n`);
          return;
        }
        const expires = result.expiresAt !== undefined ? `; the access token expires ${new Date(result.expiresAt).toISOString()}${result.refreshable ? ' and is refreshed automatically' : ', with no refresh token: sign in again then'}` : '';
        err.write(`toolexec: signed in to "${name}" (${result.tools} tools${result.scope ? `, scope ${JSON.stringify(result.scope)}` : ''}); credentials saved to ${result.file}${expires}\n`);
      } catch (e) {
        err.write(`toolexec: ${(e as Error).message}\n`);
        process.exitCode = 1;
      }
    });
}
