// The Redis store against a real redis-server started by this file: the shared contract (two
// clients, real time: leases and expiry use the server's clock), then what only Redis shows:
// TTLs on every key, the persistence check, the script cache, two processes appending at once,
// and an append that survives SIGKILL of the writer and of redis-server right after it.
import { randomBytes } from 'node:crypto';
import { createClient } from 'redis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RedisExecutionStore, type RedisStoreOptions } from '../../src/store/redis.js';
import { defineStoreContract, storeError } from './contract.js';
import { expectAppendSurvivesKill, expectCrossProcessAppendsAtomic } from './processes.js';
import { REQUIRE_REDIS, RedisServer, findRedisServer } from './redis-server.js';

const found = findRedisServer();
const available = 'path' in found;
if (!available) console.warn(`[redis tests] skipped: ${found.reason}${REQUIRE_REDIS ? ' (TOOLEXEC_REQUIRE_REDIS=1: failing)' : ''}`);

let server: RedisServer;
beforeAll(async () => {
  if (available) server = await RedisServer.start(found.path);
});
afterAll(async () => {
  await server?.stop();
});

const quiet = { onWarning: () => {} };
const connect = (options: Omit<RedisStoreOptions, 'url'> = {}) => RedisExecutionStore.connect({ url: server.url, ...quiet, ...options });
const prefix = () => `test:${randomBytes(6).toString('hex')}:`;

describe('Redis server', () => {
  it.runIf(REQUIRE_REDIS)('is installed (TOOLEXEC_REQUIRE_REDIS=1)', () => {
    expect('reason' in found ? found.reason : 'available').toBe('available');
  });
});

describe.runIf(available)('redis', () => {
  defineStoreContract('redis', async (options) => {
    // A fresh key prefix per test keeps tests apart on one server.
    const keyPrefix = prefix();
    const a = await connect({ ...options, keyPrefix });
    const b = await connect({ ...options, keyPrefix });
    return {
      a,
      b,
      elapse: (ms) => new Promise((r) => setTimeout(r, ms)),
      close: async () => {
        await a.close();
        await b.close();
      },
    };
  });

  describe('redis store', () => {
    it('sets a TTL on every key of an execution and of its principal index, on every write', async () => {
      const keyPrefix = prefix();
      const store = await connect({ keyPrefix });
      const raw = await createClient({ url: server.url }).connect();
      try {
        const rec = await store.create({ principal: 'p', owner: 'o', script: 's', ttlMs: 50_000 });
        const ref = { executionId: rec.executionId, principal: 'p', owner: 'o' };
        await store.append(ref, [{ type: 'x' }], 0);
        const keys = (await raw.keys(`${keyPrefix}*`)).sort();
        expect(keys.length).toBe(4);
        for (const key of keys) {
          const ttl = await raw.pTTL(key);
          expect(ttl, key).toBeGreaterThan(40_000);
          expect(ttl, key).toBeLessThanOrEqual(50_000);
        }
        // Principals appear in key names only hashed.
        expect(keys.some((k) => k.includes(`${keyPrefix}p:`) && /p:[0-9a-f]{64}$/.test(k))).toBe(true);
        await store.complete(ref, { status: 'completed', result: 1, expectedLength: 1 });
        for (const key of keys) expect(await raw.pTTL(key), key).toBeGreaterThan(40_000);
      } finally {
        await raw.close();
        await store.close();
      }
    });

    it('reports the server persistence, warns below fsync, and refuses it when required', async () => {
      const raw = await createClient({ url: server.url }).connect();
      const warnings: string[] = [];
      try {
        const good = await connect({ onWarning: (m) => warnings.push(m) });
        expect(good.durability.level).toBe('fsync');
        expect(good.persistence).toEqual({ appendonly: 'yes', appendfsync: 'always' });
        expect(warnings).toEqual([]);
        await good.close();

        await raw.configSet('appendfsync', 'everysec');
        const everysec = await connect({ onWarning: (m) => warnings.push(m) });
        expect(everysec.durability.level).toBe('process');
        expect(warnings.at(-1)).toMatch(/appendfsync everysec.*set 'appendonly yes' and 'appendfsync always'/);
        await everysec.close();
        await expect(connect({ requireDurability: 'fsync' })).rejects.toThrow(/requireDurability is 'fsync'/);

        await raw.configSet('appendonly', 'no');
        const none = await connect({ onWarning: (m) => warnings.push(m) });
        expect(none.durability.level).toBe('none');
        expect(warnings.at(-1)).toMatch(/appendonly no: a crash of redis-server loses every write since its last RDB snapshot/);
        await none.close();
        const e = await storeError(connect({ requireDurability: 'process' }), 'UNAVAILABLE');
        expect(e.message).toMatch(/CONFIG SET appendonly yes/);
      } finally {
        await raw.configSet('appendonly', 'yes');
        await raw.configSet('appendfsync', 'always');
        await raw.close();
      }
    });

    it('reloads its scripts after the server forgot them (SCRIPT FLUSH, a restart)', async () => {
      const store = await connect({ keyPrefix: prefix() });
      const raw = await createClient({ url: server.url }).connect();
      try {
        const rec = await store.create({ principal: 'p', owner: 'o', script: '' });
        await raw.scriptFlush();
        await store.append({ executionId: rec.executionId, principal: 'p', owner: 'o' }, [{ type: 'x' }], 0);
        expect((await store.get(rec.executionId, 'p'))!.journalLength).toBe(1);
      } finally {
        await raw.close();
        await store.close();
      }
    });

    it('fails fast with UNAVAILABLE when nothing listens, naming the address and the fix', async () => {
      const e = await storeError(RedisExecutionStore.connect({ url: 'redis://127.0.0.1:1', ...quiet, connectTimeoutMs: 2000 }), 'UNAVAILABLE');
      expect(e.message).toMatch(/cannot connect to Redis at redis:\/\/127\.0\.0\.1:1.*start redis-server or fix the URL/);
      await expect(RedisExecutionStore.connect({ url: 'http://x' })).rejects.toThrow(/url must start with redis:\/\/ or rediss:\/\//);
      await expect(RedisExecutionStore.connect({ url: 'redis://u:hunter2@127.0.0.1:1', ...quiet })).rejects.toThrow(/redis:\/\/\*\*\*@127\.0\.0\.1:1/);
    });

    it('two processes appending to one execution at once never interleave', async () => {
      const keyPrefix = prefix();
      const store = await connect({ keyPrefix });
      await expectCrossProcessAppendsAtomic('redis', { url: server.url, keyPrefix }, store);
      await store.close();
    });

    it('an append that resolved survives SIGKILL of the writer and then of redis-server', async () => {
      const keyPrefix = prefix();
      await expectAppendSurvivesKill('redis', { url: server.url, keyPrefix }, async () => {
        const pid = server.pid;
        await server.crash();
        await server.restart();
        expect(server.pid).not.toBe(pid);
      });
    });
  });
});
