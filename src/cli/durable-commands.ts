/**
 * `toolexec resume <id>` continues a suspended (or crashed) durable execution, and
 * `toolexec approvals list|show|approve|deny` lets a person at the terminal see and decide the
 * calls that wait, against the same store as `toolexec exec` and `toolexec serve` (the config's
 * `store`, else the SQLite file under the user's data directory).
 *
 * Executions belong to a principal: the OS user by default (what `toolexec exec` and
 * `toolexec serve` over stdio use); `--token` names the executions of an HTTP client with that
 * bearer token, `--principal` any other (`session:<id>`).
 */
import type { Command } from 'commander';
import { loadConfig } from '../config/load-config.js';
import { openConfiguredStore } from '../engine/store.js';
import { StoreError } from '../store/errors.js';
import type { Decision, ExecutionStore, ExecutionSummary } from '../store/types.js';
import type { ApprovalDecisions, ExecuteResult, PendingToolCall } from '../code/types.js';
import { osUserPrincipal, tokenPrincipal } from '../server/principal.js';
import { executionView } from '../server/executions.js';
import { approvalHandler, describePending, parseApproveMode, type ApproveMode } from './approval-prompt.js';
import { exitCodeOf, printExecuteResult } from './exec.js';
import { addEngineOptions, openEngine } from './tools-command.js';
import { UsageError, collect, writeJson } from './util.js';

interface PrincipalOptions {
  token?: string;
  principal?: string;
}

function addPrincipalOptions(command: Command): Command {
  return command
    .option('--token <token>', 'the executions of an HTTP client with this bearer token (toolexec serve --http --token)')
    .option('--principal <principal>', 'the executions of this principal (user:<name>, token:<hash>, session:<id>); default: your OS user');
}

function principalOf(opts: PrincipalOptions): string {
  if (opts.token !== undefined && opts.principal !== undefined) throw new UsageError('--token and --principal name the same thing; give one');
  if (opts.token !== undefined) return tokenPrincipal(opts.token);
  if (opts.principal !== undefined) {
    if (opts.principal.length === 0 || opts.principal.length > 1024) throw new UsageError('--principal must be a non-empty string');
    return opts.principal;
  }
  return osUserPrincipal();
}

/** What a missing or foreign execution is called, whichever it is. */
function notFound(id: string): UsageError {
  return new UsageError(`no execution ${JSON.stringify(id.slice(0, 64))} for this principal (it may have expired, or belong to someone else: see --token / --principal)`);
}

/** A store failure as one line; `NOT_FOUND` as a usage error (exit 2). */
function storeFailure(e: unknown, id: string): Error {
  if (StoreError.is(e, 'NOT_FOUND')) return notFound(id);
  if (e instanceof StoreError) return new UsageError(e.message);
  return e as Error;
}

async function withStore<T>(config: string | undefined, fn: (store: ExecutionStore) => Promise<T>): Promise<T> {
  const cfg = loadConfig(config);
  const store = await openConfiguredStore(cfg.store, 'sqlite', process.env, (m) => process.stderr.write(`toolexec: warning: ${m}\n`));
  try {
    return await fn(store);
  } finally {
    await store.close();
  }
}

function age(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  return s < 120 ? `${s}s` : s < 7200 ? `${Math.round(s / 60)}m` : `${Math.round(s / 3600)}h`;
}

function summaryLine(e: ExecutionSummary, now: number): string {
  const undecided = e.pending.filter((p) => !p.decision).length;
  const waits = e.status === 'suspended' ? ` ${e.pending.length} pending${undecided < e.pending.length ? ` (${e.pending.length - undecided} decided)` : ''}` : '';
  return `${e.executionId}  ${e.status}${waits}  ${age(now - e.updatedAt)} ago  expires in ${age(e.expiresAt - now)}`;
}

/** Decisions from `--approve` / `--deny` / `--edit` / `--reason` flags. */
function flagDecisions(approve: string[], deny: string[], edits: string[], reason: string | undefined, pending: PendingToolCall[] | undefined): ApprovalDecisions {
  const all = (list: string[]) => (list.includes('all') ? (pending ?? []).map((p) => p.callId) : list);
  const edited = new Map<string, Record<string, unknown>>();
  for (const e of edits) {
    const eq = e.indexOf('=');
    if (eq <= 0) throw new UsageError(`--edit takes <callId>=<json arguments>, got ${JSON.stringify(e.slice(0, 80))}`);
    let args: unknown;
    try {
      args = JSON.parse(e.slice(eq + 1));
    } catch (err) {
      throw new UsageError(`--edit ${e.slice(0, eq)}: the arguments are not JSON (${(err as Error).message})`);
    }
    if (!args || typeof args !== 'object' || Array.isArray(args)) throw new UsageError(`--edit ${e.slice(0, eq)}: the arguments must be a JSON object`);
    edited.set(e.slice(0, eq), args as Record<string, unknown>);
  }
  const approveIds = [...new Set([...all(approve), ...edited.keys()])];
  return {
    approve: approveIds.map((callId) => (edited.has(callId) ? { callId, args: edited.get(callId)! } : callId)),
    deny: all(deny).map((callId) => ({ callId, ...(reason !== undefined ? { reason } : {}) })),
  };
}

interface ResumeCliOptions extends PrincipalOptions {
  tools: string[];
  config?: string;
  approve: string[];
  deny: string[];
  edit: string[];
  reason?: string;
  then?: ApproveMode;
  json?: boolean;
}

/** Adds `toolexec resume` and `toolexec approvals` to the program. */
export function registerDurableCommands(program: Command): void {
  addPrincipalOptions(
    addEngineOptions(
      program
        .command('resume')
        .description('Continue a suspended durable execution (or one whose host died), after deciding its pending calls')
        .argument('<executionId>', 'the ID toolexec exec (or execute_code) printed'),
    ),
  )
    .option('--approve <callId>', 'approve this pending call ("all": every one) (repeatable)', collect, [])
    .option('--deny <callId>', 'deny this pending call ("all": every one): the script gets APPROVAL_DENIED (repeatable)', collect, [])
    .option('--edit <callId=json>', 'approve this call with these arguments instead (repeatable)', collect, [])
    .option('--reason <text>', 'the reason shown to the script for the denied calls')
    .option('--then <mode>', 'calls that need approval after this point: ask, deny or allow (default: suspend again, exit code 3)', parseApproveMode)
    .option('--json', 'print the whole ExecuteResult as JSON on stdout')
    .addHelpText('after', '\nExit codes: 0 the script succeeded, 1 it failed, 2 bad usage (or no such execution), 3 suspended again.')
    .action(async (executionId: string, opts: ResumeCliOptions) => {
      const principal = principalOf(opts);
      const engine = await openEngine({ tools: opts.tools, ...(opts.config !== undefined ? { config: opts.config } : {}) }, { defaultStore: 'sqlite', explainEmpty: false });
      const ac = new AbortController();
      const onSigint = () => ac.abort();
      process.once('SIGINT', onSigint);
      const live = opts.then ? approvalHandler(opts.then, { scriptFromStdin: false }) : undefined;
      try {
        const store = await engine.store();
        const record = await store.get(executionId, principal);
        if (!record) throw notFound(executionId);
        const pending = record.pending.map((p) => ({ callId: p.callId, toolId: p.toolId, args: p.args as never }));
        const decisions = flagDecisions(opts.approve, opts.deny, opts.edit, opts.reason, pending);
        let result: ExecuteResult;
        try {
          result = await engine.resume(executionId, decisions, { principal, signal: ac.signal, ...(live ? { onApproval: live.handler } : {}) });
        } catch (e) {
          throw storeFailure(e, executionId);
        }
        if (opts.json) writeJson(result);
        else printExecuteResult(result);
        process.exitCode = exitCodeOf(result);
      } finally {
        live?.close();
        process.off('SIGINT', onSigint);
        await engine.close();
      }
    });

  const approvals = program.command('approvals').description('See and decide the tool calls durable executions wait for (decisions only: toolexec resume, or the client, continues)');

  addPrincipalOptions(approvals.command('list').description('Executions that wait for decisions (with --all: every live execution)'))
    .option('-c, --config <file>', 'config file whose "store" to read (default: ./toolexec.config.json when present)')
    .option('--all', 'every live execution, not only the suspended ones')
    .option('--json', 'print the executions as JSON')
    .action(async (opts: PrincipalOptions & { config?: string; all?: boolean; json?: boolean }) => {
      const principal = principalOf(opts);
      await withStore(opts.config, async (store) => {
        const page = await store.list(principal, { ...(opts.all ? {} : { status: 'suspended' }), limit: 1000 });
        if (opts.json) {
          writeJson(page.executions);
          return;
        }
        const now = Date.now();
        if (page.executions.length === 0) process.stdout.write(opts.all ? 'no executions\n' : 'no executions wait for a decision\n');
        for (const e of page.executions) {
          process.stdout.write(`${summaryLine(e, now)}\n`);
          for (const p of e.pending) {
            const d = p.decision ? `  [${p.decision.action === 'approve' ? 'approved' : 'denied'}]` : '';
            process.stdout.write(`  ${describePending(p as unknown as PendingToolCall)}${d}\n`);
          }
        }
      });
    });

  addPrincipalOptions(approvals.command('show').description('One execution: its status, pending calls, logs and tool calls so far').argument('<executionId>'))
    .option('-c, --config <file>', 'config file whose "store" to read')
    .option('--json', 'print it as JSON')
    .action(async (executionId: string, opts: PrincipalOptions & { config?: string; json?: boolean }) => {
      const principal = principalOf(opts);
      await withStore(opts.config, async (store) => {
        const rec = await store.get(executionId, principal);
        if (!rec) throw notFound(executionId);
        const view = executionView(rec);
        if (opts.json) {
          writeJson(view);
          return;
        }
        process.stdout.write(`${summaryLine(rec, Date.now())}\n`);
        for (const p of rec.pending) process.stdout.write(`  pending ${describePending(p as unknown as PendingToolCall)}${p.decision ? `  [${p.decision.action}]` : ''}\n`);
        const result = view.result as Partial<ExecuteResult> | undefined;
        for (const l of result?.logs ?? []) process.stdout.write(`  log ${l.message}\n`);
        for (const c of result?.toolCalls ?? []) process.stdout.write(`  call ${c.toolId} ${c.ok ? 'ok' : `failed ${c.error?.code ?? ''}`}\n`);
      });
    });

  for (const action of ['approve', 'deny'] as const) {
    addPrincipalOptions(
      approvals
        .command(action)
        .description(action === 'approve' ? 'Approve pending calls of an execution (it continues when resumed)' : 'Deny pending calls of an execution: the script gets APPROVAL_DENIED when resumed')
        .argument('<executionId>')
        .argument('[callIds...]', 'the calls to decide (default with --all: every pending call)'),
    )
      .option('-c, --config <file>', 'config file whose "store" to use')
      .option('--all', 'every pending call')
      .option(action === 'approve' ? '--args <json>' : '--reason <text>', action === 'approve' ? 'run the (one) call with these arguments instead' : 'the reason the script is shown')
      .action(async (executionId: string, callIds: string[], opts: PrincipalOptions & { config?: string; all?: boolean; args?: string; reason?: string }) => {
        const principal = principalOf(opts);
        await withStore(opts.config, async (store) => {
          const rec = await store.get(executionId, principal);
          if (!rec) throw notFound(executionId);
          if (rec.status !== 'suspended') throw new UsageError(`execution ${executionId} is ${rec.status}; only a suspended execution waits for decisions`);
          const ids = opts.all ? rec.pending.filter((p) => !p.decision).map((p) => p.callId) : callIds;
          if (ids.length === 0) throw new UsageError(`name the calls to ${action} (pending: ${rec.pending.map((p) => p.callId).join(', ')}), or pass --all`);
          let args: Record<string, unknown> | undefined;
          if (opts.args !== undefined) {
            if (ids.length !== 1) throw new UsageError('--args edits one call: name exactly one callId');
            try {
              args = JSON.parse(opts.args) as Record<string, unknown>;
            } catch (e) {
              throw new UsageError(`--args is not JSON: ${(e as Error).message}`);
            }
            if (!args || typeof args !== 'object' || Array.isArray(args)) throw new UsageError('--args must be a JSON object');
          }
          const by = `cli ${osUserPrincipal()}`;
          const decisions: Decision[] = ids.map((callId) =>
            action === 'approve' ? { callId, action, by, ...(args !== undefined ? { args } : {}) } : { callId, action, by, ...(opts.reason !== undefined ? { reason: opts.reason } : {}) },
          );
          try {
            await store.decide(executionId, principal, decisions);
          } catch (e) {
            throw storeFailure(e, executionId);
          }
          process.stdout.write(`${action === 'approve' ? 'approved' : 'denied'} ${ids.join(', ')} of ${executionId}; continue with: toolexec resume ${executionId} (or resume_execution from the client)\n`);
        });
      });
  }
}
