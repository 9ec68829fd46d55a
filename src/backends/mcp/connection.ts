/**
 * One lazily opened, self-healing client connection to one MCP server. The lifecycle
 * (connect once, share the attempt between concurrent callers, back off after failures,
 * rebuild after a crash, escalate on close) lives here; transports only start, send and
 * stop. The transports are the SDK's own: stdio, Streamable HTTP and the old HTTP+SSE.
 */
import { existsSync, statSync } from 'node:fs';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import type { Transport } from '@modelcontextprotocol/sdk/shared/transport.js';
import { ErrorCode, McpError, ResultSchema, ToolListChangedNotificationSchema } from '@modelcontextprotocol/sdk/types.js';
import type { Redactor } from '../../model/redact.js';
import { serverRedactor, stdioServerEnv, type McpHttpServerConfig, type McpServerConfig } from './config.js';
import { McpAuthRequiredError, McpConnectionError } from './errors.js';
import { McpOAuthProvider } from './oauth-provider.js';
import { OAuthStore } from './oauth-store.js';
import { abortable } from '../../model/abortable.js';
import { PACKAGE_NAME, PACKAGE_VERSION } from '../../model/package-info.js';

/** Client identity sent in `initialize`: this package's name and version. */
export const DEFAULT_CLIENT_INFO: { readonly name: string; readonly version: string } = Object.freeze({ name: PACKAGE_NAME, version: PACKAGE_VERSION });
/** Limit for starting a server and completing `initialize`. */
export const DEFAULT_CONNECT_TIMEOUT_MS = 30_000;
/** First reconnect delay after a failure; doubles per consecutive failure up to `DEFAULT_BACKOFF_MAX_MS`. */
export const DEFAULT_BACKOFF_INITIAL_MS = 100;
/** Ceiling of the reconnect delay. */
export const DEFAULT_BACKOFF_MAX_MS = 10_000;
/** How many stderr lines of a stdio server are kept for error messages. */
export const DEFAULT_STDERR_LINES = 50;
/** Largest single JSON-RPC message accepted from a stdio server (the SDK's own default is 10 MB). */
export const DEFAULT_MAX_MESSAGE_BYTES = 64 * 1024 * 1024;
/** tools/list pages followed before giving up on a server that never stops paging. */
export const DEFAULT_MAX_LIST_PAGES = 1000;
/** Window in which bursts of `notifications/tools/list_changed` become one refresh. */
export const DEFAULT_LIST_CHANGED_DEBOUNCE_MS = 20;

/** Options of one connection (all optional; defaults are the `DEFAULT_*` constants). */
export interface McpConnectionOptions {
  clientInfo?: { name: string; version: string };
  /** Limit for spawning/reaching the server and completing `initialize` (default 30 s). */
  connectTimeoutMs?: number;
  /** First delay before reconnecting after a failure (default 100 ms); doubles per consecutive failure. */
  backoffInitialMs?: number;
  /** Ceiling of the reconnect delay (default 10 s). */
  backoffMaxMs?: number;
  /** How many of a stdio server's last stderr lines are kept for error messages (default 50). */
  stderrLines?: number;
  /** Largest JSON-RPC message read from a stdio server (default 64 MB). */
  maxMessageBytes?: number;
  /** Coalesces bursts of `notifications/tools/list_changed` (default 20 ms). */
  listChangedDebounceMs?: number;
  /** Folder of the stored OAuth credentials (default: `oauth/` in the user's toolexec config dir). */
  oauthDir?: string;
  /** The config file the servers come from: named in the `toolexec auth` command of auth errors. */
  configFile?: string;
  /** Secrets kept out of errors and the stderr tail (default: the server's own `secrets`). */
  redactor?: Redactor;
}

/** `idle` (not connected yet, or dropped), `connecting`, `connected`, `closed` (for good). */
export type McpConnectionState = 'idle' | 'connecting' | 'connected' | 'closed';

type Listener<T> = (value: T) => void;

/** Waits `ms`, or less when `signal` aborts (never rejects). */
function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const timer = setTimeout(done, ms);
    timer.unref?.();
    signal?.addEventListener('abort', done, { once: true });
    function done() {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    }
  });
}

function causeText(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  const parts = [err.message];
  let c: unknown = (err as { cause?: unknown }).cause;
  // fetch() hides the useful part ("connect ECONNREFUSED 127.0.0.1:1") in its cause chain.
  for (let depth = 0; c instanceof Error && depth < 3; depth++) {
    if (!parts.includes(c.message)) parts.push(c.message);
    c = (c as { cause?: unknown }).cause;
  }
  return parts.join(': ');
}

/**
 * A drop-in for the SDK's stdio `ReadBuffer`, which concatenates the whole pending buffer on
 * every chunk and rescans it for a newline: quadratic in the message size (a 6 MB result
 * took seconds). This keeps chunks in a list and scans each byte once. Same contract:
 * `append` throws past `maxBytes`, `readMessage` returns one parsed message or null.
 */
class LineBuffer {
  #chunks: Buffer[] = [];
  #size = 0;
  /** Chunks at the front already known to hold no newline. */
  #scanned = 0;
  readonly #maxBytes: number;
  readonly #parse: (line: string) => unknown;

  constructor(maxBytes: number, parse: (line: string) => unknown) {
    this.#maxBytes = maxBytes;
    this.#parse = parse;
  }

  /** After an overflow, the rest of the oversized message is dropped up to its newline. */
  #discarding = false;

  append(chunk: Buffer): void {
    if (this.#discarding) {
      const at = chunk.indexOf(10);
      if (at === -1) return;
      this.#discarding = false;
      chunk = chunk.subarray(at + 1);
    }
    if (this.#size + chunk.length > this.#maxBytes) {
      this.clear();
      this.#discarding = true;
      throw new Error(`ReadBuffer exceeded maximum size of ${this.#maxBytes} bytes`);
    }
    this.#chunks.push(chunk);
    this.#size += chunk.length;
  }

  readMessage(): unknown {
    const chunks = this.#chunks;
    for (let i = this.#scanned; i < chunks.length; i++) {
      const at = chunks[i]!.indexOf(10);
      if (at === -1) {
        this.#scanned = i + 1;
        continue;
      }
      const last = chunks[i]!.subarray(0, at);
      const line = i === 0 ? last : Buffer.concat([...chunks.slice(0, i), last]);
      const rest = chunks[i]!.subarray(at + 1);
      this.#chunks = rest.length > 0 ? [rest, ...chunks.slice(i + 1)] : chunks.slice(i + 1);
      this.#size -= line.length + 1;
      this.#scanned = 0;
      return this.#parse(line.toString('utf8').replace(/\r$/, ''));
    }
    return null;
  }

  clear(): void {
    this.#chunks = [];
    this.#size = 0;
    this.#scanned = 0;
  }
}

/** Swaps in `LineBuffer` when the transport still has the SDK's buffer where we expect it; otherwise leaves it alone. */
function installLineBuffer(transport: object, maxBytes: number, parse: (line: string) => unknown): void {
  const t = transport as { _readBuffer?: { append?: unknown; readMessage?: unknown; clear?: unknown } };
  const current = t._readBuffer;
  if (current && typeof current.append === 'function' && typeof current.readMessage === 'function' && typeof current.clear === 'function') {
    t._readBuffer = new LineBuffer(maxBytes, parse) as unknown as typeof current;
  }
}

/**
 * The SDK (1.x) dispatches notifications a microtask late but responses at once, so a
 * progress notification that arrives in the same read as its response finds its handler
 * already retired and is lost (typescript-sdk issue #2580). Deferring responses by one
 * microtask restores arrival order. Installed after `connect()`, which owns `onmessage`.
 */
function deferResponses(transport: Transport): void {
  const deliver = transport.onmessage;
  if (!deliver) return;
  transport.onmessage = (message, extra) => {
    const m = message as { id?: unknown; method?: unknown };
    if (m.id !== undefined && m.method === undefined) queueMicrotask(() => deliver(message, extra));
    else deliver(message, extra);
  };
}

type ChildLike = { exitCode: number | null; signalCode: NodeJS.Signals | null; kill(signal?: NodeJS.Signals): boolean; once(event: 'exit', l: () => void): unknown };

/** Records the stdio transport's child process when it starts (the SDK forgets it on close). */
function captureChild(transport: Transport): () => ChildLike | undefined {
  let child: ChildLike | undefined;
  const start = transport.start.bind(transport);
  transport.start = async () => {
    try {
      await start();
    } finally {
      const p = (transport as { _process?: unknown })._process;
      if (p && typeof (p as ChildLike).kill === 'function') child = p as ChildLike;
    }
  };
  return () => child;
}

/** SIGTERM, then SIGKILL after `graceMs` if the process is still there. */
async function terminate(child: ChildLike | undefined, graceMs = 1000): Promise<void> {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  let timer: NodeJS.Timeout | undefined;
  const graceOver = new Promise<boolean>((resolve) => {
    timer = setTimeout(() => resolve(true), graceMs);
  });
  const timedOut = await Promise.race([exited.then(() => false), graceOver]);
  clearTimeout(timer);
  if (timedOut && child.exitCode === null && child.signalCode === null) {
    child.kill('SIGKILL');
    // SIGKILL cannot be ignored, but a process stuck in the kernel can linger: do not hang on it.
    let cap: NodeJS.Timeout | undefined;
    await Promise.race([exited, new Promise<void>((resolve) => (cap = setTimeout(resolve, 5000)))]);
    clearTimeout(cap);
  }
}

/**
 * A connection to one configured server. Use `client()` to get a connected SDK client; it
 * connects on first use and again after the previous connection died.
 */
export class McpConnection implements AsyncDisposable {
  readonly config: McpServerConfig;
  readonly #options: Required<Omit<McpConnectionOptions, 'oauthDir' | 'configFile'>> & { oauthDir?: string; configFile?: string };
  #oauth: McpOAuthProvider | null | undefined;
  /** Keeps `${VAR}` values out of every message (a server that prints its environment, a URL with a key in it). */
  readonly redactor: Redactor;
  #state: McpConnectionState = 'idle';
  #client: Client | undefined;
  #transport: Transport | undefined;
  #connecting: Promise<Client> | undefined;
  #failures = 0;
  #lastFailureAt = 0;
  #lastTransportError: Error | undefined;
  #stderr: string[] = [];
  #stderrPartial = '';
  #knownTools: Set<string> | undefined;
  #listChangedTimer: NodeJS.Timeout | undefined;
  readonly #probing = new WeakSet<Client>();
  readonly #children = new WeakMap<Transport, () => ChildLike | undefined>();
  /** Aborted by `close()`: cuts a backoff wait short. */
  readonly #closing = new AbortController();
  #connections = 0;
  readonly #toolsChanged = new Set<Listener<void>>();
  readonly #connected = new Set<Listener<{ reconnect: boolean }>>();
  readonly #disconnected = new Set<Listener<{ error?: Error }>>();

  constructor(config: McpServerConfig, options: McpConnectionOptions = {}) {
    this.config = config;
    this.#options = {
      clientInfo: options.clientInfo ?? DEFAULT_CLIENT_INFO,
      connectTimeoutMs: options.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS,
      backoffInitialMs: options.backoffInitialMs ?? DEFAULT_BACKOFF_INITIAL_MS,
      backoffMaxMs: options.backoffMaxMs ?? DEFAULT_BACKOFF_MAX_MS,
      stderrLines: options.stderrLines ?? DEFAULT_STDERR_LINES,
      maxMessageBytes: options.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES,
      listChangedDebounceMs: options.listChangedDebounceMs ?? DEFAULT_LIST_CHANGED_DEBOUNCE_MS,
      ...(options.oauthDir !== undefined ? { oauthDir: options.oauthDir } : {}),
      ...(options.configFile !== undefined ? { configFile: options.configFile } : {}),
      redactor: options.redactor ?? serverRedactor([config]),
    };
    this.redactor = this.#options.redactor;
  }

  get name(): string {
    return this.config.name;
  }

  get state(): McpConnectionState {
    return this.#state;
  }

  /** False once `close()` has been called. */
  get alive(): boolean {
    return this.#state !== 'closed';
  }

  /** Consecutive failures (failed connects, crashes) since the last healthy exchange. */
  get failures(): number {
    return this.#failures;
  }

  /** How many times a connection was established (1 after the first connect, 2 after one reconnect...). */
  get connectCount(): number {
    return this.#connections;
  }

  /** The process ID of the current stdio server, if any. */
  get pid(): number | undefined {
    const t = this.#transport as { pid?: number | null } | undefined;
    return t?.pid ?? undefined;
  }

  /** The last stderr lines of the stdio server (across restarts), oldest first. */
  stderrTail(): string[] {
    const lines = this.#stderrPartial ? [...this.#stderr, this.#stderrPartial] : [...this.#stderr];
    return this.redactor.empty ? lines : lines.map((l) => this.redactor.redact(l));
  }

  /** The last error the transport reported (a malformed line, an oversized message...), if any. */
  get lastTransportError(): Error | undefined {
    return this.#lastTransportError;
  }

  /** The largest message accepted from a stdio server. */
  get maxMessageBytes(): number {
    return this.#options.maxMessageBytes;
  }

  /** Tool names from the last complete tools/list, or undefined before one. */
  get knownTools(): ReadonlySet<string> | undefined {
    return this.#knownTools;
  }

  /** Fired (debounced) when the server sends `notifications/tools/list_changed`, and after a reconnect. */
  onToolsChanged(listener: () => void): () => void {
    this.#toolsChanged.add(listener);
    return () => this.#toolsChanged.delete(listener);
  }

  /** Fired after each successful connect; `reconnect` is true from the second one on. */
  onConnected(listener: (e: { reconnect: boolean }) => void): () => void {
    this.#connected.add(listener);
    return () => this.#connected.delete(listener);
  }

  /** Fired when an established connection drops without `close()` having been called. */
  onDisconnected(listener: (e: { error?: Error }) => void): () => void {
    this.#disconnected.add(listener);
    return () => this.#disconnected.delete(listener);
  }

  /** Records that the server answered properly, which ends the backoff. */
  noteHealthy(): void {
    this.#failures = 0;
  }

  /**
   * A connected client, connecting (or reconnecting, after the backoff delay) when needed.
   * Concurrent callers share one attempt; `signal` only stops this caller's wait.
   */
  client(signal?: AbortSignal): Promise<Client> {
    if (this.#state === 'closed') {
      return Promise.reject(new McpConnectionError(`MCP server "${this.name}": the connection has been closed`, { retryable: false }));
    }
    if (this.#client) return Promise.resolve(this.#client);
    if (!this.#connecting) {
      this.#state = 'connecting';
      this.#connecting = this.#connect().finally(() => {
        this.#connecting = undefined;
      });
      // Nobody may be waiting any more (every caller aborted): keep the rejection handled.
      this.#connecting.catch(() => {});
    }
    return abortable(this.#connecting, signal);
  }

  /**
   * Drops `client` after a transport-level failure the SDK did not notice (an HTTP request
   * that failed outright): the next call reconnects.
   */
  invalidate(client: Client, error?: Error): void {
    if (this.#client !== client) return;
    this.#dropClient(client, error);
    void client.close().catch(() => {});
  }

  /**
   * Every tool the server lists, following `nextCursor`. Each item is returned as received
   * (an object); checking tool shapes is the importer's job, so one bad tool cannot hide the rest.
   */
  async listTools(options: { signal?: AbortSignal; timeoutMs?: number; maxPages?: number } = {}): Promise<Record<string, unknown>[]> {
    const client = await this.client(options.signal);
    // A server without the tools capability (prompts or resources only) simply has no tools.
    if (!client.getServerCapabilities()?.tools) {
      this.#knownTools = new Set();
      return [];
    }
    try {
      return await this.#listPages(client, options);
    } catch (err) {
      if (err instanceof McpConnectionError || options.signal?.aborted) throw err;
      if (err instanceof Error && err.message.startsWith(`MCP server "${this.name}"`)) throw this.redactor.redactError(err);
      throw this.redactor.redactError(new Error(`MCP server "${this.name}": listing tools failed: ${causeText(err)}`, { cause: err }));
    }
  }

  async #listPages(client: Client, options: { signal?: AbortSignal; timeoutMs?: number; maxPages?: number }): Promise<Record<string, unknown>[]> {
    const maxPages = options.maxPages ?? DEFAULT_MAX_LIST_PAGES;
    const tools: Record<string, unknown>[] = [];
    const seen = new Set<string>();
    let cursor: string | undefined;
    for (let page = 0; ; page++) {
      if (page >= maxPages) throw new Error(`MCP server "${this.name}" returned more than ${maxPages} pages of tools; stopped listing`);
      // ResultSchema (loose) rather than ListToolsResultSchema: one malformed tool must not fail the whole list.
      const result = (await client.request({ method: 'tools/list', params: cursor === undefined ? {} : { cursor } }, ResultSchema, {
        ...(options.signal ? { signal: options.signal } : {}),
        timeout: options.timeoutMs ?? this.config.timeoutMs ?? this.#options.connectTimeoutMs,
      })) as Record<string, unknown>;
      if (!Array.isArray(result.tools)) {
        throw new Error(`MCP server "${this.name}" answered tools/list without a "tools" array`);
      }
      for (const t of result.tools) {
        tools.push(typeof t === 'object' && t !== null && !Array.isArray(t) ? (t as Record<string, unknown>) : { invalid: t });
      }
      const next = result.nextCursor;
      if (next === undefined || next === null || next === '') break;
      if (typeof next !== 'string') throw new Error(`MCP server "${this.name}" sent a non-string nextCursor in tools/list`);
      if (seen.has(next)) throw new Error(`MCP server "${this.name}" repeated the tools/list cursor ${JSON.stringify(next)}; stopped listing`);
      seen.add(next);
      cursor = next;
    }
    this.#knownTools = new Set(tools.map((t) => t.name).filter((n): n is string => typeof n === 'string'));
    this.noteHealthy();
    return tools;
  }

  /** Closes the connection for good: the SDK's stdio close escalates (stdin end, SIGTERM, SIGKILL). */
  async close(): Promise<void> {
    if (this.#state === 'closed') return;
    this.#state = 'closed';
    this.#closing.abort();
    clearTimeout(this.#listChangedTimer);
    const pending = this.#connecting;
    const client = this.#client;
    const transport = this.#transport;
    this.#client = undefined;
    if (client) await this.#closeClient(client, transport);
    // An attempt still running closes its own client when it sees the closed state.
    if (pending) await pending.catch(() => {});
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  async #closeClient(client: Client, transport: Transport | undefined): Promise<void> {
    const t = transport as { terminateSession?: () => Promise<void> } | undefined;
    if (t && typeof t.terminateSession === 'function') {
      // Be polite to HTTP servers (DELETE the session), but never wait long for it.
      await Promise.race([t.terminateSession().catch(() => {}), sleep(1000)]);
    }
    await client.close().catch(() => {});
    // The SDK's stdio close sends SIGKILL last but does not wait for it: wait (briefly) so
    // the server is really gone when close() returns.
    const child = transport ? this.#children.get(transport)?.() : undefined;
    if (child) await terminate(child, 100);
  }

  /** A method, so TypeScript does not narrow the state across awaits. */
  #isClosed(): boolean {
    return this.#state === 'closed';
  }

  #backoffDelay(): number {
    if (this.#failures === 0) return 0;
    const delay = Math.min(this.#options.backoffInitialMs * 2 ** (this.#failures - 1), this.#options.backoffMaxMs);
    return Math.max(0, this.#lastFailureAt + delay - Date.now());
  }

  #noteFailure(): void {
    this.#failures++;
    this.#lastFailureAt = Date.now();
  }

  #dropClient(client: Client, error?: Error): void {
    if (this.#client !== client) return;
    this.#client = undefined;
    this.#transport = undefined;
    if (this.#state !== 'closed') this.#state = 'idle';
    this.#noteFailure();
    for (const l of this.#disconnected) l(error ? { error } : {});
  }

  async #connect(): Promise<Client> {
    const delay = this.#backoffDelay();
    if (delay > 0) await sleep(delay, this.#closing.signal);
    if (this.#isClosed()) throw new McpConnectionError(`MCP server "${this.name}": the connection has been closed`, { retryable: false });
    let client: Client;
    let transport: Transport;
    try {
      ({ client, transport } = await this.#attempt());
    } catch (err) {
      if (!this.#isClosed()) this.#state = 'idle';
      this.#noteFailure();
      throw err;
    }
    if (this.#isClosed()) {
      await this.#closeClient(client, transport);
      throw new McpConnectionError(`MCP server "${this.name}": the connection was closed while connecting`, { retryable: false });
    }
    this.#client = client;
    this.#transport = transport;
    this.#state = 'connected';
    const reconnect = this.#connections > 0;
    this.#connections++;
    for (const l of this.#connected) l({ reconnect });
    // A restarted server may offer different tools.
    if (reconnect) this.#scheduleToolsChanged();
    return client;
  }

  /** One connection attempt; for `http`, Streamable HTTP first, then the old SSE transport. */
  async #attempt(): Promise<{ client: Client; transport: Transport }> {
    const cfg = this.config;
    if (cfg.transport === 'stdio') return this.#attemptWith('stdio');
    if (cfg.transport === 'sse') return this.#attemptWith('sse');
    if (cfg.transport === 'streamable-http') return this.#attemptWith('streamable-http');
    try {
      return await this.#attemptWith('streamable-http');
    } catch (err) {
      // The SDK's documented fallback: old HTTP+SSE servers answer the Streamable HTTP POST with a 4xx.
      const status = (err as { cause?: { code?: unknown } }).cause?.code;
      if (typeof status === 'number' && status >= 400 && status < 500 && !this.authError(err)) {
        try {
          return await this.#attemptWith('sse');
        } catch (sseErr) {
          throw new McpConnectionError(
            `MCP server "${this.name}" could not be reached at ${cfg.url}: Streamable HTTP failed (${(err as Error).message}) and so did SSE (${causeText(sseErr)})`,
            { cause: sseErr },
          );
        }
      }
      throw err;
    }
  }

  async #createTransport(kind: 'stdio' | 'streamable-http' | 'sse'): Promise<Transport> {
    const cfg = this.config;
    if (kind === 'stdio') {
      if (cfg.transport !== 'stdio') throw new Error('unreachable');
      if (cfg.cwd !== undefined && !(existsSync(cfg.cwd) && statSync(cfg.cwd).isDirectory())) {
        throw this.redactor.redactError(new McpConnectionError(`MCP server "${this.name}" could not be started: its cwd ${JSON.stringify(cfg.cwd)} is not an existing directory`, { retryable: false }));
      }
      // Lazy: keeps cross-spawn and child_process off the import path of code that never uses stdio.
      const [{ StdioClientTransport }, { deserializeMessage }] = await Promise.all([
        import('@modelcontextprotocol/sdk/client/stdio.js'),
        import('@modelcontextprotocol/sdk/shared/stdio.js'),
      ]);
      // Only what the config grants (inheritEnv, envFile, env) on top of the SDK's safe default set.
      const env = stdioServerEnv(cfg);
      const transport = new StdioClientTransport({
        command: cfg.command,
        args: cfg.args,
        ...(env ? { env } : {}),
        ...(cfg.cwd !== undefined ? { cwd: cfg.cwd } : {}),
        stderr: 'pipe',
        maxBufferSize: this.#options.maxMessageBytes,
      });
      transport.stderr?.on('data', (chunk: Buffer) => this.#captureStderr(chunk));
      installLineBuffer(transport, this.#options.maxMessageBytes, deserializeMessage);
      return transport;
    }
    if (cfg.transport === 'stdio') throw new Error('unreachable');
    const requestInit: RequestInit = cfg.headers ? { headers: cfg.headers } : {};
    const oauth = this.oauthProvider;
    const auth = oauth ? { authProvider: oauth, fetch: oauth.fetch } : {};
    if (kind === 'sse') {
      const { SSEClientTransport } = await import('@modelcontextprotocol/sdk/client/sse.js');
      // requestInit headers reach both the event-stream GET and the message POSTs.
      return new SSEClientTransport(new URL(cfg.url), { requestInit, ...auth });
    }
    const { StreamableHTTPClientTransport } = await import('@modelcontextprotocol/sdk/client/streamableHttp.js');
    return new StreamableHTTPClientTransport(new URL(cfg.url), { requestInit, ...auth });
  }

  /**
   * The OAuth client of an HTTP server (created once): tokens from the store, refreshed on a
   * 401. None for stdio servers, `"oauth": false`, or a config that sends its own
   * `Authorization` header.
   */
  get oauthProvider(): McpOAuthProvider | undefined {
    if (this.#oauth === undefined) this.#oauth = createOAuthProvider(this.config, this.#options.oauthDir, this.#options.configFile) ?? null;
    return this.#oauth ?? undefined;
  }

  /**
   * The auth error `err` stands for, if any: our own (a sign-in is needed) or the server
   * answering 401 (after a refresh, or with OAuth turned off).
   */
  authError(err: unknown): McpAuthRequiredError | McpConnectionError | undefined {
    for (let e: unknown = err, depth = 0; e instanceof Error && depth < 4; e = (e as { cause?: unknown }).cause, depth++) {
      if (e instanceof McpAuthRequiredError) return e;
      if ((e as { code?: unknown }).code === 401 && this.config.transport !== 'stdio') {
        const cfg = this.config;
        if (!this.oauthProvider) {
          const why = cfg.oauth === false ? '"oauth" is false for this server' : 'the config sends its own Authorization header';
          return new McpConnectionError(`MCP server "${this.name}" (${cfg.url}) answered 401 Unauthorized and ${why}: check the credentials in its config`, { cause: err, retryable: false });
        }
        return this.oauthProvider.authRequired('the server rejected the access token even after refreshing it', err);
      }
      const stepUp = this.oauthProvider?.stepUpReason;
      if ((e as { code?: unknown }).code === 403 && stepUp) return this.oauthProvider!.authRequired(stepUp, err);
    }
    return undefined;
  }

  async #attemptWith(kind: 'stdio' | 'streamable-http' | 'sse'): Promise<{ client: Client; transport: Transport }> {
    const transport = await this.#createTransport(kind);
    const client = new Client({ ...this.#options.clientInfo }, { capabilities: {} });
    client.setNotificationHandler(ToolListChangedNotificationSchema, () => {
      if (this.#client === client) this.#scheduleToolsChanged();
    });
    client.onerror = (error) => {
      // An oversized message is the error that explains the close that follows: keep it.
      if (!/exceeded maximum size/.test(this.#lastTransportError?.message ?? '')) this.#lastTransportError = error;
      if (kind !== 'stdio') this.#onHttpStreamError(client, error);
    };
    client.onclose = () => {
      if (this.#client === client && this.#state !== 'closed') this.#dropClient(client, this.#lastTransportError);
    };
    this.#lastTransportError = undefined;
    const child = kind === 'stdio' ? captureChild(transport) : undefined;
    if (child) this.#children.set(transport, child);
    const timeoutMs = this.#options.connectTimeoutMs;
    const controller = new AbortController();
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        controller.abort();
        reject(new Error(`no answer to initialize within ${timeoutMs} ms`));
      }, timeoutMs);
    });
    try {
      await Promise.race([client.connect(transport, { timeout: timeoutMs, signal: controller.signal }), timedOut]);
      deferResponses(transport);
      return { client, transport };
    } catch (err) {
      await client.close().catch(() => {});
      // The SDK's own close after a failed connect runs unawaited with unref'd timers: a server
      // that ignores stdin closing would outlive us. Make sure it is gone before reporting.
      if (child) await terminate(child());
      throw this.redactor.redactError(this.#connectError(kind, err));
    } finally {
      clearTimeout(timer);
    }
  }

  /**
   * Over HTTP the SDK notices a dead server only as a broken event stream: requests whose
   * answers were to come on it would wait for their timeout. When the SDK gives up resuming,
   * or a ping after the break fails, the connection is dropped so those calls fail now
   * (retryably) and the next call reconnects. A ping that succeeds leaves resumption to the SDK.
   */
  #onHttpStreamError(client: Client, error: Error): void {
    if (this.#client !== client) return;
    const message = error.message;
    if (/^Maximum reconnection attempts|^Failed to reconnect/.test(message)) {
      this.invalidate(client, error);
      return;
    }
    if (!/^SSE stream disconnected/.test(message) || this.#probing.has(client)) return;
    this.#probing.add(client);
    client
      .ping({ timeout: Math.min(this.#options.connectTimeoutMs, 5000) })
      .then(
        () => undefined,
        (pingError: unknown) => this.invalidate(client, new Error(`${message}; ping failed: ${pingError instanceof Error ? pingError.message : String(pingError)}`)),
      )
      .finally(() => this.#probing.delete(client));
  }

  #connectError(kind: 'stdio' | 'streamable-http' | 'sse', err: unknown): McpConnectionError {
    const auth = this.authError(err);
    if (auth) return auth;
    if (err instanceof McpConnectionError) return err;
    const cfg = this.config;
    const sysCode = (err as { code?: unknown }).code;
    const tail = this.stderrTail().slice(-10);
    const stderr = tail.length ? `\nserver stderr (last lines):\n${tail.join('\n')}` : '';
    if (cfg.transport === 'stdio') {
      if (sysCode === 'ENOENT' || sysCode === 'EACCES' || sysCode === 'ENOTDIR') {
        const why = sysCode === 'ENOENT' ? 'command not found' : sysCode === 'EACCES' ? 'permission denied' : 'not a directory';
        return new McpConnectionError(`MCP server "${this.name}" could not be started: ${why}: ${JSON.stringify(cfg.command)} (${causeText(err)})`, { cause: err, retryable: false });
      }
      const transportNote = this.#lastTransportError && this.#lastTransportError !== err ? ` [${this.#lastTransportError.message}]` : '';
      const closed = err instanceof McpError && err.code === ErrorCode.ConnectionClosed;
      const why = closed ? 'the process exited (or closed its stdout) before answering initialize' : causeText(err);
      return new McpConnectionError(`MCP server "${this.name}" (command ${JSON.stringify(cfg.command)}) failed the MCP handshake: ${why}${transportNote}${stderr}`, { cause: err });
    }
    const how = kind === 'sse' ? 'HTTP+SSE' : 'Streamable HTTP';
    if (err instanceof TypeError || typeof sysCode === 'string') {
      return new McpConnectionError(`MCP server "${this.name}" could not be reached at ${cfg.url} (${how}): ${causeText(err)}`, { cause: err });
    }
    const e = new McpConnectionError(`MCP server "${this.name}" at ${cfg.url} failed the MCP handshake (${how}): ${causeText(err)}`, { cause: err });
    return e;
  }

  #captureStderr(chunk: Buffer): void {
    const text = this.#stderrPartial + chunk.toString('utf8');
    const lines = text.split(/\r?\n/);
    this.#stderrPartial = (lines.pop() ?? '').slice(-4000);
    for (const line of lines) {
      this.#stderr.push(line.length > 1000 ? line.slice(0, 1000) + '…' : line);
    }
    const excess = this.#stderr.length - this.#options.stderrLines;
    if (excess > 0) this.#stderr.splice(0, excess);
  }

  #scheduleToolsChanged(): void {
    clearTimeout(this.#listChangedTimer);
    this.#listChangedTimer = setTimeout(() => {
      this.#listChangedTimer = undefined;
      if (this.#state === 'closed') return;
      for (const l of this.#toolsChanged) l();
    }, this.#options.listChangedDebounceMs);
    this.#listChangedTimer.unref?.();
  }
}

/** The provider for `config`, or undefined where OAuth does not apply. */
function createOAuthProvider(config: McpServerConfig, oauthDir: string | undefined, configFile: string | undefined): McpOAuthProvider | undefined {
  if (config.transport === 'stdio' || config.oauth === false) return undefined;
  const http: McpHttpServerConfig = config;
  const headerNames = Object.keys(http.headers ?? {});
  // A static token in the config is the user's choice of authentication: leave it alone.
  if (headerNames.some((h) => h.toLowerCase() === 'authorization')) return undefined;
  return new McpOAuthProvider({
    serverName: http.name,
    serverUrl: http.url,
    config: http.oauth || undefined,
    store: new OAuthStore(oauthDir),
    configHeaderNames: headerNames,
    configFile,
  });
}
