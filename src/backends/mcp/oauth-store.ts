/**
 * Where OAuth credentials for remote MCP servers live: one JSON file per server URL under
 * `<config dir>/oauth/`, readable by the user only (file 0600, directory 0700), replaced
 * atomically (write a temporary file, then rename) so a crash or a concurrent reader never
 * sees half a file. One file per server rather than one for all: `toolexec serve` refreshing
 * one server's token while `toolexec auth` signs in to another cannot lose either update.
 *
 * The config dir is `$TOOLEXEC_CONFIG_DIR` when set (tests use it), else
 * `$XDG_CONFIG_HOME/toolexec`, else `~/.config/toolexec`.
 */
import { createHash, randomBytes } from 'node:crypto';
import { chmodSync, closeSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, statSync, unlinkSync, writeSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import type { OAuthClientInformationMixed, OAuthTokens } from '@modelcontextprotocol/sdk/shared/auth.js';

/** Environment variable that overrides the config directory (tokens go in its `oauth/` folder). */
export const CONFIG_DIR_ENV = 'TOOLEXEC_CONFIG_DIR';

/** Largest credentials file read back; anything bigger is not ours. */
const MAX_RECORD_BYTES = 256 * 1024;

/** The user's toolexec config directory (see the module comment for the order). */
export function toolexecConfigDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env[CONFIG_DIR_ENV]) return env[CONFIG_DIR_ENV];
  if (env.XDG_CONFIG_HOME) return join(env.XDG_CONFIG_HOME, 'toolexec');
  return join(homedir(), '.config', 'toolexec');
}

/** What is stored for one server URL. */
export interface OAuthRecord {
  /** The server URL the record belongs to (the file name is its hash). */
  serverUrl: string;
  /** Client registration (dynamic registration, or a URL-based client ID), as the SDK handed it over. */
  client?: OAuthClientInformationMixed;
  /** The latest tokens, as the SDK handed them over (with the issuer stamp). */
  tokens?: OAuthTokens;
  /** When `tokens` were saved (ms since the epoch): with `expires_in`, when the access token expires. */
  tokensSavedAt?: number;
  /** PKCE verifier of a sign-in in progress; removed once the code is exchanged. */
  codeVerifier?: string;
  /** Scopes the server asked for at a step-up (403 insufficient_scope): every later sign-in asks for them too. */
  stepUpScopes?: string[];
}

/** Normalized form of a server URL, the key of its record. */
export function oauthKey(serverUrl: string | URL): string {
  return new URL(String(serverUrl)).href;
}

/** Reads and writes `OAuthRecord`s in one directory. Synchronous: the files are tiny. */
export class OAuthStore {
  /** The folder holding one file per server (`<config dir>/oauth`). */
  readonly dir: string;
  readonly #cache = new Map<string, { mtimeMs: number; size: number; ino: number; record: OAuthRecord | undefined }>();

  constructor(dir: string = join(toolexecConfigDir(), 'oauth')) {
    this.dir = dir;
  }

  /** The file that holds `serverUrl`'s record (it may not exist). */
  fileFor(serverUrl: string | URL): string {
    const digest = createHash('sha256').update(oauthKey(serverUrl)).digest('hex').slice(0, 32);
    return join(this.dir, `${digest}.json`);
  }

  /**
   * The stored record, or undefined. Re-read only when the file changed (stat), so calling
   * this before every HTTP request costs a stat; another process's sign-in is seen at once.
   */
  read(serverUrl: string | URL): OAuthRecord | undefined {
    const key = oauthKey(serverUrl);
    const file = this.fileFor(key);
    let st;
    try {
      st = statSync(file);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') {
        this.#cache.delete(key);
        return undefined;
      }
      throw e;
    }
    const cached = this.#cache.get(key);
    if (cached && cached.mtimeMs === st.mtimeMs && cached.size === st.size && cached.ino === st.ino) return cached.record;
    let record: OAuthRecord | undefined;
    if (st.size <= MAX_RECORD_BYTES) {
      try {
        const parsed = JSON.parse(readFileSync(file, 'utf8')) as unknown;
        // A file for another URL (a hash collision, or a copied file) is not used.
        if (typeof parsed === 'object' && parsed !== null && (parsed as OAuthRecord).serverUrl === key) record = parsed as OAuthRecord;
      } catch {
        // A damaged file reads as "nothing stored": signing in again rewrites it.
      }
    }
    // Someone loosened the mode (a copy, an editor): tighten it rather than leave tokens readable.
    if ((st.mode & 0o077) !== 0) {
      try {
        chmodSync(file, 0o600);
      } catch {
        // Not ours to fix (another owner): reading still works.
      }
    }
    this.#cache.set(key, { mtimeMs: st.mtimeMs, size: st.size, ino: st.ino, record });
    return record;
  }

  /**
   * Read-modify-write of one record: `change` gets the current record (or a fresh one) and
   * returns the new one, or undefined to delete the file.
   */
  update(serverUrl: string | URL, change: (current: OAuthRecord) => OAuthRecord | undefined): void {
    const key = oauthKey(serverUrl);
    const current = this.read(key) ?? { serverUrl: key };
    const next = change(structuredClone(current));
    if (next === undefined || (next.client === undefined && next.tokens === undefined && next.codeVerifier === undefined && next.stepUpScopes === undefined)) {
      this.delete(key);
      return;
    }
    this.#write(key, { ...next, serverUrl: key });
  }

  /** Removes everything stored for `serverUrl`. Returns whether there was anything. */
  delete(serverUrl: string | URL): boolean {
    const key = oauthKey(serverUrl);
    this.#cache.delete(key);
    try {
      unlinkSync(this.fileFor(key));
      return true;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return false;
      throw e;
    }
  }

  #ensureDir(): void {
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    // mkdir's mode is filtered by the umask and ignored for a directory that already exists.
    if ((statSync(this.dir).mode & 0o777) !== 0o700) chmodSync(this.dir, 0o700);
  }

  #write(key: string, record: OAuthRecord): void {
    this.#ensureDir();
    const file = this.fileFor(key);
    const tmp = `${file}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`;
    // Created 0600 from the start ('wx' refuses to follow a planted file or link), so the
    // tokens are never readable by others, not even for a moment.
    const fd = openSync(tmp, 'wx', 0o600);
    try {
      writeSync(fd, `${JSON.stringify(record, null, 2)}\n`);
      fsyncSync(fd);
    } catch (e) {
      closeSync(fd);
      try {
        unlinkSync(tmp);
      } catch {
        // already gone
      }
      throw e;
    }
    closeSync(fd);
    try {
      renameSync(tmp, file);
    } catch (e) {
      try {
        unlinkSync(tmp);
      } catch {
        // already gone
      }
      throw e;
    }
    this.#cache.delete(key);
  }
}
