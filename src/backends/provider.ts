/**
 * Providers: any object that can call tools by ID — a SaaS SDK wrapper, a gateway, another
 * engine. The provider answers with a plain value or an MCP-shaped `CallToolResult`; both are
 * normalized the same way as MCP results.
 */
import type { ProviderBackendDescriptor } from '../model/backend.js';
import type { Backend, BackendResult, CallContext, StreamChunk } from './types.js';
import { isCallToolResult, normalizeCallToolResult } from './normalize.js';
import type { ContentItem } from '../model/tool.js';

export interface ProviderCallContext {
  signal: AbortSignal;
  toolId: string;
  timeoutMs?: number;
  onProgress?: CallContext['onProgress'];
}

/** What a user implements to plug a provider in. */
export interface ToolProvider {
  callTool(providerId: string, toolId: string, args: Record<string, unknown>, ctx: ProviderCallContext): unknown | Promise<unknown>;
  /** Optional streaming: yields chunks; the last value returned (if any) is the result. */
  streamTool?(providerId: string, toolId: string, args: Record<string, unknown>, ctx: ProviderCallContext): AsyncIterable<unknown>;
  /** Tools this provider can run without an index entry (the resolver fallback). */
  hasTool?(toolId: string): boolean;
  dispose?(): Promise<void> | void;
}

export class ProviderBackend implements Backend {
  readonly kind = 'provider' as const;
  constructor(
    readonly name: string,
    readonly provider: ToolProvider,
  ) {
    if (typeof provider?.callTool !== 'function') {
      throw new TypeError(`Provider ${name} must have a callTool(providerId, toolId, args, ctx) method`);
    }
  }

  has(toolId: string): boolean {
    return this.provider.hasTool?.(toolId) ?? false;
  }

  #target(toolId: string, ctx: CallContext): string {
    const d = ctx.descriptor as ProviderBackendDescriptor;
    return d.kind === 'provider' && d.providerToolId ? d.providerToolId : toolId;
  }

  async call(toolId: string, args: Record<string, unknown>, ctx: CallContext): Promise<BackendResult> {
    const out = await this.provider.callTool(this.name, this.#target(toolId, ctx), args, {
      signal: ctx.signal,
      toolId,
      ...(ctx.timeoutMs !== undefined ? { timeoutMs: ctx.timeoutMs } : {}),
      ...(ctx.onProgress ? { onProgress: ctx.onProgress } : {}),
    });
    return this.#normalize(toolId, out);
  }

  #normalize(toolId: string, out: unknown): BackendResult {
    if (isCallToolResult(out)) return normalizeCallToolResult(out, { toolId, backend: { kind: 'provider', name: this.name } });
    const content: ContentItem[] = out === undefined ? [] : [{ type: 'text', text: typeof out === 'string' ? out : JSON.stringify(out) ?? String(out) }];
    return { structured: out, content, isStructured: true };
  }

  stream(toolId: string, args: Record<string, unknown>, ctx: CallContext): AsyncGenerator<StreamChunk, BackendResult, void> | undefined {
    const streamTool = this.provider.streamTool;
    if (typeof streamTool !== 'function') return undefined;
    const self = this;
    const target = this.#target(toolId, ctx);
    return (async function* () {
      const chunks: unknown[] = [];
      for await (const chunk of streamTool.call(self.provider, self.name, target, args, { signal: ctx.signal, toolId })) {
        chunks.push(chunk);
        yield { kind: 'chunk', data: chunk } as StreamChunk;
      }
      return self.#normalize(toolId, chunks);
    })();
  }

  async dispose(): Promise<void> {
    await this.provider.dispose?.();
  }
}
