/**
 * The connection manager for every configured MCP server: one `McpConnection` and one
 * `McpBackend` per server, tool import into an index with refresh on list_changed, and a
 * single `close()` for all of it. `connectMcpServers()` wires a config to an index and a
 * runner in one call.
 */
import type { ToolIndex } from '../../index/types.js';
import type { Backend } from '../types.js';
import { McpBackend } from './backend.js';
import { parseMcpServers, serverRedactor, type McpServerConfig } from './config.js';
import { McpConnection, type McpConnectionOptions } from './connection.js';
import { McpToolImporter, type McpSkippedTool, type McpToolsChange } from './import.js';

/** Options of `McpHub`: connection options plus call defaults and a warning sink. */
export interface McpHubOptions extends McpConnectionOptions {
  /** Call timeout when the runner gives none (default: each server's `timeout`, else 60 s). */
  defaultTimeoutMs?: number;
  /** Problems that do not stop anything: skipped tools, failed refreshes. Default: ignored. */
  onWarning?: (warning: McpWarning) => void;
}

/** A problem that stops nothing: a tool that could not be imported, a refresh that failed. */
export type McpWarning =
  | { kind: 'skipped-tool'; server: string; tool: string; message: string }
  | { kind: 'refresh-failed'; server: string; message: string; error: unknown };

/** Per-server outcome of `importTools`. */
export interface McpServerImport {
  server: string;
  /** Tool IDs registered for the server. */
  tools: string[];
  skipped: McpSkippedTool[];
  /** Set when the server could not be reached or listed; its other fields are then empty. */
  error?: Error;
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Accepts parsed configs, an `mcpServers` object, or a whole config file object holding one. */
function toConfigs(config: McpServerConfig[] | Record<string, unknown>): McpServerConfig[] {
  if (Array.isArray(config)) return config;
  if (isPlainObject(config) && isPlainObject(config.mcpServers) && config.mcpServers.command === undefined && config.mcpServers.url === undefined) {
    return parseMcpServers(config.mcpServers);
  }
  return parseMcpServers(config);
}

/** Owns the connections to a set of MCP servers. Disposable: `await using hub = new McpHub(...)`. */
export class McpHub implements AsyncDisposable {
  readonly configs: readonly McpServerConfig[];
  readonly #options: McpHubOptions;
  readonly #connections = new Map<string, McpConnection>();
  readonly #backends = new Map<string, McpBackend>();
  readonly #importers = new Map<string, { importer: McpToolImporter; unsubscribe: () => void }>();
  readonly #listeners = new Set<(change: McpToolsChange) => void>();
  #closed = false;

  constructor(config: McpServerConfig[] | Record<string, unknown>, options: McpHubOptions = {}) {
    this.configs = toConfigs(config);
    // One redactor for all servers: with inheritEnv, a server sees the others' secrets too.
    this.#options = { ...options, redactor: options.redactor ?? serverRedactor(this.configs) };
    for (const c of this.configs) {
      if (c.disabled) continue;
      this.#connections.set(c.name, new McpConnection(c, this.#options));
    }
  }

  /** False once `close()` was called. */
  get alive(): boolean {
    return !this.#closed;
  }

  /** Names of the enabled servers. */
  get servers(): string[] {
    return [...this.#connections.keys()];
  }

  /** The connection of an enabled server; throws naming the known servers otherwise. */
  connection(server: string): McpConnection {
    this.#assertOpen();
    const c = this.#connections.get(server);
    if (!c) {
      const disabled = this.configs.some((cfg) => cfg.name === server && cfg.disabled);
      throw new Error(
        disabled
          ? `MCP server "${server}" is disabled in the config`
          : `No MCP server named "${server}"; configured: ${this.servers.map((s) => JSON.stringify(s)).join(', ') || '(none)'}`,
      );
    }
    return c;
  }

  /** The backend for one server (created once). */
  backend(server: string): McpBackend {
    const existing = this.#backends.get(server);
    if (existing) return existing;
    const b = new McpBackend(this.connection(server), this.#options.defaultTimeoutMs !== undefined ? { defaultTimeoutMs: this.#options.defaultTimeoutMs } : {});
    this.#backends.set(server, b);
    return b;
  }

  /** One backend per enabled server. */
  backends(): McpBackend[] {
    return this.servers.map((s) => this.backend(s));
  }

  /**
   * Fired after an import or refresh changed the index (tools added, updated or removed):
   * what an MCP server exposing the engine forwards as `notifications/tools/list_changed`.
   */
  onToolsChanged(listener: (change: McpToolsChange) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /**
   * Connects to each enabled server (or those named), registers its tools in `index` under
   * its namespace, and keeps them current on `notifications/tools/list_changed` and after
   * reconnects. A server that fails is reported in its entry; it does not stop the others.
   */
  async importTools(index: ToolIndex, options: { servers?: string[]; signal?: AbortSignal; timeoutMs?: number } = {}): Promise<McpServerImport[]> {
    this.#assertOpen();
    const names = options.servers ?? this.servers;
    return Promise.all(
      names.map(async (server): Promise<McpServerImport> => {
        let importer: McpToolImporter;
        try {
          importer = this.#importer(server, index);
        } catch (err) {
          return { server, tools: [], skipped: [], error: err as Error };
        }
        try {
          const change = await importer.sync({
            ...(options.signal ? { signal: options.signal } : {}),
            ...(options.timeoutMs !== undefined ? { timeoutMs: options.timeoutMs } : {}),
          });
          return { server, tools: importer.ids, skipped: change.skipped };
        } catch (err) {
          return { server, tools: importer.ids, skipped: [], error: err instanceof Error ? err : new Error(String(err)) };
        }
      }),
    );
  }

  /** Closes every connection (stdio servers: stdin closed, then SIGTERM, then SIGKILL). Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const { unsubscribe } of this.#importers.values()) unsubscribe();
    await Promise.all([...this.#connections.values()].map((c) => c.close()));
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  #assertOpen(): void {
    if (this.#closed) throw new Error('McpHub has been closed');
  }

  #importer(server: string, index: ToolIndex): McpToolImporter {
    const existing = this.#importers.get(server);
    if (existing) {
      if (existing.importer.index !== index) throw new Error(`MCP server "${server}" is already imported into another index`);
      return existing.importer;
    }
    const connection = this.connection(server);
    const importer = new McpToolImporter(connection, index);
    const offChange = importer.onChange((change) => {
      for (const s of change.skipped) {
        this.#options.onWarning?.({ kind: 'skipped-tool', server, tool: s.name, message: `MCP server "${server}": tool ${JSON.stringify(s.name)} skipped: ${s.reason}` });
      }
      if (change.added.length + change.updated.length + change.removed.length === 0) return;
      for (const l of this.#listeners) l(change);
    });
    const offTools = connection.onToolsChanged(() => {
      importer.sync().catch((error: unknown) => {
        if (!connection.alive) return;
        this.#options.onWarning?.({
          kind: 'refresh-failed',
          server,
          message: `MCP server "${server}": refreshing the tool list failed: ${error instanceof Error ? error.message : String(error)}`,
          error,
        });
      });
    });
    this.#importers.set(server, {
      importer,
      unsubscribe: () => {
        offChange();
        offTools();
      },
    });
    return importer;
  }
}

/** What `connectMcpServers` needs of a runner: a way to add a backend. */
export interface BackendHost {
  use(backend: Backend): unknown;
}

/** Options of `connectMcpServers`. */
export interface ConnectMcpServersOptions extends McpHubOptions {
  /** Where the servers' tools are registered. Without it, no tools are imported (backends only). */
  index?: ToolIndex;
  /** Receives one backend per enabled server. */
  runner?: BackendHost;
  /** `throw` (default): any server that fails to connect or list closes everything and throws. `skip`: report it in `imports` and go on. */
  onServerError?: 'throw' | 'skip';
  signal?: AbortSignal;
}

/** The result of `connectMcpServers`: close it (or `await using`) to stop every server. */
export interface McpServersHandle extends AsyncDisposable {
  hub: McpHub;
  backends: McpBackend[];
  imports: McpServerImport[];
  close(): Promise<void>;
}

/**
 * Parses an `mcpServers` config, connects to every enabled server, imports their tools into
 * `index` and registers their backends with `runner`.
 */
export async function connectMcpServers(config: McpServerConfig[] | Record<string, unknown>, options: ConnectMcpServersOptions = {}): Promise<McpServersHandle> {
  const { index, runner, onServerError = 'throw', signal, ...hubOptions } = options;
  const hub = new McpHub(config, hubOptions);
  const backends = hub.backends();
  let imports: McpServerImport[] = [];
  if (index) {
    imports = await hub.importTools(index, signal ? { signal } : {});
    const failed = imports.filter((i) => i.error);
    if (failed.length > 0 && onServerError === 'throw') {
      await hub.close();
      if (failed.length === 1) throw failed[0]!.error;
      throw new AggregateError(
        failed.map((f) => f.error),
        `${failed.length} MCP servers failed:\n- ${failed.map((f) => f.error!.message.split('\n')[0]).join('\n- ')}`,
      );
    }
  }
  for (const b of backends) runner?.use(b);
  const close = () => hub.close();
  return { hub, backends, imports, close, [Symbol.asyncDispose]: close };
}
