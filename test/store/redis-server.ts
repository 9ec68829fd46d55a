/**
 * A real redis-server per test file, on a free 127.0.0.1 port, persisting to its own temp dir
 * with `appendonly yes`, `appendfsync always` and no RDB snapshots. Without redis-server on the
 * PATH the Redis tests skip with the reason, unless TOOLEXEC_REQUIRE_REDIS=1 (CI), where they fail.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createConnection, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const REQUIRE_REDIS = process.env.TOOLEXEC_REQUIRE_REDIS === '1';

/** The redis-server binary, or why there is none. */
export function findRedisServer(): { path: string; version: string } | { reason: string } {
  const which = spawnSync('sh', ['-c', 'command -v redis-server'], { encoding: 'utf8' });
  const path = which.stdout.trim();
  if (!path) return { reason: 'redis-server is not on the PATH (apt-get install -y redis-server, or run .ci/redis-setup.sh)' };
  const v = spawnSync(path, ['--version'], { encoding: 'utf8' });
  return { path, version: /v=(\S+)/.exec(v.stdout)?.[1] ?? 'unknown' };
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}

function ping(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createConnection({ host: '127.0.0.1', port });
    let buf = '';
    s.setTimeout(1000, () => (s.destroy(), resolve(false)));
    s.on('error', () => resolve(false));
    s.on('connect', () => s.write('PING\r\n'));
    s.on('data', (d) => {
      buf += d.toString();
      // "-LOADING" while it replays the AOF: not ready yet.
      if (buf.includes('\r\n')) {
        s.destroy();
        resolve(buf.startsWith('+PONG'));
      }
    });
  });
}

export class RedisServer {
  readonly dir = mkdtempSync(join(tmpdir(), 'toolexec-redis-'));
  #proc: ChildProcess | undefined;
  #log = '';
  private constructor(
    readonly binary: string,
    readonly port: number,
  ) {}

  static async start(binary: string): Promise<RedisServer> {
    const server = new RedisServer(binary, await freePort());
    await server.#spawn();
    return server;
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  get pid(): number | undefined {
    return this.#proc?.pid;
  }

  async #spawn(): Promise<void> {
    const args = ['--port', String(this.port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'yes', '--appendfsync', 'always', '--dir', this.dir, '--daemonize', 'no', '--loglevel', 'warning'];
    const proc = spawn(this.binary, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    this.#proc = proc;
    proc.stdout!.on('data', (d) => (this.#log += d));
    proc.stderr!.on('data', (d) => (this.#log += d));
    const deadline = Date.now() + 15_000;
    while (!(await ping(this.port))) {
      if (proc.exitCode !== null || proc.signalCode !== null || Date.now() > deadline) {
        proc.kill('SIGKILL');
        throw new Error(`redis-server on port ${this.port} did not start: ${this.#log.slice(-2000)}`);
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /** SIGKILL: no shutdown, no final fsync; what survives is what the AOF already had. */
  async crash(): Promise<void> {
    const proc = this.#proc;
    if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
    const exited = new Promise((r) => proc.once('exit', r));
    proc.kill('SIGKILL');
    await exited;
  }

  /** Starts again on the same port and dir, replaying the AOF. */
  async restart(): Promise<void> {
    await this.crash();
    await this.#spawn();
  }

  async stop(): Promise<void> {
    await this.crash();
    rmSync(this.dir, { recursive: true, force: true });
  }
}
