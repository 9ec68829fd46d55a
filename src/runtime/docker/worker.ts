/**
 * The host end of one sandbox container (`runtimes/docker/agent.js` inside): create, attach and
 * start it, hand the agent the prelude, carry protocol lines, classify how it ended from what the
 * engine says (never from what the guest says), and remove it. Single use: the supervisor stops it
 * after its one job.
 */
import type Dockerode from 'dockerode';
import type { HostToSandbox, RuntimeFailure, SandboxToHost, SandboxWorker, WorkerEvents } from '../types.js';
import { SandboxContainer, type ContainerEvent, type SandboxSpec } from './container.js';
import { loadServicesBundle } from '../guest.js';

/** What a worker needs from its runtime. */
export interface DockerWorkerContext {
  docker(): Promise<Dockerode>;
  readonly labels: Record<string, string>;
  readonly prelude: string;
  /** Reports a problem no job sees (a container that could not be removed). */
  report(phase: 'cleanup' | 'refill', message: string, cause?: unknown): void;
  /** The error a failed container start is reported with. */
  startError(message: string, cause: unknown): Error;
}

/** V8's fatal heap report on stderr. */
const HEAP_OOM = /heap out of memory|Reached heap limit|allocation failed/i;

export class DockerWorker implements SandboxWorker {
  private container: SandboxContainer | undefined;
  private stopping: Promise<void> | undefined;
  private exitReported = false;
  private running = false;
  private resolveReady: (() => void) | undefined;
  private rejectReady: ((e: Error) => void) | undefined;
  private classified: Promise<RuntimeFailure> | undefined;
  /** The container being created; stop() waits for it, so nothing is left behind by a stop during start-up. */
  private creating: Promise<SandboxContainer> | undefined;
  /** Output (log and done messages) the host received for the job, and the loose cap every far side applies. */
  private outputBytes = 0;
  private outputCap = Infinity;
  private maxOutputBytes = 0;

  constructor(
    private readonly ctx: DockerWorkerContext,
    readonly spec: SandboxSpec,
    private readonly events: WorkerEvents,
  ) {}

  async start(): Promise<void> {
    const docker = await this.ctx.docker();
    if (this.stopping) throw new Error('the sandbox was stopped while it started');
    this.creating = SandboxContainer.create(docker, this.spec, this.ctx.labels);
    let container: SandboxContainer;
    try {
      container = await this.creating;
    } catch (err) {
      throw this.ctx.startError(`could not start a sandbox container from ${this.spec.image}: ${(err as Error)?.message ?? String(err)}`, err);
    }
    this.container = container;
    // stop() removes it: it waited for the creation.
    if (this.stopping) throw new Error('the sandbox was stopped while it started');
    const ready = new Promise<void>((resolve, reject) => {
      this.resolveReady = resolve;
      this.rejectReady = reject;
    });
    container.listen((event) => this.onEvent(event));
    // The leading newline separates the first line from anything stray the attach may have left on stdin.
    container.writeLine('\n' + JSON.stringify({ t: 'init', prelude: this.ctx.prelude, ...loadServicesBundle() }));
    await ready;
  }

  send(message: HostToSandbox): void {
    const c = this.container;
    if (!c) return;
    if (message.t === 'job') {
      this.running = true;
      const max = message.job.limits.maxOutputBytes;
      // The executor counts payload bytes exactly; this cap counts whole encoded lines and only
      // guards host memory against a flood that bypasses the agent's own cap.
      c.wireCap = Number.isFinite(max) && max > 0 ? Math.max(max * 4, max + 1024 * 1024) : 64 * 1024 * 1024;
      this.maxOutputBytes = max;
      this.outputCap = Number.isFinite(max) && max > 0 ? max * 2 + 65536 : Infinity;
    }
    c.writeLine(JSON.stringify(message));
  }

  stop(): Promise<void> {
    this.stopping ??= (async () => {
      const c = this.container ?? (await this.creating?.catch(() => undefined));
      if (c) await c.destroy((err) => this.ctx.report('cleanup', `could not remove container ${c.id.slice(0, 12)}: ${err.message}`, err));
      this.reportExit({ code: 'SANDBOX_CRASHED', message: 'The sandbox container was removed' });
    })();
    return this.stopping;
  }

  /** The container's id (diagnostics and leak checks), once created. */
  get id(): string | undefined {
    return this.container?.id;
  }

  private onEvent(event: ContainerEvent): void {
    if (this.stopping) return;
    if (event.kind === 'line') {
      const line = event.line;
      if (line.t === 'ready') {
        this.resolveReady?.();
        this.resolveReady = undefined;
      } else if ((line.t === 'out' || line.t === 'end') && this.running) {
        if (line.t === 'end') this.running = false;
        this.events.message(line as unknown as SandboxToHost);
        if (line.t === 'out' && Array.isArray(line.m)) this.countOutput(line.m);
      }
      return;
    }
    if (event.kind === 'violation') {
      const failure: RuntimeFailure = /exceeded/.test(event.reason)
        ? { code: 'OUTPUT_LIMIT', message: `The sandbox ${event.reason}` }
        : { code: 'SANDBOX_CRASHED', message: event.reason };
      if (this.running) this.events.fault(failure);
      else void this.stop();
      return;
    }
    // The agent exited or the container died by itself.
    void this.classifyExit().then((failure) => {
      if (this.rejectReady && this.resolveReady) {
        this.rejectReady(new Error(`the sandbox container exited before its agent was ready: ${failure.message}`));
        this.resolveReady = undefined;
      }
      this.stopping ??= (async () => {
        await this.container?.destroy((err) => this.ctx.report('cleanup', `could not remove container: ${err.message}`, err));
        this.reportExit(failure);
      })();
    });
  }

  /**
   * The same loose output cap as every far side, counted here from what arrived: the agent's
   * own word on it is not believed.
   */
  private countOutput(messages: unknown[]): void {
    for (const m of messages) {
      if (typeof m !== 'string' || !(m.startsWith('{"op":"log"') || m.startsWith('{"op":"done"'))) continue;
      this.outputBytes += m.length;
    }
    if (this.outputBytes > this.outputCap && this.running) {
      this.running = false;
      this.events.fault({ code: 'OUTPUT_LIMIT', message: `The script's output (logs and result) exceeded maxOutputBytes (${this.maxOutputBytes} bytes)` });
    }
  }

  /**
   * How the container ended, from the engine: the OOM killer's flag is the engine's own word. The
   * guest owns the process inside, so what it prints is weak evidence: a V8
   * heap report only counts together with the abort V8 ends with.
   */
  private classifyExit(): Promise<RuntimeFailure> {
    this.classified ??= (async () => {
      const c = this.container!;
      const exit = await c.inspectExit();
      const stderr = c.stderr.trim();
      const v8Abort = HEAP_OOM.test(stderr) && (exit.exitCode === 134 || exit.exitCode === 133);
      // gVisor ends a sandbox over its memory either with SIGKILL (137, flagged or not) or, about
      // one time in three here, with exit code 2, unflagged and silent (measured: a buffer bomb
      // with the sandbox's own options, runsc; `docker kill`, a SIGKILL from inside and an abort
      // give 137, 137 and 134 there, and neither node nor the agent exits with 2). Under runc the
      // flag is reliable, and a bare SIGKILL is someone else's (an operator's `docker kill`).
      const gvisorOom = this.spec.runtime === 'runsc' && (exit.exitCode === 137 || (exit.exitCode === 2 && stderr === ''));
      if (exit.oomKilled || v8Abort || gvisorOom) {
        return {
          code: 'MEMORY_LIMIT' as const,
          message: `The script exceeded its memory limit of ${this.spec.heapMb} MB (${exit.oomKilled ? 'the container was killed by the OOM killer' : v8Abort ? 'the guest heap is exhausted' : 'gVisor ended the sandbox at its memory limit'})`,
        };
      }
      const tail = stderr ? `: ${stderr.slice(-500)}` : '';
      return {
        code: 'SANDBOX_CRASHED' as const,
        message: `The sandbox exited${exit.exitCode !== undefined ? ` with code ${exit.exitCode}` : ''} before the script finished${exit.error ? ` (${exit.error})` : ''}${tail}`,
      };
    })();
    return this.classified;
  }

  private reportExit(failure: RuntimeFailure): void {
    if (this.exitReported) return;
    this.exitReported = true;
    this.rejectReady?.(new Error(failure.message));
    this.events.exit(failure);
  }
}
