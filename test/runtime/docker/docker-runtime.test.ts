// The Docker runtime against the real engine: hardening, limits, the warm pool, clean-up and
// gVisor. Without an engine these tests skip with a printed reason, unless
// TOOLEXEC_REQUIRE_DOCKER=1 (CI), where the first test fails instead.
import os from 'node:os';
import { spawn } from 'node:child_process';
import Docker from 'dockerode';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DockerRuntime, DockerRuntimeError, EXPIRES_LABEL, OWNER_HOST_LABEL, OWNER_PID_LABEL, SANDBOX_LABEL, containerOptions, DEFAULT_IMAGE } from '../../../src/runtime/docker/index.js';
import { Executor } from '../../../src/code/executor.js';
import { makeRunner } from '../../code/conformance.js';
import { ESCAPE, REQUIRE_DOCKER, SEED_SCRIPT, hostRun, issueTools, ourContainers, probeDocker } from './helpers.js';

const probe = await probeDocker();
if (probe.available && !probe.runsc) console.warn('[docker tests] the gVisor case is skipped: runsc is not registered with Docker (run .ci/docker-setup.sh)');
if (!probe.available) {
  console.warn(`[docker tests] skipped: ${probe.reason}${REQUIRE_DOCKER ? ' (TOOLEXEC_REQUIRE_DOCKER=1: failing)' : ''}`);
}

describe('Docker engine', () => {
  it.runIf(REQUIRE_DOCKER)('is reachable and has the sandbox image (TOOLEXEC_REQUIRE_DOCKER=1)', () => {
    expect(probe.reason ?? 'available').toBe('available');
  });

  it('a runtime without an engine fails with RUNTIME_UNAVAILABLE and says how to start Docker', async () => {
    const errors: DockerRuntimeError[] = [];
    const runtime = new DockerRuntime({ docker: { socketPath: '/nonexistent/docker.sock' }, minIdle: 1, onError: (e) => errors.push(e) });
    const run = await hostRun(runtime, 'return 1');
    expect(run.outcome.failure?.code).toBe('RUNTIME_UNAVAILABLE');
    expect(run.outcome.failure?.message).toMatch(/Docker is not reachable at \/nonexistent\/docker\.sock/);
    expect(run.outcome.failure?.message).toMatch(/dockerd|systemctl start docker/);
    await expect(runtime.warm()).rejects.toMatchObject({ code: 'RUNTIME_UNAVAILABLE', phase: 'startup' });
    await runtime.dispose();
    expect(() => runtime.start({ code: '', filename: 'x.js', limits: { timeoutMs: 1, memoryMb: 1, maxOutputBytes: 1 } }, () => {})).toThrow(/disposed/);
  });

  it('rejects bad options with a message naming the option', () => {
    expect(() => new DockerRuntime({ memoryMb: -1 })).toThrow(/memoryMb must be a positive integer/);
    expect(() => new DockerRuntime({ runtime: 'kata' as 'runc' })).toThrow(/runtime must be 'runc' or 'runsc'/);
    expect(() => new DockerRuntime({ minIdle: 4, maxWorkers: 2 })).toThrow(/minIdle \(4\) is larger than maxWorkers \(2\)/);
    expect(() => new DockerRuntime({ pool: { size: 2 } } as never)).toThrow(/"pool" is now minIdle and maxWorkers/);
    expect(() => new DockerRuntime({ maxJobsPerWorker: 5 })).toThrow(/single use/);
  });

  it('puts every hardening option on the container', () => {
    const before = Date.now();
    const o = containerOptions({ image: 'img', heapMb: 64, cpus: 0.5, pidsLimit: 32, runtime: 'runsc', tmpfsMb: 8, fsizeMb: 4, nofile: 128, idleTtlMs: 60_000, maxTimeoutMs: 120_000 });
    expect(o.User).toBe('65534:65534');
    expect(o.NetworkDisabled).toBe(true);
    expect(o.HostConfig).toMatchObject({
      NetworkMode: 'none',
      ReadonlyRootfs: true,
      Memory: (64 + 64) * 1024 * 1024,
      MemorySwap: (64 + 64) * 1024 * 1024,
      NanoCpus: 5e8,
      PidsLimit: 32,
      CapDrop: ['ALL'],
      SecurityOpt: ['no-new-privileges'],
      Runtime: 'runsc',
      Tmpfs: { '/tmp': expect.stringMatching(/size=8m/) },
      // An init process, so the agent's own watchdog can end it at its deadline.
      Init: true,
    });
    expect(o.HostConfig?.Ulimits).toEqual([
      { Name: 'fsize', Soft: 4 * 1024 * 1024, Hard: 4 * 1024 * 1024 },
      { Name: 'nofile', Soft: 128, Hard: 128 },
      // CPU time for its longest job at its quota, plus node's start-up: the kernel's bound on a
      // guest that outlives its host and kills the watchdog.
      { Name: 'cpu', Soft: 120 + 30, Hard: 120 + 30 },
    ]);
    expect(o.Labels).toMatchObject({ [SANDBOX_LABEL]: '1', [OWNER_PID_LABEL]: String(process.pid) });
    // Any host may remove it once its idle time and longest job are over.
    const expires = Number(o.Labels?.[EXPIRES_LABEL]);
    expect(expires).toBeGreaterThanOrEqual(before + 60_000 + 120_000);
    expect(expires).toBeLessThan(Date.now() + 60_000 + 120_000 + 120_000);
  });
});

describe.skipIf(!probe.available)('DockerRuntime on the real engine', () => {
  let pooled: DockerRuntime;
  let cold: DockerRuntime;
  const poolErrors: DockerRuntimeError[] = [];

  beforeAll(async () => {
    pooled = new DockerRuntime({ minIdle: 2, onError: (e) => poolErrors.push(e) });
    cold = new DockerRuntime({ minIdle: 0, pidsLimit: 32 });
    await pooled.warm();
  });

  afterAll(async () => {
    await pooled?.dispose();
    await cold?.dispose();
  });

  it('runs the seed journey: create an issue, check its title, label it, return it', async () => {
    const run = await hostRun(pooled, SEED_SCRIPT, { tools: issueTools() });
    expect(run.outcome.failure).toBeUndefined();
    expect(run.ok).toBe(true);
    expect(run.value).toEqual({ number: 1, title: 'Crash when saving', body: 'Found a bug: saving crashes', labels: ['bug', 'triage'] });
    expect(run.calls.map((c) => c.toolId)).toEqual(['github:create_issue', 'github:get_issue', 'github:add_labels']);
    expect(run.logs).toEqual([{ level: 'log', message: 'issue 1 labels bug,triage' }]);
    expect(run.outcome.enforced).toEqual({ timeoutMs: true, memoryMb: true, cpuMs: false });
    expect(run.outcome.stats.cpuMs).toBeGreaterThan(0);
  });

  it('tool failures reach the script as catchable errors with their code', async () => {
    const run = await hostRun(pooled, `try { await run('github:get_issue', { number: 99 }); } catch (e) { return [e.code, e.message]; }`, { tools: issueTools() });
    expect(run.value).toEqual(['EXECUTION', 'no issue 99']);
  });

  it('reports a syntax error at its line in the program (the executor maps it to the user script)', async () => {
    const run = await hostRun(pooled, 'const a = 1;\nconst = 2;');
    expect(run.outcome.failure).toMatchObject({ code: 'SYNTAX_ERROR', line: 3 });
  });

  it('an escaped guest finds no network, a read-only root, no privileges and a bounded /tmp', async () => {
    const run = await hostRun(
      pooled,
      `${ESCAPE}
      const fs = req('fs');
      const net = await new Promise((res) => { const s = req('net').connect(80, '1.1.1.1'); s.on('error', (e) => res(e.code)); s.on('connect', () => res('connected')); });
      const dns = await new Promise((res) => req('dns').lookup('example.com', (e) => res(e ? e.code : 'resolved')));
      let rootWrite; try { fs.writeFileSync('/evil', 'x'); rootWrite = 'written'; } catch (e) { rootWrite = e.code; }
      let binWrite; try { fs.writeFileSync('/usr/bin/node', 'x'); binWrite = 'written'; } catch (e) { binWrite = e.code; }
      fs.writeFileSync('/tmp/ok', 'fine');
      const status = fs.readFileSync('/proc/self/status', 'utf8');
      const capEff = /CapEff:\\s*(\\w+)/.exec(status)[1];
      const noNewPrivs = /NoNewPrivs:\\s*(\\d)/.exec(status)[1];
      const ifaces = Object.keys(req('os').networkInterfaces());
      return { net, dns, rootWrite, binWrite, tmp: fs.readFileSync('/tmp/ok', 'utf8'), uid: proc.getuid(), gid: proc.getgid(), capEff, noNewPrivs, ifaces };`,
    );
    expect(run.outcome.failure).toBeUndefined();
    expect(run.value).toMatchObject({ rootWrite: 'EROFS', binWrite: 'EROFS', tmp: 'fine', uid: 65534, gid: 65534, capEff: '0000000000000000', noNewPrivs: '1' });
    const v = run.value as { net: string; dns: string; ifaces: string[] };
    expect(['ENETUNREACH', 'EHOSTUNREACH']).toContain(v.net);
    expect(['EAI_AGAIN', 'ENOTFOUND']).toContain(v.dns);
    expect(v.ifaces.filter((i) => i !== 'lo')).toEqual([]);
  });

  it('never reuses a container: each execution sees a fresh one', async () => {
    const body = `${ESCAPE} const fs = req('fs'); const seen = fs.existsSync('/tmp/marker'); fs.writeFileSync('/tmp/marker', '1'); return { host: req('os').hostname(), seen };`;
    const a = await hostRun(pooled, body);
    const b = await hostRun(pooled, body);
    expect(a.value).toMatchObject({ seen: false });
    expect(b.value).toMatchObject({ seen: false });
    expect((a.value as { host: string }).host).not.toBe((b.value as { host: string }).host);
    // The container's host name is its short id: once removals settle, neither exists.
    await pooled.drain();
    const docker = new Docker();
    for (const run of [a, b]) {
      await expect(docker.getContainer((run.value as { host: string }).host).inspect()).rejects.toMatchObject({ statusCode: 404 });
    }
  });

  it('holds a fork bomb at the PID limit; the host is fine and the container is gone', async () => {
    const run = await hostRun(
      cold,
      `${ESCAPE}
      const cp = req('child_process');
      const errors = new Set(); let spawned = 0;
      const kids = [];
      for (let i = 0; i < 200; i++) {
        try {
          const k = cp.spawn(proc.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' });
          k.on('error', (e) => errors.add(e.code));
          kids.push(k); spawned++;
        } catch (e) { errors.add(e.code); }
      }
      await new Promise((r) => req('timers').setTimeout(r, 200));
      return { spawned, errors: [...errors] };`,
      { limits: { timeoutMs: 15_000, memoryMb: 256 } },
    );
    // Either the guest saw its spawns refused (EAGAIN), or the bomb took the agent down with it;
    // in both cases the limit held and the host is untouched.
    if (run.ok) {
      const v = run.value as { errors: string[] };
      expect(v.errors).toContain('EAGAIN');
    } else {
      expect(['SANDBOX_CRASHED', 'MEMORY_LIMIT', 'TIMEOUT']).toContain(run.outcome.failure?.code ?? run.error?.code);
    }
    await cold.drain();
    expect(await ourContainers(cold.id)).toEqual([]);
    const next = await hostRun(cold, 'return 6 * 7');
    expect(next.value).toBe(42);
  });

  it('ends a heap bomb with MEMORY_LIMIT', async () => {
    const run = await hostRun(cold, 'const keep = []; for (;;) keep.push(new Array(1e5).fill({ a: 1 }));', { limits: { memoryMb: 64, timeoutMs: 30_000 } });
    expect(run.outcome.failure?.code).toBe('MEMORY_LIMIT');
    expect(run.outcome.failure?.message).toMatch(/memory limit of 64 MB/);
  });

  it('ends an off-heap memory bomb (OOM killer) with MEMORY_LIMIT', async () => {
    const run = await hostRun(cold, `${ESCAPE} const B = req('buffer').Buffer; const keep = []; for (;;) keep.push(B.alloc(8 << 20, 1));`, {
      limits: { memoryMb: 64, timeoutMs: 30_000 },
    });
    expect(run.outcome.failure?.code).toBe('MEMORY_LIMIT');
  });

  it('ends a busy loop with TIMEOUT and removes its container', async () => {
    const run = await hostRun(cold, 'for (;;) {}', { limits: { timeoutMs: 1500 } });
    expect(run.outcome.failure).toMatchObject({ code: 'TIMEOUT', message: expect.stringMatching(/1500 ms/) });
    expect(await ourContainers(cold.id)).toEqual([]);
  });

  it('cancels on the abort signal', async () => {
    const controller = new AbortController();
    setTimeout(() => controller.abort(new Error('user pressed stop')), 300);
    const run = await hostRun(cold, 'await new Promise(() => {});', { signal: controller.signal });
    expect(run.outcome.failure).toMatchObject({ code: 'CANCELLED', message: expect.stringMatching(/user pressed stop/) });
  });

  it('cuts a console flood at the output limit (agent side)', async () => {
    const maxOutputBytes = 50_000;
    const run = await hostRun(pooled, "for (;;) console.log('x'.repeat(1000));", { limits: { maxOutputBytes } });
    expect(run.outcome.failure?.code).toBe('OUTPUT_LIMIT');
    // The runtime's cut is loose on purpose (the executor cuts exactly), but bounded.
    expect(run.receivedBytes).toBeLessThan(maxOutputBytes + 1024 * 1024 + 10_000);
  });

  it('cuts a raw stdout flood that bypasses the agent (host side)', async () => {
    const maxOutputBytes = 50_000;
    // Well-formed protocol lines (for a job id nobody runs), so only the host's wire cap stops them.
    const run = await hostRun(pooled, `${ESCAPE} const line = JSON.stringify({ t: 'out', id: 0, m: ['y'.repeat(4000)] }) + '\\n'; const fs = req('fs'); for (;;) { try { fs.writeSync(1, line); } catch {} }`, {
      limits: { maxOutputBytes },
    });
    expect(run.outcome.failure?.code).toBe('OUTPUT_LIMIT');
    expect(run.receivedBytes).toBeLessThan(maxOutputBytes + 1024 * 1024 + 10_000);
  });

  it('refuses a file over the fsize limit (EFBIG) while smaller files fit in /tmp', async () => {
    const run = await hostRun(
      pooled,
      `${ESCAPE} const fs = req('fs'); const B = req('buffer').Buffer;
      fs.writeFileSync('/tmp/small', B.alloc(1 << 20, 1));
      try { fs.writeFileSync('/tmp/big', B.alloc(12 << 20, 1)); return 'wrote'; } catch (e) { return [e.code, fs.statSync('/tmp/big').size]; }`,
    );
    expect(run.value).toEqual(['EFBIG', 8 * 1024 * 1024]);
  });

  it('treats output outside the protocol as a crash', async () => {
    const run = await hostRun(pooled, `${ESCAPE} req('fs').writeSync(1, 'not json\\n'); await new Promise(() => {});`);
    expect(run.outcome.failure).toMatchObject({ code: 'SANDBOX_CRASHED', message: expect.stringMatching(/outside the protocol/) });
  });

  it('reports a sandbox that dies mid-run as SANDBOX_CRASHED', async () => {
    const run = await hostRun(pooled, `${ESCAPE} proc.exit(3);`);
    expect(run.outcome.failure).toMatchObject({ code: 'SANDBOX_CRASHED', message: expect.stringMatching(/exited with code 3/) });
  });

  it('keeps the warm pool full and reports no errors', async () => {
    await pooled.warm();
    expect(pooled.stats().idle).toBe(2);
    expect(poolErrors).toEqual([]);
  });

  it('never has more containers alive than pool.maxSize; a waiting job gets the next free slot', async () => {
    const runtime = new DockerRuntime({ minIdle: 1, maxWorkers: 2 });
    try {
      await runtime.warm();
      const hang = () => new AbortController();
      const controllers = [hang(), hang(), hang()];
      const runs = controllers.map((c, i) => hostRun(runtime, i < 2 ? 'await new Promise(() => {});' : 'return "third"', { signal: c.signal }));
      // Two hanging jobs hold both slots; the third waits for one.
      while (runtime.stats().alive < 2 || runtime.stats().busy + runtime.stats().queued < 3) await new Promise((r) => setTimeout(r, 20));
      expect((await ourContainers(runtime.id)).length).toBeLessThanOrEqual(2);
      controllers[0]!.abort();
      const third = await runs[2];
      expect(third.value).toBe('third');
      controllers[1]!.abort();
      expect((await runs[0]).outcome.failure?.code).toBe('CANCELLED');
      expect((await runs[1]).outcome.failure?.code).toBe('CANCELLED');
    } finally {
      await runtime.dispose();
    }
    expect(await ourContainers(runtime.id)).toEqual([]);
  });

  it('reports pool errors and surfaces them to the next start()', async () => {
    const errors: DockerRuntimeError[] = [];
    // The engine refuses a CPU quota larger than the machine at create time.
    const broken = new DockerRuntime({ cpus: os.cpus().length + 64, minIdle: 1, onError: (e) => errors.push(e) });
    try {
      await expect(broken.warm()).rejects.toMatchObject({ code: 'RUNTIME_UNAVAILABLE', phase: 'refill' });
      expect(errors[0]?.phase).toBe('refill');
      const run = await hostRun(broken, 'return 1');
      expect(run.outcome.failure?.code).toBe('RUNTIME_UNAVAILABLE');
      expect(run.outcome.failure?.message).toMatch(/could not start a sandbox container.*CPU/i);
    } finally {
      await broken.dispose();
    }
    expect(await ourContainers(broken.id)).toEqual([]);
  });

  it('a single execution without warm() starts no pool containers; a second one fills the pool', async () => {
    const runtime = new DockerRuntime({ minIdle: 1 });
    try {
      expect((await hostRun(runtime, 'return 1')).value).toBe(1);
      await runtime.drain();
      expect(runtime.stats()).toMatchObject({ idle: 0, starting: 0 });
      expect(await ourContainers(runtime.id)).toEqual([]);
      expect((await hostRun(runtime, 'return 2')).value).toBe(2);
      const deadline = Date.now() + 20_000;
      while (runtime.stats().idle < 1 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      expect(runtime.stats().idle).toBe(1);
    } finally {
      await runtime.dispose();
    }
  });

  it('fails clearly when the image is missing', async () => {
    const runtime = new DockerRuntime({ image: 'toolexec-sandbox:does-not-exist', minIdle: 0 });
    const run = await hostRun(runtime, 'return 1');
    await runtime.dispose();
    expect(run.outcome.failure).toMatchObject({ code: 'RUNTIME_UNAVAILABLE', message: expect.stringMatching(/npm run sandbox:build/) });
  });

  it('removes stale containers left by a dead owner at start-up', async () => {
    const docker = new Docker();
    // A pid that cannot be alive (above the kernel's pid_max ceiling).
    const stale = await docker.createContainer({
      ...containerOptions({ image: DEFAULT_IMAGE, heapMb: 32, cpus: 1, pidsLimit: 16, runtime: 'runc', tmpfsMb: 1, fsizeMb: 1, nofile: 64, idleTtlMs: 1000, maxTimeoutMs: 1000 }),
      Labels: { [SANDBOX_LABEL]: '1', [OWNER_PID_LABEL]: '4194999', [OWNER_HOST_LABEL]: os.hostname() },
    });
    // Another host's container past its expiry is removed too; one still in its time is kept.
    const expired = await docker.createContainer({
      ...containerOptions({ image: DEFAULT_IMAGE, heapMb: 32, cpus: 1, pidsLimit: 16, runtime: 'runc', tmpfsMb: 1, fsizeMb: 1, nofile: 64, idleTtlMs: 1000, maxTimeoutMs: 1000 }),
      Labels: { [SANDBOX_LABEL]: '1', [OWNER_PID_LABEL]: '1', [OWNER_HOST_LABEL]: 'another-host', [EXPIRES_LABEL]: String(Date.now() - 1000) },
    });
    const current = await docker.createContainer({
      ...containerOptions({ image: DEFAULT_IMAGE, heapMb: 32, cpus: 1, pidsLimit: 16, runtime: 'runc', tmpfsMb: 1, fsizeMb: 1, nofile: 64, idleTtlMs: 1000, maxTimeoutMs: 1000 }),
      Labels: { [SANDBOX_LABEL]: '1', [OWNER_PID_LABEL]: '1', [OWNER_HOST_LABEL]: 'another-host', [EXPIRES_LABEL]: String(Date.now() + 3_600_000) },
    });
    try {
      const runtime = new DockerRuntime({ minIdle: 0 });
      await runtime.connect();
      await runtime.dispose();
      await expect(stale.inspect()).rejects.toMatchObject({ statusCode: 404 });
      await expect(expired.inspect()).rejects.toMatchObject({ statusCode: 404 });
      expect((await current.inspect()).Id).toBe(current.id);
    } finally {
      await current.remove({ force: true }).catch(() => undefined);
    }
  });

  it.each(['runc', ...(probe.runsc ? ['runsc'] : [])])('a container whose host dies mid-execution ends by itself at its deadline (%s), and the next start-up removes it', async (oci) => {
    // A real host process, killed with SIGKILL while its guest spins in a loop that never lets the
    // agent see its stdin close.
    const dist = new URL('../../../dist/runtime/docker/index.js', import.meta.url).href;
    const child = spawn(process.execPath, ['--input-type=module', '-e', `
      import { DockerRuntime } from ${JSON.stringify(dist)};
      const rt = new DockerRuntime({ minIdle: 0, runtime: ${JSON.stringify(oci)} });
      const s = rt.start({ code: '__toolexec_start(async function () {\\nfor (;;) {}\\n});', filename: 's.js', limits: { timeoutMs: 1500, memoryMb: 64, maxOutputBytes: 1e6 }, queueTimeoutMs: 60000 }, () => {});
      s.done.then((o) => console.error('ended before the kill: ' + JSON.stringify(o)));
      const t = setInterval(() => { const w = rt.workers()[0]; if (w && w.id && rt.stats().busy === 1) { console.log(w.id); clearInterval(t); } }, 20);
      setInterval(() => console.error(JSON.stringify(rt.stats())), 2000);
    `], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    const id = await new Promise<string>((resolve, reject) => {
      let out = '';
      const timer = setTimeout(() => reject(new Error(`the host process never ran the job: ${stderr}`)), 30_000);
      child.stdout!.on('data', (d: Buffer) => {
        out += d.toString();
        if (out.includes('\n')) {
          clearTimeout(timer);
          resolve(out.trim());
        }
      });
      child.once('exit', (code) => reject(new Error(`the host process exited early (${code}): ${stderr}`)));
    });
    child.kill('SIGKILL');
    const docker = new Docker();
    const container = docker.getContainer(id);
    // Deadline 1.5 s plus the watchdog's 1 s grace; the rest is slack for a loaded machine.
    const until = Date.now() + 30_000;
    let running = true;
    while (running && Date.now() < until) {
      // 404: another toolexec process's start-up sweep (any on this host) removed it already.
      running = await container.inspect().then(
        (i) => i.State.Running,
        (err: { statusCode?: number }) => (err.statusCode === 404 ? false : Promise.reject(err)),
      );
      if (running) await new Promise((r) => setTimeout(r, 200));
    }
    expect(running).toBe(false);
    const runtime = new DockerRuntime({ minIdle: 0 });
    await runtime.connect();
    await runtime.dispose();
    // Another test process's runtime may have started the same removal first (every start-up
    // sweeps): the engine then answers 409 and the container is "removing" for a moment.
    const gone = Date.now() + 30_000;
    let status: string | undefined = 'present';
    while (status !== undefined && Date.now() < gone) {
      status = await container.inspect().then((i) => i.State.Status, (err: { statusCode?: number }) => (err.statusCode === 404 ? undefined : 'error'));
      if (status === 'removing') await new Promise((r) => setTimeout(r, 100));
      else break;
    }
    expect(status).toBeUndefined();
  }, 60_000);

  it.runIf(probe.runsc)('runs the seed journey through the Executor under gVisor (runsc), still without network', async () => {
    const runtime = new DockerRuntime({ runtime: 'runsc', minIdle: 1 });
    const { runner } = makeRunner();
    const executor = new Executor({ runner, runtime });
    try {
      const r = await executor.execute(
        [
          'const issue = await tools.github.create_issue({ title: "Crash: login fails (bug)", body: "steps" });',
          'if (issue.title !== "Crash: login fails (bug)") throw new Error("title mismatch");',
          'const labelled = /bug/i.test(issue.title) ? await tools.github.add_labels({ number: issue.number, labels: ["bug", "triage"] }) : issue;',
          'labelled',
        ].join('\n'),
      );
      expect(r.error).toBeUndefined();
      expect(r.value).toMatchObject({ title: 'Crash: login fails (bug)', labels: ['bug', 'triage'] });
      expect(r.toolCalls.map((c) => c.toolId)).toEqual(['github:create_issue', 'github:add_labels']);
      expect(r.stats.runtime).toBe('docker');
      const probeRun = await hostRun(
        runtime,
        `${ESCAPE} const net = await new Promise((res) => { const s = req('net').connect(80, '1.1.1.1'); s.on('error', (e) => res(e.code)); s.on('connect', () => res('connected')); });
        return { net, kernel: req('os').release() };`,
      );
      expect(probeRun.value).toMatchObject({ net: expect.stringMatching(/^E/) });
      // gVisor's own kernel answers, not the host's.
      expect((probeRun.value as { kernel: string }).kernel).not.toBe(os.release());
      // The container's memory limit holds under gVisor too (off-heap, so V8's limit is not what stops it).
      const bomb = await hostRun(runtime, `${ESCAPE} const B = req('buffer').Buffer; const keep = []; for (;;) keep.push(B.alloc(8 << 20, 1));`, {
        limits: { memoryMb: 64, timeoutMs: 30_000 },
      });
      expect(bomb.outcome.failure?.code, bomb.outcome.failure?.message).toBe('MEMORY_LIMIT');
    } finally {
      await executor.dispose();
      await runtime.dispose();
    }
  });

  it('leaves no container of this process behind after dispose()', async () => {
    await pooled.dispose();
    await cold.dispose();
    expect(await ourContainers()).toEqual([]);
  });
});
