/**
 * The MCP server in front of an engine: a few tools that reach every tool behind it
 * (search, describe, run, chain) and run code against them (`execute_code`). One
 * `ToolexecServer` serves any number of sessions (one SDK `Server` per client connection:
 * stdio has one, Streamable HTTP one per session), all sharing the engine.
 *
 * Whatever a client sends, a session answers: every failure becomes an `isError` result
 * whose text starts with a stable code, never a crashed session.
 */
import { Server } from '@modelcontextprotocol/sdk/server/index.js';
import type { Transport } from '@modelcontextprotocol/sdk/shared/transport.js';
import {
  CallToolRequestSchema,
  ListToolsRequestSchema,
  type CallToolResult,
  type ServerNotification,
  type ServerRequest,
} from '@modelcontextprotocol/sdk/types.js';
import type { RequestHandlerExtra } from '@modelcontextprotocol/sdk/shared/protocol.js';
import { createRequire } from 'node:module';
import { ToolError } from '../model/errors.js';
import type { ContentItem } from '../model/tool.js';
import { defaultValidator } from '../schema/validator.js';
import type { CompiledValidator } from '../schema/types.js';
import type { ChainStep } from '../run/types.js';
import type { Engine, ExecuteToolCall } from '../engine/engine.js';
import type { ExecuteResult } from '../code/types.js';
import type { ConfigLimits } from '../config/load-config.js';
import { declarationsWithinBudget, generateTypes } from '../code/typegen.js';
import { EXECUTE_CODE_DESCRIPTION, SERVER_TOOL_NAMES, serverToolDefinitions, type ServerToolDefinition, type ServerToolName } from './tool-definitions.js';

const pkg = createRequire(import.meta.url)('../../package.json') as { version: string };

/** Default size of `execute_code`'s description, in characters (about 8,000 tokens). */
export const DEFAULT_DESCRIPTION_BUDGET = 32_000;

export interface ToolexecServerOptions {
  /** Server name in the `initialize` answer (default `toolexec`). */
  name?: string;
  version?: string;
  /**
   * Most characters of `execute_code`'s description (default: the config's
   * `serve.descriptionBudget`, else `DEFAULT_DESCRIPTION_BUDGET`). The tool declarations in it
   * degrade step by step to fit: docs first, then signatures become one line per tool, then
   * whole namespaces become one line (see `declarationsWithinBudget`).
   */
  descriptionBudget?: number;
  /** Where problems that are not any client's fault go (default: ignored). */
  onError?: (error: unknown) => void;
}

type Extra = RequestHandlerExtra<ServerRequest, ServerNotification>;

const INSTRUCTIONS =
  'toolexec gives access to many tools through a few. Find tools with search_tools or list_namespaces, read one with describe_tool, ' +
  'call one with run_tool, a fixed sequence with run_chain, and anything with logic, loops or several tools with execute_code ' +
  '(a sandboxed script that calls tools with `await run(id, args)`; its description lists the tool declarations).';

function safeJson(value: unknown, space?: number): string {
  try {
    return JSON.stringify(value, (_k, v) => (typeof v === 'bigint' ? v.toString() : v), space) ?? 'null';
  } catch (e) {
    return JSON.stringify(`[unserializable: ${(e as Error).message}]`);
  }
}

/** JSON round trip: what a client would receive anyway, and no host objects in results. */
function plain<T>(value: T): T {
  const text = safeJson(value);
  return JSON.parse(text) as T;
}

function errorResult(code: string, message: string, structured?: Record<string, unknown>): CallToolResult {
  return {
    isError: true,
    content: [{ type: 'text', text: `${code}: ${message}` }],
    ...(structured ? { structuredContent: structured } : {}),
  };
}

function toolErrorData(e: unknown): { code: string; message: string; [k: string]: unknown } {
  if (e instanceof ToolError) return plain(e.toJSON()) as { code: string; message: string };
  if (e && typeof e === 'object' && typeof (e as { code?: unknown }).code === 'string' && typeof (e as { message?: unknown }).message === 'string') {
    return { code: (e as { code: string }).code, message: (e as { message: string }).message };
  }
  return { code: 'EXECUTION', message: e instanceof Error ? e.message : String(e) };
}

/** Serves an engine over MCP. */
export class ToolexecServer implements AsyncDisposable {
  readonly engine: Engine;
  readonly #options: ToolexecServerOptions;
  readonly #sessions = new Set<Server>();
  readonly #validators = new Map<ServerToolName, CompiledValidator>();
  #definitions: ServerToolDefinition[];
  #executeDescription = EXECUTE_CODE_DESCRIPTION;
  #offChange: () => void;
  #refreshing: Promise<boolean> = Promise.resolve(false);
  #closed = false;

  constructor(engine: Engine, options: ToolexecServerOptions = {}) {
    this.engine = engine;
    this.#options = options;
    this.#definitions = serverToolDefinitions(this.#executeDescription);
    for (const d of this.#definitions) this.#validators.set(d.name, defaultValidator.compile(d.inputSchema));
    this.#offChange = engine.onToolsChanged(() => {
      void this.refresh();
    });
  }

  /** Builds the tool descriptions from the current tools; call once before serving. */
  async start(): Promise<this> {
    await this.refresh();
    return this;
  }

  /** The tool definitions sessions list right now. */
  get tools(): readonly ServerToolDefinition[] {
    return this.#definitions;
  }

  /** Number of open sessions. */
  get sessionCount(): number {
    return this.#sessions.size;
  }

  /**
   * Regenerates what depends on the tool set (`execute_code`'s declarations) and, when a
   * description actually changed, sends `notifications/tools/list_changed` to every session.
   * Resolves to whether anything changed.
   */
  refresh(): Promise<boolean> {
    // Serialized: two overlapping refreshes must not notify out of order.
    this.#refreshing = this.#refreshing.then(async () => {
      if (this.#closed) return false;
      let description: string;
      try {
        description = await this.#buildExecuteDescription();
      } catch (e) {
        // Never a rejected chain: the next refresh must still run.
        this.#options.onError?.(e);
        return false;
      }
      if (description === this.#executeDescription) return false;
      this.#executeDescription = description;
      this.#definitions = serverToolDefinitions(description);
      for (const s of this.#sessions) {
        s.sendToolListChanged().catch(() => {
          // a session whose transport is gone; it is removed on close
        });
      }
      return true;
    });
    return this.#refreshing;
  }

  async #buildExecuteDescription(): Promise<string> {
    const budget = this.#options.descriptionBudget ?? this.engine.config.serve?.descriptionBudget ?? DEFAULT_DESCRIPTION_BUDGET;
    if (this.engine.index.list().length === 0) return `${EXECUTE_CODE_DESCRIPTION}\n\nNo tools are available right now.`;
    const head = `${EXECUTE_CODE_DESCRIPTION}\n\nThe tools, as the script sees them (TypeScript declarations):\n\`\`\`ts\n`;
    const tail = '\n```';
    const { text } = declarationsWithinBudget(this.engine.index, Math.max(1, budget - head.length - tail.length));
    return `${head}${text.trim()}${tail}`;
  }

  /** A new MCP session (an SDK `Server`) wired to this engine; connect it to a transport. */
  createSession(): Server {
    if (this.#closed) throw new Error('The toolexec server has been closed');
    const server = new Server(
      { name: this.#options.name ?? 'toolexec', version: this.#options.version ?? pkg.version },
      { capabilities: { tools: { listChanged: true } }, instructions: INSTRUCTIONS },
    );
    server.setRequestHandler(ListToolsRequestSchema, async () => ({ tools: this.#definitions.map((d) => ({ ...d })) }));
    server.setRequestHandler(CallToolRequestSchema, async (request, extra) => this.#call(request.params.name, request.params.arguments, extra));
    server.onclose = () => {
      this.#sessions.delete(server);
    };
    this.#sessions.add(server);
    return server;
  }

  /** Creates a session and connects it to `transport`. */
  async connect(transport: Transport): Promise<Server> {
    const server = this.createSession();
    await server.connect(transport);
    return server;
  }

  /** Closes every session (the engine stays open: its owner closes it). */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#offChange();
    await Promise.allSettled([...this.#sessions].map((s) => s.close()));
    this.#sessions.clear();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  // ---------------------------------------------------------------- calls

  async #call(name: string, rawArgs: Record<string, unknown> | undefined, extra: Extra): Promise<CallToolResult> {
    if (!(SERVER_TOOL_NAMES as readonly string[]).includes(name)) {
      return errorResult('TOOL_NOT_FOUND', `This server has no tool ${JSON.stringify(name)}; its tools are ${SERVER_TOOL_NAMES.join(', ')}`);
    }
    const tool = name as ServerToolName;
    const args = rawArgs ?? {};
    const check = this.#validators.get(tool)!(args);
    if (!check.valid) return errorResult('INPUT_VALIDATION', `Invalid arguments for ${tool}: ${check.message}`);
    try {
      switch (tool) {
        case 'search_tools':
          return this.#searchTools(args);
        case 'list_namespaces':
          return this.#structured({ namespaces: this.engine.index.namespaces() });
        case 'describe_tool':
          return await this.#describeTool(args);
        case 'run_tool':
          return await this.#runTool(args, extra);
        case 'run_chain':
          return await this.#runChain(args, extra);
        case 'execute_code':
          return await this.#executeCode(args, extra);
      }
    } catch (e) {
      // Nothing above should throw; if something does, the client still gets an answer.
      this.#options.onError?.(e);
      const data = toolErrorData(e);
      return errorResult(data.code, data.message);
    }
  }

  #structured(value: Record<string, unknown>, text?: string): CallToolResult {
    const structured = plain(value);
    return { content: [{ type: 'text', text: text ?? safeJson(structured, 2) }], structuredContent: structured };
  }

  #searchTools(args: Record<string, unknown>): CallToolResult {
    const query = (args.query as string | undefined) ?? '';
    let page;
    try {
      page = this.engine.index.search(query, {
        limit: (args.limit as number | undefined) ?? 10,
        ...(args.cursor !== undefined ? { cursor: args.cursor as string } : {}),
        ...(args.namespace !== undefined ? { namespace: args.namespace as string } : {}),
      });
    } catch (e) {
      const code = (e as { code?: string }).code === 'INVALID_CURSOR' ? 'INVALID_CURSOR' : 'INPUT_VALIDATION';
      return errorResult(code, (e as Error).message);
    }
    const items = page.items.map((h) => ({
      id: h.id,
      ...(h.tool.title !== undefined ? { title: h.tool.title } : {}),
      ...(h.tool.description !== undefined ? { description: h.tool.description } : {}),
      ...(h.tool.namespace !== undefined ? { namespace: h.tool.namespace } : {}),
      score: h.score,
    }));
    return this.#structured({ items, total: page.total, ...(page.nextCursor ? { nextCursor: page.nextCursor } : {}) });
  }

  async #describeTool(args: Record<string, unknown>): Promise<CallToolResult> {
    const toolId = args.toolId as string;
    const detail = (args.detail as 'summary' | 'schema' | 'full' | undefined) ?? 'schema';
    const entry = this.engine.index.get(toolId);
    if (!entry) {
      const hits = this.engine.index.search(toolId.replace(/[:_.-]+/g, ' '), { limit: 3 }).items.map((h) => h.id);
      return errorResult('TOOL_NOT_FOUND', `No tool ${JSON.stringify(toolId)}${hits.length ? `; did you mean ${hits.join(', ')}?` : '; search_tools lists the tools'}`);
    }
    const t = entry.tool;
    const out: Record<string, unknown> = {
      id: t.id,
      ...(t.namespace !== undefined ? { namespace: t.namespace } : {}),
      name: t.name,
      ...(t.title !== undefined ? { title: t.title } : {}),
      ...(t.description !== undefined ? { description: t.description } : {}),
      ...(t.annotations !== undefined ? { annotations: t.annotations } : {}),
    };
    if (detail !== 'summary') {
      out.inputSchema = t.inputSchema ?? { type: 'object' };
      if (t.outputSchema !== undefined) out.outputSchema = t.outputSchema;
    }
    if (detail === 'full') {
      try {
        // The shared preamble (run, searchTools, ...) is in execute_code's description already.
        out.typescript = generateTypes(this.engine.index, (x) => x.id === t.id, { preamble: false }).trim();
      } catch (e) {
        return errorResult('EXECUTION', `Cannot generate the TypeScript signature of ${t.id}: ${(e as Error).message}`);
      }
    }
    return this.#structured(out);
  }

  #progress(extra: Extra): ((progress: number, message?: string, total?: number) => void) | undefined {
    const token = extra._meta?.progressToken;
    if (token === undefined) return undefined;
    return (progress, message, total) => {
      extra
        .sendNotification({
          method: 'notifications/progress',
          params: { progressToken: token, progress, ...(total !== undefined ? { total } : {}), ...(message !== undefined ? { message } : {}) },
        })
        .catch(() => {
          // the client went away; the call itself is cancelled through extra.signal
        });
    };
  }

  async #runTool(args: Record<string, unknown>, extra: Extra): Promise<CallToolResult> {
    const toolId = args.toolId as string;
    const progress = this.#progress(extra);
    try {
      const result = await this.engine.runner.run(toolId, (args.args as Record<string, unknown> | undefined) ?? {}, {
        signal: extra.signal,
        ...(args.timeoutMs !== undefined ? { timeoutMs: args.timeoutMs as number } : {}),
        ...(progress ? { onProgress: (p) => progress(p.progress, p.message, p.total) } : {}),
      });
      const structured = plain({ toolId: result.toolId, backend: result.backend, structured: result.structured ?? null, durationMs: result.durationMs });
      const content = result.content.length > 0 ? (plain(result.content) as CallToolResult['content']) : [{ type: 'text' as const, text: safeJson(result.structured ?? null, 2) }];
      return { content, structuredContent: structured };
    } catch (e) {
      const data = toolErrorData(e);
      const upstream = e instanceof ToolError ? (e.data?.content as ContentItem[] | undefined) : undefined;
      const detail = Array.isArray(upstream) ? upstream.filter((c) => c.type === 'text').map((c) => (c as { text: string }).text) : [];
      return {
        isError: true,
        content: [{ type: 'text', text: `${data.code}: ${data.message}` }, ...detail.filter((t) => !data.message.includes(t)).map((text) => ({ type: 'text' as const, text }))],
        structuredContent: { error: data },
      };
    }
  }

  async #runChain(args: Record<string, unknown>, extra: Extra): Promise<CallToolResult> {
    const steps = args.steps as ChainStep[];
    const summarize = (s: { index: number; toolId: string; ok: boolean; args: unknown; result?: { structured: unknown }; error?: unknown }) => ({
      index: s.index,
      toolId: s.toolId,
      ok: s.ok,
      args: s.args,
      ...(s.result ? { structured: s.result.structured ?? null } : {}),
      ...(s.error ? { error: toolErrorData(s.error) } : {}),
    });
    try {
      const chain = await this.engine.runner.runChain(steps, { signal: extra.signal });
      const out = { ok: true, final: chain.final.structured ?? null, steps: chain.steps.map(summarize) };
      return this.#structured(out, safeJson(out.final, 2));
    } catch (e) {
      const data = toolErrorData(e);
      const partial = e instanceof ToolError && Array.isArray(e.data?.steps) ? (e.data.steps as Parameters<typeof summarize>[0][]).map(summarize) : [];
      return errorResult(data.code, data.message, plain({ ok: false, steps: partial, error: data }));
    }
  }

  async #executeCode(args: Record<string, unknown>, extra: Extra): Promise<CallToolResult> {
    const limits: ConfigLimits = { ...((args.limits as ConfigLimits | undefined) ?? {}) };
    if (args.timeoutMs !== undefined) limits.timeoutMs = args.timeoutMs as number;
    const progress = this.#progress(extra);
    let result: ExecuteResult;
    try {
      result = await this.engine.execute(args.script as string, {
        ...(args.runtime !== undefined ? { runtime: args.runtime as string } : {}),
        ...(Object.keys(limits).length > 0 ? { limits } : {}),
        ...(args.typecheck === true ? { typecheck: true } : {}),
        signal: extra.signal,
        ...(progress
          ? { onToolCall: (call: ExecuteToolCall, count: number) => progress(count, `${call.toolId} ${call.ok ? 'ok' : `failed${call.error ? `: ${call.error.code}` : ''}`}`) }
          : {}),
      });
    } catch (e) {
      // `execute()` throws only for misuse (an unknown runtime, a limit out of range) or when
      // the executor cannot be loaded at all: still an answer, with the reason.
      const message = e instanceof Error ? e.message : String(e);
      return errorResult(e instanceof TypeError ? 'INPUT_VALIDATION' : 'RUNTIME_UNAVAILABLE', message);
    }
    const structured = plain(result) as unknown as Record<string, unknown>;
    const text = result.ok
      ? safeJson(result.value ?? null, 2)
      : `${result.error?.code ?? 'RUNTIME_ERROR'}: ${result.error?.message ?? 'the script failed'}${result.error?.line !== undefined && !result.error.diagnostics ? ` (line ${result.error.line}${result.error.column !== undefined ? `, column ${result.error.column}` : ''})` : ''}`;
    const logs = result.logs.length > 0 ? [{ type: 'text' as const, text: `logs:\n${result.logs.map((l) => `[${l.level}] ${l.message}`).join('\n')}` }] : [];
    return { ...(result.ok ? {} : { isError: true }), content: [{ type: 'text', text }, ...logs], structuredContent: structured };
  }
}
