/**
 * The MCP backend: `tools/call` on one server. The runner's deadline and `AbortSignal`
 * become the request's timeout and `notifications/cancelled`; progress notifications
 * become progress updates (or stream chunks); results are normalized as DESIGN.md says.
 *
 * Calls go through `client.request(tools/call)` rather than `client.callTool()`: callTool
 * checks `structuredContent` against output-schema validators it caches from the *last*
 * `tools/list` page only, and reports a mismatch as JSON-RPC InvalidParams — which would
 * read as an argument error. The runner validates output schemas itself (with paths), and
 * a tool that declares one but returns no `structuredContent` is reported here as
 * OUTPUT_VALIDATION.
 */
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { ErrorCode, McpError, ResultSchema } from '@modelcontextprotocol/sdk/types.js';
import { ToolError } from '../../model/errors.js';
import { parseToolId } from '../../model/tool-id.js';
import type { ContentItem } from '../../model/tool.js';
import { normalizeCallToolResult } from '../normalize.js';
import { propagation, type Context } from '@opentelemetry/api';
import type { Backend, BackendResult, CallContext, ProgressUpdate, StreamChunk } from '../types.js';
import { DEFAULT_MCP_TIMEOUT_MS } from './config.js';
import type { McpConnection } from './connection.js';
import { callErrorToToolError, isErrorResultToToolError, McpConnectionError, type McpCallSite } from './errors.js';

/**
 * Normalizes a `CallToolResult` (already known not to be an error): `structuredContent`,
 * else a single text item parsed as JSON, else its text, else the content list. The shared
 * rule from `../normalize.ts`, so MCP and provider results read the same.
 */
export function normalizeMcpResult(content: ContentItem[], structuredContent: unknown): BackendResult {
  return normalizeCallToolResult({ content, structuredContent }, NOT_AN_ERROR);
}

/** `normalizeCallToolResult` uses this only for `isError` results, which never reach it from here. */
const NOT_AN_ERROR = { toolId: '', backend: { kind: 'mcp', name: '' } };

export interface McpBackendOptions {
  /**
   * Timeout when the runner gives none (default: the server config's `timeoutMs`, else 60 s).
   * When the runner gives one, the server config's `timeoutMs` still caps it.
   */
  defaultTimeoutMs?: number;
}

/** One `Backend` per configured server; `name` is the server's name in `mcpServers`. */
export class McpBackend implements Backend {
  readonly kind = 'mcp' as const;
  readonly name: string;
  readonly connection: McpConnection;
  readonly #defaultTimeoutMs: number;

  constructor(connection: McpConnection, options: McpBackendOptions = {}) {
    this.connection = connection;
    this.name = connection.name;
    this.#defaultTimeoutMs = options.defaultTimeoutMs ?? connection.config.timeoutMs ?? DEFAULT_MCP_TIMEOUT_MS;
  }

  /**
   * True for `<namespace>:<tool>` when the server's last tools/list had that tool, or for any
   * name in the namespace before a list was fetched (a runner without an index still reaches
   * the server, which then says whether the tool exists).
   */
  has(id: string): boolean {
    const name = this.#toolNameFromId(id);
    if (name === undefined) return false;
    const known = this.connection.knownTools;
    return known === undefined || known.has(name);
  }

  call(toolId: string, args: Record<string, unknown>, ctx: CallContext): Promise<BackendResult> {
    const redactor = this.connection.redactor;
    if (redactor.empty) return this.#call(toolId, args, ctx, 'run', ctx.onProgress);
    // A server may echo what it was configured with (its environment, a header): nothing of it
    // reaches the caller, a log or a trace.
    const onProgress = ctx.onProgress;
    return this.#call(toolId, args, ctx, 'run', onProgress ? (u) => onProgress(redactor.redactValue(u)) : undefined).then(
      (r) => redactor.redactValue(r),
      (e: unknown) => Promise.reject(redactor.redactError(e)),
    );
  }

  /** Streams the server's progress notifications as `{ kind: 'progress' }` chunks, then returns the result. */
  stream(toolId: string, args: Record<string, unknown>, ctx: CallContext): AsyncGenerator<StreamChunk, BackendResult, void> {
    return this.connection.redactor.empty ? this.#stream(toolId, args, ctx) : this.#redactedStream(toolId, args, ctx);
  }

  async *#redactedStream(toolId: string, args: Record<string, unknown>, ctx: CallContext): AsyncGenerator<StreamChunk, BackendResult, void> {
    const redactor = this.connection.redactor;
    const inner = this.#stream(toolId, args, ctx);
    try {
      for (;;) {
        const step = await inner.next();
        if (step.done) return redactor.redactValue(step.value);
        yield redactor.redactValue(step.value);
      }
    } catch (e) {
      throw redactor.redactError(e);
    } finally {
      // A consumer that stopped early: let the inner stream cancel its request.
      await inner.return(undefined as never).catch(() => {});
    }
  }

  /** Closes the connection (the runner calls this on dispose). */
  async dispose(): Promise<void> {
    await this.connection.close();
  }

  async *#stream(toolId: string, args: Record<string, unknown>, ctx: CallContext): AsyncGenerator<StreamChunk, BackendResult, void> {
    const queue: ProgressUpdate[] = [];
    let wake: (() => void) | undefined;
    // Our own controller, so a consumer that stops iterating cancels the server-side request.
    const controller = new AbortController();
    const onAbort = () => controller.abort(ctx.signal.reason);
    if (ctx.signal.aborted) controller.abort(ctx.signal.reason);
    else ctx.signal.addEventListener('abort', onAbort, { once: true });
    let settled = false;
    // Progress goes out as chunks only (not also through ctx.onProgress), so a consumer sees each update once.
    // Fields copied one by one: the runner's context keeps some behind getters, which spreading would drop.
    const traceContext = ctx.traceContext;
    const inner: CallContext = { signal: controller.signal, toolId: ctx.toolId, descriptor: ctx.descriptor, ...(traceContext ? { traceContext } : {}) };
    if (ctx.tool !== undefined) inner.tool = ctx.tool;
    if (ctx.timeoutMs !== undefined) inner.timeoutMs = ctx.timeoutMs;
    const pending = this.#call(toolId, args, inner, 'stream', (update) => {
      queue.push(update);
      wake?.();
    }).finally(() => {
      settled = true;
      wake?.();
    });
    pending.catch(() => {});
    try {
      while (true) {
        while (queue.length > 0) yield { kind: 'progress', data: queue.shift()! };
        if (settled) break;
        await new Promise<void>((resolve) => {
          wake = resolve;
        });
        wake = undefined;
      }
      return await pending;
    } finally {
      ctx.signal.removeEventListener('abort', onAbort);
      if (!settled) controller.abort(new ToolError('CANCELLED', `The stream of ${toolId} was closed before the MCP tool finished`, { toolId, op: 'stream' }));
    }
  }

  #toolNameFromId(id: string): string | undefined {
    try {
      const parsed = parseToolId(id);
      if (parsed.version !== undefined) return undefined;
      if (parsed.namespace !== this.connection.config.namespace) return undefined;
      return parsed.name;
    } catch {
      return undefined;
    }
  }

  #resolveTool(toolId: string, ctx: CallContext): string {
    if (ctx.descriptor && ctx.descriptor.kind === 'mcp') {
      if (ctx.descriptor.name !== this.name) {
        throw new ToolError('NO_BACKEND', `Tool ${toolId} belongs to MCP server "${ctx.descriptor.name}", not "${this.name}"`, { toolId, backend: { kind: 'mcp', name: this.name } });
      }
      // The runner's resolver fallback hands over a descriptor without `tool`: derive it from the ID.
      if (typeof ctx.descriptor.tool === 'string' && ctx.descriptor.tool.length > 0) return ctx.descriptor.tool;
    }
    const name = this.#toolNameFromId(toolId);
    if (name === undefined) {
      throw new ToolError('TOOL_NOT_FOUND', `Tool ${toolId} is not a tool of MCP server "${this.name}" (namespace "${this.connection.config.namespace}")`, {
        toolId,
        backend: { kind: 'mcp', name: this.name },
      });
    }
    return name;
  }

  async #call(
    toolId: string,
    args: Record<string, unknown>,
    ctx: CallContext,
    op: 'run' | 'stream',
    onProgress: ((u: ProgressUpdate) => void) | undefined,
  ): Promise<BackendResult> {
    const tool = this.#resolveTool(toolId, ctx);
    const site: McpCallSite = { toolId, tool, server: this.name, op };
    // The runner's budget and the server's configured timeout both apply: the shorter wins.
    const configured = this.connection.config.timeoutMs;
    const timeoutMs = ctx.timeoutMs === undefined ? this.#defaultTimeoutMs : configured === undefined ? ctx.timeoutMs : Math.min(ctx.timeoutMs, configured);
    const errCtx = { signal: ctx.signal, timeoutMs, stderrTail: () => this.connection.stderrTail().slice(-10) };
    const params: { name: string; arguments: Record<string, unknown>; _meta?: Record<string, string> } = { name: tool, arguments: args };
    const meta = traceMeta(ctx.traceContext);
    if (meta) params._meta = meta;
    let raw: Record<string, unknown> | undefined;
    // Two rounds at most: an HTTP server that forgot our session (404) never ran the request,
    // so it is sent once more on a fresh session.
    for (let round = 0; raw === undefined; round++) {
      let client: Client;
      try {
        client = await this.connection.client(ctx.signal);
      } catch (err) {
        throw callErrorToToolError(err, site, errCtx);
      }
      try {
        raw = (await client.request({ method: 'tools/call', params }, ResultSchema, {
          signal: ctx.signal,
          timeout: timeoutMs,
          // With a runner deadline the deadline is hard; without one, progress proves the server is alive.
          resetTimeoutOnProgress: ctx.timeoutMs === undefined,
          ...(ctx.timeoutMs !== undefined ? { maxTotalTimeout: timeoutMs } : {}),
          ...(onProgress
            ? {
                onprogress: (p: { progress: number; total?: number; message?: string }) =>
                  onProgress({ progress: p.progress, ...(p.total !== undefined ? { total: p.total } : {}), ...(p.message !== undefined ? { message: p.message } : {}) }),
              }
            : {}),
        })) as Record<string, unknown>;
      } catch (err) {
        if (!ctx.signal.aborted && !this.connection.alive) {
          throw new ToolError('EXECUTION', `MCP server "${this.name}": the connection was closed during the call to "${tool}"`, {
            toolId,
            op,
            backend: { kind: 'mcp', name: this.name },
            cause: err,
          });
        }
        const authErr = ctx.signal.aborted ? undefined : this.connection.authError(err);
        // A sign-in is needed: reconnecting cannot help, and the message says what does.
        if (authErr) throw callErrorToToolError(authErr, site, errCtx);
        if (!ctx.signal.aborted && !(err instanceof McpError) && isTransportFailure(err)) {
          // The SDK does not notice a failed HTTP request as a closed connection: rebuild it.
          this.connection.invalidate(client, err as Error);
          if (round === 0 && (err as { code?: unknown }).code === 404 && this.connection.config.transport !== 'stdio') continue;
          throw callErrorToToolError(
            new McpConnectionError(`MCP server "${this.name}" connection failed during a call to "${tool}": ${(err as Error).message}`, { cause: err }),
            site,
            errCtx,
          );
        }
        if (err instanceof McpError && err.code === ErrorCode.ConnectionClosed && /exceeded maximum size/.test(this.connection.lastTransportError?.message ?? '')) {
          // Retrying would only fetch the same oversized answer again.
          throw new ToolError(
            'EXECUTION',
            `MCP server "${this.name}" answered "${tool}" with a message larger than the ${this.connection.maxMessageBytes}-byte limit (maxMessageBytes); the connection was reset`,
            { toolId, op, backend: { kind: 'mcp', name: this.name }, cause: err, retryable: false },
          );
        }
        throw callErrorToToolError(err, site, errCtx);
      }
    }
    this.connection.noteHealthy();
    return this.#normalize(raw, site, ctx.tool?.outputSchema !== undefined);
  }

  #normalize(raw: Record<string, unknown>, site: McpCallSite, hasOutputSchema: boolean): BackendResult {
    const base = { toolId: site.toolId, op: site.op ?? 'run', backend: { kind: 'mcp', name: this.name } } as const;
    if (raw.content !== undefined && !Array.isArray(raw.content)) {
      throw new ToolError('EXECUTION', `MCP server "${this.name}" returned a tools/call result for "${site.tool}" whose "content" is not an array`, base);
    }
    const content = ((raw.content as unknown[] | undefined) ?? []).filter(
      (c): c is ContentItem => typeof c === 'object' && c !== null && typeof (c as { type?: unknown }).type === 'string',
    );
    if (content.length !== ((raw.content as unknown[] | undefined)?.length ?? 0)) {
      throw new ToolError('EXECUTION', `MCP server "${this.name}" returned content items without a "type" for "${site.tool}"`, base);
    }
    const structuredContent = raw.structuredContent;
    if (raw.isError === true) {
      const known = this.connection.knownTools;
      throw isErrorResultToToolError(content, structuredContent, site, known ? known.has(site.tool) : undefined);
    }
    if (structuredContent !== undefined && (typeof structuredContent !== 'object' || structuredContent === null || Array.isArray(structuredContent))) {
      throw new ToolError('OUTPUT_VALIDATION', `MCP server "${this.name}" returned a structuredContent for "${site.tool}" that is not an object`, {
        ...base,
        issues: [{ path: '', keyword: 'type', message: 'structuredContent must be an object' }],
      });
    }
    if (hasOutputSchema && (structuredContent === undefined || structuredContent === null)) {
      throw new ToolError('OUTPUT_VALIDATION', `MCP tool "${site.tool}" on server "${this.name}" declares an output schema but returned no structuredContent`, {
        ...base,
        issues: [{ path: '', keyword: 'required', message: 'structuredContent is required by the tool\'s output schema' }],
        data: { content },
      });
    }
    return normalizeMcpResult(content, structuredContent);
  }
}

/** Failures of the request itself (fetch, socket, HTTP status) as opposed to answers or malformed results. */
function isTransportFailure(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  if (err.name === 'ZodError' || err.name === '$ZodError') return false;
  const code = (err as { code?: unknown }).code;
  // StreamableHTTPError / SseError carry the HTTP status as a numeric code; socket errors a string one.
  return err instanceof TypeError || err.message === 'Not connected' || typeof code === 'string' || typeof code === 'number';
}

/**
 * The call's trace context for the server, as MCP's SEP-414 puts it: W3C `traceparent` and
 * `tracestate` (and `baggage`) as keys of the request's `params._meta`, written by the
 * globally registered propagator (none without an SDK: nothing is added). The SDK merges its
 * own `progressToken` into the same object.
 */
function traceMeta(traceContext: Context | undefined): Record<string, string> | undefined {
  if (traceContext === undefined) return undefined;
  const carrier: Record<string, string> = {};
  propagation.inject(traceContext, carrier);
  for (const _ in carrier) return carrier;
  return undefined;
}
