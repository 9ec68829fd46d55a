/**
 * `toolexec/store/redis`: executions in Redis, shared by every host that reaches the server
 * (several `toolexec serve` replicas, a CLI on another machine).
 *
 * Client: `redis` (node-redis) 6, the client the Redis project maintains (ioredis is kept on a
 * best-effort basis and points new projects to node-redis); it is loaded when a store connects.
 * Each operation is one Lua script (redis-scripts.ts): atomic on the server, one round trip, and
 * the expected-length check, the lease check and the writes cannot be interleaved by another
 * client. Lease and expiry times come from the server's clock. One Redis server (optionally with
 * replicas) is supported; Redis Cluster is not (a list reads keys it did not declare).
 *
 * Durability is Redis's, not the client's: a write resolves when the server has executed the
 * script, and what survives then depends on the server's persistence settings, which the store
 * reads at connect (`CONFIG GET`) and reports in `durability`:
 * - `appendonly yes` + `appendfsync always`: the server fsyncs its append-only file before it
 *   replies, so a resolved write survives a crash of redis-server, of the OS and a power cut.
 *   Level `fsync`; what the store asks for.
 * - `appendonly yes` + `appendfsync everysec` (Redis's default when AOF is on): the reply comes
 *   before the fsync. A crash of redis-server alone normally loses nothing (the AOF write(2)
 *   precedes the reply), an OS crash or power cut loses up to about a second (two when the disk
 *   stalls). Level `process`.
 * - `appendonly no`: only RDB snapshots, if any; a redis-server crash loses every write since
 *   the last one. Level `none`.
 * The store cannot change these settings (that is the server operator's call), so it warns
 * through `onWarning` below `fsync`, and `requireDurability` turns that into an error at connect.
 * Replication is asynchronous: after a failover to a replica, acknowledged writes may be missing.
 */
import { createHash } from 'node:crypto';
import { BaseExecutionStore } from './base-store.js';
import {
  initialRow,
  positiveInt,
  resolveStoreOptions,
  toRecord,
  toSummary,
  type CheckedComplete,
  type CheckedCreate,
  type CheckedDecision,
  type CheckedSuspend,
  type ExecutionRow,
  type NormalizedListFilter,
  type ResolvedStoreOptions,
  type SerializedEntries,
} from './core.js';
import { StoreError, storeErrorFromData, storeErrors } from './errors.js';
import * as scripts from './redis-scripts.js';
import type { ClaimResult, ExecutionRecord, ExecutionStatus, ExecutionSummary, Lease, StoreDurability, StoreOptions, WriteResult, WriterRef } from './types.js';

export * from './types.js';
export { StoreError, STORE_ERROR_CODES, type StoreErrorCode } from './errors.js';
export { newExecutionId, isExecutionId, defaultOwnerId } from './ids.js';
export { JournalWriter, type JournalWriterOptions } from './journal-writer.js';

/** The one call the store needs from a client: node-redis's `sendCommand`. */
export interface RedisCommandClient {
  sendCommand(args: readonly string[], options?: { timeout?: number }): Promise<unknown>;
}

export interface RedisStoreOptions extends StoreOptions {
  /** `redis://[user:password@]host:port[/db]` or `rediss://` for TLS. Default `redis://127.0.0.1:6379`. */
  url?: string;
  /** A connected node-redis client to use instead of `url`; the store never closes it. */
  client?: RedisCommandClient;
  /** Prefix of every key the store writes. Default `toolexec:`. */
  keyPrefix?: string;
  /** Refuse to connect (`UNAVAILABLE`) unless the server's persistence reaches this level (see the file header). */
  requireDurability?: 'process' | 'fsync';
  /** Where durability warnings and connection errors go. Default `process.emitWarning`. */
  onWarning?: (message: string) => void;
  /** How long one operation may wait for the server. Default 10 000. */
  commandTimeoutMs?: number;
  /** How long connecting may take. Default 5000. */
  connectTimeoutMs?: number;
}

interface Script {
  text: string;
  sha: string;
}

function script(text: string): Script {
  return { text, sha: createHash('sha1').update(text).digest('hex') };
}

const S = {
  create: script(scripts.CREATE),
  append: script(scripts.APPEND),
  suspend: script(scripts.SUSPEND),
  complete: script(scripts.COMPLETE),
  lease: script(scripts.LEASE),
  decide: script(scripts.DECIDE),
  claim: script(scripts.CLAIM),
  get: script(scripts.GET),
  delete: script(scripts.DELETE),
  list: script(scripts.LIST),
};

const LEVELS = ['none', 'process', 'fsync'] as const;

/**
 * An {@link ExecutionStore} in Redis. Connect with {@link RedisExecutionStore.connect}.
 * `purgeExpired` prunes nothing and returns 0: Redis expires the keys itself.
 */
export class RedisExecutionStore extends BaseExecutionStore {
  readonly kind = 'redis';
  readonly durability: StoreDurability;
  /** The server's `appendonly` and `appendfsync`, as read at connect (`undefined` when CONFIG is not allowed). */
  readonly persistence: { appendonly?: string; appendfsync?: string };
  readonly #client: RedisCommandClient;
  readonly #owned: { close(): Promise<unknown> } | undefined;
  readonly #prefix: string;
  readonly #timeout: number;
  readonly #where: string;

  /** Connects (unless given a client), checks the server's persistence, and returns the store. */
  static async connect(options: RedisStoreOptions = {}): Promise<RedisExecutionStore> {
    if (options === null || typeof options !== 'object') throw storeErrors.invalid('RedisExecutionStore.connect takes { url?, client?, ... }');
    const opts = resolveStoreOptions('redis', options);
    const keyPrefix = options.keyPrefix ?? 'toolexec:';
    if (typeof keyPrefix !== 'string' || keyPrefix.length > 128) throw storeErrors.invalid('redis store option keyPrefix must be a string of at most 128 characters');
    if (options.requireDurability !== undefined && options.requireDurability !== 'process' && options.requireDurability !== 'fsync') {
      throw storeErrors.invalid(`redis store option requireDurability must be 'process' or 'fsync', got ${JSON.stringify(options.requireDurability)}`);
    }
    const timeout = positiveInt('redis store option commandTimeoutMs', options.commandTimeoutMs, 10_000, 600_000);
    const connectTimeout = positiveInt('redis store option connectTimeoutMs', options.connectTimeoutMs, 5000, 600_000);
    const warn = options.onWarning ?? ((m: string) => process.emitWarning(m, { code: 'TOOLEXEC_STORE_REDIS' }));
    let client: RedisCommandClient;
    let owned: { close(): Promise<unknown> } | undefined;
    let where: string;
    if (options.client !== undefined) {
      if (typeof options.client?.sendCommand !== 'function') throw storeErrors.invalid('redis store option client must be a connected node-redis client (it needs sendCommand)');
      client = options.client;
      where = 'the given Redis client';
    } else {
      const url = options.url ?? 'redis://127.0.0.1:6379';
      if (typeof url !== 'string' || !/^rediss?:\/\//.test(url)) throw storeErrors.invalid(`redis store option url must start with redis:// or rediss://, got ${JSON.stringify(url)}`);
      where = redactUrl(url);
      let createClient: (o: Record<string, unknown>) => RedisCommandClient & {
        connect(): Promise<unknown>;
        close(): Promise<unknown>;
        destroy(): void;
        on(event: 'error', fn: (e: Error) => void): unknown;
      };
      try {
        const specifier = 'redis';
        ({ createClient } = (await import(specifier)) as { createClient: typeof createClient });
      } catch (e) {
        throw new StoreError('UNAVAILABLE', `the Redis execution store needs the redis package: npm install redis@6 (${(e as Error).message.split('\n')[0]})`, {}, { cause: e });
      }
      let connected = false;
      const c = createClient({
        url,
        // Fail fast while disconnected: a write queued now and sent later could land after its
        // caller gave up on it.
        disableOfflineQueue: true,
        // Reconnect with backoff once connected; the first connect fails at once instead (a
        // wrong URL should be an error, not a hang).
        socket: { connectTimeout, reconnectStrategy: (retries: number, cause: Error) => (connected ? Math.min(100 * 2 ** retries, 5000) : cause) },
      });
      let lastWarning = 0;
      c.on('error', (e: Error) => {
        // A down server makes the client retry and report every attempt; one line per 10 s is enough.
        const now = Date.now();
        if (now - lastWarning < 10_000) return;
        lastWarning = now;
        warn(`toolexec redis store: connection to ${where}: ${e.message}`);
      });
      try {
        await c.connect();
        connected = true;
      } catch (e) {
        c.destroy();
        throw new StoreError('UNAVAILABLE', `cannot connect to Redis at ${where}: ${(e as Error).message}; start redis-server or fix the URL`, {}, { cause: e });
      }
      client = c;
      owned = c;
    }
    try {
      const persistence = await readPersistence(client, timeout);
      const durability = describeDurability(persistence, where);
      const need = options.requireDurability;
      if (need && LEVELS.indexOf(durability.level as (typeof LEVELS)[number]) < LEVELS.indexOf(need)) {
        throw new StoreError('UNAVAILABLE', `${durability.summary}; requireDurability is '${need}': ${fixHint(need)}`, { persistence });
      }
      if (durability.level !== 'fsync') warn(`toolexec redis store: ${durability.summary}. ${fixHint('fsync')}`);
      return new RedisExecutionStore(client, owned, keyPrefix, opts, timeout, where, durability, persistence);
    } catch (e) {
      await owned?.close().catch(() => undefined);
      throw e;
    }
  }

  private constructor(
    client: RedisCommandClient,
    owned: { close(): Promise<unknown> } | undefined,
    prefix: string,
    opts: ResolvedStoreOptions,
    timeout: number,
    where: string,
    durability: StoreDurability,
    persistence: { appendonly?: string; appendfsync?: string },
  ) {
    super('redis', opts);
    this.#client = client;
    this.#owned = owned;
    this.#prefix = prefix;
    this.#timeout = timeout;
    this.#where = where;
    this.durability = durability;
    this.persistence = persistence;
  }

  protected async createChecked(id: string, c: CheckedCreate): Promise<ExecutionRecord> {
    const ok = await this.#call(id, S.create, this.#keys(id, c.principal), [
      c.principal,
      c.owner,
      String(c.leaseMs),
      String(c.ttlMs),
      String(c.maxBytes),
      c.script,
      c.optionsText,
      id,
      this.#prefix,
    ]);
    // The row as the script wrote it, at the server's time.
    return toRecord(initialRow(id, c, Number((ok as { now: number }).now)), c.script, c.optionsText, null, []);
  }

  protected async getChecked(executionId: string, principal: string): Promise<ExecutionRecord | undefined> {
    const reply = await this.#eval(executionId, S.get, this.#keys(executionId, principal).slice(0, 3), [principal], false);
    if (reply === null || reply === undefined) return undefined;
    const [meta, body, journal] = reply as [string[], (string | null)[], string[]];
    return recordFrom(executionId, meta, body, journal);
  }

  protected async listRows(principal: string, f: NormalizedListFilter): Promise<ExecutionRow[]> {
    const reply = (await this.#eval('', S.list, [this.#indexKey(principal)], [
      principal,
      this.#prefix,
      String(f.limit + 1),
      f.cursor ? String(f.cursor.createdAt) : '+inf',
      f.cursor ? f.cursor.executionId : '',
      f.statuses ? f.statuses.join(',') : '',
    ], false)) as Array<[string, string[]]>;
    return reply.map(([id, meta]) => rowFrom(id, meta));
  }

  protected async appendChecked(ref: WriterRef, entries: SerializedEntries, expectedLength: number): Promise<WriteResult> {
    return writeResult(await this.#writerCall(ref, S.append, [String(expectedLength), ...entries.texts]));
  }

  protected async renewChecked(ref: WriterRef, leaseMs: number): Promise<Lease> {
    const ok = (await this.#writerCall(ref, S.lease, [String(leaseMs)])) as { leaseExpiresAt: number };
    return { owner: ref.owner, expiresAt: Number(ok.leaseExpiresAt) };
  }

  protected async releaseChecked(ref: WriterRef): Promise<void> {
    await this.#writerCall(ref, S.lease, ['']);
  }

  protected async suspendChecked(ref: WriterRef, s: CheckedSuspend): Promise<WriteResult> {
    const ids = JSON.stringify(s.pending.map((p) => p.callId));
    return writeResult(await this.#writerCall(ref, S.suspend, [String(s.expectedLength), s.pendingText, ids, s.suspendText, ...s.entries.texts]));
  }

  protected async completeChecked(ref: WriterRef, c: CheckedComplete): Promise<WriteResult> {
    return writeResult(await this.#writerCall(ref, S.complete, [String(c.expectedLength), c.status, c.resultText, ...c.entries.texts]));
  }

  protected async decideChecked(executionId: string, principal: string, decisions: readonly CheckedDecision[]): Promise<ExecutionSummary> {
    const args = [principal, String(decisions.length)];
    // The script prepends {"decidedAt":<server time>, to each text: see decisionText() in core.ts.
    for (const d of decisions) args.push(d.callId, JSON.stringify(d.entry).slice(1));
    const reply = await this.#call(executionId, S.decide, this.#keys(executionId, principal), args);
    return toSummary(rowFrom(executionId, (reply as unknown as [unknown, string[]])[1]));
  }

  protected async claimChecked(executionId: string, principal: string, owner: string, leaseMs: number, requireDecisions: boolean): Promise<ClaimResult> {
    const reply = (await this.#call(executionId, S.claim, this.#keys(executionId, principal), [
      principal,
      owner,
      String(leaseMs),
      requireDecisions ? '1' : '0',
    ])) as unknown as [{ previousStatus: 'running' | 'suspended'; previousOwner?: string }, string[], (string | null)[], string[]];
    const [ok, meta, body, journal] = reply;
    const result: ClaimResult = { record: recordFrom(executionId, meta, body, journal), previousStatus: ok.previousStatus };
    if (ok.previousOwner !== undefined) result.previousOwner = ok.previousOwner;
    return result;
  }

  protected async deleteChecked(executionId: string, principal: string): Promise<boolean> {
    return Number(await this.#eval(executionId, S.delete, this.#keys(executionId, principal), [principal, executionId], true)) === 1;
  }

  /** `purgeExpired`: Redis expires keys itself; this prunes nothing and returns 0. Index members are pruned by `list` and `create`. */
  protected purgeChecked(): number {
    return 0;
  }

  protected async closeChecked(): Promise<void> {
    await this.#owned?.close().catch(() => undefined);
  }

  #keys(id: string, principal: string): string[] {
    const meta = `${this.#prefix}e:${id}`;
    return [meta, `${meta}:b`, `${meta}:j`, this.#indexKey(principal)];
  }

  #indexKey(principal: string): string {
    // Hashed: principals are arbitrary strings (tokens' hashes, user names) and key names are visible to operators.
    return `${this.#prefix}p:${createHash('sha256').update(principal).digest('hex')}`;
  }

  #writerCall(ref: WriterRef, s: Script, args: string[]): Promise<Record<string, unknown>> {
    return this.#call(ref.executionId, s, this.#keys(ref.executionId, ref.principal), [ref.principal, ref.owner, ...args]);
  }

  /** A script whose reply is `{"ok":1,...}` or `{"err":...}` (as a JSON text, or the first element of an array). */
  async #call(executionId: string, s: Script, keys: string[], args: string[]): Promise<Record<string, unknown>> {
    const reply = await this.#eval(executionId, s, keys, args, true);
    const head = Array.isArray(reply) ? reply[0] : reply;
    const data = JSON.parse(String(head)) as Record<string, unknown>;
    if (data.err !== undefined) throw storeErrorFromData(executionId, data);
    if (Array.isArray(reply)) return [data, ...reply.slice(1)] as unknown as Record<string, unknown>;
    return data;
  }

  async #eval(executionId: string, s: Script, keys: string[], args: string[], writes: boolean): Promise<unknown> {
    const tail = [String(keys.length), ...keys, ...args];
    try {
      try {
        return await this.#client.sendCommand(['EVALSHA', s.sha, ...tail], { timeout: this.#timeout });
      } catch (e) {
        // A server that restarted (or never saw the script) has an empty script cache.
        if (!/NOSCRIPT/.test((e as Error)?.message ?? '')) throw e;
        return await this.#client.sendCommand(['EVAL', s.text, ...tail], { timeout: this.#timeout });
      }
    } catch (e) {
      if (e instanceof StoreError) throw e;
      const message = (e as Error)?.message ?? String(e);
      const unknown = writes ? '; the write may or may not have been applied: re-read the execution before writing again' : '';
      throw new StoreError('UNAVAILABLE', `Redis at ${this.#where}${executionId ? ` (execution ${executionId})` : ''}: ${message}${unknown}`, writes ? { outcome: 'unknown' } : {}, { cause: e });
    }
  }
}

function writeResult(ok: Record<string, unknown>): WriteResult {
  return { journalLength: Number(ok.journalLength), bytes: Number(ok.bytes), updatedAt: Number(ok.updatedAt), expiresAt: Number(ok.expiresAt) };
}

function rowFrom(id: string, flat: readonly string[]): ExecutionRow {
  const f = new Map<string, string>();
  const decisions: string[] = [];
  for (let i = 0; i < flat.length; i += 2) {
    const k = flat[i]!;
    const v = flat[i + 1]!;
    if (k.startsWith('d:')) decisions.push(`${JSON.stringify(k.slice(2))}:${v}`);
    else f.set(k, v);
  }
  return {
    id,
    principal: f.get('principal')!,
    status: f.get('status') as ExecutionStatus,
    createdAt: Number(f.get('createdAt')),
    updatedAt: Number(f.get('updatedAt')),
    expiresAt: Number(f.get('expiresAt')),
    ttlMs: Number(f.get('ttlMs')),
    journalLength: Number(f.get('journalLength')),
    bytes: Number(f.get('bytes')),
    maxBytes: Number(f.get('maxBytes')),
    leaseOwner: f.get('leaseOwner') ?? null,
    leaseExpiresAt: f.has('leaseExpiresAt') ? Number(f.get('leaseExpiresAt')) : null,
    pending: f.get('pending') ?? '[]',
    decisions: `{${decisions.join(',')}}`,
  };
}

function recordFrom(id: string, meta: readonly string[], body: readonly (string | null)[], journal: readonly string[]): ExecutionRecord {
  return toRecord(rowFrom(id, meta), body[0] ?? '', body[1] ?? '{}', body[2] ?? null, journal);
}

async function readPersistence(client: RedisCommandClient, timeout: number): Promise<{ appendonly?: string; appendfsync?: string }> {
  const out: { appendonly?: string; appendfsync?: string } = {};
  for (const key of ['appendonly', 'appendfsync'] as const) {
    try {
      const reply = await client.sendCommand(['CONFIG', 'GET', key], { timeout });
      const value = configValue(reply, key);
      if (value !== undefined) out[key] = value.toLowerCase();
    } catch {
      // Managed services often disable CONFIG; durability is then reported as unknown.
    }
  }
  return out;
}

function configValue(reply: unknown, key: string): string | undefined {
  if (Array.isArray(reply)) return reply[0] === key ? String(reply[1]) : undefined;
  if (reply instanceof Map) return reply.has(key) ? String(reply.get(key)) : undefined;
  if (reply && typeof reply === 'object' && key in reply) return String((reply as Record<string, unknown>)[key]);
  return undefined;
}

function describeDurability(p: { appendonly?: string; appendfsync?: string }, where: string): StoreDurability {
  if (p.appendonly === undefined) {
    return { level: 'unknown', summary: `Redis at ${where} does not allow CONFIG GET, so its persistence (appendonly, appendfsync) is unknown` };
  }
  if (p.appendonly !== 'yes') {
    return { level: 'none', summary: `Redis at ${where} has appendonly no: a crash of redis-server loses every write since its last RDB snapshot` };
  }
  if (p.appendfsync === 'always') {
    return { level: 'fsync', summary: `Redis at ${where} has appendonly yes, appendfsync always: every write is fsynced to the AOF before the server replies` };
  }
  return {
    level: 'process',
    summary: `Redis at ${where} has appendonly yes, appendfsync ${p.appendfsync ?? 'unknown'}: writes survive a crash of redis-server, but an OS crash or power cut can lose about the last second`,
  };
}

function fixHint(level: 'process' | 'fsync'): string {
  return level === 'fsync'
    ? "set 'appendonly yes' and 'appendfsync always' on the server (redis.conf, or CONFIG SET appendonly yes and CONFIG SET appendfsync always)"
    : "set 'appendonly yes' on the server (redis.conf, or CONFIG SET appendonly yes)";
}

function redactUrl(url: string): string {
  return url.replace(/\/\/([^@/]*)@/, '//***@');
}

