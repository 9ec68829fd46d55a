/**
 * The executor: runs an agent's script in a sandbox runtime whose only way out is the
 * `run()` bridge back into the runner (DESIGN.md "Executor contract", "The bridge").
 *
 * It owns what outlives one execution: the runtime (loaded lazily by name, or given), the limit
 * policy (`limits.ts`), the tool-ID aliases. Each execution is an `Execution` (`execution.ts`),
 * the host end of the bridge. `execute()` returns a result for anything the script does; it
 * throws only for misuse of the API.
 */
import { assertRuntimeName, loadRuntime, RUNTIME_NAMES, RuntimeUnavailableError } from '../runtime/load.js';
import type { Runtime, RuntimeName } from '../runtime/types.js';
import { resolveEgressPolicy, type ResolvedEgress } from './egress-policy.js';
import type { Tracer } from '@opentelemetry/api';
import { ExecutionMetrics, defaultMeter, defaultTracer } from '../run/telemetry.js';
import { StoreError } from '../store/errors.js';
import { defaultOwnerId } from '../store/ids.js';
import { JournalWriter } from '../store/journal-writer.js';
import type { ExecutionRecord, ExecutionStore, JsonValue as StoreJson } from '../store/types.js';
import { ApprovalPolicy, toStoreDecisions } from './approval.js';
import { DurablePart } from './durable.js';
import { Execution } from './execution.js';
import { Journal, journalFailure, stalledMessage } from './journal.js';
import { LimitPolicy, NUMERIC_LIMITS, type ResolvedLimits } from './limits.js';
import { jsSafeName } from './names.js';
import { prepareScript, type PreparedScript } from './prepare.js';
import type { ApprovalDecisions, ApprovalHandler, ExecuteLimits, ExecuteOptions, ExecuteResult, ExecutorOptions, ExecutorRunner, ResumeOptions } from './types.js';
import { seedHex } from './entropy.js';

/** Default of `approvalTimeoutMs`: how long a live approval may take before the execution suspends. */
export const DEFAULT_APPROVAL_TIMEOUT_MS = 300_000;
/** Default principal of executions that name none. */
export const DEFAULT_PRINCIPAL = 'local';

/** What a durable execution keeps of its options in the store (`record.options`). */
interface StoredOptions {
  v: 1;
  runtime: string;
  filename: string;
  limits: ResolvedLimits;
  approval: ReturnType<ApprovalPolicy['toJSON']>;
  env: { seed: string; now: number };
  input?: string;
}

export { DEFAULT_EXECUTE_LIMITS, DEFAULT_MAX_LIMITS } from './limits.js';

export { jsSafeName } from './names.js';

/**
 * Runs agent scripts in a sandbox runtime with `run()`, `tools`, `searchTools`, `describeTool`
 * and `console` as globals (DESIGN.md "Executor contract"). One executor shares its runtime's
 * warm pool between executions; each execution gets a fresh context.
 *
 *   const executor = new Executor({ runner, runtime: 'quickjs', limits: { timeoutMs: 5_000 } });
 *   const result = await executor.execute('(await tools.math.add({ a: 1, b: 2 })).sum');
 */
export class Executor implements AsyncDisposable {
  readonly runner: ExecutorRunner;
  private readonly runtimeSpec: RuntimeName | Runtime;
  private readonly runtimeOptions: Record<string, unknown>;
  private runtimePromise: Promise<Runtime> | undefined;
  private readonly ownsRuntime: boolean;
  private readonly limits: LimitPolicy;
  private aliases: Map<string, string> | undefined;
  private unsubscribe: (() => void) | undefined;
  private disposed = false;
  private readonly typeChecker: ExecutorOptions['typeChecker'];
  /** @internal Granted egress, checked (absent: scripts have no `fetch`). */
  readonly egress: ResolvedEgress | undefined;
  /** @internal */
  readonly tracer: Tracer;
  /** @internal */
  readonly metrics: ExecutionMetrics;
  private readonly policy: ApprovalPolicy;
  private readonly alwaysDurable: boolean;
  private readonly onApproval: ApprovalHandler | undefined;
  private readonly approvalTimeoutMs: number;
  private readonly executionTtlMs: number | undefined;
  private readonly maxJournalBytes: number | undefined;
  private readonly leaseMs: number | undefined;
  /** The principal of executions that name none. */
  readonly principal: string;
  /** This process's name as a lease holder of running executions. */
  readonly owner: string;
  private storeValue: ExecutionStore | undefined;
  private storePromise: Promise<ExecutionStore> | undefined;
  private ownsStore = false;
  private storeFactory: (() => Promise<ExecutionStore>) | undefined;

  constructor(options: ExecutorOptions) {
    if (!options || typeof options !== 'object') throw new TypeError('new Executor(options): options must be an object with a `runner`');
    const runner = options.runner;
    if (!runner || typeof runner.run !== 'function' || !runner.index) {
      throw new TypeError('new Executor(options): `runner` must have run(toolId, args, options) and an `index`');
    }
    this.runner = runner;
    const rt = options.runtime ?? 'quickjs';
    if (typeof rt === 'string') {
      assertRuntimeName(rt);
      this.ownsRuntime = true;
    } else if (rt && typeof rt === 'object' && typeof rt.start === 'function') {
      this.ownsRuntime = false;
    } else {
      throw new TypeError(`runtime must be one of ${RUNTIME_NAMES.join(', ')} or a Runtime object`);
    }
    this.runtimeSpec = rt;
    this.runtimeOptions = options.runtimeOptions ?? {};
    this.limits = new LimitPolicy(options.limits, options.maxLimits);
    this.typeChecker = options.typeChecker;
    this.egress = options.egress === undefined ? undefined : resolveEgressPolicy(options.egress, 'new Executor(options): egress');
    this.tracer = options.tracer ?? defaultTracer();
    this.metrics = new ExecutionMetrics(options.meter ?? defaultMeter());
    this.policy = ApprovalPolicy.from(options.approve, options.approveDestructive, 'new Executor(options)');
    if (options.durable !== undefined && typeof options.durable !== 'boolean') throw new TypeError('new Executor(options): durable must be true or false');
    this.alwaysDurable = options.durable === true;
    if (options.onApproval !== undefined && typeof options.onApproval !== 'function') throw new TypeError('new Executor(options): onApproval must be a function (pending calls) => decisions');
    this.onApproval = options.onApproval;
    this.approvalTimeoutMs = positive(options.approvalTimeoutMs, 'approvalTimeoutMs') ?? DEFAULT_APPROVAL_TIMEOUT_MS;
    this.executionTtlMs = positive(options.executionTtlMs, 'executionTtlMs');
    this.maxJournalBytes = positive(options.maxJournalBytes, 'maxJournalBytes');
    this.leaseMs = positive(options.leaseMs, 'leaseMs');
    if (typeof options.store === 'function') this.storeFactory = options.store;
    else if (options.store !== undefined) {
      const st = options.store as Partial<ExecutionStore> | null;
      if (!st || typeof st.create !== 'function' || typeof st.claim !== 'function') {
        throw new TypeError('new Executor(options): store must be an ExecutionStore (toolexec/store/memory, toolexec/store/sqlite or toolexec/store/redis), or a function that opens one');
      }
      this.storeValue = options.store;
    }
    this.principal = principalOf(options.principal ?? DEFAULT_PRINCIPAL, 'new Executor(options).principal');
    this.owner = options.owner ?? defaultOwnerId();
  }

  /**
   * The store of this executor's durable executions: the one given, or an in-memory store made on
   * first use (its executions live only as long as this executor).
   */
  async store(): Promise<ExecutionStore> {
    if (this.storeValue) return this.storeValue;
    if (this.storeFactory) return this.storeFactory();
    this.storePromise ??= import('../store/memory.js').then((m) => {
      this.ownsStore = true;
      this.storeValue = new m.MemoryExecutionStore();
      return this.storeValue;
    });
    return this.storePromise;
  }

  /** The runtime's name (`quickjs`, `isolated-vm`, `docker`, or a custom runtime's). */
  get runtimeName(): string {
    return typeof this.runtimeSpec === 'string' ? this.runtimeSpec : this.runtimeSpec.name;
  }

  /** Loads the runtime and starts its warm sandboxes ahead of the first execution. */
  async warm(): Promise<void> {
    const rt = await this.runtime();
    await rt.warm?.();
  }

  /** Runs a script. Never throws for anything the script does. */
  async execute(script: string, options: ExecuteOptions = {}): Promise<ExecuteResult> {
    if (this.disposed) throw new Error('This executor has been disposed');
    if (typeof script !== 'string') throw new TypeError(`execute(script): script must be a string, got ${script === null ? 'null' : typeof script}`);
    if (options.onToolCall !== undefined && typeof options.onToolCall !== 'function') throw new TypeError('execute(script, options): options.onToolCall must be a function');
    if (options.onLog !== undefined && typeof options.onLog !== 'function') throw new TypeError('execute(script, options): options.onLog must be a function');
    if (options.onApproval !== undefined && typeof options.onApproval !== 'function') throw new TypeError('execute(script, options): options.onApproval must be a function');
    if (options.durable !== undefined && typeof options.durable !== 'boolean') throw new TypeError('execute(script, options): durable must be true or false');
    const inputText = options.input === undefined ? undefined : inputJson(options.input);
    const limits = this.limits.resolve(options);
    // A call may add approvals, never remove the executor's.
    const policy = this.policy.merge(ApprovalPolicy.from(options.approve, options.approveDestructive, 'execute(script, options)'));
    const durable = this.alwaysDurable || options.durable === true || !policy.empty;
    const principal = options.principal === undefined ? this.principal : principalOf(options.principal, 'execute(script, options).principal');
    const approvalTimeoutMs = Math.min(positive(options.approvalTimeoutMs, 'approvalTimeoutMs') ?? this.approvalTimeoutMs, this.approvalTimeoutMs);
    const started = performance.now();
    const prepared = prepareScript(script, {
      maxScriptBytes: limits.maxScriptBytes,
      input: inputText !== undefined,
    });
    const run = new Execution(this, limits, options, started, inputText);
    if (!prepared.ok) return run.result({ failure: prepared.error });
    let typecheckMs: number | undefined;
    if (options.typecheck) {
      // Before the runtime loads and before any tool can run; TypeScript loads only here.
      const { checkScript } = await import('./typecheck.js');
      const checked = await checkScript({
        script,
        typescript: prepared.typescript,
        index: this.runner.index,
        allowedTools: [limits.allowedTools, limits.allowedToolsBase],
        runtime: this.runtimeName,
        timeoutMs: limits.timeoutMs,
        input: inputText !== undefined,
        egress: this.egress !== undefined,
        ...(options.signal ? { signal: options.signal } : {}),
        ...(this.typeChecker ? { checker: this.typeChecker } : {}),
      });
      typecheckMs = checked.durationMs;
      if (checked.error) {
        const failed = run.result({ failure: checked.error });
        if (checked.error.diagnostics) failed.error!.diagnostics = checked.error.diagnostics;
        failed.stats.typecheckMs = typecheckMs;
        return failed;
      }
    }
    const filename = options.filename ?? 'script.js';
    if (!durable) {
      const loaded = await this.loadRuntime(run);
      if (!loaded.ok) return loaded.result;
      const result = await run.start(loaded.runtime, prepared, filename);
      if (typecheckMs !== undefined) result.stats.typecheckMs = typecheckMs;
      return result;
    }
    const stored: StoredOptions = { v: 1, runtime: this.runtimeName, filename, limits, approval: policy.toJSON(), env: { seed: seedHex(), now: Date.now() }, ...(inputText !== undefined ? { input: inputText } : {}) };
    let store: ExecutionStore;
    let record: ExecutionRecord;
    try {
      store = await this.store();
      record = await store.create({
        principal,
        owner: this.owner,
        script,
        options: stored,
        ...(this.executionTtlMs !== undefined ? { ttlMs: this.executionTtlMs } : {}),
        ...(this.maxJournalBytes !== undefined ? { maxJournalBytes: this.maxJournalBytes } : {}),
        ...(this.leaseMs !== undefined ? { leaseMs: this.leaseMs } : {}),
      });
    } catch (e) {
      return run.result({ failure: journalFailure(e) });
    }
    const result = await this.runPart(store, record, principal, prepared, stored, limits, policy, started, {
      ...options,
      onApproval: options.onApproval ?? this.onApproval,
      approvalTimeoutMs,
    });
    if (typecheckMs !== undefined) result.stats.typecheckMs = typecheckMs;
    return result;
  }

  /**
   * Continues a suspended durable execution (or one whose host died: its lease must have
   * expired): records `decisions` (approve, optionally with edited arguments; deny with a reason),
   * then runs the script again from its start with the journal answering every call already made,
   * runs the approved calls, throws `APPROVAL_DENIED` into the script for the denied ones, and goes
   * on. It may suspend again. A completed execution's result is returned as it was.
   *
   * Throws a `StoreError` when there is nothing to resume: `NOT_FOUND` (no such execution for this
   * principal: missing, expired or someone else's), `LEASE_HELD` (another process runs it right
   * now), `UNDECIDED` (with `requireDecisions`), `CONFLICT` (a call was decided already),
   * `INVALID_STATE` (a decision names a call that is not pending).
   */
  async resume(executionId: string, decisions?: ApprovalDecisions, options: ResumeOptions = {}): Promise<ExecuteResult> {
    if (this.disposed) throw new Error('This executor has been disposed');
    if (typeof executionId !== 'string') throw new TypeError('resume(executionId): executionId must be a string');
    if (options.onApproval !== undefined && typeof options.onApproval !== 'function') throw new TypeError('resume(id, decisions, options): options.onApproval must be a function');
    const principal = options.principal === undefined ? this.principal : principalOf(options.principal, 'resume(id, decisions, options).principal');
    const list = toStoreDecisions(decisions, (decisions as { by?: string } | undefined)?.by, 'resume(id, decisions)');
    const store = await this.store();
    if (list.length > 0) await store.decide(executionId, principal, list);
    let claimed;
    try {
      claimed = await store.claim(executionId, principal, this.owner, {
        ...(options.requireDecisions ? { requireDecisions: true } : {}),
        ...(this.leaseMs !== undefined ? { leaseMs: this.leaseMs } : {}),
      });
    } catch (e) {
      // A finished execution: its result, as often as it is asked for.
      if (StoreError.is(e, 'INVALID_STATE')) {
        const rec = await store.get(executionId, principal);
        if (rec && (rec.status === 'completed' || rec.status === 'failed') && rec.result) return rec.result as unknown as ExecuteResult;
      }
      throw e;
    }
    const record = claimed.record;
    const started = performance.now();
    const stored = readStored(record.options);
    // The resuming executor's policy applies too: its ceilings, its allow-list, its approvals.
    const limits = this.resumeLimits(stored.limits);
    const policy = this.policy.merge(ApprovalPolicy.fromJson(stored.approval));
    const approvalTimeoutMs = Math.min(positive(options.approvalTimeoutMs, 'approvalTimeoutMs') ?? this.approvalTimeoutMs, this.approvalTimeoutMs);
    const prepared = prepareScript(record.script, { maxScriptBytes: Math.max(limits.maxScriptBytes, Buffer.byteLength(record.script)), input: stored.input !== undefined });
    if (!prepared.ok) {
      const run = new Execution(this, limits, options, started, stored.input);
      return this.finishUnstarted(store, record, principal, run.result({ failure: prepared.error }));
    }
    return this.runPart(store, record, principal, prepared, stored, limits, policy, started, {
      ...(options.signal ? { signal: options.signal } : {}),
      ...(options.onToolCall ? { onToolCall: options.onToolCall } : {}),
      ...(options.onLog ? { onLog: options.onLog } : {}),
      onApproval: options.onApproval ?? this.onApproval,
      approvalTimeoutMs,
    });
  }

  /** Runs one part of a durable execution whose lease this process holds, and records how it ended. */
  private async runPart(
    store: ExecutionStore,
    record: ExecutionRecord,
    principal: string,
    prepared: PreparedScript,
    stored: StoredOptions,
    limits: ResolvedLimits,
    policy: ApprovalPolicy,
    started: number,
    options: Pick<ExecuteOptions, 'signal' | 'onToolCall' | 'onLog' | 'onApproval' | 'approvalTimeoutMs' | 'traceContext'>,
  ): Promise<ExecuteResult> {
    const ref = { executionId: record.executionId, principal, owner: this.owner };
    // The lease the store just gave (its own default when the executor names none): renewed at a third of it.
    const leaseMs = this.leaseMs ?? (record.lease ? Math.max(1, record.lease.expiresAt - record.updatedAt) : 30_000);
    let journal: Journal | undefined;
    const writer = new JournalWriter(store, ref, record.journalLength, {
      heartbeatMs: Math.max(100, Math.floor(leaseMs / 3)),
      ...(this.leaseMs !== undefined ? { leaseMs: this.leaseMs } : {}),
      onFailure: (e) => journal?.writerFailed(e),
    });
    journal = new Journal(writer, record, started, stored.input, Date.now(), store.durability?.level);
    const prior = journal.state.prior;
    const j = journal;
    const part = new DurablePart({
      executionId: record.executionId,
      principal,
      journal,
      policy,
      handler: options.onApproval,
      approvalTimeoutMs: options.approvalTimeoutMs ?? this.approvalTimeoutMs,
      stalledMessage: (finished) => stalledMessage(j, finished),
    });
    const run = new Execution(this, limits, options, started, stored.input, part);
    let result: ExecuteResult;
    const loaded = await this.loadRuntime(run);
    if (!loaded.ok) result = loaded.result;
    else {
      // The recorded environment: the replay's clock starts where the first run's did, its
      // randomness from the same seed.
      run.env = { seed: stored.env.seed, now: stored.env.now, durable: true };
      result = await run.start(loaded.runtime, prepared, stored.filename);
    }
    // The whole execution so far: earlier parts' logs and time, this part's ledger (replayed calls included).
    result.executionId = record.executionId;
    result.stats.parts = journal.state.parts + 1;
    if (prior) {
      result.logs = [...(prior.logs ?? []), ...result.logs];
      result.stats.durationMs += typeof prior.stats?.durationMs === 'number' ? prior.stats.durationMs : 0;
    }
    try {
      if (run.suspended) {
        result.status = 'suspended';
        const pending = run.suspended.map((p) => ({ callId: p.callId, toolId: p.toolId, args: p.args, i: p.i, h: p.h, tool: p.tool, ...(p.title !== undefined ? { title: p.title } : {}) }));
        await writer.suspend({ pending, entries: [{ type: 'part', n: result.stats.parts, result: storedResult(result) }] });
      } else {
        result.status = result.ok ? 'completed' : 'failed';
        await completeWith(writer, result);
      }
    } catch (e) {
      writer.close();
      const f = journalFailure(e);
      if (StoreError.is(e, 'JOURNAL_LIMIT') || StoreError.is(writer.failure, 'JOURNAL_LIMIT')) {
        // The refused write left the journal as it was: end the execution there with a small
        // result, so that nobody resumes it into the same wall.
        const small = { ok: false, status: 'failed', error: { code: f.code, message: f.message }, logs: [], toolCalls: [], stats: result.stats, limits: result.limits };
        await new JournalWriter(store, ref, writer.length).complete({ status: 'failed', result: small }).catch(() => {});
      }
      result.ok = false;
      result.status = 'failed';
      delete result.value;
      delete result.pending;
      result.error = { code: f.code, message: f.message };
    }
    return result;
  }

  /** Records a resumed execution that could not start again (its script no longer prepares). */
  private async finishUnstarted(store: ExecutionStore, record: ExecutionRecord, principal: string, result: ExecuteResult): Promise<ExecuteResult> {
    result.executionId = record.executionId;
    result.status = 'failed';
    const writer = new JournalWriter(store, { executionId: record.executionId, principal, owner: this.owner }, record.journalLength);
    await completeWith(writer, result).catch(() => {});
    return result;
  }

  /** The limits of a resumed execution: as it started, within this executor's ceilings and allow-list. */
  private resumeLimits(stored: Partial<ResolvedLimits>): ResolvedLimits {
    const own: Partial<ExecuteLimits> = {};
    for (const k of NUMERIC_LIMITS) {
      const v = stored[k];
      if (typeof v === 'number' && Number.isFinite(v) && v > 0) own[k] = v;
    }
    const resolved = this.limits.resolve(own);
    const lists = [stored.allowedTools, stored.allowedToolsBase, ...(stored.allowedToolsAlso ?? [])].filter((l): l is string[] => Array.isArray(l) && l.every((p) => typeof p === 'string'));
    if (lists.length > 0) resolved.allowedToolsAlso = lists;
    return resolved;
  }

  private async loadRuntime(run: Execution): Promise<{ ok: true; runtime: Runtime } | { ok: false; result: ExecuteResult }> {
    try {
      return { ok: true, runtime: await this.runtime() };
    } catch (e) {
      const message = e instanceof RuntimeUnavailableError ? e.message : `The ${this.runtimeName} runtime could not be loaded: ${(e as Error)?.message ?? e}`;
      // A failed load is retried on the next call (the engine may have been installed since).
      this.runtimePromise = undefined;
      return { ok: false, result: run.result({ failure: { code: 'RUNTIME_UNAVAILABLE', message } }) };
    }
  }

  /** @internal Maps a written tool ID to a registered one (exact, then JavaScript-safe spelling). */
  resolveToolId(id: string): string {
    const index = this.runner.index;
    if (index.has(id)) return id;
    if (!this.aliases) {
      const aliases = new Map<string, string>();
      for (const tool of index.list()) {
        const alias = tool.namespace === undefined ? jsSafeName(tool.name) : `${jsSafeName(tool.namespace)}:${jsSafeName(tool.name)}`;
        // The first registration wins; an exact ID always beats an alias.
        if (!aliases.has(alias) && alias !== tool.id) aliases.set(alias, tool.id);
      }
      this.aliases = aliases;
      this.unsubscribe ??= index.onChange(() => (this.aliases = undefined));
    }
    return this.aliases.get(id) ?? id;
  }

  private runtime(): Promise<Runtime> {
    if (!this.runtimePromise) {
      const spec = this.runtimeSpec;
      this.runtimePromise = typeof spec === 'string' ? loadRuntime(spec, this.runtimeOptions) : Promise.resolve(spec);
    }
    return this.runtimePromise;
  }

  async dispose(): Promise<void> {
    if (this.disposed) return;
    this.disposed = true;
    this.unsubscribe?.();
    if (this.ownsRuntime && this.runtimePromise) {
      const rt = await this.runtimePromise.catch(() => undefined);
      await rt?.dispose();
    }
    if (this.ownsStore) await this.storeValue?.close().catch(() => {});
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.dispose();
  }
}

/** What a suspension keeps of the result (for the next part, and for readers of the execution). */
function storedResult(result: ExecuteResult): StoreJson {
  return result as unknown as StoreJson;
}

/** Completes the execution in the store with its result. */
async function completeWith(writer: JournalWriter, result: ExecuteResult): Promise<void> {
  await writer.complete({ status: result.ok ? 'completed' : 'failed', result });
}

/** Reads the options a durable execution stored (written by this module; checked all the same). */
function readStored(value: unknown): StoredOptions {
  const v = (value ?? {}) as Partial<StoredOptions>;
  const env = v.env && typeof v.env.seed === 'string' && /^[0-9a-f]{64}$/.test(v.env.seed) && typeof v.env.now === 'number' ? v.env : { seed: seedHex(), now: Date.now() };
  return {
    v: 1,
    runtime: typeof v.runtime === 'string' ? v.runtime : 'quickjs',
    filename: typeof v.filename === 'string' ? v.filename.slice(0, 200) : 'script.js',
    limits: (v.limits && typeof v.limits === 'object' ? v.limits : {}) as ResolvedLimits,
    approval: (v.approval ?? { approve: [], destructive: false }) as StoredOptions['approval'],
    env,
    ...(typeof v.input === 'string' ? { input: v.input } : {}),
  };
}

function positive(value: unknown, name: string): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) throw new TypeError(`${name} must be a positive number of milliseconds or bytes, got ${JSON.stringify(value)}`);
  return value;
}

function principalOf(value: unknown, where: string): string {
  if (typeof value !== 'string' || value.length === 0 || value.length > 1024) throw new TypeError(`${where} must be a non-empty string (a user, a token hash, a session)`);
  return value;
}

/** The JSON text of `execute()`'s input; throws (misuse of the API) for a value JSON cannot carry. */
function inputJson(input: unknown): string {
  let text: string | undefined;
  try {
    text = JSON.stringify(input);
  } catch (e) {
    throw new TypeError(`execute(script, { input }): input must be a JSON value (${(e as Error).message})`);
  }
  if (text === undefined) throw new TypeError('execute(script, { input }): input must be a JSON value, got ' + typeof input);
  return text;
}

