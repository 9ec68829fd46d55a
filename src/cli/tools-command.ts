/**
 * `toolexec tools [query]`: search (or, without a query, list) the tools a config and tool
 * modules provide. Also home of `openEngine`, the config + `--tools` handling that `serve`,
 * `types` and `tools` share.
 */
import type { Command } from 'commander';
import { loadConfig } from '../config/load-config.js';
import { createEngine, type CreateEngineOptions, type Engine } from '../engine/engine.js';
import { collect, parseIntOption, writeJson } from './util.js';

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
 * warnings on stderr (stdout may be a protocol stream).
 */
export async function openEngine(opts: EngineCliOptions, extra: CreateEngineOptions = {}): Promise<Engine> {
  const config = loadConfig(opts.config);
  return createEngine(config, {
    tools: opts.tools ?? [],
    onWarning: (message) => process.stderr.write(`toolexec: warning: ${message}\n`),
    ...extra,
  });
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
      const engine = await openEngine(opts);
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
          process.stderr.write(query.trim() ? `no tools match ${JSON.stringify(query)}\n` : 'no tools (add mcpServers or tools to the config, or pass --tools)\n');
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
