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
import { Execution } from './execution.js';
import { LimitPolicy } from './limits.js';
import { jsSafeName } from './names.js';
import { prepareScript } from './prepare.js';
import type { ExecuteOptions, ExecuteResult, ExecutorOptions, ExecutorRunner } from './types.js';

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
    const inputText = options.input === undefined ? undefined : inputJson(options.input);
    const limits = this.limits.resolve(options);
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
    let runtime: Runtime;
    try {
      runtime = await this.runtime();
    } catch (e) {
      const message = e instanceof RuntimeUnavailableError ? e.message : `The ${this.runtimeName} runtime could not be loaded: ${(e as Error)?.message ?? e}`;
      // A failed load is retried on the next call (the engine may have been installed since).
      this.runtimePromise = undefined;
      return run.result({ failure: { code: 'RUNTIME_UNAVAILABLE', message } });
    }
    const result = await run.start(runtime, prepared, options.filename ?? 'script.js');
    if (typecheckMs !== undefined) result.stats.typecheckMs = typecheckMs;
    return result;
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
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.dispose();
  }
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

