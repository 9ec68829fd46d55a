/**
 * The `sandbox` backend: tools whose implementation is untrusted guest code, a module whose
 * default export is the handler:
 *
 *   export default async (args) => ({ doubled: args.n * 2 })
 *
 * Every call runs in a fresh sandbox of the executor's runtime, under the executor's limits.
 * The arguments travel as data (the execution's `input`, JSON parsed inside the sandbox), never
 * as source text: one plugin is one constant script, prepared once, and an argument such as
 * `{"__proto__": ...}` stays an ordinary own property instead of becoming a prototype. The plugin reaches other
 * tools through the same `run()` / `tools` bridge as scripts, and only those its definition
 * allows (none by default).
 */
import type { Backend, BackendResult, CallContext } from '../backends/types.js';
import { ToolError, type ToolErrorCode } from '../model/errors.js';
import { validateDefinition } from '../model/tool-id.js';
import type { JsonValue, Tool, ToolDefinition } from '../model/tool.js';
import type { Runtime, RuntimeName } from '../runtime/types.js';
import { Executor } from './executor.js';
import { prepareScript } from './prepare.js';
import type { ExecuteLimits, ExecuteResult, ExecutorRunner } from './types.js';

/** A tool definition whose handler is guest source code. */
export interface SandboxToolDefinition extends ToolDefinition {
  /** Guest source with `export default <async function>` (JavaScript or TypeScript). */
  code: string;
  /** Tool ID patterns this plugin may call (default: none). */
  allowedTools?: string[];
  /** Limits for each call (capped by the backend's executor). */
  limits?: Partial<Omit<ExecuteLimits, 'allowedTools'>>;
}

export interface SandboxBackendOptions {
  /** The runner plugins call other tools through (usually the runner this backend is added to). */
  runner: ExecutorRunner;
  /** Backend name in descriptors (default `sandbox`). */
  name?: string;
  /** Runtime for plugin code (default `quickjs`), by name or instance. */
  runtime?: RuntimeName | Runtime;
  /** Default limits for plugin calls. */
  limits?: Partial<ExecuteLimits>;
}

interface Plugin {
  /** The constant script every call of this plugin runs. */
  script: string;
  allowedTools: string[];
  limits: Partial<Omit<ExecuteLimits, 'allowedTools'>>;
}

const DEFAULT_EXPORT = /(^|[\n;{}])([ \t]*)export\s+default\s+/g;
const MAIN = '__toolexec_plugin_main';

/**
 * Turns `export default <expr>` into a script that calls it with the execution's `input` (the
 * call's arguments) and returns the result. The call goes last so the plugin's lines keep
 * their numbers; `globalThis.input`, because the plugin's own code may declare an `input`.
 */
export function pluginScript(source: string): string {
  const matches = [...source.matchAll(DEFAULT_EXPORT)];
  if (matches.length !== 1) {
    throw new TypeError(`plugin code must have exactly one \`export default\` (found ${matches.length})`);
  }
  if (/(^|\n)\s*(import\s|export\s+(?!default))/.test(source)) {
    throw new TypeError('plugin code cannot use import or named exports: it runs alone in a sandbox; call other tools with run()');
  }
  const body = source.replace(DEFAULT_EXPORT, (_m, lead: string, ws: string) => `${lead}${ws}const ${MAIN} = `);
  return `${body}\n;return await ${MAIN}(globalThis.input);`;
}

/** Maps an execution failure to the ToolError the runner reports for the plugin call. */
function toToolError(toolId: string, r: ExecuteResult): ToolError {
  const e = r.error!;
  const code: ToolErrorCode = e.code === 'TIMEOUT' ? 'TIMEOUT' : e.code === 'CANCELLED' ? 'CANCELLED' : 'EXECUTION';
  const where = e.line !== undefined ? ` at line ${e.line}${e.column !== undefined ? `:${e.column}` : ''}` : '';
  return new ToolError(code, `Plugin ${toolId} failed with ${e.code}${where}: ${e.message}`, {
    toolId,
    backend: { kind: 'sandbox', name: 'sandbox' },
    data: { error: e, logs: r.logs, toolCalls: r.toolCalls },
  });
}

/** Runs plugin tools in sandboxes. Add it to a runner with `runner.use(backend)`. */
export class SandboxBackend implements Backend {
  readonly kind = 'sandbox' as const;
  readonly name: string;
  private readonly plugins = new Map<string, Plugin>();
  private readonly executor: Executor;
  private readonly maxScriptBytes: number | undefined;

  constructor(options: SandboxBackendOptions) {
    this.name = options.name ?? 'sandbox';
    this.maxScriptBytes = options.limits?.maxScriptBytes;
    this.executor = new Executor({ runner: options.runner, runtime: options.runtime ?? 'quickjs', limits: options.limits });
  }

  /**
   * Registers a plugin: its code is checked now (a syntax error or a missing default export
   * throws here, naming the tool), its definition goes in the runner's index.
   */
  register(def: SandboxToolDefinition): Tool {
    const { code, allowedTools, limits, ...definition } = def;
    const id = validateDefinition(definition);
    if (typeof code !== 'string') throw new TypeError(`Plugin ${id}: code must be a string`);
    let script: string;
    try {
      script = pluginScript(code);
    } catch (e) {
      throw new TypeError(`Plugin ${id}: ${(e as Error).message}`);
    }
    // Prepared as every call will run it (with an input): the calls then find it cached.
    const maxScriptBytes = limits?.maxScriptBytes ?? this.maxScriptBytes;
    const prepared = prepareScript(script, { input: true, ...(maxScriptBytes !== undefined ? { maxScriptBytes } : {}) });
    if (!prepared.ok) {
      const p = prepared.error;
      throw new TypeError(`Plugin ${id}: ${p.message}`);
    }
    this.plugins.set(id, { script, allowedTools: [...(allowedTools ?? [])], limits: { ...(limits ?? {}) } });
    return this.executor.runner.index.register(definition, { kind: 'sandbox', name: this.name }, { onConflict: 'merge', replaceDefinition: true });
  }

  has(toolId: string): boolean {
    return this.plugins.has(toolId);
  }

  async call(toolId: string, args: Record<string, unknown>, ctx: CallContext): Promise<BackendResult> {
    const plugin = this.plugins.get(toolId);
    if (!plugin) throw new ToolError('TOOL_NOT_FOUND', `No sandbox plugin ${toolId}`, { toolId, backend: { kind: 'sandbox', name: this.name } });
    const limits = { ...plugin.limits };
    if (ctx.timeoutMs !== undefined) limits.timeoutMs = Math.min(limits.timeoutMs ?? Infinity, ctx.timeoutMs);
    const r = await this.executor.execute(plugin.script, {
      ...limits,
      input: args as JsonValue,
      allowedTools: plugin.allowedTools,
      signal: ctx.signal,
      filename: `${toolId.replace(/[^A-Za-z0-9_.-]/g, '_')}.js`,
    });
    if (!r.ok) throw toToolError(toolId, r);
    const value = r.value ?? null;
    return { structured: value, content: [{ type: 'text', text: JSON.stringify(value) }], isStructured: true };
  }

  async dispose(): Promise<void> {
    await this.executor.dispose();
  }
}
