#!/usr/bin/env node
/**
 * The `toolexec` command. Exit codes: 0 success, 1 the tool or script failed, 2 bad usage
 * (unknown command or option, malformed arguments, unreadable tool module or config), 3 a
 * durable execution suspended (calls wait for approval: `toolexec resume`, `toolexec approvals`).
 */
import { Command, CommanderError } from 'commander';
import { createRequire } from 'node:module';
import { registerAuthCommand } from './auth-command.js';
import { registerRunCommand } from './run-command.js';
import { registerExecCommand } from './exec.js';
import { registerDurableCommands } from './durable-commands.js';
import { registerServeCommand } from './serve.js';
import { registerToolsCommand } from './tools-command.js';
import { registerTypesCommand } from './types-command.js';
import { ConfigError } from '../config/load-config.js';
import { ToolModuleError } from '../engine/tool-modules.js';
import { StartupError, UsageError } from './util.js';

const pkg = createRequire(import.meta.url)('../../package.json') as { version: string };

export function buildProgram(): Command {
  const program = new Command();
  program
    .name('toolexec')
    .description('Run tools and agent-written code safely: schema-checked tool runner, sandboxed code executor, MCP server')
    .version(pkg.version)
    .showHelpAfterError('(add --help for usage)')
    .exitOverride();
  registerExecCommand(program);
  registerDurableCommands(program);
  registerRunCommand(program);
  registerToolsCommand(program);
  registerTypesCommand(program);
  registerServeCommand(program);
  registerAuthCommand(program);
  return program;
}

export async function main(argv: string[] = process.argv): Promise<number> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv);
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (e) {
    if (e instanceof CommanderError) {
      // help and version exit through here with code 0
      return e.exitCode === 0 ? 0 : 2;
    }
    if (e instanceof UsageError || e instanceof ToolModuleError || e instanceof ConfigError) {
      process.stderr.write(`toolexec: ${e.message}\n`);
      return 2;
    }
    if (e instanceof StartupError) {
      process.stderr.write(`toolexec: ${e.message}\n`);
      return 1;
    }
    process.stderr.write(`toolexec: ${(e as Error)?.stack ?? String(e)}\n`);
    return 1;
  }
}

main().then((code) => {
  process.exitCode = code;
});
