/**
 * `toolexec run <toolId> '<json args>'`: runs one tool and prints its structured result.
 */
import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { ToolError } from '../model/errors.js';
import { openEngine } from './tools-command.js';
import { UsageError, collect, parseIntOption, writeJson } from './util.js';

export function registerRunCommand(program: Command): void {
  program
    .command('run')
    .description('Run one tool with JSON arguments and print its result')
    .argument('<toolId>', 'tool ID, e.g. math:add')
    .argument('[args]', "JSON object of arguments, '-' to read them from stdin", '{}')
    .option('-t, --tools <module>', 'tool module to load (repeatable)', collect, [])
    .option('-c, --config <file>', 'config file with mcpServers and tools (default: ./toolexec.config.json when present)')
    .option('--timeout <ms>', 'per-call timeout in milliseconds', parseIntOption('--timeout'))
    .option('--no-validate', 'skip input validation')
    .option('--json', 'print the whole RunResult as JSON')
    .action(async (toolId: string, rawArgs: string, opts: { tools: string[]; config?: string; timeout?: number; validate: boolean; json?: boolean }) => {
      let args: unknown;
      const text = rawArgs === '-' ? readFileSync(0, 'utf8') : rawArgs;
      try {
        args = JSON.parse(text);
      } catch (e) {
        throw new UsageError(`arguments must be a JSON object: ${(e as Error).message}`);
      }
      const engine = await openEngine({ tools: opts.tools, ...(opts.config !== undefined ? { config: opts.config } : {}) });
      const runner = engine.runner;
      try {
        const result = await runner.run(toolId, args as Record<string, unknown>, {
          ...(opts.timeout !== undefined ? { timeoutMs: opts.timeout } : {}),
          validateInput: opts.validate,
        });
        writeJson(opts.json ? result : result.structured);
      } catch (e) {
        if (e instanceof ToolError) {
          process.stderr.write(`error ${e.code}: ${e.message}\n`);
          if (opts.json) writeJson({ error: e.toJSON() });
          process.exitCode = 1;
          return;
        }
        throw e;
      } finally {
        await engine.close();
      }
    });
}
