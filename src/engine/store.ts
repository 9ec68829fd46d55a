/**
 * The execution store a config describes (`store` section), opened on first need: SQLite in one
 * file (the CLI's and the server's default, under the user's data directory), Redis (shared by
 * several hosts), or memory (the library's default: executions live as long as the process).
 */
import { homedir } from 'node:os';
import { join } from 'node:path';
import type { ConfigStore } from '../config/load-config.js';
import type { ExecutionStore } from '../store/types.js';

/** The store kinds an engine opens. */
export type StoreKind = 'sqlite' | 'redis' | 'memory';

/** File name of the default SQLite store. */
export const DEFAULT_STORE_FILE = 'executions.db';

/**
 * The user's toolexec data directory: `$XDG_DATA_HOME/toolexec`, else `~/.local/share/toolexec`
 * (the XDG convention; the SQLite store's file is created there with mode 0600, the folder 0700).
 */
export function userDataDir(env: Record<string, string | undefined> = process.env): string {
  const xdg = env.XDG_DATA_HOME;
  const base = xdg && xdg.startsWith('/') ? xdg : join(env.HOME || homedir(), '.local', 'share');
  return join(base, 'toolexec');
}

/** Where the default SQLite store lives. */
export function defaultStorePath(env: Record<string, string | undefined> = process.env): string {
  return join(userDataDir(env), DEFAULT_STORE_FILE);
}

/** Opens the store the config's `store` section names (`fallback` when it names no kind). */
export async function openConfiguredStore(
  section: ConfigStore | undefined,
  fallback: StoreKind,
  env: Record<string, string | undefined>,
  warn: (message: string) => void,
): Promise<ExecutionStore> {
  const kind = section?.kind ?? (section?.url !== undefined ? 'redis' : section?.path !== undefined ? 'sqlite' : fallback);
  const bounds = {
    ...(section?.executionTtlMs !== undefined ? { executionTtlMs: section.executionTtlMs } : {}),
    ...(section?.maxJournalBytes !== undefined ? { maxJournalBytes: section.maxJournalBytes } : {}),
    ...(section?.leaseMs !== undefined ? { leaseMs: section.leaseMs } : {}),
  };
  if (kind === 'memory') {
    const { MemoryExecutionStore } = await import('../store/memory.js');
    return new MemoryExecutionStore(bounds);
  }
  if (kind === 'redis') {
    const { RedisExecutionStore } = await import('../store/redis.js');
    return RedisExecutionStore.connect({
      ...bounds,
      ...(section?.url !== undefined ? { url: section.url } : {}),
      ...(section?.keyPrefix !== undefined ? { keyPrefix: section.keyPrefix } : {}),
      ...(section?.requireDurability !== undefined ? { requireDurability: section.requireDurability } : {}),
      onWarning: warn,
    });
  }
  const { SqliteExecutionStore } = await import('../store/sqlite.js');
  return SqliteExecutionStore.open({ ...bounds, path: section?.path ?? defaultStorePath(env) });
}
