// The Docker runtime over several engines, against real engines: two extra dockerd processes in
// their own network namespaces, reached over TCP with mutual TLS (`.ci/docker-engines.sh`, which
// CI runs). Without the test bed these skip with the reason, unless TOOLEXEC_REQUIRE_DOCKER=1,
// where they fail. The option checks need no engine.
import os from 'node:os';
import { execFileSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_IMAGE, DockerRuntime, DockerRuntimeError, RUNTIME_ID_LABEL, resolveEngines } from '../../../src/runtime/docker/index.js';
import { checkConfig } from '../../../src/config/load-config.js';
import { createEngine } from '../../../src/engine/engine.js';
import { ESCAPE, REQUIRE_DOCKER, bedClient, bedEngine, hostRun, loadTestBed, type TestBed } from './helpers.js';

const { bed, reason } = await loadTestBed();
if (!bed) console.warn(`[docker engines tests] skipped: ${reason}${REQUIRE_DOCKER ? ' (TOOLEXEC_REQUIRE_DOCKER=1: failing)' : ''}`);

async function until(check: () => boolean | Promise<boolean>, what: string, ms = 60_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

function bedScript(b: TestBed, ...args: string[]): void {
  execFileSync('bash', [b.script, ...args], { stdio: ['ignore', 'ignore', 'pipe'], timeout: 120_000 });
}

describe('engines option checks', () => {
  it.runIf(REQUIRE_DOCKER)('the multi-engine test bed is up (TOOLEXEC_REQUIRE_DOCKER=1)', () => {
    expect(reason ?? 'available').toBe('available');
  });

  it('names the engine and the fix for a typo, a missing certificate, plain TCP, duplicates', () => {
    expect(() => new DockerRuntime({ engines: [{ name: 'a', hots: 'tcp://10.0.0.2:2376' } as never] })).toThrow(/engines\[0\] \("a"\): unknown key "hots" \(did you mean "host"\?\)/);
    expect(() => new DockerRuntime({ engines: [{ name: 'a', host: 'tcp://10.0.0.2:2376', tls: { ca: '/nope/ca.pem', cert: '/nope/cert.pem', key: '/nope/key.pem' } }] })).toThrow(
      /engines\[0\] \("a"\): tls\.ca file not found: \/nope\/ca\.pem/,
    );
    expect(() => new DockerRuntime({ engines: [{ name: 'plain', host: 'tcp://10.0.0.2:2375' }] })).toThrow(/engines\[0\] \("plain"\): a tcp:\/\/ engine needs tls .*"insecure": true/);
    expect(() => new DockerRuntime({ engines: [{ host: 'tcp://10.0.0.2:2376', tls: { ca: 'x', cert: 'y' } as never, insecure: false }] })).toThrow(/tls\.key is missing/);
    expect(() => new DockerRuntime({ engines: [{ socketPath: '/var/run/docker.sock' }, { name: '/var/run/docker.sock', socketPath: '/run/other.sock' }] })).toThrow(/engines\[1\] .*same name as engines\[0\]/);
    expect(() => new DockerRuntime({ engines: [{ name: 'w', socketPath: '/var/run/docker.sock', weight: 0 }] })).toThrow(/engines\[0\] \("w"\): weight must be a positive number/);
    expect(() => new DockerRuntime({ engines: [{ host: 'ssh://me@box' }] })).toThrow(/ssh:\/\/ engines are not supported/);
    expect(() => new DockerRuntime({ engines: [] })).toThrow(/engines is empty/);
    expect(() => new DockerRuntime({ engines: [{ socketPath: '/var/run/docker.sock' }], docker: { socketPath: '/var/run/docker.sock' } })).toThrow(/either engines .* or docker/);
    expect(() => resolveEngines({}, { DOCKER_HOST: 'tcp://10.0.0.2:2376', DOCKER_CERT_PATH: '/nope' })).toThrow(/DOCKER_CERT_PATH=\/nope has no ca\.pem, cert\.pem, key\.pem/);
  });

  it('takes plain TCP only with insecure: true, and warns that whoever reaches it is root there', async () => {
    const warnings: Error[] = [];
    const listener = (w: Error) => warnings.push(w);
    process.on('warning', listener);
    try {
      const runtime = new DockerRuntime({ engines: [{ name: 'lab', host: 'tcp://127.0.0.1:2375', insecure: true }], minIdle: 0 });
      await new Promise((r) => setImmediate(r));
      await runtime.dispose();
    } finally {
      process.off('warning', listener);
    }
    expect(warnings.map((w) => w.message).join('\n')).toMatch(/engine "lab" is plain TCP without TLS \(tcp:\/\/127\.0\.0\.1:2375\).*root on that host/);
  });

  it('an unreachable single engine fails with RUNTIME_UNAVAILABLE naming it, then fails fast while it is out of rotation', async () => {
    const errors: DockerRuntimeError[] = [];
    // 127.0.0.1 with nothing listening: refused at once.
    const runtime = new DockerRuntime({ engines: [{ name: 'nobody', host: 'tcp://127.0.0.1:9', insecure: true }], minIdle: 0, onError: (e) => errors.push(e) });
    try {
      const first = await hostRun(runtime, 'return 1');
      expect(first.outcome.failure).toMatchObject({ code: 'RUNTIME_UNAVAILABLE', message: expect.stringMatching(/Docker engine "nobody" is not reachable at tcp:\/\/127\.0\.0\.1:9 \(.*ECONNREFUSED/) });
      expect(runtime.engines()[0]).toMatchObject({ name: 'nobody', state: 'down', error: expect.stringMatching(/ECONNREFUSED/) });
      // The circuit is open: the next job is refused without another connection attempt.
      const second = await hostRun(runtime, 'return 2');
      expect(second.outcome.failure).toMatchObject({ code: 'RUNTIME_UNAVAILABLE', message: expect.stringMatching(/"nobody".*out of rotation since/) });
      expect(errors[0]).toMatchObject({ code: 'RUNTIME_UNAVAILABLE', engine: 'nobody' });
      await expect(runtime.warm()).rejects.toMatchObject({ code: 'RUNTIME_UNAVAILABLE', engine: 'nobody' });
    } finally {
      await runtime.dispose();
    }
  });
});

describe.skipIf(!bed)('DockerRuntime over two engines with mutual TLS', () => {
  const b = bed!;
  const cleanup: DockerRuntime[] = [];
  const make = (options: ConstructorParameters<typeof DockerRuntime>[0]) => {
    const runtime = new DockerRuntime({ onError: () => {}, ...options });
    cleanup.push(runtime);
    return runtime;
  };
  const held: Array<{ host: string; release: () => void }> = [];
  const holdTools = {
    'bed:hold': (args: Record<string, unknown>) => new Promise((resolve) => held.push({ host: String(args.host), release: () => resolve('released') })),
  };
  const HOLD = `${ESCAPE} return await run('bed:hold', { host: req('os').hostname() });`;
  const ours = async (name: string, runtime: DockerRuntime) =>
    (await bedClient(b, name).listContainers({ all: true, filters: { label: [`${RUNTIME_ID_LABEL}=${runtime.id}`] } })).map((c) => c.Id);

  beforeAll(() => {
    held.length = 0;
  });

  afterAll(async () => {
    await Promise.all(cleanup.map((r) => r.dispose()));
  });

  it('spreads executions over both engines, concurrent and sequential', async () => {
    const runtime = make({ engines: [bedEngine(b, 'a'), bedEngine(b, 'b')], minIdle: 1 });
    await runtime.warm();
    expect(runtime.engines().map((e) => [e.name, e.state, e.pool.idle])).toEqual([
      ['a', 'up', 1],
      ['b', 'up', 1],
    ]);
    held.length = 0;
    const runs = [0, 1, 2, 3].map(() => hostRun(runtime, HOLD, { tools: holdTools }));
    await until(() => held.length === 4, 'four held executions');
    // Where each one runs, from each engine's own list of containers.
    const [onA, onB] = [await ours('a', runtime), await ours('b', runtime)];
    const hosts = held.map((h) => h.host);
    expect(hosts.filter((h) => onA.some((id) => id.startsWith(h)))).toHaveLength(2);
    expect(hosts.filter((h) => onB.some((id) => id.startsWith(h)))).toHaveLength(2);
    for (const h of held) h.release();
    for (const r of await Promise.all(runs)) expect(r.value).toBe('released');
    for (let i = 0; i < 4; i++) expect((await hostRun(runtime, `return ${i}`)).value).toBe(i);
    expect(runtime.engines().map((e) => e.placed)).toEqual([4, 4]);
  });

  it('refuses a client certificate the engine did not issue, and an engine the CA did not sign', async () => {
    const rogue = make({ engines: [{ ...bedEngine(b, 'a', 'rogueClient'), name: 'a-rogue-client' }], minIdle: 0 });
    const refused = await hostRun(rogue, 'return 1');
    expect(refused.outcome.failure).toMatchObject({
      code: 'RUNTIME_UNAVAILABLE',
      message: expect.stringMatching(/Docker engine "a-rogue-client" is not reachable at tcp:\/\/.*refused this host's client certificate.*signed by the CA the engine trusts/),
    });
    const untrusted = make({ engines: [{ ...bedEngine(b, 'a', 'rogueServerCa'), name: 'a-wrong-ca' }], minIdle: 0 });
    await expect(untrusted.warm()).rejects.toMatchObject({ code: 'RUNTIME_UNAVAILABLE', engine: 'a-wrong-ca', message: expect.stringMatching(/does not trust the engine's certificate/) });
    // Beside a good engine, the refused one is simply out of rotation.
    const mixed = make({ engines: [{ ...bedEngine(b, 'a', 'rogueClient'), name: 'rogue' }, bedEngine(b, 'b')], minIdle: 0 });
    for (let i = 0; i < 3; i++) expect((await hostRun(mixed, 'return 5')).value).toBe(5);
    expect(mixed.engines().map((e) => [e.name, e.state, e.placed])).toEqual([
      ['rogue', 'down', 0],
      ['b', 'up', 3],
    ]);
  });

  it('an unreachable engine fails fast with RUNTIME_UNAVAILABLE naming it; beside a good one, jobs go to the good one', async () => {
    const gone = make({ engines: [{ name: 'gone', host: b.unreachable, tls: b.certs.client }], minIdle: 0, connectTimeoutMs: 2_000 });
    const run = await hostRun(gone, 'return 1');
    expect(run.outcome.failure).toMatchObject({ code: 'RUNTIME_UNAVAILABLE', message: expect.stringMatching(/Docker engine "gone" is not reachable at tcp:\/\/\S+:2376/) });
    expect((await hostRun(gone, 'return 1')).outcome.failure?.message).toMatch(/out of rotation since/);
    const mixed = make({ engines: [{ name: 'refused', host: b.refused, tls: b.certs.client }, bedEngine(b, 'a')], minIdle: 0 });
    expect((await hostRun(mixed, 'return 6')).value).toBe(6);
    expect(mixed.engines()[0]).toMatchObject({ name: 'refused', state: 'down', error: expect.stringMatching(/ECONNREFUSED/) });
  });

  it('a config file\'s docker.engines reach the runtime: toolexec executes on the listed engine', async () => {
    const good = await createEngine(checkConfig({ runtime: 'docker', docker: { minIdle: 0, engines: [bedEngine(b, 'b')] } }));
    // The same engine with a certificate it did not issue: the error names the listed engine, so
    // the list (not DOCKER_HOST or the local socket) is what the runtime used.
    const refused = await createEngine(checkConfig({ runtime: 'docker', docker: { minIdle: 0, engines: [{ ...bedEngine(b, 'b', 'rogueClient'), name: 'b-from-config' }] } }));
    try {
      const r = await good.execute('return 6 * 7');
      expect(r.error).toBeUndefined();
      expect(r.value).toBe(42);
      const bad = await refused.execute('return 1');
      expect(bad.error).toMatchObject({ code: 'RUNTIME_UNAVAILABLE', message: expect.stringMatching(/Docker engine "b-from-config" is not reachable at tcp:\/\//) });
    } finally {
      await good.close();
      await refused.close();
    }
  });

  it('checks the image on every engine at start-up: one without it is an error naming it and the command to build it there', async () => {
    const a = bedClient(b, 'a');
    await a.getImage(DEFAULT_IMAGE).tag({ repo: 'toolexec-sandbox', tag: 'only-on-a' });
    try {
      const runtime = make({ image: 'toolexec-sandbox:only-on-a', engines: [bedEngine(b, 'a'), bedEngine(b, 'b')], minIdle: 1 });
      await expect(runtime.warm()).rejects.toMatchObject({
        code: 'RUNTIME_UNAVAILABLE',
        message: expect.stringMatching(/the sandbox image toolexec-sandbox:only-on-a is not present on Docker engine "b" \(tcp:\/\/[^)]+\)\. Build it there .*`DOCKER_HOST=tcp:\/\/\S+ DOCKER_TLS_VERIFY=1 DOCKER_CERT_PATH=\S+ npm run sandbox:build`/),
      });
      expect(runtime.engines().map((e) => [e.name, e.state])).toEqual([
        ['a', 'up'],
        ['b', 'down'],
      ]);
    } finally {
      await a.getImage('toolexec-sandbox:only-on-a').remove().catch(() => undefined);
    }
  });

  it.runIf(b?.runsc)('runs under gVisor on an engine whose entry says runtime: runsc', async () => {
    const runtime = make({ engines: [{ ...bedEngine(b, 'b'), runtime: 'runsc' }], minIdle: 0 });
    const run = await hostRun(runtime, `${ESCAPE} return req('os').release();`);
    expect(run.outcome.failure).toBeUndefined();
    expect(run.value).not.toBe(os.release());
  });

  it('moves a job that never reached a guest to another engine (the engine died before the container started)', async () => {
    // b is preferred (weight) and looks healthy (no health pings, no warm containers), but dead.
    const runtime = make({ engines: [bedEngine(b, 'a'), { ...bedEngine(b, 'b'), weight: 4 }], minIdle: 0, healthIntervalMs: 600_000 });
    await runtime.connect();
    try {
      bedScript(b, 'kill', 'b');
      const run = await hostRun(runtime, 'return "moved"');
      expect(run.outcome.failure).toBeUndefined();
      expect(run.value).toBe('moved');
      expect(runtime.engines().map((e) => [e.name, e.state, e.placed])).toEqual([
        ['a', 'up', 1],
        ['b', 'down', 1],
      ]);
      // A guest that crashes itself is not moved: its engine is fine.
      const crash = await hostRun(runtime, `${ESCAPE} proc.exit(3);`);
      expect(crash.outcome.failure?.code).toBe('SANDBOX_CRASHED');
      expect(runtime.engines().map((e) => e.placed)).toEqual([2, 1]);
    } finally {
      bedScript(b, 'start', 'b');
    }
  });

  it('killing one engine mid-run fails only its in-flight executions, sends nothing new to it, and its leftovers are removed when it returns', async () => {
    const errors: DockerRuntimeError[] = [];
    const runtime = make({ engines: [bedEngine(b, 'a'), bedEngine(b, 'b')], minIdle: 1, healthIntervalMs: 500, onError: (e) => errors.push(e) });
    await runtime.warm();
    held.length = 0;
    const runs = [0, 1, 2, 3].map(() => hostRun(runtime, HOLD, { tools: holdTools }));
    await until(() => held.length === 4, 'four held executions');
    const leftovers = await ours('b', runtime);
    const onB = (host: string) => leftovers.some((id) => id.startsWith(host));
    expect(held.filter((h) => onB(h.host))).toHaveLength(2);
    let killed = false;
    try {
      bedScript(b, 'kill', 'b');
      killed = true;
      for (const h of held) h.release();
      const results = await Promise.all(runs);
      for (const r of results) {
        const host = String((r.calls[0]?.args as { host: string }).host);
        if (onB(host)) {
          expect(r.outcome.failure).toMatchObject({ code: 'SANDBOX_CRASHED', message: expect.stringMatching(/Docker engine "b" .*failed during the execution/) });
        } else {
          expect(r.outcome.failure).toBeUndefined();
          expect(r.value).toBe('released');
        }
      }
      expect(runtime.engines()[1]).toMatchObject({ name: 'b', state: 'down' });
      const placedOnB = runtime.engines()[1]!.placed;
      const next = await Promise.all([0, 1, 2, 3].map((i) => hostRun(runtime, `return ${i}`)));
      expect(next.map((r) => r.value)).toEqual([0, 1, 2, 3]);
      expect(runtime.engines()[1]!.placed).toBe(placedOnB);
      expect(errors.some((e) => e.phase === 'health' && e.engine === 'b')).toBe(true);
      expect(errors.filter((e) => e.engine === 'a')).toEqual([]);

      bedScript(b, 'start', 'b');
      killed = false;
      await until(() => runtime.engines()[1]!.state === 'up', 'engine b back in rotation');
      const client = bedClient(b, 'b');
      for (const id of leftovers) await expect(client.getContainer(id).inspect()).rejects.toMatchObject({ statusCode: 404 });
      // Its warm pool fills again, and it takes executions again.
      await until(() => runtime.engines()[1]!.pool.idle >= 1, 'engine b warm again');
      const again = await Promise.all([0, 1, 2, 3].map(() => hostRun(runtime, 'return "ok"')));
      expect(again.map((r) => r.value)).toEqual(['ok', 'ok', 'ok', 'ok']);
      expect(runtime.engines()[1]!.placed).toBeGreaterThan(placedOnB);
    } finally {
      if (killed) bedScript(b, 'start', 'b');
    }
  }, 120_000);

  it('leaves no container of these runtimes on either engine after dispose()', async () => {
    await Promise.all(cleanup.map((r) => r.dispose()));
    for (const runtime of cleanup) {
      expect(await ours('a', runtime)).toEqual([]);
      expect(await ours('b', runtime)).toEqual([]);
    }
  });
});
