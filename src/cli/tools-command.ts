/**
 * `toolexec tools [query]`: search (or, without a query, list) the tools a config and tool
 * modules provide. Also home of `openEngine`, the config + `--tools` handling that `serve`,
 * `types` and `tools` share.
 */
import type { Command } from 'commander';
import { loadConfig } from '../config/load-config.js';
import { createEngine, type CreateEngineOptions, type Engine } from '../engine/engine.js';
import { describeHidden, hiddenByPolicy } from '../engine/policy.js';
import { StartupError, collect, parseIntOption, writeJson } from './util.js';

/** The options every engine-backed command accepts. */
export interface EngineCliOptions {
  config?: string;
  tools?: string[];
}

/** Adds `--config` and `--tools` to a command. */
export function addEngineOptions(command: Command): Command {
  return command
    .option('-c, --config <file>', 'config file (default: ./toolexec.config.json when present)')
    .option('-t, --tools <module>', 'tool module to load (repeatable)', collect, []);
}

/**
 * Loads the config (a `ConfigError` propagates: exit code 2) and builds the engine, with
 * warnings on stderr (stdout may be a protocol stream). When every enabled MCP server failed
 * the engine is closed and a `StartupError` names each failure (exit code 1); when the
 * config's patterns hide every tool, a warning says which pattern hid what.
 */
export async function openEngine(opts: EngineCliOptions, extra: CreateEngineOptions & { explainEmpty?: boolean } = {}): Promise<Engine> {
  const { explainEmpty = true, ...engineOptions } = extra;
  const config = loadConfig(opts.config);
  const print = (message: string) => process.stderr.write(`toolexec: warning: ${message}\n`);
  // Held until the engine is up: when every server failed, the error says it all, once.
  let held: string[] | undefined = [];
  const engine = await createEngine(config, {
    tools: opts.tools ?? [],
    onWarning: (message) => (held ? held.push(message) : print(message)),
    ...engineOptions,
  });
  const { servers } = engine.startup;
  const allFailed = servers.length > 0 && servers.every((s) => !s.ok);
  for (const message of held) if (!(allFailed && /^MCP server ".*" is unavailable: /.test(message))) print(message);
  held = undefined;
  if (allFailed) {
    await engine.close();
    const lines = servers.map((s) => `- ${s.server}: ${summarizeFailure(s.error ?? 'failed')}`);
    throw new StartupError(`${servers.length === 1 ? 'the only MCP server' : `all ${servers.length} MCP servers`} in the config failed to start:\n${lines.join('\n')}`);
  }
  if (explainEmpty) {
    const why = noToolsReason(engine);
    if (why !== undefined && engine.startup.registered > 0) process.stderr.write(`toolexec: warning: ${why.replace(/\n/g, '\n  ')}\n`);
  }
  return engine;
}

/** A failure's first line (bounded) and the server's stderr tail, the parts a user acts on. */
function summarizeFailure(message: string): string {
  const [first = ''] = message.split('\n');
  const head = first.length > 300 ? `${first.slice(0, 299)}…` : first;
  const at = message.indexOf('\nserver stderr (last lines):\n');
  const tail = at === -1 ? '' : message.slice(at);
  return `${head}${tail}`.replace(/\n/g, '\n    ');
}

/**
 * Why an engine exposes no tools, or undefined when it exposes some: the config's patterns
 * (each one and what it hides), servers that listed nothing, or nothing configured at all.
 */
export function noToolsReason(engine: Engine): string | undefined {
  const { exposed, registered, servers } = engine.startup;
  if (exposed > 0) return undefined;
  if (registered > 0) {
    const lines = describeHidden(hiddenByPolicy(engine.policy, engine.baseIndex.list().map((t) => t.id)));
    return `no tools are exposed: the config's patterns hide all ${registered} registered tool${registered === 1 ? '' : 's'}:\n- ${lines.join('\n- ')}`;
  }
  const connected = servers.filter((s) => s.ok).map((s) => JSON.stringify(s.server));
  if (connected.length > 0) return `no tools: the MCP server${connected.length === 1 ? '' : 's'} ${connected.join(', ')} connected but list${connected.length === 1 ? 's' : ''} no tools`;
  return 'no tools (add mcpServers or tools to the config, or pass --tools)';
}

export function registerToolsCommand(program: Command): void {
  addEngineOptions(
    program
      .command('tools')
      .description('Search the available tools (all of them without a query)')
      .argument('[query]', 'words to search for in names, titles, descriptions and tags', ''),
  )
    .option('-n, --namespace <ns>', 'only tools of this namespace')
    .option('-l, --limit <n>', 'most results to show (default: all when listing, 20 when searching)', parseIntOption('--limit'))
    .option('--json', 'print the matches as JSON (id, title, description, schemas)')
    .action(async (query: string, opts: EngineCliOptions & { namespace?: string; limit?: number; json?: boolean }) => {
      const engine = await openEngine(opts, { explainEmpty: false });
      try {
        const limit = opts.limit ?? (query.trim() === '' ? Number.MAX_SAFE_INTEGER : 20);
        const items = [];
        let cursor: string | undefined;
        let total = 0;
        // The index pages at 100 at most; walk pages until the limit is reached.
        do {
          const page = engine.index.search(query, {
            limit: Math.min(100, limit - items.length),
            ...(cursor ? { cursor } : {}),
            ...(opts.namespace !== undefined ? { namespace: opts.namespace } : {}),
          });
          total = page.total;
          items.push(...page.items);
          cursor = page.nextCursor;
        } while (cursor && items.length < limit);
        if (opts.json) {
          writeJson({
            total,
            items: items.map((h) => ({
              id: h.id,
              ...(h.tool.title !== undefined ? { title: h.tool.title } : {}),
              ...(h.tool.description !== undefined ? { description: h.tool.description } : {}),
              inputSchema: h.tool.inputSchema ?? { type: 'object' },
              ...(h.tool.outputSchema !== undefined ? { outputSchema: h.tool.outputSchema } : {}),
              backend: engine.index.get(h.id)?.backend,
            })),
          });
          return;
        }
        if (items.length === 0) {
          const none = noToolsReason(engine);
          process.stderr.write(none !== undefined ? `${none}\n` : `no tools match ${JSON.stringify(query)}\n`);
          return;
        }
        const width = Math.min(48, Math.max(...items.map((h) => h.id.length)));
        for (const h of items) {
          const desc = (h.tool.description ?? h.tool.title ?? '').split('\n')[0]!;
          process.stdout.write(`${h.id.padEnd(width)}  ${desc.length > 100 ? `${desc.slice(0, 99)}…` : desc}\n`);
        }
        if (total > items.length) process.stderr.write(`(${items.length} of ${total}; use --limit for more)\n`);
      } finally {
        await engine.close();
      }
    });
}
