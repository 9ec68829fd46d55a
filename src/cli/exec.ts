/**
 * `toolexec exec <file|->`: runs a script (JavaScript or TypeScript) in a sandbox where the
 * loaded tools are reachable through `run()` and `tools.<ns>.<name>()`.
 *
 * Without `--json`: the script's value on stdout (as JSON), its console output and any error
 * on stderr. With `--json`: the whole ExecuteResult on stdout. Exit code 0 when the script
 * succeeded, 1 when it failed, 2 for bad usage, 3 when it is suspended: calls that need approval
 * wait for a decision (the execution ID and the way to resume are on stderr).
 */
import { readFileSync, existsSync } from 'node:fs';
import { resolve } from 'node:path';
import type { Command } from 'commander';
import { RUNTIME_NAMES, assertRuntimeName } from '../runtime/load.js';
import type { ExecuteLimits, ExecuteResult, LogEntry } from '../code/types.js';
import { osUserPrincipal } from '../server/principal.js';
import { approvalHandler, describePending, parseApproveMode, type ApproveMode } from './approval-prompt.js';
import { addEngineOptions, openEngine } from './tools-command.js';
import { UsageError, collect, parseIntOption, writeJson } from './util.js';

/** Exit code of a suspended execution (0 ok, 1 failed, 2 bad usage). */
export const EXIT_SUSPENDED = 3;

interface ExecOptions {
  tools: string[];
  config?: string;
  runtime?: string;
  timeout?: number;
  memory?: number;
  allow: string[];
  json?: boolean;
  typecheck?: boolean;
  approve?: ApproveMode;
  needsApproval: string[];
  durable?: boolean;
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
  if (e.diagnostics) {
    // One line per type error, `file:line:column` style, so editors and people can jump to it.
    err.write(`error ${e.code}: ${e.message.split('\n')[0]}\n`);
    for (const d of e.diagnostics) err.write(`  ${d.line !== undefined ? `${d.line}:${d.column}: ` : ''}${d.message} (${d.code})\n`);
    return;
  }
  if (result.status === 'suspended') {
    err.write(`toolexec: suspended: ${e.message}\n`);
    for (const p of result.pending ?? []) err.write(`  ${describePending(p)}\n`);
    const ids = (result.pending ?? []).map((p) => p.callId).join(' ');
    err.write(`toolexec: continue with: toolexec resume ${result.executionId} --approve <callId>... | --deny <callId>... (or decide first: toolexec approvals approve ${result.executionId} ${ids})\n`);
    // The ID alone on stdout (there is no value yet): `id=$(toolexec exec job.js)` keeps it.
    out.write(`${result.executionId}\n`);
    return;
  }
  const where = e.line !== undefined ? ` (line ${e.line}${e.column !== undefined ? `, column ${e.column}` : ''})` : '';
  err.write(`error ${e.code}${where}: ${e.message}\n`);
}

/** The exit code of a result: 0 ok, 1 failed, 3 suspended. */
export function exitCodeOf(result: ExecuteResult): number {
  return result.ok ? 0 : result.status === 'suspended' ? EXIT_SUSPENDED : 1;
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
    .option('--typecheck', 'type-check the script against the tool declarations first (needs the typescript package); type errors stop it before any tool runs')
    .option('--approve <mode>', 'calls that need approval: ask (a prompt on the terminal), deny, or allow; without it the execution suspends (exit code 3)', parseApproveMode)
    .option('--needs-approval <pattern>', 'tool ID pattern whose calls need approval in this run, besides the config\'s "approve" (repeatable)', collect, [])
    .option('--durable', 'journal the execution even when no call needs approval (so it can be resumed after a crash)')
    .addHelpText('after', '\nExit codes: 0 the script succeeded, 1 it failed, 2 bad usage, 3 suspended (calls wait for approval; see toolexec resume and toolexec approvals).')
    .action(async (file: string, opts: ExecOptions) => {
      if (opts.runtime !== undefined) {
        try {
          assertRuntimeName(opts.runtime);
        } catch (e) {
          throw new UsageError((e as Error).message);
        }
      }
      const script = readScript(file);
      const limits: Partial<ExecuteLimits> = {};
      if (opts.timeout !== undefined) limits.timeoutMs = opts.timeout;
      if (opts.memory !== undefined) limits.memoryMb = opts.memory;
      if (opts.allow.length > 0) limits.allowedTools = opts.allow;
      for (const p of opts.needsApproval) if (!/^[A-Za-z0-9_.+:*-]+$/.test(p)) throw new UsageError(`--needs-approval ${JSON.stringify(p)} is not a tool ID pattern (letters, digits, "_", "-", ".", "+", ":" and "*")`);
      const engine = await openEngine({ tools: opts.tools, ...(opts.config !== undefined ? { config: opts.config } : {}) }, { defaultStore: 'sqlite' });
      const ac = new AbortController();
      const onSigint = () => ac.abort();
      process.once('SIGINT', onSigint);
      const approval = opts.approve ? approvalHandler(opts.approve, { scriptFromStdin: file === '-' }) : undefined;
      try {
        const result = await engine.execute(script, {
          ...(opts.runtime !== undefined ? { runtime: opts.runtime } : {}),
          limits,
          signal: ac.signal,
          principal: osUserPrincipal(),
          ...(opts.typecheck ? { typecheck: true } : {}),
          ...(opts.durable ? { durable: true } : {}),
          ...(opts.needsApproval.length > 0 ? { approve: opts.needsApproval } : {}),
          ...(approval ? { onApproval: approval.handler } : {}),
        });
        if (opts.json) writeJson(result);
        else printExecuteResult(result);
        process.exitCode = exitCodeOf(result);
      } finally {
        approval?.close();
        process.off('SIGINT', onSigint);
        await engine.close();
      }
    });
}
