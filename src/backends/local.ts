/**
 * The local backend: plain functions in this process. A handler gets `(args, { signal,
 * toolId })`; an async-generator handler streams chunks. Registering a handler is enough
 * to run a tool: the runner's resolver finds it even without an index entry.
 */
import { ToolError } from '../model/errors.js';
import { parseToolId } from '../model/tool-id.js';
import type { ContentItem } from '../model/tool.js';
import type { Backend, BackendResult, CallContext, StreamChunk } from './types.js';

export interface LocalHandlerContext {
  signal: AbortSignal;
  toolId: string;
}

export type LocalHandler<A = any, R = unknown> = (args: A, ctx: LocalHandlerContext) => R | Promise<R> | AsyncGenerator<unknown, R | void, void>;

const AsyncGeneratorFunction = Object.getPrototypeOf(async function* () {}).constructor as unknown;

function isAsyncIterator(value: unknown): value is AsyncGenerator<unknown, unknown, void> {
  return typeof value === 'object' && value !== null && typeof (value as AsyncGenerator)[Symbol.asyncIterator] === 'function' && typeof (value as AsyncGenerator).next === 'function';
}

/** Wraps a local value in MCP content so MCP clients (our server) can show it. */
function toContent(value: unknown): ContentItem[] {
  if (value === undefined) return [];
  if (typeof value === 'string') return [{ type: 'text', text: value }];
  return [{ type: 'text', text: JSON.stringify(value) ?? String(value) }];
}

/**
 * Passes the runner's signal through lazily, so an AbortController is only created for
 * handlers that read it (a class: object-literal getters are slow to create).
 */
class HandlerContext implements LocalHandlerContext {
  constructor(readonly ctx: CallContext) {}
  get signal(): AbortSignal {
    return this.ctx.signal;
  }
  get toolId(): string {
    return this.ctx.toolId;
  }
}

/** A streaming handler called without streaming: its chunks, or its return value if any. */
async function collect(gen: AsyncGenerator<unknown, unknown, void>, ctx: CallContext): Promise<BackendResult> {
  const chunks: unknown[] = [];
  let step = await gen.next();
  while (!step.done) {
    chunks.push(step.value);
    if (ctx.signal.aborted) {
      await gen.return(undefined);
      break;
    }
    step = await gen.next();
  }
  const value = step.done && step.value !== undefined ? step.value : chunks;
  return { structured: value, content: toContent(value), isStructured: true };
}

export class LocalBackend implements Backend {
  readonly kind = 'local' as const;
  readonly name: string;
  readonly #handlers = new Map<string, LocalHandler>();

  constructor(name = 'local') {
    this.name = name;
  }

  /** Registers (or replaces) the handler for a tool ID. Returns an unregister function. */
  register(id: string, handler: LocalHandler): () => void {
    parseToolId(id);
    if (typeof handler !== 'function') {
      throw new TypeError(`Local handler for ${id} must be a function, got ${handler === null ? 'null' : typeof handler}`);
    }
    this.#handlers.set(id, handler);
    return () => {
      if (this.#handlers.get(id) === handler) this.#handlers.delete(id);
    };
  }

  unregister(id: string): boolean {
    return this.#handlers.delete(id);
  }

  has(id: string): boolean {
    return this.#handlers.has(id);
  }

  ids(): string[] {
    return [...this.#handlers.keys()];
  }

  /** Whether the handler streams (is an async generator function). */
  canStream(id: string): boolean {
    const h = this.#handlers.get(id);
    return h !== undefined && h instanceof (AsyncGeneratorFunction as Function);
  }

  #handler(toolId: string): LocalHandler {
    const handler = this.#handlers.get(toolId);
    if (!handler) {
      throw new ToolError('NO_BACKEND', `No local handler is registered for ${toolId}`, {
        toolId,
        backend: { kind: 'local', name: this.name },
      });
    }
    return handler;
  }

  call(toolId: string, args: Record<string, unknown>, ctx: CallContext): Promise<BackendResult> {
    let out: unknown;
    try {
      out = this.#handler(toolId)(args, new HandlerContext(ctx));
    } catch (e) {
      return Promise.reject(e);
    }
    // Not an async function: avoiding the extra frame is a measurable share of a fast call.
    if (out instanceof Promise) return out.then((v) => this.#finish(v, ctx));
    return Promise.resolve(this.#finish(out, ctx));
  }

  #finish(out: unknown, ctx: CallContext): BackendResult | Promise<BackendResult> {
    if (isAsyncIterator(out)) return collect(out, ctx);
    return { structured: out, content: toContent(out), isStructured: true };
  }

  stream(toolId: string, args: Record<string, unknown>, ctx: CallContext): AsyncGenerator<StreamChunk, BackendResult, void> | undefined {
    const handler = this.#handler(toolId);
    if (!(handler instanceof (AsyncGeneratorFunction as Function))) return undefined;
    return (async function* () {
      const gen = handler(args, { signal: ctx.signal, toolId }) as AsyncGenerator<unknown, unknown, void>;
      const chunks: unknown[] = [];
      try {
        let step = await gen.next();
        while (!step.done) {
          chunks.push(step.value);
          yield { kind: 'chunk', data: step.value } as StreamChunk;
          if (ctx.signal.aborted) break;
          step = await gen.next();
        }
        const value = step.done && step.value !== undefined ? step.value : chunks;
        return { structured: value, content: toContent(value), isStructured: true };
      } finally {
        await gen.return(undefined);
      }
    })();
  }
}
