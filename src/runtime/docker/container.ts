/**
 * One sandbox container: created with every hardening option, attached and started, its attach
 * stream demultiplexed into protocol lines. This is the transport only (create, attach, write,
 * destroy); the worker (`worker.ts`) turns it into a sandbox and the supervisor owns its life.
 */
import os from 'node:os';
import type { Duplex } from 'node:stream';
import { StringDecoder } from 'node:string_decoder';
import type Dockerode from 'dockerode';

/** Label on every container this package creates; start-up cleanup finds stale ones by it. */
export const SANDBOX_LABEL = 'toolexec.sandbox';
/** Label holding the pid of the process that owns the container. */
export const OWNER_PID_LABEL = 'toolexec.owner-pid';
/** Label naming the runtime instance that owns the container (several may share a process). */
export const RUNTIME_ID_LABEL = 'toolexec.runtime-id';
/** Label holding the host name of the owning process (a pid means nothing on another host). */
export const OWNER_HOST_LABEL = 'toolexec.owner-host';
/**
 * Label holding the epoch milliseconds after which the container has no business existing: its
 * idle time-to-live plus the longest job it may run. Any toolexec host removes containers past
 * it, whoever owned them, so a dead host's containers do not live on.
 */
export const EXPIRES_LABEL = 'toolexec.expires';
/** Where the guest agent lives in the image (sandbox-image/build.mjs and Dockerfile.node). */
export const AGENT_PATH = '/opt/toolexec/agent.js';
/** The unprivileged user the agent runs as (nobody:nogroup). */
export const SANDBOX_USER = '65534:65534';
/**
 * Memory the container gets on top of the guest heap: the node binary's pages, its own heap and
 * buffers. Without it a guest asking for 64 MB of heap could not even start node.
 */
export const NODE_OVERHEAD_MB = 64;

/** Everything that shapes a container; containers with equal specs are interchangeable. */
export interface SandboxSpec {
  image: string;
  /** V8 heap limit for the guest (node `--max-old-space-size`). */
  heapMb: number;
  cpus: number;
  pidsLimit: number;
  runtime: 'runc' | 'runsc';
  tmpfsMb: number;
  fsizeMb: number;
  nofile: number;
  /** How long the container may wait for its job before it ends itself. */
  idleTtlMs: number;
  /** The longest job it may run (bounds its lifetime and its CPU time). */
  maxTimeoutMs: number;
}

/** What the agent's output turned into, in order. */
export type ContainerEvent =
  | { kind: 'line'; line: { t: string; [key: string]: unknown } }
  | { kind: 'violation'; reason: string }
  | { kind: 'exit' };

/** How the container ended, from `inspect`. */
export interface SandboxExit {
  running: boolean;
  exitCode?: number;
  oomKilled: boolean;
  error?: string;
}

const STDERR_TAIL_BYTES = 8 * 1024;

/** The HostConfig and Config for one sandbox container: every hardening option lives here. */
export function containerOptions(spec: SandboxSpec, labels: Record<string, string> = {}): Dockerode.ContainerCreateOptions {
  const memoryBytes = (spec.heapMb + NODE_OVERHEAD_MB) * 1024 * 1024;
  const fsizeBytes = spec.fsizeMb * 1024 * 1024;
  // CPU time the kernel lets the agent burn in all (RLIMIT_CPU, enforced by runc; gVisor does not
  // enforce it, and relies on the watchdog and the expiry sweep): its longest job at its CPU
  // quota, plus node's start-up.
  const cpuSeconds = Math.ceil((spec.maxTimeoutMs / 1000) * Math.max(1, spec.cpus)) + 30;
  return {
    Image: spec.image,
    Cmd: [`--max-old-space-size=${spec.heapMb}`, AGENT_PATH],
    User: SANDBOX_USER,
    WorkingDir: '/tmp',
    Env: ['NODE_ENV=production', 'HOME=/tmp', `TOOLEXEC_IDLE_TTL_MS=${spec.idleTtlMs}`],
    Labels: {
      ...labels,
      [SANDBOX_LABEL]: '1',
      [OWNER_PID_LABEL]: String(process.pid),
      [OWNER_HOST_LABEL]: os.hostname(),
      [EXPIRES_LABEL]: String(Date.now() + spec.idleTtlMs + spec.maxTimeoutMs + 60_000),
    },
    AttachStdin: true,
    AttachStdout: true,
    AttachStderr: true,
    OpenStdin: true,
    // The container's stdin closes when our attach connection half-closes, so the agent sees EOF.
    StdinOnce: true,
    Tty: false,
    NetworkDisabled: true,
    HostConfig: {
      NetworkMode: 'none',
      ReadonlyRootfs: true,
      Tmpfs: { '/tmp': `rw,noexec,nosuid,nodev,size=${spec.tmpfsMb}m,mode=1777` },
      Memory: memoryBytes,
      // Swap equal to memory means no swap: a memory bomb is killed instead of thrashing the disk.
      MemorySwap: memoryBytes,
      NanoCpus: Math.round(spec.cpus * 1e9),
      PidsLimit: spec.pidsLimit,
      CapDrop: ['ALL'],
      SecurityOpt: ['no-new-privileges'],
      Ulimits: [
        { Name: 'fsize', Soft: fsizeBytes, Hard: fsizeBytes },
        { Name: 'nofile', Soft: spec.nofile, Hard: spec.nofile },
        { Name: 'cpu', Soft: cpuSeconds, Hard: cpuSeconds },
      ],
      // An init process as PID 1, so that the agent's watchdog can kill the agent (PID 1 ignores
      // signals it has no handler for, SIGKILL included) and zombies are reaped.
      Init: true,
      // Guest output only travels over the attach stream; a log file would let a flood fill the disk.
      LogConfig: { Type: 'none', Config: {} },
      IpcMode: 'private',
      // Removal is explicit (after inspecting how the container ended); AutoRemove would race inspect.
      AutoRemove: false,
      ...(spec.runtime === 'runsc' ? { Runtime: 'runsc' } : {}),
    },
  };
}

/** One started container with its attach stream. */
export class SandboxContainer {
  /** Set once the container's output ended (the agent exited or the container died). */
  exited = false;
  /** Bytes of stdout received so far (frames' payloads). */
  wireBytes = 0;
  /** Maximum bytes of stdout accepted before a `violation`; the runtime sets it per job. */
  wireCap = 1024 * 1024;
  private stderrTail = '';
  private listener?: (event: ContainerEvent) => void;
  private backlog: ContainerEvent[] = [];
  private destroyed?: Promise<void>;
  private frame: Buffer = Buffer.alloc(0);
  private readonly decoder = new StringDecoder('utf8');
  private line = '';
  private stopped = false;

  private constructor(
    readonly container: Dockerode.Container,
    readonly spec: SandboxSpec,
    private readonly stream: Duplex,
  ) {
    stream.on('data', (chunk: Buffer) => this.onData(chunk));
    const end = () => this.onEnd();
    stream.on('end', end);
    stream.on('close', end);
    stream.on('error', end);
  }

  /**
   * Creates, attaches and starts a container. Attaching before starting means no output is
   * lost; on any failure the half-made container is removed before the error propagates.
   */
  static async create(docker: Dockerode, spec: SandboxSpec, labels: Record<string, string> = {}): Promise<SandboxContainer> {
    const container = await docker.createContainer(containerOptions(spec, labels));
    try {
      // docker-modem would write the options as a JSON request body, which the engine may hand
      // to the container as stdin once it hijacks the connection (apocas/dockerode#777):
      // `_body: {}` sends none. `stdin: false` only tells docker-modem to end the request so the
      // headers go out; the query (`_query`) still attaches stdin, and the hijacked socket is
      // full duplex. Any stray bytes that do reach stdin precede our first newline; the agent
      // skips them.
      const stream = (await container.attach({
        stream: true,
        stdin: false,
        stdout: true,
        stderr: true,
        hijack: true,
        _query: { stream: true, stdin: true, stdout: true, stderr: true },
        _body: {},
      } as Dockerode.ContainerAttachOptions)) as unknown as Duplex;
      const sandbox = new SandboxContainer(container, spec, stream);
      try {
        await container.start();
      } catch (err) {
        stream.destroy();
        throw err;
      }
      return sandbox;
    } catch (err) {
      await container.remove({ force: true }).catch(() => undefined);
      throw err;
    }
  }

  get id(): string {
    return this.container.id;
  }

  /** The last few KB the container wrote to stderr (node's fatal errors land here). */
  get stderr(): string {
    return this.stderrTail;
  }

  /** Routes events to `listener`, first replaying what arrived while nobody listened. */
  listen(listener: (event: ContainerEvent) => void): void {
    this.listener = listener;
    const backlog = this.backlog;
    this.backlog = [];
    for (const event of backlog) listener(event);
  }

  /** Writes one line to the agent's stdin. */
  writeLine(line: string): void {
    if (this.exited || this.stream.destroyed || this.stream.writableEnded) return;
    this.stream.write(line + '\n');
  }

  /** How the container ended (or that it still runs). */
  async inspectExit(): Promise<SandboxExit> {
    try {
      // The output stream ends when the agent's stdout closes, a moment before the engine
      // records the exit (and OOMKilled); waiting for the stop makes the state final.
      await Promise.race([this.container.wait({ condition: 'not-running' }), new Promise((r) => setTimeout(r, 5_000).unref())]).catch(() => undefined);
      const info = await this.container.inspect();
      return {
        running: info.State.Running,
        exitCode: info.State.ExitCode,
        oomKilled: info.State.OOMKilled === true,
        ...(info.State.Error ? { error: info.State.Error } : {}),
      };
    } catch (err) {
      return { running: false, oomKilled: false, error: (err as Error).message };
    }
  }

  /** Kills and removes the container; idempotent, never rejects (failures go to `onError`). */
  destroy(onError?: (err: Error) => void): Promise<void> {
    if (!this.destroyed) {
      this.stopped = true;
      this.stream.destroy();
      this.destroyed = this.container.remove({ force: true }).then(
        () => undefined,
        (err: Error & { statusCode?: number }) => {
          // 404: already gone; 409: removal already in progress (the engine finishes it).
          if (err.statusCode === 404 || err.statusCode === 409) return;
          onError?.(err);
        },
      );
    }
    return this.destroyed;
  }

  private emit(event: ContainerEvent): void {
    if (this.listener) this.listener(event);
    else this.backlog.push(event);
  }

  private onEnd(): void {
    if (this.exited) return;
    this.exited = true;
    if (!this.stopped) this.emit({ kind: 'exit' });
  }

  // The attach stream of a non-TTY container is multiplexed: 8-byte headers
  // [stream, 0, 0, 0, size (uint32 BE)] followed by `size` bytes of stdout (1) or stderr (2).
  private onData(chunk: Buffer): void {
    if (this.stopped) return;
    this.frame = this.frame.length ? Buffer.concat([this.frame, chunk]) : chunk;
    while (this.frame.length >= 8) {
      const type = this.frame[0];
      const size = this.frame.readUInt32BE(4);
      if (this.frame.length < 8 + size) break;
      const payload = this.frame.subarray(8, 8 + size);
      this.frame = this.frame.subarray(8 + size);
      if (type === 2) this.onStderr(payload);
      else this.onStdout(payload);
      if (this.stopped) return;
    }
  }

  private onStderr(payload: Buffer): void {
    const text = this.stderrTail + payload.toString('utf8');
    this.stderrTail = text.length > STDERR_TAIL_BYTES ? text.slice(-STDERR_TAIL_BYTES) : text;
  }

  private onStdout(payload: Buffer): void {
    this.wireBytes += payload.length;
    if (this.wireBytes > this.wireCap) {
      this.stopped = true;
      this.emit({ kind: 'violation', reason: `output exceeded ${this.wireCap} bytes` });
      return;
    }
    let text = this.line + this.decoder.write(payload);
    let nl: number;
    while ((nl = text.indexOf('\n')) !== -1) {
      const line = text.slice(0, nl);
      text = text.slice(nl + 1);
      this.onLine(line);
      if (this.stopped) return;
    }
    this.line = text;
  }

  private onLine(line: string): void {
    if (!line) return;
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch {
      value = undefined;
    }
    if (value && typeof value === 'object' && !Array.isArray(value) && typeof (value as { t?: unknown }).t === 'string') {
      this.emit({ kind: 'line', line: value as { t: string } });
    } else {
      this.stopped = true;
      this.emit({ kind: 'violation', reason: `the sandbox wrote a line outside the protocol: ${line.slice(0, 120)}` });
    }
  }
}
