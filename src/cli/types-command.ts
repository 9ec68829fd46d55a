/**
 * `toolexec types [filter]`: prints the TypeScript declarations of the tools as scripts see
 * them (`declare const tools: {...}`), ready to paste into a prompt.
 */
import type { Command } from 'commander';
import { addEngineOptions, openEngine, type EngineCliOptions } from './tools-command.js';

export function registerTypesCommand(program: Command): void {
  addEngineOptions(
    program
      .command('types')
      .description('Print TypeScript declarations of the available tools for scripts (and prompts)')
      .argument('[filter...]', 'tool ID patterns, e.g. "memory:*" or math:add (default: all tools)'),
  ).action(async (filter: string[], opts: EngineCliOptions) => {
    const engine = await openEngine(opts);
    try {
      const text = await engine.generateTypes(filter.length === 0 ? undefined : filter.length === 1 ? filter[0] : filter);
      process.stdout.write(text.endsWith('\n') ? text : `${text}\n`);
    } finally {
      await engine.close();
    }
  });
}
