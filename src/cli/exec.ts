/**
 * `toolexec exec <file|->`: runs a script (JavaScript or TypeScript) in a sandbox where the
 * loaded tools are reachable through `run()` and `tools.<ns>.<name>()`.
 *
 * Without `--json`: the script's value on stdout (as JSON), its console output and any error
 * on stderr. With `--json`: the whole ExecuteResult on stdout. Exit code 0 when the script
 * succeeded, 1 when it failed, 2 for bad usage.
 */
import { readFileSync, existsSync } from 'node:fs';
import { resolve } from 'node:path';
import type { Command } from 'commander';
import { RUNTIME_NAMES, isRuntimeName } from '../runtime/load.js';
import type { ExecuteLimits, ExecuteResult, LogEntry } from '../code/types.js';
import { addEngineOptions, openEngine } from './tools-command.js';
import { UsageError, collect, parseIntOption, writeJson } from './util.js';

interface ExecOptions {
  tools: string[];
  config?: string;
  runtime?: string;
  timeout?: number;
  memory?: number;
  allow: string[];
  json?: boolean;
}

const LEVEL_PREFIX: Record<LogEntry['level'], string> = { log: '', info: '', warn: 'warn: ', error: 'error: ', debug: 'debug: ' };

/** Reads the script from a file or, for `-`, from stdin. */
function readScript(file: string): string {
  if (file === '-') return readFileSync(0, 'utf8');
  const path = resolve(file);
  if (!existsSync(path)) throw new UsageError(`script not found: ${file} (looked at ${path})`);
  try {
    return readFileSync(path, 'utf8');
  } catch (e) {
    throw new UsageError(`cannot read ${file}: ${(e as Error).message}`);
  }
}

/** Human-readable report of a finished execution: logs and errors to stderr, the value to stdout. */
export function printExecuteResult(result: ExecuteResult, out: NodeJS.WritableStream = process.stdout, err: NodeJS.WritableStream = process.stderr): void {
  for (const log of result.logs) err.write(`${LEVEL_PREFIX[log.level]}${log.message}\n`);
  if (result.ok) {
    if (result.value !== undefined) out.write(`${JSON.stringify(result.value, null, 2)}\n`);
    return;
  }
  const e = result.error!;
  const where = e.line !== undefined ? ` (line ${e.line}${e.column !== undefined ? `, column ${e.column}` : ''})` : '';
  err.write(`error ${e.code}${where}: ${e.message}\n`);
}

/** Adds `toolexec exec` to the program. */
export function registerExecCommand(program: Command): void {
  addEngineOptions(
    program
      .command('exec')
      .description('Run a JavaScript or TypeScript script in a sandbox; tools are reachable through run() and tools.<ns>.<name>()')
      .argument('<file>', "script file, or '-' to read the script from stdin"),
  )
    .option('-r, --runtime <name>', `sandbox runtime: ${RUNTIME_NAMES.join(', ')} (default: the config's, else quickjs)`)
    .option('--timeout <ms>', 'wall-clock limit for the whole script, in milliseconds', parseIntOption('--timeout'))
    .option('--memory <mb>', 'guest heap limit in megabytes', parseIntOption('--memory'))
    .option('--allow <pattern>', 'tool ID pattern the script may call, e.g. "github:*" (repeatable)', collect, [])
    .option('--json', 'print the whole ExecuteResult as JSON on stdout')
    .action(async (file: string, opts: ExecOptions) => {
      if (opts.runtime !== undefined && !isRuntimeName(opts.runtime)) {
        throw new UsageError(`unknown runtime ${JSON.stringify(opts.runtime)}; known runtimes: ${RUNTIME_NAMES.join(', ')}`);
      }
      const script = readScript(file);
      const limits: Partial<ExecuteLimits> = {};
      if (opts.timeout !== undefined) limits.timeoutMs = opts.timeout;
      if (opts.memory !== undefined) limits.memoryMb = opts.memory;
      if (opts.allow.length > 0) limits.allowedTools = opts.allow;
      const engine = await openEngine({ tools: opts.tools, ...(opts.config !== undefined ? { config: opts.config } : {}) });
      const ac = new AbortController();
      const onSigint = () => ac.abort();
      process.once('SIGINT', onSigint);
      try {
        const result = await engine.execute(script, {
          ...(opts.runtime !== undefined ? { runtime: opts.runtime } : {}),
          limits,
          signal: ac.signal,
        });
        if (opts.json) writeJson(result);
        else printExecuteResult(result);
        process.exitCode = result.ok ? 0 : 1;
      } finally {
        process.off('SIGINT', onSigint);
        await engine.close();
      }
    });
}
